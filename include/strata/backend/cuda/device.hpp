// strata/backend/cuda/device.hpp — the CUDA devices of this machine: how many, what each is
// (name, compute capability, memory free/total, the memory clock and bus behind its peak
// bandwidth), selecting one. The planner's view of them is plan/cuda_devices.hpp (the backend
// does not depend on the planner).
//
// The peak-rate arithmetic is CUDA-free (tested on the CPU); querying the driver exists only
// under nvcc or STRATA_CUDA_RUNTIME (see check.hpp).
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/backend/cuda/check.hpp"
#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

// One device as the driver describes it (plain values: no CUDA type crosses this header).
struct device_info {
    int index = 0;                  // the runtime's ordinal (cudaSetDevice)
    std::string name;               // cudaDeviceProp::name, "NVIDIA H200"
    int major = 0, minor = 0;       // compute capability
    std::uint64_t free_bytes = 0;   // cudaMemGetInfo at the time of the query
    std::uint64_t total_bytes = 0;
    int memory_clock_khz = 0;       // cudaDevAttrMemoryClockRate (peak)
    int bus_width_bits = 0;         // cudaDevAttrGlobalMemoryBusWidth
    int sm_count = 0;               // multiprocessors
    int clock_khz = 0;              // cudaDevAttrClockRate (peak SM clock)

    int compute_capability() const noexcept { return major * 10 + minor; }  // 90 for sm_90
};

// ---- rates from the properties (CUDA-free) ------------------------------------------------
// Peak memory bandwidth: GDDR and HBM move data on both clock edges, so two transfers per
// reported memory clock across the bus: 2 x clock x bus bytes. (H100 SXM: 2 x 2.619 GHz x
// 640 B = 3.35 TB/s; RTX 4090: 2 x 10.5 GHz x 48 B = 1008 GB/s — both the spec sheets' figures.)
constexpr double peak_bandwidth(int memory_clock_khz, int bus_width_bits) noexcept {
    if (memory_clock_khz <= 0 || bus_width_bits <= 0) return 0;
    return 2.0 * double(memory_clock_khz) * 1e3 * (double(bus_width_bits) / 8.0);
}

// FP32 lanes per multiprocessor by compute capability (CUDA C Programming Guide, "Arithmetic
// Instructions" throughput table); 0 for an architecture not listed.
constexpr int fp32_lanes_per_sm(int major, int minor) noexcept {
    switch (major) {
        case 6: return minor == 0 ? 64 : 128;
        case 7: return 64;
        case 8: return minor == 0 ? 64 : 128;
        case 9:
        case 10:
        case 11:
        case 12: return 128;
        default: return 0;
    }
}

// Peak dense FP32: one FMA (2 FLOP) per lane per clock.
constexpr double peak_fp32(int sm_count, int lanes_per_sm, int clock_khz) noexcept {
    if (sm_count <= 0 || lanes_per_sm <= 0 || clock_khz <= 0) return 0;
    return 2.0 * double(sm_count) * double(lanes_per_sm) * double(clock_khz) * 1e3;
}

namespace detail {
inline std::vector<std::string> lower_words(std::string_view s) {
    std::vector<std::string> words;
    std::string w;
    for (const char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!w.empty()) {
            words.push_back(std::move(w));
            w.clear();
        }
    }
    if (!w.empty()) words.push_back(std::move(w));
    return words;
}
inline bool is_size_word(const std::string& w) {  // "16gb": the memory size some names end with
    return w.size() > 2 && w.compare(w.size() - 2, 2, "gb") == 0 &&
           w.find_first_not_of("0123456789") == w.size() - 2;
}
}  // namespace detail

}  // namespace cuda
STRATA_NAMESPACE_END

#if defined(__CUDACC__) || defined(STRATA_CUDA_RUNTIME)
#include <cuda_runtime.h>

STRATA_NAMESPACE_BEGIN
namespace cuda {

// How many devices the runtime sees; 0 where there is no device or no usable driver (not an
// error: a machine without a GPU plans on the CPU). The runtime says "insufficient driver" both
// when libcuda is absent and when it is older than the runtime, so an outdated driver also reads
// as no device here; STRATA_CUDA_CHECK(cudaGetDeviceCount(&n)) tells the two apart. Any other
// failure throws.
inline int device_count() {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorStubLibrary) {
        (void)cudaGetLastError();
        return 0;
    }
    STRATA_CUDA_CHECK(e);
    return n;
}

// Makes DEVICE current for this thread (what every later runtime call on the thread uses).
inline void select_device(int device) {
    const int n = device_count();
    if (device < 0 || device >= n)
        STRATA_THROW(errc::argument, "CUDA device " + std::to_string(device) + ": this machine has " + std::to_string(n));
    STRATA_CUDA_CHECK(cudaSetDevice(device));
}

// Makes DEVICE current for a scope, then restores the one that was.
class device_guard {
public:
    explicit device_guard(int device) {
        STRATA_CUDA_CHECK(cudaGetDevice(&previous_));
        if (previous_ != device) STRATA_CUDA_CHECK(cudaSetDevice(device));
    }
    ~device_guard() { (void)cudaSetDevice(previous_); }
    device_guard(const device_guard&) = delete;
    device_guard& operator=(const device_guard&) = delete;

private:
    int previous_ = 0;
};

// What the driver says of DEVICE now (its free memory changes as anything allocates).
inline device_info query_device(int device) {
    device_info info;
    info.index = device;
    cudaDeviceProp p{};
    STRATA_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
    info.name = p.name;
    info.major = p.major;
    info.minor = p.minor;
    info.sm_count = p.multiProcessorCount;
    info.bus_width_bits = p.memoryBusWidth;
    // CUDA 13 dropped cudaDeviceProp::memoryClockRate and clockRate: the attributes remain.
    STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&info.memory_clock_khz, cudaDevAttrMemoryClockRate, device));
    STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&info.clock_khz, cudaDevAttrClockRate, device));
    device_guard on(device);
    std::size_t free = 0, total = 0;
    STRATA_CUDA_CHECK(cudaMemGetInfo(&free, &total));
    info.free_bytes = free;
    info.total_bytes = total;
    return info;
}

inline std::vector<device_info> devices() {
    std::vector<device_info> all;
    const int n = device_count();
    for (int i = 0; i < n; ++i) all.push_back(query_device(i));
    return all;
}

}  // namespace cuda
STRATA_NAMESPACE_END

#endif  // __CUDACC__ || STRATA_CUDA_RUNTIME
