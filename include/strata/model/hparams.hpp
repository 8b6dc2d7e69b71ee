// strata/model/hparams.hpp — a model's hyperparameters, read from GGUF metadata.
//
// Every key is read under the architecture's prefix ("gemma3.block_count"); a missing key that
// the architecture needs is an errc::missing error naming it, an inconsistent set (heads that do
// not divide, a window larger than the context) an errc::format error saying why.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

enum class arch { llama, gemma2, gemma3 };

constexpr std::string_view to_string(arch a) noexcept {
    switch (a) {
        case arch::llama: return "llama";
        case arch::gemma2: return "gemma2";
        case arch::gemma3: return "gemma3";
    }
    return "unknown";
}

// How rotary embeddings pair dimensions: llama rotates (2i, 2i+1), the "NeoX" layout gemma
// uses rotates (i, i + d/2).
enum class rope_layout { adjacent, neox };

struct hparams {
    model::arch arch = arch::llama;
    std::string name;             // general.name, for messages
    std::uint32_t n_vocab = 0;
    std::uint32_t n_ctx_train = 0;
    std::uint32_t n_embd = 0;
    std::uint32_t n_layer = 0;
    std::uint32_t n_ff = 0;
    std::uint32_t n_head = 0;
    std::uint32_t n_head_kv = 0;
    std::uint32_t head_dim_k = 0;  // attention.key_length (n_embd / n_head unless stated)
    std::uint32_t head_dim_v = 0;
    float rms_eps = 1e-5f;

    // rotary embeddings
    rope_layout rope = rope_layout::adjacent;
    std::uint32_t n_rot = 0;         // rotated dimensions per head
    float rope_theta = 10000.0f;     // base of global (full-attention) layers
    float rope_theta_swa = 10000.0f; // base of sliding-window layers (gemma3: 10k, fixed)
    float rope_freq_scale = 1.0f;    // linear scaling of positions (1 / rope.scaling.factor)

    // attention
    std::uint32_t n_swa = 0;           // sliding window in tokens (0: none)
    std::uint32_t swa_period = 0;      // layer il slides iff swa_period && il % swa_period < swa_period - 1
    float attn_scale = 0.0f;           // multiplies q before q·k
    float attn_softcap = 0.0f;         // gemma2: scores = c * tanh(scores / c); 0: off
    float final_softcap = 0.0f;        // gemma2: logits soft-capped likewise
    float embd_scale = 1.0f;           // gemma: token embeddings times sqrt(n_embd)

    // mixture of experts (llama: Mixtral's layout): every block's FFN is n_expert SwiGLU experts
    // of n_ff, of which a router picks n_expert_used per token. 0: a dense FFN.
    std::uint32_t n_expert = 0;
    std::uint32_t n_expert_used = 0;

    bool is_swa(std::uint32_t il) const noexcept {
        return n_swa > 0 && swa_period > 0 && il % swa_period < swa_period - 1;
    }
    float layer_rope_theta(std::uint32_t il) const noexcept { return is_swa(il) ? rope_theta_swa : rope_theta; }
    std::uint32_t n_embd_k_gqa() const noexcept { return head_dim_k * n_head_kv; }
    std::uint32_t n_embd_v_gqa() const noexcept { return head_dim_v * n_head_kv; }
};

namespace detail {

struct keys {
    const gguf::file& f;
    std::string prefix;  // "gemma3."

    std::string key(std::string_view k) const { return prefix + std::string(k); }
    bool has(std::string_view k) const { return f.contains(key(k)); }

    std::uint32_t u32(std::string_view k) const {
        const auto v = f.get_integer(key(k));
        if (v <= 0 || v > 0x7fffffff)
            STRATA_THROW(errc::format, "key '" + key(k) + "' = " + std::to_string(v) + " is out of range", f.path());
        return static_cast<std::uint32_t>(v);
    }
    std::uint32_t u32_or(std::string_view k, std::uint32_t fallback) const { return has(k) ? u32(k) : fallback; }
    float f32_or(std::string_view k, float fallback) const { return f.get_or<float>(key(k), fallback); }
};

inline arch parse_arch(const gguf::file& f) {
    const auto name = f.get<std::string_view>("general.architecture");
    if (name == "llama") return arch::llama;
    if (name == "gemma2") return arch::gemma2;
    if (name == "gemma3") return arch::gemma3;
    STRATA_THROW(errc::unsupported,
                 "general.architecture '" + std::string(name) + "' is not supported (supported: llama, gemma2, gemma3)",
                 f.path());
}

inline void check_consistent(const hparams& h, const std::string& path) {
    auto fail = [&](const std::string& why) { STRATA_THROW(errc::format, "inconsistent hyperparameters: " + why, path); };
    if (h.n_head_kv == 0 || h.n_head % h.n_head_kv != 0)
        fail("head_count " + std::to_string(h.n_head) + " is not a multiple of head_count_kv " + std::to_string(h.n_head_kv));
    if (h.head_dim_k == 0 || h.head_dim_v == 0) fail("zero head dimension");
    if (h.n_rot > h.head_dim_k || h.n_rot % 2 != 0)
        fail("rope.dimension_count " + std::to_string(h.n_rot) + " must be even and at most key_length " +
             std::to_string(h.head_dim_k));
    if (!(h.rms_eps > 0.0f) || !(h.rope_theta > 0.0f)) fail("rms epsilon and rope base must be positive");
    if (h.n_expert > 0 && (h.n_expert_used == 0 || h.n_expert_used > h.n_expert))
        fail("expert_used_count " + std::to_string(h.n_expert_used) + " must be between 1 and expert_count " +
             std::to_string(h.n_expert));
}

}  // namespace detail

