// strata/sample/dist.hpp — the final seeded random draw from softmax(logits).
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

// llama.cpp's get_rng_seed: random_seed asks std::random_device, or the clock where that
// device is a fixed-sequence PRNG (entropy() == 0). Any other value is used as given.
inline std::uint32_t resolve_seed(std::uint32_t seed) {
    if (seed != random_seed) return seed;
    std::random_device rd;
    if (rd.entropy() == 0)
        return std::uint32_t(std::chrono::system_clock::now().time_since_epoch().count()) ^ rd();
    return rd();
}

// llama.cpp's dist, its current single-pass form: e_i = exp(logit_i - max) in float, summed
// in double; r uniform in [0, 1) from std::uniform_real_distribution<double> on a
// std::mt19937 seeded with the seed; the first i whose running sum reaches r * sum is drawn;
// p_i = e_i / sum is left in the candidates. No sort: O(n) on the surviving set.
// One case differs on purpose: r == 0 exactly would draw entry 0 even with p_0 == 0 (a logit
// masked to -inf); here the first entry with p > 0 is drawn.
// (Ollama's vendored llama.cpp of mid-2025 sorted, normalised and drew with
// std::discrete_distribution: the same distribution, another random stream.)
struct dist {
    static constexpr std::string_view name = "dist";
    static constexpr bool selects = true;
    static bool enabled(const params&) noexcept { return true; }

    void reset(const params& p) {
        seed_ = resolve_seed(p.seed);
        rng_.seed(seed_);
    }
    // The seed in use: the drawn one when params.seed was random_seed.
    std::uint32_t seed() const noexcept { return seed_; }

    // The uniform number the next draw will use, without using it up, and the step that uses
    // it: a device sampler (backend/cuda/sampler.hpp) draws on the host the number its kernel
    // needs and commits it only when the kernel says a draw happened (a set of one draws none).
    double peek_uniform() const {
        std::mt19937 r = rng_;
        return std::uniform_real_distribution<double>(0.0, 1.0)(r);
    }
    void commit_uniform() { (void)std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

    void apply(candidates& c, const params&, const history&) {
        if (c.empty()) return;
        c.select(0);
        if (c.size() == 1) {
            c[0].p = 1.0f;
            return;
        }
        const float max_l = c.max_logit();
        double sum = 0.0;
        for (candidate& cand : c.items()) {
            cand.p = std::exp(cand.logit - max_l);
            sum += cand.p;
        }
        const double target = sum * std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        double run = 0.0;
        bool found = false;
        for (std::size_t i = 0; i < c.size(); ++i) {
            if (!found) {
                run += c[i].p;
                if (run >= target && c[i].p > 0.0f) {
                    c.select(i);
                    found = true;
                }
            }
            c[i].p = float(c[i].p / sum);
        }
        if (!found) c.select(c.size() - 1);  // only reachable through rounding; as llama.cpp
    }

private:
    std::uint32_t seed_ = std::mt19937::default_seed;  // chain calls reset(params) at once
    std::mt19937 rng_{seed_};
};
static_assert(selecting_stage<dist>);
static_assert(resettable_stage<dist>);

}  // namespace sample
STRATA_NAMESPACE_END
