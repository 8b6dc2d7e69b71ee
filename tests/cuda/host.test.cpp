// The host side of the CUDA backend against the real runtime (compiled by the host compiler
// with STRATA_CUDA_RUNTIME and STRATA_CUBLAS, linked to cudart): STRATA_CUDA_CHECK's error
// path (also without a device), device enumeration, the plan's device arena (its measured
// cudaMemGetInfo drop, its alignment, its out-of-memory error), pinned buffers and streams.
// Lines starting "gpu:" and "timing:" are collected by tests/gpu/run.sh.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/device.hpp"
#include "strata/plan/cuda_devices.hpp"

namespace cuda = strata::cuda;
using strata::errc;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool have_device() { return cuda::device_count() > 0; }

// The error STMT throws through STRATA_CUDA_CHECK (which must throw).
template <class F>
strata::error error_of(F&& stmt) {
    try {
        stmt();
    } catch (const strata::error& e) {
        return e;
    }
    FAIL("no error was thrown");
    return strata::error(errc::internal, "unreachable");
}

double gbps(std::size_t bytes, double seconds) { return seconds > 0 ? double(bytes) / seconds / 1e9 : 0; }

}  // namespace

TEST_CASE("STRATA_CUDA_CHECK turns a failing status into a strata::error", "[cuda]") {
    auto out_of_memory = [] { return cudaErrorMemoryAllocation; };
    const int line = __LINE__ + 1;
    const strata::error e = error_of([&] { STRATA_CUDA_CHECK(out_of_memory()); });
    CHECK(e.category() == errc::memory);
    CHECK(contains(e.message(), "out_of_memory() failed: cudaErrorMemoryAllocation ("));
    CHECK(contains(e.message(), cudaGetErrorString(cudaErrorMemoryAllocation)));
    CHECK(contains(e.message(), "host.test.cpp:" + std::to_string(line)));
    CHECK(e.file().empty());  // error::file is a model file's; the source file is in the message

    CHECK(cuda::category_of(cudaErrorInvalidValue) == errc::internal);
    CHECK(cuda::category_of(cudaErrorIllegalAddress) == errc::internal);
    CHECK(cuda::category_of(cudaErrorNoDevice) == errc::io);
    CHECK(cuda::category_of(cudaErrorInsufficientDriver) == errc::io);
    CHECK(cuda::category_of(cudaErrorNoKernelImageForDevice) == errc::unsupported);
    CHECK_NOTHROW([] { STRATA_CUDA_CHECK(cudaSuccess); }());

    // A real failing call, with or without a device: an ordinal that cannot exist.
    const strata::error bad = error_of([] { STRATA_CUDA_CHECK(cudaSetDevice(-1)); });
    CHECK(contains(bad.message(), "cudaSetDevice(-1) failed: cuda"));
    CHECK(bad.category() != errc::memory);

    SECTION("cuBLAS statuses") {
        auto alloc = [] { return CUBLAS_STATUS_ALLOC_FAILED; };
        const strata::error b = error_of([&] { STRATA_CUDA_CHECK(alloc()); });
        CHECK(b.category() == errc::memory);
        CHECK(contains(b.message(), "alloc() failed: CUBLAS_STATUS_ALLOC_FAILED (the resource allocation failed)"));
        CHECK(cuda::category_of(CUBLAS_STATUS_INVALID_VALUE) == errc::internal);
        CHECK(cuda::category_of(CUBLAS_STATUS_ARCH_MISMATCH) == errc::unsupported);
        CHECK_NOTHROW([] { STRATA_CUDA_CHECK(CUBLAS_STATUS_SUCCESS); }());
    }
    SECTION("without a device, asking for the count is an error the check reports") {
        if (have_device()) {
            int n = 0;
            CHECK_NOTHROW([&] { STRATA_CUDA_CHECK(cudaGetDeviceCount(&n)); }());
            CHECK(n > 0);
            return;
        }
        int n = 0;
        const strata::error none = error_of([&] { STRATA_CUDA_CHECK(cudaGetDeviceCount(&n)); });
        CHECK(none.category() == errc::io);
        CHECK(contains(none.message(), "cudaGetDeviceCount(&n) failed: "));
        WARN("no CUDA device: " << none.message());
    }
}

