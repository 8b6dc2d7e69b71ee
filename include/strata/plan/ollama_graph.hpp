// strata/plan/ollama_graph.hpp — the model facts Ollama 0.11.3 reads from a GGUF file, and its
// per-architecture KV-cache and compute-graph estimates (fs/ggml/ggml.go: KV accessors,
// Tensors.GroupLayers, Tensor.Size, GraphSize).
//
// Restated from Ollama's public source, not translated line by line; what must match is the
// arithmetic. Ollama computes in uint64 and evaluates left to right, so `e*e*9/16` is
// ((e*e)*9)/16 and its truncations are part of the result: every formula below keeps that
// order on purpose. Where Ollama reads a value as float64 (bytes per KV element) the same
// double product is truncated to an integer.
//
// Version notes (what 0.11.3 does, against the sources that are public today):
//   - KV: every layer gets context × (key_length + value_length) × kv_heads × bytes/element,
//     summed into kv_total before any architecture override; gemma3 shrinks five of every six
//     layers to a (parallel × sliding_window + batch) window; gpt-oss shrinks the even layers
//     to (parallel × 4096 + batch) tokens (its sliding-window cache holds 4096, not the
//     model's 128).
//   - gpt-oss graph: 4 × heads / kv_heads_min × kv_total / 6 for the full offload, the same for
//     the partial one, with kv_total the un-overridden sum above. This is the 0.11.3 behaviour
//     as its logs show it (memory.graph.full = memory.graph.partial = "2.0 GiB" for
//     gpt-oss:20b at num_ctx 8192, and a 1-layer partial of 3.4 GiB that only a 2 GiB partial
//     graph gives). 0.11.0–0.11.2 logged a partial graph twice the full one, and later
//     versions use 2 × ... × kv_total / 6 with a flash-attention variant; neither is modelled.
//   - Head counts may be per-layer arrays: heads and kv_heads use the array maximum, the
//     fallback graph the ratio max(heads) / min(kv_heads), head sizes embedding / min(heads).
//   - Ollama reads these keys only as u32 (another integer type silently becomes its default);
//     Strata accepts any integer that fits, so a file written with i32 or u64 counts still
//     plans as its author meant.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/core/units.hpp"
#include "strata/gguf/file.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan::ollama {

// The layer a tensor belongs to, as Ollama groups them: the first dot-separated part, except
// that "blk.N" / "mm.N" (wherever they appear) keep their number and what precedes them:
// "blk.3.attn_q.weight" → "blk.3", "v.blk.0.ffn_up.weight" → "v.blk.0", "output.weight" →
// "output", "token_embd_norm.bias" → "token_embd_norm".
inline std::string_view layer_of(std::string_view name) noexcept {
    std::vector<std::size_t> dots;  // positions of the dots, a handful per name
    for (std::size_t i = 0; i < name.size(); ++i)
        if (name[i] == '.') dots.push_back(i);
    const std::size_t n_parts = dots.size() + 1;
    auto part = [&](std::size_t k) {
        const std::size_t b = k == 0 ? 0 : dots[k - 1] + 1;
        const std::size_t e = k < dots.size() ? dots[k] : name.size();
        return name.substr(b, e - b);
    };
    for (std::size_t k = 0; k < n_parts; ++k) {
        const std::string_view p = part(k);
        if (p != "blk" && p != "mm") continue;
        // Only joined when something follows the number (a name "blk.0" alone stays "blk").
        if (n_parts > k + 2) return name.substr(0, dots[k + 1]);
        break;
    }
    return dots.empty() ? name : name.substr(0, dots[0]);
}

// What GraphSize and EstimateGPULayers read from the file, gathered once.
struct model_facts {
    std::string arch;
    std::uint64_t block_count = 0, embedding = 0, vocab = 0;
    std::uint64_t heads_max = 1, heads_min = 1, kv_heads_max = 1, kv_heads_min = 1;
    std::uint64_t head_dim = 0;           // embedding / heads_min ("EmbeddingHeadCountMax")
    std::uint64_t key_length = 0, value_length = 0;
    std::uint64_t feed_forward = 0;       // <arch>.feed_forward_length as one number (mixtral 8x22b)
    std::uint64_t sliding_window = 0;     // <arch>.attention.sliding_window (gemma3)
    bool has_pooling_type = false;        // an embedding model: no flash attention
    std::vector<std::int64_t> cross_attention_layers;  // mllama
    std::map<std::string, std::uint64_t, std::less<>> layer_bytes;  // layer_of(name) → bytes

