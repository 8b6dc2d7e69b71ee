// tests/quant/act_data.hpp — activations for the tests of the activation quantizers (on the CPU
// in tests/quant/act_quant.test.cpp, on the device in tests/cuda/kernels.test.cpp), so that both
// see the same hard cases.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace strata_test {

// n values, blocks of `block`: normal data of varied scale, or exact ties (amax = 127 s, so the
// inverse scales are 1/s exactly and every other value (k + 0.5) s is a tie, where ties-to-even
// and ties-away differ), zero blocks, and blocks whose largest magnitude appears with both signs
// (Q8_K must keep the first).
inline std::vector<float> act_data(std::size_t n, std::size_t block, bool ties, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_int_distribution<int> q(-127, 126), e(-10, 10), pos(1, int(block) - 1);
    std::vector<float> x(n);
    for (std::size_t b = 0; b < n / block; ++b) {
        float* v = x.data() + b * block;
        const float s = std::ldexp(1.0f, e(rng));
        if (b % 17 == 5) {
            for (std::size_t i = 0; i < block; ++i) v[i] = 0.0f;
        } else if (ties) {
            for (std::size_t i = 0; i < block; ++i) v[i] = (float(q(rng)) + 0.5f) * s;
            v[pos(rng)] = (rng() & 1 ? 127.0f : -127.0f) * s;
        } else {
            for (std::size_t i = 0; i < block; ++i) v[i] = nd(rng) * s;
        }
        if (b % 13 == 7) {  // the largest magnitude twice, with opposite signs
            const float m = 200.0f * s;
            v[1] = -m;
            v[block - 2] = m;
        }
    }
    return x;
}

}  // namespace strata_test