TEST_CASE("CUDA devices are enumerated and become the planner's devices", "[cuda]") {
    const int n = cuda::device_count();
    const auto specs = strata::plan::detect_cuda_devices();
    REQUIRE(specs.size() == std::size_t(n));
    if (n == 0) {
        CHECK_THROWS_AS(cuda::select_device(0), strata::error);
        WARN("no CUDA device: enumeration skipped");
        return;
    }
    for (int i = 0; i < n; ++i) {
        const cuda::device_info info = cuda::query_device(i);
        CHECK(info.index == i);
        CHECK(!info.name.empty());
        CHECK(info.major >= 5);
        CHECK(info.total_bytes > 0);
        CHECK(info.free_bytes <= info.total_bytes);
        CHECK(info.sm_count > 0);
        CHECK(cuda::peak_bandwidth(info.memory_clock_khz, info.bus_width_bits) > 0);
        const strata::plan::device_spec& d = specs[std::size_t(i)];
        CHECK(d.kind == strata::plan::device_kind::cuda);
        CHECK(d.name == "CUDA" + std::to_string(i));
        CHECK(d.model == info.name);
        CHECK(d.total_bytes == info.total_bytes);
        CHECK(d.bandwidth > 0);
        CHECK(d.flops > 0);
        std::printf("gpu: %s %s sm_%d%d, %d SMs, %.2f GiB free of %.2f GiB, bandwidth %.0f GB/s (properties: %.0f GB/s), %s\n",
                    d.name.c_str(), info.name.c_str(), info.major, info.minor, info.sm_count,
                    double(info.free_bytes) / double(1ull << 30), double(info.total_bytes) / double(1ull << 30),
                    d.bandwidth / 1e9, cuda::peak_bandwidth(info.memory_clock_khz, info.bus_width_bits) / 1e9,
                    d.source.c_str());
    }
    CHECK_NOTHROW(cuda::select_device(0));
    CHECK_THROWS_AS(cuda::select_device(n), strata::error);
}

TEST_CASE("a plan's device arena is one allocation of its total, in aligned pieces", "[cuda]") {
    if (!have_device()) {
        WARN("no CUDA device: skipped");
        return;
    }
    cuda::select_device(0);
    STRATA_CUDA_CHECK(cudaFree(nullptr));  // create the context first: it is not the arena's
    const cuda::arena_budget budget{.weights = 700ull << 20, .kv = 200ull << 20, .compute = 123456789, .overhead = 1000};
    std::size_t free0 = 0, free1 = 0, free2 = 0, total = 0;
    STRATA_CUDA_CHECK(cudaMemGetInfo(&free0, &total));
    {
        cuda::device_arena a(0, "CUDA0", budget);
        STRATA_CUDA_CHECK(cudaMemGetInfo(&free1, &total));
        CHECK(a.capacity() == budget.capacity());
        CHECK(a.capacity() % strata::arena::alignment == 0);
        const double drop = double(free0) - double(free1);
        INFO("cudaMemGetInfo drop " << drop << " B for an arena of " << a.capacity() << " B");
        CHECK(drop >= 0.95 * double(a.capacity()));
        CHECK(drop <= 1.05 * double(a.capacity()));

        std::byte* prev = nullptr;
        for (std::size_t bytes : {std::size_t{1}, std::size_t{255}, std::size_t{256}, std::size_t{257}, std::size_t{4097}}) {
            std::byte* p = a.take(bytes, "piece");
            CHECK(reinterpret_cast<std::uintptr_t>(p) % strata::arena::alignment == 0);
            if (prev) CHECK(p > prev);
            prev = p;
        }
        const std::size_t left = a.capacity() - a.used();
        a.charge(left, "the rest");
        CHECK(a.used() == a.capacity());
        const strata::error full = error_of([&] { (void)a.take(1, "one byte too many"); });
        CHECK(full.category() == errc::memory);
        CHECK(contains(full.message(), "CUDA0: one byte too many"));

        // Device-to-device copy inside the arena: what the device's memory really reads at.
        cuda::stream s;
        std::byte* base = a.data();
        const std::size_t chunk = 256ull << 20;
        STRATA_CUDA_CHECK(cudaMemcpyAsync(base + chunk, base, chunk, cudaMemcpyDeviceToDevice, s));
        s.synchronize();
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < 10; ++r) STRATA_CUDA_CHECK(cudaMemcpyAsync(base + chunk, base, chunk, cudaMemcpyDeviceToDevice, s));
        s.synchronize();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double rate = gbps(2 * 10 * chunk, secs), spec = strata::plan::detect_cuda_devices().at(0).bandwidth / 1e9;
        std::printf("timing: device copy 256 MiB x10: %.1f GB/s read + write, %.0f%% of the planner's %.0f GB/s\n", rate,
                    spec > 0 ? 100 * rate / spec : 0.0, spec);
    }
    STRATA_CUDA_CHECK(cudaMemGetInfo(&free2, &total));
    CHECK(double(free2) >= double(free0) - 0.05 * double(budget.capacity()));  // given back
}

