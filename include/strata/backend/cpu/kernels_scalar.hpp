// strata/backend/cpu/kernels_scalar.hpp — the kernel interface of the CPU matmul, and its
// portable implementation: the format policies' own per-block code.
//
// A kernel computes the dot products of ONE weight row with up to max_cols activation rows
// (already converted to the weight format's activation type). Taking several activation rows
// per call is the register blocking of prefill: each weight block is loaded and unpacked once
// and multiplied with every activation row (decode calls the 1-column kernel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "strata/core/config.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/f16.hpp"
#include "strata/quant/act_quant.hpp"
#include "strata/quant/f32.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/iq4_nl.hpp"
#include "strata/quant/mxfp4.hpp"
#include "strata/quant/q4_0.hpp"
#include "strata/quant/q5_0.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/q8_1.hpp"
#include "strata/quant/row.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu::detail {

// Activation rows per kernel call. Four keeps a K-quant kernel's accumulators and unpacked
// weight vectors inside the 16 ymm registers of AVX2; more gave no gain where measured.
inline constexpr int max_cols = 4;

// y[j * y_stride] = dot(weight row w (nb blocks), activation row at a + j * a_stride bytes)
// for j < the kernel's column count.
using dot_fn = void (*)(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y,
                        std::size_t y_stride);
// Converts one activation row of k floats to the activation type.
using quantize_fn = void (*)(const float* x, void* dst, std::int64_t k);

struct kernel_set {
    dot_fn dot[max_cols] = {};       // dot[c - 1] takes c activation rows
    quantize_fn quantize = nullptr;  // null: the kernels read the f32 activations directly
};

// ---- the activation rows -------------------------------------------------------------------

constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

// A Q8_0 activation row carries two tables after its blocks, each starting on a cache line:
//   scales[b] = the block's scale as a float: the same activation row meets every weight row,
//     and converting its fp16 scale again for each of them was a third of the vector
//     instructions of the Q8_0 gemm kernel;
//   sums[b] = -offset * (sum of the block's quants), the offset being the one the weight format
//     stores its values with (8 for Q4_0, 16 for Q5_0, 128 for Q8_0 read as unsigned and for
//     the IQ4_NL and MXFP4 codebooks looked up with a bias of 128). With it
//     the VNNI kernels multiply the unsigned stored values directly (vpdpbusd is unsigned x
//     signed) and start the block's integer sum at this correction instead of re-signing
//     every product.
// (Q8_K's scale is a float already and its bsums serve the K-quants' mins.)
constexpr std::size_t q8_0_scales_offset(std::int64_t nb) noexcept {
    return round_up(static_cast<std::size_t>(nb) * sizeof(q8_0::block), 64);
}
constexpr std::size_t q8_0_sums_offset(std::int64_t nb) noexcept {
    return q8_0_scales_offset(nb) + round_up(static_cast<std::size_t>(nb) * sizeof(float), 64);
}
constexpr std::size_t q8_0_act_row_bytes(std::int64_t nb) noexcept {
    return q8_0_sums_offset(nb) + round_up(static_cast<std::size_t>(nb) * sizeof(std::int32_t), 64);
}
inline const float* q8_0_scales(const void* row, std::int64_t nb) noexcept {
    return reinterpret_cast<const float*>(static_cast<const std::byte*>(row) + q8_0_scales_offset(nb));
}
inline const std::int32_t* q8_0_sums(const void* row, std::int64_t nb) noexcept {
    return reinterpret_cast<const std::int32_t*>(static_cast<const std::byte*>(row) + q8_0_sums_offset(nb));
}

// The offset of the unsigned values a format's kernels multiply Q8_0 activations with.
template <class F>
inline constexpr int q8_0_offset = std::is_same_v<F, q4_0>   ? 8
                                   : std::is_same_v<F, q5_0> ? 16
                                   : std::is_same_v<F, q8_0> || std::is_same_v<F, iq4_nl> || std::is_same_v<F, mxfp4> ? 128
                                                                                                                     : 0;

// Quantizes a row to Q8_0 with Q (the reference or a SIMD quantizer), then fills the tables.
template <void (*Q)(const float*, void*, std::int64_t), int Offset>
void quantize_q8_0_act(const float* x, void* dst, std::int64_t k) {
    Q(x, dst, k);
    const std::int64_t nb = k / 32;
    const auto* b = static_cast<const q8_0::block*>(dst);
    auto* scales = reinterpret_cast<float*>(static_cast<std::byte*>(dst) + q8_0_scales_offset(nb));
    auto* sums = reinterpret_cast<std::int32_t*>(static_cast<std::byte*>(dst) + q8_0_sums_offset(nb));
    for (std::int64_t i = 0; i < nb; ++i) {
        scales[i] = to_float(b[i].d);
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += b[i].qs[j];
        sums[i] = -Offset * sum;
    }
}

