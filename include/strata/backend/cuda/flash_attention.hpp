// strata/backend/cuda/flash_attention.hpp — flash attention of a batch of queries against a
// layer's KV cache: cpu::attention's contract (backend/cpu/attention.hpp, with its roundings),
// plus attention sinks and non-causal (encoder) attention.
//
//   q:   n_tokens x (n_head * head_dim_k) floats; token t at position pos[t]
//   K,V: the cache, F16 or Q8_0, row p = position p: n_head_kv * head_dim values, head-major,
//        rows row_k_bytes / row_v_bytes apart (model/kv_cache.hpp's layout, as cpu::kv_view)
//   out: n_tokens x (n_head * head_dim_v)
//
// The kernel (kernels/flash_attention.cuh) and its host emulation here share everything but
// the lanes: a thread block takes one KV head, a tile of its queries (token-major, then the
// group's heads) and one split of the keys; keys come in tiles of fa_tile_keys = 32, lane j of
// a warp scoring key j of the tile. Per tile and query the running state (max m, sum l, the
// accumulator) advances by the pieces below; splits leave partial states in scratch and a
// combine folds them in split order, then the sink. Rounding follows cpu::attention: q to K's
// type (fp16, or Q8_0 blocks with the activation quantizer), and with an F16 V the weights to
// fp16 before they weight V — here the unnormalised exp(s - m), the CPU's normalised ones: the
// results differ by fp16 rounding of the weights (the tests bound it).
//
// Everything below is CUDA-free (the plan, the scratch size, the per-tile math, the host
// emulation), so the CPU tests cover it; the kernels are in kernels/flash_attention.cuh.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/act_quant.hpp"
#include "strata/quant/q8_0.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

struct fa_params {
    std::int64_t n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
    float kq_scale = 1.0f;   // applied to the scores
    float softcap = 0.0f;    // > 0: scores = c * tanh(scores / c)
    std::int64_t n_swa = 0;  // > 0 (causal only): a query at p sees keys p - n_swa < j <= p
    bool causal = true;      // false: every key 0 .. kv_len - 1 is visible (encoders)
};

struct fa_kv {
    ggml_type type = ggml_type::f16;  // f16 or q8_0, for K and V alike
    const std::byte* k = nullptr;
    const std::byte* v = nullptr;
    std::size_t row_k_bytes = 0, row_v_bytes = 0;
};

inline constexpr int fa_warps = 4;                       // warps per thread block
inline constexpr int fa_tile_keys = 32;                  // keys per tile: one per lane
inline constexpr std::int64_t fa_decode_max_tokens = 4;  // up to this many tokens: a query per warp
inline constexpr std::int64_t fa_min_split_keys = 64;    // a split reads at least two tiles
inline constexpr std::int64_t fa_target_blocks = 256;    // enough blocks to fill a large GPU twice

// Empty when the kernel runs these parameters, else why not.
inline std::string_view flash_attention_unsupported(const fa_params& p, ggml_type type) noexcept {
    if (type != ggml_type::f16 && type != ggml_type::q8_0) return "flash attention reads an F16 or Q8_0 cache only";
    if (p.n_head <= 0 || p.n_head_kv <= 0 || p.n_head % p.n_head_kv != 0)
        return "flash attention needs n_head a positive multiple of n_head_kv";
    const auto dim_ok = [](std::int64_t d) { return d > 0 && d <= 256 && d % 32 == 0; };
    if (!dim_ok(p.head_dim_k) || !dim_ok(p.head_dim_v)) return "flash attention needs head dims that are multiples of 32 up to 256";
    if (p.n_swa > 0 && !p.causal) return "flash attention's sliding window needs causal attention";
    if (!(p.softcap >= 0.0f)) return "flash attention's softcap must be >= 0";
    return {};
}

