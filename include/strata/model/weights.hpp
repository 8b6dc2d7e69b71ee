// strata/model/weights.hpp — the model's tensors, found by GGUF name and checked against the
// hyperparameters: every tensor the architecture needs is present with exactly the shape it
// must have, before anything runs. Weights stay in the memory map (views, no copies).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/model/hparams.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// A 1-D or 2-D tensor in place: ne[0] is the row length (the reduced dimension of a matmul),
// ne[1] the number of rows. The stacked expert matrices of an MoE block are n_mat such matrices
// one after another (GGUF's third dimension); expert(e) is the e-th as a matrix of its own.
struct tensor {
    const gguf::tensor_info* info = nullptr;  // null: absent (optional tensors)
    ggml_type type = ggml_type::f32;
    std::int64_t ne[2] = {0, 0};
    const void* data = nullptr;
    std::size_t row_bytes = 0;
    std::int64_t n_mat = 1;

    explicit operator bool() const noexcept { return info != nullptr; }
    std::int64_t rows() const noexcept { return ne[1]; }
    std::int64_t cols() const noexcept { return ne[0]; }
    std::size_t matrix_bytes() const noexcept { return static_cast<std::size_t>(ne[1]) * row_bytes; }

    tensor expert(std::int64_t e) const noexcept {
        tensor t = *this;
        t.n_mat = 1;
        t.data = static_cast<const std::byte*>(data) + static_cast<std::size_t>(e) * matrix_bytes();
        return t;
    }
};

struct layer_weights {
    tensor attn_norm, wq, wk, wv, wo;
    tensor q_norm, k_norm;                    // gemma3: RMSNorm over each head of q and k
    tensor post_attn_norm;                    // gemma2/3: norm of the attention output
    tensor ffn_norm, ffn_gate, ffn_up, ffn_down;
    tensor post_ffn_norm;                     // gemma2/3
    // MoE (Mixtral-style llama): a router and n_expert stacked SwiGLU FFNs instead of the dense one
    tensor ffn_gate_inp;                      // (n_expert rows of n_embd): the router
    tensor ffn_gate_exps, ffn_up_exps;        // n_expert x (n_ff rows of n_embd)
    tensor ffn_down_exps;                     // n_expert x (n_embd rows of n_ff)

    bool moe() const noexcept { return static_cast<bool>(ffn_gate_inp); }
};

// Every tensor of a layer, present or not, as two halves: the attention half (what runs before
// the residual add of attention) and the FFN half, which an MoE block may place apart (its
// experts on the CPU, its attention on a GPU). A placement copies each half's present tensors
// together.
// (Templates so that a const layer gives pointers to const.)
template <class Layer>
auto attention_tensors_of(Layer& L) noexcept {
    return std::array{&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.q_norm, &L.k_norm, &L.post_attn_norm};
}
template <class Layer>
auto ffn_tensors_of(Layer& L) noexcept {
    return std::array{&L.ffn_norm,     &L.ffn_gate,      &L.ffn_up,      &L.ffn_down,     &L.post_ffn_norm,
                      &L.ffn_gate_inp, &L.ffn_gate_exps, &L.ffn_up_exps, &L.ffn_down_exps};
}
template <class Layer>
auto tensors_of(Layer& L) noexcept {
    const auto a = attention_tensors_of(L);
    const auto f = ffn_tensors_of(L);
    std::array<typename decltype(a)::value_type, std::tuple_size_v<decltype(a)> + std::tuple_size_v<decltype(f)>> all{};
    std::copy(f.begin(), f.end(), std::copy(a.begin(), a.end(), all.begin()));
    return all;
}

// The matrices a layer multiplies by, one matrix each (an expert tensor by its first expert, the
// shape every expert has): what workspaces and streams are sized by. Absent ones are empty.
inline std::array<tensor, 10> matrices_of(const layer_weights& L) noexcept {
    return {L.wq, L.wk, L.wv, L.wo, L.ffn_gate, L.ffn_up, L.ffn_down,
            L.ffn_gate_exps.expert(0), L.ffn_up_exps.expert(0), L.ffn_down_exps.expert(0)};
}

// Bytes of a tensor's data (every matrix of a stacked one).
inline std::size_t tensor_bytes(const tensor& t) noexcept { return t.matrix_bytes() * static_cast<std::size_t>(t.n_mat); }

struct weights {
    tensor token_embd;   // (n_vocab rows of n_embd)
    tensor output_norm;
    tensor output;       // the output head; token_embd when tied
    tensor rope_freqs;   // llama 3: per-frequency divisors of the rotation angle (optional)
    std::vector<layer_weights> layers;
};

// The weight bytes one decode step reads: every tensor but the embedding table (a row is
// gathered; a tied head reads it whole), the experts of an MoE block at n_expert_used of
// n_expert (on average over tokens: which ones varies). What a tokens/s figure is converted to
// GB/s by.
inline double decode_read_bytes(const weights& w, std::uint32_t n_expert_used) {
    double b = double(tensor_bytes(w.output_norm)) + double(tensor_bytes(w.output)) + double(tensor_bytes(w.rope_freqs));
    for (const layer_weights& L : w.layers)
        for (const tensor* t : tensors_of(L))
            if (*t) b += double(tensor_bytes(*t)) * (t->n_mat > 1 ? double(n_expert_used) / double(t->n_mat) : 1.0);  // stacked: experts
    return b;
}

namespace detail {

// (appended piece by piece: g++ 12 -O3 reports a false -Wrestrict for "[" + std::to_string(a))
inline std::string shape_string(std::int64_t a, std::int64_t b, std::int64_t c = 1) {
    std::string s = "[";
    s += std::to_string(a);
    for (const std::int64_t d : {b, c > 1 ? c : 0})
        if (d > 0) {
            s += ", ";
            s += std::to_string(d);
        }
    s += ']';
    return s;
}

class binder {
public:
    binder(const gguf::file& f) : f_(f) {}

