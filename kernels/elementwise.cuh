// kernels/elementwise.cuh — the element-wise and normalisation ops of a decode step on the
// device, mirroring backend/cpu/ops.hpp op for op (same names, same rounding points: the
// comments there say why each rounds where it does).
//
// Where the CPU rounds every multiply and add apart (it builds with -ffp-contract=off) these
// kernels use the __f*_rn intrinsics, which nvcc never fuses into an FMA; what still differs
// is the device's expf/tanhf/sincosf (within 2 ulp) and the order of rms_norm's double sum.
// Outputs may alias inputs (y == x runs in place, as the CPU ops do).
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "kernels/warp.cuh"
#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

inline constexpr int elementwise_threads = 256;
inline constexpr int rms_norm_threads = 256;  // one thread block per row of n (n: 512 - 8192)
inline constexpr int rope_threads = 64;       // one thread block per head vector, a thread per pair
inline constexpr int get_rows_threads = 128;  // one thread block per token, a thread per quant block

namespace detail {

inline unsigned elementwise_grid(std::int64_t n) {
    const std::int64_t g = (n + elementwise_threads - 1) / elementwise_threads;
    return static_cast<unsigned>(g < 65536 ? g : 65536);  // grid-stride beyond
}

__device__ inline float round_fp16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

// ops.hpp's gelu_tanh, each operation rounded in the CPU's order.
__device__ inline float gelu_tanh(float x) {
    constexpr float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
    constexpr float coef_a = 0.044715f;
    const float inner = __fadd_rn(1.0f, __fmul_rn(__fmul_rn(coef_a, x), x));
    const float t = tanhf(__fmul_rn(__fmul_rn(sqrt_2_over_pi, x), inner));
    return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, t));
}

// ops.hpp's geglu activation: ggml's fp16 GELU table (fp16 input, fp16 result), the unrounded
// x beyond ±10. Computed rather than looked up: the same values, without a 128 KB table.
__device__ inline float gelu_tanh_fp16(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    const float h = round_fp16(x);  // the table's index
    if (h <= -10.0f) return 0.0f;   // what the table holds at ±10
    if (h >= 10.0f) return h;
    return round_fp16(gelu_tanh(h));
}

}  // namespace detail

// ---- rms_norm --------------------------------------------------------------------------------
// y = x / sqrt(mean(x^2) + eps) * w per row (w may be null); the sum of squares in double.

template <int Threads>
__global__ void __launch_bounds__(Threads)
    rms_norm_kernel(const float* x, const float* __restrict__ w, float* y, std::int64_t n, float eps) {
    const float* xr = x + std::int64_t(blockIdx.x) * n;
    float* yr = y + std::int64_t(blockIdx.x) * n;
    double sum = 0.0;
    for (std::int64_t i = threadIdx.x; i < n; i += Threads) sum += double(__fmul_rn(xr[i], xr[i]));
    __shared__ double part[Threads / detail::warp_size];
    sum = detail::warp_sum(sum);
    if (threadIdx.x % detail::warp_size == 0) part[threadIdx.x / detail::warp_size] = sum;
    __syncthreads();
    sum = 0.0;
    for (int i = 0; i < Threads / detail::warp_size; ++i) sum += part[i];  // every thread, same order
    const float scale = 1.0f / sqrtf(float(sum / double(n)) + eps);
    for (std::int64_t i = threadIdx.x; i < n; i += Threads)
        yr[i] = w ? __fmul_rn(__fmul_rn(xr[i], scale), w[i]) : __fmul_rn(xr[i], scale);
}

inline cudaError_t rms_norm(const float* x, const float* w, float* y, std::int64_t n_tokens, std::int64_t n, float eps,
                            cudaStream_t stream) {
    if (n_tokens < 0 || n <= 0) return cudaErrorInvalidValue;
    if (n_tokens == 0) return cudaSuccess;
    rms_norm_kernel<rms_norm_threads><<<static_cast<unsigned>(n_tokens), rms_norm_threads, 0, stream>>>(x, w, y, n, eps);
    return cudaGetLastError();
}

