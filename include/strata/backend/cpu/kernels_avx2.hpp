// strata/backend/cpu/kernels_avx2.hpp — AVX2 + FMA + F16C dot kernels (16 ymm registers).
//
// Integer products use ggml's sign trick: vpmaddubsw multiplies unsigned by signed bytes, so a
// signed weight w times a signed activation a is computed as |w| * (a with w's sign). The
// activation quantizers never produce -128, so negating a never overflows; |w| may be 128.
// The 4-bit K-quant values are unsigned already and go straight into vpmaddubsw; Q6_K's are
// used unsigned (q + 32) and 32 * sum(scale * bsum) is subtracted afterwards.
//
// Register blocking: each weight block is unpacked once and multiplied with N <= 4 activation
// rows. The 32-element formats alternate two accumulators per row so that, for N = 1, two
// blocks' FMAs are in flight (FMA latency is 4 cycles, a block's work about 2).
#pragma once

#include "strata/backend/cpu/simd_x86.hpp"

#if STRATA_CPU_X86_KERNELS
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "strata/backend/cpu/kernels_scalar.hpp"
#include "strata/backend/cpu/quantize_x86.hpp"
#include "strata/quant/bf16.hpp"
#include "strata/quant/f16.hpp"
#include "strata/quant/f32.hpp"
#include "strata/quant/iq4_nl.hpp"
#include "strata/quant/iq4_xs.hpp"
#include "strata/quant/mxfp4.hpp"
#include "strata/quant/q2_k.hpp"
#include "strata/quant/q3_k.hpp"
#include "strata/quant/q4_0.hpp"
#include "strata/quant/q4_1.hpp"
#include "strata/quant/q4_k.hpp"
#include "strata/quant/q5_0.hpp"
#include "strata/quant/q5_1.hpp"
#include "strata/quant/q5_k.hpp"
#include "strata/quant/q6_k.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/q8_1.hpp"
#include "strata/quant/q8_k.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu::detail {

