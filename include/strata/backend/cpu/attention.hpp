// strata/backend/cpu/attention.hpp — causal (optionally sliding-window) multi-head attention
// of a batch of queries against a layer's KV cache, with grouped-query heads.
//
//   q:   n_tokens x (n_head * head_dim_k) floats; token t sits at position pos0 + t
//   K,V: the cache, F16 or Q8_0, row p = position p: (n_head_kv * head_dim) values, head-major
//   out: n_tokens x (n_head * head_dim_v)
//
// Like llama.cpp's CPU path without flash attention, q is rounded to K's type for q·k (ggml
// multiplies K with q converted to K's dot type: fp16, or Q8_0 blocks of 32) and, with an F16
// V, the softmax weights are rounded to fp16 before they weight V: the same roundings give the
// same logits. A Q8_0 V keeps the weights in f32, as llama.cpp's flash-attention path (the only
// one it runs a quantized V with) does.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/kernels_scalar.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/backend/cpu/simd_x86.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/row.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

struct attention_params {
    std::int64_t n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
    float kq_scale = 1.0f;      // applied to the scores (llama); gemma scales q beforehand
    float softcap = 0.0f;       // gemma2: scores = c * tanh(scores / c)
    std::int64_t n_swa = 0;     // sliding window: a query at p sees keys at p - n_swa < k <= p
};

struct kv_view {
    ggml_type type = ggml_type::f16;  // f16 or q8_0, for K and V alike
    const std::byte* k = nullptr;
    const std::byte* v = nullptr;
    std::int64_t row_k = 0, row_v = 0;  // values per position (n_head_kv * head_dim)
    std::size_t row_k_bytes = 0, row_v_bytes = 0;
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

// The two inner loops of attention over head_dim floats — q·k and acc += p v — at the widest
// level the backend runs. Vector sums add in another order than the scalar loop: results
// differ from it by float rounding only (ggml's own vector order is another one again).
struct attention_vec {
    float (*dot)(const float*, const float*, std::int64_t);
    void (*mad)(float, const float*, float*, std::int64_t);
};

inline float dot_scalar(const float* a, const float* b, std::int64_t n) {
    float s = 0.0f;
    for (std::int64_t d = 0; d < n; ++d) s += a[d] * b[d];
    return s;
}
inline void mad_scalar(float p, const float* v, float* acc, std::int64_t n) {
    for (std::int64_t d = 0; d < n; ++d) acc[d] += p * v[d];
}

#if STRATA_CPU_X86_KERNELS
STRATA_TARGET_AVX2 inline float dot_avx2(const float* a, const float* b, std::int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::int64_t d = 0;
    for (; d + 16 <= n; d += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    }
    float s = hsum_avx2(_mm256_add_ps(s0, s1));
    for (; d < n; ++d) s += a[d] * b[d];
    return s;
}
STRATA_TARGET_AVX2 inline void mad_avx2(float p, const float* v, float* acc, std::int64_t n) {
    const __m256 pv = _mm256_set1_ps(p);
    std::int64_t d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(acc + d, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + d), _mm256_loadu_ps(acc + d)));
    for (; d < n; ++d) acc[d] += p * v[d];
}
STRATA_TARGET_AVX512 inline float dot_avx512(const float* a, const float* b, std::int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::int64_t d = 0;
    for (; d + 32 <= n; d += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 16), _mm512_loadu_ps(b + d + 16), s1);
    }
    for (; d + 16 <= n; d += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), s0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; d < n; ++d) s += a[d] * b[d];
    return s;
}
STRATA_TARGET_AVX512 inline void mad_avx512(float p, const float* v, float* acc, std::int64_t n) {
    const __m512 pv = _mm512_set1_ps(p);
    std::int64_t d = 0;
    for (; d + 16 <= n; d += 16) _mm512_storeu_ps(acc + d, _mm512_fmadd_ps(pv, _mm512_loadu_ps(v + d), _mm512_loadu_ps(acc + d)));
    for (; d < n; ++d) acc[d] += p * v[d];
}
#endif

inline attention_vec attention_vec_for(isa level) noexcept {
#if STRATA_CPU_X86_KERNELS
    if (level == isa::avx512) return {dot_avx512, mad_avx512};
    if (level == isa::avx2) return {dot_avx2, mad_avx2};
#endif
    (void)level;
    return {dot_scalar, mad_scalar};
}

// q is rounded to what ggml would convert it to for K's type: fp16, or Q8_0 blocks (with the
// activation quantizer the matmuls use).
inline void round_q(ggml_type kv_type, const float* q, float* out, std::int64_t dk) {
    if (kv_type == ggml_type::q8_0) {
        q8_0::block b[1];
        for (std::int64_t at = 0; at < dk; at += 32) {
            quantize_row_q8_0_act_ref(q + at, b, 32);
            q8_0::dequantize(b[0], out + at);
        }
        return;
    }
    for (std::int64_t d = 0; d < dk; ++d) out[d] = fp16_to_fp32(fp32_to_fp16(q[d]));
}

// One (token, head): scores over the visible keys, softmax, weighted sum of values.
// k, v: the cache rows widened to float (exactly: every fp16 value is a float).
inline void attend_one(const float* q, const float* kf, const float* vf, std::int64_t row_k, std::int64_t row_v,
                       std::int64_t kv_head, std::int64_t first, std::int64_t last, const attention_params& ap,
                       ggml_type kv_type, const attention_vec& vec, float* scores, float* q16, float* acc, float* out) {
    const std::int64_t dk = ap.head_dim_k, dv = ap.head_dim_v;
    round_q(kv_type, q, q16, dk);
    const std::int64_t n = last - first + 1;
    for (std::int64_t j = 0; j < n; ++j) {
        scores[j] = vec.dot(q16, kf + (first + j) * row_k + kv_head * dk, dk) * ap.kq_scale;
    }
    if (ap.softcap > 0.0f) softcap(scores, n, ap.softcap);
    softmax(scores, n);
    for (std::int64_t d = 0; d < dv; ++d) acc[d] = 0.0f;
    for (std::int64_t j = 0; j < n; ++j) {
        const float p = kv_type == ggml_type::f16 ? fp16_to_fp32(fp32_to_fp16(scores[j])) : scores[j];
        vec.mad(p, vf + (first + j) * row_v + kv_head * dv, acc, dv);
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
    const detail::attention_vec vec = detail::attention_vec_for(be.level());
    be.pool().run(n_threads, [&](int i, int n) {  // widen the visible cache rows once
        for (std::int64_t p = kv_len * i / n; p < kv_len * (i + 1) / n; ++p) {
            const std::byte* k = kv.k + std::size_t(p) * kv.row_k_bytes;
            const std::byte* v = kv.v + std::size_t(p) * kv.row_v_bytes;
            if (kv.type == ggml_type::q8_0) {
                dequantize_row<q8_0>(k, kf + p * row_k, std::size_t(row_k));
                dequantize_row<q8_0>(v, vf + p * row_v, std::size_t(row_v));
            } else {
                const auto* k16 = reinterpret_cast<const std::uint16_t*>(k);
                const auto* v16 = reinterpret_cast<const std::uint16_t*>(v);
                for (std::int64_t d = 0; d < row_k; ++d) kf[p * row_k + d] = fp16_to_fp32(k16[d]);
                for (std::int64_t d = 0; d < row_v; ++d) vf[p * row_v + d] = fp16_to_fp32(v16[d]);
            }
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
                               kv.type, vec, scores, q16, acc, out + (t * ap.n_head + h) * ap.head_dim_v);
        }
    });
}

}  // namespace cpu
STRATA_NAMESPACE_END
