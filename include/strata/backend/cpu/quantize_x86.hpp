// strata/backend/cpu/quantize_x86.hpp — activation rows to Q8_0, Q8_1 and Q8_K with AVX2 /
// AVX-512.
//
// Byte-identical to the scalar activation quantizers: Q8_0 and Q8_1 as ggml-cpu quantizes
// activations at run time (inverse scale 127/amax, ties to even: kernels_scalar.hpp's
// quantize_row_q8_0_act_ref and quantize_row_q8_1_act_ref, which is what llama.cpp's matrix
// products see), Q8_K as the reference q8_k::quantize (nearest-even). The per-block scale is
// computed and converted to fp16 by the same scalar code; Q8_1's sum of quants is an exact
// integer sum, in any order. (The scalar Q8_1 quantizer took about 6 ns per value, a sixth of
// the time of a 512-token Q4_1 gemm with k = 2048.)
#pragma once

#include "strata/backend/cpu/simd_x86.hpp"

#if STRATA_CPU_X86_KERNELS
#include <cstdint>
#include <cstring>

#include "strata/core/half.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/q8_1.hpp"
#include "strata/quant/q8_k.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu::detail {

// ---- AVX2 --------------------------------------------------------------------------------------

STRATA_TARGET_AVX2 inline float hmax_avx2(__m256 v) noexcept {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// Round to nearest, ties to even (what ggml-cpu's quantize_row_q8_0 does with _mm256_round_ps).
STRATA_TARGET_AVX2 inline __m256i round_even_avx2(__m256 v) noexcept {
    return _mm256_cvttps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Four vectors of eight int32 (elements 0..31 in order) to 32 int8 in order: the packs work
// per 128-bit lane, the permutation undoes their interleaving.
STRATA_TARGET_AVX2 inline __m256i pack_i32_to_i8_avx2(__m256i i0, __m256i i1, __m256i i2, __m256i i3) noexcept {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One block of 32 as ggml-cpu quantizes activations (see quantize_row_q8_0_act_ref): the quants
// to qs; returns amax (d is fp16(amax / 127)) and, for Q8_1, the quants' sum in *sum.
STRATA_TARGET_AVX2 inline float quantize_block_q8_avx2(const float* x, std::int8_t* qs, int* sum) noexcept {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    const float amax = hmax_avx2(m);
    const __m256 ids = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m256i i0 = round_even_avx2(_mm256_mul_ps(v0, ids)), i1 = round_even_avx2(_mm256_mul_ps(v1, ids));
    const __m256i i2 = round_even_avx2(_mm256_mul_ps(v2, ids)), i3 = round_even_avx2(_mm256_mul_ps(v3, ids));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_i32_to_i8_avx2(i0, i1, i2, i3));
    if (sum != nullptr) {
        const __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
        s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
        *sum = _mm_cvtsi128_si32(s4);
    }
    return amax;
}

STRATA_TARGET_AVX2 inline void quantize_row_q8_0_avx2(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_0::block*>(dst);
    for (std::int64_t b = 0; b < k / 32; ++b) out[b].d = to_fp16(quantize_block_q8_avx2(x + 32 * b, out[b].qs, nullptr) / 127.0f);
}

STRATA_TARGET_AVX2 inline void quantize_row_q8_1_avx2(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_1::block*>(dst);
    for (std::int64_t b = 0; b < k / 32; ++b) {
        int sum = 0;
        const float d = quantize_block_q8_avx2(x + 32 * b, out[b].qs, &sum) / 127.0f;
        out[b].d = to_fp16(d);
        out[b].s = to_fp16(d * static_cast<float>(sum));
    }
}

// The reference keeps the first element of largest magnitude: its sign decides d's.
STRATA_TARGET_AVX2 inline float signed_max_avx2(const float* x, float amax) noexcept {
    const __m256 sign = _mm256_set1_ps(-0.0f), target = _mm256_set1_ps(amax);
    for (int i = 0; i < 256; i += 8) {
        const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i));
        const int hit = _mm256_movemask_ps(_mm256_cmp_ps(a, target, _CMP_EQ_OQ));
        if (hit) return x[i + __builtin_ctz(static_cast<unsigned>(hit))];
    }
    return amax;  // unreachable: amax is one of the magnitudes
}

