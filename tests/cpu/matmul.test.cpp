// cpu::matmul for every format, at every kernel level this machine runs, on 1..4 threads,
// gemv and gemm (1..9 and 70 tokens), odd shapes: against a double-precision oracle of the
// dequantized weights times the quantized-then-dequantized activations, against the scalar
// path, and bit-for-bit against itself across thread counts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "cpu/helpers.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/quant/row.hpp"

using namespace strata;

namespace {

using all_tuple = std::tuple<f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_k, q3_k, q4_k, q5_k, q6_k, q8_k,
                             iq4_nl, iq4_xs, mxfp4>;

// Formats with SIMD kernels; the others run the policy's dot at every level, so their results
// must not depend on the level at all.
template <class F>
constexpr bool has_simd = std::is_same_v<F, f32> || std::is_same_v<F, f16> || std::is_same_v<F, q4_0> ||
                          std::is_same_v<F, q5_0> || std::is_same_v<F, q8_0> || std::is_same_v<F, q4_k> ||
                          std::is_same_v<F, q5_k> || std::is_same_v<F, q6_k> || std::is_same_v<F, iq4_nl> ||
                          std::is_same_v<F, mxfp4> || std::is_same_v<F, q2_k> || std::is_same_v<F, q3_k> ||
                          std::is_same_v<F, iq4_xs> || std::is_same_v<F, bf16> || std::is_same_v<F, q4_1> ||
                          std::is_same_v<F, q5_1>;

// The activation the kernels see, as the format policy that converts it (f32 for F32/F16).
template <class F>
using act_format = std::conditional_t<std::is_same_v<F, f32> || std::is_same_v<F, f16>, f32, typename F::dot_format>;

constexpr double u = 0x1p-24;  // float's unit roundoff

template <class F>
struct problem {
    std::int64_t rows, k, n_tokens;
    std::size_t stride;          // bytes between weight rows (>= one row)
    std::vector<std::uint8_t> w;
    std::vector<float> x;
    std::vector<double> oracle;  // n_tokens x rows
    std::vector<double> tol;     // the bound each output must meet
    std::vector<double> tol_ref; // the bound between two levels: float rounding of the sums only

    problem(std::int64_t rows_, std::int64_t k_, std::int64_t n_tokens_, std::size_t pad, std::uint32_t seed)
        : rows(rows_), k(k_), n_tokens(n_tokens_), stride(row_bytes(F::type, static_cast<std::uint64_t>(k_)) + pad) {
        using A = act_format<F>;
        const auto n = static_cast<std::size_t>(k);
        const auto wf = strata_test::random_normal(static_cast<std::size_t>(rows) * n, seed);
        x = strata_test::random_normal(static_cast<std::size_t>(n_tokens) * n, seed + 1);
        w.assign(static_cast<std::size_t>(rows) * stride, 0xee);
        std::vector<float> wd(static_cast<std::size_t>(rows) * n), xd(x.size());
        for (std::int64_t r = 0; r < rows; ++r) {
            quantize_row<F>(wf.data() + r * k, w.data() + r * stride, n);
            dequantize_row<F>(w.data() + r * stride, wd.data() + r * k, n);
        }
        std::vector<std::uint8_t> xq(n / A::block_elems * A::block_bytes);
        for (std::int64_t t = 0; t < n_tokens; ++t) {
            // the activations as the backend quantizes them (Q8_0, Q8_1: ggml-cpu's run-time rounding)
            if constexpr (std::is_same_v<A, q8_0>) {
                cpu::detail::quantize_row_q8_0_act_ref(x.data() + t * k, xq.data(), k);
            } else if constexpr (std::is_same_v<A, q8_1>) {
                cpu::detail::quantize_row_q8_1_act_ref(x.data() + t * k, xq.data(), k);
            } else {
                quantize_row<A>(x.data() + t * k, xq.data(), n);
            }
            dequantize_row<A>(xq.data(), xd.data() + t * k, n);
            for (std::int64_t r = 0; r < rows; ++r) add_oracle(wd.data() + r * k, xd.data() + t * k, xq.data(), r);
        }
    }

