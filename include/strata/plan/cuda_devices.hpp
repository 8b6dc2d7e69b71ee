// strata/plan/cuda_devices.hpp — the planner's view of this machine's CUDA devices: each
// device the driver reports (backend/cuda/device.hpp) as a device_spec named CUDA0, CUDA1, ...,
// with the rates of the known part of that name (device.hpp's table) or, for an unknown part,
// the peaks its properties give. Without CUDA (a plain C++ build) there are none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/backend/cuda/device.hpp"
#include "strata/core/config.hpp"
#include "strata/plan/device.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// The table entry (plan/device.hpp's known_gpus) for a device the driver names NAME: the same
// model name (case and spacing aside), or a name whose last words spell the key ("NVIDIA
// GeForce RTX 4090" -> rtx4090, "NVIDIA H200" -> h200; a trailing "16GB" is ignored). Whole
// words only, so "NVIDIA GH200" or "NVIDIA H200 NVL" are not taken for the H200.
inline const known_device* find_known_part(std::string_view name) {
    std::vector<std::string> words = cuda::detail::lower_words(name);
    auto joined = [](const std::vector<std::string>& w, std::size_t from) {
        std::string s;
        for (std::size_t i = from; i < w.size(); ++i) s += w[i];
        return s;
    };
    const std::string all = joined(words, 0);
    for (const known_device& k : known_gpus)
        if (joined(cuda::detail::lower_words(k.model), 0) == all) return &k;
    if (!words.empty() && cuda::detail::is_size_word(words.back())) words.pop_back();
    for (std::size_t from = 0; from < words.size(); ++from) {
        const std::string tail = joined(words, from);
        for (const known_device& k : known_gpus)
            if (k.key == tail) return &k;
    }
    return nullptr;
}

// The planner's view of device INFO: "CUDA<index>", its free/total memory as detected, the rates
// of the known part of that name, else computed from the properties.
inline device_spec to_device_spec(const cuda::device_info& info) {
    device_spec d;
    d.kind = device_kind::cuda;
    d.name = "CUDA" + std::to_string(info.index);
    d.model = info.name;
    d.total_bytes = info.total_bytes;
    d.free_bytes = info.free_bytes;
    if (const known_device* k = find_known_part(info.name)) {
        d.bandwidth = k->bandwidth;
        d.flops = k->flops;
        d.source = "detected (cudaMemGetInfo); rates: table (public spec sheets: " + std::string(k->model) + ")";
    } else {
        d.bandwidth = cuda::peak_bandwidth(info.memory_clock_khz, info.bus_width_bits);
        d.flops = cuda::peak_fp32(info.sm_count, cuda::fp32_lanes_per_sm(info.major, info.minor), info.clock_khz);
        d.source = "detected (cudaMemGetInfo); rates: device properties (peak: memory clock x bus width, "
                   "SMs x FP32 lanes x clock)";
    }
    return d;
}

inline std::vector<device_spec> to_device_specs(const std::vector<cuda::device_info>& infos) {
    std::vector<device_spec> specs;
    for (const cuda::device_info& info : infos) specs.push_back(to_device_spec(info));
    return specs;
}

// What plan::make asks for when no GPU is stated: the devices the driver reports, in a build
// with the CUDA runtime (nvcc, or STRATA_CUDA_RUNTIME); none otherwise. The two bodies live in
// differently named inline namespaces, so a program that mixes the two kinds of translation
// unit links two functions, each doing what its own unit was built for, rather than one inline
// function with two definitions of which the linker keeps either.
#if defined(__CUDACC__) || defined(STRATA_CUDA_RUNTIME)
inline namespace with_cuda_runtime {
inline std::vector<device_spec> detect_cuda_devices() { return to_device_specs(cuda::devices()); }
}  // namespace with_cuda_runtime
#else
inline namespace without_cuda_runtime {
inline std::vector<device_spec> detect_cuda_devices() { return {}; }
}  // namespace without_cuda_runtime
#endif

}  // namespace plan
STRATA_NAMESPACE_END
