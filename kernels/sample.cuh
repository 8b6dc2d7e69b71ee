// kernels/sample.cuh — the device side of the sampler (backend/cuda/sampler.hpp).
//
// One sample is: a copy of the logits (which the penalties may change; a NaN is flagged),
// the penalties over the window's distinct tokens, then CUB (an arg-max, or a sort of
// (logit, id) pairs) and one single-block kernel that runs top_p / min_p / temperature / dist
// on what CUB left. The arithmetic and the order of every sum are those of
// strata/sample/device_chain.hpp (see there for what matches the CPU bit for bit and what not).
//
// Included only by nvcc translation units (under __CUDACC__).
#pragma once

#include <cstdint>
#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>

#include "strata/core/config.hpp"
#include "strata/sample/device_chain.hpp"

STRATA_NAMESPACE_BEGIN
namespace kernels {

// The finishing kernels run as one block of this many threads.
inline constexpr int sample_threads = 512;

namespace sample_detail {

namespace dc = sample::device_chain;

// The sum of value(i) over i < m, in every thread: serially in index order (the CPU's order)
// when m <= serial_max, else a block-wide tree.
template <int Threads, class Acc, class Value>
__device__ Acc block_total(std::int32_t m, Value value) {
    using reduce = cub::BlockReduce<Acc, Threads>;
    __shared__ typename reduce::TempStorage tmp;
    __shared__ Acc total;
    if (m <= std::int32_t(dc::serial_max)) {
        if (threadIdx.x == 0) {
            Acc s = Acc(0);
            for (std::int32_t i = 0; i < m; ++i) s += value(i);
            total = s;
        }
    } else {
        Acc s = Acc(0);
        for (std::int32_t i = std::int32_t(threadIdx.x); i < m; i += Threads) s += value(i);
        const Acc t = reduce(tmp).Sum(s);
        if (threadIdx.x == 0) total = t;
    }
    __syncthreads();
    return total;
}

// The first i < m at which stop(i, run) holds, run being the running sum of value(0..i);
// -1 if none. Thread 0 walks serially (the CPU's order) through every chunk of Threads entries
// whose tree sum could reach threshold (with a margin wider than any rounding difference of a
// chunk); the other chunks are skipped by their tree sum. A set of up to serial_max entries is
// walked whole, so its running sum is exactly the CPU's.
template <int Threads, class Acc, class Value, class Stop>
__device__ std::int32_t block_walk(std::int32_t m, Acc threshold, Value value, Stop stop) {
    using reduce = cub::BlockReduce<Acc, Threads>;
    __shared__ typename reduce::TempStorage tmp;
    __shared__ std::int32_t found;
    __shared__ Acc run;
    if (threadIdx.x == 0) {
        found = -1;
        run = Acc(0);
    }
    __syncthreads();
    for (std::int32_t base = 0; base < m; base += Threads) {
        const std::int32_t i = base + std::int32_t(threadIdx.x);
        const Acc chunk = reduce(tmp).Sum(i < m ? value(i) : Acc(0));
        if (threadIdx.x == 0) {
            Acc r = run;
            const std::int32_t end = m < base + Threads ? m : base + Threads;
            if (m <= std::int32_t(dc::serial_max) || r + chunk * Acc(1.001) >= threshold) {
                for (std::int32_t j = base; j < end; ++j) {
                    r += value(j);
                    if (stop(j, r)) {
                        found = j;
                        break;
                    }
                }
            } else {
                r += chunk;
            }
            run = r;
        }
        __syncthreads();
        if (found >= 0) break;
    }
    return found;
}

}  // namespace sample_detail

// keys = logits, a copy the penalties change; out->nan is set when a logit is NaN (the caller
// cleared it before).
// (a template: a header's plain __global__ function would be defined in every TU)
template <int = 0>
__global__ void sample_copy(const float* __restrict__ logits, float* __restrict__ keys, std::int64_t n,
                            sample::device_chain::result_slots* out) {
    const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
    for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float v = logits[i];
        keys[i] = v;
        if (v != v) atomicOr(&out->nan, 1);
    }
}

// ids[i] = i: the values the sort carries with the keys (written once).
// (a template: a header's plain __global__ function would be defined in every TU)
template <int = 0>
__global__ void sample_iota(std::int32_t* ids, std::int64_t n) {
    const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
    for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        ids[i] = std::int32_t(i);
}

// The penalties on the window's distinct tokens: a->window of them (ids in range, counts > 0),
// ids at window[0..cap), counts at window[cap..2 cap). One block of any size: the window is
// small, and a fixed launch is what a CUDA graph can replay.
// (a template: a header's plain __global__ function would be defined in every TU)
template <int = 0>
__global__ void sample_penalise(float* keys, const sample::device_chain::launch_args* a,
                                const std::int32_t* __restrict__ window, std::int32_t cap) {
    const std::int32_t k = a->window;
    const float repeat = a->repeat, frequency = a->frequency, presence = a->presence;
    for (std::int32_t i = std::int32_t(threadIdx.x); i < k; i += std::int32_t(blockDim.x)) {
        float& l = keys[window[i]];
        l = sample::device_chain::penalised(l, window[cap + i], repeat, frequency, presence);
    }
}

