// strata/sample/min_p.hpp — keep tokens at least min_p times as likely as the best one.
#pragma once

#include <cmath>
#include <cstddef>
#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

// llama.cpp's min-p: min_p <= 0 is off. p_i >= min_p * p_max is logit_i >= max + log(min_p),
// so no softmax is needed. An unsorted set is filtered in place keeping its order, unless
// fewer than max(1, min_keep) pass; then (and for a sorted set) it is sorted and the best-first
// prefix is kept up to the first entry that fails the test at an index >= min_keep.
struct min_p {
    static constexpr std::string_view name = "min_p";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.min_p > 0.0f; }

    void apply(candidates& c, const params& p, const history&) const {
        if (!enabled(p) || c.empty()) return;
        const std::size_t min_keep = std::size_t(p.min_keep > 0 ? p.min_keep : 0);
        if (!c.sorted() && filter_unsorted(c, p.min_p, min_keep)) return;
        c.sort();
        const float min_logit = c[0].logit + std::log(p.min_p);
        std::size_t i = 1;  // the best always passes
        for (; i < c.size(); ++i)
            if (c[i].logit < min_logit && i >= min_keep) break;
        c.truncate(i);
    }

private:
    static bool filter_unsorted(candidates& c, float min_p_value, std::size_t min_keep) {
        const float min_logit = c.max_logit() + std::log(min_p_value);
        std::size_t pass = 0;
        for (const candidate& cand : c.items()) pass += cand.logit >= min_logit;
        if (pass == 0 || pass < min_keep) return false;
        c.keep_if([&](const candidate& cand) { return cand.logit >= min_logit; });
        return true;
    }
};
static_assert(stage<min_p>);

}  // namespace sample
STRATA_NAMESPACE_END
