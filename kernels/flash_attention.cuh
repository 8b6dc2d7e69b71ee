// kernels/flash_attention.cuh — flash attention on the device (backend/cuda/flash_attention.hpp
// holds the contract, the plan, the per-tile math and its host emulation).
//
//   fa_tile_kernel: grid (query tiles, KV heads, key splits), fa_warps warps. The block rounds
//     its q_tile queries (token-major, then the KV head's group of heads) into shared memory,
//     then walks its split's keys in tiles of 32: K widened to float in shared memory (rows
//     padded by one float: lane j reads row j without bank conflicts), lane j scores key j for
//     each of its warp's `Rows` queries, the tile step of the online softmax, then V over K's
//     space, each lane accumulating head_dim_v / 32 values. One split writes the output; more
//     write partial states (m, l, acc) to scratch for
//   fa_combine_kernel: a warp per (token, head) folds the splits in order, then the sink.
// Decode (up to fa_decode_max_tokens tokens) runs a query per warp and as many splits as fill
// the GPU (the plan). Causal blocks read the number of keys from the device positions
// (keys 0 .. pos[last token]): a captured decode step replays right after pos[] changes.
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

#include "kernels/warp.cuh"
#include "strata/backend/cuda/flash_attention.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {
namespace detail {

struct fa_args {
    const float* q;
    std::int64_t n_tokens;
    const std::int32_t* pos;
    std::int64_t kv_len_max;
    cuda::fa_kv kv;
    cuda::fa_params p;
    const float* sinks;
    float* out;
    float* partial;  // null with one split
    std::int64_t n_splits, split_keys;
};

// Keys k0 .. k0 + 31 (those below k_end; zeros beyond) of one KV head's slice, dim values each,
// widened into rows `stride` floats apart: F16 eight values per thread (one 16-byte load) where
// the rows are 16-byte aligned, else one; Q8_0 a block per thread (the format's dequantize).
template <ggml_type T>
__device__ inline void fa_load_tile(const std::byte* base, std::size_t row_bytes, std::int64_t first, int dim,
                                    std::int64_t k0, std::int64_t k_end, float* tile, int stride) {
    constexpr int threads = cuda::fa_warps * warp_size;
    if constexpr (T == ggml_type::q8_0) {
        const int nb = dim / 32;
        for (int i = threadIdx.x; i < cuda::fa_tile_keys * nb; i += threads) {
            const int j = i / nb, b = i % nb;
            float* dst = tile + j * stride + b * 32;
            if (k0 + j < k_end) {
                const auto* row = reinterpret_cast<const q8_0::block*>(base + std::size_t(k0 + j) * row_bytes);
                q8_0::dequantize(row[first / 32 + b], dst);
            } else {
                for (int e = 0; e < 32; ++e) dst[e] = 0.0f;
            }
        }
    } else if (((reinterpret_cast<std::uintptr_t>(base) | row_bytes) & 15) == 0) {
        // 16-byte loads, 8 values each (head slices start at multiples of 32 values)
        const int per_row = dim / 8;
        for (int i = threadIdx.x; i < cuda::fa_tile_keys * per_row; i += threads) {
            const int j = i / per_row, d = (i % per_row) * 8;
            float* dst = tile + j * stride + d;
            if (k0 + j < k_end) {
                const uint4 u = *reinterpret_cast<const uint4*>(base + std::size_t(k0 + j) * row_bytes + std::size_t(first + d) * 2);
                const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    dst[2 * e] = fp16_to_fp32(std::uint16_t(w[e] & 0xffffu));
                    dst[2 * e + 1] = fp16_to_fp32(std::uint16_t(w[e] >> 16));
                }
            } else {
#pragma unroll
                for (int e = 0; e < 8; ++e) dst[e] = 0.0f;
            }
        }
    } else {
        for (int i = threadIdx.x; i < cuda::fa_tile_keys * dim; i += threads) {
            const int j = i / dim, d = i % dim;
            float x = 0.0f;
            if (k0 + j < k_end) x = fp16_to_fp32(reinterpret_cast<const std::uint16_t*>(base + std::size_t(k0 + j) * row_bytes)[first + d]);
            tile[j * stride + d] = x;
        }
    }
}