// How a call is cut up: `chunks` 32-wide pieces of the widest head dim a lane holds (2, 4 or 8:
// the kernel's template), `rows` queries per warp (1 for decode), q_tile = fa_warps * rows
// queries per block, n_q_tiles of them per KV head; the keys in n_splits splits of split_keys
// (a multiple of fa_tile_keys). Decode has few query tiles: the keys are split until about
// fa_target_blocks blocks run. Depends on the host arguments only (never on pos), so that a
// captured decode step replays with the same grid.
struct fa_plan {
    int chunks = 2, rows = 1;
    std::int64_t q_tile = fa_warps, n_q_tiles = 1, n_splits = 1, split_keys = fa_tile_keys;
};

namespace detail {
inline fa_plan fa_plan_tiles(const fa_params& p, std::int64_t n_tokens) noexcept {
    fa_plan pl;
    const std::int64_t dmax = p.head_dim_k > p.head_dim_v ? p.head_dim_k : p.head_dim_v;
    pl.chunks = dmax <= 64 ? 2 : dmax <= 128 ? 4 : 8;
    pl.rows = n_tokens <= fa_decode_max_tokens ? 1 : pl.chunks == 8 ? 2 : 4;  // shared memory < 48 KiB
    pl.q_tile = fa_warps * pl.rows;
    const std::int64_t n_q = n_tokens * (p.n_head / p.n_head_kv);
    pl.n_q_tiles = n_q > 0 ? (n_q + pl.q_tile - 1) / pl.q_tile : 1;
    return pl;
}
}  // namespace detail

// The splits asked for before rounding them to whole tiles: the plan's n_splits is at most
// this, and it never falls as kv_len_max grows (n_splits may: the rounding), so scratch sized
// with it at n_ctx covers every shorter call.
inline std::int64_t fa_split_bound(const fa_params& p, std::int64_t n_tokens, std::int64_t kv_len_max) noexcept {
    const std::int64_t base = detail::fa_plan_tiles(p, n_tokens).n_q_tiles * p.n_head_kv;
    const std::int64_t want = base >= fa_target_blocks ? 1 : (fa_target_blocks + base - 1) / base;
    const std::int64_t most = kv_len_max > fa_min_split_keys ? (kv_len_max + fa_min_split_keys - 1) / fa_min_split_keys : 1;
    return want < most ? want : most;
}

inline fa_plan plan_flash_attention(const fa_params& p, std::int64_t n_tokens, std::int64_t kv_len_max) noexcept {
    fa_plan pl = detail::fa_plan_tiles(p, n_tokens);
    const std::int64_t splits = fa_split_bound(p, n_tokens, kv_len_max);
    const std::int64_t per = kv_len_max > 0 ? (kv_len_max + splits - 1) / splits : 1;
    pl.split_keys = (per + fa_tile_keys - 1) / fa_tile_keys * fa_tile_keys;
    pl.n_splits = kv_len_max > 0 ? (kv_len_max + pl.split_keys - 1) / pl.split_keys : 1;
    return pl;
}

// A partial state in scratch: m, l, then head_dim_v accumulator values; split-major, then
// token, then head.
inline std::size_t fa_partial_floats(const fa_params& p) noexcept { return static_cast<std::size_t>(p.head_dim_v) + 2; }

inline std::size_t fa_scratch_bytes_for(const fa_params& p, std::int64_t n_tokens, std::int64_t kv_len_max) noexcept {
    const fa_plan pl = plan_flash_attention(p, n_tokens, kv_len_max);
    if (pl.n_splits <= 1) return 0;  // one split writes the output directly
    return static_cast<std::size_t>(pl.n_splits * n_tokens * p.n_head) * fa_partial_floats(p) * sizeof(float);
}

// Scratch for any call of up to n_batch tokens over up to n_ctx keys (kv_len_max <= n_ctx):
// the split bound at n_ctx for each batch size (the splits fall with the tokens, but not their
// product with them), the largest.
inline std::size_t flash_attention_scratch_bytes(const fa_params& p, std::int64_t n_batch, std::int64_t n_ctx) noexcept {
    std::size_t most = 0;
    for (std::int64_t n = 1; n <= n_batch; ++n) {
        const std::int64_t splits = fa_split_bound(p, n, n_ctx);
        if (splits <= 1) continue;
        const std::size_t b = static_cast<std::size_t>(splits * n * p.n_head) * fa_partial_floats(p) * sizeof(float);
        most = b > most ? b : most;
    }
    return most;
}

