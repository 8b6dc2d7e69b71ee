// strata/backend/cuda/sampler.hpp — sampling on the GPU: only the chosen token comes back.
//
//   cuda::device_sampler s(n_vocab, stream);              // all memory allocated here
//   if (cuda::device_supports(params)) {
//       const std::int32_t t = s.sample(d_logits, params, window, chain.get<sample::dist>());
//   }                                                     // else: copy the logits, CPU chain
//
//   s.stage(params, window, u);   // or in two parts: the host's (pinned arguments), then the
//   s.launch(d_logits);           // device's, which a CUDA graph may capture (one per path());
//   ... sync ...; s.result();     // 16 bytes come back; a drew result uses up u (commit_uniform)
//
// It reproduces sample::default_chain (penalties, top_k, top_p, min_p, temperature, dist;
// typical_p off) for the same logits, parameters and RNG state: the uniform number dist would
// draw is drawn on the host from that dist's RNG and passed to the kernel, and used up only
// when the device says a draw happened (the CPU draws nothing for a set of one). What matches
// bit for bit and what only to rounding: strata/sample/device_chain.hpp.
//
// Paths, chosen from the parameters (path_of):
//   greedy   (temperature <= 0): cub::DeviceReduce::ArgMax of the penalised logits, ties to the
//            lowest id as the CPU. The CPU chain still runs top_k/top_p/min_p and its dist draws
//            a number unless they left one token; this path does not know whether they did and
//            reports drew = (n_vocab > 1 && top_k != 1). So a fixed-seed session that switches
//            from temperature 0 to sampling may continue another random stream than the CPU's,
//            unless the sampler was made with exact_draws: then temperature <= 0 takes one of
//            the two paths below (the same token, at the cost of the sort).
//   sorted   (top_k > 0 or top_p < 1): cub::DeviceRadixSort::SortPairsDescending of (logit, id)
//            (stable: equal logits stay in id order, the CPU's ranks_before), then one block on
//            the best-first prefix of min(top_k, n_vocab) (or n_vocab) entries.
//   id order (top_k and top_p off): the arg-max for the maximum, then one block over all
//            tokens in id order, as the CPU's unsorted min_p and dist.
//
// The CUDA-free part (the path, the kernels' arguments, the window compaction, sizes) is
// tested on the CPU; the class exists only under nvcc (it launches kernels and calls CUB).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "strata/core/arena.hpp"
#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/sample/device_chain.hpp"
#include "strata/sample/dist.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/penalties.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

enum class sample_path { greedy, sorted, id_order };

// Whether the device reproduces the default chain for p; false: copy the logits back and run
// the CPU chain. typical_p is not on the device. top_p over more than serial_max candidates
// (top_k off or above it) neither: its float softmax sum would be a tree on the device, not the
// CPU's serial sum (in id order, with top_k off), and a sum ~1e-5 off moves the nucleus cut by
// a token in a few percent of draws (measured: 1 in 60 at n_vocab 32000). With top_k and top_p
// off the CPU's min_p falls back to a sort when fewer than max(1, min_keep) tokens pass
// (min_keep > 1, or min_p > 1 where none passes), which the id-order path does not do.
// exact_draws: at temperature <= 0 too, say exactly whether the CPU's dist would have drawn
// (see path_of); the temperature > 0 limits then apply to it as well.
inline bool device_supports(const sample::params& p, bool exact_draws = false) noexcept {
    if (p.typical_p < 1.0f) return false;
    if (p.temperature <= 0.0f && !exact_draws) return true;  // the arg-max
    if (p.top_p < 1.0f && (p.top_k <= 0 || std::size_t(p.top_k) > sample::device_chain::serial_max)) return false;
    if (p.top_k <= 0 && !(p.top_p < 1.0f) && p.min_p > 0.0f && (p.min_keep > 1 || p.min_p > 1.0f)) return false;
    return true;
}

// exact_draws: temperature <= 0 takes the sorted or id-order path as well, which runs top_k,
// top_p and min_p only to learn whether more than one token survived them (dist then draws).
inline sample_path path_of(const sample::params& p, bool exact_draws = false) noexcept {
    if (p.temperature <= 0.0f && !exact_draws) return sample_path::greedy;
    if (p.top_k > 0 || p.top_p < 1.0f) return sample_path::sorted;
    return sample_path::id_order;
}

// The sorted layout's set after top_k: the best min(top_k, n_vocab), or all of them.
inline std::int64_t sorted_prefix(const sample::params& p, std::int64_t n_vocab) noexcept {
    return p.top_k > 0 && std::int64_t(p.top_k) < n_vocab ? std::int64_t(p.top_k) : n_vocab;
}