// ---- rope ------------------------------------------------------------------------------------
// ops.hpp's rope over n_tokens x n_heads head vectors of head_dim (the first n_rot rotated, the
// rest copied when y != x); token t is at position pos[t] (device memory). Pair i's angle is
// pos * theta_scale^i, the power by repeated products as the CPU builds it.

struct rope_args {
    std::int64_t n_rot = 0;
    float theta_scale = 1.0f;             // base^(-2 / n_rot), computed on the host (as the CPU's std::pow)
    float freq_scale = 1.0f;
    const float* freq_factors = nullptr;  // n_rot / 2 divisors in device memory, or null
    bool neox = false;
};

template <int Threads>
__global__ void __launch_bounds__(Threads)
    rope_kernel(const float* x, float* y, std::int64_t n_heads, std::int64_t head_dim, const std::int32_t* __restrict__ pos,
                rope_args ra) {
    const std::int64_t row = blockIdx.x;  // token * n_heads + head
    const float* xr = x + row * head_dim;
    float* yr = y + row * head_dim;
    const std::int64_t half = ra.n_rot / 2;
    const float p = float(std::int64_t(pos[row / n_heads]));
    for (std::int64_t i = threadIdx.x; i < half; i += Threads) {
        float theta = p;
        for (std::int64_t j = 0; j < i; ++j) theta = __fmul_rn(theta, ra.theta_scale);
        const float ff = ra.freq_factors ? ra.freq_factors[i] : 1.0f;
        const float angle = __fmul_rn(ra.freq_scale, __fdiv_rn(theta, ff));
        float s, c;
        sincosf(angle, &s, &c);
        const std::int64_t a = ra.neox ? i : 2 * i;
        const std::int64_t b = ra.neox ? i + half : 2 * i + 1;
        const float x0 = xr[a], x1 = xr[b];
        yr[a] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
        yr[b] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
    }
    if (y != x)
        for (std::int64_t i = ra.n_rot + threadIdx.x; i < head_dim; i += Threads) yr[i] = xr[i];
}

// base: the CPU's rope_params::base; the launcher turns it into theta_scale with the host's
// std::pow, so both backends start from the same float.
inline cudaError_t rope(const float* x, float* y, std::int64_t n_tokens, std::int64_t n_heads, std::int64_t head_dim,
                        const std::int32_t* pos, std::int64_t n_rot, float base, float freq_scale,
                        const float* freq_factors, bool neox, cudaStream_t stream) {
    if (n_tokens < 0 || n_heads <= 0 || n_rot < 0 || n_rot % 2 != 0 || n_rot > head_dim) return cudaErrorInvalidValue;
    if (n_tokens == 0) return cudaSuccess;
    rope_args ra;
    ra.n_rot = n_rot;
    ra.theta_scale = n_rot > 0 ? std::pow(base, -2.0f / float(n_rot)) : 1.0f;
    ra.freq_scale = freq_scale;
    ra.freq_factors = freq_factors;
    ra.neox = neox;
    rope_kernel<rope_threads><<<static_cast<unsigned>(n_tokens * n_heads), rope_threads, 0, stream>>>(x, y, n_heads, head_dim, pos, ra);
    return cudaGetLastError();
}

// ---- gated activations, softcap, add, scale (n values, flat) -------------------------------
// One map kernel over a closed set of ops (each a small struct, so the kernel is a template:
// a header's non-template __global__ function would be defined in every TU that includes it).

