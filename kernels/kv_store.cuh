// kernels/kv_store.cuh — a batch's keys and values into a layer's cache on the device, at the
// positions held in device memory (so a decode step captured in a CUDA graph writes the row of
// the position the host set before the replay, not the one it was captured with).
//
//   src: n_tokens rows of row_values floats (token-major, as the K and V projections leave them)
//   dst: the cache, row p at dst + p * row_bytes, F16 or Q8_0 (blocks of 32 along the row)
//
// F16 rounds as the CPU's store does (fp32_to_fp16, to nearest even); Q8_0 runs the CPU cache's
// per-block quantizer (quant/act_quant.hpp), so the rows equal the CPU's byte for byte.
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "strata/core/dtype.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/act_quant.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

inline constexpr int kv_store_threads = 128;

// One thread block per token; a thread per value (F16) or per block of 32 (Q8_0). A template
// (on the cache type): a header's plain __global__ function would be defined in every
// translation unit including it.
template <ggml_type T>
__global__ void __launch_bounds__(kv_store_threads)
    kv_store_kernel(const float* __restrict__ src, std::int64_t row_values, const std::int32_t* __restrict__ pos,
                    std::byte* __restrict__ dst, std::size_t row_bytes) {
    const std::int64_t t = blockIdx.x;
    const float* s = src + t * row_values;
    std::byte* row = dst + static_cast<std::size_t>(pos[t]) * row_bytes;
    if constexpr (T == ggml_type::f16) {
        auto* d = reinterpret_cast<std::uint16_t*>(row);
        for (std::int64_t i = threadIdx.x; i < row_values; i += kv_store_threads) d[i] = fp32_to_fp16(s[i]);
    } else {
        static_assert(T == ggml_type::q8_0, "the cache is F16 or Q8_0");
        auto* d = reinterpret_cast<q8_0::block*>(row);
        for (std::int64_t b = threadIdx.x; b < row_values / 32; b += kv_store_threads) act_quant::quantize_q8_0(s + b * 32, d[b]);
    }
}

// Asynchronous on `stream`; cudaErrorInvalidValue for a type other than F16/Q8_0 or a Q8_0 row
// that is not whole blocks.
inline cudaError_t kv_store(ggml_type type, const float* src, std::int64_t n_tokens, std::int64_t row_values,
                            const std::int32_t* pos, std::byte* dst, std::size_t row_bytes, cudaStream_t stream) {
    if (n_tokens < 0 || row_values <= 0) return cudaErrorInvalidValue;
    if (n_tokens == 0) return cudaSuccess;
    const auto grid = static_cast<unsigned>(n_tokens);
    if (type == ggml_type::f16) {
        kv_store_kernel<ggml_type::f16><<<grid, kv_store_threads, 0, stream>>>(src, row_values, pos, dst, row_bytes);
    } else if (type == ggml_type::q8_0 && row_values % 32 == 0) {
        kv_store_kernel<ggml_type::q8_0><<<grid, kv_store_threads, 0, stream>>>(src, row_values, pos, dst, row_bytes);
    } else {
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

}  // namespace kernels
STRATA_NAMESPACE_END
