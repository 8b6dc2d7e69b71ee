// strata/model/transformer.hpp — the decoder forward pass of the llama and gemma families.
//
// One function per step of the papers, top to bottom:
//   x = embed(tokens) [* sqrt(n_embd) for gemma]
//   for each layer:
//     h = rms_norm(x) ; q, k, v = Wq h, Wk h, Wv h
//     [gemma3: q, k = rms_norm per head] ; q, k = rope(q, k, pos) ; cache k, v
//     a = Wo attention(q, cache)  [gemma: a = rms_norm(a)] ; x = x + a
//     h = rms_norm(x) ; f = Wdown (act(Wgate h) * Wup h)  [gemma: f = rms_norm(f)] ; x = x + f
//       [MoE: f = sum of the router's top-k experts' SwiGLU FFNs, weighted]
//   logits = Wout rms_norm(x)  [gemma2: soft-capped]
// act is SiLU for llama, GELU (tanh) for gemma. The ops run on the stage a layer is placed on
// (cpu_stage.hpp, cuda_stage.hpp); every buffer is preallocated there.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/core/error.hpp"
#include "strata/model/cpu_stage.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/weights.hpp"
#include "strata/model/workspace.hpp"
#include "strata/quant/row.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

namespace detail {

template <class T>
struct is_variant : std::false_type {};
template <class... T>
struct is_variant<std::variant<T...>> : std::true_type {};

// Runs fn on the stage itself: the one place a variant over the compiled backends becomes the
// backend a layer was placed on.
template <class Stage, class Fn>
decltype(auto) with_stage(Stage& s, Fn&& fn) {
    if constexpr (is_variant<std::remove_const_t<Stage>>::value) return std::visit(fn, s);
    else return fn(s);
}

}  // namespace detail

template <class Formats>
class transformer {
public:
    transformer(const hparams& hp, const weights& w) : hp_(hp), w_(w) {}

    // Runs tokens at positions pos0.. through every layer, filling the cache, and leaves the
    // logits of the last token in the output stage. Layer il's attention half runs on
    // stages[layer_stage[il]] and its FFN half on stages[ffn_stage[il]] (the same stage unless an
    // MoE block's experts are placed apart; empty spans: all on stages[0]), the output head on
    // stages[output_stage]. Embeddings are gathered on stages[0], the host; the residual stream
    // crosses to the next device at every boundary. A Stage is cpu_stage, cuda_stage or a
    // variant of them.
    template <class Stage>
    void forward(std::span<Stage> stages, std::span<const int> layer_stage, std::span<const int> ffn_stage, int output_stage,
                 std::span<const std::int32_t> tokens, std::int64_t pos0, kv_cache& kv) const {
        const auto n = static_cast<std::int64_t>(tokens.size());
        for (auto& st : stages) {
            const std::int64_t nb = detail::with_stage(st, [](auto& s) { return s.n_batch(); });
            if (n == 0 || n > nb) STRATA_THROW(errc::argument, "forward: batch of " + std::to_string(n) + " tokens (max " + std::to_string(nb) + ")");
        }
        if (pos0 + n > kv.n_ctx) STRATA_THROW(errc::argument, "forward: positions up to " + std::to_string(pos0 + n) + " exceed the context of " + std::to_string(kv.n_ctx));
        float* x0 = detail::with_stage(stages[0], [](auto& s) { return s.host_x(); });
        if (x0 == nullptr) STRATA_THROW(errc::internal, "forward: stage 0 must be the host");
        embed(tokens, x0);
        // The pass is a list of steps: each layer's attention half (step 2 il), its FFN half
        // (2 il + 1), then the head (2 n_layer). Runs of consecutive steps on one device are its
        // segments (a CUDA stage captures a decode step's segment in a graph, keyed by its first
        // step).
        const int n_steps = 2 * int(hp_.n_layer) + 1;
        auto stage_of = [&](int step) {
            if (step == n_steps - 1) return output_stage;
            const auto il = std::size_t(step / 2);
            const std::span<const int> where = step % 2 == 0 || ffn_stage.empty() ? layer_stage : ffn_stage;
            return where.empty() ? 0 : where[il];
        };
        int at = 0;
        for (int step = 0; step < n_steps;) {
            const int d = stage_of(step);
            if (d != at) cross(stages[std::size_t(at)], stages[std::size_t(d)], n), at = d;
            detail::with_stage(stages[std::size_t(d)], [&](auto& s) {
                s.begin_segment(n, pos0, step);
                for (; step < n_steps && stage_of(step) == d; ++step) {
                    const auto il = std::uint32_t(step / 2);
                    if (step == n_steps - 1) output_head(s, n);
                    else if (step % 2 == 0) attention_block(s, il, n, pos0, kv.layers[il]);
                    else if (w_.layers[il].moe()) moe_block(s, il, n);
                    else ffn_block(s, il, n);
                }
                s.end_segment();
            });
        }
    }

private:
    // The residual stream of the batch moves to the next device: straight into a host stage's
    // buffer, or out of one (a GPU stage copies through its pinned staging buffer).
    template <class Stage>
    void cross(Stage& from, Stage& to, std::int64_t n) const {
        const std::size_t count = std::size_t(n * hp_.n_embd);
        float* to_host = detail::with_stage(to, [](auto& s) { return s.host_x(); });
        float* from_host = detail::with_stage(from, [](auto& s) { return s.host_x(); });
        if (to_host) return detail::with_stage(from, [&](auto& s) { s.x_to_host(to_host, count); });
        if (from_host) return detail::with_stage(to, [&](auto& s) { s.x_from_host(from_host, count); });
        STRATA_THROW(errc::unsupported, "forward: consecutive layers on two GPUs: the engine crosses between a GPU and the host only");
    }

