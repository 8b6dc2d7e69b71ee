// strata/model/bert.hpp — the encoder families: bert and nomic-bert, hyperparameters, weights
// and the forward pass of a batch of packed sequences to one pooled vector each.
//
// bert (BertModel, post-LayerNorm):
//   x = LN(token_embd[ids] + position_embd[pos] + token_types[0])
//   for each layer:
//     q, k, v = Wq x + bq, Wk x + bk, Wv x + bv
//     a = Wo attention(q, k, v) + bo              (bidirectional, within each sequence)
//     x = LN(x + a)                               (attn_output_norm)
//     f = Wdown gelu(Wup x + bup) + bdown          (GELU: the erf form)
//     x = LN(x + f)                               (layer_output_norm)
// nomic-bert: no position table, q and k rotated (NeoX pairs, rope.freq_base) after one fused
//   qkv = Wqkv x; f = Wdown (silu(Wgate x) * Wup x) (SwiGLU); biases where the file has them.
// pooled = mean | first | last token of each sequence (pooling_type), then L2-normalised by the
// caller (engine/embedder.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/encoder_attention.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/weights.hpp"
#include "strata/quant/row.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// ---- hyperparameters ------------------------------------------------------------------------

enum class encoder_arch { bert, nomic_bert };

constexpr std::string_view to_string(encoder_arch a) noexcept {
    return a == encoder_arch::bert ? "bert" : "nomic-bert";
}

// {arch}.pooling_type, llama.cpp's values.
enum class pooling { none = 0, mean = 1, cls = 2, last = 3 };

constexpr std::string_view to_string(pooling p) noexcept {
    switch (p) {
        case pooling::none: return "none";
        case pooling::mean: return "mean";
        case pooling::cls: return "cls";
        case pooling::last: return "last";
    }
    return "unknown";
}

struct encoder_hparams {
    encoder_arch arch = encoder_arch::bert;
    std::string name;
    std::uint32_t n_vocab = 0;
    std::uint32_t n_ctx_train = 0;  // the longest input (bert: rows of position_embd)
    std::uint32_t n_embd = 0;
    std::uint32_t n_layer = 0;
    std::uint32_t n_ff = 0;
    std::uint32_t n_head = 0;
    std::uint32_t head_dim = 0;
    std::uint32_t n_token_types = 2;
    float norm_eps = 1e-12f;
    float rope_theta = 1000.0f;  // nomic-bert
    model::pooling pooling = model::pooling::mean;
};

inline bool is_encoder_arch(std::string_view a) noexcept { return a == "bert" || a == "nomic-bert"; }

inline encoder_hparams load_encoder_hparams(const gguf::file& f) {
    const std::string a(f.get<std::string_view>("general.architecture"));
    if (!is_encoder_arch(a))
        STRATA_THROW(errc::unsupported, "architecture '" + a + "' is not an encoder (bert, nomic-bert)", f.path());
    encoder_hparams h;
    h.arch = a == "bert" ? encoder_arch::bert : encoder_arch::nomic_bert;
    h.name = std::string(f.get_or<std::string_view>("general.name", ""));
    const detail::keys k{f, a + "."};
    h.n_ctx_train = k.u32("context_length");
    h.n_embd = k.u32("embedding_length");
    h.n_layer = k.u32("block_count");
    h.n_ff = k.u32("feed_forward_length");
    h.n_head = k.u32("attention.head_count");
    if (h.n_embd % h.n_head != 0)
        STRATA_THROW(errc::format, "embedding_length " + std::to_string(h.n_embd) + " is not a multiple of head_count " +
                                       std::to_string(h.n_head), f.path());
    h.head_dim = h.n_embd / h.n_head;
    h.norm_eps = f.get<float>(k.key("attention.layer_norm_epsilon"));
    if (f.get_or<bool>(a + ".attention.causal", false))
        STRATA_THROW(errc::unsupported, a + ".attention.causal is true: only bidirectional encoders are supported", f.path());
    const std::string pool_key = a + ".pooling_type";
    if (f.contains(pool_key)) {
        const std::int64_t p = f.get_integer(pool_key);
        if (p < 0 || p > 3)
            STRATA_THROW(errc::unsupported, pool_key + " = " + std::to_string(p) + " (supported: 0 none, 1 mean, 2 cls, 3 last)", f.path());
        h.pooling = static_cast<model::pooling>(p);
    }
    if (f.contains("tokenizer.ggml.token_type_count")) {
        const std::int64_t n = f.get_integer("tokenizer.ggml.token_type_count");
        if (n < 1 || n > 1024)
            STRATA_THROW(errc::format, "tokenizer.ggml.token_type_count = " + std::to_string(n) + " is out of range", f.path());
        h.n_token_types = static_cast<std::uint32_t>(n);
    }
    h.rope_theta = k.f32_or("rope.freq_base", 1000.0f);
    const gguf::tensor_info* te = f.find_tensor("token_embd.weight");
    if (!te) STRATA_THROW(errc::missing, "tensor 'token_embd.weight' is missing", f.path());
    h.n_vocab = static_cast<std::uint32_t>(te->ne[1]);
    return h;
}

