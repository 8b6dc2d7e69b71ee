// tests/support/seed_models.hpp — shape-exact sparse GGUF files of the six seed models as Ollama
// ships them: every tensor with its real name, shape and type, metadata keys as the real files
// have them, and no data (each tensor is a file hole, so the 13.8 GB gpt-oss file takes a few
// megabytes of disk: its token list).
//
// Shapes are the public configs'. Tensor types, where the file is a llama.cpp quantization, follow
// llama.cpp's rules for that file type (llama-quant.cpp), stated here as facts:
//   - norms, biases and other 1-D tensors stay F32;
//   - Q4_K_M: every matrix Q4_K, except attn_v and ffn_down, which are Q6_K in the layers where
//     use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2; output.weight is Q6_K,
//     and with tied embeddings (no output.weight) token_embd takes the output's rule, Q6_K;
//   - Q4_0: every matrix Q4_0, output.weight (or tied token_embd) Q6_K.
// The resulting tensor bytes agree with the published blob sizes minus their metadata (llama3.1:8b
// 4.91 GB, llama3.2:3b 2.01 GB, gemma2:27b 15.62 GB, phi3:mini 2.18 GB, mxbai-embed-large 669 MB).
//
// gpt-oss:20b is Ollama's own conversion of openai/gpt-oss-20b: experts MXFP4 (32 experts,
// 2880 × 2880 each for gate, up and down), attention, router and embeddings BF16, expert biases
// and all 1-D tensors F32; tensor names as Ollama's converter writes them (attn_out, ffn_norm,
// attn_sinks). Assumption: the exact bias/router types are not published; this mix is the one
// under which Ollama's 0.11.3 formulas reproduce the figures its users reported for the model
// (weights 11.75 GiB, full 14.93 GiB at num_ctx 8192; file 13.78 GB).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "strata/core/dtype.hpp"
#include "strata/gguf/writer.hpp"

namespace strata_test::seed {

using strata::ggml_type;

// A temporary directory removed (with its files) when the object goes.
class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "strata-seed-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// Builds one model: arch-prefixed keys, tensors as holes.
class builder {
public:
    explicit builder(std::string arch, std::string name) : arch_(std::move(arch)) {
        w_.set("general.architecture", arch_);
        w_.set("general.name", std::move(name));
    }
    builder& u32(const std::string& key, std::uint32_t v) {
        w_.set(arch_ + "." + key, v);
        return *this;
    }
    builder& f32(const std::string& key, float v) {
        w_.set(arch_ + "." + key, v);
        return *this;
    }
    // The token list (short strings: only its length matters to a planner).
    builder& vocab(std::uint32_t n, const char* model) {
        w_.set("tokenizer.ggml.model", model);
        std::vector<std::string> tokens(n);
        for (std::uint32_t i = 0; i < n; ++i) tokens[i] = std::to_string(i);
        w_.set_array("tokenizer.ggml.tokens", tokens);
        return *this;
    }
    builder& tensor(const std::string& name, ggml_type t, std::vector<std::uint64_t> dims) {
        w_.add_tensor_hole(name, t, std::move(dims));
        return *this;
    }
    builder& blk(std::size_t i, const std::string& name, ggml_type t, std::vector<std::uint64_t> dims) {
        return tensor("blk." + std::to_string(i) + "." + name, t, std::move(dims));
    }
    strata::gguf::writer& writer() { return w_; }

