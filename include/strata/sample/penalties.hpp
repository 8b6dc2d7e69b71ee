// strata/sample/penalties.hpp — the repetition penalties over the last repeat_last_n tokens.
//
// llama.cpp has one "penalties" sampler doing all three in one pass; `penalties` is that stage
// (the default chain uses it). repeat_penalty, frequency_penalty and presence_penalty are the
// same three parts as separate stages, for a chain that wants only one; applied in a row they
// give the fused result up to float rounding (a - (b + c) against (a - b) - c).
//
// repeat_last_n <= 0 turns them off (llama.cpp clamps a negative window to 0).
//
// For each token that occurs count > 0 times among the last repeat_last_n tokens:
//   logit = logit <= 0 ? logit * repeat_penalty : logit / repeat_penalty   (the CTRL paper
//           divides only, which would make a repeated negative logit *more* likely)
//   logit -= count * frequency_penalty + presence_penalty                 (OpenAI's definition)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {
namespace detail {

inline float repeat_penalised(float logit, float repeat_penalty) noexcept {
    return logit <= 0.0f ? logit * repeat_penalty : logit / repeat_penalty;
}

// Calls f(candidate&, count) once for each candidate whose token occurs `count` > 0 times
// among the newest min(repeat_last_n, h.size()) tokens of h.
template <class F>
void for_each_repeated(candidates& c, const params& p, const history& h, F f) {
    auto& window = c.scratch().tokens;
    window.reserve(std::size_t(p.repeat_last_n));  // once: the window's full size, not its fill
    const std::size_t n = std::min(std::size_t(p.repeat_last_n), h.size());
    if (n == 0 || c.empty()) return;
    // the window's tokens, sorted: equal tokens form a run whose length is the count
    window.resize(n);
    for (std::size_t i = 0; i < n; ++i) window[i] = h.recent(i);
    std::sort(window.begin(), window.end());
    if (c.in_id_order()) {
        // the usual case (penalties run first): entry `token` is the token, one visit per run
        for (std::size_t i = 0; i < n;) {
            std::size_t j = i;
            while (j < n && window[j] == window[i]) ++j;
            const std::int32_t token = window[i];
            if (token >= 0 && std::size_t(token) < c.size()) f(c[std::size_t(token)], std::int32_t(j - i));
            i = j;
        }
        return;
    }
    // after a stage reordered the set: look each candidate up in the window
    for (candidate& cand : c.items()) {
        const auto [lo, hi] = std::equal_range(window.begin(), window.end(), cand.id);
        if (lo != hi) f(cand, std::int32_t(hi - lo));
    }
}

}  // namespace detail

// All three penalties in one pass, exactly llama.cpp's "penalties" sampler.
struct penalties {
    static constexpr std::string_view name = "penalties";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept {
        return p.repeat_last_n > 0 &&
               (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
    }
    void apply(candidates& c, const params& p, const history& h) const {
        if (!enabled(p)) return;
        detail::for_each_repeated(c, p, h, [&](candidate& cand, std::int32_t count) {
            cand.logit = detail::repeat_penalised(cand.logit, p.repeat_penalty);
            cand.logit -= float(count) * p.frequency_penalty + float(count > 0) * p.presence_penalty;
        });
        c.logits_changed();
    }
};

// Only the multiplicative part (llama.cpp's penalty_repeat).
struct repeat_penalty {
    static constexpr std::string_view name = "repeat_penalty";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.repeat_last_n > 0 && p.repeat_penalty != 1.0f; }
    void apply(candidates& c, const params& p, const history& h) const {
        if (!enabled(p)) return;
        detail::for_each_repeated(c, p, h, [&](candidate& cand, std::int32_t) {
            cand.logit = detail::repeat_penalised(cand.logit, p.repeat_penalty);
        });
        c.logits_changed();
    }
};

// Only count * frequency_penalty (llama.cpp's penalty_freq).
struct frequency_penalty {
    static constexpr std::string_view name = "frequency_penalty";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.repeat_last_n > 0 && p.frequency_penalty != 0.0f; }
    void apply(candidates& c, const params& p, const history& h) const {
        if (!enabled(p)) return;
        detail::for_each_repeated(c, p, h, [&](candidate& cand, std::int32_t count) {
            cand.logit -= float(count) * p.frequency_penalty;
        });
        c.logits_changed();
    }
};

// Only the once-per-token presence_penalty (llama.cpp's penalty_present).
struct presence_penalty {
    static constexpr std::string_view name = "presence_penalty";
    static constexpr bool selects = false;
    static bool enabled(const params& p) noexcept { return p.repeat_last_n > 0 && p.presence_penalty != 0.0f; }
    void apply(candidates& c, const params& p, const history& h) const {
        if (!enabled(p)) return;
        detail::for_each_repeated(c, p, h, [&](candidate& cand, std::int32_t) {
            cand.logit -= p.presence_penalty;
        });
        c.logits_changed();
    }
};

static_assert(stage<penalties>);
static_assert(stage<repeat_penalty>);
static_assert(stage<frequency_penalty>);
static_assert(stage<presence_penalty>);

}  // namespace sample
STRATA_NAMESPACE_END
