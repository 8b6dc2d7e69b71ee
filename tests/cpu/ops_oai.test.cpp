// cpu::swiglu_oai (gpt-oss's gated activation) and cpu::layer_norm_rows against the formulas in
// double:
//   swiglu_oai: per value, to the float roundings of its six operations (the exp argument's
//               rounding grows with its size), over g and u well beyond the clamps (|x| <= 20);
//               at and beyond the clamps exactly the clamped value's result;
//   layer_norm: per row, normalised L2 error, on rows whose variance is near eps too, and the
//               rows form equal to the one-row form (in place as well) bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

#include "cpu/helpers.hpp"
#include "strata/backend/cpu/ops.hpp"

using namespace strata;

namespace {

constexpr float oai_alpha = 1.702f, oai_limit = 7.0f;  // gpt-oss's constants
constexpr double ulp_half = 5.9604644775390625e-8;     // 2^-24: a float rounding, relative

double swiglu_oai_ref(float g, float u, float alpha, float limit) {
    const double x = std::min(double(g), double(limit));
    const double l = std::clamp(double(u), -double(limit), double(limit));
    return x / (1.0 + std::exp(-double(alpha) * x)) * (l + 1.0);
}

using strata_test::uniform;

float swiglu_oai1(float g, float u) {
    float y = 0.0f;
    cpu::swiglu_oai(&g, &u, &y, 1, oai_alpha, oai_limit);
    return y;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("swiglu_oai agrees with its formula in double", "[cpu][ops]") {
    const std::uint32_t seed = std::random_device{}();
    INFO("seed " << seed);
    auto g = uniform(4000, -20.0f, 20.0f, seed);
    auto u = uniform(4000, -20.0f, 20.0f, seed + 1);
    // the clamps' edges and the offset's zero, against random partners
    const float edges[] = {7.0f, -7.0f, std::nextafter(7.0f, 0.0f), std::nextafter(7.0f, 8.0f), -1.0f, 0.0f, -0.0f};
    for (std::size_t i = 0; i < std::size(edges); ++i) {
        g[i] = edges[i];
        u[i + 10] = edges[i];
    }
    std::vector<float> y(g.size());
    cpu::swiglu_oai(g.data(), u.data(), y.data(), std::int64_t(g.size()), oai_alpha, oai_limit);
    for (std::size_t i = 0; i < g.size(); ++i) {
        const double ref = swiglu_oai_ref(g[i], u[i], oai_alpha, oai_limit);
        const double ax = std::abs(double(oai_alpha) * std::min(double(g[i]), double(oai_limit)));
        INFO("g " << g[i] << ", u " << u[i] << ", y " << y[i] << ", ref " << ref);
        // The rounding of alpha * g' (up to |alpha g'| 2^-24 absolute) is exp's relative error,
        // the rest are five roundings; seen: up to 40 of 2^-24 at g' = -19. A quarter margin.
        REQUIRE(std::abs(double(y[i]) - ref) <= (8.0 + 1.25 * ax) * ulp_half * std::abs(ref));
    }
}

TEST_CASE("swiglu_oai clamps exactly at the limits", "[cpu][ops]") {
    const float us[] = {-3.5f, 0.25f, 2.0f};
    for (const float u : us) {
        INFO("u " << u);
        const float at = swiglu_oai1(7.0f, u);
        CHECK(same_bits(swiglu_oai1(std::nextafter(7.0f, 8.0f), u), at));
        CHECK(same_bits(swiglu_oai1(20.0f, u), at));
        CHECK(swiglu_oai1(6.99f, u) != at);  // below the limit the gate counts
        // the gate has no lower clamp
        CHECK(swiglu_oai1(-8.0f, u) != swiglu_oai1(-7.0f, u));
    }
    const float gs[] = {-12.0f, -1.5f, 0.5f, 7.0f};
    for (const float g : gs) {
        INFO("g " << g);
        CHECK(same_bits(swiglu_oai1(g, 20.0f), swiglu_oai1(g, 7.0f)));
        CHECK(same_bits(swiglu_oai1(g, std::nextafter(7.0f, 8.0f)), swiglu_oai1(g, 7.0f)));
        CHECK(same_bits(swiglu_oai1(g, -20.0f), swiglu_oai1(g, -7.0f)));
        CHECK(swiglu_oai1(g, 6.99f) != swiglu_oai1(g, 7.0f));
        CHECK(swiglu_oai1(g, -1.0f) == 0.0f);  // u' + 1 = 0
        CHECK(swiglu_oai1(g, -7.0f) == swiglu_oai1(g, 0.0f) * -6.0f);  // (u' + 1) scales exactly here
    }
    CHECK(swiglu_oai1(7.0f, 7.0f) == float(swiglu_oai_ref(7.0f, 7.0f, oai_alpha, oai_limit)));
    CHECK(std::isnan(swiglu_oai1(NAN, 1.0f)));  // a NaN passes the clamps, as std::min keeps it
    CHECK(std::isnan(swiglu_oai1(1.0f, NAN)));
}

TEST_CASE("layer_norm_rows agrees with LayerNorm in double", "[cpu][ops]") {
    const bool gain = GENERATE(false, true);
    const bool bias = GENERATE(false, true);
    const std::uint32_t seed = std::random_device{}();
    INFO("gain " << gain << ", bias " << bias << ", seed " << seed);
    const std::int64_t n = 1000;
    // rows: (offset, sigma); the second row's variance (1e-4) is ten times eps
    const float rows[][2] = {{3.0f, 2.0f}, {-0.05f, 0.01f}, {0.0f, 50.0f}};
    const std::int64_t n_tokens = std::int64_t(std::size(rows));
    const float eps = 1e-5f;
    std::vector<float> x;
    for (std::int64_t t = 0; t < n_tokens; ++t)
        for (const float v : strata_test::random_normal(std::size_t(n), seed + std::uint32_t(t), rows[t][1]))
            x.push_back(rows[t][0] + v);
    const auto w = uniform(std::size_t(n), 0.5f, 2.0f, seed + 7);
    const auto b = uniform(std::size_t(n), -1.0f, 1.0f, seed + 8);
    const float* wp = gain ? w.data() : nullptr;
    const float* bp = bias ? b.data() : nullptr;

    std::vector<float> y(x.size());
    cpu::layer_norm_rows(x.data(), wp, bp, y.data(), n_tokens, n, eps);
    for (std::int64_t t = 0; t < n_tokens; ++t) {
        const float* xr = x.data() + t * n;
        double mean = 0, var = 0;
        for (std::int64_t i = 0; i < n; ++i) mean += xr[i];
        mean /= double(n);
        for (std::int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        const double inv = 1.0 / std::sqrt(var / double(n) + double(eps));
        double num = 0, den = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            double ref = (xr[i] - mean) * inv;
            if (gain) ref *= w[std::size_t(i)];
            if (bias) ref += b[std::size_t(i)];
            const double d = double(y[std::size_t(t * n + i)]) - ref;
            num += d * d;
            den += ref * ref;
        }
        INFO("row " << t << ", normalised error " << std::sqrt(num / den));
        CHECK(std::sqrt(num / den) <= 1e-6);  // seen <= 2.1e-7 (the float mean and scale)
    }

    // the rows form is the one-row op per row, and runs in place
    std::vector<float> one(x.size()), in_place = x;
    for (std::int64_t t = 0; t < n_tokens; ++t) cpu::layer_norm(x.data() + t * n, wp, bp, one.data() + t * n, n, eps);
    cpu::layer_norm_rows(in_place.data(), wp, bp, in_place.data(), n_tokens, n, eps);
    CHECK(std::memcmp(one.data(), y.data(), y.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(in_place.data(), y.data(), y.size() * sizeof(float)) == 0);
}
