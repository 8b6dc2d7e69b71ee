// kernels/warp.cuh — the warp-wide reductions the kernels share (full warps only: every lane of
// the warp must call them).
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cuda_runtime.h>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels::detail {

inline constexpr unsigned full_mask = 0xffffffffu;
inline constexpr int warp_size = 32;

// Butterfly sums over aligned groups of `Width` lanes (a power of two <= 32): each lane ends
// with its group's total. Float sums are in a fixed tree order (not the CPU's left-to-right
// order): results agree with the CPU to rounding, not to the bit.
template <int Width, class T>
__device__ inline T group_sum(T v) {
    for (int o = Width / 2; o > 0; o >>= 1) v += __shfl_xor_sync(full_mask, v, o);
    return v;
}

// The whole warp's sum, in every lane.
template <class T>
__device__ inline T warp_sum(T v) {
    return group_sum<warp_size>(v);
}

// The largest value, exact in any order. Another lane's NaN is ignored (as the CPU's
// `a > m ? a : m` ignores it), but a lane holding a NaN keeps it: pass none (quantize_act's
// abs_for_max).
__device__ inline float warp_max(float v) {
    for (int o = warp_size / 2; o > 0; o >>= 1) {
        const float u = __shfl_xor_sync(full_mask, v, o);
        v = u > v ? u : v;
    }
    return v;
}

}  // namespace kernels::detail
STRATA_NAMESPACE_END
