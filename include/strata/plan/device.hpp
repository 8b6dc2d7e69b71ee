// strata/plan/device.hpp — the devices a plan places tensors on: their kind, memory, bandwidth
// and compute rate, where those come from (detected, stated, a table of known parts, measured).
//
// Three kinds: the CPU (host RAM; tensors it runs stay in the memory map), a CUDA GPU, and `sim`
// — a second CPU backend instance that acts as a device with its own memory cap, so that CI can
// test split execution without a GPU (planned like a GPU, with the host's bandwidth).
//
// Sizes are parsed as a user writes them ("16GiB", "200MiB", "27GB", "1.5GiB"): binary units
// (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) powers of 1000, a bare
// number is bytes; anything else is an errc::argument error naming the argument.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/core/units.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// plan::mib and the others are the core's units (core/units.hpp)
using ::strata::gib;
using ::strata::kib;
using ::strata::mib;

enum class device_kind { cpu, cuda, sim };

constexpr std::string_view to_string(device_kind k) noexcept {
    switch (k) {
        case device_kind::cpu: return "cpu";
        case device_kind::cuda: return "cuda";
        case device_kind::sim: return "sim";
    }
    return "unknown";
}

inline device_kind device_kind_from_name(std::string_view s) {
    if (s == "cpu") return device_kind::cpu;
    if (s == "cuda") return device_kind::cuda;
    if (s == "sim") return device_kind::sim;
    STRATA_THROW(errc::argument, "device kind '" + std::string(s) + "': expected cpu, cuda or sim");
}

// One device as the planner sees it. Rates are per second; `source` says where they come from.
struct device_spec {
    device_kind kind = device_kind::cpu;
    std::string name;                  // "CPU", "CUDA0", "SIM0": what -ot names it by
    std::string model;                 // "NVIDIA RTX 5060 Ti 16GB", "host", ...
    std::uint64_t total_bytes = 0;
    std::uint64_t free_bytes = 0;      // what the plan may use (before the reserve)
    std::uint64_t reserve_bytes = 0;   // kept free on purpose (OLLAMA_GPU_OVERHEAD's role)
    double bandwidth = 0;              // bytes/s the device reads its memory at
    double flops = 0;                  // FLOP/s for prefill
    std::string source;                // "detected", "stated", "table: public spec sheets", "measured"

    bool is_accelerator() const noexcept { return kind != device_kind::cpu; }
};

// ---- known parts ------------------------------------------------------------------------
// Memory bandwidth and dense FP32 (non-tensor-core) throughput from the vendors' public spec
// sheets; FP32 is the conservative rate for prefill of dequantized weights.
struct known_device {
    std::string_view key;    // what --gpu NAME matches ("rtx5060ti")
    std::string_view model;
    std::uint64_t memory;    // bytes
    double bandwidth;        // bytes/s
    double flops;            // FLOP/s
};

inline constexpr known_device known_gpus[] = {
    {"rtx5060ti", "NVIDIA GeForce RTX 5060 Ti 16GB", 16 * gib, 448e9, 23.7e12},
    {"rtx4090", "NVIDIA GeForce RTX 4090", 24 * gib, 1008e9, 82.6e12},
    {"h200", "NVIDIA H200", 141000000000ull, 4.8e12, 67e12},
};

// A generic desktop CPU: DDR5-4800 in two channels reads about 60 GB/s (76.8 GB/s peak); the
// compute rate is 8 cores x 3 GHz x 32 FP32 FLOP/cycle (two AVX2 FMA units) = 0.77 TFLOP/s.
inline constexpr known_device generic_cpu = {"cpu", "generic CPU, DDR5 dual channel", 0, 60e9, 0.77e12};
// A GPU stated by size alone and matching no entry above is priced as the RTX 5060 Ti.
inline constexpr std::string_view generic_gpu_key = "rtx5060ti";

inline const known_device* find_known_gpu(std::string_view key) noexcept {
    for (const known_device& d : known_gpus)
        if (d.key == key) return &d;
    return nullptr;
}

