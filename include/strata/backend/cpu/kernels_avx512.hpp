// strata/backend/cpu/kernels_avx512.hpp — AVX-512 (F/BW/VL/DQ + VNNI) dot kernels.
//
// The 32-element formats (one block is 32 bytes of int8 products) stay at 256 bits, where one
// block is one register and its scale one broadcast (two blocks per zmm would need an insert
// per activation block and two scales per register, and 512-bit ops issue on two ports, not
// three). VNNI's vpdpbusd replaces AVX2's vpmaddubsw + vpmaddwd pair and takes the weights'
// stored unsigned values as they are, its sum starting at the activation row's precomputed
// -offset * sum(quants) (measured: Q4_0 gemm 54 -> 70 GFLOP/s, Q5_0 gemv +20%, one core).
//
// The K-quants use 512 bits: one register holds two 32-value sub-blocks of Q4_K/Q5_K (or four
// 16-value ones of Q6_K), the 8-bit products are summed in pairs by vpmaddubsw, then multiplied
// by the per-sub-block scales *and* accumulated by one vpdpwssd. The weight side is arranged to
// match the activations' natural order (the 32 qs bytes of a sub-block pair are broadcast to
// both halves and shifted per half), so that the per-activation work — what is repeated N times
// in a gemm — is plain loads and two products.
#pragma once

#include "strata/backend/cpu/simd_x86.hpp"

#if STRATA_CPU_X86_KERNELS
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "strata/backend/cpu/kernels_avx2.hpp"
#include "strata/backend/cpu/kernels_scalar.hpp"
#include "strata/backend/cpu/quantize_x86.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu::detail {

STRATA_TARGET_AVX512 inline __m512i load512(const void* p) noexcept {
    return _mm512_loadu_si512(p);
}

STRATA_TARGET_AVX512 inline __m512i broadcast256(const void* p) noexcept {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

// A vpermw index: words 8i..8i+7 all pick word i_i. Spreads per-sub-block scales over the lanes
// that the sub-block's pair products occupy.
STRATA_TARGET_AVX512 inline __m512i word_index(int i0, int i1, int i2, int i3) noexcept {
    constexpr long long ones = 0x0101010101010101;
    return _mm512_cvtepu8_epi16(_mm256_setr_epi64x(i0 * ones, i1 * ones, i2 * ones, i3 * ones));
}

// ---- 32-element blocks times Q8_0: Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4 -------------------------

// Each weight format supplies its 32 values as the unsigned bytes it stores (value + offset,
// see q8_0_offset): vpdpbusd multiplies them with the signed activations directly, and its
// accumulator starts at the row's -offset * sum(quants) for the block (kernels_scalar.hpp) —
// one load instead of the sign trick's two instructions per product.

struct q8_0_avx512 : scale_d<q8_0::block> {
    using block = q8_0::block;
    STRATA_TARGET_AVX512 static __m256i values(const block& b) noexcept {  // w + 128, as unsigned
        return _mm256_xor_si256(load256(b.qs), _mm256_set1_epi8(static_cast<char>(0x80)));
    }
};
struct q4_0_avx512 : scale_d<q4_0::block> {
    using block = q4_0::block;
    STRATA_TARGET_AVX512 static __m256i values(const block& b) noexcept { return nibbles_to_bytes(b.qs); }
};
struct q5_0_avx512 : scale_d<q5_0::block> {
    using block = q5_0::block;
    // the fifth bits are a byte mask already: add 16 where set
    STRATA_TARGET_AVX512 static __m256i values(const block& b) noexcept {
        std::uint32_t qh = 0;
        std::memcpy(&qh, b.qh, 4);
        const __m256i q = nibbles_to_bytes(b.qs);
        return _mm256_mask_add_epi8(q, static_cast<__mmask32>(qh), q, _mm256_set1_epi8(16));
    }
};

struct iq4_nl_avx512 : scale_d<iq4_nl::block> {
    using block = iq4_nl::block;
    STRATA_TARGET_AVX512 static __m256i values(const block& b) noexcept { return lookup_nibbles(b.qs, iq4_nl_table<128>); }
};

struct mxfp4_avx512 : scale_e8m0 {
    using block = mxfp4::block;
    STRATA_TARGET_AVX512 static __m256i values(const block& b) noexcept { return lookup_nibbles(b.qs, mxfp4_table<128>); }
};

struct q8_0_rows {
    const q8_0::block* qs;
    const float* scales;
    const std::int32_t* sums;
};

template <class W, int N>
STRATA_TARGET_AVX512 inline void q32_step_avx512(const typename W::block& wb, const q8_0_rows* x, std::int64_t b,
                                                  __m256* acc) noexcept {
    const __m256i u = W::values(wb);
    const __m256 dw = W::scale(wb);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        const __m256i start = _mm256_zextsi128_si256(_mm_cvtsi32_si128(x[j].sums[b]));
        const __m256i dot = _mm256_dpbusd_epi32(start, u, load256(x[j].qs[b].qs));
        acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(x[j].scales + b)), _mm256_cvtepi32_ps(dot), acc[j]);
    }
}

