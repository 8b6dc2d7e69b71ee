// strata/sample/top_p.hpp — nucleus sampling: keep the smallest best-first prefix of mass top_p.
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

// llama.cpp's top-p: top_p >= 1 is off. p = softmax over the current set; walking best-first,
// keep entries up to and including the first i with cumsum >= top_p and i + 1 >= min_keep (all
// of them if never reached). The result is sorted.
struct top_p {
    static constexpr std::string_view name = "top_p";
    static constexpr bool selects = false;
    // Like llama.cpp, sort only a first chunk of an unsorted set: the nucleus is usually far
    // smaller than a 262k vocabulary. Past the chunk, nucleus_bound() says how far to sort.
    static constexpr std::size_t first_chunk = 256;

    static bool enabled(const params& p) noexcept { return p.top_p < 1.0f; }
    void apply(candidates& c, const params& p, const history&) const {
        if (!enabled(p) || c.empty()) return;
        c.softmax();
        const std::size_t n = c.size(), min_keep = std::size_t(p.min_keep > 0 ? p.min_keep : 0);
        c.sort_prefix(first_chunk);
        float cum = 0.0f;
        std::size_t last = n;
        for (std::size_t i = 0; i < n; ++i) {
            if (i == c.sorted_prefix()) c.sort_prefix(grown_prefix(c, i, p.top_p));
            cum += c[i].p;
            if (cum >= p.top_p && i + 1 >= min_keep) {
                last = i + 1;
                break;
            }
        }
        c.truncate(last);
    }

    // The walk reached the end of the sorted prefix (length i): how far to sort next.
    static std::size_t grown_prefix(const candidates& c, std::size_t i, float top_p_value) noexcept {
        const std::size_t doubled = 2 * i;
        if (i != first_chunk) return doubled;
        const std::size_t bound = nucleus_bound(c, top_p_value);
        return bound > doubled ? bound : doubled;  // always grows, whatever rounding said
    }

    // A prefix length that holds the nucleus, in one O(n) pass, for when the first chunk did
    // not: a histogram of the probability mass by how far each logit is below the best. Every
    // entry of a bucket ranks before every entry of the next, so the entries of the buckets
    // summed until the mass reaches top_p are exactly the best `count` ones. (The walk in
    // apply() checks the real cumsum; if rounding leaves it short, the prefix grows by
    // doubling.) On 262144 logits this replaces up to ~10 nth_element passes by one pass.
    static std::size_t nucleus_bound(const candidates& c, float top_p_value) noexcept {
        constexpr int buckets = 128;
        constexpr float depth = 24.0f;  // logits this far below the best have p < 4e-11 of it
        std::size_t count[buckets + 1] = {};
        double mass[buckets + 1] = {};
        const float max_l = c.max_logit();
        for (const candidate& cand : c.items()) {
            const float below = max_l - cand.logit;
            const int b = below < depth ? int(below * (float(buckets) / depth)) : buckets;
            ++count[b];
            mass[b] += cand.p;
        }
        std::size_t total = 0;
        double cum = 0.0;
        for (int b = 0; b <= buckets; ++b) {
            total += count[b];
            cum += mass[b];
            if (cum >= double(top_p_value)) return total;
        }
        return c.size();
    }
};
static_assert(stage<top_p>);

}  // namespace sample
STRATA_NAMESPACE_END
