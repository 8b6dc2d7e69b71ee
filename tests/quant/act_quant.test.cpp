// The per-block activation quantizers of quant/act_quant.hpp (which the CUDA kernels and the
// CPU's portable path run) give the same bytes as the CPU's x86 SIMD quantizers and as
// q8_k::quantize, on random data and on data made of exact ties (x * inverse scale = k + 0.5,
// where ties-to-even and ties-away differ).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/act_data.hpp"
#include "strata/backend/cpu/features.hpp"
#include "strata/backend/cpu/kernels_scalar.hpp"
#include "strata/backend/cpu/quantize_x86.hpp"
#include "strata/quant/act_quant.hpp"
#include "strata/quant/row.hpp"

using namespace strata;

using strata_test::act_data;

// The CPU's portable activation quantizers (kernels_scalar.hpp) are these very functions; the
// independent implementations to hold them against are the x86 SIMD quantizers, at every level
// this machine runs.
template <class B, class Simd>
void check_against_simd(const char* level, Simd simd, void (*hd)(const float*, B&), std::uint32_t seed) {
    for (const bool ties : {false, true}) {
        const std::size_t nb = 512;
        const auto x = act_data(nb * 32, 32, ties, seed + ties);
        std::vector<B> v(nb), h(nb);
        simd(x.data(), v.data(), std::int64_t(nb * 32));
        for (std::size_t b = 0; b < nb; ++b) hd(x.data() + 32 * b, h[b]);
        INFO(level << (ties ? ", exact ties" : ", random data"));
        CHECK(std::memcmp(v.data(), h.data(), nb * sizeof(B)) == 0);
    }
}

TEST_CASE("act_quant Q8_0 and Q8_1 blocks equal the SIMD activation quantizers byte for byte", "[quant]") {
#if STRATA_CPU_X86_KERNELS
    const cpu::isa best = cpu::detect();
    if (best < cpu::isa::avx2) {
        WARN("no AVX2 on this machine: nothing independent to compare with");
        return;
    }
    auto q8_0_hd = [](const float* x, q8_0::block& b) { act_quant::quantize_q8_0(x, b); };
    auto q8_1_hd = [](const float* x, q8_1::block& b) { act_quant::quantize_block<q8_1>(x, b); };
    check_against_simd<q8_0::block>("avx2", cpu::detail::quantize_row_q8_0_avx2, +q8_0_hd, 1234u);
    check_against_simd<q8_1::block>("avx2", cpu::detail::quantize_row_q8_1_avx2, +q8_1_hd, 4321u);
    if (best == cpu::isa::avx512) {
        check_against_simd<q8_0::block>("avx512", cpu::detail::quantize_row_q8_0_avx512, +q8_0_hd, 1234u);
        check_against_simd<q8_1::block>("avx512", cpu::detail::quantize_row_q8_1_avx512, +q8_1_hd, 4321u);
    }
    // the generic entry point is the same function as the named one
    const auto x = act_data(64 * 32, 32, true, 99u);
    std::vector<q8_0::block> a(64), g(64);
    for (std::size_t b = 0; b < 64; ++b) act_quant::quantize_q8_0(x.data() + 32 * b, a[b]), act_quant::quantize_block<q8_0>(x.data() + 32 * b, g[b]);
    CHECK(std::memcmp(a.data(), g.data(), sizeof(q8_0::block) * 64) == 0);
#else
    WARN("not an x86 build: no SIMD quantizers to compare with");
#endif
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