template <class W, int N>
STRATA_TARGET_AVX512 void dot_q32_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                          std::size_t y_stride) {
    const auto* wb = static_cast<const typename W::block*>(w);
    q8_0_rows x[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        x[j].qs = act_row<q8_0>(a, a_stride, j);
        x[j].scales = q8_0_scales(x[j].qs, nb);
        x[j].sums = q8_0_sums(x[j].qs, nb);
    }
    __m256 acc0[N], acc1[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc0[j] = acc1[j] = _mm256_setzero_ps();
    std::int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        q32_step_avx512<W, N>(wb[b], x, b, acc0);
        q32_step_avx512<W, N>(wb[b + 1], x, b + 1, acc1);
    }
    if (b < nb) q32_step_avx512<W, N>(wb[b], x, b, acc0);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(_mm256_add_ps(acc0[j], acc1[j]));
}

// ---- Q4_1 and Q5_1 times Q8_1 -------------------------------------------------------------
// As the AVX2 kernel (kernels_avx2.hpp), with vpdpbusd for the integer sums: the stored
// values are unsigned, so the sum starts at zero (no offset to correct).

struct q5_1_avx512 {
    using block = q5_1::block;
    STRATA_TARGET_AVX512 static __m256i values(const block& b) noexcept {
        std::uint32_t qh = 0;
        std::memcpy(&qh, b.qh, 4);
        const __m256i q = nibbles_to_bytes(b.qs);
        return _mm256_mask_add_epi8(q, static_cast<__mmask32>(qh), q, _mm256_set1_epi8(16));
    }
};

template <class W, int N>
STRATA_TARGET_AVX512 inline void q1_step_avx512(const typename W::block& wb, const q8_1::block* const* ab, std::int64_t b,
                                                 __m256* acc, __m128* accm) noexcept {
    const __m256i u = W::values(wb);
    const __m128 dm = half_pair(&wb.d);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        const q8_1::block& x = ab[j][b];
        const __m128 p = _mm_mul_ps(dm, half_pair(&x.d));
        const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, load256(x.qs));
        acc[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(dot), acc[j]);
        accm[j] = _mm_add_ps(accm[j], p);
    }
}

template <class W, int N>
STRATA_TARGET_AVX512 inline void q1_pair_step_avx512(const typename W::block* wb, const q8_1::block* const* ab, std::int64_t b,
                                                      __m256* acc0, __m256* acc1, __m128* accm) noexcept {
    const __m256i u0 = W::values(wb[b]), u1 = W::values(wb[b + 1]);
    const __m128 dm = half_pairs(&wb[b].d, &wb[b + 1].d);
    const __m256i second = _mm256_set1_epi32(2);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        const q8_1::block* x = ab[j] + b;
        const __m128 p = _mm_mul_ps(dm, half_pairs(&x[0].d, &x[1].d));
        const __m256i dot0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u0, load256(x[0].qs));
        const __m256i dot1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u1, load256(x[1].qs));
        acc0[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(dot0), acc0[j]);
        acc1[j] = _mm256_fmadd_ps(_mm256_permutexvar_ps(second, _mm256_castps128_ps256(p)), _mm256_cvtepi32_ps(dot1), acc1[j]);
        accm[j] = _mm_add_ps(accm[j], p);
    }
}

