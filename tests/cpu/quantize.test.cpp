// The SIMD activation quantizers (Q8_0, Q8_1, Q8_K) give the same bytes as the reference quantizers,
// on random rows and on the inputs where rounding differs between methods: exact ties, equal
// magnitudes of opposite sign, all-zero and single-value blocks, tiny and huge scales.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "cpu/helpers.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/quant/row.hpp"

using namespace strata;

namespace {

// Rows that stress the rounding, for a block size of n.
std::vector<std::vector<float>> hard_rows(std::size_t blocks, std::size_t n, std::uint32_t seed) {
    std::vector<std::vector<float>> rows;
    const std::size_t len = blocks * n;
    rows.push_back(strata_test::random_normal(len, seed));
    rows.push_back(strata_test::random_normal(len, seed + 1, 1e-20f));  // subnormal-range scales
    rows.push_back(strata_test::random_normal(len, seed + 2, 1e20f));
    std::mt19937 rng(seed + 3);
    std::uniform_int_distribution<int> level(-127, 126);
    {
        // Ties: the largest magnitude 127 makes the scale exactly 1 (Q8_0: d = 127/127; Q8_K:
        // iscale = -127/±127), so the others at k + 0.5 are exact halves.
        std::vector<float> t(len);
        for (std::size_t i = 0; i < len; ++i) t[i] = i % n == 7 ? (i / n % 2 ? 127.0f : -127.0f) : float(level(rng)) + 0.5f;
        rows.push_back(t);
    }
    {
        // Equal magnitudes of opposite signs: the first one decides the sign of the scale.
        std::vector<float> t = strata_test::random_normal(len, seed + 4, 0.1f);
        for (std::size_t b = 0; b < blocks; ++b) {
            t[b * n + (b * 5) % n] = b % 2 ? 3.0f : -3.0f;
            t[b * n + (b * 5 + 11) % n] = b % 2 ? -3.0f : 3.0f;
        }
        rows.push_back(t);
    }
    {
        std::vector<float> t(len, 0.0f);  // all zero, a lone value, a lone negative zero
        if (blocks > 1) t[n + 3] = -2.5f;
        if (blocks > 2) t[2 * n + 1] = -0.0f;
        rows.push_back(t);
    }
    return rows;
}

// A weight format whose activations are A.
template <class A>
using weights_for = std::conditional_t<std::is_same_v<A, q8_0>, q4_0, std::conditional_t<std::is_same_v<A, q8_1>, q4_1, q4_k>>;

template <class A>
void check_quantizer(strata::cpu::isa level) {
    using W = weights_for<A>;
    const auto ks = cpu::detail::kernels_for<W>(level);
    REQUIRE(ks.quantize != nullptr);
    const std::size_t blocks = 9;
    const auto k = static_cast<std::int64_t>(blocks * A::block_elems);
    for (const auto& x : hard_rows(blocks, A::block_elems, std::random_device{}())) {
        std::vector<std::uint8_t> ref(blocks * A::block_bytes);
        std::vector<std::uint8_t> got(cpu::activation_row_bytes(W::type, k), 0xcd);
        // Q8_0 and Q8_1 activations are quantized as ggml-cpu quantizes them at run time
        // (127/amax, ties to even), not as the weight reference does: see
        // quantize_row_q8_0_act_ref.
        if constexpr (std::is_same_v<A, q8_0>) {
            cpu::detail::quantize_row_q8_0_act_ref(x.data(), ref.data(), k);
        } else if constexpr (std::is_same_v<A, q8_1>) {
            cpu::detail::quantize_row_q8_1_act_ref(x.data(), ref.data(), k);
        } else {
            quantize_row<A>(x.data(), ref.data(), x.size());
        }
        ks.quantize(x.data(), got.data(), k);
        std::size_t first = 0;
        while (first < ref.size() && ref[first] == got[first]) ++first;
        INFO(A::name << " at " << to_string(level) << ": first different byte " << first << " of " << ref.size());
        CHECK(first == ref.size());
        if constexpr (std::is_same_v<A, q8_0>) {  // the row's tables: float scales, -8 * sums for Q4_0
            const float* scales = cpu::detail::q8_0_scales(got.data(), static_cast<std::int64_t>(blocks));
            const std::int32_t* sums = cpu::detail::q8_0_sums(got.data(), static_cast<std::int64_t>(blocks));
            const auto* b = reinterpret_cast<const q8_0::block*>(ref.data());
            for (std::size_t i = 0; i < blocks; ++i) {
                const float d = to_float(b[i].d);
                CHECK(std::memcmp(&scales[i], &d, sizeof d) == 0);
                int sum = 0;
                for (int j = 0; j < 32; ++j) sum += b[i].qs[j];
                CHECK(sums[i] == -8 * sum);
            }
        }
    }
}

}  // namespace