// ---- weights --------------------------------------------------------------------------------

struct encoder_layer {
    tensor wq, bq, wk, bk, wv, bv;  // bert
    tensor wqkv, bqkv;              // nomic-bert: one fused projection, rows q | k | v
    tensor wo, bo;
    tensor attn_norm, attn_norm_b;  // attn_output_norm
    tensor ffn_up, ffn_up_b, ffn_gate, ffn_down, ffn_down_b;
    tensor out_norm, out_norm_b;    // layer_output_norm
};

struct encoder_weights {
    tensor token_embd;     // (n_vocab rows of n_embd)
    tensor position_embd;  // bert: (n_ctx_train rows)
    tensor token_types;    // (n_token_types rows); optional
    tensor embd_norm, embd_norm_b;
    std::vector<encoder_layer> layers;
};

inline encoder_weights bind_encoder_weights(const gguf::file& f, const encoder_hparams& h) {
    const detail::binder b(f);
    const std::int64_t e = h.n_embd, ff = h.n_ff;
    const bool bert = h.arch == encoder_arch::bert;
    const auto bias = [](std::uint32_t il, const char* what) { return "blk." + std::to_string(il) + "." + what + ".bias"; };
    using detail::blk;
    encoder_weights w;
    w.token_embd = b.need("token_embd.weight", e, h.n_vocab);
    if (bert) w.position_embd = b.need("position_embd.weight", e, h.n_ctx_train);
    w.token_types = b.maybe("token_types.weight", e, h.n_token_types);
    w.embd_norm = b.need("token_embd_norm.weight", e);
    w.embd_norm_b = b.need("token_embd_norm.bias", e);
    w.layers.resize(h.n_layer);
    for (std::uint32_t il = 0; il < h.n_layer; ++il) {
        auto& L = w.layers[il];
        if (bert) {
            L.wq = b.need(blk(il, "attn_q"), e, e);
            L.bq = b.need(bias(il, "attn_q"), e);
            L.wk = b.need(blk(il, "attn_k"), e, e);
            L.bk = b.need(bias(il, "attn_k"), e);
            L.wv = b.need(blk(il, "attn_v"), e, e);
            L.bv = b.need(bias(il, "attn_v"), e);
            L.ffn_up = b.need(blk(il, "ffn_up"), e, ff);
            L.ffn_up_b = b.need(bias(il, "ffn_up"), ff);
            L.ffn_down_b = b.need(bias(il, "ffn_down"), e);
            L.bo = b.need(bias(il, "attn_output"), e);
        } else {
            L.wqkv = b.need(blk(il, "attn_qkv"), e, 3 * e);
            L.bqkv = b.maybe(bias(il, "attn_qkv"), 3 * e);
            L.ffn_up = b.need(blk(il, "ffn_up"), e, ff);
            L.ffn_gate = b.need(blk(il, "ffn_gate"), e, ff);
            L.ffn_up_b = b.maybe(bias(il, "ffn_up"), ff);
            L.ffn_down_b = b.maybe(bias(il, "ffn_down"), e);
            L.bo = b.maybe(bias(il, "attn_output"), e);
        }
        L.wo = b.need(blk(il, "attn_output"), e, e);
        L.ffn_down = b.need(blk(il, "ffn_down"), ff, e);
        L.attn_norm = b.need(blk(il, "attn_output_norm"), e);
        L.attn_norm_b = b.need(bias(il, "attn_output_norm"), e);
        L.out_norm = b.need(blk(il, "layer_output_norm"), e);
        L.out_norm_b = b.need(bias(il, "layer_output_norm"), e);
    }
    return w;
}

