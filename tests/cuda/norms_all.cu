// Instantiates kernels::layer_norm and kernels::swiglu_oai (kernels/elementwise.cuh) behind the
// plain C++ functions of norms_all.hpp. Compiled for sm_90 in CI, where no GPU runs it.
#include <string>
#include <vector>

#include "kernels/elementwise.cuh"

#include "cuda/device_run.hpp"
#include "cuda/norms_all.hpp"

namespace strata_test {

std::string cuda_layer_norm(const float* x, const float* w, const float* b, float* y, std::int64_t n_tokens, std::int64_t n,
                            float eps, bool in_place) {
    device_run run;
    const std::size_t total = std::size_t(n_tokens * n);
    float* d_x = run.upload(x, total);
    const float* d_w = run.upload(w, std::size_t(n));
    const float* d_b = run.upload(b, std::size_t(n));
    float* d_y = in_place ? d_x : run.output(total);
    if (run.ok()) run.launched(strata::kernels::layer_norm(d_x, d_w, d_b, d_y, n_tokens, n, eps, nullptr));
    return run.finish(y, d_y, total);
}

std::string cuda_swiglu_oai(const float* g, const float* u, float* y, std::int64_t n, float alpha, float limit) {
    device_run run;
    const float* d_g = run.upload(g, std::size_t(n));
    const float* d_u = run.upload(u, std::size_t(n));
    float* d_y = run.output(std::size_t(n));
    if (run.ok()) run.launched(strata::kernels::swiglu_oai(d_g, d_u, d_y, n, alpha, limit, nullptr));
    return run.finish(y, d_y, std::size_t(n));
}

}  // namespace strata_test
