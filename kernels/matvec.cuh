// kernels/matvec.cuh — decode's y = W x for one activation row, every weight format: one warp
// per output row, its lanes over the row's blocks, each calling the format's STRATA_HD
// F::dot(block, activation block) (the code the CPU's portable kernels run), then a warp
// shuffle sum.
//
//   W:   rows x k in its file format, row r at w + r * row_bytes
//   act: for the quantized formats, the activation row quantized to F::dot_format
//        (kernels/quantize_act.cuh: Q8_0, Q8_1 or Q8_K blocks); for F32, F16 and BF16 the k
//        floats themselves (BF16 rounds them to bf16 as it reads them, as the CPU converts
//        its activations to bf16; F16 and F32 multiply them as they are, as the CPU does)
//   y:   rows floats
//
// The per-row sum runs in a different order than the CPU's left-to-right one (lane partial
// sums, then a butterfly), and nvcc may fuse multiply-adds, so y agrees with cpu::matmul to
// rounding. Decode is bandwidth bound; this first version reads each block with plain loads
// (no vectorised or cached weight loads yet).
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>
#include <type_traits>

#include "kernels/warp.cuh"
#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

// Output rows (warps) per thread block.
inline constexpr int matvec_warps = 4;

namespace detail {

// Formats of one element per block read the f32 activations.
template <class F>
inline constexpr bool reads_f32_act = F::block_elems == 1;

template <class F>
__device__ inline float dot_f32_act(const typename F::block& w, float x) {
    if constexpr (F::type == ggml_type::f16) {
        return to_float(w.v) * x;  // the weight widens exactly; x is not rounded to f16
    } else {
        typename F::dot_format::block a;  // f32: a copy; bf16: rounded to bf16
        F::dot_format::quantize(&x, a);
        return F::dot(w, a);
    }
}

}  // namespace detail

template <class F>
__global__ void __launch_bounds__(matvec_warps * 32)
    matvec_kernel(const std::byte* __restrict__ w, std::int64_t rows, std::int64_t nb, std::size_t row_bytes,
                  const void* __restrict__ act, float* __restrict__ y) {
    const int lane = static_cast<int>(threadIdx.x) % detail::warp_size;
    const std::int64_t r = std::int64_t(blockIdx.x) * matvec_warps + threadIdx.x / detail::warp_size;
    if (r >= rows) return;  // the whole warp leaves together
    const auto* wr = reinterpret_cast<const typename F::block*>(w + static_cast<std::size_t>(r) * row_bytes);
    float sum = 0.0f;
    if constexpr (detail::reads_f32_act<F>) {
        const auto* x = static_cast<const float*>(act);
        for (std::int64_t b = lane; b < nb; b += detail::warp_size) sum += detail::dot_f32_act<F>(wr[b], x[b]);
    } else {
        const auto* a = static_cast<const typename F::dot_format::block*>(act);
        for (std::int64_t b = lane; b < nb; b += detail::warp_size) sum += F::dot(wr[b], a[b]);
    }
    sum = detail::warp_sum(sum);
    if (lane == 0) y[r] = sum;
}

// y = W x (shapes at the top of this file); k a multiple of F::block_elems, row_bytes at least
// one row's bytes and a multiple of the block's alignment. Asynchronous on `stream`; returns the
// launch error (cudaErrorInvalidValue for bad shapes).
template <dot_capable F>
cudaError_t matvec(const void* w, std::int64_t rows, std::int64_t k, std::size_t row_bytes, const void* act, float* y,
                   cudaStream_t stream) {
    if (rows < 0 || k < 0 || k % F::block_elems != 0) return cudaErrorInvalidValue;
    const std::int64_t nb = k / F::block_elems;
    if (row_bytes < static_cast<std::size_t>(nb) * F::block_bytes || row_bytes % alignof(typename F::block) != 0)
        return cudaErrorInvalidValue;
    if (rows == 0) return cudaSuccess;
    const auto grid = static_cast<unsigned>((rows + matvec_warps - 1) / matvec_warps);
    matvec_kernel<F><<<grid, matvec_warps * 32, 0, stream>>>(static_cast<const std::byte*>(w), rows, nb, row_bytes, act, y);
    return cudaGetLastError();
}

}  // namespace kernels
STRATA_NAMESPACE_END
