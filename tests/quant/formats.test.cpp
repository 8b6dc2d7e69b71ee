// Every format against the reference (ggml's C functions, see tools/reference/quant_goldens.py):
// dequantization bit-exact, quantization byte-exact where the reference rounds plainly and no
// worse than it where it searches scales, round-trip error bounds and dot products on fresh
// random data.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "quant/golden.hpp"
#include "support/random.hpp"
#include "strata/quant/row.hpp"

#include "strata/quant/formats.hpp"
using all_tuple = std::tuple<strata::f32, strata::f16, strata::bf16, strata::q4_0, strata::q4_1, strata::q5_0,
                             strata::q5_1, strata::q8_0, strata::q8_1, strata::q2_k, strata::q3_k, strata::q4_k,
                             strata::q5_k, strata::q6_k, strata::q8_k, strata::iq4_nl, strata::iq4_xs, strata::mxfp4>;

using namespace strata;

namespace {

// The formats whose reference quantizer is plain rounding: ours must give the same bytes.
template <class F>
constexpr bool byte_exact_quantizer =
    std::is_same_v<F, f32> || std::is_same_v<F, f16> || std::is_same_v<F, bf16> ||
    std::is_same_v<F, q4_0> || std::is_same_v<F, q4_1> || std::is_same_v<F, q5_0> ||
    std::is_same_v<F, q5_1> || std::is_same_v<F, q8_0> || std::is_same_v<F, q8_1> ||
    std::is_same_v<F, q8_k> || std::is_same_v<F, mxfp4>;

// Round-trip error budget: normalised RMS error sqrt(sum (x - x')^2 / sum x^2) on standard
// normal data. Each is about 1.3x what the format reaches (measured), so a regression shows.
template <class F> constexpr double nrmse_budget = 0;
template <> constexpr double nrmse_budget<f32> = 0.0;
template <> constexpr double nrmse_budget<f16> = 2.7e-4;  // measured 2.08e-4
template <> constexpr double nrmse_budget<bf16> = 2.2e-3;  // measured 1.66e-3
template <> constexpr double nrmse_budget<q8_0> = 7.0e-3;  // measured 5.35e-3
template <> constexpr double nrmse_budget<q8_1> = 7.0e-3;  // measured 5.35e-3
template <> constexpr double nrmse_budget<q8_k> = 9.0e-3;  // measured 6.95e-3
template <> constexpr double nrmse_budget<q6_k> = 2.3e-2;  // measured 1.77e-2
template <> constexpr double nrmse_budget<q5_0> = 5.5e-2;  // measured 4.26e-2
template <> constexpr double nrmse_budget<q5_1> = 4.9e-2;  // measured 3.78e-2
template <> constexpr double nrmse_budget<q5_k> = 4.7e-2;  // measured 3.61e-2
template <> constexpr double nrmse_budget<q4_0> = 1.1e-1;  // measured 8.58e-2
template <> constexpr double nrmse_budget<q4_1> = 1.0e-1;  // measured 7.82e-2
template <> constexpr double nrmse_budget<q4_k> = 9.3e-2;  // measured 7.13e-2
template <> constexpr double nrmse_budget<iq4_nl> = 1.0e-1;  // measured 7.61e-2
template <> constexpr double nrmse_budget<iq4_xs> = 1.0e-1;  // measured 7.67e-2
template <> constexpr double nrmse_budget<mxfp4> = 1.5e-1;  // measured 0.115
template <> constexpr double nrmse_budget<q3_k> = 2.0e-1;  // measured 0.151
template <> constexpr double nrmse_budget<q2_k> = 3.9e-1;  // measured 0.297

using strata_test::random_normal;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b, std::size_t* first_diff) {
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::uint32_t x, y;
        std::memcpy(&x, &a[i], 4);
        std::memcpy(&y, &b[i], 4);
        if (x != y) { *first_diff = i; return false; }
    }
    return true;
}

template <class F>
std::vector<std::uint8_t> quantized(const float* x, std::size_t n) {
    std::vector<std::uint8_t> q(n / F::block_elems * F::block_bytes);
    quantize_row<F>(x, q.data(), n);
    return q;
}