STRATA_TARGET_AVX2 inline __m256i load256(const void* p) noexcept {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// The 16 bytes of 32 packed nibbles as 32 bytes in element order: low nibbles (elements 0..15)
// in the low lane, high nibbles (16..31) in the high lane. One broadcast load and a per-lane
// shift (2 vector ops instead of shift, insert and mask).
STRATA_TARGET_AVX2 inline __m256i nibbles_to_bytes(const std::uint8_t* qs) noexcept {
    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    return _mm256_and_si256(_mm256_srlv_epi32(t, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
}

// The fp16 scale at p (followed by at least 6 readable bytes, true of every block that starts
// with its scale) in all eight lanes.
STRATA_TARGET_AVX2 inline __m256 broadcast_half(const void* p) noexcept {
    return _mm256_broadcastss_ps(_mm_cvtph_ps(_mm_loadl_epi64(static_cast<const __m128i*>(p))));
}

// A shuffle control that broadcasts int16 word `lo` of each 128-bit lane into the low lane and
// word `hi` into the high lane.
STRATA_TARGET_AVX2 inline __m256i word_select(int lo, int hi) noexcept {
    const auto ctl = [](int w) { return static_cast<short>(((2 * w + 1) << 8) | (2 * w)); };
    return _mm256_set_m128i(_mm_set1_epi16(ctl(hi)), _mm_set1_epi16(ctl(lo)));
}

// ---- 32-element blocks times Q8_0: Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4 -------------------------
// Each weight format supplies its 32 signed values as one vector, and its scale in all lanes
// (scale_d: the fp16 d that all but MXFP4 start with).

template <class B>
struct scale_d {
    STRATA_TARGET_AVX2 static __m256 scale(const B& b) noexcept { return broadcast_half(&b.d); }
};

struct q8_0_avx2 : scale_d<q8_0::block> {
    using block = q8_0::block;
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept { return load256(b.qs); }
};

struct q4_0_avx2 : scale_d<q4_0::block> {
    using block = q4_0::block;
    // low nibbles are elements 0..15, high nibbles 16..31: one 128-bit lane each
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept {
        return _mm256_sub_epi8(nibbles_to_bytes(b.qs), _mm256_set1_epi8(8));
    }
};

struct q5_0_avx2 : scale_d<q5_0::block> {
    using block = q5_0::block;
    // Byte j becomes 0xff where bit j of qh is set: each byte takes qh's byte j / 8, then all its
    // bits but j % 8 are set, and only a set bit j leaves the byte all ones.
    STRATA_TARGET_AVX2 static __m256i bits_to_bytes(std::uint32_t qh) noexcept {
        const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)),
                                                   _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
        const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
        return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
    }
    // q - 16 for a 4-bit q is q | 0xf0 in two's complement: where the fifth bit is clear the
    // value is q - 16, where set q + 16 - 16 = q.
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept {
        std::uint32_t qh = 0;
        std::memcpy(&qh, b.qh, 4);
        const __m256i q = nibbles_to_bytes(b.qs);
        return _mm256_or_si256(q, _mm256_andnot_si256(bits_to_bytes(qh), _mm256_set1_epi8(static_cast<char>(0xf0))));
    }
};

// The codebook levels of IQ4_NL plus `bias`, as the 16 bytes a vpshufb looks nibbles up in.
template <int bias>
inline constexpr std::uint8_t iq4_nl_table[16] = {
    std::uint8_t(iq4_nl::level(0) + bias),  std::uint8_t(iq4_nl::level(1) + bias),  std::uint8_t(iq4_nl::level(2) + bias),
    std::uint8_t(iq4_nl::level(3) + bias),  std::uint8_t(iq4_nl::level(4) + bias),  std::uint8_t(iq4_nl::level(5) + bias),
    std::uint8_t(iq4_nl::level(6) + bias),  std::uint8_t(iq4_nl::level(7) + bias),  std::uint8_t(iq4_nl::level(8) + bias),
    std::uint8_t(iq4_nl::level(9) + bias),  std::uint8_t(iq4_nl::level(10) + bias), std::uint8_t(iq4_nl::level(11) + bias),
    std::uint8_t(iq4_nl::level(12) + bias), std::uint8_t(iq4_nl::level(13) + bias), std::uint8_t(iq4_nl::level(14) + bias),
    std::uint8_t(iq4_nl::level(15) + bias)};

// Nibbles looked up in a 16-entry byte table (the same table in both lanes).
STRATA_TARGET_AVX2 inline __m256i lookup_nibbles(const std::uint8_t* qs, const std::uint8_t* table) noexcept {
    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
    return _mm256_shuffle_epi8(t, nibbles_to_bytes(qs));
}

struct iq4_nl_avx2 : scale_d<iq4_nl::block> {
    using block = iq4_nl::block;
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept { return lookup_nibbles(b.qs, iq4_nl_table<0>); }
};

// MXFP4's doubled E2M1 values, plus `bias`, as a vpshufb table; its scale is a power of two.
template <int bias>
inline constexpr std::uint8_t mxfp4_table[16] = {
    std::uint8_t(mxfp4::value(0) + bias),  std::uint8_t(mxfp4::value(1) + bias),  std::uint8_t(mxfp4::value(2) + bias),
    std::uint8_t(mxfp4::value(3) + bias),  std::uint8_t(mxfp4::value(4) + bias),  std::uint8_t(mxfp4::value(5) + bias),
    std::uint8_t(mxfp4::value(6) + bias),  std::uint8_t(mxfp4::value(7) + bias),  std::uint8_t(mxfp4::value(8) + bias),
    std::uint8_t(mxfp4::value(9) + bias),  std::uint8_t(mxfp4::value(10) + bias), std::uint8_t(mxfp4::value(11) + bias),
    std::uint8_t(mxfp4::value(12) + bias), std::uint8_t(mxfp4::value(13) + bias), std::uint8_t(mxfp4::value(14) + bias),
    std::uint8_t(mxfp4::value(15) + bias)};

struct scale_e8m0 {
    STRATA_TARGET_AVX2 static __m256 scale(const mxfp4::block& b) noexcept { return _mm256_set1_ps(e8m0_to_fp32_half(b.e)); }
};

struct mxfp4_avx2 : scale_e8m0 {
    using block = mxfp4::block;
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept { return lookup_nibbles(b.qs, mxfp4_table<0>); }
};

template <class W, int N>
STRATA_TARGET_AVX2 inline void q32_step_avx2(const typename W::block& wb, const q8_0::block* const* ab,
                                              const float* const* as, std::int64_t b, __m256* acc) noexcept {
    const __m256i wq = W::values(wb);
    const __m256i aw = _mm256_sign_epi8(wq, wq);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256 dw = W::scale(wb);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        const q8_0::block& x = ab[j][b];
        const __m256i sx = _mm256_sign_epi8(load256(x.qs), wq);
        const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones);
        acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(as[j] + b)), _mm256_cvtepi32_ps(dot), acc[j]);
    }
}

