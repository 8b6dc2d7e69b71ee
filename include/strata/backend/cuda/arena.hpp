// strata/backend/cuda/arena.hpp — a GPU's memory for one plan: one cudaMalloc of everything
// the plan puts on the device (weights, KV cache, compute buffers, overhead), handed out in
// pieces aligned to arena::alignment (256 B, as core/arena.hpp and the planner round), and
// nothing allocated after it; pinned host buffers for the activations that cross a CPU/GPU
// boundary; a stream.
//
// Why one block: the plan is priced before anything is allocated, so the one cudaMalloc either
// fits or fails at load with the plan's numbers beside the driver's, never midway through a
// decode; and a bump allocator has no fragmentation to leave the estimate short.
//
// The bookkeeping and the messages are CUDA-free (tested on the CPU); the allocations exist only
// under nvcc or STRATA_CUDA_RUNTIME (see check.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/device.hpp"
#include "strata/core/arena.hpp"
#include "strata/core/error.hpp"
#include "strata/core/units.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

// What a plan puts on one device, in bytes (each figure the planner's sum of pieces already
// rounded to arena::alignment).
struct arena_budget {
    std::uint64_t weights = 0, kv = 0, compute = 0, overhead = 0;

    std::uint64_t sum() const noexcept { return weights + kv + compute + overhead; }
    // The arena's capacity: the sum, rounded up to the alignment.
    std::uint64_t capacity() const noexcept { return arena::padded(sum()); }
};

namespace detail {

// "1234567 B (1.2 MiB)"
inline std::string bytes_text(std::uint64_t b) {
    return std::to_string(b) + " B" + (b >= mib ? " (" + size_string(b) + ")" : std::string());
}

// The error of an arena the device cannot hold: the plan's numbers, then what the driver said.
inline std::string out_of_memory_message(std::string_view device, const arena_budget& b, std::string_view driver_said,
                                         std::uint64_t free_bytes, std::uint64_t total_bytes) {
    return std::string(device) + ": the plan's device arena of " + bytes_text(b.capacity()) +
           " does not fit (weights " + bytes_text(b.weights) + ", KV cache " + bytes_text(b.kv) + ", compute " +
           bytes_text(b.compute) + ", overhead " + bytes_text(b.overhead) + "); cudaMalloc: " + std::string(driver_said) +
           "; the driver reports " + bytes_text(free_bytes) + " free of " + bytes_text(total_bytes) +
           " (plan for a smaller context, a KV type of fewer bits, or fewer layers on this device)";
}

// Bump allocation of offsets in a block of fixed capacity: the device arena's bookkeeping (the
// same rules and message as core/arena.hpp).
class bump {
public:
    bump(std::string name, std::uint64_t capacity) : name_(std::move(name)), capacity_(capacity) {}

    // The offset of a piece of BYTES (aligned); WHAT names it in the error when it does not fit.
    std::uint64_t take(std::uint64_t bytes, std::string_view what) {
        const std::uint64_t need = arena::padded(bytes);
        if (need > capacity_ - used_ || need < bytes)  // need < bytes: the rounding wrapped
            STRATA_THROW(errc::memory, name_ + ": " + std::string(what) + " needs " + std::to_string(need) + " bytes, " +
                                           std::to_string(capacity_ - used_) + " of its " + std::to_string(capacity_) +
                                           " are left");
        const std::uint64_t at = used_;
        used_ += need;
        return at;
    }

    const std::string& name() const noexcept { return name_; }
    std::uint64_t capacity() const noexcept { return capacity_; }
    std::uint64_t used() const noexcept { return used_; }

private:
    std::string name_;
    std::uint64_t capacity_ = 0, used_ = 0;
};

}  // namespace detail
}  // namespace cuda
STRATA_NAMESPACE_END

#if defined(__CUDACC__) || defined(STRATA_CUDA_RUNTIME)
#include <cuda_runtime.h>

STRATA_NAMESPACE_BEGIN
namespace cuda {

// One plan's memory on one device. Move-only; frees its block when destroyed.
class device_arena {
public:
    // NAME ("CUDA0") is used in messages. An out-of-memory is an errc::memory error quoting
    // BUDGET and the driver's free/total at that moment.
    device_arena(int device, std::string name, const arena_budget& budget)
        : device_(device), budget_(budget), book_(std::move(name), budget.capacity()) {
        if (book_.capacity() == 0) return;
        device_guard on(device);
        void* p = nullptr;
        const cudaError_t e = cudaMalloc(&p, book_.capacity());
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();  // not sticky: clear it for the next launch check
            std::size_t free = 0, total = 0;
            (void)cudaMemGetInfo(&free, &total);
            STRATA_THROW(errc::memory, detail::out_of_memory_message(book_.name(), budget_,
                                                                     std::string(cudaGetErrorName(e)) + " (" +
                                                                         cudaGetErrorString(e) + ")",
                                                                     free, total));
        }
        STRATA_CUDA_CHECK(e);
        block_ = static_cast<std::byte*>(p);
    }
    ~device_arena() { release(); }