template <class F>
std::vector<float> dequantized(const std::uint8_t* q, std::size_t n) {
    std::vector<float> y(n);
    dequantize_row<F>(q, y.data(), n);
    return y;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("dequantize is bit-exact with ggml", "[quant]", all_tuple) {
    using F = TestType;
    const auto g = strata_test::load_quant_golden(std::string(F::name), F::block_elems, F::block_bytes);
    REQUIRE(g.type == static_cast<std::uint32_t>(F::type));
    std::size_t at = 0;
    SECTION("the reference quantizer's blocks") {
        const auto y = dequantized<F>(g.quantized.data(), g.n());
        INFO(F::name << ": first difference at element " << at);
        CHECK(same_bits(y, g.dequantized, &at));
    }
    SECTION("random blocks (every bit pattern of the quants and scales)") {
        const auto y = dequantized<F>(g.rand_blocks.data(), std::size_t(g.n_rand_blocks) * F::block_elems);
        INFO(F::name << ": first difference at element " << at);
        CHECK(same_bits(y, g.rand_dequantized, &at));
    }
}

TEMPLATE_LIST_TEST_CASE("quantize agrees with ggml's reference quantizer", "[quant]", all_tuple) {
    using F = TestType;
    const auto g = strata_test::load_quant_golden(std::string(F::name), F::block_elems, F::block_bytes);
    const std::size_t row = g.n_per_row / F::block_elems * F::block_bytes;
    const auto q = quantized<F>(g.input.data(), g.n());
    std::size_t rows_equal = 0;
    double ours_total = 0, ref_total = 0;
    for (std::uint32_t r = 0; r < g.n_rows; ++r) {
        rows_equal += std::memcmp(q.data() + r * row, g.quantized.data() + r * row, row) == 0;
        const auto y = dequantized<F>(q.data() + r * row, g.n_per_row);
        double e = 0;
        for (std::uint32_t i = 0; i < g.n_per_row; ++i) {
            const double d = double(y[i]) - double(g.input[std::size_t(r) * g.n_per_row + i]);
            e += d * d;
        }
        ours_total += e;
        ref_total += g.sq_error[r];
    }
    INFO(F::name << ": " << rows_equal << "/" << g.n_rows << " rows byte-identical; squared error "
                 << ours_total << " vs reference " << ref_total);
    if constexpr (byte_exact_quantizer<F>) {
        CHECK(rows_equal == g.n_rows);
    } else {
        // Scale-searching quantizers: byte-identical, or no larger an error on the same data.
        CHECK((rows_equal == g.n_rows || ours_total <= ref_total));
    }
}

TEMPLATE_LIST_TEST_CASE("round trip stays inside the format's error budget", "[quant]", all_tuple) {
    using F = TestType;
    const std::size_t n = 64 * 256;
    const auto seed = std::random_device{}();
    INFO(F::name << " seed " << seed);
    const auto x = random_normal(n, seed);
    const auto y = dequantized<F>(quantized<F>(x.data(), n).data(), n);
    double num = 0, den = 0;
    for (std::size_t i = 0; i < n; ++i) {
        num += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        den += double(x[i]) * x[i];
    }
    const double nrmse = std::sqrt(num / den);
    INFO("normalised RMS error " << nrmse << ", budget " << nrmse_budget<F>);
    CHECK(nrmse <= nrmse_budget<F>);
    if constexpr (nrmse_budget<F> > 0) CHECK(nrmse > nrmse_budget<F> / 4);  // a budget that means something
}

TEMPLATE_LIST_TEST_CASE("dot against the activation format equals the dequantized dot", "[quant]", all_tuple) {
    using F = TestType;
    using A = typename F::dot_format;
    const std::size_t n = 16 * 256;
    const auto seed = std::random_device{}();
    INFO(F::name << " x " << A::name << " seed " << seed);
    const auto w = random_normal(n, seed);
    const auto x = random_normal(n, seed + 1);
    const auto wq = quantized<F>(w.data(), n);
    const auto xq = quantized<A>(x.data(), n);
    const auto wd = dequantized<F>(wq.data(), n);
    const auto xd = dequantized<A>(xq.data(), n);
    double oracle = 0, scale = 0;
    for (std::size_t i = 0; i < n; ++i) {
        oracle += double(wd[i]) * xd[i];
        scale += std::fabs(double(wd[i]) * xd[i]);
    }
    const float got = dot_row<F>(wq.data(), xq.data(), n);
    // Integer sums inside a block are exact; what differs from the oracle is the float rounding
    // of the scale products and of the running sum over blocks: the recursive-summation bound.
    double tol = 2.0 * 0x1p-24 * double(n / F::block_elems + 64) * scale;
    if constexpr (std::is_same_v<A, q8_1> && !std::is_same_v<F, q8_1>) {
        // Q8_1 carries s = d * sum(qs) rounded to fp16 (as llama.cpp stores it) and the min term
        // m_w * s uses it: that rounding (2^-11 relative) is part of the format's dot.
        const auto* wb = reinterpret_cast<const typename F::block*>(wq.data());
        const auto* ab = reinterpret_cast<const q8_1::block*>(xq.data());
        for (std::size_t b = 0; b < n / 32; ++b) tol += 0x1p-11 * std::fabs(double(to_float(wb[b].m)) * to_float(ab[b].s));
    }
    INFO("dot " << got << " oracle " << oracle << " tolerance " << tol);
    CHECK(std::fabs(double(got) - oracle) <= tol);
}