// ---- the per-tile math, shared by the kernel and the host emulation -----------------------
// Products and sums are rounded apart (nvcc would otherwise fuse them into FMAs the host does
// not), the FMAs are explicit: host and device run the same operations and differ only by
// expf / tanhf (within 2 ulp) and by nothing else.

STRATA_HD inline float fa_mul(float a, float b) noexcept {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
STRATA_HD inline float fa_add(float a, float b) noexcept {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
STRATA_HD inline float fa_fma(float a, float b, float c) noexcept { return fmaf(a, b, c); }
STRATA_HD inline float fa_exp(float x) noexcept { return expf(x); }

// q rounded as cpu::attention rounds it for K's type, 32 values at a time.
STRATA_HD inline void fa_round_q_block(ggml_type type, const float* q, float* out) noexcept {
    if (type == ggml_type::q8_0) {
        q8_0::block b;
        act_quant::quantize_q8_0(q, b);
        q8_0::dequantize(b, out);
        return;
    }
    for (int i = 0; i < 32; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(q[i]));
}

// The score of a q·k: scaled, then soft-capped as cpu::softcap does (by the reciprocal).
STRATA_HD inline float fa_score(float dot, const fa_params& p) noexcept {
    float s = fa_mul(dot, p.kq_scale);
    if (p.softcap > 0.0f) s = fa_mul(tanhf(fa_mul(s, 1.0f / p.softcap)), p.softcap);
    return s;
}

// Whether key j is visible to a query at position pos (the caller bounds j by the key count).
STRATA_HD inline bool fa_visible(std::int64_t j, std::int64_t pos, const fa_params& p) noexcept {
    if (!p.causal) return true;
    return j <= pos && (p.n_swa <= 0 || j > pos - p.n_swa);
}

// exp(m_old - m_new), the factor a state's l and accumulator take when its max rises to
// m_new: exactly 1 when it does not rise, 0 for an empty state (m_old = -inf), never a NaN.
STRATA_HD inline float fa_rescale(float m_old, float m_new) noexcept {
    if (m_old == m_new) return 1.0f;
    if (m_old == -INFINITY) return 0.0f;
    return fa_exp(m_old - m_new);
}

// One tile's step of the online softmax: the new max and the old state's factor.
struct fa_step {
    float m = -INFINITY, alpha = 1.0f;
};
STRATA_HD inline fa_step fa_advance(float m_old, float tile_max) noexcept {
    const float m = tile_max > m_old ? tile_max : m_old;
    return {m, fa_rescale(m_old, m)};
}
// A key's weight under the running max (0 for a masked key, score -inf).
STRATA_HD inline float fa_weight(float s, float m) noexcept { return s == -INFINITY ? 0.0f : fa_exp(s - m); }
// The weight that multiplies V: fp16 with an F16 cache (as cpu::attention), else as it is.
STRATA_HD inline float fa_value_weight(ggml_type type, float w) noexcept {
    return type == ggml_type::f16 ? fp16_to_fp32(fp32_to_fp16(w)) : w;
}
// l after a tile: l * alpha + the tile's sum of weights.
STRATA_HD inline float fa_running_sum(float l, float alpha, float tile_sum) noexcept { return fa_fma(l, alpha, tile_sum); }

// Combining two states (a, b) — splits, or a state and a sink: the max of both and each one's
// factor; every l and accumulator value then merges as fa_merged(a, wa, b, wb). Two empty
// states (both m = -inf) give factors 1 on zeros: empty again, no NaN.
struct fa_merge {
    float m = -INFINITY, wa = 1.0f, wb = 1.0f;
};
STRATA_HD inline fa_merge fa_merge_weights(float m_a, float m_b) noexcept {
    const float m = m_b > m_a ? m_b : m_a;
    return {m, fa_rescale(m_a, m), fa_rescale(m_b, m)};
}
STRATA_HD inline float fa_merged(float a, float wa, float b, float wb) noexcept { return fa_add(fa_mul(a, wa), fa_mul(b, wb)); }

// 1 / l for the output (0 when no key was visible: the output is then 0, not a NaN).
STRATA_HD inline float fa_inverse_sum(float l) noexcept { return l > 0.0f ? 1.0f / l : 0.0f; }

// ---- host emulation ------------------------------------------------------------------------

namespace detail {

// The sum of 32 lane values in the kernel's butterfly order (warp.cuh's group_sum<32>): lane i
// adds lane i ^ o for o = 16, 8, .., 1 (every lane ends with the same value).
inline float fa_butterfly_sum(const float* v) noexcept {
    float a[32], b[32];
    for (int i = 0; i < 32; ++i) a[i] = v[i];
    for (int o = 16; o > 0; o >>= 1) {
        for (int i = 0; i < 32; ++i) b[i] = fa_add(a[i], a[i ^ o]);
        for (int i = 0; i < 32; ++i) a[i] = b[i];
    }
    return a[0];
}

// A cache row's values widened to float (F16 exactly, Q8_0 by the format's dequantize).
inline void fa_widen_row(ggml_type type, const std::byte* row, std::int64_t n, float* out) {
    if (type == ggml_type::q8_0) {
        const auto* b = reinterpret_cast<const q8_0::block*>(row);
        for (std::int64_t i = 0; i < n / 32; ++i) q8_0::dequantize(b[i], out + 32 * i);
        return;
    }
    const auto* h = reinterpret_cast<const std::uint16_t*>(row);
    for (std::int64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(h[i]);
}

// One query's state over one split: tiles of 32 keys from k_begin, each scored in lane order
// (q·k as a chain of FMAs over d), then the tile step. kf, vf: the widened head slices.
struct fa_query {
    const float* q;                   // rounded, head_dim_k
    const std::vector<float>* kf;     // kv_len rows of row_k floats
    const std::vector<float>* vf;
    std::int64_t row_k, row_v, kv_head, pos;
};

inline void fa_split_state(const fa_query& qu, std::int64_t k_begin, std::int64_t k_end, const fa_params& p,
                           ggml_type type, float* state) {
    const std::int64_t dk = p.head_dim_k, dv = p.head_dim_v;
    float& m = state[0];
    float& l = state[1];
    float* acc = state + 2;
    float s[32], w[32];
    for (std::int64_t k0 = k_begin; k0 < k_end; k0 += fa_tile_keys) {
        float tmax = -INFINITY;
        for (int j = 0; j < 32; ++j) {
            const std::int64_t key = k0 + j;
            s[j] = -INFINITY;
            if (key < k_end && fa_visible(key, qu.pos, p)) {
                const float* k = qu.kf->data() + key * qu.row_k + qu.kv_head * dk;
                float dot = 0.0f;
                for (std::int64_t d = 0; d < dk; ++d) dot = fa_fma(qu.q[d], k[d], dot);
                s[j] = fa_score(dot, p);
            }
            tmax = s[j] > tmax ? s[j] : tmax;
        }
        const fa_step st = fa_advance(m, tmax);
        for (int j = 0; j < 32; ++j) w[j] = fa_weight(s[j], st.m);
        l = fa_running_sum(l, st.alpha, fa_butterfly_sum(w));
        m = st.m;
        for (std::int64_t d = 0; d < dv; ++d) acc[d] = fa_mul(acc[d], st.alpha);
        for (int j = 0; j < 32; ++j) {
            if (s[j] == -INFINITY) continue;  // the kernel adds 0 times a finite (or zeroed) value
            const float pv = fa_value_weight(type, w[j]);
            const float* v = qu.vf->data() + (k0 + j) * qu.row_v + qu.kv_head * dv;
            for (std::int64_t d = 0; d < dv; ++d) acc[d] = fa_fma(pv, v[d], acc[d]);
        }
    }
}

}  // namespace detail

// The kernel's computation on the host, split for split and tile for tile (the same plan),
// combined in the same order: what the GPU test compares against, and what the CPU test checks
// against cpu::attention. kv_len: the keys the cache holds (the kernel's kv_len_max); causal
// queries read keys up to their own pos[t] only. Host pointers; sinks: n_head logits or null.
inline void flash_attention_reference(const float* q, std::int64_t n_tokens, const std::int32_t* pos, std::int64_t kv_len,
                                      const fa_kv& kv, const fa_params& p, const float* sinks, float* out) {
    if (const auto why = flash_attention_unsupported(p, kv.type); !why.empty()) STRATA_THROW(errc::argument, std::string(why));
    if (n_tokens < 0 || kv_len < 0 || (p.causal && n_tokens > 0 && pos == nullptr))
        STRATA_THROW(errc::argument, "flash_attention_reference: bad token count, key count or positions");
    const std::int64_t dk = p.head_dim_k, dv = p.head_dim_v, group = p.n_head / p.n_head_kv;
    const std::int64_t row_k = p.n_head_kv * dk, row_v = p.n_head_kv * dv;
    std::vector<float> kf(static_cast<std::size_t>(kv_len * row_k)), vf(static_cast<std::size_t>(kv_len * row_v));
    for (std::int64_t r = 0; r < kv_len; ++r) {
        detail::fa_widen_row(kv.type, kv.k + std::size_t(r) * kv.row_k_bytes, row_k, kf.data() + r * row_k);
        detail::fa_widen_row(kv.type, kv.v + std::size_t(r) * kv.row_v_bytes, row_v, vf.data() + r * row_v);
    }
    const fa_plan pl = plan_flash_attention(p, n_tokens, kv_len);
    const std::size_t nf = fa_partial_floats(p);
    std::vector<float> qr(static_cast<std::size_t>(dk)), part(nf), total(nf);
    for (std::int64_t t = 0; t < n_tokens; ++t) {
        for (std::int64_t h = 0; h < p.n_head; ++h) {
            const float* qt = q + (t * p.n_head + h) * dk;
            for (std::int64_t b = 0; b < dk; b += 32) fa_round_q_block(kv.type, qt + b, qr.data() + b);
            const detail::fa_query qu{qr.data(), &kf, &vf, row_k, row_v, h / group, p.causal ? pos[t] : 0};
            total.assign(nf, 0.0f);
            total[0] = -INFINITY;
            for (std::int64_t s = 0; s < pl.n_splits; ++s) {
                part.assign(nf, 0.0f);
                part[0] = -INFINITY;
                const std::int64_t k_begin = s * pl.split_keys;
                const std::int64_t k_end = k_begin + pl.split_keys < kv_len ? k_begin + pl.split_keys : kv_len;
                detail::fa_split_state(qu, k_begin, k_end, p, kv.type, part.data());
                const fa_merge mw = fa_merge_weights(total[0], part[0]);
                for (std::size_t i = 1; i < nf; ++i) total[i] = fa_merged(total[i], mw.wa, part[i], mw.wb);
                total[0] = mw.m;
            }
            if (sinks != nullptr) {  // a state of one key with weight exp(sink) and no value
                const fa_merge mw = fa_merge_weights(total[0], sinks[h]);
                total[1] = fa_merged(total[1], mw.wa, 1.0f, mw.wb);
                for (std::size_t i = 2; i < nf; ++i) total[i] = fa_merged(total[i], mw.wa, 0.0f, mw.wb);
            }
            const float inv = fa_inverse_sum(total[1]);
            float* o = out + (t * p.n_head + h) * dv;
            for (std::int64_t d = 0; d < dv; ++d) o[d] = fa_mul(total[2 + std::size_t(d)], inv);
        }
    }
}

}  // namespace cuda
STRATA_NAMESPACE_END
