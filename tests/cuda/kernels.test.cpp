// The decode kernels of kernels/ against the CPU backend on fresh random data, outputs poisoned
// (NaN) before each run:
//   quantize_act: byte for byte the CPU's activation quantizers (the same act_quant.hpp code;
//                 what crosses lanes is exact), on random data and on exact ties;
//   matvec:       cpu::matmul at isa::scalar (the same F::dot per block) to summation order;
//   elementwise:  cpu ops to the device's expf/tanhf/sincosf (add and scale exactly);
//   get_rows:     dequantize_row (the same F::dequantize) to an FMA's last bit.
// Errors are normalised: sqrt(sum (gpu - cpu)^2 / sum cpu^2), a NaN anywhere fails. Without a
// GPU every test WARNs and passes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "cpu/helpers.hpp"
#include "cuda/dequantize_all.hpp"
#include "cuda/kernels_all.hpp"
#include "cuda/support.hpp"
#include "quant/act_data.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cpu/moe.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

using namespace strata;
using strata_test::act_data;

using strata_test::nerr;

namespace {

using formats_tuple = std::tuple<f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_k, q3_k, q4_k, q5_k, q6_k,
                                 q8_k, iq4_nl, iq4_xs, mxfp4>;

// matvec's budget: the same per-block dots summed in another order (lane partials, then a
// butterfly) and with FMAs. An emulation of the kernel's order on the CPU measured, at k = 1024:
// quantized formats <= 1.3e-7 (each block's sum is exact in integers: only 32 or 4 float terms
// per row), f32/f16/bf16 <= 7.5e-7 (1024 float terms). A wrong block, activation or rounding
// mode would be >= 1e-3.
template <class F>
constexpr double matvec_budget = 1e-6;
template <> constexpr double matvec_budget<f32> = 5e-6;
template <> constexpr double matvec_budget<f16> = 5e-6;
template <> constexpr double matvec_budget<bf16> = 5e-6;

using strata_test::uniform;

// rows x k of F from standard normal values, rows row_bytes apart (padding zeroed).
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

TEST_CASE("device activation quantization equals the CPU's, byte for byte", "[cuda][quant]") {
    STRATA_TEST_NEEDS_GPU();
    const bool ties = GENERATE(false, true);
    const std::uint32_t seed = fresh_seed();
    INFO("ties " << ties << ", seed " << seed);
    SECTION("q8_0") {
        const std::size_t nb = 300;
        const auto x = act_data(nb * 32, 32, ties, seed);
        std::vector<q8_0::block> cpu(nb), gpu(nb);
        cpu::detail::quantize_row_q8_0_act_ref(x.data(), cpu.data(), std::int64_t(nb * 32));
        REQUIRE(strata_test::cuda_quantize_act(ggml_type::q8_0, x.data(), std::int64_t(nb * 32), gpu.data()).empty());
        CHECK(std::memcmp(cpu.data(), gpu.data(), nb * sizeof(q8_0::block)) == 0);
    }
    SECTION("q8_1") {
        const std::size_t nb = 300;
        const auto x = act_data(nb * 32, 32, ties, seed);
        std::vector<q8_1::block> cpu(nb), gpu(nb);
        cpu::detail::quantize_row_q8_1_act_ref(x.data(), cpu.data(), std::int64_t(nb * 32));
        REQUIRE(strata_test::cuda_quantize_act(ggml_type::q8_1, x.data(), std::int64_t(nb * 32), gpu.data()).empty());
        CHECK(std::memcmp(cpu.data(), gpu.data(), nb * sizeof(q8_1::block)) == 0);
    }
    SECTION("q8_k") {
        const std::size_t nb = 40;
        const auto x = act_data(nb * 256, 256, ties, seed);
        std::vector<q8_k::block> cpu(nb), gpu(nb);
        quantize_row<q8_k>(x.data(), cpu.data(), nb * 256);
        REQUIRE(strata_test::cuda_quantize_act(ggml_type::q8_k, x.data(), std::int64_t(nb * 256), gpu.data()).empty());
        CHECK(std::memcmp(cpu.data(), gpu.data(), nb * sizeof(q8_k::block)) == 0);
    }
}

TEMPLATE_LIST_TEST_CASE("device matvec agrees with cpu::matmul at isa scalar", "[cuda][quant]", formats_tuple) {
    using F = TestType;
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t rows = 67, k = 1024;  // rows: not a multiple of the warps per block
    const std::size_t pad = GENERATE(std::size_t(0), std::size_t(64));
    const std::size_t row_bytes = std::size_t(strata::row_bytes(F::type, std::uint64_t(k))) + pad;
    const std::uint32_t seed = fresh_seed();
    INFO(F::name << ", pad " << pad << ", seed " << seed);
    const auto w = random_matrix<F>(rows, k, row_bytes, seed);
    const auto x = strata_test::random_normal(std::size_t(k), seed ^ 0x9e3779b9u);

    cpu::backend be({.n_threads = 1, .level = cpu::isa::scalar});
    strata_test::aligned_bytes scratch(cpu::scratch_bytes(F::type, k, 1));
    const cpu::weight_view wv{F::type, w.data(), rows, k, row_bytes};
    std::vector<float> cpu_y(static_cast<std::size_t>(rows)), gpu_y(static_cast<std::size_t>(rows));
    cpu::matmul<all_formats>(be, wv, x.data(), 1, cpu_y.data(), {scratch.data(), scratch.size()});

    REQUIRE(strata_test::cuda_matvec(F::type, w.data(), w.size(), rows, k, row_bytes, x.data(), gpu_y.data()).empty());
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    CHECK(e <= matvec_budget<F>);
}

TEST_CASE("device rms_norm agrees with the CPU's", "[cuda][cpu]") {
    STRATA_TEST_NEEDS_GPU();
    const bool gain = GENERATE(false, true);
    const std::int64_t n_tokens = 3, n = 1000;  // n: not a multiple of the thread count
    const std::uint32_t seed = fresh_seed();
    INFO("gain " << gain << ", seed " << seed);
    const auto x = strata_test::random_normal(std::size_t(n_tokens * n), seed, 3.0f);
    const auto w = uniform(std::size_t(n), 0.5f, 2.0f, seed + 1);
    std::vector<float> cpu_y(x.size()), gpu_y(x.size());
    cpu::rms_norm_rows(x.data(), gain ? w.data() : nullptr, cpu_y.data(), n_tokens, n, 1e-6f);
    REQUIRE(strata_test::cuda_rms_norm(x.data(), gain ? w.data() : nullptr, gpu_y.data(), n_tokens, n, 1e-6f).empty());
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    CHECK(e <= 1e-6);
}

TEST_CASE("device rope agrees with the CPU's", "[cuda][cpu]") {
    STRATA_TEST_NEEDS_GPU();
    const bool neox = GENERATE(false, true);
    const bool factors = GENERATE(false, true);
    const float freq_scale = GENERATE(1.0f, 0.25f);
    const std::int64_t n_tokens = 3, n_heads = 4, head_dim = 80, n_rot = 64;  // a partial rotation
    const std::vector<std::int32_t> pos = {0, 17, 4001};
    const std::uint32_t seed = fresh_seed();
    INFO("neox " << neox << ", factors " << factors << ", freq_scale " << freq_scale << ", seed " << seed);
    const auto x = strata_test::random_normal(std::size_t(n_tokens * n_heads * head_dim), seed);
    const auto ff = uniform(std::size_t(n_rot / 2), 1.0f, 8.0f, seed + 1);

    std::vector<float> cpu_y = x, gpu_y(x.size());
    cpu::rope_params rp;
    rp.n_rot = n_rot;
    rp.base = 500000.0f;
    rp.freq_scale = freq_scale;
    rp.freq_factors = factors ? ff.data() : nullptr;
    rp.neox = neox;
    for (std::int64_t t = 0; t < n_tokens; ++t)
        for (std::int64_t h = 0; h < n_heads; ++h) cpu::rope(cpu_y.data() + (t * n_heads + h) * head_dim, pos[std::size_t(t)], rp);
    REQUIRE(strata_test::cuda_rope(x.data(), gpu_y.data(), n_tokens, n_heads, head_dim, pos.data(), n_rot, rp.base,
                                   freq_scale, rp.freq_factors, neox)
                .empty());
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    CHECK(e <= 1e-6);  // sincosf within 2 ulp of glibc's at the same angles
}

TEST_CASE("device gated activations, softcap, add and scale agree with the CPU's", "[cuda][cpu]") {
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t n = 5000;
    const std::uint32_t seed = fresh_seed();
    INFO("seed " << seed);
    const auto g = uniform(std::size_t(n), -12.0f, 12.0f, seed);  // beyond ±10 too (geglu's ends)
    const auto u = strata_test::random_normal(std::size_t(n), seed + 1);
    std::vector<float> cpu_y(static_cast<std::size_t>(n)), gpu_y(static_cast<std::size_t>(n));

    SECTION("swiglu") {
        cpu::swiglu(g.data(), u.data(), cpu_y.data(), n);
        REQUIRE(strata_test::cuda_swiglu(g.data(), u.data(), gpu_y.data(), n).empty());
        CHECK(nerr(gpu_y, cpu_y) <= 1e-6);  // expf
    }
    SECTION("geglu") {
        cpu::geglu(g.data(), u.data(), cpu_y.data(), n);
        REQUIRE(strata_test::cuda_geglu(g.data(), u.data(), gpu_y.data(), n).empty());
        // tanhf may flip an fp16 rounding now and then: one fp16 step (5e-4) in a few values
        const double e = nerr(gpu_y, cpu_y);
        INFO("normalised error " << e);
        CHECK(e <= 1e-4);
    }
    SECTION("softcap") {
        cpu_y = g;
        cpu::softcap(cpu_y.data(), n, 5.0f);
        REQUIRE(strata_test::cuda_softcap(g.data(), gpu_y.data(), n, 5.0f).empty());
        CHECK(nerr(gpu_y, cpu_y) <= 1e-6);  // tanhf
    }
    SECTION("add") {
        cpu_y = g;
        cpu::add(cpu_y.data(), u.data(), n);
        REQUIRE(strata_test::cuda_add(g.data(), u.data(), gpu_y.data(), n).empty());
        CHECK(nerr(gpu_y, cpu_y) == 0.0);
    }
    SECTION("scale") {
        cpu_y = g;
        cpu::scale(cpu_y.data(), n, 0.125f + 1e-3f);
        REQUIRE(strata_test::cuda_scale(g.data(), gpu_y.data(), n, 0.125f + 1e-3f).empty());
        CHECK(nerr(gpu_y, cpu_y) == 0.0);
    }
}

TEST_CASE("device MoE row moves equal the CPU's gather, scatter and rank-order sum, bit for bit", "[cuda][cpu][moe]") {
    STRATA_TEST_NEEDS_GPU();
    const int n_expert = 8, n_used = 2;
    const std::int64_t n = 37, len = 300;
    const std::uint32_t seed = fresh_seed();
    INFO("seed " << seed);
    const auto logits = strata_test::random_normal(std::size_t(n * n_expert), seed);
    const auto x = strata_test::random_normal(std::size_t(n * len), seed + 1);
    std::vector<std::int32_t> ids(std::size_t(n * n_used)), order(n_expert), offsets(n_expert + 1), grouped(ids.size());
    std::vector<float> w(ids.size()), probs(n_expert);
    cpu::route_top_k(logits.data(), n, n_expert, n_used, ids.data(), w.data(), probs.data(), order.data());
    cpu::group_slots_by_expert(ids.data(), n, n_used, n_expert, offsets.data(), grouped.data());
    // the CPU stage's moves, with the same doubling "expert"
    std::vector<float> xe(std::size_t(n * len)), ye(std::size_t(n * n_used * len)), want(std::size_t(n * len));
    std::vector<std::int32_t> slots(static_cast<std::size_t>(n));
    for (int e = 0; e < n_expert; ++e) {
        const std::int64_t m = cpu::gather_expert_rows(e, ids.data(), n, n_used, x.data(), len, slots.data(), xe.data());
        cpu::scale(xe.data(), m * len, 2.0f);
        cpu::scatter_expert_rows(xe.data(), m, slots.data(), w.data(), len, ye.data());
    }
    cpu::sum_slots(ye.data(), n, n_used, len, want.data());
    std::vector<float> got(want.size());
    REQUIRE(strata_test::cuda_moe_rows(x.data(), n, n_used, n_expert, len, grouped.data(), offsets.data(), w.data(), got.data()).empty());
    CHECK(nerr(got, want) == 0.0);
}

TEMPLATE_LIST_TEST_CASE("device get_rows equals dequantize_row", "[cuda][quant]", formats_tuple) {
    using F = TestType;
    STRATA_TEST_NEEDS_GPU();
    const std::int64_t n_rows = 10, k = 512;
    const std::size_t row_bytes = std::size_t(strata::row_bytes(F::type, std::uint64_t(k))) + 32;
    const std::uint32_t seed = fresh_seed();
    INFO(F::name << ", seed " << seed);
    const auto table = random_matrix<F>(n_rows, k, row_bytes, seed);
    const std::vector<std::int32_t> ids = {3, 0, 9, 3};
    const auto n_tokens = std::int64_t(ids.size());
    std::vector<float> cpu_y(static_cast<std::size_t>(n_tokens * k)), gpu_y(cpu_y.size());
    for (std::int64_t t = 0; t < n_tokens; ++t)
        dequantize_row<F>(table.data() + std::size_t(ids[std::size_t(t)]) * row_bytes, cpu_y.data() + t * k, std::size_t(k));
    REQUIRE(strata_test::cuda_get_rows(F::type, table.data(), table.size(), row_bytes, ids.data(), n_tokens, k, gpu_y.data())
                .empty());
    const double e = nerr(gpu_y, cpu_y);
    INFO("normalised error " << e);
    CHECK(e <= 1e-6);
}