// The finishing kernel's arguments; u is dist's uniform number. log(min_p) is the CPU's.
inline sample::device_chain::finish_args finish_args_of(const sample::params& p, double u) {
    sample::device_chain::finish_args f;
    f.use_top_p = p.top_p < 1.0f;
    f.top_p = p.top_p;
    f.use_min_p = p.min_p > 0.0f;
    f.log_min_p = f.use_min_p ? std::log(p.min_p) : 0.0f;
    f.temperature = p.temperature;
    f.min_keep = p.min_keep;
    f.u = u;
    return f;
}

// The penalties' view of the window: the distinct tokens among the newest
// min(repeat_last_n, h.size()) of h that are ids of the vocabulary (as the CPU skips others),
// ascending, with how often each occurs. ids and counts need room for min(repeat_last_n,
// h.size(), n_vocab) entries; scratch holds the sorted window (it grows to the window once).
// Returns how many were written.
inline std::size_t compact_window(const sample::history& h, std::int32_t repeat_last_n, std::int64_t n_vocab,
                                  std::vector<std::int32_t>& scratch, std::int32_t* ids, std::int32_t* counts) {
    const std::size_t n = std::min(std::size_t(repeat_last_n > 0 ? repeat_last_n : 0), h.size());
    scratch.resize(n);
    for (std::size_t i = 0; i < n; ++i) scratch[i] = h.recent(i);
    std::sort(scratch.begin(), scratch.end());
    std::size_t k = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && scratch[j] == scratch[i]) ++j;
        if (scratch[i] >= 0 && std::int64_t(scratch[i]) < n_vocab) {
            ids[k] = scratch[i];
            counts[k] = std::int32_t(j - i);
            ++k;
        }
        i = j;
    }
    return k;
}

// The token of one sample and whether dist used its random number.
struct sample_result {
    std::int32_t id = -1;
    bool drew = false;
};

// The window's distinct tokens a sampler makes room for, unless told otherwise (Ollama's
// window is 64 tokens).
inline constexpr std::size_t default_window_capacity = 4096;

// The kernels' arguments: the launch_args header, then window_capacity ids and as many counts.
inline constexpr std::size_t sampler_args_header = 64;
static_assert(sizeof(sample::device_chain::launch_args) <= sampler_args_header);
inline std::size_t sampler_args_bytes(std::size_t window_capacity) noexcept {
    return sampler_args_header + 2 * window_capacity * sizeof(std::int32_t);
}

// The device buffers, in the order carved from the one allocation (each piece padded to
// arena::alignment): keys, sorted keys, ids, sorted ids, exp scratch (n_vocab floats or ints
// each), the arguments, the result slots, then CUB's temporary storage (not counted here).
inline std::size_t sampler_buffer_bytes(std::int64_t n_vocab,
                                        std::size_t window_capacity = default_window_capacity) noexcept {
    const std::uint64_t n = std::uint64_t(n_vocab);
    return std::size_t(5 * arena::padded(4 * n) + arena::padded(sampler_args_bytes(window_capacity)) +
                       arena::padded(sizeof(sample::device_chain::result_slots)));
}

// The budget for CUB's temporary storage of a sampler over n_vocab tokens. Its radix sort of n
// (float, int32) pairs keeps alternate copies of the keys and values (8 n bytes) plus per-pass
// digit counts and look-back state per tile (estimated from the algorithm, not yet measured on
// a GPU: well under 1 MiB at n = 256k; a [cuda] sample test checks it); the arg-max needs a few
// bytes. The budget is twice the pairs plus 4 MiB, so an arena can hold it before any GPU
// is asked; a sampler whose CUB asks for more is refused at construction, with both numbers.
inline std::size_t cub_temp_budget(std::int64_t n_vocab) noexcept { return 16 * std::size_t(n_vocab) + (std::size_t{4} << 20); }

// What a sampler takes from an arena (device_sampler's borrowing constructor): its buffers and
// CUB's budget.
inline std::size_t sampler_device_bytes(std::int64_t n_vocab, std::size_t window_capacity = default_window_capacity) noexcept {
    return sampler_buffer_bytes(n_vocab, window_capacity) + arena::padded(cub_temp_budget(n_vocab));
}

}  // namespace cuda
STRATA_NAMESPACE_END

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>

#include "kernels/sample.cuh"
#include "strata/backend/cuda/check.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