template <class W, int N>
STRATA_TARGET_AVX512 void dot_q1_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                         std::size_t y_stride) {
    const auto* wb = static_cast<const typename W::block*>(w);
    const q8_1::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_1>(a, a_stride, j);
    __m256 acc0[N], acc1[N];
    __m128 accm[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc0[j] = acc1[j] = _mm256_setzero_ps(), accm[j] = _mm_setzero_ps();
    std::int64_t b = 0;
    for (; b + 1 < nb; b += 2) q1_pair_step_avx512<W, N>(wb, ab, b, acc0, acc1, accm);
    if (b < nb) q1_step_avx512<W, N>(wb[b], ab, b, acc0, accm);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = q1_total(_mm256_add_ps(acc0[j], acc1[j]), accm[j]);
}

// ---- Q4_K and Q5_K times Q8_K ----------------------------------------------------------------

// Per block: scales of sub-blocks 2p, 2p+1 spread over the two halves (for vpdpwssd), each min
// twice (one per bsums group, for one vpmaddwd against the bsums), as in the AVX2 kernel.
template <class W, int N>
STRATA_TARGET_AVX512 void dot_k4_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                         std::size_t y_stride) {
    const auto* wb = static_cast<const typename W::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m512i pair_index[4] = {word_index(0, 0, 1, 1), word_index(2, 2, 3, 3), word_index(4, 4, 5, 5), word_index(6, 6, 7, 7)};
    __m512 acc[N];
    __m256 accm[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps(), accm[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const typename W::block& x = wb[b];
        const __m128i bytes = k4_scale_bytes(x.scales);
        const __m512i sc = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(bytes));  // words 0..7: scales
        const __m128i m = _mm_srli_si128(bytes, 8);
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m));
        typename W::high_bits hb(x);
        __m512i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) sumi[j] = _mm512_setzero_si512();
        STRATA_UNROLL
        for (int p = 0; p < 4; ++p) {
            const __m512i v = W::values(x, p, hb);
            const __m512i s = _mm512_permutexvar_epi16(pair_index[p], sc);
            STRATA_UNROLL
            for (int j = 0; j < N; ++j)
                sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(v, load512(ab[j][b].qs + 64 * p)), s);
        }
        const float d = half_to_float_f16c(x.d.bits), dmin = half_to_float_f16c(x.dmin.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            const float da = ab[j][b].d;
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * da), _mm512_cvtepi32_ps(sumi[j]), acc[j]);
            const __m256i pm = _mm256_madd_epi16(load256(ab[j][b].bsums), mins);
            accm[j] = _mm256_fmadd_ps(_mm256_set1_ps(-(dmin * da)), _mm256_cvtepi32_ps(pm), accm[j]);
        }
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = _mm512_reduce_add_ps(acc[j]) + hsum_avx2(accm[j]);
}

// qs bytes 32p..32p+31 in both halves; low nibbles (sub-block 2p) kept in the low half, high
// nibbles (2p+1) in the high half: the order of the activations a[64p .. 64p+63].
STRATA_TARGET_AVX512 inline __m512i nibble_pair(const std::uint8_t* qs) noexcept {
    const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(broadcast256(qs), shift), _mm512_set1_epi8(0x0f));
}

struct q4_k_avx512 {
    using block = q4_k::block;
    struct high_bits {
        explicit high_bits(const block&) noexcept {}
    };
    STRATA_TARGET_AVX512 static __m512i values(const block& b, int p, high_bits&) noexcept { return nibble_pair(b.qs + 32 * p); }
};