    // x = token_embd[tokens] * embd_scale, on the host
    void embed(std::span<const std::int32_t> tokens, float* x0) const {
        const tensor& E = w_.token_embd;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const std::int32_t id = tokens[t];
            if (id < 0 || id >= E.rows())
                STRATA_THROW(errc::argument, "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(E.rows()));
            float* x = x0 + t * hp_.n_embd;
            const auto* row = static_cast<const std::byte*>(E.data) + std::size_t(id) * E.row_bytes;
            Formats::dispatch(E.type, "token_embd.weight", [&](auto f) {
                dequantize_row<decltype(f)>(row, x, std::size_t(hp_.n_embd));
            });
            if (hp_.embd_scale != 1.0f) cpu::scale(x, hp_.n_embd, hp_.embd_scale);
        }
    }

    cpu::rope_params rope_for(std::uint32_t il) const {
        const bool swa = hp_.is_swa(il);
        return {hp_.n_rot, hp_.layer_rope_theta(il), swa ? 1.0f : hp_.rope_freq_scale,
                w_.rope_freqs ? f32_data(w_.rope_freqs, "rope_freqs") : nullptr, hp_.rope == rope_layout::neox};
    }

    // q, k = rope(norm(Wq h), norm(Wk h)); cache k, v; att = attention(q, cache); x += norm(Wo att)
    template <class S>
    void attention_block(S& s, std::uint32_t il, std::int64_t n, std::int64_t pos0, kv_layer& kv) const {
        const layer_weights& L = w_.layers[il];
        const activations a = s.acts();
        const std::int64_t dk = hp_.head_dim_k, n_head = hp_.n_head, n_kv = hp_.n_head_kv;
        s.norm_rows(L.attn_norm, a.x, a.h, n, hp_.n_embd, hp_.rms_eps);
        s.matmul(L.wq, a.h, n, a.q);
        s.matmul(L.wk, a.h, n, a.k);
        s.matmul(L.wv, a.h, n, a.v);
        if (L.q_norm) s.norm_rows(L.q_norm, a.q, a.q, n * n_head, dk, hp_.rms_eps);
        if (L.k_norm) s.norm_rows(L.k_norm, a.k, a.k, n * n_kv, dk, hp_.rms_eps);
        const cpu::rope_params rp = rope_for(il);
        s.rope(a.q, n, n_head, dk, pos0, rp);
        s.rope(a.k, n, n_kv, dk, pos0, rp);
        // gemma scales q before q·k (llama.cpp does it with a scale op); llama scales the scores
        const bool gemma = hp_.arch != arch::llama;
        if (gemma) s.scale(a.q, n * n_head * dk, hp_.attn_scale);
        s.store_kv(kv, pos0, n, a.k, a.v);
        s.attention(a.q, n, pos0, kv, attention_params_for(hp_, il), a.att);
        s.matmul(L.wo, a.att, n, a.o);
        if (L.post_attn_norm) s.norm_rows(L.post_attn_norm, a.o, a.o, n, hp_.n_embd, hp_.rms_eps);
        s.add(a.x, a.o, n * hp_.n_embd);
    }

