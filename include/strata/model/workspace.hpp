// strata/model/workspace.hpp — the activations of one batch on the host (the CPU backend's
// compute buffer), sized by one function the planner prices and the session allocates with.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/weights.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// The buffers of one forward pass as raw pointers, wherever they live (host memory for a CPU
// stage, device memory for a GPU's): what the forward pass writes and reads.
struct activations {
    float *x, *h, *q, *k, *v, *att, *o, *gate, *up, *logits;
    // MoE blocks (a stage that runs experts; null elsewhere): the router's logits (n, n_expert);
    // per slot (token t, rank k: t * n_expert_used + k) the chosen expert, its weight and its
    // output row; an expert's gathered input rows and their slots (backend/cpu/moe.hpp)
    float* router = nullptr;
    std::int32_t* expert_ids = nullptr;
    float* expert_weights = nullptr;
    float* slot_out = nullptr;
    float* expert_in = nullptr;
    std::int32_t* expert_slots = nullptr;
};

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
    // MoE only (empty for a dense model): see activations
    std::vector<float> router;          // (n_batch, n_expert), then n_expert floats of routing scratch
    std::vector<std::int32_t> expert_ids;  // (n_batch, n_expert_used), then n_expert ints of scratch
    std::vector<float> expert_weights;  // (n_batch, n_expert_used)
    std::vector<float> slot_out;        // (n_batch * n_expert_used, n_embd)
    std::vector<float> expert_in;       // (n_batch, n_embd)
    std::vector<std::int32_t> expert_slots;  // (n_batch)
};

// The largest matmul scratch any weight of the model needs for n tokens.
inline std::size_t matmul_scratch_bytes(const weights& w, std::int64_t n) {
    std::size_t m = cpu::scratch_bytes(w.output.type, w.output.cols(), 1);
    for (const auto& L : w.layers) {
        for (const tensor& t : matrices_of(L)) m = std::max(m, cpu::scratch_bytes(t.type, t.cols(), n));
        if (L.moe()) m = std::max(m, cpu::scratch_bytes(L.ffn_gate_inp.type, L.ffn_gate_inp.cols(), n));
    }
    return m;
}

// The element count of every workspace buffer: make_workspace allocates exactly these and the
// planner prices them (workspace_bytes), so the estimate cannot drift from the allocation.
struct workspace_shape {
    std::size_t x, h, o, q, k, v, att, gate, up, logits, att_scratch, mm_scratch;
    std::size_t router = 0, expert_ids = 0, expert_weights = 0, slot_out = 0, expert_in = 0, expert_slots = 0;

    std::size_t bytes() const noexcept {
        return (x + h + o + q + k + v + att + gate + up + logits + att_scratch + router + expert_weights + slot_out +
                expert_in) * sizeof(float) +
               (expert_ids + expert_slots) * sizeof(std::int32_t) + mm_scratch;
    }
};

inline workspace_shape workspace_shape_for(const hparams& hp, const weights& w, std::int64_t n_batch,
                                           std::int64_t n_ctx, int n_threads) {
    const auto n = static_cast<std::size_t>(n_batch);
    const cpu::attention_params ap{hp.n_head, hp.n_head_kv, hp.head_dim_k, hp.head_dim_v};
    workspace_shape s{n * hp.n_embd, n * hp.n_embd, n * hp.n_embd, n * hp.n_head * hp.head_dim_k,
                      n * hp.n_embd_k_gqa(), n * hp.n_embd_v_gqa(), n * hp.n_head * hp.head_dim_v,
                      n * hp.n_ff, n * hp.n_ff, hp.n_vocab,
                      cpu::attention_scratch_floats(ap, n_ctx, n_threads),
                      matmul_scratch_bytes(w, n_batch) + cpu::scratch_alignment};
    if (hp.n_expert > 0) {
        const std::size_t slots = n * hp.n_expert_used;
        s.router = (n + 1) * hp.n_expert;
        s.expert_ids = slots + hp.n_expert;
        s.expert_weights = slots;
        s.slot_out = slots * hp.n_embd;
        s.expert_in = n * hp.n_embd;
        s.expert_slots = n;
    }
    return s;
}

// Bytes a workspace really holds (what workspace_bytes priced, read back from the buffers).
inline std::size_t allocated_bytes(const workspace& w) noexcept {
    std::size_t b = w.mm_scratch.size() + (w.expert_ids.size() + w.expert_slots.size()) * sizeof(std::int32_t);
    for (const auto* v : {&w.x, &w.h, &w.o, &w.q, &w.k, &w.v, &w.att, &w.gate, &w.up, &w.logits, &w.att_scratch,
                          &w.router, &w.expert_weights, &w.slot_out, &w.expert_in})
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
    ws.router.resize(s.router);
    ws.expert_ids.resize(s.expert_ids);
    ws.expert_weights.resize(s.expert_weights);
    ws.slot_out.resize(s.slot_out);
    ws.expert_in.resize(s.expert_in);
    ws.expert_slots.resize(s.expert_slots);
    return ws;
}

// The attention of layer il: gemma scales q before q·k (llama.cpp does it with a scale op), llama
// scales the scores; gemma2 soft-caps them; sliding-window layers see n_swa keys.
inline cpu::attention_params attention_params_for(const hparams& hp, std::uint32_t il) noexcept {
    const bool gemma = hp.arch != arch::llama;
    return {hp.n_head, hp.n_head_kv, hp.head_dim_k, hp.head_dim_v, gemma ? 1.0f : hp.attn_scale, hp.attn_softcap,
            hp.is_swa(il) ? std::int64_t(hp.n_swa) : 0};
}

inline activations views_of(workspace& ws) noexcept {
    return {ws.x.data(),      ws.h.data(),          ws.q.data(),          ws.k.data(),
            ws.v.data(),      ws.att.data(),        ws.o.data(),          ws.gate.data(),
            ws.up.data(),     ws.logits.data(),     ws.router.data(),     ws.expert_ids.data(),
            ws.expert_weights.data(), ws.slot_out.data(), ws.expert_in.data(), ws.expert_slots.data()};
}

}  // namespace model
STRATA_NAMESPACE_END
