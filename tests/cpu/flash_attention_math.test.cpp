// The CUDA flash attention's CUDA-free half (backend/cuda/flash_attention.hpp) on the CPU:
//   flash_attention_reference (the kernel's tile order, emulated) against cpu::attention on
//     random caches, F16 and Q8_0, for GQA 8/2 and 4/4, head dims 64/128/256, a decode step and
//     a prefill batch at pos0 > 0, a sliding window, a softcap;
//   sinks and non-causal attention against a double-precision reference written here;
//   the online-softmax pieces: states combined in any split equal one pass, an empty state
//     combines without a NaN;
//   the plan and flash_attention_scratch_bytes.
// Errors are normalised: sqrt(sum (a - b)^2 / sum b^2), a NaN anywhere fails.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "cpu/fa_cache.hpp"
#include "cpu/helpers.hpp"
#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cuda/flash_attention.hpp"
#include "strata/quant/row.hpp"

using namespace strata;
namespace sc = strata::cuda;

namespace {

using strata_test::cache;
using strata_test::positions;

double nerr(const std::vector<float>& got, const std::vector<float>& want) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(got[i])) return std::numeric_limits<double>::infinity();
        const double d = double(got[i]) - double(want[i]);
        num += d * d;
        den += double(want[i]) * double(want[i]);
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

std::vector<float> run_cpu(const cache& c, const std::vector<float>& q, std::int64_t n_tokens, std::int64_t pos0,
                           const sc::fa_params& p) {
    const cpu::attention_params ap{p.n_head, p.n_head_kv, p.head_dim_k, p.head_dim_v, p.kq_scale, p.softcap, p.n_swa};
    cpu::backend be({.n_threads = 2, .level = std::nullopt});
    std::vector<float> scratch(cpu::attention_scratch_floats(ap, pos0 + n_tokens, be.n_threads()));
    std::vector<float> out(std::size_t(n_tokens * p.n_head * p.head_dim_v), std::nanf(""));
    cpu::attention(be, q.data(), n_tokens, pos0, c.view(), ap, out.data(), scratch);
    return out;
}

std::vector<float> run_reference(const cache& c, const std::vector<float>& q, std::int64_t n_tokens, std::int64_t pos0,
                                 std::int64_t kv_len, const sc::fa_params& p, const float* sinks = nullptr) {
    const auto pos = positions(pos0, n_tokens);
    std::vector<float> out(std::size_t(n_tokens * p.n_head * p.head_dim_v), std::nanf(""));
    sc::flash_attention_reference(q.data(), n_tokens, pos.data(), kv_len, c.fa(), p, sinks, out.data());
    return out;
}

// In double: q rounded as the kernel rounds it, keys widened, softmax over the visible keys
// with the sink's exp in the denominator only.
std::vector<float> run_double(const cache& c, const std::vector<float>& q, std::int64_t n_tokens, std::int64_t pos0,
                              std::int64_t kv_len, const sc::fa_params& p, const float* sinks) {
    const std::int64_t dk = p.head_dim_k, dv = p.head_dim_v, group = p.n_head / p.n_head_kv;
    std::vector<float> kf(std::size_t(kv_len * c.row_k)), vf(std::size_t(kv_len * c.row_v)), qr(static_cast<std::size_t>(dk));
    for (std::int64_t r = 0; r < kv_len; ++r) {
        sc::detail::fa_widen_row(c.type, c.k.data() + std::size_t(r) * c.row_k_bytes, c.row_k, kf.data() + r * c.row_k);
        sc::detail::fa_widen_row(c.type, c.v.data() + std::size_t(r) * c.row_v_bytes, c.row_v, vf.data() + r * c.row_v);
    }
    std::vector<float> out(std::size_t(n_tokens * p.n_head * dv));
    std::vector<double> s(static_cast<std::size_t>(kv_len)), acc(static_cast<std::size_t>(dv));
    for (std::int64_t t = 0; t < n_tokens; ++t) {
        for (std::int64_t h = 0; h < p.n_head; ++h) {
            for (std::int64_t b = 0; b < dk; b += 32) sc::fa_round_q_block(c.type, &q[std::size_t((t * p.n_head + h) * dk + b)], &qr[std::size_t(b)]);
            const std::int64_t kvh = h / group, end = p.causal ? pos0 + t + 1 : kv_len;
            const std::int64_t first = p.causal && p.n_swa > 0 && pos0 + t - p.n_swa + 1 > 0 ? pos0 + t - p.n_swa + 1 : 0;
            double mx = sinks ? double(sinks[h]) : -INFINITY;
            for (std::int64_t j = first; j < end; ++j) {
                double d = 0;
                for (std::int64_t e = 0; e < dk; ++e) d += double(qr[std::size_t(e)]) * kf[std::size_t(j * c.row_k + kvh * dk + e)];
                d *= p.kq_scale;
                if (p.softcap > 0) d = p.softcap * std::tanh(d / p.softcap);
                s[std::size_t(j)] = d;
                mx = d > mx ? d : mx;
            }
            double sum = sinks ? std::exp(double(sinks[h]) - mx) : 0.0;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (std::int64_t j = first; j < end; ++j) {
                const double w = std::exp(s[std::size_t(j)] - mx);
                sum += w;
                for (std::int64_t e = 0; e < dv; ++e) acc[std::size_t(e)] += w * vf[std::size_t(j * c.row_v + kvh * dv + e)];
            }
            for (std::int64_t e = 0; e < dv; ++e) out[std::size_t((t * p.n_head + h) * dv + e)] = float(acc[std::size_t(e)] / sum);
        }
    }
    return out;
}

