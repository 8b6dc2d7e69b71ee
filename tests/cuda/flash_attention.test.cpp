// kernels::flash_attention against its host emulation (flash_attention_reference: the same
// tiles, splits and combine order, so only the device's expf / tanhf differ) and against
// cpu::attention (the emulation's own budget, tests/cpu/flash_attention_math.test.cpp), on
// random caches, outputs poisoned (NaN) before each run: F16 and Q8_0, GQA 8/2 and 4/4, head
// dims 64/128/256, decode and prefill at pos0 > 0, a sliding window, a softcap, sinks,
// non-causal; a decode step captured in a CUDA graph and replayed after pos[] moves on the
// device; and one timing line per shape ("timing: flash_attention ..."). Without a GPU every
// test WARNs and passes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <tuple>
#include <vector>

#include "cpu/fa_cache.hpp"
#include "cpu/helpers.hpp"
#include "cuda/dequantize_all.hpp"
#include "cuda/support.hpp"
#include "cuda/flash_attention_all.hpp"
#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cuda/flash_attention.hpp"
#include "strata/quant/row.hpp"

using namespace strata;
namespace sc = strata::cuda;

using strata_test::nerr;

namespace {

using strata_test::cache;
using strata_test::positions;

struct fa_case {
    ggml_type type;
    std::int64_t n_head, n_head_kv, dim, n_tokens, pos0;
    float softcap = 0.0f;
    std::int64_t n_swa = 0;
    bool causal = true, sinks = false;
    std::size_t pad = 0;
};

// The kernel against the emulation and, where cpu::attention covers the case, against it (the
// emulation's budget from the CPU test: F16's fp16 weights). Kernel and emulation differ by the
// device's expf / tanhf (2 ulp): about 1e-7 per weight, and with F16 the rare weight whose fp16
// rounding that flips (2^-11 of one weight), hence the wider F16 budget. A wrong tile, mask or
// split is >= 1e-3.
void check_case(const fa_case& c, std::uint32_t seed) {
    const sc::fa_params p{c.n_head, c.n_head_kv, c.dim, c.dim, 1.0f / std::sqrt(float(c.dim)), c.softcap, c.n_swa, c.causal};
    const std::int64_t kv_len = c.causal ? c.pos0 + c.n_tokens + 45 : c.pos0;  // rows past the last position too
    const cache kv(c.type, p, kv_len, seed, c.pad);
    const auto q = strata_test::random_normal(std::size_t(c.n_tokens * p.n_head * c.dim), seed + 2, 1.5f);
    const auto sinks = strata_test::random_normal(std::size_t(p.n_head), seed + 3, 2.0f);
    const float* sk = c.sinks ? sinks.data() : nullptr;
    const auto pos = positions(c.pos0, c.n_tokens);
    const std::size_t n_out = std::size_t(c.n_tokens * p.n_head * c.dim);
    std::vector<float> gpu(n_out), ref(n_out);
    sc::flash_attention_reference(q.data(), c.n_tokens, c.causal ? pos.data() : nullptr, kv_len, kv.fa(), p, sk, ref.data());
    REQUIRE(strata_test::cuda_flash_attention(q.data(), c.n_tokens, c.causal ? pos.data() : nullptr, kv_len, kv.fa(),
                                              kv.k.size(), kv.v.size(), p, sk, gpu.data())
                .empty());
    const double e_ref = nerr(gpu, ref);
    INFO("vs emulation " << e_ref);
    CHECK(e_ref <= (c.type == ggml_type::f16 ? 2e-5 : 5e-6));
    if (c.causal && !c.sinks) {
        const cpu::attention_params ap{p.n_head, p.n_head_kv, c.dim, c.dim, p.kq_scale, p.softcap, p.n_swa};
        cpu::backend be({.n_threads = 2, .level = std::nullopt});
        std::vector<float> scratch(cpu::attention_scratch_floats(ap, c.pos0 + c.n_tokens, be.n_threads())), cpu_out(n_out);
        cpu::attention(be, q.data(), c.n_tokens, c.pos0, kv.view(), ap, cpu_out.data(), scratch);
        const double e_cpu = nerr(gpu, cpu_out);
        INFO("vs cpu::attention " << e_cpu);
        CHECK(e_cpu <= (c.type == ggml_type::f16 ? 6e-4 : 3e-6));
    }
}

}  // namespace

