// strata/quant/formats.hpp — the compile-time list of formats a binary supports, and the one
// place where a run-time type id (from a file) becomes a compile-time policy.
#pragma once

#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "strata/core/error.hpp"
#include "strata/quant/format.hpp"

#include "strata/quant/bf16.hpp"
#include "strata/quant/f16.hpp"
#include "strata/quant/f32.hpp"
#include "strata/quant/iq4_nl.hpp"
#include "strata/quant/iq4_xs.hpp"
#include "strata/quant/mxfp4.hpp"
#include "strata/quant/q2_k.hpp"
#include "strata/quant/q3_k.hpp"
#include "strata/quant/q4_0.hpp"
#include "strata/quant/q4_1.hpp"
#include "strata/quant/q4_k.hpp"
#include "strata/quant/q5_0.hpp"
#include "strata/quant/q5_1.hpp"
#include "strata/quant/q5_k.hpp"
#include "strata/quant/q6_k.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/q8_1.hpp"
#include "strata/quant/q8_k.hpp"

STRATA_NAMESPACE_BEGIN

// A set of formats compiled into a binary. Formats that others are multiplied with
// (their dot_format) must be in the set too, so a dot product never names a missing format.
template <quant_format... F>
struct formats {
    static constexpr std::size_t size = sizeof...(F);

    static constexpr bool contains(ggml_type t) noexcept { return ((F::type == t) || ...); }

    template <class G>
    static constexpr bool has = (std::is_same_v<G, F> || ...);

    // Calls fn(G{}) for the policy G whose type is t, and returns what it returns (every
    // instantiation must return the same type). A type not in the list is an errc::unsupported
    // error naming `what` (the tensor) and the type.
    template <class Fn>
    static decltype(auto) dispatch(ggml_type t, std::string_view what, Fn&& fn) {
        return dispatch_from<Fn, F...>(t, what, fn);
    }

    static std::string names() {
        std::string s;
        ((s += (s.empty() ? "" : ", "), s += F::name), ...);
        return s;
    }

private:
    template <class Fn, class G, class... Rest>
    static auto dispatch_from(ggml_type t, std::string_view what, Fn& fn) -> decltype(fn(G{})) {
        if (G::type == t) return fn(G{});
        if constexpr (sizeof...(Rest) > 0) {
            return dispatch_from<Fn, Rest...>(t, what, fn);
        } else {
            unsupported(t, what);
        }
    }

    [[noreturn]] static void unsupported(ggml_type t, std::string_view what) {
        const auto ti = find_type_info(static_cast<std::uint32_t>(t));
        std::string type = ti ? std::string(ti->name) : "type id " + std::to_string(static_cast<std::uint32_t>(t));
        STRATA_THROW(errc::unsupported, std::string(what) + ": tensor type " + type +
                                            " is not compiled into this build (formats: " + names() + ")");
    }
};

// Every ggml type that Ollama's library models use, plus the activation formats.
using all_formats = formats<f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1,
                            q2_k, q3_k, q4_k, q5_k, q6_k, q8_k, iq4_nl, iq4_xs, mxfp4>;

STRATA_NAMESPACE_END