template <class W, int N>
STRATA_TARGET_AVX2 void dot_q32_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                      std::size_t y_stride) {
    const auto* wb = static_cast<const typename W::block*>(w);
    const q8_0::block* ab[N];
    const float* as[N];  // the rows' float scales
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_0>(a, a_stride, j), as[j] = q8_0_scales(ab[j], nb);
    __m256 acc0[N], acc1[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc0[j] = acc1[j] = _mm256_setzero_ps();
    std::int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        q32_step_avx2<W, N>(wb[b], ab, as, b, acc0);
        q32_step_avx2<W, N>(wb[b + 1], ab, as, b + 1, acc1);
    }
    if (b < nb) q32_step_avx2<W, N>(wb[b], ab, as, b, acc0);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(_mm256_add_ps(acc0[j], acc1[j]));
}

// ---- Q4_1 and Q5_1 times Q8_1 -------------------------------------------------------------
// Per block d_w d_a sum(q a) + m_w s_a. The stored values q (0..15 or 0..31) are unsigned, so
// they go into vpmaddubsw as they are (pair sums stay below 2 * 31 * 128: no saturation). Both
// blocks start with two fp16 (d, m and d, s). A step takes two blocks: one conversion gives
// [d_w, m_w] of both (once per weight block pair) and [d_a, s_a] of both (per activation row),
// one product [d_w d_a, m_w s_a] of both; lanes 0 and 2 scale the integer sums, and the product
// is accumulated whole into a 128-bit accumulator whose lanes 1 and 3 collect the min terms.
// (One block per step, as the Q8_0 kernels do, converts and multiplies twice as often: the
// conversions and the min term are most of the per-activation work, and a Q8_1 row has no room
// for a table of float scales. Measured, AVX-512, one core: Q4_1 gemm 20 -> 25 GFLOP/s.)

// The two fp16 at p as floats in lanes 0 and 1, zeros above.
STRATA_TARGET_AVX2 inline __m128 half_pair(const void* p) noexcept {
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(v)));
}

// The two fp16 at p and the two at q as floats in lanes 0, 1 and 2, 3.
STRATA_TARGET_AVX2 inline __m128 half_pairs(const void* p, const void* q) noexcept {
    std::uint32_t v = 0, w = 0;
    std::memcpy(&v, p, 4);
    std::memcpy(&w, q, 4);
    return _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(static_cast<int>(v)), static_cast<int>(w), 1));
}

struct q4_1_avx2 {
    using block = q4_1::block;
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept { return nibbles_to_bytes(b.qs); }
};

struct q5_1_avx2 {
    using block = q5_1::block;
    STRATA_TARGET_AVX2 static __m256i values(const block& b) noexcept {
        std::uint32_t qh = 0;
        std::memcpy(&qh, b.qh, 4);
        const __m256i fifth = _mm256_and_si256(q5_0_avx2::bits_to_bytes(qh), _mm256_set1_epi8(0x10));
        return _mm256_or_si256(nibbles_to_bytes(b.qs), fifth);
    }
};

template <class W, int N>
STRATA_TARGET_AVX2 inline void q1_step_avx2(const typename W::block& wb, const q8_1::block* const* ab, std::int64_t b,
                                             __m256* acc, __m128* accm) noexcept {
    const __m256i u = W::values(wb);
    const __m128 dm = half_pair(&wb.d);
    const __m256i ones = _mm256_set1_epi16(1);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        const q8_1::block& x = ab[j][b];
        const __m128 p = _mm_mul_ps(dm, half_pair(&x.d));
        const __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(u, load256(x.qs)), ones);
        acc[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(dot), acc[j]);
        accm[j] = _mm_add_ps(accm[j], p);
    }
}

// Blocks b and b + 1: acc0 takes the first, acc1 the second, accm both min terms.
template <class W, int N>
STRATA_TARGET_AVX2 inline void q1_pair_step_avx2(const typename W::block* wb, const q8_1::block* const* ab, std::int64_t b,
                                                  __m256* acc0, __m256* acc1, __m128* accm) noexcept {
    const __m256i u0 = W::values(wb[b]), u1 = W::values(wb[b + 1]);
    const __m128 dm = half_pairs(&wb[b].d, &wb[b + 1].d);
    const __m256i ones = _mm256_set1_epi16(1), second = _mm256_set1_epi32(2);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        const q8_1::block* x = ab[j] + b;
        const __m128 p = _mm_mul_ps(dm, half_pairs(&x[0].d, &x[1].d));
        const __m256i dot0 = _mm256_madd_epi16(_mm256_maddubs_epi16(u0, load256(x[0].qs)), ones);
        const __m256i dot1 = _mm256_madd_epi16(_mm256_maddubs_epi16(u1, load256(x[1].qs)), ones);
        acc0[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(p), _mm256_cvtepi32_ps(dot0), acc0[j]);
        acc1[j] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(p), second), _mm256_cvtepi32_ps(dot1), acc1[j]);
        accm[j] = _mm_add_ps(accm[j], p);
    }
}

