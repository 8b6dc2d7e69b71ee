// strata/backend/cpu/encoder_attention.hpp — bidirectional multi-head attention of an encoder
// over a batch of packed sequences.
//
//   q, k, v: n_tokens x (n_head * head_dim) floats, the batch's own projections (no cache)
//   seqs:    the sequences, back to back: sequence s holds tokens [first, first + len)
//   out:     n_tokens x (n_head * head_dim)
//
// The spans must be in order and tile the batch from row 0 (seqs[0].first == 0, each starting
// where the one before ends). A query sees every key of its own sequence and none of another: the padding mask of a padded
// batch, with the padding left out of the layout instead of masked in the scores (the result is
// the same, without the work on padding). K and V stay f32: nothing is cached.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

struct sequence_span {
    std::int64_t first = 0;  // its first token's row in the batch
    std::int64_t len = 0;
};

struct encoder_attention_params {
    std::int64_t n_head = 0, head_dim = 0;
    float kq_scale = 1.0f;  // 1 / sqrt(head_dim)
};

// Scratch of encoder_attention(): per thread one score row of the longest sequence.
inline std::size_t encoder_attention_scratch_floats(std::int64_t max_len, int n_threads) {
    return static_cast<std::size_t>(max_len) * static_cast<std::size_t>(n_threads);
}

inline void encoder_attention(const backend& be, const float* q, const float* k, const float* v,
                              std::span<const sequence_span> seqs, const encoder_attention_params& ap, float* out,
                              std::span<float> scratch) {
    const std::int64_t dh = ap.head_dim, row = ap.n_head * ap.head_dim;
    std::int64_t max_len = 0, n_tokens = 0;
    for (const auto& s : seqs) {
        max_len = s.len > max_len ? s.len : max_len;
        n_tokens += s.len;
    }
    // one job per (token, head); the spans are in order, so a token's is found by bisection
    const auto span_of = [&](std::int64_t t) {
        const auto it = std::upper_bound(seqs.begin(), seqs.end(), t,
                                         [](std::int64_t x, const sequence_span& s) { return x < s.first; });
        return *(it - 1);
    };
    const std::int64_t jobs = n_tokens * ap.n_head;
    const int n_threads = jobs < be.n_threads() ? int(jobs) : be.n_threads();
    if (scratch.size() < encoder_attention_scratch_floats(max_len, n_threads))
        STRATA_THROW(errc::argument, "encoder_attention: scratch of " + std::to_string(scratch.size()) + " floats is too small");
    const detail::attention_vec vec = detail::attention_vec_for(be.level());  // q·k and acc += p v, as attention.hpp
    be.pool().run(n_threads, [&](int ti, int nt) {
        float* scores = scratch.data() + std::size_t(ti) * std::size_t(max_len);
        for (std::int64_t j = ti; j < jobs; j += nt) {
            const std::int64_t t = j / ap.n_head, h = j % ap.n_head;
            const sequence_span s = span_of(t);
            const float* qt = q + t * row + h * dh;
            for (std::int64_t i = 0; i < s.len; ++i)  // scores = q k^T * scale
                scores[i] = vec.dot(qt, k + (s.first + i) * row + h * dh, dh) * ap.kq_scale;
            softmax(scores, s.len);
            float* o = out + t * row + h * dh;
            for (std::int64_t d = 0; d < dh; ++d) o[d] = 0.0f;
            for (std::int64_t i = 0; i < s.len; ++i)  // out = softmax(scores) v
                vec.mad(scores[i], v + (s.first + i) * row + h * dh, o, dh);
        }
    });
}

}  // namespace cpu
STRATA_NAMESPACE_END
