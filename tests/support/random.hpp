// Random test data from a fixed seed: the same values on every machine and standard library
// that implements mt19937 and the distributions alike (libstdc++ in CI).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace strata_test {

// n values from N(0, sigma^2).
inline std::vector<float> random_normal(std::size_t n, std::uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    return v;
}

// n values uniform in [lo, hi).
inline std::vector<float> uniform(std::size_t n, float lo, float hi, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> ud(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = ud(rng);
    return v;
}

}  // namespace strata_test