// The end of a state (m, l, this lane's accumulator values): the sink joins as a state of
// weight exp(sink) with no value, then out = acc / l.
template <int Chunks>
__device__ inline void fa_finish(float m, float l, const float (&acc)[Chunks], const float* sink, int dv, float* out) {
    const int lane = threadIdx.x % warp_size;
    float wa = 1.0f;
    if (sink != nullptr) {
        const cuda::fa_merge mw = cuda::fa_merge_weights(m, *sink);
        l = cuda::fa_merged(l, mw.wa, 1.0f, mw.wb);
        wa = mw.wa;
    }
    const float inv = cuda::fa_inverse_sum(l);
#pragma unroll
    for (int c = 0; c < Chunks; ++c) {
        if (c * 32 >= dv) break;
        const float a = sink != nullptr ? cuda::fa_merged(acc[c], wa, 0.0f, 1.0f) : acc[c];
        out[c * 32 + lane] = cuda::fa_mul(a, inv);
    }
}

template <ggml_type T, int Chunks, int Rows>
__global__ void __launch_bounds__(cuda::fa_warps * warp_size) fa_tile_kernel(fa_args a) {
    constexpr int D = Chunks * 32, stride = D + 1, Q = cuda::fa_warps * Rows;
    __shared__ float tile[cuda::fa_tile_keys * stride];
    __shared__ float q_s[Q * D];
    const int lane = threadIdx.x % warp_size, warp = threadIdx.x / warp_size;
    const cuda::fa_params& p = a.p;
    const int dk = int(p.head_dim_k), dv = int(p.head_dim_v);
    const std::int64_t group = p.n_head / p.n_head_kv, kvh = blockIdx.y, split = blockIdx.z;
    const std::int64_t n_q = a.n_tokens * group, q0 = std::int64_t(blockIdx.x) * Q;
    const std::int64_t q_last = q0 + Q - 1 < n_q - 1 ? q0 + Q - 1 : n_q - 1;

    // The block's queries, rounded to K's type (zeros past the last).
    for (int i = threadIdx.x; i < Q * (dk / 32); i += cuda::fa_warps * warp_size) {
        const int r = i / (dk / 32), b = i % (dk / 32);
        const std::int64_t qi = q0 + r;
        float* dst = q_s + r * D + b * 32;
        if (qi < n_q) {
            const std::int64_t t = qi / group, h = kvh * group + qi % group;
            cuda::fa_round_q_block(T, a.q + (t * p.n_head + h) * dk + b * 32, dst);
        } else {
            for (int e = 0; e < 32; ++e) dst[e] = 0.0f;
        }
    }

    // Keys: this split's, up to the last token's position (causal, from the device) and from the
    // tile that holds the first token's window start.
    std::int64_t kv_end = a.kv_len_max, lo = 0;
    if (p.causal) {
        const std::int64_t last = std::int64_t(a.pos[q_last / group]) + 1;
        kv_end = last < kv_end ? last : kv_end;
        if (p.n_swa > 0) {
            const std::int64_t w = std::int64_t(a.pos[q0 / group]) - p.n_swa + 1;
            lo = w > 0 ? w / cuda::fa_tile_keys * cuda::fa_tile_keys : 0;
        }
    }
    const std::int64_t k_begin = split * a.split_keys;
    const std::int64_t k_end = k_begin + a.split_keys < kv_end ? k_begin + a.split_keys : kv_end;

    float m[Rows], l[Rows], acc[Rows][Chunks];
    std::int64_t qpos[Rows];
#pragma unroll
    for (int r = 0; r < Rows; ++r) {
        m[r] = -INFINITY, l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < Chunks; ++c) acc[r][c] = 0.0f;
        const std::int64_t qi = q0 + warp * Rows + r;
        qpos[r] = p.causal ? std::int64_t(a.pos[(qi < n_q ? qi : n_q - 1) / group]) : 0;
    }

    for (std::int64_t k0 = k_begin > lo ? k_begin : lo; k0 < k_end; k0 += cuda::fa_tile_keys) {
        __syncthreads();  // the queries are in; the last tile's V is read
        fa_load_tile<T>(a.kv.k, a.kv.row_k_bytes, kvh * dk, dk, k0, k_end, tile, stride);
        __syncthreads();
        const std::int64_t key = k0 + lane;
        float dot[Rows];
#pragma unroll
        for (int r = 0; r < Rows; ++r) dot[r] = 0.0f;
        const float* kr = tile + lane * stride;
#pragma unroll 4
        for (int d = 0; d < dk; ++d) {
            const float k = kr[d];
#pragma unroll
            for (int r = 0; r < Rows; ++r) dot[r] = cuda::fa_fma(q_s[(warp * Rows + r) * D + d], k, dot[r]);
        }
        float pv[Rows];
#pragma unroll
        for (int r = 0; r < Rows; ++r) {
            const float s = key < k_end && cuda::fa_visible(key, qpos[r], p) ? cuda::fa_score(dot[r], p) : -INFINITY;
            const cuda::fa_step st = cuda::fa_advance(m[r], warp_max(s));
            const float w = cuda::fa_weight(s, st.m);
            l[r] = cuda::fa_running_sum(l[r], st.alpha, warp_sum(w));
            m[r] = st.m;
#pragma unroll
            for (int c = 0; c < Chunks; ++c) acc[r][c] = cuda::fa_mul(acc[r][c], st.alpha);
            pv[r] = cuda::fa_value_weight(T, w);
        }
        __syncthreads();  // every lane has read K
        fa_load_tile<T>(a.kv.v, a.kv.row_v_bytes, kvh * dv, dv, k0, k_end, tile, stride);
        __syncthreads();
        for (int j = 0; j < cuda::fa_tile_keys; ++j) {
            const float* vr = tile + j * stride + lane;
#pragma unroll
            for (int r = 0; r < Rows; ++r) {
                const float w = __shfl_sync(full_mask, pv[r], j);
#pragma unroll
                for (int c = 0; c < Chunks; ++c)
                    if (c * 32 < dv) acc[r][c] = cuda::fa_fma(w, vr[c * 32], acc[r][c]);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < Rows; ++r) {
        const std::int64_t qi = q0 + warp * Rows + r;
        if (qi >= n_q) break;
        const std::int64_t t = qi / group, h = kvh * group + qi % group;
        if (a.partial == nullptr) {
            fa_finish<Chunks>(m[r], l[r], acc[r], a.sinks != nullptr ? a.sinks + h : nullptr, dv,
                              a.out + (t * p.n_head + h) * dv);
            continue;
        }
        float* st = a.partial + ((split * a.n_tokens + t) * p.n_head + h) * (dv + 2);
        if (lane == 0) st[0] = m[r], st[1] = l[r];
#pragma unroll
        for (int c = 0; c < Chunks; ++c)
            if (c * 32 < dv) st[2 + c * 32 + lane] = acc[r][c];
    }
}

// A warp per (token, head): the partial states of every split in split order, then the sink.
template <int Chunks>
__global__ void __launch_bounds__(cuda::fa_warps * warp_size) fa_combine_kernel(fa_args a) {
    const int lane = threadIdx.x % warp_size;
    const std::int64_t job = std::int64_t(blockIdx.x) * cuda::fa_warps + threadIdx.x / warp_size;
    const std::int64_t n_head = a.p.n_head, dv = a.p.head_dim_v;
    if (job >= a.n_tokens * n_head) return;  // the whole warp leaves together
    float m = -INFINITY, l = 0.0f, acc[Chunks];
#pragma unroll
    for (int c = 0; c < Chunks; ++c) acc[c] = 0.0f;
    for (std::int64_t s = 0; s < a.n_splits; ++s) {
        const float* st = a.partial + (s * a.n_tokens * n_head + job) * (dv + 2);
        const cuda::fa_merge mw = cuda::fa_merge_weights(m, st[0]);
        l = cuda::fa_merged(l, mw.wa, st[1], mw.wb);
#pragma unroll
        for (int c = 0; c < Chunks; ++c)
            if (c * 32 < dv) acc[c] = cuda::fa_merged(acc[c], mw.wa, st[2 + c * 32 + lane], mw.wb);
        m = mw.m;
    }
    fa_finish<Chunks>(m, l, acc, a.sinks != nullptr ? a.sinks + job % n_head : nullptr, int(dv), a.out + job * dv);
}

template <ggml_type T, int Chunks, int Rows>
cudaError_t fa_launch(const fa_args& a, const cuda::fa_plan& pl, cudaStream_t stream) {
    const dim3 grid(unsigned(pl.n_q_tiles), unsigned(a.p.n_head_kv), unsigned(pl.n_splits));
    fa_tile_kernel<T, Chunks, Rows><<<grid, cuda::fa_warps * warp_size, 0, stream>>>(a);
    if (a.partial == nullptr) return cudaGetLastError();
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
    const std::int64_t jobs = a.n_tokens * a.p.n_head;
    fa_combine_kernel<Chunks><<<unsigned((jobs + cuda::fa_warps - 1) / cuda::fa_warps), cuda::fa_warps * warp_size, 0, stream>>>(a);
    return cudaGetLastError();
}

template <ggml_type T, int Chunks>
cudaError_t fa_launch_rows(const fa_args& a, const cuda::fa_plan& pl, cudaStream_t stream) {
    if (pl.rows == 1) return fa_launch<T, Chunks, 1>(a, pl, stream);
    if constexpr (Chunks == 8) return fa_launch<T, Chunks, 2>(a, pl, stream);
    else return fa_launch<T, Chunks, 4>(a, pl, stream);
}

template <ggml_type T>
cudaError_t fa_launch_type(const fa_args& a, const cuda::fa_plan& pl, cudaStream_t stream) {
    if (pl.chunks == 2) return fa_launch_rows<T, 2>(a, pl, stream);
    if (pl.chunks == 4) return fa_launch_rows<T, 4>(a, pl, stream);
    return fa_launch_rows<T, 8>(a, pl, stream);
}

}  // namespace detail