// The sum of the lanes of acc plus lanes 1 and 3 of accm (the min terms).
STRATA_TARGET_AVX2 inline float q1_total(__m256 acc, __m128 accm) noexcept {
    const __m128 odd = _mm_movehdup_ps(accm);  // lanes 1, 1, 3, 3
    return hsum_avx2(acc) + _mm_cvtss_f32(_mm_add_ss(odd, _mm_movehl_ps(odd, odd)));
}

template <class W, int N>
STRATA_TARGET_AVX2 void dot_q1_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
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
    for (; b + 1 < nb; b += 2) q1_pair_step_avx2<W, N>(wb, ab, b, acc0, acc1, accm);
    if (b < nb) q1_step_avx2<W, N>(wb[b], ab, b, acc0, accm);
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = q1_total(_mm256_add_ps(acc0[j], acc1[j]), accm[j]);
}

// ---- Q4_K and Q5_K times Q8_K ----------------------------------------------------------------

// The eight 6-bit scales and mins of a Q4_K/Q5_K block as bytes: sc0..7 then m0..7.
inline void unpack_k4_scales(const std::uint8_t* s, std::uint32_t out[4]) noexcept {
    std::uint32_t u[3];
    std::memcpy(u, s, 12);
    out[0] = u[0] & 0x3f3f3f3fu;                                              // sc0..3
    out[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);      // sc4..7
    out[2] = u[1] & 0x3f3f3f3fu;                                              // m0..3
    out[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);  // m4..7
}

// What both formats need per block besides the quants: the scales as int16 words in both
// lanes, and each min twice (once per bsums group of 16) for one vpmaddwd against the bsums.
struct k4_scales_avx2 {
    __m256i scales;  // sc0..7 | sc0..7
    __m256i mins;    // m0 m0 m1 m1 ... m7 m7
};

STRATA_TARGET_AVX2 inline __m128i k4_scale_bytes(const std::uint8_t* s) noexcept {
    std::uint32_t u[4];
    unpack_k4_scales(s, u);
    return _mm_setr_epi32(static_cast<int>(u[0]), static_cast<int>(u[1]), static_cast<int>(u[2]), static_cast<int>(u[3]));
}

STRATA_TARGET_AVX2 inline k4_scales_avx2 k4_scales(const std::uint8_t* s) noexcept {
    const __m128i bytes = k4_scale_bytes(s);
    const __m128i sc16 = _mm_cvtepu8_epi16(bytes);
    const __m128i m = _mm_srli_si128(bytes, 8);
    return {_mm256_broadcastsi128_si256(sc16), _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m))};
}

// One Q4_K/Q5_K block (its 4- or 5-bit values produced by W::values) times N Q8_K blocks.
// Values of sub-blocks 2p and 2p+1 come as a pair of vectors from 32 bytes of qs.
template <class W, int N>
STRATA_TARGET_AVX2 void dot_k4_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                     std::size_t y_stride) {
    const auto* wb = static_cast<const typename W::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    __m256 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const typename W::block& x = wb[b];
        const k4_scales_avx2 sm = k4_scales(x.scales);
        typename W::high_bits hb(x);
        __m256i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) sumi[j] = _mm256_setzero_si256();
        STRATA_UNROLL
        for (int p = 0; p < 4; ++p) {
            __m256i lo, hi;
            W::values(x, p, hb, lo, hi);
            const __m256i s_lo = _mm256_shuffle_epi8(sm.scales, word_select(2 * p, 2 * p));
            const __m256i s_hi = _mm256_shuffle_epi8(sm.scales, word_select(2 * p + 1, 2 * p + 1));
            STRATA_UNROLL
            for (int j = 0; j < N; ++j) {
                const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(ab[j][b].qs + 64 * p)), s_lo);
                const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(ab[j][b].qs + 64 * p + 32)), s_hi);
                sumi[j] = _mm256_add_epi32(sumi[j], _mm256_add_epi32(p_lo, p_hi));
            }
        }
        const float d = half_to_float_f16c(x.d.bits), dmin = half_to_float_f16c(x.dmin.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            const __m256i mins = _mm256_madd_epi16(load256(ab[j][b].bsums), sm.mins);
            const float da = ab[j][b].d;
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(-(dmin * da)), _mm256_cvtepi32_ps(mins), acc[j]);
        }
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(acc[j]);
}

