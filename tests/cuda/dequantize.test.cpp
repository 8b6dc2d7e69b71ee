// Device dequantize of every format against the CPU reference on the golden blocks: the same
// STRATA_HD code, so the results must agree (nvcc may contract a*b+c into an FMA, which moves
// the last bit, so the bound is one rounding of the value's size rather than bit equality).
#include <catch2/catch.hpp>

#include <cmath>
#include <tuple>
#include <vector>

#include "cuda/dequantize_all.hpp"
#include "quant/golden.hpp"
#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

using formats_tuple = std::tuple<strata::f32, strata::f16, strata::bf16, strata::q4_0, strata::q4_1,
                                 strata::q5_0, strata::q5_1, strata::q8_0, strata::q8_1, strata::q2_k,
                                 strata::q3_k, strata::q4_k, strata::q5_k, strata::q6_k, strata::q8_k,
                                 strata::iq4_nl, strata::iq4_xs, strata::mxfp4>;

TEMPLATE_LIST_TEST_CASE("device dequantize equals the CPU reference", "[cuda][quant]", formats_tuple) {
    using F = TestType;
    if (!strata_test::cuda_device_present()) {
        WARN("no CUDA device: skipped");
        return;
    }
    const auto g = strata_test::load_quant_golden(std::string(F::name), F::block_elems, F::block_bytes);
    const std::size_t n = std::size_t(g.n_rand_blocks) * F::block_elems;
    std::vector<float> cpu(n), gpu(n);
    strata::dequantize_row<F>(g.rand_blocks.data(), cpu.data(), n);
    const auto err = strata_test::cuda_dequantize(F::type, g.rand_blocks.data(), g.rand_blocks.size(), gpu.data(), n);
    REQUIRE(err.empty());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i)
        bad += !(std::fabs(gpu[i] - cpu[i]) <= 2.5e-7f * std::fabs(cpu[i]) + 1e-30f);
    INFO(F::name << ": " << bad << " of " << n << " values differ");
    CHECK(bad == 0);
}
