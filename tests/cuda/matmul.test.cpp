// cuda::matmul against cpu::matmul at isa scalar on fresh random data, for f32, f16, bf16, q4_0,
// q8_0, q4_k, q6_k and mxfp4 weights and n in {1, 3, 8, 9, 64, 300} tokens (every path: matvec,
// the batched matvec, the GEMMs), 257 rows (not a multiple of anything), outputs poisoned:
//   matvec paths: the same F::dot per block as the CPU, summed in another order: kernels.test's
//                 matvec budgets;
//   gemm_f16:     8-bit activations on the CPU against half ones on the GPU, W rounded to half:
//                 the budgets of matmul_all.hpp, measured by tests/cpu/cuda_matmul_plan.test.cpp;
//                 and, tightly, the host emulation of the path's own arithmetic;
//   gemm_f32:     FP32 both sides.
// Plus: too little scratch is a clear error; and "timing: matmul ..." lines (the GPU script
// greps them) for a 4096 x 4096 Q4_K matrix, decode (GB/s of weights) and a 512-token prefill
// (TFLOP/s). Without a GPU every test WARNs and passes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cpu/helpers.hpp"
#include "cuda/dequantize_all.hpp"
#include "cuda/support.hpp"
#include "cuda/matmul_all.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cuda/matmul.hpp"
#include "strata/core/error.hpp"
#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

using namespace strata;

using strata_test::nerr;

namespace {

using matmul_formats = std::tuple<f32, f16, bf16, q4_0, q8_0, q4_k, q6_k, mxfp4>;

// The matvec paths' budgets, as kernels.test.cpp's matvec (the same per-block dots).
template <class F>
constexpr double matvec_budget = F::block_elems == 1 ? 5e-6 : 1e-6;

template <class F>
constexpr double gemm_budget() {
    using strata_test::gemm_budget_q8_0_act, strata_test::gemm_budget_q8k_act;
    if constexpr (F::type == ggml_type::f32) return strata_test::gemm_budget_f32;
    else if constexpr (F::type == ggml_type::f16) return strata_test::gemm_budget_f16;
    else if constexpr (F::type == ggml_type::bf16) return strata_test::gemm_budget_bf16;
    else return F::dot_format::type == ggml_type::q8_k ? gemm_budget_q8k_act : gemm_budget_q8_0_act;
}

template <class F>
std::vector<unsigned char> random_matrix(std::int64_t rows, std::int64_t k, std::size_t row_bytes, std::uint32_t seed) {
    std::vector<unsigned char> w(row_bytes * std::size_t(rows), 0);
    for (std::int64_t r = 0; r < rows; ++r) {
        const auto x = strata_test::random_normal(std::size_t(k), seed + std::uint32_t(r));
        quantize_row<F>(x.data(), w.data() + std::size_t(r) * row_bytes, std::size_t(k));
    }
    return w;
}

std::uint32_t fresh_seed() { return std::random_device{}(); }

}  // namespace

TEMPLATE_LIST_TEST_CASE("cuda matmul agrees with cpu::matmul on every path", "[cuda][matmul]", matmul_formats) {
    using F = TestType;
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t rows = 257, k = 1024;
    const std::int64_t n = GENERATE(1, 3, 8, 9, 64, 300);
    const std::size_t pad = GENERATE(std::size_t(0), std::size_t(64));
    const std::size_t rb = std::size_t(strata::row_bytes(F::type, std::uint64_t(k))) + pad;
    const std::uint32_t seed = fresh_seed();
    const cuda::matmul_path path = cuda::choose_matmul_path(F::type, n, rows, k);
    INFO(F::name << ", n " << n << ", pad " << pad << ", path " << cuda::path_name(path) << ", seed " << seed);
    const auto w = random_matrix<F>(rows, k, rb, seed);
    const auto x = strata_test::random_normal(std::size_t(n * k), seed ^ 0x9e3779b9u);

    cpu::backend be({.n_threads = 1, .level = cpu::isa::scalar});
    strata_test::aligned_bytes scratch(cpu::scratch_bytes(F::type, k, n));
    const cpu::weight_view wv{F::type, w.data(), rows, k, rb};
    std::vector<float> cpu_y(std::size_t(n * rows)), gpu_y(std::size_t(n * rows));
    cpu::matmul<all_formats>(be, wv, x.data(), n, cpu_y.data(), {scratch.data(), scratch.size()});

    std::string taken;
    REQUIRE_NOTHROW(taken = strata_test::cuda_matmul(F::type, w.data(), w.size(), rows, k, rb, x.data(), n, gpu_y.data()));
    CHECK(taken == cuda::path_name(path));
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    const bool gemm = path == cuda::matmul_path::gemm_f16 || path == cuda::matmul_path::gemm_f32;
    CHECK(e <= (gemm ? gemm_budget<F>() : matvec_budget<F>));
    if (path == cuda::matmul_path::gemm_f16) {  // and, tightly, against its own arithmetic
        const double ee = nerr(gpu_y, strata_test::emulate_gemm_f16<F>(w.data(), rows, k, rb, x.data(), n));
        INFO("error against the emulation " << ee);
        CHECK(ee <= strata_test::gemm_emulation_budget);
    }
}