    // Tensors GraphSize looks at in blk.0 (0 when absent).
    std::uint64_t blk0_gate_exps_bytes = 0;  // blk.0.ffn_gate_exps.weight
    std::uint64_t blk0_gate0_ne1 = 0;        // blk.0.ffn_gate.0.weight, its second dimension
    std::uint64_t blk0_qkv_bias_ne0 = 0;     // blk.0.attn_qkv.bias, its first dimension
    bool has_gate_exps = false, has_gate0 = false, has_qkv_bias = false;

    std::uint64_t layer(std::string_view name) const {
        const auto it = layer_bytes.find(name);
        return it == layer_bytes.end() ? 0 : it->second;
    }
    bool has_layer(std::string_view name) const { return layer_bytes.find(name) != layer_bytes.end(); }
    bool is_gptoss() const noexcept { return arch == "gptoss" || arch == "gpt-oss"; }
};

namespace detail {

inline std::string arch_key(const std::string& arch, std::string_view k) {
    std::string s = arch;
    s += '.';
    s.append(k);
    return s;
}

// A count as Ollama's Uint reads it: FALLBACK when absent. Present but not an integer (or out
// of u32 range) is a malformed file: a clear error instead of a silent default.
inline std::uint64_t count_or(const gguf::file& f, const std::string& key, std::uint64_t fallback) {
    const gguf::value* v = f.find(key);
    if (!v) return fallback;
    const auto x = v->as_integer();
    if (!x || *x < 0 || *x > 0xFFFFFFFFll)
        STRATA_THROW(errc::type, gguf::detail::cat("key '", key, "': expected an unsigned 32-bit count, found ",
                                                     v->type_name()),
                     f.path());
    return static_cast<std::uint64_t>(*x);
}

// A count that may be a per-layer array (UintOrArrayValue): its {min, max}.
struct min_max { std::uint64_t min, max; };

inline min_max count_or_array(const gguf::file& f, const std::string& key, std::uint64_t fallback) {
    const gguf::value* v = f.find(key);
    if (!v) return {fallback, fallback};
    if (!v->is_array()) {
        const std::uint64_t x = count_or(f, key, fallback);
        return {x, x};
    }
    const auto a = v->scalars();
    std::vector<std::int64_t> xs;
    switch (a.element_type()) {
        case gguf::value_type::u32:
            for (auto x : a.to_vector<std::uint32_t>()) xs.push_back(x);
            break;
        case gguf::value_type::i32:
            for (auto x : a.to_vector<std::int32_t>()) xs.push_back(x);
            break;
        default: return {fallback, fallback};  // Ollama reads only u32 and i32 arrays
    }
    if (xs.empty()) STRATA_THROW(errc::format, gguf::detail::cat("key '", key, "' is an empty array"), f.path());
    const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
    if (*lo < 0) STRATA_THROW(errc::format, gguf::detail::cat("key '", key, "' holds a negative count"), f.path());
    return {static_cast<std::uint64_t>(*lo), static_cast<std::uint64_t>(*hi)};
}

}  // namespace detail