struct q4_k_avx2 {
    using block = q4_k::block;
    struct high_bits {
        explicit high_bits(const block&) noexcept {}
    };
    STRATA_TARGET_AVX2 static void values(const block& b, int p, high_bits&, __m256i& lo, __m256i& hi) noexcept {
        const __m256i q = load256(b.qs + 32 * p);
        const __m256i m4 = _mm256_set1_epi8(0x0f);
        lo = _mm256_and_si256(q, m4);
        hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    }
};

struct q5_k_avx2 {
    using block = q5_k::block;
    // The fifth bit of sub-block s is bit s of each qh byte; kept shifted down so that the
    // next sub-block's bit is always bit 0 (16-bit shifts: the bits that cross into a byte
    // from its neighbour land above bit 0 and are masked off).
    struct high_bits {
        __m256i v;
        STRATA_TARGET_AVX2 explicit high_bits(const block& b) noexcept : v(load256(b.qh)) {}
    };
    STRATA_TARGET_AVX2 static void values(const block& b, int p, high_bits& h, __m256i& lo, __m256i& hi) noexcept {
        const __m256i q = load256(b.qs + 32 * p);
        const __m256i m4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_slli_epi16(h.v, 4), bit4));
        hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_and_si256(_mm256_slli_epi16(h.v, 3), bit4));
        h.v = _mm256_srli_epi16(h.v, 2);
    }
};

// ---- Q6_K times Q8_K ---------------------------------------------------------------------------

// Within each half of the block (128 values): vector k (32 values, k = 0..3) takes its low four
// bits from ql bytes 0..31 (k = 0, 2) or 32..63 (k = 1, 3), low or high nibble, and its top two
// from qh bits 2k, 2k+1; both are moved to bits 4-5 with one 16-bit shift.
template <int N>
STRATA_TARGET_AVX2 void dot_q6_k_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                       std::size_t y_stride) {
    const auto* wb = static_cast<const q6_k::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    __m256 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const q6_k::block& x = wb[b];
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales));
        __m256i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            // the offset of 32 in every stored value: 32 * sum over sub-blocks of scale * bsum
            const __m256i corr = _mm256_madd_epi16(load256(ab[j][b].bsums), _mm256_cvtepi8_epi16(sc8));
            sumi[j] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
        STRATA_UNROLL
        for (int h = 0; h < 2; ++h) {
            const __m256i q0 = load256(x.ql + 64 * h), q1 = load256(x.ql + 64 * h + 32), qh = load256(x.qh + 32 * h);
            const __m256i v[4] = {
                _mm256_or_si256(_mm256_and_si256(q0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)),
                _mm256_or_si256(_mm256_and_si256(q1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q0, 4), m4), _mm256_and_si256(qh, m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)),
            };
            // scales of sub-blocks 8h .. 8h+7 as words in both lanes
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h == 0 ? sc8 : _mm_srli_si128(sc8, 8)));
            STRATA_UNROLL
            for (int k = 0; k < 4; ++k) {
                const __m256i s = _mm256_shuffle_epi8(sc, word_select(2 * k, 2 * k + 1));
                STRATA_UNROLL
                for (int j = 0; j < N; ++j) {
                    const __m256i prod = _mm256_maddubs_epi16(v[k], load256(ab[j][b].qs + 128 * h + 32 * k));
                    sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(prod, s));
                }
            }
        }
        const float d = half_to_float_f16c(x.d.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j)
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab[j][b].d), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(acc[j]);
}

// ---- IQ4_XS times Q8_K ---------------------------------------------------------------------------

// Eight sub-blocks of 32 codebook indices, each packed like a Q4_0 block, with signed 6-bit
// scales (low nibbles in scales_l, top bits in scales_h, bias 32). The codebook values are
// signed, so the products use the sign trick as Q8_0's do.

// The eight scales, unbiased, as int16 words 0..7.
STRATA_TARGET_AVX2 inline __m128i iq4_xs_scales(const iq4_xs::block& b) noexcept {
    std::uint32_t sl = 0;
    std::memcpy(&sl, b.scales_l, 4);
    const __m128i low = _mm_unpacklo_epi8(_mm_cvtsi32_si128(static_cast<int>(sl & 0x0f0f0f0fu)),
                                          _mm_cvtsi32_si128(static_cast<int>((sl >> 4) & 0x0f0f0f0fu)));
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(b.scales_h), shifts), _mm256_set1_epi32(3));
    const __m128i high16 = _mm_packs_epi32(_mm256_castsi256_si128(high), _mm256_extracti128_si256(high, 1));
    return _mm_sub_epi16(_mm_or_si128(_mm_cvtepu8_epi16(low), _mm_slli_epi16(high16, 4)), _mm_set1_epi16(32));
}