    // Integer sums inside a block are exact. What is rounded: each block's scale products
    // (a few ulps of the block's terms, which for formats with a min can be up to about three
    // times max|w| per element), and the float sum over blocks and SIMD lanes — the recursive
    // summation bound (nb + lanes) u sum|terms|. Two kernel levels see the same quantized
    // blocks (Q8_1's rounded s included), so between them only the last part applies.
    void add_oracle(const float* wr, const float* xr, const std::uint8_t* xq, std::int64_t r) {
        constexpr std::size_t be = F::block_elems;
        const auto nb = static_cast<std::size_t>(k) / be;
        double dot = 0, mag = 0, extra = 0;
        for (std::size_t b = 0; b < nb; ++b) {
            double wmax = 0, xsum = 0;
            for (std::size_t i = b * be; i < (b + 1) * be; ++i) {
                dot += double(wr[i]) * double(xr[i]);
                wmax = std::fmax(wmax, std::fabs(double(wr[i])));
                xsum += std::fabs(double(xr[i]));
            }
            mag += 3.0 * wmax * xsum;
        }
        if constexpr (std::is_same_v<act_format<F>, q8_1> && !std::is_same_v<F, q8_1>) {
            // Q8_1 carries s = d * sum(qs) rounded to fp16, from the unrounded d, and the min term
            // m_w * s uses it: two fp16 roundings (2^-11 each) away from the dequantized sum
            const auto* wb = reinterpret_cast<const typename F::block*>(w.data() + r * stride);
            const auto* ab = reinterpret_cast<const q8_1::block*>(xq);
            for (std::size_t b = 0; b < nb; ++b) extra += 0x1p-10 * std::fabs(double(to_float(wb[b].m)) * to_float(ab[b].s));
        }
        oracle.push_back(dot);
        tol_ref.push_back(2.0 * u * double(nb + 64) * mag + 1e-30);
        tol.push_back(tol_ref.back() + extra);
    }

    double at(std::int64_t t, std::int64_t r) const { return oracle[static_cast<std::size_t>(t * rows + r)]; }
    double tol_at(std::int64_t t, std::int64_t r) const { return tol[static_cast<std::size_t>(t * rows + r)]; }
    double tol_ref_at(std::int64_t t, std::int64_t r) const { return tol_ref[static_cast<std::size_t>(t * rows + r)]; }

