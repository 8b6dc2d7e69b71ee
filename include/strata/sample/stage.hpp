// strata/sample/stage.hpp — what a sampler stage is.
//
// A stage is a small policy struct, composed at compile time by sample::chain:
//
//   struct top_k {
//       static constexpr std::string_view name = "top_k";
//       static constexpr bool selects = false;          // true only for the final draw
//       static bool enabled(const params& p);           // false: its "off" value, apply is a no-op
//       void apply(candidates&, const params&, const history&);
//       void reset(const params&);                      // optional: stages with state (dist's RNG)
//   };
//   static_assert(stage<top_k>);
//
// apply() reads only its own fields of the one run-time params struct and transforms the
// candidate set as llama.cpp's sampler of the same name does (src/llama-sampling.cpp).
#pragma once

#include <concepts>
#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

template <class S>
concept stage = std::default_initializable<S> && std::copy_constructible<S> &&
    requires(S& s, candidates& c, const params& p, const history& h) {
        { S::name } -> std::convertible_to<std::string_view>;
        { S::selects } -> std::convertible_to<bool>;
        { S::enabled(p) } -> std::same_as<bool>;
        s.apply(c, p, h);
    };

// The final stage of a chain: it leaves exactly one candidate selected.
template <class S>
concept selecting_stage = stage<S> && S::selects;

// A stage with state to restore at construction and on chain::reset() (a seeded RNG).
template <class S>
concept resettable_stage = stage<S> && requires(S& s, const params& p) { s.reset(p); };

}  // namespace sample
STRATA_NAMESPACE_END
