// tests/support/greedy.hpp — a greedy run's logits, step by step: what the placement tests
// (every split, every MoE half placement) compare bit for bit against the all-CPU run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace strata_test {

inline std::int32_t argmax(std::span<const float> l) { return std::int32_t(std::max_element(l.begin(), l.end()) - l.begin()); }

// Prefills PROMPT (in batches of n_batch), then takes STEPS greedy steps; the logits before each.
template <class Engine>
std::vector<std::vector<float>> greedy_logits(const Engine& e, std::span<const std::int32_t> prompt, int steps,
                                              std::int64_t n_ctx, std::int64_t n_batch) {
    auto s = e.new_session({.n_ctx = n_ctx, .n_batch = n_batch});
    s.prefill(prompt);
    std::vector<std::vector<float>> out;
    for (int i = 0; i < steps; ++i) {
        out.emplace_back(s.logits().begin(), s.logits().end());
        s.decode(argmax(s.logits()));
    }
    return out;
}

}  // namespace strata_test