template <int N>
STRATA_TARGET_AVX2 void dot_iq4_xs_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                         std::size_t y_stride) {
    const auto* wb = static_cast<const iq4_xs::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    __m256 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const iq4_xs::block& x = wb[b];
        const __m256i sc = _mm256_broadcastsi128_si256(iq4_xs_scales(x));
        __m256i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) sumi[j] = _mm256_setzero_si256();
        STRATA_UNROLL
        for (int s = 0; s < 8; ++s) {
            const __m256i v = lookup_nibbles(x.qs + 16 * s, iq4_nl_table<0>);
            const __m256i av = _mm256_sign_epi8(v, v);
            const __m256i scale = _mm256_shuffle_epi8(sc, word_select(s, s));
            STRATA_UNROLL
            for (int j = 0; j < N; ++j) {
                const __m256i prod = _mm256_maddubs_epi16(av, _mm256_sign_epi8(load256(ab[j][b].qs + 32 * s), v));
                sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(prod, scale));
            }
        }
        const float d = half_to_float_f16c(x.d.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j)
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab[j][b].d), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(acc[j]);
}

// ---- Q2_K and Q3_K times Q8_K ------------------------------------------------------------------

// Both keep their 2-bit fields the same way: each half of the block has 32 qs bytes, and field
// k (bits 2k, 2k+1) of byte l is element 32k + l of the half. Sixteen sub-blocks of 16 values
// with one scale each, spread as in the Q6_K kernel. Q3_K's third bit, in hmask, is stored
// inverted (set: no -4): the values are used as unsigned q + 4, and 4 * sum(scale * bsum) is
// subtracted; Q2_K's are unsigned already and its mins are applied with the bsums as Q4_K's.

// Q3_K's sixteen 6-bit scales, unbiased (-32..31), as int8 in order. Bytes 0-7 hold the low
// nibbles (scales 0-7 low, 8-15 high nibble), bytes 8-11 the top bits, 2 per scale, scale s
// in byte 8 + s % 4 at bit 2 * (s / 4).
STRATA_TARGET_AVX2 inline __m128i q3_k_scales(const std::uint8_t* s) noexcept {
    std::uint32_t u[3];
    std::memcpy(u, s, 12);
    const std::uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    const std::uint32_t w0 = (u[0] & m4) | ((u[2] & m2) << 4);
    const std::uint32_t w1 = (u[1] & m4) | (((u[2] >> 2) & m2) << 4);
    const std::uint32_t w2 = ((u[0] >> 4) & m4) | (((u[2] >> 4) & m2) << 4);
    const std::uint32_t w3 = ((u[1] >> 4) & m4) | (((u[2] >> 6) & m2) << 4);
    const __m128i b = _mm_setr_epi32(static_cast<int>(w0), static_cast<int>(w1), static_cast<int>(w2), static_cast<int>(w3));
    return _mm_sub_epi8(b, _mm_set1_epi8(32));
}

template <int N>
STRATA_TARGET_AVX2 void dot_q3_k_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                       std::size_t y_stride) {
    const auto* wb = static_cast<const q3_k::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m256i m2 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1);
    __m256 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const q3_k::block& x = wb[b];
        const __m128i sc8 = q3_k_scales(x.scales);
        __m256i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            const __m256i corr = _mm256_madd_epi16(load256(ab[j][b].bsums), _mm256_cvtepi8_epi16(sc8));
            sumi[j] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 2));
        }
        __m256i hm = load256(x.hmask);  // shifted down one bit per vector: its bit 0 is the next one's
        STRATA_UNROLL
        for (int h = 0; h < 2; ++h) {
            __m256i q = load256(x.qs + 32 * h);  // shifted down two bits per vector
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(h == 0 ? sc8 : _mm_srli_si128(sc8, 8)));
            STRATA_UNROLL
            for (int k = 0; k < 4; ++k) {
                const __m256i u = _mm256_or_si256(_mm256_and_si256(q, m2), _mm256_slli_epi16(_mm256_and_si256(hm, m1), 2));
                q = _mm256_srli_epi16(q, 2);
                hm = _mm256_srli_epi16(hm, 1);
                const __m256i s = _mm256_shuffle_epi8(sc, word_select(2 * k, 2 * k + 1));
                STRATA_UNROLL
                for (int j = 0; j < N; ++j) {
                    const __m256i prod = _mm256_maddubs_epi16(u, load256(ab[j][b].qs + 128 * h + 32 * k));
                    sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(prod, s));
                }
            }
        }
        const float d = half_to_float_f16c(x.d.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j)
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab[j][b].d), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(acc[j]);
}