    // ne1 == 0 means a 1-D tensor of ne0 elements; ne2 > 1 a stack of ne2 matrices (experts).
    tensor need(const std::string& name, std::int64_t ne0, std::int64_t ne1 = 0, std::int64_t ne2 = 1) const {
        tensor t = maybe(name, ne0, ne1, ne2);
        if (!t)
            STRATA_THROW(errc::missing, "tensor '" + name + "' " + shape_string(ne0, ne1, ne2) + " is missing", f_.path());
        return t;
    }

    tensor maybe(const std::string& name, std::int64_t ne0, std::int64_t ne1 = 0, std::int64_t ne2 = 1) const {
        const gguf::tensor_info* ti = f_.find_tensor(name);
        if (!ti) return {};
        const bool matrix = ne1 > 0;
        const bool ok = ti->ne[0] == std::uint64_t(ne0) && ti->ne[1] == std::uint64_t(matrix ? ne1 : 1) &&
                        ti->ne[2] == std::uint64_t(ne2) && ti->ne[3] == 1;
        if (!ok) {
            std::string got = "[" + std::to_string(ti->ne[0]);
            for (std::uint32_t d = 1; d < ti->n_dims; ++d) got += ", " + std::to_string(ti->ne[d]);
            got += "]";
            STRATA_THROW(errc::format, "tensor '" + name + "' has shape " + got + ", expected " + shape_string(ne0, ne1, ne2),
                         f_.path(), ti->info_offset);
        }
        tensor t;
        t.info = ti;
        t.type = ti->type;
        t.ne[0] = ne0;
        t.ne[1] = matrix ? ne1 : 1;
        t.n_mat = ne2;
        t.data = f_.tensor_data(*ti).data();
        t.row_bytes = static_cast<std::size_t>(row_bytes(ti->type, std::uint64_t(ne0)));
        return t;
    }

private:
    const gguf::file& f_;
};

inline std::string blk(std::uint32_t il, const char* what) { return "blk." + std::to_string(il) + "." + what + ".weight"; }

}  // namespace detail

// Finds and checks every tensor of the architecture.
inline weights bind_weights(const gguf::file& f, const hparams& h) {
    const detail::binder b(f);
    const std::int64_t n_embd = h.n_embd, n_ff = h.n_ff;
    const std::int64_t n_q = std::int64_t(h.n_head) * h.head_dim_k, n_k = h.n_embd_k_gqa(), n_v = h.n_embd_v_gqa();
    const std::int64_t n_attn_out = std::int64_t(h.n_head) * h.head_dim_v;
    const bool gemma = h.arch == arch::gemma2 || h.arch == arch::gemma3;

    weights w;
    w.token_embd = b.need("token_embd.weight", n_embd, h.n_vocab);
    w.output_norm = b.need("output_norm.weight", n_embd);
    w.output = b.maybe("output.weight", n_embd, h.n_vocab);
    if (!w.output) w.output = w.token_embd;  // tied embeddings
    w.rope_freqs = b.maybe("rope_freqs.weight", h.n_rot / 2);
    w.layers.resize(h.n_layer);
    for (std::uint32_t il = 0; il < h.n_layer; ++il) {
        auto& L = w.layers[il];
        using detail::blk;
        L.attn_norm = b.need(blk(il, "attn_norm"), n_embd);
        L.wq = b.need(blk(il, "attn_q"), n_embd, n_q);
        L.wk = b.need(blk(il, "attn_k"), n_embd, n_k);
        L.wv = b.need(blk(il, "attn_v"), n_embd, n_v);
        L.wo = b.need(blk(il, "attn_output"), n_attn_out, n_embd);
        L.ffn_norm = b.need(blk(il, "ffn_norm"), n_embd);
        if (h.n_expert > 0) {
            const std::int64_t ne = h.n_expert;
            L.ffn_gate_inp = b.need(blk(il, "ffn_gate_inp"), n_embd, ne);
            L.ffn_gate_exps = b.need(blk(il, "ffn_gate_exps"), n_embd, n_ff, ne);
            L.ffn_up_exps = b.need(blk(il, "ffn_up_exps"), n_embd, n_ff, ne);
            L.ffn_down_exps = b.need(blk(il, "ffn_down_exps"), n_ff, n_embd, ne);
        } else {
            L.ffn_gate = b.need(blk(il, "ffn_gate"), n_embd, n_ff);
            L.ffn_up = b.need(blk(il, "ffn_up"), n_embd, n_ff);
            L.ffn_down = b.need(blk(il, "ffn_down"), n_ff, n_embd);
        }
        if (gemma) {
            L.post_attn_norm = b.need(blk(il, "post_attention_norm"), n_embd);
            L.post_ffn_norm = b.need(blk(il, "post_ffw_norm"), n_embd);
        }
        if (h.arch == arch::gemma3) {
            L.q_norm = b.need(blk(il, "attn_q_norm"), h.head_dim_k);
            L.k_norm = b.need(blk(il, "attn_k_norm"), h.head_dim_k);
        }
    }
    return w;
}

}  // namespace model
STRATA_NAMESPACE_END

STRATA_NAMESPACE_BEGIN
namespace model {

// The load-time check on its own, for tools that do not load (strata-inspect): empty when the
// file's architecture is supported and every tensor it needs is there with its shape, else why.
inline std::string check(const gguf::file& f) {
    try {
        const hparams h = load_hparams(f);
        (void)bind_weights(f, h);
        return {};
    } catch (const error& e) {
        return e.message();
    }
}

}  // namespace model
STRATA_NAMESPACE_END