struct q5_k_avx512 {
    using block = q5_k::block;
    // qh in both halves, and the bit of each qh byte that belongs to sub-block 2p (low half)
    // and 2p+1 (high half); moved up two bits per pair
    struct high_bits {
        __m512i qh, select;
        STRATA_TARGET_AVX512 explicit high_bits(const block& b) noexcept
            : qh(broadcast256(b.qh)), select(_mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1)) {}
    };
    STRATA_TARGET_AVX512 static __m512i values(const block& b, int p, high_bits& h) noexcept {
        const __m512i v = nibble_pair(b.qs + 32 * p);
        const __mmask64 fifth = _mm512_test_epi8_mask(h.qh, h.select);
        h.select = _mm512_slli_epi16(h.select, 2);  // bytes stay <= 0x80: no carry between bytes
        return _mm512_mask_add_epi8(v, fifth, v, _mm512_set1_epi8(0x10));
    }
};

// ---- Q6_K times Q8_K ---------------------------------------------------------------------------

// Per half of the block (128 values): the 64 ql bytes give values 0..63 (low nibbles) and
// 64..127 (high nibbles) in order; the top two bits come from the 32 qh bytes, broadcast and
// shifted per 256-bit half to bits 4-5, and are merged with one ternary-logic op.
template <int N>
STRATA_TARGET_AVX512 void dot_q6_k_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                           std::size_t y_stride) {
    const auto* wb = static_cast<const q6_k::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x30);
    const __m512i up_4_2 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i down_0_2 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i quad_index[4] = {word_index(0, 1, 2, 3), word_index(4, 5, 6, 7), word_index(8, 9, 10, 11),
                                   word_index(12, 13, 14, 15)};
    constexpr int a_or_bc = 0xf8;  // ternary logic: A | (B & C)
    __m512 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const q6_k::block& x = wb[b];
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        __m512i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            // the offset of 32 in every stored value: 32 * sum over sub-blocks of scale * bsum
            const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(load256(ab[j][b].bsums), sc16), 5);
            sumi[j] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr));
        }
        STRATA_UNROLL
        for (int h = 0; h < 2; ++h) {
            const __m512i ql = load512(x.ql + 64 * h), qh = broadcast256(x.qh + 32 * h);
            const __m512i v0 = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m4), _mm512_sllv_epi16(qh, up_4_2), m2, a_or_bc);
            const __m512i v1 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                                         _mm512_srlv_epi16(qh, down_0_2), m2, a_or_bc);
            const __m512i s0 = _mm512_permutexvar_epi16(quad_index[2 * h], sc);
            const __m512i s1 = _mm512_permutexvar_epi16(quad_index[2 * h + 1], sc);
            STRATA_UNROLL
            for (int j = 0; j < N; ++j) {
                const std::int8_t* q = ab[j][b].qs + 128 * h;
                sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(v0, load512(q)), s0);
                sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(v1, load512(q + 64)), s1);
            }
        }
        const float d = half_to_float_f16c(x.d.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j)
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * ab[j][b].d), _mm512_cvtepi32_ps(sumi[j]), acc[j]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = _mm512_reduce_add_ps(acc[j]);
}

// ---- IQ4_XS times Q8_K ---------------------------------------------------------------------------