// Reads and checks the hyperparameters of the file's architecture.
inline hparams load_hparams(const gguf::file& f) {
    hparams h;
    h.arch = detail::parse_arch(f);
    const detail::keys k{f, std::string(to_string(h.arch)) + "."};
    h.name = std::string(f.get_or<std::string_view>("general.name", ""));
    h.n_ctx_train = k.u32("context_length");
    h.n_embd = k.u32("embedding_length");
    h.n_layer = k.u32("block_count");
    h.n_ff = k.u32("feed_forward_length");
    h.n_head = k.u32("attention.head_count");
    h.n_head_kv = k.u32_or("attention.head_count_kv", h.n_head);
    if (h.n_embd % h.n_head != 0 && !k.has("attention.key_length"))
        STRATA_THROW(errc::format, "inconsistent hyperparameters: embedding_length is not a multiple of head_count "
                                   "and no attention.key_length is given", f.path());
    h.head_dim_k = k.u32_or("attention.key_length", h.n_embd / h.n_head);
    h.head_dim_v = k.u32_or("attention.value_length", h.head_dim_k);
    h.rms_eps = k.f32_or("attention.layer_norm_rms_epsilon", 1e-5f);
    h.n_rot = k.u32_or("rope.dimension_count", h.head_dim_k);
    h.rope_theta = k.f32_or("rope.freq_base", 10000.0f);
    h.rope_theta_swa = h.rope_theta;
    if (k.has("rope.scaling.factor")) {
        const auto type = f.get_or<std::string_view>(k.key("rope.scaling.type"), "linear");
        const float factor = f.get<float>(k.key("rope.scaling.factor"));
        // llama 3's "llama3" scaling is carried by the rope_freqs tensor; only linear changes positions
        if (type == "linear" && factor > 0.0f) h.rope_freq_scale = 1.0f / factor;
    }
    // the vocabulary's size is that of its token list; vocab_size only where there is none
    const gguf::value* tokens = f.find("tokenizer.ggml.tokens");
    h.n_vocab = tokens && tokens->is_array() ? static_cast<std::uint32_t>(tokens->size()) : k.u32("vocab_size");

    switch (h.arch) {
        case arch::llama:
            h.rope = rope_layout::adjacent;
            h.attn_scale = 1.0f / std::sqrt(float(h.head_dim_k));
            // Mixtral and its kin are llama files with experts (some dense files say expert_count 0)
            if (k.has("expert_count") && f.get_integer(k.key("expert_count")) != 0) {
                h.n_expert = k.u32("expert_count");
                h.n_expert_used = k.u32("expert_used_count");
            }
            break;
        case arch::gemma2:
            // Every other layer (the even ones) slides over a window; soft-capping of attention
            // scores and of the final logits; the query scale is 1/sqrt(query_pre_attn_scalar),
            // which Google set to n_embd / n_head for the 27B model and to head_dim otherwise.
            h.rope = rope_layout::neox;
            h.n_swa = k.u32_or("attention.sliding_window", 4096);
            h.swa_period = 2;
            h.attn_softcap = k.f32_or("attn_logit_softcapping", 50.0f);
            h.final_softcap = k.f32_or("final_logit_softcapping", 30.0f);
            h.embd_scale = std::sqrt(float(h.n_embd));
            h.attn_scale = 1.0f / std::sqrt(float(h.n_layer == 46 ? h.n_embd / h.n_head : h.head_dim_k));
            break;
        case arch::gemma3:
            // Five sliding-window layers (rope base 10k) for each global one (the file's base).
            h.rope = rope_layout::neox;
            h.n_swa = k.u32_or("attention.sliding_window", 0);
            h.swa_period = 6;
            h.rope_theta_swa = 10000.0f;
            h.final_softcap = k.f32_or("final_logit_softcapping", 0.0f);
            h.embd_scale = std::sqrt(float(h.n_embd));
            // as gemma2: 27B (62 layers) scales by n_embd / n_head, the others by head_dim
            h.attn_scale = 1.0f / std::sqrt(float(h.n_layer == 62 ? h.n_embd / h.n_head : h.head_dim_k));
            break;
    }
    detail::check_consistent(h, f.path());
    return h;
}

}  // namespace model
STRATA_NAMESPACE_END