template <class A>
inline const typename A::block* act_row(const void* a, std::size_t a_stride, int j) noexcept {
    return reinterpret_cast<const typename A::block*>(static_cast<const std::byte*>(a) + a_stride * static_cast<std::size_t>(j));
}

inline const float* act_floats(const void* a, std::size_t a_stride, int j) noexcept {
    return reinterpret_cast<const float*>(static_cast<const std::byte*>(a) + a_stride * static_cast<std::size_t>(j));
}

// ---- the portable kernels --------------------------------------------------------------------

// The policy's dot, block by block, summed in order: exactly dot_row<F>, the reference.
template <class F, int N>
void dot_policy(const void* w, const void* a, std::size_t a_stride, std::int64_t nb, float* y, std::size_t y_stride) {
    for (int j = 0; j < N; ++j) {
        y[static_cast<std::size_t>(j) * y_stride] =
            dot_row<F>(w, act_row<typename F::dot_format>(a, a_stride, j), static_cast<std::size_t>(nb * F::block_elems));
    }
}

// F16 weights with f32 activations: converting the activations to f16 would round them (2^-11),
// for no speed gain on a bandwidth-bound gemv; the weights widen exactly.
template <int N>
void dot_f16_f32(const void* w, const void* a, std::size_t a_stride, std::int64_t k, float* y, std::size_t y_stride) {
    const auto* wb = static_cast<const f16::block*>(w);
    for (int j = 0; j < N; ++j) {
        const float* x = act_floats(a, a_stride, j);
        float sum = 0.0f;
        for (std::int64_t i = 0; i < k; ++i) sum += to_float(wb[i].v) * x[i];
        y[static_cast<std::size_t>(j) * y_stride] = sum;
    }
}

template <quant_format A>
void quantize_policy(const float* x, void* dst, std::int64_t k) {
    quantize_row<A>(x, dst, static_cast<std::size_t>(k));
}

// Activations to Q8_0 as ggml-cpu's x86 quantize_row_q8_0 (the path llama.cpp runs on AVX/AVX2
// machines) does, not as the reference q8_0::quantize: the inverse scale is 127 / amax (the
// reference's 1 / (amax / 127) differs in the last bit for about a quarter of blocks) and the
// rounding is to nearest, ties to even (the reference rounds ties away from zero). Ties are
// common where activations are rms-normed Q8_0 embeddings (gemma's layer 0). The block scale
// d = fp16(amax / 127) is the same in both.
inline void quantize_row_q8_0_act_ref(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_0::block*>(dst);
    for (std::int64_t b = 0; b < k / 32; ++b) act_quant::quantize_q8_0(x + 32 * b, out[b]);
}

// Activations to Q8_1 (for Q4_1 and Q5_1 weights) as ggml-cpu's x86 quantize_row_q8_1 does:
// the quants exactly as quantize_row_q8_0_act_ref's (127 / amax, ties to even; the reference
// q8_1::quantize rounds ties away), d = fp16(amax / 127), and s = fp16(d * sum of the rounded
// quants) with the unrounded d. The row is plain Q8_1 blocks: the min term's s is a float the
// kernels need anyway, and d and s convert together in one instruction.
inline void quantize_row_q8_1_act_ref(const float* x, void* dst, std::int64_t k) {
    auto* out = static_cast<q8_1::block*>(dst);
    for (std::int64_t b = 0; b < k / 32; ++b) act_quant::quantize_q8_1(x + 32 * b, out[b]);
}

template <class F>
constexpr quantize_fn activation_quantizer() noexcept {
    using A = typename F::dot_format;
    if constexpr (std::is_same_v<A, q8_0>) return quantize_q8_0_act<quantize_row_q8_0_act_ref, q8_0_offset<F>>;
    else if constexpr (std::is_same_v<A, q8_1>) return quantize_row_q8_1_act_ref;
    else return quantize_policy<A>;
}

template <class F>
constexpr kernel_set scalar_kernels() noexcept {
    kernel_set ks;
    if constexpr (std::is_same_v<F, f16>) {
        ks.dot[0] = dot_f16_f32<1>, ks.dot[1] = dot_f16_f32<2>, ks.dot[2] = dot_f16_f32<3>, ks.dot[3] = dot_f16_f32<4>;
    } else {
        ks.dot[0] = dot_policy<F, 1>, ks.dot[1] = dot_policy<F, 2>, ks.dot[2] = dot_policy<F, 3>, ks.dot[3] = dot_policy<F, 4>;
        // f32 weights read f32 activations as they are (the "quantized" row would be a copy)
        if constexpr (!std::is_same_v<F, f32>) ks.quantize = activation_quantizer<F>();
    }
    return ks;
}

}  // namespace cpu::detail
STRATA_NAMESPACE_END
