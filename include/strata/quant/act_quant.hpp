// strata/quant/act_quant.hpp — activations to Q8_0 / Q8_1 / Q8_K, one block at a time, as the
// CPU backend quantizes them at run time (backend/cpu/kernels_scalar.hpp's
// quantize_row_q8_0_act_ref and quantize_row_q8_1_act_ref; q8_k::quantize for Q8_K), written
// once as STRATA_HD pieces so the CUDA kernels (kernels/quantize_act.cuh) run the same
// arithmetic and produce the same bytes.
//
// Why pieces: on the device a warp quantizes a block, each lane a few values. Everything that
// crosses lanes is exact whatever the order (a maximum, integer sums), so a kernel may reduce
// those with shuffles and call the per-value pieces below; the whole-block functions are the
// same pieces in the CPU's order, and the tests check them against the CPU quantizers.
//
// Why mul_rn: nvcc fuses a multiply and a following add into one FMA (-fmad=true), and
// nearest_int(x * id) adds 1.5 * 2^23 to the product: fused, the product would not be rounded
// first and a tie would round differently. __fmul_rn is never fused.
#pragma once

#include <cstdint>

#include "strata/core/config.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/q8_1.hpp"
#include "strata/quant/q8_k.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN
namespace act_quant {

// a * b rounded to float, never contracted with what follows.
STRATA_HD inline float mul_rn(float a, float b) noexcept {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

// ---- Q8_0 and Q8_1: 32 values, d = fp16(amax / 127), quants by 127 / amax ties to even -----

STRATA_HD inline float q8_inverse_scale(float amax) noexcept { return amax != 0.0f ? 127.0f / amax : 0.0f; }
STRATA_HD inline fp16_t q8_scale(float amax) noexcept { return to_fp16(amax / 127.0f); }
STRATA_HD inline std::int8_t q8_quant(float x, float id) noexcept {
    return static_cast<std::int8_t>(detail::nearest_int(mul_rn(x, id)));
}
// Q8_1's s: the unrounded d times the sum of the rounded quants, to fp16.
STRATA_HD inline fp16_t q8_1_sum(float amax, int sum) noexcept {
    return to_fp16(mul_rn(amax / 127.0f, static_cast<float>(sum)));
}

STRATA_HD inline float q8_amax(const float* x, int n) noexcept {
    float amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float a = detail::fabs_hd(x[i]);
        amax = a > amax ? a : amax;
    }
    return amax;
}

STRATA_HD inline void quantize_q8_0(const float* x, q8_0::block& b) noexcept {
    const float amax = q8_amax(x, 32);
    const float id = q8_inverse_scale(amax);
    b.d = q8_scale(amax);
    for (int i = 0; i < 32; ++i) b.qs[i] = q8_quant(x[i], id);
}

STRATA_HD inline void quantize_q8_1(const float* x, q8_1::block& b) noexcept {
    const float amax = q8_amax(x, 32);
    const float id = q8_inverse_scale(amax);
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
        b.qs[i] = q8_quant(x[i], id);
        sum += b.qs[i];
    }
    b.d = q8_scale(amax);
    b.s = q8_1_sum(amax, sum);
}

// ---- Q8_K: 256 values, as q8_k::quantize ---------------------------------------------------
// max is the first value of largest magnitude (its sign sets d's), iscale = -127 / max, quants
// to nearest (ties to even) clamped at 127, d = 1 / iscale; all zero when amax is 0.

STRATA_HD inline float q8_k_inverse_scale(float max) noexcept { return -127.0f / max; }
STRATA_HD inline std::int8_t q8_k_quant(float x, float iscale) noexcept {
    const int v = detail::nearest_int(mul_rn(iscale, x));
    return static_cast<std::int8_t>(v < 127 ? v : 127);
}

STRATA_HD inline void quantize_q8_k(const float* x, q8_k::block& b) noexcept {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < 256; ++i) {
        const float ax = detail::fabs_hd(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax == 0.0f) {
        b.d = 0.0f;
        for (int i = 0; i < 256; ++i) b.qs[i] = 0;
        for (int j = 0; j < 16; ++j) b.bsums[j] = 0;
        return;
    }
    const float iscale = q8_k_inverse_scale(max);
    for (int i = 0; i < 256; ++i) b.qs[i] = q8_k_quant(x[i], iscale);
    for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
        b.bsums[j] = static_cast<std::int16_t>(sum);
    }
    b.d = 1.0f / iscale;
}

// The activation quantizer of one block of format A (Q8_0, Q8_1 or Q8_K).
template <class A>
STRATA_HD inline void quantize_block(const float* x, typename A::block& b) noexcept {
    if constexpr (A::type == ggml_type::q8_0) {
        quantize_q8_0(x, b);
    } else if constexpr (A::type == ggml_type::q8_1) {
        quantize_q8_1(x, b);
    } else {
        static_assert(A::type == ggml_type::q8_k, "activations are quantized to Q8_0, Q8_1 or Q8_K");
        quantize_q8_k(x, b);
    }
}

}  // namespace act_quant
STRATA_NAMESPACE_END
