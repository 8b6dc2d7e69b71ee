// strata/sample/greedy.hpp — select the most likely token.
#pragma once

#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"
#include "strata/sample/temperature.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

// llama.cpp's greedy: the highest logit; ties go to the lowest id (llama.cpp takes the first in
// the current order, which is the lowest id while the set is in id order). No probabilities.
struct greedy {
    static constexpr std::string_view name = "greedy";
    static constexpr bool selects = true;
    static bool enabled(const params&) noexcept { return true; }
    void apply(candidates& c, const params&, const history&) const {
        if (c.empty()) return;
        c.select(detail::best_index(c));
    }
};
static_assert(selecting_stage<greedy>);

}  // namespace sample
STRATA_NAMESPACE_END