struct shape {
    std::int64_t n_head, n_head_kv, dim;
};

// One case: the emulation against cpu::attention, the cache longer than the visible keys.
double vs_cpu(ggml_type t, shape sh, std::int64_t n_tokens, std::int64_t pos0, float softcap, std::int64_t n_swa,
              std::uint32_t seed) {
    sc::fa_params p{sh.n_head, sh.n_head_kv, sh.dim, sh.dim, 1.0f / std::sqrt(float(sh.dim)), softcap, n_swa, true};
    const std::int64_t kv_len = pos0 + n_tokens + 37;
    const cache c(t, p, kv_len, seed);
    const auto q = strata_test::random_normal(std::size_t(n_tokens * p.n_head * sh.dim), seed + 2, 1.5f);
    return nerr(run_reference(c, q, n_tokens, pos0, kv_len, p), run_cpu(c, q, n_tokens, pos0, p));
}

}  // namespace

// The emulation and cpu::attention share the q rounding and the K/V values; they differ in
// summation order (FMA chains, tiles, splits against the CPU's vector dots and double sum)
// and, with F16 V, in which weights are rounded to fp16 (the unnormalised exp(s - m) here, the
// normalised softmax on the CPU). Measured over these cases: F16 <= 2.6e-4 (the fp16 weights),
// Q8_0 <= 9.6e-7 (float order only). A wrong mask, scale or split is >= 1e-2.
TEST_CASE("flash_attention_reference matches cpu::attention", "[cpu][attention]") {
    const shape shapes[] = {{8, 2, 64}, {4, 4, 128}, {8, 2, 256}};
    for (const ggml_type t : {ggml_type::f16, ggml_type::q8_0}) {
        const double budget = t == ggml_type::f16 ? 6e-4 : 3e-6;
        std::uint32_t seed = 100;
        for (const shape& sh : shapes) {
            INFO("type " << int(t) << " heads " << sh.n_head << "/" << sh.n_head_kv << " dim " << sh.dim);
            CHECK(vs_cpu(t, sh, 1, 300, 0.0f, 0, seed++) < budget);     // decode: several splits
            CHECK(vs_cpu(t, sh, 9, 70, 0.0f, 0, seed++) < budget);      // prefill batch
            CHECK(vs_cpu(t, sh, 3, 150, 0.0f, 40, seed++) < budget);    // sliding window
            CHECK(vs_cpu(t, sh, 6, 40, 10.0f, 0, seed++) < budget);     // softcap
        }
    }
}

// Sinks and non-causal attention have no CPU op: a double-precision softmax. Measured:
// F16 <= 1.0e-4 (fp16 weights), Q8_0 <= 5.5e-7.
TEST_CASE("flash_attention_reference sinks and non-causal", "[cpu][attention]") {
    for (const ggml_type t : {ggml_type::f16, ggml_type::q8_0}) {
        const double budget = t == ggml_type::f16 ? 6e-4 : 3e-6;
        for (const bool causal : {true, false}) {
            for (const bool with_sinks : {false, true}) {
                if (causal && !with_sinks) continue;  // the case above
                INFO("type " << int(t) << " causal " << causal << " sinks " << with_sinks);
                sc::fa_params p{8, 2, 64, 64, 0.125f, 0.0f, 0, causal};
                const std::int64_t n_tokens = causal ? 5 : 20, pos0 = causal ? 120 : 0, kv_len = causal ? 160 : 20;
                const cache c(t, p, kv_len, 7);
                const auto q = strata_test::random_normal(std::size_t(n_tokens * p.n_head * 64), 8, 2.0f);
                const auto sinks = strata_test::random_normal(std::size_t(p.n_head), 9, 2.0f);
                const float* sk = with_sinks ? sinks.data() : nullptr;
                const auto got = run_reference(c, q, n_tokens, pos0, kv_len, p, sk);
                CHECK(nerr(got, run_double(c, q, n_tokens, pos0, kv_len, p, sk)) < budget);
                if (with_sinks) {  // a sink only shrinks the output: it must matter
                    const auto plain = run_reference(c, q, n_tokens, pos0, kv_len, p);
                    CHECK(nerr(got, plain) > 1e-2);
                }
            }
        }
    }
}