// One sampler per stream and vocabulary. One sample in flight at a time: stage() rewrites the
// pinned arguments and the result slots are reused.
//
// enqueue() = stage() + launch(). stage() is the host's part (validation, the window's
// compaction, the arguments into pinned memory); launch() only queues device work with
// arguments that do not change between calls (it copies the staged arguments to the device
// first), so a CUDA graph may capture it: one graph per path(), replayed after each stage().
class device_sampler {
public:
    // exact_draws: see path_of (the arg-max at temperature <= 0 guesses whether dist drew).
    // window_capacity: the most distinct window tokens a sample may penalise.
    device_sampler(std::int64_t n_vocab, cudaStream_t stream, bool exact_draws = false,
                   std::size_t window_capacity = default_window_capacity)
        : device_sampler(n_vocab, stream, nullptr, 0, exact_draws, window_capacity) {}
    // The same in BLOCK, BLOCK_BYTES of device memory the caller owns (a piece of an arena of at
    // least sampler_device_bytes(n_vocab, window_capacity)); the sampler allocates no device
    // memory of its own. Without a block (nullptr) it allocates its own.
    device_sampler(std::int64_t n_vocab, cudaStream_t stream, std::byte* block, std::size_t block_bytes,
                   bool exact_draws = false, std::size_t window_capacity = default_window_capacity)
        : n_(n_vocab), stream_(stream), exact_draws_(exact_draws),
          cap_(std::min<std::size_t>(window_capacity, std::size_t(n_vocab > 0 ? n_vocab : 1))) {
        if (n_vocab < 1 || n_vocab > std::int64_t(0x7fffffff))
            STRATA_THROW(errc::argument, "device_sampler: vocabulary of " + std::to_string(n_vocab) + " tokens");
        try {
            allocate(block, block_bytes);
        } catch (...) {
            release();
            throw;
        }
    }
    ~device_sampler() { release(); }
    device_sampler(const device_sampler&) = delete;
    device_sampler& operator=(const device_sampler&) = delete;

    std::int64_t vocabulary() const noexcept { return n_; }
    bool exact_draws() const noexcept { return exact_draws_; }
    std::size_t window_capacity() const noexcept { return cap_; }
    // What this sampler holds on the device: its buffers and CUB's storage (with a borrowed
    // block, what it uses of it).
    std::size_t device_bytes() const noexcept { return bytes_; }
    // What CUB asked for (at most cub_temp_budget in a borrowed block).
    std::size_t cub_temp_bytes() const noexcept { return temp_bytes_; }
    // The path of the staged parameters (what launch() queues).
    sample_path path() const noexcept { return path_; }

    // The host's part of a sample: p checked (errc::unsupported where !device_supports), the
    // window compacted, the kernels' arguments written to pinned memory; u is dist's number.
    void stage(const sample::params& p, const sample::history& window, double u) {
        sample::validate(p);
        if (!device_supports(p, exact_draws_))
            STRATA_THROW(errc::unsupported, "device_sampler: these parameters need the CPU chain (device_supports)");
        sample::device_chain::launch_args& a = *host_args_;
        a = {};
        a.f = finish_args_of(p, u);
        a.m = std::int32_t(sorted_prefix(p, n_));
        if (sample::penalties::enabled(p)) {
            // compacted apart (the pinned area holds cap_), then checked against the capacity
            const std::size_t need = std::min(std::size_t(p.repeat_last_n), window.size());
            win_ids_.resize(need);
            win_counts_.resize(need);
            const std::size_t k =
                compact_window(window, p.repeat_last_n, n_, tokens_, win_ids_.data(), win_counts_.data());
            if (k > cap_)
                STRATA_THROW(errc::unsupported, "device_sampler: " + std::to_string(k) +
                                                    " distinct window tokens, more than its capacity of " +
                                                    std::to_string(cap_));
            std::copy(win_ids_.begin(), win_ids_.begin() + std::ptrdiff_t(k), host_window());
            std::copy(win_counts_.begin(), win_counts_.begin() + std::ptrdiff_t(k), host_window() + cap_);
            a.window = std::int32_t(k);
            a.repeat = p.repeat_penalty;
            a.frequency = p.frequency_penalty;
            a.presence = p.presence_penalty;
        }
        path_ = path_of(p, exact_draws_);
        top_k_ = p.top_k;
    }