// Reads the facts, or throws naming the key or tensor that is missing or malformed.
inline model_facts read_model_facts(const gguf::file& f) {
    model_facts m;
    const gguf::value* a = f.find("general.architecture");
    if (!a) STRATA_THROW(errc::missing, "key 'general.architecture' is missing: cannot tell the model family", f.path());
    if (!a->is_string())
        STRATA_THROW(errc::type, gguf::detail::cat("key 'general.architecture': expected a string, found ", a->type_name()),
                     f.path());
    m.arch = std::string(a->str());
    const auto key = [&](std::string_view k) { return detail::arch_key(m.arch, k); };

    if (!f.contains(key("block_count")))
        STRATA_THROW(errc::missing, gguf::detail::cat("key '", key("block_count"), "' is missing: the layer count is needed to plan"),
                     f.path());
    m.block_count = detail::count_or(f, key("block_count"), 0);
    if (m.block_count == 0)
        STRATA_THROW(errc::format, gguf::detail::cat("key '", key("block_count"), "' is 0: a model has at least one layer"),
                     f.path());
    if (m.block_count > 65536)  // per-layer vectors are sized by it: refuse a hostile count
        STRATA_THROW(errc::format, gguf::detail::cat("key '", key("block_count"), "' is ", m.block_count,
                                                     ": more layers than any model has"),
                     f.path());

    m.embedding = detail::count_or(f, key("embedding_length"), 0);
    const auto heads = detail::count_or_array(f, key("attention.head_count"), 1);
    const auto kv_heads = detail::count_or_array(f, key("attention.head_count_kv"), 1);
    m.heads_min = heads.min;
    m.heads_max = heads.max;
    m.kv_heads_min = kv_heads.min;
    m.kv_heads_max = kv_heads.max;
    m.head_dim = m.heads_min > 0 ? m.embedding / m.heads_min : 0;
    m.key_length = detail::count_or(f, key("attention.key_length"), m.head_dim & 0xFFFFFFFFu);
    m.value_length = detail::count_or(f, key("attention.value_length"), m.head_dim & 0xFFFFFFFFu);
    if (const gguf::value* ff = f.find(key("feed_forward_length")); ff && !ff->is_array())  // per-layer arrays read as 0
        m.feed_forward = detail::count_or(f, key("feed_forward_length"), 0);
    m.sliding_window = detail::count_or(f, key("attention.sliding_window"), 0);
    m.has_pooling_type = f.contains(key("pooling_type"));
    if (const gguf::value* c = f.find(key("attention.cross_attention_layers"));
        c && c->is_array() && c->element_type() == gguf::value_type::i32)
        for (auto x : c->scalars().to_vector<std::int32_t>()) m.cross_attention_layers.push_back(x);

    // Ollama takes the vocabulary size from the token list (it fails without one).
    const gguf::value* tokens = f.find("tokenizer.ggml.tokens");
    if (!tokens)
        STRATA_THROW(errc::missing, "key 'tokenizer.ggml.tokens' is missing: the vocabulary size sizes the output graph",
                     f.path());
    if (!tokens->is_array() || tokens->element_type() != gguf::value_type::string)
        STRATA_THROW(errc::type,
                     gguf::detail::cat("key 'tokenizer.ggml.tokens': expected an array of strings, found ", tokens->type_name()),
                     f.path());
    m.vocab = tokens->size();

    for (const gguf::tensor_info& t : f.tensors()) {
        // Ollama's Tensor.Size (elements × type size / block size) is t.n_bytes: gguf::file admits
        // only rows of whole blocks, so the division is exact.
        const std::uint64_t bytes = t.n_bytes;
        auto it = m.layer_bytes.find(layer_of(t.name));
        if (it == m.layer_bytes.end()) it = m.layer_bytes.emplace(std::string(layer_of(t.name)), 0).first;
        it->second += bytes;
        if (t.name == "blk.0.ffn_gate_exps.weight") {
            m.has_gate_exps = true;
            m.blk0_gate_exps_bytes = bytes;
        } else if (t.name == "blk.0.ffn_gate.0.weight") {
            m.has_gate0 = true;
            m.blk0_gate0_ne1 = t.n_dims > 1 ? t.ne[1] : 0;
        } else if (t.name == "blk.0.attn_qkv.bias") {
            m.has_qkv_bias = true;
            m.blk0_qkv_bias_ne0 = t.ne[0];
        }
    }
    return m;
}

// Bytes of one KV element for a cache type as Ollama 0.11.3 budgets it.
constexpr double kv_bytes_per_element(ggml_type t) noexcept {
    switch (t) {
        case ggml_type::q8_0: return 1.0;
        case ggml_type::q4_0: return 0.5;
        default: return 2.0;  // f16, and anything Ollama does not recognise
    }
}