TEST_CASE("an arena the device cannot hold is a clear memory error with the plan's numbers", "[cuda]") {
    if (!have_device()) {
        WARN("no CUDA device: skipped");
        return;
    }
    const cuda::device_info info = cuda::query_device(0);
    const cuda::arena_budget budget{.weights = info.total_bytes + (1ull << 40), .kv = 1ull << 30, .compute = 5ull << 20, .overhead = 777};
    const strata::error e = error_of([&] { cuda::device_arena a(0, "CUDA0", budget); });
    CHECK(e.category() == errc::memory);
    CHECK(contains(e.message(), "CUDA0: the plan's device arena of " + std::to_string(budget.capacity()) + " B"));
    CHECK(contains(e.message(), "weights " + std::to_string(budget.weights) + " B"));
    CHECK(contains(e.message(), "KV cache 1073741824 B"));
    CHECK(contains(e.message(), "compute 5242880 B"));
    CHECK(contains(e.message(), "overhead 777 B"));
    CHECK(contains(e.message(), "cudaErrorMemoryAllocation"));
    CHECK(contains(e.message(), "free of " + std::to_string(info.total_bytes) + " B"));
    CHECK(cudaGetLastError() == cudaSuccess);  // the failure left no error behind
    cuda::device_arena after(0, "CUDA0", {.weights = 1 << 20});  // and the device still allocates
    CHECK(after.capacity() == 1u << 20);
}

TEST_CASE("pinned buffers and a stream carry activations across the boundary", "[cuda]") {
    if (!have_device()) {
        WARN("no CUDA device: skipped");
        return;
    }
    cuda::select_device(0);
    const std::size_t n = 256ull << 20;
    cuda::pinned_buffer up(n), down(n);
    REQUIRE(up.size() == n);
    for (std::size_t i = 0; i < n; ++i) up.data()[i] = std::byte(i * 131 + 7);
    std::memset(down.data(), 0, n);
    cuda::device_arena a(0, "CUDA0", {.compute = n});
    cuda::stream s;
    std::byte* d = a.take(n, "activations");
    STRATA_CUDA_CHECK(cudaMemcpyAsync(d, up.data(), n, cudaMemcpyHostToDevice, s));  // warm
    s.synchronize();
    auto t0 = std::chrono::steady_clock::now();
    STRATA_CUDA_CHECK(cudaMemcpyAsync(d, up.data(), n, cudaMemcpyHostToDevice, s));
    s.synchronize();
    const double h2d = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t0 = std::chrono::steady_clock::now();
    STRATA_CUDA_CHECK(cudaMemcpyAsync(down.data(), d, n, cudaMemcpyDeviceToHost, s));
    s.synchronize();
    const double d2h = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(std::memcmp(up.data(), down.data(), n) == 0);
    std::printf("timing: pinned host->device 256 MiB: %.1f GB/s; device->host: %.1f GB/s\n", gbps(n, h2d), gbps(n, d2h));

    cuda::stream moved = std::move(s);
    CHECK(moved.get() != nullptr);
    CHECK(s.get() == nullptr);
    CHECK_NOTHROW(moved.synchronize());
}