namespace {
// A state over keys [a, b) of random scores and values, by the tile pieces one key at a time.
void advance(std::vector<float>& st, const std::vector<float>& s, const std::vector<float>& v, std::int64_t dv,
             std::int64_t a, std::int64_t b) {
    for (std::int64_t j = a; j < b; ++j) {
        const sc::fa_step step = sc::fa_advance(st[0], s[std::size_t(j)]);
        const float w = sc::fa_weight(s[std::size_t(j)], step.m);
        st[1] = sc::fa_running_sum(st[1], step.alpha, w);
        st[0] = step.m;
        for (std::int64_t d = 0; d < dv; ++d) st[std::size_t(2 + d)] = sc::fa_fma(w, v[std::size_t(j * dv + d)], sc::fa_mul(st[std::size_t(2 + d)], step.alpha));
    }
}
void merge(std::vector<float>& into, const std::vector<float>& st) {
    const sc::fa_merge mw = sc::fa_merge_weights(into[0], st[0]);
    for (std::size_t i = 1; i < st.size(); ++i) into[i] = sc::fa_merged(into[i], mw.wa, st[i], mw.wb);
    into[0] = mw.m;
}
std::vector<float> empty_state(std::int64_t dv) {
    std::vector<float> st(std::size_t(dv + 2), 0.0f);
    st[0] = -INFINITY;
    return st;
}
}  // namespace

// Splitting is exact in real arithmetic; in float it moves the sums by a few ulp (measured
// <= 4e-7 normalised over 20 random splits of 500 keys).
TEST_CASE("flash attention online softmax combines in any split", "[cpu][attention]") {
    const std::int64_t n = 500, dv = 16;
    const auto s = strata_test::random_normal(std::size_t(n), 11, 4.0f);
    const auto v = strata_test::random_normal(std::size_t(n * dv), 12);
    auto one = empty_state(dv);
    advance(one, s, v, dv, 0, n);
    std::mt19937 rng(13);
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<std::int64_t> cuts{0, n};
        for (int i = 0; i < 1 + trial % 7; ++i) cuts.push_back(std::int64_t(rng() % std::uint32_t(n)));
        std::sort(cuts.begin(), cuts.end());
        auto total = empty_state(dv);
        for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {  // empty pieces included
            auto st = empty_state(dv);
            advance(st, s, v, dv, cuts[i], cuts[i + 1]);
            merge(total, st);
        }
        std::vector<float> a(one.begin() + 1, one.end()), b(total.begin() + 1, total.end());
        CHECK(total[0] == one[0]);  // the max is exact
        CHECK(nerr(b, a) < 2e-6);
    }
}

TEST_CASE("flash attention empty states combine without NaN", "[cpu][attention]") {
    const std::int64_t dv = 8;
    auto st = empty_state(dv);
    std::vector<float> s{0.5f, -1.0f, -INFINITY}, v(3 * dv, 1.5f);
    advance(st, s, v, dv, 0, 3);  // a masked key (-inf) after visible ones
    const auto real = st;
    auto total = empty_state(dv);
    merge(total, empty_state(dv));  // empty with empty: still empty
    CHECK(total[0] == -INFINITY);
    CHECK(total[1] == 0.0f);
    for (std::size_t i = 2; i < total.size(); ++i) CHECK(total[i] == 0.0f);
    merge(total, st);  // empty then real: exactly the real one
    merge(total, empty_state(dv));
    CHECK(total == real);
    auto masked = empty_state(dv);
    advance(masked, std::vector<float>(3, -INFINITY), v, dv, 0, 3);  // a fully masked tile
    CHECK(masked == empty_state(dv));
    CHECK(sc::fa_inverse_sum(0.0f) == 0.0f);  // no visible key: output 0
    CHECK(sc::fa_rescale(-INFINITY, -INFINITY) == 1.0f);
    CHECK(sc::fa_rescale(2.0f, 2.0f) == 1.0f);
    CHECK(sc::fa_rescale(-INFINITY, 2.0f) == 0.0f);
}

