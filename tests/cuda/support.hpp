// tests/cuda/support.hpp — what every [cuda] test file shares: the skip without a device and the
// error measure.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "cuda/dequantize_all.hpp"

// Without a CUDA device the test WARNs and passes (CI has none); tests/gpu/run.sh fails a run
// where nvidia-smi sees a GPU and a test still says this.
#define STRATA_TEST_NEEDS_GPU()                    \
    do {                                           \
        if (!strata_test::cuda_device_present()) { \
            WARN("no CUDA device: skipped");       \
            return;                                \
        }                                          \
    } while (0)

namespace strata_test {

// sqrt(sum (gpu - cpu)^2 / sum cpu^2); infinity if gpu holds a NaN (a poisoned value never
// written).
inline double nerr(const std::vector<float>& gpu, const std::vector<float>& cpu) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < cpu.size(); ++i) {
        if (std::isnan(gpu[i])) return std::numeric_limits<double>::infinity();
        const double d = double(gpu[i]) - double(cpu[i]);
        num += d * d;
        den += double(cpu[i]) * double(cpu[i]);
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace strata_test
