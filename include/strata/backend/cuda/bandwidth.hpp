// strata/backend/cuda/bandwidth.hpp — measured copy rates of a device, for a benchmark's
// roofline: what its memory really moves (a device-to-device copy) and what the host link
// really carries (a copy from pinned host memory: PCIe, or NVLink-C2C on a Grace Hopper).
//
//   const double mem = strata::cuda::measure_d2d_bandwidth(0);   // GB/s, read + write
//   const double link = strata::cuda::measure_h2d_bandwidth(0);  // GB/s, bytes carried
//
// Counting: a device-to-device copy of n bytes reads n and writes n, so it counts 2n (the
// figure comparable with the peak of device.hpp and with a kernel's bytes read + written); a
// host-to-device copy counts n, the bytes that crossed the link. Timing: CUDA events around
// each copy on a stream of its own, one untimed copy first (first-touch and clock ramp), the
// best of REPS (the least disturbed run). GB/s are 1e9 bytes per second.
//
// Each call allocates its buffers, frees them on every path (errors included), checks every
// runtime call, and leaves the thread's current device as it found it. The arithmetic is
// CUDA-free (tested on the CPU); the measurements exist only under nvcc or STRATA_CUDA_RUNTIME
// (see check.hpp).
#pragma once

#include <cstddef>
#include <string>

#include "strata/backend/cuda/check.hpp"
#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

// Bytes a copy of BYTES moves, as the rates here count them.
constexpr double d2d_bytes_moved(std::size_t bytes) noexcept { return 2.0 * double(bytes); }
constexpr double h2d_bytes_moved(std::size_t bytes) noexcept { return double(bytes); }

// GB/s of MOVED bytes in MS milliseconds (what cudaEventElapsedTime gives); 0 for no time.
constexpr double gb_per_s(double moved, double ms) noexcept { return ms > 0 ? moved / (ms * 1e-3) / 1e9 : 0.0; }

namespace detail {
inline void check_bandwidth_args(const char* what, std::size_t bytes, int reps) {
    if (bytes == 0 || reps <= 0)
        STRATA_THROW(errc::argument, std::string(what) + ": needs a positive size and repetition count, got " +
                                         std::to_string(bytes) + " bytes x " + std::to_string(reps));
}
}  // namespace detail

}  // namespace cuda
STRATA_NAMESPACE_END

#if defined(__CUDACC__) || defined(STRATA_CUDA_RUNTIME)
#include <cuda_runtime.h>

#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/device.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {
namespace detail {

// Restores the thread's current device when it goes.
class current_device_guard {
public:
    current_device_guard() { STRATA_CUDA_CHECK(cudaGetDevice(&previous_)); }
    ~current_device_guard() { (void)cudaSetDevice(previous_); }
    current_device_guard(const current_device_guard&) = delete;
    current_device_guard& operator=(const current_device_guard&) = delete;

private:
    int previous_ = 0;
};

// One cudaMalloc, freed when it goes.
class device_block {
public:
    explicit device_block(std::size_t bytes) { STRATA_CUDA_CHECK(cudaMalloc(&p_, bytes)); }
    ~device_block() {
        if (p_) (void)cudaFree(p_);
    }
    device_block(const device_block&) = delete;
    device_block& operator=(const device_block&) = delete;
    void* get() const noexcept { return p_; }

private:
    void* p_ = nullptr;
};

// A start and a stop event, destroyed when they go.
class event_pair {
public:
    event_pair() {
        STRATA_CUDA_CHECK(cudaEventCreate(&start_));
        try {
            STRATA_CUDA_CHECK(cudaEventCreate(&stop_));
        } catch (...) {
            (void)cudaEventDestroy(start_);
            throw;
        }
    }
    ~event_pair() {
        (void)cudaEventDestroy(stop_);
        (void)cudaEventDestroy(start_);
    }
    event_pair(const event_pair&) = delete;
    event_pair& operator=(const event_pair&) = delete;

    // Milliseconds COPY (enqueued on S) takes.
    template <class Copy>
    float time(cudaStream_t s, Copy&& copy) {
        STRATA_CUDA_CHECK(cudaEventRecord(start_, s));
        copy();
        STRATA_CUDA_CHECK(cudaEventRecord(stop_, s));
        STRATA_CUDA_CHECK(cudaEventSynchronize(stop_));
        float ms = 0;
        STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
        return ms;
    }

private:
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// The best rate of REPS timed runs of COPY (after one untimed), counting MOVED bytes each.
template <class Copy>
double best_rate(cudaStream_t s, double moved, int reps, Copy&& copy) {
    event_pair ev;
    (void)ev.time(s, copy);
    float best = 0;
    for (int r = 0; r < reps; ++r) {
        const float ms = ev.time(s, copy);
        if (r == 0 || ms < best) best = ms;
    }
    return gb_per_s(moved, double(best));
}

}  // namespace detail

// GB/s of a BYTES device-to-device copy on DEVICE, read + write counted (2 x BYTES per copy).
inline double measure_d2d_bandwidth(int device, std::size_t bytes = std::size_t{256} << 20, int reps = 10) {
    detail::check_bandwidth_args("measure_d2d_bandwidth", bytes, reps);
    const detail::current_device_guard keep;
    select_device(device);
    const detail::device_block src(bytes), dst(bytes);
    const stream s;
    STRATA_CUDA_CHECK(cudaMemsetAsync(src.get(), 0x5a, bytes, s));  // pages in use before timing
    return detail::best_rate(s, d2d_bytes_moved(bytes), reps, [&] {
        STRATA_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, s));
    });
}

// GB/s of a BYTES copy from pinned host memory to DEVICE (BYTES per copy: what crossed the link).
inline double measure_h2d_bandwidth(int device, std::size_t bytes = std::size_t{256} << 20, int reps = 10) {
    detail::check_bandwidth_args("measure_h2d_bandwidth", bytes, reps);
    const detail::current_device_guard keep;
    select_device(device);
    const pinned_buffer host(bytes);
    for (std::size_t i = 0; i < bytes; i += 4096) host.data()[i] = std::byte{0x5a};  // a defined source
    const detail::device_block dst(bytes);
    const stream s;
    return detail::best_rate(s, h2d_bytes_moved(bytes), reps, [&] {
        STRATA_CUDA_CHECK(cudaMemcpyAsync(dst.get(), host.data(), bytes, cudaMemcpyHostToDevice, s));
    });
}

}  // namespace cuda
STRATA_NAMESPACE_END

#endif  // __CUDACC__ || STRATA_CUDA_RUNTIME