// Sums of 16 consecutive int8, for the 256 quants of a block held as eight vectors of 32.
// Each vector's 128-bit lanes hold one group each; the hadd tree gathers the 16 sums, and the
// final unpack restores their order (the tree leaves even groups in the low lanes).
STRATA_TARGET_AVX2 inline void bsums_avx2(const __m256i* q, std::int16_t* bsums) noexcept {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i p[8];
    for (int c = 0; c < 8; ++c) p[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q[c]), ones16);
    const __m256i lo = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    const __m256i hi = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
    const __m256i s = _mm256_packs_epi32(lo, hi);  // lane 0: even groups, lane 1: odd groups
    const __m128i even = _mm256_castsi256_si128(s), odd = _mm256_extracti128_si256(s, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bsums), _mm_unpacklo_epi16(even, odd));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bsums + 8), _mm_unpackhi_epi16(even, odd));
}

STRATA_TARGET_AVX2 inline void quantize_row_q8_k_avx2(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_k::block*>(dst);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (std::int64_t b = 0; b < k / 256; ++b, x += 256) {
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 256; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
        const float amax = hmax_avx2(m);
        if (amax == 0.0f) {
            std::memset(&out[b], 0, sizeof(q8_k::block));
            continue;
        }
        const float iscale = -127.0f / signed_max_avx2(x, amax);
        const __m256 is = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        __m256i q[8];
        for (int c = 0; c < 8; ++c) {
            __m256i i[4];
            for (int j = 0; j < 4; ++j) {
                const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + 32 * c + 8 * j), is);
                i[j] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), top);
            }
            q[c] = pack_i32_to_i8_avx2(i[0], i[1], i[2], i[3]);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs + 32 * c), q[c]);
        }
        bsums_avx2(q, out[b].bsums);
        out[b].d = 1 / iscale;
    }
}

// ---- AVX-512 -----------------------------------------------------------------------------------

STRATA_TARGET_AVX512 inline __m512i round_even_avx512(__m512 v) noexcept {
    return _mm512_cvttps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// quantize_block_q8_avx2 in two vectors.
STRATA_TARGET_AVX512 inline float quantize_block_q8_avx512(const float* x, std::int8_t* qs, int* sum) noexcept {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const __m512 ids = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    const __m512i i0 = round_even_avx512(_mm512_mul_ps(v0, ids)), i1 = round_even_avx512(_mm512_mul_ps(v1, ids));
    // |quant| <= 127, so the saturating narrowing never saturates
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtsepi32_epi8(i1));
    if (sum != nullptr) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    return amax;
}

STRATA_TARGET_AVX512 inline void quantize_row_q8_0_avx512(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_0::block*>(dst);
    for (std::int64_t b = 0; b < k / 32; ++b) out[b].d = to_fp16(quantize_block_q8_avx512(x + 32 * b, out[b].qs, nullptr) / 127.0f);
}

STRATA_TARGET_AVX512 inline void quantize_row_q8_1_avx512(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_1::block*>(dst);
    for (std::int64_t b = 0; b < k / 32; ++b) {
        int sum = 0;
        const float d = quantize_block_q8_avx512(x + 32 * b, out[b].qs, &sum) / 127.0f;
        out[b].d = to_fp16(d);
        out[b].s = to_fp16(d * static_cast<float>(sum));
    }
}

STRATA_TARGET_AVX512 inline void quantize_row_q8_k_avx512(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_k::block*>(dst);
    for (std::int64_t b = 0; b < k / 256; ++b, x += 256) {
        __m512 m = _mm512_setzero_ps();
        for (int i = 0; i < 256; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
        const __m512 amaxv = _mm512_set1_ps(_mm512_reduce_max_ps(m));
        const float amax = _mm512_cvtss_f32(amaxv);
        if (amax == 0.0f) {
            std::memset(&out[b], 0, sizeof(q8_k::block));
            continue;
        }
        float max = amax;
        for (int i = 0; i < 256; i += 16) {  // the first element of largest magnitude decides the sign
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + i)), amaxv, _CMP_EQ_OQ);
            if (hit) {
                max = x[i + __builtin_ctz(static_cast<unsigned>(hit))];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m512 is = _mm512_set1_ps(iscale);
        const __m512i top = _mm512_set1_epi32(127);
        for (int g = 0; g < 16; ++g) {  // one vector is one bsums group of 16
            const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + 16 * g), is);
            const __m512i i = _mm512_min_epi32(
                _mm512_cvttps_epi32(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), top);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out[b].qs + 16 * g), _mm512_cvtsepi32_epi8(i));
            out[b].bsums[g] = static_cast<std::int16_t>(_mm512_reduce_add_epi32(i));
        }
        out[b].d = 1 / iscale;
    }
}

}  // namespace cpu::detail
STRATA_NAMESPACE_END

#endif  // STRATA_CPU_X86_KERNELS
