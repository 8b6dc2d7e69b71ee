// strata/model/transformer.hpp — the decoder forward pass of the llama and gemma families.
//
// One function per step of the papers, top to bottom:
//   x = embed(tokens) [* sqrt(n_embd) for gemma]
//   for each layer:
//     h = rms_norm(x) ; q, k, v = Wq h, Wk h, Wv h
//     [gemma3: q, k = rms_norm per head] ; q, k = rope(q, k, pos) ; cache k, v
//     a = Wo attention(q, cache)  [gemma: a = rms_norm(a)] ; x = x + a
//     h = rms_norm(x) ; f = Wdown (act(Wgate h) * Wup h)  [gemma: f = rms_norm(f)] ; x = x + f
//   logits = Wout rms_norm(x)  [gemma2: soft-capped]
// act is SiLU for llama, GELU (tanh) for gemma. Every buffer is preallocated in `workspace`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/core/error.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/weights.hpp"
#include "strata/quant/row.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// Activations of one batch of up to n_batch tokens.
struct workspace {
    std::int64_t n_batch = 0;
    std::vector<float> x;       // (n_batch, n_embd) residual stream
    std::vector<float> h;       // (n_batch, n_embd) normalised input of a sub-layer
    std::vector<float> q;       // (n_batch, n_head * head_dim_k)
    std::vector<float> k, v;    // (n_batch, n_head_kv * head_dim)
    std::vector<float> att;     // (n_batch, n_head * head_dim_v)
    std::vector<float> o;       // (n_batch, n_embd) sub-layer output
    std::vector<float> gate, up;  // (n_batch, n_ff)
    std::vector<float> logits;  // (n_vocab) of the batch's last token
    std::vector<float> att_scratch;
    std::vector<std::byte> mm_scratch;  // activations converted for the matmuls (64-byte aligned use)
};