namespace detail {

struct swiglu_op {  // SwiGLU: y = g * sigmoid(g) * u
    __device__ float operator()(float g, float u) const { return __fmul_rn(__fdiv_rn(g, 1.0f + expf(-g)), u); }
};
struct geglu_op {  // GEGLU: y = gelu_tanh(g) * u with ggml's fp16 rounding (ops.hpp's geglu)
    __device__ float operator()(float g, float u) const { return __fmul_rn(gelu_tanh_fp16(g), u); }
};
struct add_op {
    __device__ float operator()(float a, float b) const { return __fadd_rn(a, b); }
};
struct softcap_op {  // c * tanh(x / c), by the reciprocal as ggml scales
    float inv, c;
    __device__ float operator()(float x, float) const { return __fmul_rn(tanhf(__fmul_rn(x, inv)), c); }
};
struct scale_op {
    float s;
    __device__ float operator()(float x, float) const { return __fmul_rn(x, s); }
};

}  // namespace detail

// y[i] = op(a[i], b[i]) (b may be null for the unary ops).
template <class Op>
__global__ void __launch_bounds__(elementwise_threads)
    map_kernel(const float* a, const float* b, float* y, std::int64_t n, Op op) {
    for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x)
        y[i] = op(a[i], b ? b[i] : 0.0f);
}

namespace detail {
template <class Op>
cudaError_t map(const float* a, const float* b, float* y, std::int64_t n, Op op, cudaStream_t stream) {
    if (n <= 0) return n == 0 ? cudaSuccess : cudaErrorInvalidValue;
    map_kernel<Op><<<elementwise_grid(n), elementwise_threads, 0, stream>>>(a, b, y, n, op);
    return cudaGetLastError();
}
}  // namespace detail

inline cudaError_t swiglu(const float* g, const float* u, float* y, std::int64_t n, cudaStream_t stream) {
    return detail::map(g, u, y, n, detail::swiglu_op{}, stream);
}

inline cudaError_t geglu(const float* g, const float* u, float* y, std::int64_t n, cudaStream_t stream) {
    return detail::map(g, u, y, n, detail::geglu_op{}, stream);
}

inline cudaError_t softcap(const float* x, float* y, std::int64_t n, float c, cudaStream_t stream) {
    return detail::map(x, nullptr, y, n, detail::softcap_op{1.0f / c, c}, stream);
}

// y = a + b (the CPU's add(y, x) is y = y + x: pass y as a).
inline cudaError_t add(const float* a, const float* b, float* y, std::int64_t n, cudaStream_t stream) {
    return detail::map(a, b, y, n, detail::add_op{}, stream);
}

inline cudaError_t scale(const float* x, float* y, std::int64_t n, float s, cudaStream_t stream) {
    return detail::map(x, nullptr, y, n, detail::scale_op{s}, stream);
}

// ---- embedding rows ----------------------------------------------------------------------------
// out[t] = dequantized row ids[t] of a table of rows of k values in format F (row r at
// table + r * row_bytes); ids in device memory.

template <quant_format F>
__global__ void __launch_bounds__(get_rows_threads)
    get_rows_kernel(const std::byte* __restrict__ table, std::size_t row_bytes, const std::int32_t* __restrict__ ids,
                    std::int64_t k, float* __restrict__ out) {
    const std::int64_t t = blockIdx.x;
    const auto* row = reinterpret_cast<const typename F::block*>(table + static_cast<std::size_t>(ids[t]) * row_bytes);
    float* o = out + t * k;
    const std::int64_t nb = k / F::block_elems;
    for (std::int64_t b = threadIdx.x; b < nb; b += get_rows_threads) F::dequantize(row[b], o + b * F::block_elems);
}

template <quant_format F>
cudaError_t get_rows(const void* table, std::size_t row_bytes, const std::int32_t* ids, std::int64_t n_tokens,
                     std::int64_t k, float* out, cudaStream_t stream) {
    if (n_tokens < 0 || k < 0 || k % F::block_elems != 0) return cudaErrorInvalidValue;
    if (row_bytes % alignof(typename F::block) != 0) return cudaErrorInvalidValue;
    if (n_tokens == 0 || k == 0) return cudaSuccess;
    get_rows_kernel<F><<<static_cast<unsigned>(n_tokens), get_rows_threads, 0, stream>>>(
        static_cast<const std::byte*>(table), row_bytes, ids, k, out);
    return cudaGetLastError();
}