// A 512-bit vector takes sub-blocks 2p and 2p+1 (32 qs bytes): each 16-byte half goes to two
// 128-bit lanes, the second of each shifted down to its high nibbles, then the codebook lookup
// (vpshufb works per lane). The values are signed: |v| times the activation negated where v is.
template <int N>
STRATA_TARGET_AVX512 void dot_iq4_xs_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                             std::size_t y_stride) {
    const auto* wb = static_cast<const iq4_xs::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m512i pair_index[4] = {word_index(0, 0, 1, 1), word_index(2, 2, 3, 3), word_index(4, 4, 5, 5), word_index(6, 6, 7, 7)};
    const __m512i shift = _mm512_setr_epi64(0, 0, 0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004, 0x0004000400040004);
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(iq4_nl_table<0>)));
    __m512 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const iq4_xs::block& x = wb[b];
        const __m512i sc = _mm512_castsi128_si512(iq4_xs_scales(x));
        __m512i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) sumi[j] = _mm512_setzero_si512();
        STRATA_UNROLL
        for (int p = 0; p < 4; ++p) {
            const __m512i q = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + 32 * p)));
            const __m512i idx = _mm512_and_si512(_mm512_srlv_epi16(_mm512_shuffle_i64x2(q, q, 0x50), shift), _mm512_set1_epi8(0x0f));
            const __m512i v = _mm512_shuffle_epi8(table, idx);
            const __m512i av = _mm512_abs_epi8(v);
            const __mmask64 negative = _mm512_movepi8_mask(v);
            const __m512i s = _mm512_permutexvar_epi16(pair_index[p], sc);
            STRATA_UNROLL
            for (int j = 0; j < N; ++j) {
                const __m512i act = load512(ab[j][b].qs + 64 * p);
                const __m512i sx = _mm512_mask_sub_epi8(act, negative, _mm512_setzero_si512(), act);
                sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(av, sx), s);
            }
        }
        const float d = half_to_float_f16c(x.d.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j)
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * ab[j][b].d), _mm512_cvtepi32_ps(sumi[j]), acc[j]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = _mm512_reduce_add_ps(acc[j]);
}

// ---- Q2_K and Q3_K times Q8_K ------------------------------------------------------------------

// As in the AVX2 kernels; a 512-bit vector takes the fields (2p, 2p+1) of a half's 32 qs
// bytes: the bytes broadcast to both halves and shifted by 4p and 4p + 2.
STRATA_TARGET_AVX512 inline __m512i two_bit_pair(const std::uint8_t* qs, int p) noexcept {
    const __m512i shift = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(4 * p)), _mm256_set1_epi16(static_cast<short>(4 * p + 2)), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(broadcast256(qs), shift), _mm512_set1_epi8(3));
}

template <int N>
STRATA_TARGET_AVX512 void dot_q3_k_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                           std::size_t y_stride) {
    const auto* wb = static_cast<const q3_k::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m512i quad_index[4] = {word_index(0, 1, 2, 3), word_index(4, 5, 6, 7), word_index(8, 9, 10, 11),
                                   word_index(12, 13, 14, 15)};
    __m512 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const q3_k::block& x = wb[b];
        const __m256i sc16 = _mm256_cvtepi8_epi16(q3_k_scales(x.scales));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        __m512i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(load256(ab[j][b].bsums), sc16), 2);
            sumi[j] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr));
        }
        const __m512i hm = broadcast256(x.hmask);
        __m512i select = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);  // hmask bits of vector 2h+p
        STRATA_UNROLL
        for (int h = 0; h < 2; ++h) {
            STRATA_UNROLL
            for (int p = 0; p < 2; ++p) {
                const __m512i low = two_bit_pair(x.qs + 32 * h, p);
                const __m512i u = _mm512_mask_add_epi8(low, _mm512_test_epi8_mask(hm, select), low, _mm512_set1_epi8(4));
                select = _mm512_slli_epi16(select, 2);
                const __m512i s = _mm512_permutexvar_epi16(quad_index[2 * h + p], sc);
                STRATA_UNROLL
                for (int j = 0; j < N; ++j)
                    sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(u, load512(ab[j][b].qs + 128 * h + 64 * p)), s);
            }
        }
        const float d = half_to_float_f16c(x.d.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j)
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * ab[j][b].d), _mm512_cvtepi32_ps(sumi[j]), acc[j]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = _mm512_reduce_add_ps(acc[j]);
}