TEST_CASE("flash attention plan and scratch", "[cpu][attention]") {
    const sc::fa_params llama{32, 8, 128, 128};
    // decode at 2048 keys: 8 blocks of queries, split 32 ways into 64-key splits
    const sc::fa_plan d = sc::plan_flash_attention(llama, 1, 2048);
    CHECK(d.rows == 1);
    CHECK(d.chunks == 4);
    CHECK(d.n_q_tiles == 1);
    CHECK(d.n_splits == 32);
    CHECK(d.split_keys == 64);
    CHECK(sc::fa_scratch_bytes_for(llama, 1, 2048) == 32u * 32u * 130u * 4u);
    // prefill of 512: 128 query tiles of 16 per KV head fill the GPU without splits
    const sc::fa_plan pf = sc::plan_flash_attention(llama, 512, 2048);
    CHECK(pf.rows == 4);
    CHECK(pf.n_q_tiles == 128);
    CHECK(pf.n_splits == 1);
    CHECK(sc::fa_scratch_bytes_for(llama, 512, 2048) == 0);
    // head dim 256 holds two queries per warp (shared memory)
    CHECK(sc::plan_flash_attention({4, 1, 256, 256}, 16, 100).rows == 2);
    // short caches are never split below fa_min_split_keys
    CHECK(sc::plan_flash_attention(llama, 1, 64).n_splits == 1);
    CHECK(sc::plan_flash_attention(llama, 1, 100).n_splits == 2);
    CHECK(sc::plan_flash_attention(llama, 1, 0).n_splits == 1);
    // splits cover the keys, in whole tiles
    for (std::int64_t kv : {1, 31, 33, 65, 1000, 4097}) {
        const sc::fa_plan pl = sc::plan_flash_attention(llama, 1, kv);
        CHECK(pl.split_keys % sc::fa_tile_keys == 0);
        CHECK(pl.n_splits * pl.split_keys >= kv);
        CHECK((pl.n_splits - 1) * pl.split_keys < kv);
    }
    // the engine's scratch covers every batch size up to n_batch
    const std::size_t most = sc::flash_attention_scratch_bytes(llama, 512, 2048);
    // and every shorter cache: splits rounded to whole tiles are not monotonic in the keys (3
    // tokens: 641 keys take 11 splits of 64, 1500 keys 10 of 160), the bound is
    CHECK(sc::plan_flash_attention(llama, 3, 641).n_splits == 11);
    CHECK(sc::plan_flash_attention(llama, 3, 1500).n_splits == 10);
    CHECK(sc::fa_scratch_bytes_for(llama, 3, 641) <= sc::flash_attention_scratch_bytes(llama, 3, 1500));
    for (std::int64_t n = 1; n <= 512; ++n) {
        for (std::int64_t kv : {64, 65, 100, 641, 700, 1500, 1900, 2047, 2048}) CHECK(sc::fa_scratch_bytes_for(llama, n, kv) <= most);
    }
    CHECK(most >= 128u * 32u * 130u * 4u);  // at least 16 tokens x 8 splits
    CHECK(sc::flash_attention_scratch_bytes(llama, 512, 64) == 0);
    // what the kernel refuses
    CHECK(sc::flash_attention_unsupported(llama, ggml_type::f16).empty());
    CHECK(sc::flash_attention_unsupported(llama, ggml_type::q8_0).empty());
    CHECK_FALSE(sc::flash_attention_unsupported(llama, ggml_type::q4_0).empty());
    CHECK_FALSE(sc::flash_attention_unsupported({32, 7, 128, 128}, ggml_type::f16).empty());
    CHECK_FALSE(sc::flash_attention_unsupported({32, 8, 80, 80}, ggml_type::f16).empty());
    CHECK_FALSE(sc::flash_attention_unsupported({32, 8, 512, 512}, ggml_type::f16).empty());
    CHECK_FALSE(sc::flash_attention_unsupported({32, 8, 128, 128, 1.0f, 0.0f, 16, false}, ggml_type::f16).empty());
    CHECK_THROWS_AS(sc::flash_attention_reference(nullptr, 1, nullptr, 1, {ggml_type::q4_0, nullptr, nullptr, 0, 0}, llama,
                                                  nullptr, nullptr),
                    strata::error);
}