TEST_CASE("cuda matmul with too little scratch is a clear error", "[cuda][matmul]") {
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t rows = 257, k = 1024;
    const std::int64_t n = GENERATE(3, 64);  // the batched matvec's activations; the GEMM's halves
    const std::size_t rb = std::size_t(strata::row_bytes(ggml_type::q4_k, std::uint64_t(k)));
    const auto w = random_matrix<q4_k>(rows, k, rb, 7);
    const auto x = strata_test::random_normal(std::size_t(n * k), 8);
    std::vector<float> y(std::size_t(n * rows));
    const std::size_t need = cuda::plan_matmul(ggml_type::q4_k, rows, k, n).scratch_bytes();
    REQUIRE(need > 256);
    try {
        strata_test::cuda_matmul(ggml_type::q4_k, w.data(), w.size(), rows, k, rb, x.data(), n, y.data(), need - 256);
        FAIL("no error");
    } catch (const strata::error& e) {
        CHECK(e.category() == errc::argument);
        CHECK_THAT(e.message(), Catch::Matchers::Contains("scratch holds " + std::to_string(need - 256) + " bytes") &&
                                    Catch::Matchers::Contains("needs " + std::to_string(need)));
    }
}

TEST_CASE("cuda matmul of a type not compiled in names it", "[cuda][matmul]") {
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t rows = 4, k = 256;
    const std::size_t rb = std::size_t(strata::row_bytes(ggml_type::q5_k, std::uint64_t(k)));
    const auto w = random_matrix<q5_k>(rows, k, rb, 3);
    const auto x = strata_test::random_normal(std::size_t(k), 4);
    std::vector<float> y(static_cast<std::size_t>(rows));
    try {
        strata_test::cuda_matmul(ggml_type::q5_k, w.data(), w.size(), rows, k, rb, x.data(), 1, y.data());
        FAIL("no error");
    } catch (const strata::error& e) {
        CHECK(e.category() == errc::unsupported);
        CHECK_THAT(e.message(), Catch::Matchers::Contains("q5_K"));
    }
}

TEST_CASE("cuda matmul timing of a 4096 x 4096 q4_k matrix", "[cuda][matmul]") {
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t rows = 4096, k = 4096;
    const std::size_t rb = std::size_t(strata::row_bytes(ggml_type::q4_k, std::uint64_t(k)));
    const auto w = random_matrix<q4_k>(rows, k, rb, 11);
    for (const std::int64_t n : {std::int64_t{1}, std::int64_t{8}, std::int64_t{512}}) {
        const auto x = strata_test::random_normal(std::size_t(n * k), 12);
        const double ms = strata_test::cuda_matmul_ms(ggml_type::q4_k, w.data(), w.size(), rows, k, rb, x.data(), n, 20);
        REQUIRE(ms > 0);
        const double s = ms * 1e-3;
        const auto path = cuda::path_name(cuda::choose_matmul_path(ggml_type::q4_k, n, rows, k));
        // decode reads W once: its bytes over the time; a GEMM is 2 n rows k FLOPs
        std::printf("timing: matmul q4_k 4096x4096 n=%d %.*s: %.4f ms, %.1f GB/s of weights, %.2f TFLOP/s\n", int(n),
                    int(path.size()), path.data(), ms, double(w.size()) / s * 1e-9,
                    2.0 * double(n) * double(rows) * double(k) / s * 1e-12);
    }
}
