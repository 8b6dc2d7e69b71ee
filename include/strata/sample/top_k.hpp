// strata/sample/top_k.hpp — keep the k most likely tokens.
#pragma once

#include <cstddef>
#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

// llama.cpp's top-k: k <= 0 is off; otherwise the set becomes its min(k, n) best, sorted
// (even when k >= n, so later stages find it sorted). min_keep does not apply here.
struct top_k {
    static constexpr std::string_view name = "top_k";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.top_k > 0; }
    void apply(candidates& c, const params& p, const history&) const {
        if (!enabled(p) || c.empty()) return;
        const std::size_t k = std::size_t(p.top_k) < c.size() ? std::size_t(p.top_k) : c.size();
        c.sort_prefix(k);
        c.truncate(k);
    }
};
static_assert(stage<top_k>);

}  // namespace sample
STRATA_NAMESPACE_END