// ---- workspace ------------------------------------------------------------------------------

// Activations of one pass of up to n_batch tokens, sequences of up to n_ctx tokens.
struct encoder_workspace {
    std::int64_t n_batch = 0, n_ctx = 0;
    std::vector<float> x;        // (n_batch, n_embd) residual stream
    std::vector<float> q, k, v;  // (n_batch, n_embd)
    std::vector<float> qkv;      // nomic-bert: (n_batch, 3 n_embd) before the split
    std::vector<float> att;      // (n_batch, n_embd)
    std::vector<float> o;        // (n_batch, n_embd) sub-layer output
    std::vector<float> up, gate; // (n_batch, n_ff)
    std::vector<float> att_scratch;
    std::vector<std::byte> mm_scratch;
};

inline std::size_t encoder_matmul_scratch_bytes(const encoder_weights& w, std::int64_t n) {
    std::size_t m = 0;
    for (const auto& L : w.layers)
        for (const tensor* t : {&L.wq, &L.wk, &L.wv, &L.wqkv, &L.wo, &L.ffn_up, &L.ffn_gate, &L.ffn_down})
            if (*t) m = std::max(m, cpu::scratch_bytes(t->type, t->cols(), n));
    return m;
}

inline encoder_workspace make_encoder_workspace(const encoder_hparams& h, const encoder_weights& w,
                                                std::int64_t n_batch, std::int64_t n_ctx, int n_threads) {
    encoder_workspace ws;
    ws.n_batch = n_batch;
    ws.n_ctx = n_ctx;
    const auto n = static_cast<std::size_t>(n_batch);
    for (auto* b : {&ws.x, &ws.q, &ws.k, &ws.v, &ws.att, &ws.o}) b->resize(n * h.n_embd);
    if (h.arch == encoder_arch::nomic_bert) {
        ws.qkv.resize(n * 3 * h.n_embd);
        ws.gate.resize(n * h.n_ff);
    }
    ws.up.resize(n * h.n_ff);
    ws.att_scratch.resize(cpu::encoder_attention_scratch_floats(n_ctx, n_threads));
    ws.mm_scratch.resize(encoder_matmul_scratch_bytes(w, n_batch) + cpu::scratch_alignment);
    return ws;
}

// ---- forward --------------------------------------------------------------------------------

template <class Formats>
class encoder {
public:
    encoder(const encoder_hparams& hp, const encoder_weights& w) : hp_(hp), w_(w) {}

    // Runs the sequences (token ids back to back, spans as in encoder_attention.hpp) through
    // every layer and writes one pooled, unnormalised vector of n_embd per sequence to pooled.
    void forward(const cpu::backend& be, std::span<const std::int32_t> tokens, std::span<const cpu::sequence_span> seqs,
                 encoder_workspace& ws, float* pooled) const {
        const auto n = static_cast<std::int64_t>(tokens.size());
        if (n == 0 || n > ws.n_batch)
            STRATA_THROW(errc::argument, "encoder: batch of " + std::to_string(n) + " tokens (max " + std::to_string(ws.n_batch) + ")");
        std::int64_t at = 0;
        for (const auto& s : seqs) {
            if (s.first != at || s.len <= 0 || s.len > ws.n_ctx)
                STRATA_THROW(errc::argument, "encoder: sequence at token " + std::to_string(s.first) + " of " + std::to_string(s.len) +
                                                 " tokens does not tile the batch or exceeds the context of " + std::to_string(ws.n_ctx));
            at += s.len;
        }
        if (at != n) STRATA_THROW(errc::argument, "encoder: the sequences cover " + std::to_string(at) + " of " + std::to_string(n) + " tokens");
        embed(be, tokens, seqs, ws);
        for (std::uint32_t il = 0; il < hp_.n_layer; ++il) {
            attention_block(be, il, n, seqs, ws);
            ffn_block(be, il, n, ws);
        }
        pool(seqs, ws, pooled);
    }

private:
    static const float* f32(const tensor& t, const char* what) {
        if (!t) return nullptr;
        if (t.type != ggml_type::f32) STRATA_THROW(errc::unsupported, std::string(what) + ": norm weights and biases must be f32");
        return static_cast<const float*>(t.data);
    }