    std::string write(const temp_dir& dir, const std::string& file) const {
        const std::string path = dir.file(file);
        w_.write(path);
        return path;
    }

private:
    std::string arch_;
    strata::gguf::writer w_;
};

constexpr bool use_more_bits(std::int64_t i, std::int64_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// ---- gpt-oss:20b (Ollama's own GGUF, arch "gptoss") --------------------------------------
inline builder gpt_oss_20b() {
    constexpr std::uint64_t n_layer = 24, n_embd = 2880, n_ff = 2880, n_head = 64, n_kv = 8, hd = 64, n_exp = 32,
                            n_vocab = 201088;
    builder b("gptoss", "gpt-oss-20b");
    b.u32("block_count", n_layer).u32("context_length", 131072).u32("embedding_length", n_embd)
        .u32("feed_forward_length", n_ff).u32("attention.head_count", n_head).u32("attention.head_count_kv", n_kv)
        .u32("attention.key_length", hd).u32("attention.value_length", hd).u32("expert_count", n_exp)
        .u32("expert_used_count", 4).u32("attention.sliding_window", 128).f32("rope.freq_base", 150000.0f)
        .f32("rope.scaling.factor", 32.0f).u32("rope.scaling.original_context_length", 4096)
        .f32("attention.layer_norm_rms_epsilon", 1e-5f);
    b.vocab(static_cast<std::uint32_t>(n_vocab), "gpt2");
    b.tensor("token_embd.weight", ggml_type::bf16, {n_embd, n_vocab});
    for (std::size_t i = 0; i < n_layer; ++i) {
        b.blk(i, "attn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "attn_q.weight", ggml_type::bf16, {n_embd, n_head * hd});
        b.blk(i, "attn_q.bias", ggml_type::f32, {n_head * hd});
        b.blk(i, "attn_k.weight", ggml_type::bf16, {n_embd, n_kv * hd});
        b.blk(i, "attn_k.bias", ggml_type::f32, {n_kv * hd});
        b.blk(i, "attn_v.weight", ggml_type::bf16, {n_embd, n_kv * hd});
        b.blk(i, "attn_v.bias", ggml_type::f32, {n_kv * hd});
        b.blk(i, "attn_out.weight", ggml_type::bf16, {n_head * hd, n_embd});
        b.blk(i, "attn_out.bias", ggml_type::f32, {n_embd});
        b.blk(i, "attn_sinks", ggml_type::f32, {n_head});
        b.blk(i, "ffn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "ffn_gate_inp.weight", ggml_type::bf16, {n_embd, n_exp});
        b.blk(i, "ffn_gate_inp.bias", ggml_type::f32, {n_exp});
        for (const char* p : {"ffn_gate_exps", "ffn_up_exps"}) {
            b.blk(i, std::string(p) + ".weight", ggml_type::mxfp4, {n_embd, n_ff, n_exp});
            b.blk(i, std::string(p) + ".bias", ggml_type::f32, {n_ff, n_exp});
        }
        b.blk(i, "ffn_down_exps.weight", ggml_type::mxfp4, {n_ff, n_embd, n_exp});
        b.blk(i, "ffn_down_exps.bias", ggml_type::f32, {n_embd, n_exp});
    }
    b.tensor("output_norm.weight", ggml_type::f32, {n_embd});
    b.tensor("output.weight", ggml_type::bf16, {n_embd, n_vocab});
    return b;
}

// ---- llama 3.x, Q4_K_M --------------------------------------------------------------------
inline builder llama3_q4_k_m(const char* name, std::uint64_t n_layer, std::uint64_t n_embd, std::uint64_t n_ff,
                             std::uint64_t n_head, std::uint64_t n_kv, bool tied) {
    constexpr std::uint64_t n_vocab = 128256, hd = 128;
    builder b("llama", name);
    b.u32("block_count", static_cast<std::uint32_t>(n_layer)).u32("context_length", 131072)
        .u32("embedding_length", static_cast<std::uint32_t>(n_embd)).u32("feed_forward_length", static_cast<std::uint32_t>(n_ff))
        .u32("attention.head_count", static_cast<std::uint32_t>(n_head))
        .u32("attention.head_count_kv", static_cast<std::uint32_t>(n_kv)).f32("rope.freq_base", 500000.0f)
        .f32("attention.layer_norm_rms_epsilon", 1e-5f).u32("rope.dimension_count", hd).u32("vocab_size", n_vocab);
    b.vocab(n_vocab, "gpt2");
    b.tensor("rope_freqs.weight", ggml_type::f32, {hd / 2});
    b.tensor("token_embd.weight", tied ? ggml_type::q6_k : ggml_type::q4_k, {n_embd, n_vocab});
    const auto n = static_cast<std::int64_t>(n_layer);
    for (std::size_t i = 0; i < n_layer; ++i) {
        const ggml_type more = use_more_bits(static_cast<std::int64_t>(i), n) ? ggml_type::q6_k : ggml_type::q4_k;
        b.blk(i, "attn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "attn_q.weight", ggml_type::q4_k, {n_embd, n_head * hd});
        b.blk(i, "attn_k.weight", ggml_type::q4_k, {n_embd, n_kv * hd});
        b.blk(i, "attn_v.weight", more, {n_embd, n_kv * hd});
        b.blk(i, "attn_output.weight", ggml_type::q4_k, {n_head * hd, n_embd});
        b.blk(i, "ffn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "ffn_gate.weight", ggml_type::q4_k, {n_embd, n_ff});
        b.blk(i, "ffn_up.weight", ggml_type::q4_k, {n_embd, n_ff});
        b.blk(i, "ffn_down.weight", more, {n_ff, n_embd});
    }
    b.tensor("output_norm.weight", ggml_type::f32, {n_embd});
    if (!tied) b.tensor("output.weight", ggml_type::q6_k, {n_embd, n_vocab});
    return b;
}
inline builder llama3_1_8b() { return llama3_q4_k_m("Meta Llama 3.1 8B Instruct", 32, 4096, 14336, 32, 8, false); }
inline builder llama3_2_3b() { return llama3_q4_k_m("Llama 3.2 3B Instruct", 28, 3072, 8192, 24, 8, true); }

// ---- gemma2:27b, Q4_0 (tied embeddings) ---------------------------------------------------
inline builder gemma2_27b() {
    constexpr std::uint64_t n_layer = 46, n_embd = 4608, n_ff = 36864, n_head = 32, n_kv = 16, hd = 128, n_vocab = 256000;
    builder b("gemma2", "gemma-2-27b-it");
    b.u32("block_count", n_layer).u32("context_length", 8192).u32("embedding_length", n_embd)
        .u32("feed_forward_length", n_ff).u32("attention.head_count", n_head).u32("attention.head_count_kv", n_kv)
        .u32("attention.key_length", hd).u32("attention.value_length", hd).u32("attention.sliding_window", 4096)
        .f32("attention.layer_norm_rms_epsilon", 1e-6f).f32("attn_logit_softcapping", 50.0f)
        .f32("final_logit_softcapping", 30.0f);
    b.vocab(n_vocab, "llama");
    b.tensor("token_embd.weight", ggml_type::q6_k, {n_embd, n_vocab});
    for (std::size_t i = 0; i < n_layer; ++i) {
        b.blk(i, "attn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "attn_q.weight", ggml_type::q4_0, {n_embd, n_head * hd});
        b.blk(i, "attn_k.weight", ggml_type::q4_0, {n_embd, n_kv * hd});
        b.blk(i, "attn_v.weight", ggml_type::q4_0, {n_embd, n_kv * hd});
        b.blk(i, "attn_output.weight", ggml_type::q4_0, {n_head * hd, n_embd});
        b.blk(i, "post_attention_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "ffn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "ffn_gate.weight", ggml_type::q4_0, {n_embd, n_ff});
        b.blk(i, "ffn_up.weight", ggml_type::q4_0, {n_embd, n_ff});
        b.blk(i, "ffn_down.weight", ggml_type::q4_0, {n_ff, n_embd});
        b.blk(i, "post_ffw_norm.weight", ggml_type::f32, {n_embd});
    }
    b.tensor("output_norm.weight", ggml_type::f32, {n_embd});
    return b;
}

// ---- phi3:mini (3.8B, 128k), Q4_0 --------------------------------------------------------
inline builder phi3_mini() {
    constexpr std::uint64_t n_layer = 32, n_embd = 3072, n_ff = 8192, n_head = 32, n_vocab = 32064;
    builder b("phi3", "Phi3");
    b.u32("block_count", n_layer).u32("context_length", 131072).u32("embedding_length", n_embd)
        .u32("feed_forward_length", n_ff).u32("attention.head_count", n_head).u32("attention.head_count_kv", n_head)
        .u32("rope.dimension_count", 96).u32("rope.scaling.original_context_length", 4096)
        .f32("attention.layer_norm_rms_epsilon", 1e-5f);
    b.vocab(n_vocab, "llama");
    b.tensor("token_embd.weight", ggml_type::q4_0, {n_embd, n_vocab});
    b.tensor("rope_factors_long.weight", ggml_type::f32, {48});
    b.tensor("rope_factors_short.weight", ggml_type::f32, {48});
    for (std::size_t i = 0; i < n_layer; ++i) {
        b.blk(i, "attn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "attn_qkv.weight", ggml_type::q4_0, {n_embd, 3 * n_embd});
        b.blk(i, "attn_output.weight", ggml_type::q4_0, {n_embd, n_embd});
        b.blk(i, "ffn_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "ffn_up.weight", ggml_type::q4_0, {n_embd, 2 * n_ff});  // gate and up, fused
        b.blk(i, "ffn_down.weight", ggml_type::q4_0, {n_ff, n_embd});
    }
    b.tensor("output_norm.weight", ggml_type::f32, {n_embd});
    b.tensor("output.weight", ggml_type::q6_k, {n_embd, n_vocab});
    return b;
}

// ---- mxbai-embed-large (bert, 335M), F16 -------------------------------------------------
// A BERT file has no head_count_kv key (Ollama then counts one KV head) and a pooling type.
inline builder mxbai_embed_large() {
    constexpr std::uint64_t n_layer = 24, n_embd = 1024, n_ff = 4096, n_vocab = 30522, n_pos = 512;
    builder b("bert", "mxbai-embed-large-v1");
    b.u32("block_count", n_layer).u32("context_length", n_pos).u32("embedding_length", n_embd)
        .u32("feed_forward_length", n_ff).u32("attention.head_count", 16).f32("attention.layer_norm_epsilon", 1e-12f)
        .u32("pooling_type", 2);
    b.writer().set("bert.attention.causal", false);
    b.vocab(n_vocab, "bert");
    b.tensor("token_embd.weight", ggml_type::f16, {n_embd, n_vocab});
    b.tensor("token_types.weight", ggml_type::f32, {n_embd, 2});
    b.tensor("position_embd.weight", ggml_type::f16, {n_embd, n_pos});
    b.tensor("token_embd_norm.weight", ggml_type::f32, {n_embd});
    b.tensor("token_embd_norm.bias", ggml_type::f32, {n_embd});
    for (std::size_t i = 0; i < n_layer; ++i) {
        for (const char* p : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
            b.blk(i, std::string(p) + ".weight", ggml_type::f16, {n_embd, n_embd});
            b.blk(i, std::string(p) + ".bias", ggml_type::f32, {n_embd});
        }
        b.blk(i, "attn_output_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "attn_output_norm.bias", ggml_type::f32, {n_embd});
        b.blk(i, "ffn_up.weight", ggml_type::f16, {n_embd, n_ff});
        b.blk(i, "ffn_up.bias", ggml_type::f32, {n_ff});
        b.blk(i, "ffn_down.weight", ggml_type::f16, {n_ff, n_embd});
        b.blk(i, "ffn_down.bias", ggml_type::f32, {n_embd});
        b.blk(i, "layer_output_norm.weight", ggml_type::f32, {n_embd});
        b.blk(i, "layer_output_norm.bias", ggml_type::f32, {n_embd});
    }
    return b;
}

// One sparse file per seed model, written into a temporary directory the first time a test asks.
struct files {
    temp_dir dir;
    std::map<std::string, std::string> paths;

    const std::string& get(const std::string& name, builder (*make)()) {
        auto it = paths.find(name);
        if (it == paths.end()) it = paths.emplace(name, make().write(dir, name + ".gguf")).first;
        return it->second;
    }
    const std::string& gpt_oss() { return get("gpt-oss-20b", gpt_oss_20b); }
    const std::string& llama31() { return get("llama3.1-8b", llama3_1_8b); }
    const std::string& llama32() { return get("llama3.2-3b", llama3_2_3b); }
    const std::string& gemma2() { return get("gemma2-27b", gemma2_27b); }
    const std::string& phi3() { return get("phi3-mini", phi3_mini); }
    const std::string& mxbai() { return get("mxbai-embed-large", mxbai_embed_large); }
};

inline files& shared_files() {
    static files f;
    return f;
}

}  // namespace strata_test::seed
