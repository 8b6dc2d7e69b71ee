// The one translation unit of the programs that instantiates an engine (see load_engine.hpp).
#include "load_engine.hpp"

namespace strata_examples {

#if defined(__CUDACC__)
using engine = strata::basic_engine<strata::all_formats, strata::backends<strata::cpu_device, strata::cuda_device>>;
#else
using engine = strata::cpu_engine;
#endif

std::unique_ptr<strata::any_engine> load_engine(const std::string& path, strata::load_options opt) {
    return strata::make_any_engine<engine>(path, std::move(opt));
}

}  // namespace strata_examples
