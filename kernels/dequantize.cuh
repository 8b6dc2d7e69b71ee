// kernels/dequantize.cuh — dequantize whole tensors on the device: one thread per block,
// running the same STRATA_HD per-block code the CPU uses (quant/<format>.hpp).
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

template <quant_format F>
__global__ void dequantize_kernel(const typename F::block* __restrict__ src, float* __restrict__ dst,
                                  std::size_t n_blocks) {
    const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n_blocks) F::dequantize(src[i], dst + i * F::block_elems);
}

// n: elements, a multiple of F::block_elems. Asynchronous on `stream`; returns the launch error.
template <quant_format F>
cudaError_t dequantize(const void* src, float* dst, std::size_t n, cudaStream_t stream) {
    const std::size_t n_blocks = n / F::block_elems;
    if (n_blocks == 0) return cudaSuccess;
    constexpr unsigned threads = 128;
    const auto grid = static_cast<unsigned>((n_blocks + threads - 1) / threads);
    dequantize_kernel<F><<<grid, threads, 0, stream>>>(static_cast<const typename F::block*>(src), dst, n_blocks);
    return cudaGetLastError();
}

}  // namespace kernels
STRATA_NAMESPACE_END