struct graph_size {
    std::vector<std::uint64_t> kv;  // per layer
    std::uint64_t kv_total = 0;     // the sum before any architecture override (what the gpt-oss graph uses)
    std::uint64_t partial = 0, full = 0;  // 0 = no formula for this architecture
};

// Ollama's GraphSize(context, batch, numParallel, kvCacheType). CONTEXT is the whole cache
// (num_ctx × num_parallel), BATCH min(context, num_batch).
inline graph_size compute_graph_size(const model_facts& m, std::uint64_t context, std::uint64_t batch,
                                     std::uint64_t parallel, ggml_type kv_type) {
    graph_size g;
    const double bpe = kv_bytes_per_element(kv_type);
    const std::uint64_t embedding = m.embedding, heads = m.heads_max, heads_kv = m.kv_heads_max, vocab = m.vocab;
    const std::uint64_t head_dim = m.head_dim, hk = m.key_length, hv = m.value_length;

    const auto kv_tokens = [&](std::uint64_t tokens) {
        return static_cast<std::uint64_t>(static_cast<double>(tokens * (hk + hv) * heads_kv) * bpe);
    };
    g.kv.assign(m.block_count, kv_tokens(context));
    for (const std::uint64_t x : g.kv) g.kv_total += x;

    std::uint64_t& full = g.full;
    std::uint64_t& partial = g.partial;
    const std::string& a = m.arch;
    if (a == "llama" || a == "llama4") {
        full = std::max(4 * batch * (1 + 4 * embedding + context * (1 + heads)), 4 * batch * (embedding + vocab));
        partial = 4 * batch * embedding;
        partial += std::max(4 * batch * (1 + embedding + std::max(context, embedding)) + embedding * embedding * 9 / 16 +
                                4 * context * (batch * heads + head_dim * heads_kv),
                            4 * batch * (embedding + vocab) + embedding * vocab * 105 / 128);
        if (m.has_gate_exps) {  // mixtral 8x22b layout: stacked experts
            const std::uint64_t ff = m.feed_forward;
            partial = std::max(3 * m.blk0_gate_exps_bytes + 4 * batch * (2 * ff + heads_kv + embedding + context + head_dim * heads_kv),
                               4 * (context * batch * heads + context * head_dim * heads_kv + batch * 1024 + head_dim * heads_kv * batch));
        } else if (m.has_gate0) {  // mixtral 8x7b layout: one tensor per expert
            const std::uint64_t ff1 = m.blk0_gate0_ne1;
            full = 4 * batch * (2 + 3 * embedding + context * (1 + heads) + 2 * heads_kv + ff1);
            partial = std::max(4 * batch * (3 + head_dim * heads_kv + embedding + context * (1 + heads) + ff1) +
                                   (embedding * embedding + 3 * embedding * heads_kv * ff1) * 9 / 16,
                               4 * batch * (1 + 2 * embedding + context * (1 + heads)) +
                                   embedding * (6 * context * heads_kv / heads + embedding * 9 / 16));
        }
    } else if (a == "mllama") {
        constexpr std::uint64_t vision_tokens = 1601, tiles = 4;
        for (const std::int64_t l : m.cross_attention_layers)
            if (l >= 0 && static_cast<std::uint64_t>(l) < g.kv.size())
                g.kv[static_cast<std::size_t>(l)] = heads_kv * (hk + hv) * 4 * vision_tokens * tiles;  // f32 cross-attention states
        full = std::max(4 * batch * (2 + 3 * embedding + hk * heads + context * (1 + heads)), 4 * batch * (embedding + vocab));
        // Ollama looks up a tensor "rope_freqs.weights" (plural), which no converter writes:
        // the rope-frequency term is always 0.
        const std::uint64_t rope_freqs = 0;
        partial = std::max(4 * (batch * (2 * embedding + 1 + context * (1 + heads) + hk * heads) + rope_freqs + hk * context * heads_kv),
                           4 * batch * (embedding + vocab) + embedding * vocab * 105 / 128);
    } else if (a == "gemma" || a == "gemma2" || a == "gemma3" || a == "gemma3n") {
        full = std::max(4 * batch * (embedding + vocab), 4 * batch * (2 + context + context * heads + 2 * embedding + 2 * hk * heads));
        partial = std::max(4 * embedding * batch + embedding * vocab * 105 / 128 + 4 * vocab * batch,
                           4 * batch * (2 * embedding + 1 + 2 * hk * heads + context + context * heads) + 4 * hk * context * 8 +
                               embedding * hk * heads * 9 / 16);
        if (a == "gemma3n") {
            full *= 4;
            partial *= 4;
        }
        // Only gemma3 runs a sliding-window cache in 0.11.3 (gemma2 keeps full-context layers):
        // every sixth layer is global, the others hold parallel × window + batch tokens.
        if (a == "gemma3") {
            const std::uint64_t window = parallel * m.sliding_window + batch;
            for (std::size_t i = 0; i < g.kv.size(); ++i)
                if ((i + 1) % 6 != 0) g.kv[i] = kv_tokens(window);
        }
    } else if (a == "command-r") {
        full = std::max(4 * batch * (embedding + vocab), 4 * batch * (2 + 4 * embedding + context * (1 + heads)));
        partial = std::max(4 * batch * (embedding + vocab) + embedding * vocab * 105 / 128,
                           4 * batch * (1 + 2 * embedding + context * (1 + heads)) + 4 * embedding * context + embedding * embedding * 9 / 16);
    } else if (a == "qwen2") {
        full = std::max(4 * batch * (embedding + vocab), 4 * batch * (1 + 2 * embedding + context + context * heads));
        partial = std::max(4 * batch * (embedding + vocab) + embedding * vocab * 105 / 128,
                           4 * (batch * (1 + 2 * embedding + context * (1 + heads)) + embedding * (1 + context)));
    } else if (a == "phi2") {
        full = std::max(4 * batch * (embedding + vocab), 4 * batch * (1 + 4 * embedding + context + context * heads));
        partial = std::max(4 * batch * (2 * embedding + vocab) + embedding * vocab * 105 / 128,
                           4 * batch * (2 + 3 * embedding + context + context * heads));
    } else if (a == "stablelm") {
        full = 4 * batch * (context * (1 + heads) + 3 * embedding + 2);
        partial = std::max(4 * batch * (vocab + 2 * embedding), full);
    } else if (a == "deepseek2") {
        full = std::max(4 * batch * (3 * embedding + vocab), 4 * batch * (3 * embedding + 2 + context * (1 + heads_kv) + 2 * hk * heads_kv));
        partial = std::max(4 * batch * (3 * embedding + vocab) + embedding * vocab * 105 / 128,
                           4 * batch * (2 * embedding + 1 + 2 * hk * heads_kv + context + context * heads_kv) +
                               4 * hk * context * heads_kv + embedding * hk * heads_kv * 9 / 16);
    } else if (a == "chatglm") {
        full = 4 * batch * (embedding + vocab);
        partial = 4 * batch * (embedding + vocab) + embedding * vocab * 105 / 128;
        if (m.has_qkv_bias) {
            const std::uint64_t qkv = m.blk0_qkv_bias_ne0;
            full = std::max(full, 4 * batch * (2 + 2 * embedding + context + context * heads + hk * heads + qkv));
            partial = std::max(partial, 4 * batch * (1 + 2 * embedding + hk * heads + context + context * heads) + 4 * hk * context +
                                            4 * context * hk + 4 * qkv);
        }
    } else if (m.is_gptoss()) {
        // Even layers are sliding-window layers; their cache holds 4096 tokens per sequence
        // plus one batch, whatever the model's own window (128) says.
        const auto per_token = static_cast<std::uint64_t>(static_cast<double>((hk + hv) * heads_kv) * bpe);
        for (std::size_t i = 0; i < g.kv.size(); ++i) g.kv[i] = per_token * (i % 2 == 0 ? parallel * 4096 + batch : context);
        full = 4 * heads / std::max<std::uint64_t>(m.kv_heads_min, 1) * g.kv_total / 6;
        partial = full;
    }
    return g;
}

}  // namespace plan::ollama
STRATA_NAMESPACE_END
