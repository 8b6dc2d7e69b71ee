// strata/sample/typical_p.hpp — locally typical sampling (Meister et al. 2022).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

// llama.cpp's typical: typical_p >= 1 is off. With p = softmax (over the set sorted) and
// entropy H = -sum p log p, order tokens by |-log p - H| (how far their surprise is from the
// expected one) and keep the first i + 1 where cumsum > typical_p and i + 1 >= min_keep. The
// kept set is in that order, so it is no longer sorted by logit.
//
// Two choices where llama.cpp leaves it open: a p that underflowed to 0 adds 0 to H (llama.cpp
// would add 0 * -inf = NaN, and NaN scores make its std::sort undefined), and equal scores keep
// their best-first order (llama.cpp's sort is unstable).
// Cost: two sorts, O(n log n): it is off at Ollama's defaults, and in the default chain it runs
// after top_k, on k entries.
struct typical_p {
    static constexpr std::string_view name = "typical_p";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.typical_p < 1.0f; }

    void apply(candidates& c, const params& p, const history&) const {
        if (!enabled(p) || c.empty()) return;
        c.sort();
        c.softmax();
        const std::size_t n = c.size();
        auto& s = c.scratch();
        s.reserve_for_set(c.vocabulary());
        s.scores.resize(n);
        s.order.resize(n);
        const float h = entropy(c);
        for (std::size_t i = 0; i < n; ++i) s.scores[i] = std::fabs(-std::log(c[i].p) - h);
        std::iota(s.order.begin(), s.order.end(), std::uint32_t(0));
        std::sort(s.order.begin(), s.order.end(), [&](std::uint32_t a, std::uint32_t b) {
            return s.scores[a] < s.scores[b] || (s.scores[a] == s.scores[b] && a < b);
        });
        const std::size_t last = kept(c, s.order, p);
        s.items.resize(last);
        for (std::size_t i = 0; i < last; ++i) s.items[i] = c[s.order[i]];
        std::copy(s.items.begin(), s.items.end(), c.items().begin());
        c.truncate(last);
        c.reordered();
    }

private:
    static float entropy(const candidates& c) noexcept {
        float h = 0.0f;
        for (const candidate& cand : c.items())
            if (cand.p > 0.0f) h += -cand.p * std::log(cand.p);
        return h;
    }
    static std::size_t kept(const candidates& c, const std::vector<std::uint32_t>& order, const params& p) {
        const std::size_t min_keep = std::size_t(p.min_keep > 0 ? p.min_keep : 0);
        float cum = 0.0f;
        for (std::size_t i = 0; i < order.size(); ++i) {
            cum += c[order[i]].p;
            if (cum > p.typical_p && (min_keep == 0 || i >= min_keep - 1)) return i + 1;
        }
        return order.size();
    }
};
static_assert(stage<typical_p>);

}  // namespace sample
STRATA_NAMESPACE_END
