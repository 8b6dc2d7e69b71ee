// kernels/quantize_act.cuh — f32 activations to Q8_0 / Q8_1 / Q8_K blocks on the device, with
// the bytes the CPU backend produces (quant/act_quant.hpp holds the arithmetic, shared).
//
//   Q8_0, Q8_1: one warp per block of 32, lane i quantizes value i.
//   Q8_K:       one warp per block of 256, lane l quantizes values l, l + 32, ..., l + 224
//               (loads coalesced); the 16-value bsums are half-warp sums.
// What crosses lanes is exact in any order (the maximum, integer sums), so the blocks equal
// the CPU's byte for byte.
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "kernels/warp.cuh"
#include "strata/quant/act_quant.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

// Warps (quant blocks) per thread block: decode rows are 8-40 blocks of Q8_K or 64-300 of Q8_0.
inline constexpr int quantize_act_warps = 4;

namespace detail {

// |x| as the CPU's amax loop sees it: a NaN never becomes the maximum.
__device__ inline float abs_for_max(float x) {
    const float a = ::strata::detail::fabs_hd(x);
    return a > 0.0f ? a : 0.0f;
}

}  // namespace detail

template <class A>
__global__ void __launch_bounds__(quantize_act_warps * 32)
    quantize_act_kernel(const float* __restrict__ x, typename A::block* __restrict__ dst, std::int64_t n_blocks) {
    namespace aq = ::strata::act_quant;
    const int lane = static_cast<int>(threadIdx.x) % detail::warp_size;
    const std::int64_t b = std::int64_t(blockIdx.x) * quantize_act_warps + threadIdx.x / detail::warp_size;
    if (b >= n_blocks) return;  // the whole warp leaves together
    const float* xb = x + b * A::block_elems;
    typename A::block& out = dst[b];

    if constexpr (A::type == ggml_type::q8_0 || A::type == ggml_type::q8_1) {
        const float v = xb[lane];
        const float amax = detail::warp_max(detail::abs_for_max(v));
        const std::int8_t q = aq::q8_quant(v, aq::q8_inverse_scale(amax));
        out.qs[lane] = q;
        if constexpr (A::type == ggml_type::q8_1) {
            const int sum = detail::warp_sum(static_cast<int>(q));
            if (lane == 0) out.s = aq::q8_1_sum(amax, sum);
        }
        if (lane == 0) out.d = aq::q8_scale(amax);
    } else {
        static_assert(A::type == ggml_type::q8_k, "activations are quantized to Q8_0, Q8_1 or Q8_K");
        // The first value of largest magnitude: each lane scans its values in index order,
        // then lanes combine by (larger magnitude, else lower index).
        float v[8];
        float amax = 0.0f, max = 0.0f;
        int idx = 256;
        for (int j = 0; j < 8; ++j) {
            v[j] = xb[lane + 32 * j];
            const float ax = ::strata::detail::fabs_hd(v[j]);
            if (ax > amax) amax = ax, max = v[j], idx = lane + 32 * j;
        }
        for (int o = 16; o > 0; o >>= 1) {
            const float o_amax = __shfl_xor_sync(detail::full_mask, amax, o);
            const float o_max = __shfl_xor_sync(detail::full_mask, max, o);
            const int o_idx = __shfl_xor_sync(detail::full_mask, idx, o);
            if (o_amax > amax || (o_amax == amax && o_idx < idx)) amax = o_amax, max = o_max, idx = o_idx;
        }
        if (amax == 0.0f) {
            for (int j = 0; j < 8; ++j) out.qs[lane + 32 * j] = 0;
            if (lane < 16) out.bsums[lane] = 0;
            if (lane == 0) out.d = 0.0f;
            return;
        }
        const float iscale = aq::q8_k_inverse_scale(max);
        for (int j = 0; j < 8; ++j) {
            const std::int8_t q = aq::q8_k_quant(v[j], iscale);
            out.qs[lane + 32 * j] = q;
            // values 32j .. 32j+15 (lanes 0-15) and 32j+16 .. 32j+31 (lanes 16-31)
            const int s = detail::group_sum<16>(static_cast<int>(q));
            if (lane % 16 == 0) out.bsums[2 * j + lane / 16] = static_cast<std::int16_t>(s);
        }
        if (lane == 0) out.d = 1.0f / iscale;
    }
}

// Quantizes k floats (any number of contiguous rows: k a multiple of A::block_elems) at x to
// k / A::block_elems blocks of A at dst. Asynchronous on `stream`; returns the launch error.
template <class A>
cudaError_t quantize_act(const float* x, void* dst, std::int64_t k, cudaStream_t stream) {
    if (k < 0 || k % A::block_elems != 0) return cudaErrorInvalidValue;
    const std::int64_t n_blocks = k / A::block_elems;
    if (n_blocks == 0) return cudaSuccess;
    const auto grid = static_cast<unsigned>((n_blocks + quantize_act_warps - 1) / quantize_act_warps);
    quantize_act_kernel<A><<<grid, quantize_act_warps * 32, 0, stream>>>(x, static_cast<typename A::block*>(dst), n_blocks);
    return cudaGetLastError();
}

}  // namespace kernels
STRATA_NAMESPACE_END