// ---- parsing sizes and rates -------------------------------------------------------------
namespace detail {

// "16GiB" -> 16 * 2^30; ARG names what is parsed, for the message.
inline double parse_scaled(std::string_view s, std::string_view arg, bool rate) {
    std::string_view num = s, unit;
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    num = s.substr(0, i);
    unit = s.substr(i);
    while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
    auto fail = [&](const char* why) -> double {
        STRATA_THROW(errc::argument, std::string(arg) + " '" + std::string(s) + "': " + why);
    };
    double v = 0;
    const auto r = std::from_chars(num.data(), num.data() + num.size(), v);
    if (num.empty() || r.ec != std::errc() || r.ptr != num.data() + num.size()) return fail("expected a number with a unit");
    if (rate) {
        if (unit.size() < 2 || unit.substr(unit.size() - 2) != "/s") return fail("expected a rate such as 448GB/s");
        unit.remove_suffix(2);
    }
    struct u { std::string_view name; double scale; };
    static constexpr u units[] = {{"", 1},     {"B", 1},         {"KiB", 0x1p10}, {"MiB", 0x1p20}, {"GiB", 0x1p30},
                                  {"TiB", 0x1p40}, {"KB", 1e3},   {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12},
                                  {"K", 0x1p10}, {"M", 0x1p20},   {"G", 0x1p30},   {"T", 0x1p40}};
    for (const u& x : units)
        if (unit == x.name) {
            if (!(v * x.scale < 0x1p63)) return fail("too large");
            return v * x.scale;
        }
    return fail(rate ? "unknown unit (B/s, KB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s)"
                     : "unknown unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

}  // namespace detail

inline std::uint64_t parse_bytes(std::string_view s, std::string_view arg = "size") {
    return static_cast<std::uint64_t>(detail::parse_scaled(s, arg, false));
}
inline double parse_rate(std::string_view s, std::string_view arg = "bandwidth") { return detail::parse_scaled(s, arg, true); }

// "16GiB", "16GiB:rtx4090", "16GiB:448GB/s", "16GiB/11GiB" (total/free): a stated GPU for
// what-if planning. Without a name it is the known part with exactly that memory, else the
// generic GPU's rates.
inline device_spec parse_gpu(std::string_view s, int index) {
    const std::size_t colon = s.find(':');
    device_spec d;
    d.kind = device_kind::cuda;
    d.name = "CUDA" + std::to_string(index);
    const std::string_view sizes = s.substr(0, colon);
    const std::size_t slash = sizes.find('/');
    d.total_bytes = d.free_bytes = parse_bytes(sizes.substr(0, slash), "--gpu");
    if (slash != std::string_view::npos) {
        d.free_bytes = parse_bytes(sizes.substr(slash + 1), "--gpu free memory");
        if (d.free_bytes > d.total_bytes)
            STRATA_THROW(errc::argument, "--gpu '" + std::string(s) + "': more memory free than the card has");
    }
    const known_device* k = nullptr;
    if (colon != std::string_view::npos) {
        const std::string_view rest = s.substr(colon + 1);
        if (rest.find("/s") != std::string_view::npos) {
            const known_device* g = find_known_gpu(generic_gpu_key);
            d.model = "stated GPU";
            d.bandwidth = parse_rate(rest, "--gpu bandwidth");
            d.flops = g->flops;
            d.source = "stated (compute rate: " + std::string(g->model) + ", public spec sheets)";
            return d;
        }
        k = find_known_gpu(rest);
        if (!k) {
            std::string names;
            for (const known_device& g : known_gpus) names += (names.empty() ? "" : ", ") + std::string(g.key);
            STRATA_THROW(errc::argument, "--gpu '" + std::string(s) + "': unknown GPU '" + std::string(rest) + "' (known: " + names + ")");
        }
    } else {
        for (const known_device& g : known_gpus)
            if (g.memory == d.total_bytes) k = &g;
        if (!k) k = find_known_gpu(generic_gpu_key);
    }
    d.model = std::string(k->model);
    d.bandwidth = k->bandwidth;
    d.flops = k->flops;
    d.source = "stated size; rates: table (public spec sheets)";
    return d;
}

inline device_spec make_sim(std::uint64_t bytes, int index, double host_bandwidth, double host_flops) {
    device_spec d;
    d.kind = device_kind::sim;
    d.name = "SIM" + std::to_string(index);
    d.model = "CPU backend instance (simulated device)";
    d.total_bytes = d.free_bytes = bytes;
    d.bandwidth = host_bandwidth;
    d.flops = host_flops;
    d.source = "stated; rates: the host's";
    return d;
}

// ---- detection ---------------------------------------------------------------------------
struct host_memory {
    std::uint64_t total = 0, available = 0;
};

// MemTotal and MemAvailable from /proc/meminfo (what the kernel can give without swapping),
// else sysconf's physical and free pages.
inline host_memory detect_host_memory() {
    host_memory m;
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb) {
        std::getline(in, unit);
        if (key == "MemTotal:") m.total = kb * 1024;
        if (key == "MemAvailable:") m.available = kb * 1024;
    }
    if (m.total == 0 || m.available == 0) {
        const long page = ::sysconf(_SC_PAGESIZE), phys = ::sysconf(_SC_PHYS_PAGES), avail = ::sysconf(_SC_AVPHYS_PAGES);
        if (page > 0 && phys > 0) m.total = std::uint64_t(page) * std::uint64_t(phys);
        if (page > 0 && avail > 0) m.available = std::uint64_t(page) * std::uint64_t(avail);
    }
    return m;
}

inline device_spec host_device(std::optional<std::uint64_t> ram, std::optional<double> bandwidth,
                               const std::string& bandwidth_source = "stated") {
    device_spec d;
    d.kind = device_kind::cpu;
    d.name = "CPU";
    d.model = "host";
    if (ram) {
        d.total_bytes = d.free_bytes = *ram;
    } else {
        const host_memory m = detect_host_memory();
        d.total_bytes = m.total;
        d.free_bytes = m.available;
    }
    d.bandwidth = bandwidth ? *bandwidth : generic_cpu.bandwidth;
    d.flops = generic_cpu.flops;
    d.source = std::string(ram ? "RAM stated" : "RAM detected (/proc/meminfo)") + "; bandwidth " +
               (bandwidth ? bandwidth_source : "table: " + std::string(generic_cpu.model) + " (public spec sheets)");
    return d;
}

// CUDA devices are detected by detect_cuda_devices() in plan/cuda_devices.hpp (from
// backend/cuda/device.hpp in a build with the CUDA runtime; none otherwise).

// ---- measuring ---------------------------------------------------------------------------
// Host read bandwidth: THREADS threads each sum their share of a BYTES buffer (touched first so
// that page faults are not timed), best of REPS passes. What decode on the CPU can reach.
inline double probe_read_bandwidth(int threads, std::size_t bytes = std::size_t{512} << 20, int reps = 5) {
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    if (bytes < std::size_t(threads) * 4096 || reps <= 0) STRATA_THROW(errc::argument, "probe: buffer too small");
    const std::size_t n = bytes / sizeof(std::uint64_t);
    std::vector<std::uint64_t> buf(n);
    for (std::size_t i = 0; i < n; ++i) buf[i] = i;
    std::vector<std::uint64_t> sink(static_cast<std::size_t>(threads) * 8);  // one cache line each
    double best = 0;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const std::size_t lo = n * std::size_t(t) / std::size_t(threads), hi = n * std::size_t(t + 1) / std::size_t(threads);
                std::uint64_t a = 0, b = 0, c = 0, d = 0;
                std::size_t i = lo;
                for (; i + 4 <= hi; i += 4) { a += buf[i]; b += buf[i + 1]; c += buf[i + 2]; d += buf[i + 3]; }
                for (; i < hi; ++i) a += buf[i];
                sink[std::size_t(t) * 8] = a + b + c + d;
            });
        for (std::thread& th : pool) th.join();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s > 0) best = std::max(best, double(n * sizeof(std::uint64_t)) / s);
    }
    std::uint64_t all = 0;
    for (std::uint64_t v : sink) all += v;
    volatile std::uint64_t keep = all;  // the sums must stay observable
    (void)keep;
    return best;
}

}  // namespace plan
STRATA_NAMESPACE_END
