// kernels/moe.cuh — the row moves of a mixture-of-experts FFN on the device, mirroring
// backend/cpu/moe.hpp: an expert's input rows gathered from the tokens routed to it, its outputs
// (times their weights) scattered to their slots, and each token's slots summed in rank order.
// The routing itself (softmax, top-k, the slots grouped by expert) runs on the host over the
// router's logits (cuda_stage.hpp).
//
// A slot is a (token t, rank k) pair, numbered t * n_used + k. Included only by nvcc translation
// units (under __CUDACC__).
#pragma once

#include <cstdint>
#include <cuda_runtime.h>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

inline constexpr int moe_rows_threads = 256;  // one thread block per row, a thread per value

// Templates on the block size: a header's plain __global__ function would be defined in every
// translation unit that includes it.

// out[j] = x[token of slots[j]] for the m rows of one expert.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    gather_slot_rows_kernel(const float* x, const std::int32_t* slots, int n_used, std::int64_t len, float* out) {
    const std::int64_t j = blockIdx.x;
    const std::int64_t t = slots[j] / n_used;
    for (std::int64_t i = threadIdx.x; i < len; i += Threads) out[j * len + i] = x[t * len + i];
}

// ye[slots[j]] = y[j] * weights[slots[j]].
template <int Threads>
__global__ void __launch_bounds__(Threads)
    scatter_slot_rows_kernel(const float* y, const std::int32_t* slots, const float* weights, std::int64_t len, float* ye) {
    const std::int64_t j = blockIdx.x;
    const std::int64_t s = slots[j];
    const float w = weights[s];
    for (std::int64_t i = threadIdx.x; i < len; i += Threads) ye[s * len + i] = __fmul_rn(y[j * len + i], w);
}

// out[t] = ye[t, 0] + ye[t, 1] + ... in rank order (the CPU's order).
template <int Threads>
__global__ void __launch_bounds__(Threads) sum_slots_kernel(const float* ye, int n_used, std::int64_t len, float* out) {
    const std::int64_t t = blockIdx.x;
    const float* y = ye + t * n_used * len;
    for (std::int64_t i = threadIdx.x; i < len; i += Threads) {
        float acc = y[i];
        for (int k = 1; k < n_used; ++k) acc = __fadd_rn(acc, y[k * len + i]);
        out[t * len + i] = acc;
    }
}

inline cudaError_t gather_slot_rows(const float* x, const std::int32_t* slots, std::int64_t m, int n_used, std::int64_t len,
                                    float* out, cudaStream_t stream) {
    if (m <= 0 || len <= 0 || n_used <= 0) return m == 0 ? cudaSuccess : cudaErrorInvalidValue;
    gather_slot_rows_kernel<moe_rows_threads><<<unsigned(m), moe_rows_threads, 0, stream>>>(x, slots, n_used, len, out);
    return cudaGetLastError();
}

inline cudaError_t scatter_slot_rows(const float* y, const std::int32_t* slots, const float* weights, std::int64_t m,
                                     std::int64_t len, float* ye, cudaStream_t stream) {
    if (m <= 0 || len <= 0) return m == 0 ? cudaSuccess : cudaErrorInvalidValue;
    scatter_slot_rows_kernel<moe_rows_threads><<<unsigned(m), moe_rows_threads, 0, stream>>>(y, slots, weights, len, ye);
    return cudaGetLastError();
}

inline cudaError_t sum_slots(const float* ye, std::int64_t n_tokens, int n_used, std::int64_t len, float* out,
                             cudaStream_t stream) {
    if (n_tokens <= 0 || len <= 0 || n_used <= 0) return n_tokens == 0 ? cudaSuccess : cudaErrorInvalidValue;
    sum_slots_kernel<moe_rows_threads><<<unsigned(n_tokens), moe_rows_threads, 0, stream>>>(ye, n_used, len, out);
    return cudaGetLastError();
}

}  // namespace kernels
STRATA_NAMESPACE_END
