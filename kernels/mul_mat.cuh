// kernels/mul_mat.cuh — the device halves of the general y = W x for a batch of n tokens
// (strata/backend/cuda/matmul.hpp chooses among them and calls cuBLAS):
//
//   matvec_batched:      2..MaxN tokens (decode-like batches, still bandwidth bound): as
//                        kernels/matvec.cuh — one warp per output row, lanes over the row's
//                        blocks — but each weight block, once loaded, is multiplied with the
//                        same block of every token's activations, so W is read from memory once
//                        for all n tokens instead of n times.
//   dequantize_rows_f16: a chunk of W's rows to a dense F16 matrix (row j at dst + j * k) for
//                        the prefill GEMM: one thread per quant block, running the format's
//                        STRATA_HD F::dequantize (the CPU's code), then rounding each value to
//                        half (round to nearest even, as core/half.hpp's to_fp16 does); blocks
//                        of 256 values staged in shared memory (see there why).
//   f32_to_f16:          the activations to half for the same GEMM.
//
// Layouts, as matvec.cuh: W rows x k in its file format, row r at w + r * row_bytes; act: n
// rows act_stride bytes apart, each the row quantized to F::dot_format (kernels/quantize_act.cuh)
// or, for F32, F16 and BF16 weights, the k floats; y: n x rows floats, row-major (token-major).
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/matvec.cuh"
#include "kernels/warp.cuh"
#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

// Threads per block of the element-wise conversions.
inline constexpr int mul_mat_threads = 256;

// Each lane keeps MaxN partial sums in registers (the token loop is unrolled; a token past n is
// skipped by a warp-uniform branch), so a warp's row needs no shared memory and rows never wait
// on each other. The per-token sums run in matvec's order: the same lane partials and butterfly,
// so token t's output equals what matvec gives for that token alone.
template <class F, int MaxN>
__global__ void __launch_bounds__(matvec_warps * 32)
    matvec_batched_kernel(const std::byte* __restrict__ w, std::int64_t rows, std::int64_t nb, std::size_t row_bytes,
                          const std::byte* __restrict__ act, std::size_t act_stride, int n, float* __restrict__ y) {
    const int lane = static_cast<int>(threadIdx.x) % detail::warp_size;
    const std::int64_t r = std::int64_t(blockIdx.x) * matvec_warps + threadIdx.x / detail::warp_size;
    if (r >= rows) return;  // the whole warp leaves together
    const auto* wr = reinterpret_cast<const typename F::block*>(w + static_cast<std::size_t>(r) * row_bytes);
    float sum[MaxN];
#pragma unroll
    for (int t = 0; t < MaxN; ++t) sum[t] = 0.0f;
    for (std::int64_t b = lane; b < nb; b += detail::warp_size) {
        const typename F::block& wb = wr[b];
#pragma unroll
        for (int t = 0; t < MaxN; ++t) {
            if (t >= n) break;
            const std::byte* at = act + static_cast<std::size_t>(t) * act_stride;
            if constexpr (detail::reads_f32_act<F>) {
                sum[t] += detail::dot_f32_act<F>(wb, reinterpret_cast<const float*>(at)[b]);
            } else {
                sum[t] += F::dot(wb, reinterpret_cast<const typename F::dot_format::block*>(at)[b]);
            }
        }
    }
#pragma unroll
    for (int t = 0; t < MaxN; ++t) {
        if (t >= n) break;
        const float s = detail::warp_sum(sum[t]);
        if (lane == 0) y[static_cast<std::size_t>(t) * static_cast<std::size_t>(rows) + static_cast<std::size_t>(r)] = s;
    }
}