TEST_CASE("Q8_0 activations round ties to even with 127/amax, unlike the weight quantizer", "[cpu][quant]") {
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;  // amax 127: the inverse scale is exactly 1
    x[1] = 42.5f;   // a tie: even gives 42, away from zero 43
    x[2] = -3.5f;   // even -4, away -4
    x[3] = 2.5f;    // even 2, away 3
    q8_0::block act{}, weight{};
    cpu::detail::quantize_row_q8_0_act_ref(x.data(), &act, 32);
    q8_0::quantize(x.data(), weight);
    CHECK(act.qs[1] == 42);
    CHECK(weight.qs[1] == 43);
    CHECK(act.qs[2] == -4);
    CHECK(act.qs[3] == 2);
    CHECK(weight.qs[3] == 3);
    CHECK(act.d.bits == weight.d.bits);
}

TEST_CASE("Q8_1 activations round ties to even with 127/amax; s sums the rounded quants", "[cpu][quant]") {
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;  // amax 127: the inverse scale and d are exactly 1
    x[1] = 42.5f;   // a tie: even gives 42, away from zero 43
    x[2] = -3.5f;   // even -4, away -4
    x[3] = 2.5f;    // even 2, away 3
    x[4] = -0.5f;   // even 0, away -1
    q8_1::block act{}, weight{};
    cpu::detail::quantize_row_q8_1_act_ref(x.data(), &act, 32);
    q8_1::quantize(x.data(), weight);
    CHECK(act.qs[0] == 127);
    CHECK(act.qs[1] == 42);
    CHECK(weight.qs[1] == 43);
    CHECK(act.qs[2] == -4);
    CHECK(weight.qs[2] == -4);
    CHECK(act.qs[3] == 2);
    CHECK(weight.qs[3] == 3);
    CHECK(act.qs[4] == 0);
    CHECK(weight.qs[4] == -1);
    CHECK(act.d.bits == weight.d.bits);
    CHECK(to_float(act.d) == 1.0f);
    // s = d * sum(rounded quants): 127 + 42 - 4 + 2 + 0 = 167 here, 127 + 43 - 4 + 3 - 1 = 168
    // for the reference
    CHECK(to_float(act.s) == 167.0f);
    CHECK(to_float(weight.s) == 168.0f);
}

TEST_CASE("SIMD Q8_0, Q8_1 and Q8_K activation quantizers are byte-identical to the reference", "[cpu][quant]") {
    for (const auto level : strata_test::levels()) {
        check_quantizer<q8_0>(level);
        check_quantizer<q8_1>(level);
        check_quantizer<q8_k>(level);
    }
}

TEST_CASE("the kernel level can be forced and never exceeds the machine", "[cpu]") {
    const auto best = cpu::detect();
    for (const auto level : strata_test::levels()) {
        cpu::backend be({1, level});
        CHECK(be.level() == level);
    }
    cpu::backend top({1, cpu::isa::avx512});
    CHECK(top.level() == best);
    CHECK(cpu::isa_from_string("avx2") == cpu::isa::avx2);
    CHECK(!cpu::isa_from_string("sse4"));
    const auto f = cpu::query_features();
    if (f.avx512f) CHECK(f.avx2);
    if (best == cpu::isa::avx512) CHECK((f.avx512bw && f.avx512vl && f.avx512vnni));
}

TEST_CASE("STRATA_CPU_ISA picks the level of a backend constructed without one", "[cpu]") {
    const char* old = std::getenv("STRATA_CPU_ISA");
    const std::string saved = old ? old : "";
    ::setenv("STRATA_CPU_ISA", "scalar", 1);
    CHECK(cpu::backend({1, std::nullopt}).level() == cpu::isa::scalar);
    CHECK(cpu::backend({1, cpu::isa::avx2}).level() == std::min(cpu::isa::avx2, cpu::detect()));  // explicit wins
    ::setenv("STRATA_CPU_ISA", "nonsense", 1);
    CHECK(cpu::backend({1, std::nullopt}).level() == cpu::detect());
    if (old) ::setenv("STRATA_CPU_ISA", saved.c_str(), 1);
    else ::unsetenv("STRATA_CPU_ISA");
}