    // y = row r of a table (dequantized), or y += it
    void add_row(const tensor& t, const char* name, std::int64_t r, float* y, bool add, float* tmp) const {
        const auto* row = static_cast<const std::byte*>(t.data) + std::size_t(r) * t.row_bytes;
        Formats::dispatch(t.type, name, [&](auto f) {
            dequantize_row<decltype(f)>(row, add ? tmp : y, std::size_t(hp_.n_embd));
        });
        if (add) cpu::add(y, tmp, hp_.n_embd);
    }

    // x = LN(token_embd[id] + position_embd[pos] + token_types[0])
    void embed(const cpu::backend& be, std::span<const std::int32_t> tokens, std::span<const cpu::sequence_span> seqs,
               encoder_workspace& ws) const {
        const std::int64_t e = hp_.n_embd;
        float* tmp = ws.o.data();  // free until the first attention block
        for (const auto& s : seqs) {
            for (std::int64_t p = 0; p < s.len; ++p) {
                const std::int64_t t = s.first + p;
                const std::int32_t id = tokens[std::size_t(t)];
                if (id < 0 || id >= w_.token_embd.rows())
                    STRATA_THROW(errc::argument, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                                     std::to_string(w_.token_embd.rows()));
                float* x = ws.x.data() + t * e;
                add_row(w_.token_embd, "token_embd.weight", id, x, false, tmp);
                if (w_.position_embd) add_row(w_.position_embd, "position_embd.weight", p, x, true, tmp);
                if (w_.token_types) add_row(w_.token_types, "token_types.weight", 0, x, true, tmp);
            }
        }
        norm_rows(be, w_.embd_norm, w_.embd_norm_b, ws.x.data(), std::int64_t(tokens.size()));
    }

    void matmul(const cpu::backend& be, const tensor& W, const tensor& bias, const float* x, std::int64_t n, float* y,
                encoder_workspace& ws) const {
        const cpu::weight_view wv{W.type, W.data, W.rows(), W.cols(), W.row_bytes};
        cpu::matmul<Formats>(be, wv, x, n, y, cpu::aligned_scratch(ws.mm_scratch));
        if (bias) {
            const float* b = f32(bias, "bias");
            const std::int64_t m = W.rows();
            for (std::int64_t t = 0; t < n; ++t) cpu::add(y + t * m, b, m);
        }
    }

    // x[t] = LN(x[t]) for every row, split over the threads.
    void norm_rows(const cpu::backend& be, const tensor& w, const tensor& b, float* x, std::int64_t n) const {
        const float* wp = f32(w, "norm");
        const float* bp = f32(b, "norm bias");
        const std::int64_t e = hp_.n_embd;
        const int nt = int(std::min<std::int64_t>(be.n_threads(), std::max<std::int64_t>(1, n / 16)));
        be.pool().run(nt, [&](int ti, int tn) {
            for (std::int64_t t = ti; t < n; t += tn) cpu::layer_norm(x + t * e, wp, bp, x + t * e, e, hp_.norm_eps);
        });
    }