template <int N>
STRATA_TARGET_AVX2 void dot_q2_k_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                                       std::size_t y_stride) {
    const auto* wb = static_cast<const q2_k::block*>(w);
    const q8_k::block* ab[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) ab[j] = act_row<q8_k>(a, a_stride, j);
    const __m256i m2 = _mm256_set1_epi8(3);
    __m256 acc[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
    for (std::int64_t b = 0; b < nb; ++b) {
        const q2_k::block& x = wb[b];
        const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales));
        const __m128i sc8 = _mm_and_si128(packed, _mm_set1_epi8(0x0f));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0f)));
        __m256i sumi[N];
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) sumi[j] = _mm256_setzero_si256();
        STRATA_UNROLL
        for (int h = 0; h < 2; ++h) {
            __m256i q = load256(x.qs + 32 * h);
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(h == 0 ? sc8 : _mm_srli_si128(sc8, 8)));
            STRATA_UNROLL
            for (int k = 0; k < 4; ++k) {
                const __m256i u = _mm256_and_si256(q, m2);
                q = _mm256_srli_epi16(q, 2);
                const __m256i s = _mm256_shuffle_epi8(sc, word_select(2 * k, 2 * k + 1));
                STRATA_UNROLL
                for (int j = 0; j < N; ++j) {
                    const __m256i prod = _mm256_maddubs_epi16(u, load256(ab[j][b].qs + 128 * h + 32 * k));
                    sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(prod, s));
                }
            }
        }
        const float d = half_to_float_f16c(x.d.bits), dmin = half_to_float_f16c(x.dmin.bits);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) {
            const float da = ab[j][b].d;
            const __m256i pm = _mm256_madd_epi16(load256(ab[j][b].bsums), mins);
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * da), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(-(dmin * da)), _mm256_cvtepi32_ps(pm), acc[j]);
        }
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) y[static_cast<std::size_t>(j) * y_stride] = hsum_avx2(acc[j]);
}

// ---- F32 and F16 weights times f32 activations, BF16 times BF16 -------------------------------
// BF16 widens exactly (it is the top half of a float) and the product of two BF16 values is
// exact in float, so the float kernel computes what the policy's dot does, summed in lanes.

struct f32_avx2 {
    using type = float;
    STRATA_TARGET_AVX2 static __m256 load(const float* p) noexcept { return _mm256_loadu_ps(p); }
    static float scalar(const float* p) noexcept { return *p; }
};
struct f16_avx2 {
    using type = std::uint16_t;
    STRATA_TARGET_AVX2 static __m256 load(const std::uint16_t* p) noexcept {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static float scalar(const std::uint16_t* p) noexcept { return fp16_to_fp32(*p); }
};
struct bf16_avx2 {
    using type = std::uint16_t;
    STRATA_TARGET_AVX2 static __m256 load(const std::uint16_t* p) noexcept {
        const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
    }
    static float scalar(const std::uint16_t* p) noexcept { return bf16_to_fp32(*p); }
};

// U vectors per step and row: for one row, four independent FMA chains (two would leave the
// FMA units half idle at 4 cycles latency); for more rows the rows themselves interleave.
// W loads the weights, X the activations.
template <class W, class X, int N>
STRATA_TARGET_AVX2 void dot_float_avx2(const void* w, const void* a, std::size_t a_stride, std::int64_t k, float* y,
                                        std::size_t y_stride) {
    constexpr int U = N == 1 ? 4 : 2;
    const auto* wv = static_cast<const typename W::type*>(w);
    const typename X::type* x[N];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) x[j] = reinterpret_cast<const typename X::type*>(static_cast<const std::byte*>(a) + a_stride * std::size_t(j));
    __m256 acc[N][U];
    STRATA_UNROLL
    for (int j = 0; j < N; ++j)
        STRATA_UNROLL
        for (int u = 0; u < U; ++u) acc[j][u] = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 8 * U <= k; i += 8 * U) {
        STRATA_UNROLL
        for (int u = 0; u < U; ++u) {
            const __m256 wu = W::load(wv + i + 8 * u);
            STRATA_UNROLL
            for (int j = 0; j < N; ++j) acc[j][u] = _mm256_fmadd_ps(wu, X::load(x[j] + i + 8 * u), acc[j][u]);
        }
    }
    for (; i + 8 <= k; i += 8) {
        const __m256 wu = W::load(wv + i);
        STRATA_UNROLL
        for (int j = 0; j < N; ++j) acc[j][0] = _mm256_fmadd_ps(wu, X::load(x[j] + i), acc[j][0]);
    }
    STRATA_UNROLL
    for (int j = 0; j < N; ++j) {
        STRATA_UNROLL
        for (int u = 1; u < U; ++u) acc[j][0] = _mm256_add_ps(acc[j][0], acc[j][u]);
        float sum = hsum_avx2(acc[j][0]);
        for (std::int64_t t = i; t < k; ++t) sum += W::scalar(wv + t) * X::scalar(x[j] + t);
        y[static_cast<std::size_t>(j) * y_stride] = sum;
    }
}