// The sorted layout: l and ids the best-first (logit, id) pairs, a->m >= 1 of them after top_k.
// scratch: m floats, used when m > serial_max. Writes out->id and out->drew.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    sample_finish_sorted(const float* __restrict__ l, const std::int32_t* __restrict__ ids,
                         const sample::device_chain::launch_args* a, float* scratch,
                         sample::device_chain::result_slots* out) {
    namespace dc = sample::device_chain;
    const dc::finish_args f = a->f;
    std::int32_t m = a->m;
    // a set of up to serial_max (top_k 40, say) lives in shared memory: thread 0's serial scans
    // then read at shared latency, not global
    __shared__ float small[dc::serial_max];
    float* const e = m <= std::int32_t(dc::serial_max) ? small : scratch;
    const std::int32_t tid = std::int32_t(threadIdx.x);
    const std::int32_t min_keep = f.min_keep > 0 ? f.min_keep : 0;
    if (f.use_top_p) {
        const float top = l[0];
        for (std::int32_t i = tid; i < m; i += Threads) e[i] = dc::exp_rounded(l[i] - top);
        __syncthreads();
        const float sum = sample_detail::block_total<Threads, float>(m, [=](std::int32_t i) { return e[i]; });
        const float top_p = f.top_p;
        const std::int32_t at = sample_detail::block_walk<Threads, float>(
            m, top_p, [=](std::int32_t i) { return e[i] / sum; },
            [=](std::int32_t i, float cum) { return cum >= top_p && i + 1 >= min_keep; });
        if (at >= 0) m = at + 1;
    }
    if (f.use_min_p) m = std::int32_t(dc::min_p_keep(l, std::size_t(m), f.log_min_p, std::size_t(min_keep)));
    if (m == 1 || f.temperature <= 0.0f) {  // the best; dist draws unless it is alone
        if (tid == 0) {
            out->id = ids[0];
            out->drew = m > 1;
        }
        return;
    }
    const float t = f.temperature, max_t = l[0] / t;
    __syncthreads();  // e is rewritten
    for (std::int32_t i = tid; i < m; i += Threads) e[i] = dc::exp_rounded(l[i] / t - max_t);
    __syncthreads();
    const double target =
        sample_detail::block_total<Threads, double>(m, [=](std::int32_t i) { return double(e[i]); }) * f.u;
    std::int32_t at = sample_detail::block_walk<Threads, double>(
        m, target, [=](std::int32_t i) { return double(e[i]); },
        [=](std::int32_t i, double run) { return run >= target && e[i] > 0.0f; });
    if (tid == 0) {
        out->id = ids[at >= 0 ? at : m - 1];
        out->drew = 1;
    }
}

// The id-order layout: l all n penalised logits; out->max and out->best from the arg-max that
// ran before. e: scratch for n floats. Writes out->id and out->drew.
template <int Threads>
__global__ void __launch_bounds__(Threads)
    sample_finish_id_order(const float* __restrict__ l, std::int32_t n, const sample::device_chain::launch_args* a,
                           float* e, sample::device_chain::result_slots* out) {
    namespace dc = sample::device_chain;
    const dc::finish_args f = a->f;
    const std::int32_t tid = std::int32_t(threadIdx.x);
    const float max_logit = out->max;
    const auto best = std::int32_t(out->best);
    const std::int32_t kept = sample_detail::block_total<Threads, std::int32_t>(
        n, [=](std::int32_t i) { return std::int32_t(dc::min_p_passes(l[i], max_logit, f)); });
    if (kept == 1 || f.temperature <= 0.0f) {
        if (tid == 0) {
            out->id = best;
            out->drew = kept > 1;
        }
        return;
    }
    const float t = f.temperature, max_t = max_logit / t;
    for (std::int32_t i = tid; i < n; i += Threads)
        e[i] = dc::min_p_passes(l[i], max_logit, f) ? dc::exp_rounded(l[i] / t - max_t) : 0.0f;
    __syncthreads();
    const double target =
        sample_detail::block_total<Threads, double>(n, [=](std::int32_t i) { return double(e[i]); }) * f.u;
    std::int32_t at = sample_detail::block_walk<Threads, double>(
        n, target, [=](std::int32_t i) { return double(e[i]); },
        [=](std::int32_t i, double run) { return run >= target && e[i] > 0.0f; });
    if (tid == 0) {
        if (at < 0)  // only through rounding: the last kept entry, as the CPU
            for (at = n - 1; at > 0 && !(e[at] > 0.0f); --at) {}
        out->id = at;
        out->drew = 1;
    }
}

}  // namespace kernels
STRATA_NAMESPACE_END
