// strata/sample/temperature.hpp — scale the logits by 1 / temperature.
#pragma once

#include <cstddef>
#include <limits>
#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

namespace detail {
// The best candidate: highest logit, among equal logits the lowest id (greedy's rule).
inline std::size_t best_index(const candidates& c) noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < c.size(); ++i)
        if (ranks_before(c[i], c[best])) best = i;
    return best;
}
}  // namespace detail

// llama.cpp's temp (and temp-ext with no dynamic range, which Ollama uses): logit /= t for
// t > 0; for t <= 0 every logit but the best becomes -inf, so the draw that follows is greedy.
// The set keeps its size. Dividing by t > 0 keeps the order, so a sorted set stays sorted
// (llama.cpp relies on this too).
// Ties at t <= 0 go to the lowest id (llama.cpp keeps the first in the current order, which is
// the same for an unsorted set straight from the logits).
struct temperature {
    static constexpr std::string_view name = "temperature";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.temperature != 1.0f; }

    void apply(candidates& c, const params& p, const history&) const {
        if (!enabled(p) || c.empty()) return;
        if (p.temperature > 0.0f) {
            for (candidate& cand : c.items()) cand.logit /= p.temperature;
            return;
        }
        const std::size_t best = detail::best_index(c);
        for (std::size_t i = 0; i < c.size(); ++i)
            if (i != best) c[i].logit = -std::numeric_limits<float>::infinity();
        c.logits_changed();  // the -inf ties are no longer in the tie-break order
    }
};
static_assert(stage<temperature>);

}  // namespace sample
STRATA_NAMESPACE_END