// y = W x for 1 <= n <= MaxN tokens (shapes at the top of this file; the checks of matvec).
// Asynchronous on `stream`; returns the launch error (cudaErrorInvalidValue for bad shapes).
template <dot_capable F, int MaxN>
cudaError_t matvec_batched(const void* w, std::int64_t rows, std::int64_t k, std::size_t row_bytes, const void* act,
                           std::size_t act_stride, int n, float* y, cudaStream_t stream) {
    if (rows < 0 || k < 0 || k % F::block_elems != 0 || n < 1 || n > MaxN) return cudaErrorInvalidValue;
    const std::int64_t nb = k / F::block_elems;
    if (row_bytes < static_cast<std::size_t>(nb) * F::block_bytes || row_bytes % alignof(typename F::block) != 0)
        return cudaErrorInvalidValue;
    if (rows == 0) return cudaSuccess;
    const auto grid = static_cast<unsigned>((rows + matvec_warps - 1) / matvec_warps);
    matvec_batched_kernel<F, MaxN><<<grid, matvec_warps * 32, 0, stream>>>(
        static_cast<const std::byte*>(w), rows, nb, row_bytes, static_cast<const std::byte*>(act), act_stride, n, y);
    return cudaGetLastError();
}

namespace detail {

// Eight halves per 16-byte store where a block holds a multiple of eight values (every
// quantized format: 32 or 256); the destination is then 16-byte aligned (see below).
template <int N>
__device__ inline void store_half(const float* v, __half* out) {
    if constexpr (N % 8 == 0) {
#pragma unroll
        for (int i = 0; i < N; i += 8) {
            __half2 h[4];
#pragma unroll
            for (int q = 0; q < 4; ++q) h[q] = __floats2half2_rn(v[i + 2 * q], v[i + 2 * q + 1]);
            uint4 u;
            std::memcpy(&u, h, sizeof u);
            *reinterpret_cast<uint4*>(out + i) = u;
        }
    } else {
#pragma unroll
        for (int i = 0; i < N; ++i) out[i] = __float2half_rn(v[i]);
    }
}

}  // namespace detail

// Block i of the chunk: row i / nb, block i % nb of that row; it lands at dst + i *
// block_elems, since the chunk is dense (row j starts j * k = j * nb * block_elems halves in).
// For blocks of 32 values (Q4_0 .. Q8_0, IQ4_NL, MXFP4) the floats stay in registers between
// F::dequantize and the stores.
template <quant_format F>
__global__ void __launch_bounds__(mul_mat_threads)
    dequantize_rows_f16_kernel(const std::byte* __restrict__ w, std::size_t row_bytes, std::int64_t nb,
                               std::int64_t n_blocks, __half* __restrict__ dst) {
    const std::int64_t i = std::int64_t(blockIdx.x) * mul_mat_threads + threadIdx.x;
    if (i >= n_blocks) return;
    const std::int64_t j = i / nb, b = i % nb;
    const auto* src = reinterpret_cast<const typename F::block*>(w + static_cast<std::size_t>(j) * row_bytes) + b;
    float v[F::block_elems];
    F::dequantize(*src, v);
    // with dst 16-byte aligned, every block of a multiple of eight values starts 16-byte aligned
    detail::store_half<static_cast<int>(F::block_elems)>(v, dst + static_cast<std::size_t>(i) * F::block_elems);
}

// Blocks of 256 values (the K formats, IQ4_XS) would need a 1 KB array per thread, which nvcc
// puts in local memory: traffic through L2 of twice the output, and local memory the driver
// reserves for every resident thread at the first launch (hundreds of MB on a large GPU),
// outside the plan's arena. Instead one warp per thread block stages its 32 blocks in shared
// memory (32 x 257 floats, 32.9 KB: each thread's values one bank from the next thread's, so
// F::dequantize's stores do not conflict), then the warp stores the 32 consecutive blocks — one
// contiguous run of dst — together, coalesced.
inline constexpr int staged_warp_blocks = 32;

