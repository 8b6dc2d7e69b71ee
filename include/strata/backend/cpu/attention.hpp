// strata/backend/cpu/attention.hpp — causal (optionally sliding-window) multi-head attention
// of a batch of queries against a layer's KV cache, with grouped-query heads.
//
//   q:   n_tokens x (n_head * head_dim_k) floats; token t sits at position pos0 + t
//   K,V: the cache, fp16, row p = position p: (n_head_kv * head_dim) values, head-major
//   out: n_tokens x (n_head * head_dim_v)
//
// Like llama.cpp's CPU path without flash attention, q is rounded to fp16 for q·k (ggml
// multiplies an fp16 K with q converted to K's type) and the softmax weights are rounded to
// fp16 before they weight V: the same roundings give the same logits.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/core/half.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

struct attention_params {
    std::int64_t n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
    float kq_scale = 1.0f;      // applied to the scores (llama); gemma scales q beforehand
    float softcap = 0.0f;       // gemma2: scores = c * tanh(scores / c)
    std::int64_t n_swa = 0;     // sliding window: a query at p sees keys at p - n_swa < k <= p
};

struct kv_view {
    const std::uint16_t* k = nullptr;  // fp16 bits
    const std::uint16_t* v = nullptr;
    std::int64_t row_k = 0, row_v = 0;  // values per position (n_head_kv * head_dim)
};

// Scratch for attention(): the visible K and V rows widened to float once per call (every
// query of a batch reads them all), then per thread one score row of kv_len floats, the fp16-
// rounded q and an accumulator.
inline std::size_t attention_scratch_floats(const attention_params& ap, std::int64_t kv_len, int n_threads) {
    const auto row_k = ap.n_head_kv * ap.head_dim_k, row_v = ap.n_head_kv * ap.head_dim_v;
    return static_cast<std::size_t>(kv_len * (row_k + row_v)) +
           static_cast<std::size_t>(n_threads) * static_cast<std::size_t>(kv_len + ap.head_dim_k + ap.head_dim_v);
}

namespace detail {

// One (token, head): scores over the visible keys, softmax, weighted sum of values.
// k, v: the cache rows widened to float (exactly: every fp16 value is a float).
inline void attend_one(const float* q, const float* kf, const float* vf, std::int64_t row_k, std::int64_t row_v,
                       std::int64_t kv_head, std::int64_t first, std::int64_t last, const attention_params& ap,
                       float* scores, float* q16, float* acc, float* out) {
    const std::int64_t dk = ap.head_dim_k, dv = ap.head_dim_v;
    for (std::int64_t d = 0; d < dk; ++d) q16[d] = fp16_to_fp32(fp32_to_fp16(q[d]));
    const std::int64_t n = last - first + 1;
    for (std::int64_t j = 0; j < n; ++j) {
        const float* k = kf + (first + j) * row_k + kv_head * dk;
        float s = 0.0f;
        for (std::int64_t d = 0; d < dk; ++d) s += q16[d] * k[d];
        scores[j] = s * ap.kq_scale;
    }
    if (ap.softcap > 0.0f) softcap(scores, n, ap.softcap);
    softmax(scores, n);
    for (std::int64_t d = 0; d < dv; ++d) acc[d] = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
        const float p = fp16_to_fp32(fp32_to_fp16(scores[j]));
        const float* v = vf + (first + j) * row_v + kv_head * dv;
        for (std::int64_t d = 0; d < dv; ++d) acc[d] += p * v[d];
    }
    for (std::int64_t d = 0; d < dv; ++d) out[d] = acc[d];
}

}  // namespace detail

// The cache must already hold positions 0 .. pos0 + n_tokens - 1 (this batch's keys included).
inline void attention(const backend& be, const float* q, std::int64_t n_tokens, std::int64_t pos0, const kv_view& kv,
                      const attention_params& ap, float* out, std::span<float> scratch) {
    const std::int64_t group = ap.n_head / ap.n_head_kv;  // query heads per KV head
    const std::int64_t jobs = n_tokens * ap.n_head;
    const std::int64_t kv_len = pos0 + n_tokens;
    const std::int64_t row_k = ap.n_head_kv * ap.head_dim_k, row_v = ap.n_head_kv * ap.head_dim_v;
    const std::int64_t per_thread = kv_len + ap.head_dim_k + ap.head_dim_v;
    const int n_threads = jobs < be.n_threads() ? int(jobs) : be.n_threads();
    float* kf = scratch.data();
    float* vf = kf + kv_len * row_k;
    float* per_thread_base = vf + kv_len * row_v;
    be.pool().run(n_threads, [&](int i, int n) {  // widen the visible cache rows once
        for (std::int64_t p = kv_len * i / n; p < kv_len * (i + 1) / n; ++p) {
            for (std::int64_t d = 0; d < row_k; ++d) kf[p * row_k + d] = fp16_to_fp32(kv.k[p * kv.row_k + d]);
            for (std::int64_t d = 0; d < row_v; ++d) vf[p * row_v + d] = fp16_to_fp32(kv.v[p * kv.row_v + d]);
        }
    });
    be.pool().run(n_threads, [&](int i, int n) {
        float* scores = per_thread_base + std::size_t(i) * std::size_t(per_thread);
        float* q16 = scores + pos0 + n_tokens;
        float* acc = q16 + ap.head_dim_k;
        for (std::int64_t job = i; job < jobs; job += n) {
            const std::int64_t t = job / ap.n_head, h = job % ap.n_head;
            const std::int64_t pos = pos0 + t;
            const std::int64_t first = ap.n_swa > 0 && pos - ap.n_swa + 1 > 0 ? pos - ap.n_swa + 1 : 0;
            detail::attend_one(q + (t * ap.n_head + h) * ap.head_dim_k, kf, vf, row_k, row_v, h / group, first, pos, ap,
                               scores, q16, acc, out + (t * ap.n_head + h) * ap.head_dim_v);
        }
    });
}

}  // namespace cpu
STRATA_NAMESPACE_END
