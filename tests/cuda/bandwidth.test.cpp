// Measured copy rates (strata/backend/cuda/bandwidth.hpp), compiled by the host compiler with
// STRATA_CUDA_RUNTIME: the counting arithmetic and the argument checks on any machine; with a
// device, a positive finite device-to-device and pinned host-to-device figure, printed on the
// "gpu:" lines tests/gpu/run.sh collects.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

#include "strata/backend/cuda/bandwidth.hpp"
#include "strata/backend/cuda/device.hpp"

namespace cuda = strata::cuda;

TEST_CASE("copy rates count a device copy's read and write, a host copy's bytes once", "[cuda]") {
    CHECK(cuda::d2d_bytes_moved(1000) == 2000.0);
    CHECK(cuda::h2d_bytes_moved(1000) == 1000.0);
    CHECK(cuda::gb_per_s(2e9, 1000.0) == Approx(2.0));   // 2 GB in one second
    CHECK(cuda::gb_per_s(1e9, 0.5) == Approx(2000.0));   // 1 GB in half a millisecond
    CHECK(cuda::gb_per_s(1e9, 0.0) == 0.0);
    CHECK_THROWS_AS(cuda::measure_d2d_bandwidth(0, 0, 10), strata::error);
    CHECK_THROWS_AS(cuda::measure_h2d_bandwidth(0, 1 << 20, 0), strata::error);
}

TEST_CASE("the device's copy bandwidth and the host link's, measured", "[cuda]") {
    if (cuda::device_count() == 0) {
        WARN("no CUDA device: skipped");
        return;
    }
    CHECK_THROWS_AS(cuda::measure_d2d_bandwidth(cuda::device_count(), 1 << 20, 1), strata::error);
    int before = -1, after = -1;
    STRATA_CUDA_CHECK(cudaGetDevice(&before));
    const double d2d = cuda::measure_d2d_bandwidth(0);
    const double h2d = cuda::measure_h2d_bandwidth(0);
    CHECK(std::isfinite(d2d));
    CHECK(d2d > 0);
    CHECK(std::isfinite(h2d));
    CHECK(h2d > 0);
    // every copy crosses the link more slowly than the device's memory moves it
    CHECK(h2d < d2d);
    std::printf("gpu: d2d copy bandwidth %.1f GB/s (read + write, 256 MiB, best of 10)\n", d2d);
    std::printf("gpu: h2d pinned bandwidth %.1f GB/s (256 MiB, best of 10)\n", h2d);
    STRATA_CUDA_CHECK(cudaGetDevice(&after));
    CHECK(after == before);  // the thread's current device is left as found
}