    // The device's part, on the stream: the staged arguments to the device, the copy of
    // d_logits (n_vocab floats, left unchanged), the penalties, CUB, the finishing kernel, the
    // result back to pinned memory. Nothing waits: result() once the stream got there.
    void launch(const float* d_logits) {
        namespace dc = sample::device_chain;
        STRATA_CUDA_CHECK(cudaMemcpyAsync(args_, host_args_, args_bytes(), cudaMemcpyHostToDevice, stream_));
        // poisoned (all bits set: id -1) so that a kernel which wrote nothing cannot pass; nan clear
        STRATA_CUDA_CHECK(cudaMemsetAsync(slots_, 0xff, offsetof(dc::result_slots, nan), stream_));
        STRATA_CUDA_CHECK(cudaMemsetAsync(&slots_->nan, 0, sizeof(slots_->nan), stream_));
        STRATA_CUDA_CHECK_LAUNCH(
            (kernels::sample_copy<><<<blocks_for(n_), 256, 0, stream_>>>(d_logits, keys_, n_, slots_), cudaGetLastError()),
            stream_);
        STRATA_CUDA_CHECK_LAUNCH((kernels::sample_penalise<><<<1, 256, 0, stream_>>>(keys_, args_, window_of(args_),
                                                                                   std::int32_t(cap_)),
                                  cudaGetLastError()),
                                 stream_);
        if (path_ != sample_path::sorted)
            STRATA_CUDA_CHECK(cub::DeviceReduce::ArgMax(temp_, temp_bytes_, keys_, &slots_->max, &slots_->best, n_,
                                                        stream_));
        constexpr int threads = kernels::sample_threads;
        if (path_ == sample_path::sorted) {
            std::size_t bytes = temp_bytes_;
            STRATA_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(temp_, bytes, keys_, sorted_keys_, ids_,
                                                                        sorted_ids_, int(n_), 0, 32, stream_));
            STRATA_CUDA_CHECK_LAUNCH((kernels::sample_finish_sorted<threads><<<1, threads, 0, stream_>>>(
                                          sorted_keys_, sorted_ids_, args_, scratch_, slots_),
                                      cudaGetLastError()),
                                     stream_);
        } else if (path_ == sample_path::id_order) {
            STRATA_CUDA_CHECK_LAUNCH((kernels::sample_finish_id_order<threads><<<1, threads, 0, stream_>>>(
                                          keys_, std::int32_t(n_), args_, scratch_, slots_),
                                      cudaGetLastError()),
                                     stream_);
        }
        STRATA_CUDA_CHECK(
            cudaMemcpyAsync(host_slots_, slots_, sizeof(dc::result_slots), cudaMemcpyDeviceToHost, stream_));
    }

    void enqueue(const float* d_logits, const sample::params& p, const sample::history& window, double u) {
        stage(p, window, u);
        launch(d_logits);
    }

    // The last launch's token, after the stream has passed it. A NaN logit is errc::argument
    // (as the CPU chain).
    sample_result result() const {
        const sample::device_chain::result_slots& r = *host_slots_;
        if (r.nan) STRATA_THROW(errc::argument, "sample: a logit is NaN");
        const sample_result out = path_ == sample_path::greedy
                                      ? sample_result{std::int32_t(r.best), n_ > 1 && top_k_ != 1}
                                      : sample_result{r.id, r.drew == 1};
        if (out.id < 0 || out.id >= n_ || (path_ != sample_path::greedy && r.drew != 0 && r.drew != 1))
            STRATA_THROW(errc::internal, "device_sampler: the kernels left no token (id " + std::to_string(out.id) + ")");
        return out;
    }

    // enqueue, wait for the stream, result().
    sample_result sample(const float* d_logits, const sample::params& p, const sample::history& window, double u) {
        enqueue(d_logits, p, window, u);
        STRATA_CUDA_CHECK(cudaStreamSynchronize(stream_));
        return result();
    }

    // With the RNG of a CPU dist stage (a chain's get<sample::dist>()): its next number is
    // used, and used up only when the device drew, so the sequence is the CPU chain's.
    std::int32_t sample(const float* d_logits, const sample::params& p, const sample::history& window,
                        sample::dist& rng) {
        const sample_result r = sample(d_logits, p, window, rng.peek_uniform());
        if (r.drew) rng.commit_uniform();
        return r.id;
    }

