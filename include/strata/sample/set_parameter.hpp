// strata/sample/set_parameter.hpp — sampler parameters by their Ollama names, from text (as
// `/set parameter top_k 20` or a Modelfile's PARAMETER line gives them).
#pragma once

#include <charconv>
#include <string>
#include <string_view>

#include "strata/core/error.hpp"
#include "strata/sample/params.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

namespace detail {
template <class T>
T parse_number(std::string_view name, std::string_view text) {
    T v{};
    const auto* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, v);
    if (r.ec != std::errc{} || r.ptr != end)
        STRATA_THROW(errc::argument, "parameter " + std::string(name) + ": '" + std::string(text) + "' is not a number");
    return v;
}
}  // namespace detail

// The names sampling understands; true if `name` is one of them.
inline bool is_parameter(std::string_view name) {
    for (std::string_view n : {"temperature", "top_k", "top_p", "min_p", "typical_p", "repeat_penalty", "repeat_last_n",
                               "presence_penalty", "frequency_penalty", "seed"})
        if (n == name) return true;
    return false;
}

// Sets one parameter; errc::argument for an unknown name or a value that does not parse or
// validate (the params are left unchanged then).
inline void set_parameter(params& p, std::string_view name, std::string_view value) {
    params q = p;
    using detail::parse_number;
    if (name == "temperature") q.temperature = parse_number<float>(name, value);
    else if (name == "top_k") q.top_k = parse_number<std::int32_t>(name, value);
    else if (name == "top_p") q.top_p = parse_number<float>(name, value);
    else if (name == "min_p") q.min_p = parse_number<float>(name, value);
    else if (name == "typical_p") q.typical_p = parse_number<float>(name, value);
    else if (name == "repeat_penalty") q.repeat_penalty = parse_number<float>(name, value);
    else if (name == "repeat_last_n") q.repeat_last_n = parse_number<std::int32_t>(name, value);
    else if (name == "presence_penalty") q.presence_penalty = parse_number<float>(name, value);
    else if (name == "frequency_penalty") q.frequency_penalty = parse_number<float>(name, value);
    else if (name == "seed") {
        const auto s = parse_number<std::int64_t>(name, value);
        q.seed = s < 0 ? random_seed : static_cast<std::uint32_t>(s);  // Ollama: -1 is random
    } else {
        STRATA_THROW(errc::argument, "unknown sampling parameter '" + std::string(name) + "'");
    }
    validate(q);
    p = q;
}

}  // namespace sample
STRATA_NAMESPACE_END