    // x += norm(Wdown (act(Wgate h) * Wup h)),  h = norm(x)
    template <class S>
    void ffn_block(S& s, std::uint32_t il, std::int64_t n) const {
        const layer_weights& L = w_.layers[il];
        const activations a = s.acts();
        s.norm_rows(L.ffn_norm, a.x, a.h, n, hp_.n_embd, hp_.rms_eps);
        s.matmul(L.ffn_gate, a.h, n, a.gate);
        s.matmul(L.ffn_up, a.h, n, a.up);
        if (hp_.arch == arch::llama) s.swiglu(a.gate, a.up, n * hp_.n_ff);
        else s.geglu(a.gate, a.up, n * hp_.n_ff);
        s.matmul(L.ffn_down, a.gate, n, a.o);
        if (L.post_ffn_norm) s.norm_rows(L.post_ffn_norm, a.o, a.o, n, hp_.n_embd, hp_.rms_eps);
        s.add(a.x, a.o, n * hp_.n_embd);
    }

    // x += sum over the n_expert_used experts the router picks for each token, weighted by its
    // renormalised probabilities, of Wdown_e (silu(Wgate_e h) * Wup_e h),  h = norm(x).
    // Each expert runs once over the tokens routed to it (backend/cpu/moe.hpp).
    template <class S>
    void moe_block(S& s, std::uint32_t il, std::int64_t n) const {
        const layer_weights& L = w_.layers[il];
        const activations a = s.acts();
        const int n_expert = int(hp_.n_expert), n_used = int(hp_.n_expert_used);
        s.norm_rows(L.ffn_norm, a.x, a.h, n, hp_.n_embd, hp_.rms_eps);
        s.matmul(L.ffn_gate_inp, a.h, n, a.router);
        s.route(a, n, n_expert, n_used);
        for (int e = 0; e < n_expert; ++e) {
            const std::int64_t rows = s.gather_expert(a, e, n, n_used, hp_.n_embd);
            if (rows == 0) continue;
            s.matmul(L.ffn_gate_exps.expert(e), a.expert_in, rows, a.gate);
            s.matmul(L.ffn_up_exps.expert(e), a.expert_in, rows, a.up);
            s.swiglu(a.gate, a.up, rows * hp_.n_ff);
            s.matmul(L.ffn_down_exps.expert(e), a.gate, rows, a.o);
            s.scatter_expert(a, a.o, rows, hp_.n_embd);
        }
        s.sum_expert_slots(a, n, n_used, hp_.n_embd, a.o);
        s.add(a.x, a.o, n * hp_.n_embd);
    }

    // logits = Wout norm(x_last)  [soft-capped]
    template <class S>
    void output_head(S& s, std::int64_t n) const {
        const activations a = s.acts();
        s.norm_rows(w_.output_norm, a.x + (n - 1) * hp_.n_embd, a.h, 1, hp_.n_embd, hp_.rms_eps);
        s.matmul(w_.output, a.h, 1, a.logits);
        if (hp_.final_softcap > 0.0f) s.softcap(a.logits, hp_.n_vocab, hp_.final_softcap);
    }

    const hparams& hp_;
    const weights& w_;
};

}  // namespace model
STRATA_NAMESPACE_END