// out = attention of n_tokens queries (q, out: device) at device positions pos (null allowed
// when not causal) against kv (device cache rows; kv_len_max of them may be read, and a causal
// token t reads keys 0 .. pos[t] <= kv_len_max - 1); sinks: n_head device floats or null.
// scratch: flash_attention_scratch_bytes(p, n_tokens or more, kv_len_max or more) bytes.
// Asynchronous on `stream`, capturable in a graph; returns the launch error
// (cudaErrorInvalidValue for arguments the kernel does not run).
inline cudaError_t flash_attention(const float* q, std::int64_t n_tokens, const std::int32_t* pos, std::int64_t kv_len_max,
                                   const cuda::fa_kv& kv, const cuda::fa_params& p, const float* sinks, float* out,
                                   void* scratch, std::size_t scratch_bytes, cudaStream_t stream) {
    if (!cuda::flash_attention_unsupported(p, kv.type).empty() || n_tokens < 0 || kv_len_max < 0) return cudaErrorInvalidValue;
    if (n_tokens == 0) return cudaSuccess;
    if (q == nullptr || out == nullptr || kv.k == nullptr || kv.v == nullptr || (p.causal && pos == nullptr))
        return cudaErrorInvalidValue;
    const cuda::fa_plan pl = cuda::plan_flash_attention(p, n_tokens, kv_len_max);
    if (pl.n_q_tiles > 0x7fffffff || p.n_head_kv > 65535 || pl.n_splits > 65535) return cudaErrorInvalidValue;
    detail::fa_args a{q, n_tokens, pos, kv_len_max, kv, p, sinks, out, nullptr, pl.n_splits, pl.split_keys};
    if (pl.n_splits > 1) {
        if (scratch == nullptr || scratch_bytes < cuda::fa_scratch_bytes_for(p, n_tokens, kv_len_max)) return cudaErrorInvalidValue;
        a.partial = static_cast<float*>(scratch);
    }
    if (kv.type == ggml_type::q8_0) return detail::fa_launch_type<ggml_type::q8_0>(a, pl, stream);
    return detail::fa_launch_type<ggml_type::f16>(a, pl, stream);
}

}  // namespace kernels
STRATA_NAMESPACE_END