// ---- layer_norm -------------------------------------------------------------------------------
// ops.hpp's layer_norm per row: y = (x - mean) / sqrt(var + eps) * w + b (w, b may be null),
// one thread block per row. Mean and variance are summed in double like the CPU's, in another
// order (lane partials, then warps): the float mean and scale they round to agree with the CPU's
// but for a rare last-bit tie. Every read of the row precedes the barriers before the first
// write, so y == x runs in place.

inline constexpr int layer_norm_threads = 256;  // n: 384 - 1024 for the bert encoders

namespace detail {
// The block's total of one double per thread, in every thread (the same order in each).
template <int Threads>
__device__ inline double block_sum_f64(double v, double* part) {
    v = warp_sum(v);
    if (threadIdx.x % warp_size == 0) part[threadIdx.x / warp_size] = v;
    __syncthreads();
    v = 0.0;
    for (int i = 0; i < Threads / warp_size; ++i) v += part[i];
    return v;
}
}  // namespace detail

template <int Threads>
__global__ void __launch_bounds__(Threads)
    layer_norm_kernel(const float* x, const float* __restrict__ w, const float* __restrict__ b, float* y, std::int64_t n,
                      float eps) {
    const float* xr = x + std::int64_t(blockIdx.x) * n;
    float* yr = y + std::int64_t(blockIdx.x) * n;
    __shared__ double part_sum[Threads / detail::warp_size];  // two arrays: no barrier between the sums
    __shared__ double part_var[Threads / detail::warp_size];
    double sum = 0.0;
    for (std::int64_t i = threadIdx.x; i < n; i += Threads) sum += double(xr[i]);
    const float mean = float(detail::block_sum_f64<Threads>(sum, part_sum) / double(n));
    double var = 0.0;
    for (std::int64_t i = threadIdx.x; i < n; i += Threads) {
        const double d = double(__fsub_rn(xr[i], mean));
        var += d * d;
    }
    var = detail::block_sum_f64<Threads>(var, part_var);
    const float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(float(var / double(n)), eps)));
    for (std::int64_t i = threadIdx.x; i < n; i += Threads) {
        float v = __fmul_rn(__fsub_rn(xr[i], mean), scale);
        if (w) v = __fmul_rn(v, w[i]);
        if (b) v = __fadd_rn(v, b[i]);
        yr[i] = v;
    }
}

inline cudaError_t layer_norm(const float* x, const float* w, const float* b, float* y, std::int64_t n_tokens, std::int64_t n,
                              float eps, cudaStream_t stream) {
    if (n_tokens < 0 || n <= 0) return cudaErrorInvalidValue;
    if (n_tokens == 0) return cudaSuccess;
    layer_norm_kernel<layer_norm_threads>
        <<<static_cast<unsigned>(n_tokens), layer_norm_threads, 0, stream>>>(x, w, b, y, n, eps);
    return cudaGetLastError();
}

// ---- swiglu_oai ------------------------------------------------------------------------------
// ops.hpp's swiglu_oai (gpt-oss): g' = min(g, limit), u' = clamp(u, -limit, limit),
// y = g' * sigmoid(alpha * g') * (u' + 1), the clamps as the CPU compares (a NaN passes).

namespace detail {
struct swiglu_oai_op {
    float alpha, limit;
    __device__ float operator()(float g, float u) const {
        const float x = g > limit ? limit : g;
        const float l = u > limit ? limit : u < -limit ? -limit : u;
        const float s = __fdiv_rn(x, __fadd_rn(1.0f, expf(__fmul_rn(-alpha, x))));
        return __fmul_rn(s, __fadd_rn(l, 1.0f));
    }
};
}  // namespace detail

inline cudaError_t swiglu_oai(const float* g, const float* u, float* y, std::int64_t n, float alpha, float limit,
                              cudaStream_t stream) {
    return detail::map(g, u, y, n, detail::swiglu_oai_op{alpha, limit}, stream);
}

}  // namespace kernels
STRATA_NAMESPACE_END
