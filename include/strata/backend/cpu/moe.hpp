// strata/backend/cpu/moe.hpp — the routing of a mixture-of-experts FFN on the CPU: which experts
// each token goes to, with what weight, and the rows each expert's matmuls take and give back.
//
// Per token the router's n_expert logits become probabilities (softmax); the n_used most
// probable experts are chosen, best first, and their probabilities renormalised to sum 1 (as
// Mixtral and llama.cpp's llama graph do). A chosen (token, rank) pair is a slot, numbered
// t * n_used + k. Each expert then runs once over the rows of the tokens routed to it (gathered
// contiguously), and its outputs, times their weights, go back to their slots; a token's output
// is the sum of its slots in rank order (the order llama.cpp adds them in).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

// logits (n_tokens, n_expert) -> ids, weights (n_tokens, n_used): the chosen experts, best first,
// and their renormalised probabilities. probs is scratch of n_expert floats, order of n_expert ints.
inline void route_top_k(const float* logits, std::int64_t n_tokens, int n_expert, int n_used, std::int32_t* ids,
                        float* weights, float* probs, std::int32_t* order) {
    for (std::int64_t t = 0; t < n_tokens; ++t) {
        const float* l = logits + t * n_expert;
        const float mx = *std::max_element(l, l + n_expert);
        double sum = 0.0;
        for (int e = 0; e < n_expert; ++e) sum += probs[e] = std::exp(l[e] - mx);
        const float inv = float(1.0 / sum);
        for (int e = 0; e < n_expert; ++e) probs[e] *= inv;
        std::iota(order, order + n_expert, 0);
        // the most probable first; equal probabilities: the lower expert id first
        std::partial_sort(order, order + n_used, order + n_expert, [&](std::int32_t a, std::int32_t b) {
            return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
        });
        float chosen = 0.0f;
        for (int k = 0; k < n_used; ++k) chosen += probs[order[k]];
        for (int k = 0; k < n_used; ++k) {
            ids[t * n_used + k] = order[k];
            weights[t * n_used + k] = probs[order[k]] / chosen;
        }
    }
}

// The slots routed to EXPERT, in token order, into slots; their rows of x (row_len floats each)
// gathered into xe. Returns how many.
inline std::int64_t gather_expert_rows(std::int32_t expert, const std::int32_t* ids, std::int64_t n_tokens, int n_used,
                                       const float* x, std::int64_t row_len, std::int32_t* slots, float* xe) {
    std::int64_t m = 0;
    for (std::int64_t s = 0; s < n_tokens * n_used; ++s) {
        if (ids[s] != expert) continue;
        const std::int64_t t = s / n_used;
        std::copy_n(x + t * row_len, row_len, xe + m * row_len);
        slots[m++] = std::int32_t(s);
    }
    return m;
}

// Every slot grouped by expert (a counting sort): expert e's slots, in token order (as
// gather_expert_rows lists them), are slots[offsets[e] .. offsets[e + 1]). offsets has
// n_expert + 1 entries. What a GPU stage uploads once per MoE block (kernels/moe.cuh).
inline void group_slots_by_expert(const std::int32_t* ids, std::int64_t n_tokens, int n_used, int n_expert,
                                  std::int32_t* offsets, std::int32_t* slots) {
    std::fill(offsets, offsets + n_expert + 1, 0);
    const std::int64_t n_slots = n_tokens * n_used;
    for (std::int64_t s = 0; s < n_slots; ++s) ++offsets[ids[s] + 1];
    for (int e = 0; e < n_expert; ++e) offsets[e + 1] += offsets[e];
    for (int e = 0; e < n_expert; ++e) {
        std::int32_t at = offsets[e];
        for (std::int64_t s = 0; s < n_slots; ++s)
            if (ids[s] == e) slots[at++] = std::int32_t(s);
    }
}

// The expert's m output rows, each times its slot's weight, into their slots of ye.
inline void scatter_expert_rows(const float* y, std::int64_t m, const std::int32_t* slots, const float* weights,
                                std::int64_t row_len, float* ye) {
    for (std::int64_t j = 0; j < m; ++j) {
        const std::int32_t s = slots[j];
        float* dst = ye + std::int64_t(s) * row_len;
        for (std::int64_t i = 0; i < row_len; ++i) dst[i] = y[j * row_len + i] * weights[s];
    }
}

// out[t] = ye[t, 0] + ye[t, 1] + ... in rank order.
inline void sum_slots(const float* ye, std::int64_t n_tokens, int n_used, std::int64_t row_len, float* out) {
    for (std::int64_t t = 0; t < n_tokens; ++t) {
        float* o = out + t * row_len;
        const float* y = ye + t * n_used * row_len;
        std::copy_n(y, row_len, o);
        for (int k = 1; k < n_used; ++k)
            for (std::int64_t i = 0; i < row_len; ++i) o[i] += y[k * row_len + i];
    }
}

}  // namespace cpu
STRATA_NAMESPACE_END