TEST_CASE("flash_attention kernel matches the emulation and cpu::attention", "[cuda][attention]") {
    STRATA_TEST_NEEDS_GPU();
    std::uint32_t seed = 1000;
    for (const ggml_type t : {ggml_type::f16, ggml_type::q8_0}) {
        for (const auto& [nh, nkv, dim] : {std::tuple<int, int, int>{8, 2, 64}, {4, 4, 128}, {8, 2, 256}, {8, 2, 128}}) {
            INFO("type " << int(t) << " heads " << nh << "/" << nkv << " dim " << dim);
            check_case({t, nh, nkv, dim, 1, 300}, seed++);                    // decode, split
            check_case({t, nh, nkv, dim, 3, 1200}, seed++);                   // a few tokens, many splits
            check_case({t, nh, nkv, dim, 37, 70}, seed++);                    // prefill, a ragged tile
            check_case({t, nh, nkv, dim, 9, 150, 0.0f, 40}, seed++);          // sliding window
            check_case({t, nh, nkv, dim, 6, 40, 10.0f}, seed++);              // softcap
            check_case({t, nh, nkv, dim, 5, 120, 0.0f, 0, true, true}, seed++);   // sinks
            check_case({t, nh, nkv, dim, 20, 20, 0.0f, 0, false}, seed++);        // non-causal
            check_case({t, nh, nkv, dim, 1, 700, 0.0f, 0, false, true}, seed++);  // non-causal, split, sinks
            check_case({t, nh, nkv, dim, 7, 90, 0.0f, 0, true, false, 2}, seed++);  // padded rows
        }
    }
}

// A decode step captured once: replayed at pos 10, then after pos[] becomes 11 on the device and
// row 11 is written. Before the second replay row 11 holds NaNs (all bits set): a kernel that
// read keys past pos[] (a bound from kv_len_max) would return NaN the first time.
TEST_CASE("flash_attention decode replays from device positions", "[cuda][attention]") {
    STRATA_TEST_NEEDS_GPU();
    for (const ggml_type t : {ggml_type::f16, ggml_type::q8_0}) {
        INFO("type " << int(t));
        const sc::fa_params p{8, 2, 128, 128, 1.0f / std::sqrt(128.0f)};
        const std::int64_t kv_len_max = 512;  // several splits, most of them empty
        const cache full(t, p, kv_len_max, 77);
        cache before = full;
        for (std::size_t i = 11 * before.row_k_bytes; i < 12 * before.row_k_bytes; ++i) before.k[i] = std::byte(0xff);
        for (std::size_t i = 11 * before.row_v_bytes; i < 12 * before.row_v_bytes; ++i) before.v[i] = std::byte(0xff);
        const auto q = strata_test::random_normal(std::size_t(p.n_head * p.head_dim_k), 78);
        const std::size_t n_out = std::size_t(p.n_head * p.head_dim_v);
        std::vector<float> a(n_out), b(n_out), ref_a(n_out), ref_b(n_out);
        REQUIRE(strata_test::cuda_flash_attention_graph(q.data(), 10, 11, kv_len_max, before.fa(), before.k.size(),
                                                        before.v.size(), full.k.data() + 11 * full.row_k_bytes,
                                                        full.v.data() + 11 * full.row_v_bytes, p, a.data(), b.data())
                    .empty());
        const std::int32_t pa = 10, pb = 11;
        sc::flash_attention_reference(q.data(), 1, &pa, kv_len_max, full.fa(), p, nullptr, ref_a.data());
        sc::flash_attention_reference(q.data(), 1, &pb, kv_len_max, full.fa(), p, nullptr, ref_b.data());
        CHECK(nerr(a, ref_a) <= 2e-5);
        CHECK(nerr(b, ref_b) <= 2e-5);
        CHECK(nerr(b, ref_a) > 1e-3);  // the new key mattered
    }
}

// Realistic shapes (llama 8B: 32 / 8 heads of 128, 2048 keys): decode's bytes of K and V read
// per second, prefill's attention FLOPs (2 * (dk + dv) per visible key and head) per second.
TEST_CASE("flash_attention timing", "[cuda][attention]") {
    STRATA_TEST_NEEDS_GPU();
    const sc::fa_params p{32, 8, 128, 128, 1.0f / std::sqrt(128.0f)};
    const std::int64_t kv_len = 2048;
    for (const ggml_type t : {ggml_type::f16, ggml_type::q8_0}) {
        const char* name = t == ggml_type::f16 ? "f16" : "q8_0";
        double ms = 0;
        REQUIRE(strata_test::cuda_flash_attention_time(t, p, 1, kv_len, 50, &ms).empty());
        const double bytes = double(kv_len) * double(row_bytes(t, 8 * 128) * 2);
        std::printf("timing: flash_attention decode %s 32/8x128 keys %lld: %.4f ms, %.1f GB/s\n", name,
                    static_cast<long long>(kv_len), ms, bytes / (ms * 1e6));
        REQUIRE(strata_test::cuda_flash_attention_time(t, p, 512, kv_len, 10, &ms).empty());
        double flops = 0;
        for (std::int64_t i = kv_len - 512; i < kv_len; ++i) flops += double(i + 1) * 32 * 2 * (128 + 128);
        std::printf("timing: flash_attention prefill %s 32/8x128 tokens 512 keys %lld: %.3f ms, %.2f TFLOP/s\n", name,
                    static_cast<long long>(kv_len), ms, flops / (ms * 1e9));
        CHECK(ms > 0);
    }
}