    cpu::weight_view view() const { return {F::type, w.data(), rows, k, stride}; }
};

template <class F>
std::vector<float> run(const cpu::backend& be, const problem<F>& p) {
    const auto v = p.view();
    strata_test::aligned_bytes scratch(cpu::scratch_bytes(v.type, v.k, p.n_tokens));
    std::vector<float> y(static_cast<std::size_t>(p.n_tokens * p.rows), std::numeric_limits<float>::quiet_NaN());
    cpu::matmul<all_formats>(be, v, p.x.data(), p.n_tokens, y.data(), {scratch.data(), scratch.size()});
    return y;
}

// Checks y against the oracle and the scalar result (within the bound of float rounding alone);
// returns the number of outputs out of bounds, reporting the first.
template <class F>
int count_bad(const problem<F>& p, const std::vector<float>& y, const std::vector<float>& y_scalar, const char* what) {
    int bad = 0;
    for (std::int64_t t = 0; t < p.n_tokens; ++t) {
        for (std::int64_t r = 0; r < p.rows; ++r) {
            const double got = y[static_cast<std::size_t>(t * p.rows + r)];
            const double ref = y_scalar[static_cast<std::size_t>(t * p.rows + r)];
            const double tol = p.tol_at(t, r), tol_ref = p.tol_ref_at(t, r);
            const bool ok = std::isfinite(got) && std::fabs(got - p.at(t, r)) <= tol && std::fabs(got - ref) <= 2 * tol_ref;
            if (!ok && bad++ == 0) {
                UNSCOPED_INFO(F::name << " " << what << ": rows " << p.rows << " k " << p.k << " tokens " << p.n_tokens
                                      << ": y[" << t << "][" << r << "] = " << got << ", oracle " << p.at(t, r)
                                      << ", scalar " << ref << ", tolerance " << tol << " (vs scalar " << 2 * tol_ref << ")");
            }
        }
    }
    return bad;
}

struct backends {
    std::vector<std::unique_ptr<cpu::backend>> all;  // (level, threads 1..4)
    backends() {
        for (const auto level : strata_test::levels())
            for (int t = 1; t <= 4; ++t) all.push_back(std::make_unique<cpu::backend>(cpu::backend_options{t, level}));
    }
};

template <class F>
void check_all(const backends& bes, const problem<F>& p) {
    const auto& scalar1 = *bes.all.front();
    REQUIRE(scalar1.level() == cpu::isa::scalar);
    const auto y_scalar = run(scalar1, p);
    std::vector<float> y_level_1thread;
    for (const auto& be : bes.all) {
        const auto y = run(*be, p);
        const std::string what = std::string(to_string(be->level())) + " x" + std::to_string(be->n_threads());
        CHECK(count_bad(p, y, y_scalar, what.c_str()) == 0);
        if (be->n_threads() == 1) {
            y_level_1thread = y;
        } else {
            INFO(F::name << " " << what << ": differs from one thread at the same level");
            CHECK(std::memcmp(y.data(), y_level_1thread.data(), y.size() * sizeof(float)) == 0);
        }
        if constexpr (!has_simd<F>) {
            INFO(F::name << " " << what << ": portable kernel differs from the scalar level");
            CHECK(std::memcmp(y.data(), y_scalar.data(), y.size() * sizeof(float)) == 0);
        }
    }
}

template <class F>
std::vector<std::int64_t> k_values() {
    if constexpr (F::block_elems == 1) return {1, 13, 200};  // plain floats: vector tails
    else return {F::block_elems, 2 * F::block_elems, 7 * F::block_elems};
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("matmul matches the oracle at every level, thread count and token count", "[cpu][matmul]", all_tuple) {
    using F = TestType;
    const backends bes;
    const auto seed = std::random_device{}();
    INFO(F::name << " seed " << seed);
    std::uint32_t s = seed;
    for (const std::int64_t rows : {1, 5, 33, 70}) {
        for (const std::int64_t k : k_values<F>()) {
            for (std::int64_t n_tokens = 1; n_tokens <= 9; ++n_tokens) {
                const std::size_t pad = rows == 33 ? 64 : 0;  // a padded row stride
                check_all(bes, problem<F>(rows, k, n_tokens, pad, s += 7));
            }
        }
    }
}

TEMPLATE_LIST_TEST_CASE("gemm across token and row tile boundaries", "[cpu][matmul]", all_tuple) {
    using F = TestType;
    const backends bes;
    const auto seed = std::random_device{}();
    INFO(F::name << " seed " << seed);
    check_all(bes, problem<F>(45, F::block_elems == 1 ? 77 : 2 * F::block_elems, 70, 0, seed));
}

TEST_CASE("scratch_bytes is the padded activation rows, none for float weights", "[cpu][matmul]") {
    CHECK(cpu::scratch_bytes(ggml_type::f32, 640, 7) == 0);
    CHECK(cpu::scratch_bytes(ggml_type::f16, 640, 7) == 0);
    // Q8_0 rows: the blocks (20 * 34 = 680 bytes, padded to 704), then 20 float scales and 20
    // int32 sums (each padded to 128)
    CHECK(cpu::scratch_bytes(ggml_type::q8_0, 640, 1) == 704 + 128 + 128);
    CHECK(cpu::scratch_bytes(ggml_type::q4_0, 2048, 3) == 3 * (2176 + 256 + 256));
    CHECK(cpu::scratch_bytes(ggml_type::q4_k, 2048, 2) == 2 * 2368);  // 8 * 292 = 2336
    CHECK(cpu::scratch_bytes(ggml_type::q5_1, 64, 1) == 128);          // 2 * 36 = 72
    CHECK(cpu::scratch_bytes(ggml_type::bf16, 33, 1) == 128);
    CHECK_THROWS_AS(cpu::scratch_bytes(ggml_type::iq2_xxs, 256, 1), strata::error);
}

TEST_CASE("matmul rejects what it cannot compute", "[cpu][matmul]") {
    cpu::backend be({2, std::nullopt});
    const problem<q4_k> p(3, 256, 2, 0, 1);
    std::vector<float> y(6);
    strata_test::aligned_bytes scratch(cpu::scratch_bytes(ggml_type::q4_k, 256, 2) + 64);
    const std::span<std::byte> s{scratch.data(), scratch.size()};
    const auto category = [&](auto&& fn) {
        try {
            fn();
        } catch (const strata::error& e) {
            return e.category();
        }
        return errc::internal;
    };
    CHECK(category([&] { cpu::matmul<formats<q8_0, q6_k>>(be, p.view(), p.x.data(), 2, y.data(), s); }) == errc::unsupported);
    CHECK(category([&] { cpu::matmul<all_formats>(be, p.view(), p.x.data(), 2, y.data(), s.first(100)); }) == errc::argument);
    CHECK(category([&] { cpu::matmul<all_formats>(be, p.view(), p.x.data(), 2, y.data(), s.subspan(4)); }) == errc::argument);
    auto odd = p.view();
    odd.k = 200;
    CHECK(category([&] { cpu::matmul<all_formats>(be, odd, p.x.data(), 2, y.data(), s); }) == errc::argument);
    auto thin = p.view();
    thin.row_bytes = 100;
    CHECK(category([&] { cpu::matmul<all_formats>(be, thin, p.x.data(), 2, y.data(), s); }) == errc::argument);
    CHECK(category([&] { cpu::matmul<all_formats>(be, p.view(), p.x.data(), 0, y.data(), s); }) == errc::argument);
}
