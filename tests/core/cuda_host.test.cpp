// The CUDA backend's host-side logic that needs no CUDA (compiled here without cuda_runtime.h):
// the error message of STRATA_CUDA_CHECK, peak rates from device properties, the known-part
// lookup and the device_spec it makes, the device arena's bookkeeping and out-of-memory message.
#include <catch2/catch.hpp>

#include <string>

#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/device.hpp"
#include "strata/plan/cuda_devices.hpp"

namespace cuda = strata::cuda;
namespace plan = strata::plan;

static bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_CASE("a failed CUDA call's message names the statement, the status and where", "[core][cuda-host]") {
    const std::string m = cuda::detail::failure_message("cudaMalloc(&p, n)", "cudaErrorMemoryAllocation",
                                                        "out of memory", "arena.hpp", 57);
    CHECK(m == "cudaMalloc(&p, n) failed: cudaErrorMemoryAllocation (out of memory) at arena.hpp:57");
}

TEST_CASE("peak rates from device properties", "[core][cuda-host]") {
    // H100 SXM5: 2619 MHz HBM3 on 5120 bits = 3.35 TB/s; RTX 4090: 10501 MHz GDDR6X on 384 bits.
    CHECK(cuda::peak_bandwidth(2619000, 5120) == Approx(3.352e12).epsilon(1e-3));
    CHECK(cuda::peak_bandwidth(10501000, 384) == Approx(1008e9).epsilon(1e-3));
    CHECK(cuda::peak_bandwidth(0, 384) == 0);
    CHECK(cuda::peak_bandwidth(1000, -1) == 0);
    // H200: 132 SMs x 128 lanes x 1980 MHz x 2 = 66.9 TFLOP/s (the table's 67).
    CHECK(cuda::peak_fp32(132, cuda::fp32_lanes_per_sm(9, 0), 1980000) == Approx(66.9e12).epsilon(1e-3));
    CHECK(cuda::fp32_lanes_per_sm(8, 0) == 64);
    CHECK(cuda::fp32_lanes_per_sm(8, 6) == 128);
    CHECK(cuda::fp32_lanes_per_sm(3, 5) == 0);
    CHECK(cuda::peak_fp32(132, 0, 1980000) == 0);
}

TEST_CASE("the driver's device names find the table's parts by whole words", "[core][cuda-host]") {
    auto key = [](const char* name) -> std::string {
        const plan::known_device* k = plan::find_known_part(name);
        return k ? std::string(k->key) : std::string("none");
    };
    CHECK(key("NVIDIA H200") == "h200");
    CHECK(key("NVIDIA GeForce RTX 4090") == "rtx4090");
    CHECK(key("NVIDIA GeForce RTX 5060 Ti") == "rtx5060ti");
    CHECK(key("NVIDIA GeForce RTX 5060 Ti 16GB") == "rtx5060ti");
    CHECK(key("nvidia geforce rtx 5060 ti") == "rtx5060ti");
    CHECK(key("NVIDIA GH200 480GB") == "none");
    CHECK(key("NVIDIA H200 NVL") == "none");
    CHECK(key("NVIDIA GeForce RTX 5060") == "none");
    CHECK(key("NVIDIA H100 80GB HBM3") == "none");
    CHECK(key("") == "none");
}

TEST_CASE("a detected device becomes the planner's device_spec", "[core][cuda-host]") {
    cuda::device_info info;
    info.index = 1;
    info.major = 9;
    info.minor = 0;
    info.free_bytes = 100 * plan::gib;
    info.total_bytes = 140 * plan::gib;
    info.memory_clock_khz = 2619000;
    info.bus_width_bits = 5120;
    info.sm_count = 132;
    info.clock_khz = 1980000;
    CHECK(info.compute_capability() == 90);

    SECTION("a known part takes the table's rates") {
        info.name = "NVIDIA H200";
        const plan::device_spec d = plan::to_device_spec(info);
        CHECK(d.kind == plan::device_kind::cuda);
        CHECK(d.name == "CUDA1");
        CHECK(d.model == "NVIDIA H200");
        CHECK(d.free_bytes == 100 * plan::gib);
        CHECK(d.total_bytes == 140 * plan::gib);
        CHECK(d.bandwidth == plan::find_known_gpu("h200")->bandwidth);
        CHECK(d.flops == plan::find_known_gpu("h200")->flops);
        CHECK(contains(d.source, "detected"));
        CHECK(contains(d.source, "table"));
        CHECK(d.is_accelerator());
    }
    SECTION("another part is priced from its properties") {
        info.name = "NVIDIA H100 80GB HBM3";
        const plan::device_spec d = plan::to_device_spec(info);
        CHECK(d.name == "CUDA1");
        CHECK(d.bandwidth == Approx(3.352e12).epsilon(1e-3));
        CHECK(d.flops == Approx(66.9e12).epsilon(1e-3));
        CHECK(contains(d.source, "device properties"));
    }
}

TEST_CASE("the device arena's bookkeeping: aligned pieces, no growth", "[core][cuda-host]") {
    const cuda::arena_budget b{.weights = 1000, .kv = 256, .compute = 1, .overhead = 0};
    CHECK(b.sum() == 1257);
    CHECK(b.capacity() == 1280);
    CHECK(cuda::arena_budget{}.capacity() == 0);

    cuda::detail::bump book("CUDA0", b.capacity());
    CHECK(book.take(1000, "weights") == 0);
    CHECK(book.take(1, "kv") == 1024);
    CHECK(book.used() == 1280);
    try {
        (void)book.take(1, "compute");
        FAIL("an exhausted arena handed out a piece");
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::memory);
        CHECK(contains(e.message(), "CUDA0: compute needs 256 bytes, 0 of its 1280 are left"));
    }
    CHECK_THROWS_AS(book.take(~std::uint64_t{0}, "huge"), strata::error);  // the rounding must not wrap
}

TEST_CASE("an arena that does not fit quotes the plan's numbers and the driver's", "[core][cuda-host]") {
    const cuda::arena_budget b{.weights = 3 * plan::gib, .kv = 512 * plan::mib, .compute = 300 * plan::mib, .overhead = 12345};
    const std::string m = cuda::detail::out_of_memory_message("CUDA0", b, "cudaErrorMemoryAllocation (out of memory)",
                                                              2 * plan::gib, 16 * plan::gib);
    CHECK(contains(m, "CUDA0: the plan's device arena of " + std::to_string(b.capacity()) + " B"));
    CHECK(contains(m, "weights 3221225472 B (3.00 GiB)"));
    CHECK(contains(m, "KV cache 536870912 B (512.0 MiB)"));
    CHECK(contains(m, "compute 314572800 B (300.0 MiB)"));
    CHECK(contains(m, "overhead 12345 B"));
    CHECK(contains(m, "cudaMalloc: cudaErrorMemoryAllocation (out of memory)"));
    CHECK(contains(m, "2147483648 B (2.00 GiB) free of 17179869184 B (16.00 GiB)"));
}