template <int N>
STRATA_TARGET_AVX512 void dot_q2_k_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                           std::size_t y_stride) {
    const auto* wb = static_cast<const q2_k::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m512i quad_index[4] = {word_index(0, 1, 2, 3), word_index(4, 5, 6, 7), word_index(8, 9, 10, 11),
                                   word_index(12, 13, 14, 15)};
    __m512 acc[N];
    __m256 accm[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm512_setzero_ps(), accm[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const q2_k::block& x = wb[b];
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales));
        const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(0x0f))));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f)));
        __m512i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) sumi[j] = _mm512_setzero_si512();
        STRATA_UNROLL
        for (int h = 0; h < 2; ++h) {
            STRATA_UNROLL
            for (int p = 0; p < 2; ++p) {
                const __m512i u = two_bit_pair(x.qs + 32 * h, p);
                const __m512i s = _mm512_permutexvar_epi16(quad_index[2 * h + p], sc);
                STRATA_UNROLL
                for (int j = 0; j < N; ++j)
                    sumi[j] = _mm512_dpwssd_epi32(sumi[j], _mm512_maddubs_epi16(u, load512(ab[j][b].qs + 128 * h + 64 * p)), s);
            }
        }
        const float d = half_to_float_f16c(x.d.bits), dmin = half_to_float_f16c(x.dmin.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            const float da = ab[j][b].d;
            acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(d * da), _mm512_cvtepi32_ps(sumi[j]), acc[j]);
            const __m256i pm = _mm256_madd_epi16(load256(ab[j][b].bsums), mins);
            accm[j] = _mm256_fmadd_ps(_mm256_set1_ps(-(dmin * da)), _mm256_cvtepi32_ps(pm), accm[j]);
        }
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = _mm512_reduce_add_ps(acc[j]) + hsum_avx2(accm[j]);
}

// ---- F32 and F16 weights times f32 activations, BF16 times BF16 -------------------------------