// The largest matmul scratch any weight of the model needs for n tokens.
inline std::size_t matmul_scratch_bytes(const weights& w, std::int64_t n) {
    std::size_t m = cpu::scratch_bytes(w.output.type, w.output.cols(), 1);
    for (const auto& L : w.layers)
        for (const tensor* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
            m = std::max(m, cpu::scratch_bytes(t->type, t->cols(), n));
    return m;
}

// The element count of every workspace buffer: make_workspace allocates exactly these and the
// planner prices them (workspace_bytes), so the estimate cannot drift from the allocation.
struct workspace_shape {
    std::size_t x, h, o, q, k, v, att, gate, up, logits, att_scratch, mm_scratch;

    std::size_t bytes() const noexcept {
        return (x + h + o + q + k + v + att + gate + up + logits + att_scratch) * sizeof(float) + mm_scratch;
    }
};

inline workspace_shape workspace_shape_for(const hparams& hp, const weights& w, std::int64_t n_batch,
                                           std::int64_t n_ctx, int n_threads) {
    const auto n = static_cast<std::size_t>(n_batch);
    const cpu::attention_params ap{hp.n_head, hp.n_head_kv, hp.head_dim_k, hp.head_dim_v};
    return {n * hp.n_embd, n * hp.n_embd, n * hp.n_embd, n * hp.n_head * hp.head_dim_k,
            n * hp.n_embd_k_gqa(), n * hp.n_embd_v_gqa(), n * hp.n_head * hp.head_dim_v,
            n * hp.n_ff, n * hp.n_ff, hp.n_vocab,
            cpu::attention_scratch_floats(ap, n_ctx, n_threads),
            matmul_scratch_bytes(w, n_batch) + cpu::scratch_alignment};
}

// Bytes a workspace really holds (what workspace_bytes priced, read back from the buffers).
inline std::size_t allocated_bytes(const workspace& w) noexcept {
    std::size_t b = w.mm_scratch.size();
    for (const auto* v : {&w.x, &w.h, &w.o, &w.q, &w.k, &w.v, &w.att, &w.gate, &w.up, &w.logits, &w.att_scratch})
        b += v->size() * sizeof(float);
    return b;
}

// Bytes of the activations of one session: the CPU backend's compute buffer.
inline std::size_t workspace_bytes(const hparams& hp, const weights& w, std::int64_t n_batch, std::int64_t n_ctx,
                                   int n_threads) {
    return workspace_shape_for(hp, w, n_batch, n_ctx, n_threads).bytes();
}

inline workspace make_workspace(const hparams& hp, const weights& w, std::int64_t n_batch, std::int64_t n_ctx,
                                int n_threads) {
    const workspace_shape s = workspace_shape_for(hp, w, n_batch, n_ctx, n_threads);
    workspace ws;
    ws.n_batch = n_batch;
    ws.x.resize(s.x);
    ws.h.resize(s.h);
    ws.o.resize(s.o);
    ws.q.resize(s.q);
    ws.k.resize(s.k);
    ws.v.resize(s.v);
    ws.att.resize(s.att);
    ws.gate.resize(s.gate);
    ws.up.resize(s.up);
    ws.logits.resize(s.logits);
    ws.att_scratch.resize(s.att_scratch);
    ws.mm_scratch.resize(s.mm_scratch);
    return ws;
}

// One device's part of a forward pass: the backend that computes there and its activations.
struct stage {
    const cpu::backend* be = nullptr;
    workspace* ws = nullptr;
};

template <class Formats>
class transformer {
public:
    transformer(const hparams& hp, const weights& w) : hp_(hp), w_(w) {}

    // Runs tokens at positions pos0.. through every layer, filling the cache, and leaves the
    // logits of the last token in the output stage's workspace. Layer il runs on
    // stages[layer_stage[il]] (all on stages[0] when layer_stage is empty), the output head on
    // stages[output_stage]. Embeddings are gathered on stages[0]; the residual stream crosses to the next
    // device at every boundary.
    void forward(std::span<const stage> stages, std::span<const int> layer_stage, int output_stage,
                 std::span<const std::int32_t> tokens, std::int64_t pos0, kv_cache& kv) const {
        const auto n = static_cast<std::int64_t>(tokens.size());
        for (const stage& s : stages)
            if (n == 0 || n > s.ws->n_batch) STRATA_THROW(errc::argument, "forward: batch of " + std::to_string(n) + " tokens (max " + std::to_string(s.ws->n_batch) + ")");
        if (pos0 + n > kv.n_ctx) STRATA_THROW(errc::argument, "forward: positions up to " + std::to_string(pos0 + n) + " exceed the context of " + std::to_string(kv.n_ctx));
        embed(tokens, *stages[0].ws);
        int at = 0;
        for (std::uint32_t il = 0; il < hp_.n_layer; ++il) {
            const int d = layer_stage.empty() ? 0 : layer_stage[il];
            if (d != at) cross(*stages[std::size_t(at)].ws, *stages[std::size_t(d)].ws, n), at = d;
            const stage& s = stages[std::size_t(d)];
            attention_block(*s.be, il, n, pos0, kv.layers[il], *s.ws);
            ffn_block(*s.be, il, n, *s.ws);
        }
        if (output_stage != at) cross(*stages[std::size_t(at)].ws, *stages[std::size_t(output_stage)].ws, n);
        const stage& out = stages[std::size_t(output_stage)];
        output_head(*out.be, n, *out.ws);
    }

private:
    // The residual stream of the batch moves to the next device (a copy between host buffers
    // here; through pinned memory for a GPU).
    void cross(const workspace& from, workspace& to, std::int64_t n) const {
        std::copy_n(from.x.data(), std::size_t(n * hp_.n_embd), to.x.data());
    }

    // x = token_embd[tokens] * embd_scale
    void embed(std::span<const std::int32_t> tokens, workspace& ws) const {
        const tensor& E = w_.token_embd;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const std::int32_t id = tokens[t];
            if (id < 0 || id >= E.rows())
                STRATA_THROW(errc::argument, "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(E.rows()));
            float* x = ws.x.data() + t * hp_.n_embd;
            const auto* row = static_cast<const std::byte*>(E.data) + std::size_t(id) * E.row_bytes;
            Formats::dispatch(E.type, "token_embd.weight", [&](auto f) {
                dequantize_row<decltype(f)>(row, x, std::size_t(hp_.n_embd));
            });
            if (hp_.embd_scale != 1.0f) cpu::scale(x, hp_.n_embd, hp_.embd_scale);
        }
    }

    void matmul(const cpu::backend& be, const tensor& W, const float* x, std::int64_t n, float* y, workspace& ws) const {
        const cpu::weight_view wv{W.type, W.data, W.rows(), W.cols(), W.row_bytes};
        cpu::matmul<Formats>(be, wv, x, n, y, cpu::aligned_scratch(ws.mm_scratch));
    }

    static const float* f32_data(const tensor& t, const char* what) {
        if (t.type != ggml_type::f32) STRATA_THROW(errc::unsupported, std::string(what) + ": norm weights must be f32");
        return static_cast<const float*>(t.data);
    }

    void norm_rows(const tensor& w, const float* x, float* y, std::int64_t n, std::int64_t len) const {
        cpu::rms_norm_rows(x, f32_data(w, "norm"), y, n, len, hp_.rms_eps);
    }

    cpu::rope_params rope_for(std::uint32_t il) const {
        const bool swa = hp_.is_swa(il);
        return {hp_.n_rot, hp_.layer_rope_theta(il), swa ? 1.0f : hp_.rope_freq_scale,
                w_.rope_freqs ? f32_data(w_.rope_freqs, "rope_freqs") : nullptr, hp_.rope == rope_layout::neox};
    }

    // q, k = rope(norm(Wq h), norm(Wk h)); cache k, v; att = attention(q, cache); x += norm(Wo att)
    void attention_block(const cpu::backend& be, std::uint32_t il, std::int64_t n, std::int64_t pos0, kv_layer& kv,
                         workspace& ws) const {
        const layer_weights& L = w_.layers[il];
        const std::int64_t dk = hp_.head_dim_k, n_head = hp_.n_head, n_kv = hp_.n_head_kv;
        norm_rows(L.attn_norm, ws.x.data(), ws.h.data(), n, hp_.n_embd);
        matmul(be, L.wq, ws.h.data(), n, ws.q.data(), ws);
        matmul(be, L.wk, ws.h.data(), n, ws.k.data(), ws);
        matmul(be, L.wv, ws.h.data(), n, ws.v.data(), ws);
        if (L.q_norm) norm_rows(L.q_norm, ws.q.data(), ws.q.data(), n * n_head, dk);
        if (L.k_norm) norm_rows(L.k_norm, ws.k.data(), ws.k.data(), n * n_kv, dk);
        const cpu::rope_params rp = rope_for(il);
        // gemma scales q before q·k (llama.cpp does it with a scale op); llama scales the scores
        const bool gemma = hp_.arch != arch::llama;
        for (std::int64_t t = 0; t < n; ++t) {
            for (std::int64_t hh = 0; hh < n_head; ++hh) {
                float* q = ws.q.data() + (t * n_head + hh) * dk;
                cpu::rope(q, pos0 + t, rp);
                if (gemma) cpu::scale(q, dk, hp_.attn_scale);
            }
            for (std::int64_t hh = 0; hh < n_kv; ++hh) cpu::rope(ws.k.data() + (t * n_kv + hh) * dk, pos0 + t, rp);
            store_kv(kv, pos0 + t, ws.k.data() + t * kv.row_k, ws.v.data() + t * kv.row_v);
        }
        cpu::attention_params ap{n_head, n_kv, dk, hp_.head_dim_v, gemma ? 1.0f : hp_.attn_scale, hp_.attn_softcap,
                                 hp_.is_swa(il) ? std::int64_t(hp_.n_swa) : 0};
        const cpu::kv_view view{kv.type, kv.k.data(), kv.v.data(), kv.row_k, kv.row_v, kv.row_k_bytes, kv.row_v_bytes};
        cpu::attention(be, ws.q.data(), n, pos0, view, ap, ws.att.data(), ws.att_scratch);
        matmul(be, L.wo, ws.att.data(), n, ws.o.data(), ws);
        if (L.post_attn_norm) norm_rows(L.post_attn_norm, ws.o.data(), ws.o.data(), n, hp_.n_embd);
        cpu::add(ws.x.data(), ws.o.data(), n * hp_.n_embd);
    }

    // The cache row of one position, in the cache's type (Q8_0 with the activation quantizer,
    // as ggml-cpu converts rows it copies into a quantized cache).
    static void store_kv(kv_layer& kv, std::int64_t pos, const float* k, const float* v) {
        std::byte* kd = kv.k.data() + std::size_t(pos) * kv.row_k_bytes;
        std::byte* vd = kv.v.data() + std::size_t(pos) * kv.row_v_bytes;
        if (kv.type == ggml_type::q8_0) {
            cpu::detail::quantize_row_q8_0_act_ref(k, kd, kv.row_k);
            cpu::detail::quantize_row_q8_0_act_ref(v, vd, kv.row_v);
            return;
        }
        auto* k16 = reinterpret_cast<std::uint16_t*>(kd);
        auto* v16 = reinterpret_cast<std::uint16_t*>(vd);
        for (std::int64_t i = 0; i < kv.row_k; ++i) k16[i] = fp32_to_fp16(k[i]);
        for (std::int64_t i = 0; i < kv.row_v; ++i) v16[i] = fp32_to_fp16(v[i]);
    }

    // x += norm(Wdown (act(Wgate h) * Wup h)),  h = norm(x)
    void ffn_block(const cpu::backend& be, std::uint32_t il, std::int64_t n, workspace& ws) const {
        const layer_weights& L = w_.layers[il];
        norm_rows(L.ffn_norm, ws.x.data(), ws.h.data(), n, hp_.n_embd);
        matmul(be, L.ffn_gate, ws.h.data(), n, ws.gate.data(), ws);
        matmul(be, L.ffn_up, ws.h.data(), n, ws.up.data(), ws);
        const std::int64_t m = n * hp_.n_ff;
        if (hp_.arch == arch::llama) {
            cpu::swiglu(ws.gate.data(), ws.up.data(), ws.gate.data(), m);
        } else {
            cpu::geglu(ws.gate.data(), ws.up.data(), ws.gate.data(), m);
        }
        matmul(be, L.ffn_down, ws.gate.data(), n, ws.o.data(), ws);
        if (L.post_ffn_norm) norm_rows(L.post_ffn_norm, ws.o.data(), ws.o.data(), n, hp_.n_embd);
        cpu::add(ws.x.data(), ws.o.data(), n * hp_.n_embd);
    }

    // logits = Wout norm(x_last)  [soft-capped]
    void output_head(const cpu::backend& be, std::int64_t n, workspace& ws) const {
        const float* last = ws.x.data() + (n - 1) * hp_.n_embd;
        norm_rows(w_.output_norm, last, ws.h.data(), 1, hp_.n_embd);
        matmul(be, w_.output, ws.h.data(), 1, ws.logits.data(), ws);
        if (hp_.final_softcap > 0.0f) cpu::softcap(ws.logits.data(), hp_.n_vocab, hp_.final_softcap);
    }

    const hparams& hp_;
    const weights& w_;
};

}  // namespace model
STRATA_NAMESPACE_END