    device_arena(device_arena&& o) noexcept
        : device_(o.device_), budget_(o.budget_), book_(std::move(o.book_)), block_(std::exchange(o.block_, nullptr)) {}
    device_arena& operator=(device_arena&& o) noexcept {
        if (this != &o) {
            release();
            device_ = o.device_;
            budget_ = o.budget_;
            book_ = std::move(o.book_);
            block_ = std::exchange(o.block_, nullptr);
        }
        return *this;
    }
    device_arena(const device_arena&) = delete;
    device_arena& operator=(const device_arena&) = delete;

    // A piece of BYTES in device memory (a device address: not to be dereferenced on the host),
    // aligned to arena::alignment; WHAT names it in the error when the arena is exhausted.
    std::byte* take(std::size_t bytes, std::string_view what) { return block_ + book_.take(bytes, what); }
    // Bytes counted against the capacity without being handed out here.
    void charge(std::size_t bytes, std::string_view what) { (void)book_.take(bytes, what); }

    const std::string& name() const noexcept { return book_.name(); }
    int device() const noexcept { return device_; }
    const arena_budget& budget() const noexcept { return budget_; }
    std::size_t capacity() const noexcept { return book_.capacity(); }
    std::size_t used() const noexcept { return book_.used(); }
    std::byte* data() const noexcept { return block_; }

private:
    void release() noexcept {
        if (block_) (void)cudaFree(block_);  // cudaFree works on any current device (unified addressing)
        block_ = nullptr;
    }

    int device_ = 0;
    arena_budget budget_;
    detail::bump book_;
    std::byte* block_ = nullptr;
};

// Page-locked host memory (cudaMallocHost): what an asynchronous copy between the host and a
// device needs to overlap with compute and to run at the link's full rate. For the activations
// that cross a CPU/GPU boundary; allocated once with the session, like the arena.
class pinned_buffer {
public:
    pinned_buffer() = default;
    explicit pinned_buffer(std::size_t bytes) : bytes_(bytes) {
        if (bytes == 0) return;
        void* p = nullptr;
        STRATA_CUDA_CHECK(cudaMallocHost(&p, bytes));
        data_ = static_cast<std::byte*>(p);
    }
    ~pinned_buffer() {
        if (data_) (void)cudaFreeHost(data_);
    }
    pinned_buffer(pinned_buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    pinned_buffer& operator=(pinned_buffer&& o) noexcept {
        if (this != &o) {
            if (data_) (void)cudaFreeHost(data_);
            data_ = std::exchange(o.data_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    pinned_buffer(const pinned_buffer&) = delete;
    pinned_buffer& operator=(const pinned_buffer&) = delete;

    std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return bytes_; }
    std::span<std::byte> bytes() const noexcept { return {data_, bytes_}; }

private:
    std::byte* data_ = nullptr;
    std::size_t bytes_ = 0;
};

// A stream that does not synchronise with the legacy default stream (cudaStreamNonBlocking), on
// the device current at its creation.
class stream {
public:
    stream() { STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
    ~stream() {
        if (s_) (void)cudaStreamDestroy(s_);
    }
    stream(stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    stream& operator=(stream&& o) noexcept {
        if (this != &o) {
            if (s_) (void)cudaStreamDestroy(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    cudaStream_t get() const noexcept { return s_; }
    operator cudaStream_t() const noexcept { return s_; }
    void synchronize() const { STRATA_CUDA_CHECK(cudaStreamSynchronize(s_)); }

private:
    cudaStream_t s_ = nullptr;
};

// A marker in a stream (no timing): wait() returns once the work queued before the last
// record() is done; before any record() it returns at once.
class event {
public:
    event() { STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&e_, cudaEventDisableTiming)); }
    ~event() {
        if (e_) (void)cudaEventDestroy(e_);
    }
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    void record(cudaStream_t s) { STRATA_CUDA_CHECK(cudaEventRecord(e_, s)); }
    void wait() const { STRATA_CUDA_CHECK(cudaEventSynchronize(e_)); }

private:
    cudaEvent_t e_ = nullptr;
};

}  // namespace cuda
STRATA_NAMESPACE_END

#endif  // __CUDACC__ || STRATA_CUDA_RUNTIME