// ---- the table ---------------------------------------------------------------------------------

template <template <int> class K>
constexpr void fill_dots(kernel_set& ks) noexcept {
    ks.dot[0] = K<1>::fn, ks.dot[1] = K<2>::fn, ks.dot[2] = K<3>::fn, ks.dot[3] = K<4>::fn;
}

template <class W> struct q32_avx2_k { template <int N> struct at { static constexpr dot_fn fn = dot_q32_avx2<W, N>; }; };
template <class W> struct q1_avx2_k { template <int N> struct at { static constexpr dot_fn fn = dot_q1_avx2<W, N>; }; };
template <class W> struct k4_avx2_k { template <int N> struct at { static constexpr dot_fn fn = dot_k4_avx2<W, N>; }; };
template <class W, class X> struct float_avx2_k { template <int N> struct at { static constexpr dot_fn fn = dot_float_avx2<W, X, N>; }; };
template <int N> struct q6_k_avx2_k { static constexpr dot_fn fn = dot_q6_k_avx2<N>; };
template <int N> struct q3_k_avx2_k { static constexpr dot_fn fn = dot_q3_k_avx2<N>; };
template <int N> struct q2_k_avx2_k { static constexpr dot_fn fn = dot_q2_k_avx2<N>; };
template <int N> struct iq4_xs_avx2_k { static constexpr dot_fn fn = dot_iq4_xs_avx2<N>; };

// The AVX2 kernels for F where there are some, else the portable ones; activations to Q8_0,
// Q8_1 and Q8_K are quantized with AVX2 for every format that uses them.
template <class F>
constexpr kernel_set avx2_kernels() noexcept {
    kernel_set ks = scalar_kernels<F>();
    using A = typename F::dot_format;
    if constexpr (std::is_same_v<A, q8_0>) ks.quantize = quantize_q8_0_act<quantize_row_q8_0_avx2, q8_0_offset<F>>;
    if constexpr (std::is_same_v<A, q8_1>) ks.quantize = quantize_row_q8_1_avx2;
    if constexpr (std::is_same_v<A, q8_k>) ks.quantize = quantize_row_q8_k_avx2;
    if constexpr (std::is_same_v<F, q8_0>) fill_dots<q32_avx2_k<q8_0_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q4_0>) fill_dots<q32_avx2_k<q4_0_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q5_0>) fill_dots<q32_avx2_k<q5_0_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, iq4_nl>) fill_dots<q32_avx2_k<iq4_nl_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q4_1>) fill_dots<q1_avx2_k<q4_1_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q5_1>) fill_dots<q1_avx2_k<q5_1_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, mxfp4>) fill_dots<q32_avx2_k<mxfp4_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q4_k>) fill_dots<k4_avx2_k<q4_k_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q5_k>) fill_dots<k4_avx2_k<q5_k_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, q6_k>) fill_dots<q6_k_avx2_k>(ks);
    if constexpr (std::is_same_v<F, q3_k>) fill_dots<q3_k_avx2_k>(ks);
    if constexpr (std::is_same_v<F, q2_k>) fill_dots<q2_k_avx2_k>(ks);
    if constexpr (std::is_same_v<F, iq4_xs>) fill_dots<iq4_xs_avx2_k>(ks);
    if constexpr (std::is_same_v<F, f32>) fill_dots<float_avx2_k<f32_avx2, f32_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, f16>) fill_dots<float_avx2_k<f16_avx2, f32_avx2>::template at>(ks);
    if constexpr (std::is_same_v<F, bf16>) fill_dots<float_avx2_k<bf16_avx2, bf16_avx2>::template at>(ks);
    return ks;
}

}  // namespace cpu::detail
STRATA_NAMESPACE_END

#endif  // STRATA_CPU_X86_KERNELS