    // x = LN(x + Wo attention(q, k, v) + bo)
    void attention_block(const cpu::backend& be, std::uint32_t il, std::int64_t n, std::span<const cpu::sequence_span> seqs,
                         encoder_workspace& ws) const {
        const encoder_layer& L = w_.layers[il];
        const std::int64_t e = hp_.n_embd, dh = hp_.head_dim;
        if (hp_.arch == encoder_arch::bert) {
            matmul(be, L.wq, L.bq, ws.x.data(), n, ws.q.data(), ws);
            matmul(be, L.wk, L.bk, ws.x.data(), n, ws.k.data(), ws);
            matmul(be, L.wv, L.bv, ws.x.data(), n, ws.v.data(), ws);
        } else {
            matmul(be, L.wqkv, L.bqkv, ws.x.data(), n, ws.qkv.data(), ws);  // (n, q | k | v)
            const cpu::rope_params rp{dh, hp_.rope_theta, 1.0f, nullptr, true};
            for (const auto& s : seqs) {
                for (std::int64_t p = 0; p < s.len; ++p) {
                    const std::int64_t t = s.first + p;
                    const float* src = ws.qkv.data() + t * 3 * e;
                    std::copy(src, src + e, ws.q.data() + t * e);
                    std::copy(src + e, src + 2 * e, ws.k.data() + t * e);
                    std::copy(src + 2 * e, src + 3 * e, ws.v.data() + t * e);
                    for (std::int64_t h = 0; h < hp_.n_head; ++h) {
                        cpu::rope(ws.q.data() + t * e + h * dh, p, rp);
                        cpu::rope(ws.k.data() + t * e + h * dh, p, rp);
                    }
                }
            }
        }
        const cpu::encoder_attention_params ap{hp_.n_head, dh, 1.0f / std::sqrt(float(dh))};
        cpu::encoder_attention(be, ws.q.data(), ws.k.data(), ws.v.data(), seqs, ap, ws.att.data(), ws.att_scratch);
        matmul(be, L.wo, L.bo, ws.att.data(), n, ws.o.data(), ws);
        cpu::add(ws.x.data(), ws.o.data(), n * e);
        norm_rows(be, L.attn_norm, L.attn_norm_b, ws.x.data(), n);
    }

    // x = LN(x + Wdown act(...) + bdown)
    void ffn_block(const cpu::backend& be, std::uint32_t il, std::int64_t n, encoder_workspace& ws) const {
        const encoder_layer& L = w_.layers[il];
        const std::int64_t m = n * hp_.n_ff;
        matmul(be, L.ffn_up, L.ffn_up_b, ws.x.data(), n, ws.up.data(), ws);
        const int nt = int(std::min<std::int64_t>(be.n_threads(), std::max<std::int64_t>(1, m / 4096)));
        const std::int64_t chunk = (m + nt - 1) / nt;
        if (hp_.arch == encoder_arch::bert) {
            be.pool().run(nt, [&](int ti, int) {
                const std::int64_t i0 = ti * chunk, i1 = std::min(m, (ti + 1) * chunk);
                if (i1 > i0) cpu::gelu_erf_row(ws.up.data() + i0, i1 - i0);
            });
        } else {
            matmul(be, L.ffn_gate, tensor{}, ws.x.data(), n, ws.gate.data(), ws);
            be.pool().run(nt, [&](int ti, int) {
                const std::int64_t i0 = ti * chunk, i1 = std::min(m, (ti + 1) * chunk);
                if (i1 > i0) cpu::swiglu(ws.gate.data() + i0, ws.up.data() + i0, ws.up.data() + i0, i1 - i0);
            });
        }
        matmul(be, L.ffn_down, L.ffn_down_b, ws.up.data(), n, ws.o.data(), ws);
        cpu::add(ws.x.data(), ws.o.data(), n * hp_.n_embd);
        norm_rows(be, L.out_norm, L.out_norm_b, ws.x.data(), n);
    }

    void pool(std::span<const cpu::sequence_span> seqs, const encoder_workspace& ws, float* pooled) const {
        const std::int64_t e = hp_.n_embd;
        for (std::size_t si = 0; si < seqs.size(); ++si) {
            const auto& s = seqs[si];
            float* y = pooled + std::int64_t(si) * e;
            const float* x = ws.x.data() + s.first * e;
            switch (hp_.pooling) {
                case pooling::cls: std::copy(x, x + e, y); break;
                case pooling::last: std::copy(x + (s.len - 1) * e, x + s.len * e, y); break;
                case pooling::mean:
                case pooling::none: {  // none: the mean too (one vector per text is what embed returns)
                    for (std::int64_t d = 0; d < e; ++d) {
                        double acc = 0.0;
                        for (std::int64_t p = 0; p < s.len; ++p) acc += double(x[p * e + d]);
                        y[d] = float(acc / double(s.len));
                    }
                    break;
                }
            }
        }
    }

    const encoder_hparams& hp_;
    const encoder_weights& w_;
};

}  // namespace model
STRATA_NAMESPACE_END