template <quant_format F>
__global__ void __launch_bounds__(staged_warp_blocks)
    dequantize_rows_f16_staged_kernel(const std::byte* __restrict__ w, std::size_t row_bytes, std::int64_t nb,
                                      std::int64_t n_blocks, __half* __restrict__ dst) {
    constexpr int be = static_cast<int>(F::block_elems), stride = be + 1;
    __shared__ float v[staged_warp_blocks * stride];
    const int lane = static_cast<int>(threadIdx.x);
    const std::int64_t first = std::int64_t(blockIdx.x) * staged_warp_blocks, i = first + lane;
    if (i < n_blocks) {
        const std::int64_t j = i / nb, b = i % nb;
        F::dequantize(*(reinterpret_cast<const typename F::block*>(w + static_cast<std::size_t>(j) * row_bytes) + b),
                      v + lane * stride);
    }
    __syncwarp();
    const std::int64_t left = n_blocks - first;
    const int count = static_cast<int>(left < staged_warp_blocks ? left : staged_warp_blocks);
    __half* out = dst + static_cast<std::size_t>(first) * be;
    for (int e = 2 * lane; e < count * be; e += 2 * detail::warp_size) {  // be is even: pairs never straddle blocks
        const float* p = v + (e / be) * stride + e % be;
        *reinterpret_cast<__half2*>(out + e) = __floats2half2_rn(p[0], p[1]);
    }
}

// rows x k of W (file format, rows row_bytes apart) to rows x k halves at dst, dense (leading
// dimension k); dst 16-byte aligned. Asynchronous on `stream`; returns the launch error.
template <quant_format F>
cudaError_t dequantize_rows_f16(const void* w, std::size_t row_bytes, std::int64_t rows, std::int64_t k, void* dst,
                                cudaStream_t stream) {
    if (rows < 0 || k < 0 || k % F::block_elems != 0) return cudaErrorInvalidValue;
    if (reinterpret_cast<std::uintptr_t>(dst) % 16 != 0 || row_bytes % alignof(typename F::block) != 0)
        return cudaErrorInvalidValue;
    const std::int64_t nb = k / F::block_elems;
    const std::int64_t n_blocks = rows * nb;
    if (n_blocks == 0) return cudaSuccess;
    const auto* wb = static_cast<const std::byte*>(w);
    auto* out = static_cast<__half*>(dst);
    if constexpr (F::block_elems > 32) {
        const auto grid = static_cast<unsigned>((n_blocks + staged_warp_blocks - 1) / staged_warp_blocks);
        dequantize_rows_f16_staged_kernel<F><<<grid, staged_warp_blocks, 0, stream>>>(wb, row_bytes, nb, n_blocks, out);
    } else {
        const auto grid = static_cast<unsigned>((n_blocks + mul_mat_threads - 1) / mul_mat_threads);
        dequantize_rows_f16_kernel<F><<<grid, mul_mat_threads, 0, stream>>>(wb, row_bytes, nb, n_blocks, out);
    }
    return cudaGetLastError();
}

// A template (of its block size) only so that, like every kernel of a header, it has one
// definition however many translation units include it: a plain __global__ function here
// would be defined again by each.
template <int Threads>
__global__ void __launch_bounds__(Threads) f32_to_f16_kernel(const float* __restrict__ x, __half* __restrict__ y, std::int64_t n) {
    const std::int64_t stride = std::int64_t(gridDim.x) * Threads;
    for (std::int64_t i = std::int64_t(blockIdx.x) * Threads + threadIdx.x; i < n; i += stride)
        y[i] = __float2half_rn(x[i]);
}

// n floats to n halves (round to nearest even). Asynchronous on `stream`.
inline cudaError_t f32_to_f16(const float* x, void* y, std::int64_t n, cudaStream_t stream) {
    if (n < 0) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    constexpr std::int64_t max_grid = 65536;  // a grid-stride loop beyond this
    std::int64_t grid = (n + mul_mat_threads - 1) / mul_mat_threads;
    if (grid > max_grid) grid = max_grid;
    f32_to_f16_kernel<mul_mat_threads><<<static_cast<unsigned>(grid), mul_mat_threads, 0, stream>>>(x, static_cast<__half*>(y), n);
    return cudaGetLastError();
}

}  // namespace kernels
STRATA_NAMESPACE_END
