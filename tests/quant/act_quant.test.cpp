// The per-block activation quantizers of quant/act_quant.hpp (which the CUDA kernels run) give
// the same bytes as the CPU's: quantize_row_q8_0_act_ref, quantize_row_q8_1_act_ref and
// q8_k::quantize, on random data and on data made of exact ties (x * inverse scale = k + 0.5,
// where ties-to-even and ties-away differ).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/act_data.hpp"
#include "strata/backend/cpu/kernels_scalar.hpp"
#include "strata/quant/act_quant.hpp"
#include "strata/quant/row.hpp"

using namespace strata;

using strata_test::act_data;

TEST_CASE("act_quant Q8_0 blocks equal the CPU's activation quantizer", "[quant]") {
    const bool ties = GENERATE(false, true);
    const std::size_t nb = 512;
    const auto x = act_data(nb * 32, 32, ties, 1234u + ties);
    std::vector<q8_0::block> cpu(nb), hd(nb);
    cpu::detail::quantize_row_q8_0_act_ref(x.data(), cpu.data(), std::int64_t(nb * 32));
    for (std::size_t b = 0; b < nb; ++b) act_quant::quantize_q8_0(x.data() + 32 * b, hd[b]);
    CHECK(std::memcmp(cpu.data(), hd.data(), nb * sizeof(q8_0::block)) == 0);
    // the generic entry point is the same function
    std::vector<q8_0::block> gen(nb);
    for (std::size_t b = 0; b < nb; ++b) act_quant::quantize_block<q8_0>(x.data() + 32 * b, gen[b]);
    CHECK(std::memcmp(cpu.data(), gen.data(), nb * sizeof(q8_0::block)) == 0);
}

TEST_CASE("act_quant Q8_1 blocks equal the CPU's activation quantizer", "[quant]") {
    const bool ties = GENERATE(false, true);
    const std::size_t nb = 512;
    const auto x = act_data(nb * 32, 32, ties, 4321u + ties);
    std::vector<q8_1::block> cpu(nb), hd(nb);
    cpu::detail::quantize_row_q8_1_act_ref(x.data(), cpu.data(), std::int64_t(nb * 32));
    for (std::size_t b = 0; b < nb; ++b) act_quant::quantize_block<q8_1>(x.data() + 32 * b, hd[b]);
    CHECK(std::memcmp(cpu.data(), hd.data(), nb * sizeof(q8_1::block)) == 0);
}

TEST_CASE("act_quant Q8_K blocks equal the reference q8_k::quantize", "[quant]") {
    const bool ties = GENERATE(false, true);
    const std::size_t nb = 128;
    const auto x = act_data(nb * 256, 256, ties, 999u + ties);
    std::vector<q8_k::block> cpu(nb), hd(nb);
    quantize_row<q8_k>(x.data(), cpu.data(), nb * 256);
    for (std::size_t b = 0; b < nb; ++b) act_quant::quantize_block<q8_k>(x.data() + 256 * b, hd[b]);
    CHECK(std::memcmp(cpu.data(), hd.data(), nb * sizeof(q8_k::block)) == 0);
}

TEST_CASE("act_quant rounds ties to even where the reference quantizer rounds them away", "[quant]") {
    // amax 127: id = 1, so 2.5 is a tie: to even gives 2 (q8_0::quantize would give 3)
    float x[32] = {};
    x[0] = 127.0f;
    x[1] = 2.5f;
    x[2] = -3.5f;
    q8_0::block b{};
    act_quant::quantize_q8_0(x, b);
    CHECK(b.qs[0] == 127);
    CHECK(b.qs[1] == 2);
    CHECK(b.qs[2] == -4);
    CHECK(to_float(b.d) == to_float(to_fp16(1.0f)));
}