private:
    std::size_t args_bytes() const noexcept { return sampler_args_bytes(cap_); }
    static std::int32_t* window_of(sample::device_chain::launch_args* a) noexcept {
        return reinterpret_cast<std::int32_t*>(reinterpret_cast<char*>(a) + sampler_args_header);
    }
    std::int32_t* host_window() noexcept { return window_of(host_args_); }

    // Every buffer, sized for the vocabulary; CUB's storage sized by its null-pointer calls. In
    // BLOCK when given (the caller's), else in one allocation of the sampler's own.
    void allocate(std::byte* block, std::size_t block_bytes) {
        std::size_t sort_bytes = 0, max_bytes = 0;
        STRATA_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(
            nullptr, sort_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
            static_cast<const std::int32_t*>(nullptr), static_cast<std::int32_t*>(nullptr), int(n_), 0, 32, stream_));
        STRATA_CUDA_CHECK(cub::DeviceReduce::ArgMax(nullptr, max_bytes, static_cast<const float*>(nullptr),
                                                    static_cast<float*>(nullptr),
                                                    static_cast<std::int64_t*>(nullptr), n_, stream_));
        temp_bytes_ = std::max(sort_bytes, max_bytes);
        bytes_ = sampler_buffer_bytes(n_, cap_) + arena::padded(temp_bytes_);
        char* at = nullptr;
        if (block) {
            if (bytes_ > block_bytes)
                STRATA_THROW(errc::memory, "device_sampler: CUB asks for " + std::to_string(temp_bytes_) +
                                               " bytes of temporary storage for a vocabulary of " + std::to_string(n_) +
                                               "; with the sampler's buffers that is " + std::to_string(bytes_) + " bytes, its block has " +
                                               std::to_string(block_bytes) + " (cub_temp_budget is " +
                                               std::to_string(cub_temp_budget(n_)) + ")");
            at = reinterpret_cast<char*>(block);
        } else {
            STRATA_CUDA_CHECK(cudaMalloc(&block_, bytes_));
            at = static_cast<char*>(block_);
        }
        const auto take = [&](std::uint64_t b) {
            char* p = at;
            at += arena::padded(b);
            return p;
        };
        const std::uint64_t n4 = 4 * std::uint64_t(n_);
        keys_ = reinterpret_cast<float*>(take(n4));
        sorted_keys_ = reinterpret_cast<float*>(take(n4));
        ids_ = reinterpret_cast<std::int32_t*>(take(n4));
        sorted_ids_ = reinterpret_cast<std::int32_t*>(take(n4));
        scratch_ = reinterpret_cast<float*>(take(n4));
        args_ = reinterpret_cast<sample::device_chain::launch_args*>(take(args_bytes()));
        slots_ = reinterpret_cast<sample::device_chain::result_slots*>(take(sizeof(sample::device_chain::result_slots)));
        temp_ = take(temp_bytes_);
        STRATA_CUDA_CHECK(cudaMallocHost(&host_slots_, sizeof(sample::device_chain::result_slots)));
        void* h = nullptr;
        STRATA_CUDA_CHECK(cudaMallocHost(&h, args_bytes()));
        host_args_ = new (h) sample::device_chain::launch_args{};
        STRATA_CUDA_CHECK_LAUNCH((kernels::sample_iota<><<<blocks_for(n_), 256, 0, stream_>>>(ids_, n_), cudaGetLastError()),
                                 stream_);
        STRATA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    void release() noexcept {
        if (host_args_) cudaFreeHost(host_args_);
        if (host_slots_) cudaFreeHost(host_slots_);
        if (block_) cudaFree(block_);
        host_args_ = nullptr;
        host_slots_ = nullptr;
        block_ = nullptr;
    }

    static unsigned blocks_for(std::int64_t n) noexcept {
        return unsigned(std::min<std::int64_t>((n + 255) / 256, 1024));
    }

    std::int64_t n_;
    cudaStream_t stream_;
    bool exact_draws_ = false;
    std::size_t cap_ = 0;
    std::size_t temp_bytes_ = 0, bytes_ = 0;
    void* block_ = nullptr;
    float* keys_ = nullptr;
    float* sorted_keys_ = nullptr;
    std::int32_t* ids_ = nullptr;
    std::int32_t* sorted_ids_ = nullptr;
    float* scratch_ = nullptr;
    sample::device_chain::launch_args* args_ = nullptr;  // then the window: cap ids, cap counts
    sample::device_chain::result_slots* slots_ = nullptr;
    void* temp_ = nullptr;
    sample::device_chain::result_slots* host_slots_ = nullptr;
    sample::device_chain::launch_args* host_args_ = nullptr;  // pinned, the same layout as args_
    std::vector<std::int32_t> tokens_, win_ids_, win_counts_;  // the compaction's (grow once)
    sample_path path_ = sample_path::sorted;
    std::int32_t top_k_ = 0;
};

}  // namespace cuda
STRATA_NAMESPACE_END
#endif  // __CUDACC__
