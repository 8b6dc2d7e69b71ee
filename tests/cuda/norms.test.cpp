// kernels::layer_norm and kernels::swiglu_oai against the CPU's ops (cpu::layer_norm_rows,
// cpu::swiglu_oai) on fresh random data, outputs poisoned (NaN) before each run:
//   layer_norm: the same float roundings; the double sums in another order can move a float
//               mean or scale by a last-bit tie, no more;
//   swiglu_oai: to the device's expf (within 2 ulp), the clamps exactly.
// Errors are normalised as in kernels.test.cpp: sqrt(sum (gpu - cpu)^2 / sum cpu^2), a NaN
// anywhere fails. Without a GPU every test WARNs and passes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "cpu/helpers.hpp"
#include "cuda/dequantize_all.hpp"
#include "cuda/support.hpp"
#include "cuda/norms_all.hpp"
#include "strata/backend/cpu/ops.hpp"

using namespace strata;

using strata_test::nerr;

namespace {

using strata_test::uniform;

std::uint32_t fresh_seed() { return std::random_device{}(); }

}  // namespace

TEST_CASE("device layer_norm agrees with the CPU's", "[cuda][cpu]") {
    STRATA_TEST_NEEDS_GPU();
    const bool gain = GENERATE(false, true);
    const bool bias = GENERATE(false, true);
    const bool in_place = GENERATE(false, true);
    const std::int64_t n = GENERATE(std::int64_t(384), std::int64_t(1000));  // MiniLM's width; not a multiple of 256
    const std::int64_t n_tokens = 5;
    const std::uint32_t seed = fresh_seed();
    INFO("gain " << gain << ", bias " << bias << ", in place " << in_place << ", n " << n << ", seed " << seed);
    // an offset and a spread per row, the last row's variance near eps
    const float offsets[] = {0.0f, 3.0f, -20.0f, 0.5f, -0.05f};
    const float sigmas[] = {1.0f, 2.0f, 50.0f, 0.2f, 0.01f};
    std::vector<float> x;
    for (std::int64_t t = 0; t < n_tokens; ++t)
        for (const float v : strata_test::random_normal(std::size_t(n), seed + std::uint32_t(t), sigmas[t]))
            x.push_back(offsets[t] + v);
    const auto w = uniform(std::size_t(n), 0.5f, 2.0f, seed + 7);
    const auto b = uniform(std::size_t(n), -1.0f, 1.0f, seed + 8);
    const float* wp = gain ? w.data() : nullptr;
    const float* bp = bias ? b.data() : nullptr;

    std::vector<float> cpu_y(x.size()), gpu_y(x.size());
    cpu::layer_norm_rows(x.data(), wp, bp, cpu_y.data(), n_tokens, n, 1e-5f);
    REQUIRE(strata_test::cuda_layer_norm(x.data(), wp, bp, gpu_y.data(), n_tokens, n, 1e-5f, in_place).empty());
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    CHECK(e <= 1e-6);  // a missed gain, bias or eps, or a wrong mean, is >= 1e-3
}

TEST_CASE("device swiglu_oai agrees with the CPU's", "[cuda][cpu]") {
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t n = 5000;
    const float alpha = 1.702f, limit = 7.0f;  // gpt-oss's
    const std::uint32_t seed = fresh_seed();
    INFO("seed " << seed);
    auto g = uniform(std::size_t(n), -20.0f, 20.0f, seed);  // well beyond the clamps
    auto u = uniform(std::size_t(n), -20.0f, 20.0f, seed + 1);
    const float edges[] = {limit, -limit, std::nextafter(limit, 0.0f), std::nextafter(limit, 8.0f), -1.0f, 0.0f};
    for (std::size_t i = 0; i < std::size(edges); ++i) {
        g[i] = edges[i];
        u[i + 10] = edges[i];
    }
    std::vector<float> cpu_y(static_cast<std::size_t>(n)), gpu_y(static_cast<std::size_t>(n));
    cpu::swiglu_oai(g.data(), u.data(), cpu_y.data(), n, alpha, limit);
    REQUIRE(strata_test::cuda_swiglu_oai(g.data(), u.data(), gpu_y.data(), n, alpha, limit).empty());
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    CHECK(e <= 1e-6);  // expf; a missed clamp or offset is >= 1e-2
    // beyond the limits the result is the clamped input's, to the bit on both sides
    const std::vector<float> gc = {limit, 20.0f, 3.0f, 3.0f}, uc = {2.0f, 2.0f, limit, 20.0f};
    std::vector<float> yc(gc.size());
    REQUIRE(strata_test::cuda_swiglu_oai(gc.data(), uc.data(), yc.data(), std::int64_t(gc.size()), alpha, limit).empty());
    CHECK(yc[0] == yc[1]);
    CHECK(yc[2] == yc[3]);
}