struct f32_avx512 {
    using type = float;
    STRATA_TARGET_AVX512 static __m512 load(const float* p) noexcept { return _mm512_loadu_ps(p); }
    STRATA_TARGET_AVX512 static __m512 load(const float* p, __mmask16 m) noexcept { return _mm512_maskz_loadu_ps(m, p); }
};
struct f16_avx512 {
    using type = std::uint16_t;
    STRATA_TARGET_AVX512 static __m512 load(const std::uint16_t* p) noexcept {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    STRATA_TARGET_AVX512 static __m512 load(const std::uint16_t* p, __mmask16 m) noexcept {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    }
};
struct bf16_avx512 {
    using type = std::uint16_t;
    STRATA_TARGET_AVX512 static __m512 widen(__m256i h) noexcept {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    STRATA_TARGET_AVX512 static __m512 load(const std::uint16_t* p) noexcept {
        return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    STRATA_TARGET_AVX512 static __m512 load(const std::uint16_t* p, __mmask16 m) noexcept { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

// As the AVX2 kernel, 16 lanes wide; the tail is one masked step (masked loads do not fault on
// the lanes they leave out).
template <class W, class X, int N>
STRATA_TARGET_AVX512 void dot_float_avx512(const void* w, const void* a, std::size_t a_stride, std::int64_t k, float* y,
                                            std::size_t y_stride) {
    constexpr int U = N == 1 ? 4 : 2;
    const auto* wv = static_cast<const typename W::type*>(w);
    const typename X::type* x[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) x[j] = reinterpret_cast<const typename X::type*>(static_cast<const std::byte*>(a) + a_stride * std::size_t(j));
    __m512 acc[N][U];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j)
        STRATA_UNROLL
        for (int u = 0; u < U; ++u) acc[j][u] = _mm512_setzero_ps();
    std::int64_t i = 0;
    for (; i + 16 * U <= k; i += 16 * U) {
        STRATA_UNROLL
        for (int u = 0; u < U; ++u) {
            const __m512 wu = W::load(wv + i + 16 * u);
            STRATA_UNROLL
            for (int j = 0; j < N; ++j) acc[j][u] = _mm512_fmadd_ps(wu, X::load(x[j] + i + 16 * u), acc[j][u]);
        }
    }
    for (; i < k; i += 16) {
        const __mmask16 m = k - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (k - i)) - 1);
        const __m512 wu = W::load(wv + i, m);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) acc[j][0] = _mm512_fmadd_ps(wu, X::load(x[j] + i, m), acc[j][0]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        STRATA_UNROLL
        for (int u = 1; u < U; ++u) acc[j][0] = _mm512_add_ps(acc[j][0], acc[j][u]);
        y[static_cast<std::size_t>(j) * y_stride] = _mm512_reduce_add_ps(acc[j][0]);
    }
}

// ---- the table ---------------------------------------------------------------------------------

template <class W> struct q32_avx512_k { template <int N> struct at { static constexpr dot_fn fn = dot_q32_avx512<W, N>; }; };
template <class W> struct q1_avx512_k { template <int N> struct at { static constexpr dot_fn fn = dot_q1_avx512<W, N>; }; };
template <class W> struct k4_avx512_k { template <int N> struct at { static constexpr dot_fn fn = dot_k4_avx512<W, N>; }; };
template <class W, class X> struct float_avx512_k { template <int N> struct at { static constexpr dot_fn fn = dot_float_avx512<W, X, N>; }; };
template <int N> struct q6_k_avx512_k { static constexpr dot_fn fn = dot_q6_k_avx512<N>; };
template <int N> struct q3_k_avx512_k { static constexpr dot_fn fn = dot_q3_k_avx512<N>; };
template <int N> struct q2_k_avx512_k { static constexpr dot_fn fn = dot_q2_k_avx512<N>; };
template <int N> struct iq4_xs_avx512_k { static constexpr dot_fn fn = dot_iq4_xs_avx512<N>; };

// The AVX-512 kernels for F where there are some, else the AVX2 ones (else the portable ones).
template <class F>
constexpr kernel_set avx512_kernels() noexcept {
    kernel_set ks = avx2_kernels<F>();
    using A = typename F::dot_format;
    if constexpr (std::is_same_v<A, q8_0>) ks.quantize = quantize_q8_0_act<quantize_row_q8_0_avx512, q8_0_offset<F>>;
    if constexpr (std::is_same_v<A, q8_1>) ks.quantize = quantize_row_q8_1_avx512;
    if constexpr (std::is_same_v<A, q8_k>) ks.quantize = quantize_row_q8_k_avx512;
    if constexpr (std::is_same_v<F, q8_0>) fill_dots<q32_avx512_k<q8_0_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, q4_0>) fill_dots<q32_avx512_k<q4_0_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, q5_0>) fill_dots<q32_avx512_k<q5_0_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, iq4_nl>) fill_dots<q32_avx512_k<iq4_nl_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, mxfp4>) fill_dots<q32_avx512_k<mxfp4_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, q4_1>) fill_dots<q1_avx512_k<q4_1_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q5_1>) fill_dots<q1_avx512_k<q5_1_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, q4_k>) fill_dots<k4_avx512_k<q4_k_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, q5_k>) fill_dots<k4_avx512_k<q5_k_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, q6_k>) fill_dots<q6_k_avx512_k>(ks);
    if constexpr (std::is_same_v<F, q3_k>) fill_dots<q3_k_avx512_k>(ks);
    if constexpr (std::is_same_v<F, q2_k>) fill_dots<q2_k_avx512_k>(ks);
    if constexpr (std::is_same_v<F, iq4_xs>) fill_dots<iq4_xs_avx512_k>(ks);
    if constexpr (std::is_same_v<F, f32>) fill_dots<float_avx512_k<f32_avx512, f32_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, f16>) fill_dots<float_avx512_k<f16_avx512, f32_avx512>::template at>(ks);
    if constexpr (std::is_same_v<F, bf16>) fill_dots<float_avx512_k<bf16_avx512, bf16_avx512>::template at>(ks);
    return ks;
}

}  // namespace cpu::detail
STRATA_NAMESPACE_END

#endif  // STRATA_CPU_X86_KERNELS
