// tests/support/realistic_models.hpp — synthetic GGUF models of real models' shapes (llama 3.2
// 1B, gemma 3 270M), with llama.cpp's Q4_K_M type mix and deterministic pseudo-random weights
// quantized by Strata's own quantizers, and a `tiny` variant of each (same architecture, same
// type mix) small enough for CPU tests. The tests write them; nothing is downloaded.
//
// Type mix (the Q4_K_M rule of llama.cpp's llama-quant.cpp, as tests/support/seed_models.hpp
// states it, and as the real gemma-3-270m-q4_k_m.gguf shows for its fallbacks):
//   - 1-D tensors (norms, rope_freqs) F32;
//   - every matrix Q4_K, except attn_v and ffn_down, which are Q6_K in the layers where
//     use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2;
//   - output.weight Q6_K; tied (no output.weight), token_embd takes the output's Q6_K; untied,
//     token_embd is Q4_K;
//   - a matrix whose rows are not a multiple of 256 cannot be a K-quant: Q4_K falls back to Q5_0
//     and Q6_K to Q8_0 (gemma 3 270M: n_embd 640, so attn_q/k/v, ffn_gate/up and token_embd).
//
// Weights: tensor T's row r is drawn from its own splitmix64 stream, seeded from
// fnv1a64(seed + ":" + T) and r, so any row is computed alone (rows are made in parallel, and the
// file is the same whatever the thread count). Each draw gives two 32-bit uniforms whose sum,
// centred and scaled, has unit variance (a triangular law: bounded, but not flat, so the k-quant
// scale searches see a peak as with real weights); a matrix with rows of k elements multiplies
// it by gain / sqrt(k), which keeps each matmul's output at the scale of its input: q, k, v, the
// attention output and the FFN stay near unit RMS over every layer, and logits have a standard
// deviation near 2. Norm gains are 1 + 0.1 u (u uniform in [-1, 1)): gemma's GGUF files store
// the gain itself (the converter added its 1), so both architectures read ~1. llama's
// rope_freqs are the llama 3 frequency factors (factor 32, low 1, high 4, original context 8192).
//
// The vocabulary is a SentencePiece ("llama") one for both: the special tokens first (with the
// chat markers of the model's family, so the engine detects its chat format), the 256 byte
// tokens, then unique pieces up to n_vocab. llama 3's real tokenizer is BPE with merges; the
// tests feed ids, and what matters here is the vocabulary's size (the output head's rows).
//
// write() streams: the file is laid out first with tensor holes (strata::gguf::writer), then
// worker threads quantize chunks of rows and pwrite each at its place; memory stays at a few
// MiB per thread whatever the model size.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "strata/core/dtype.hpp"
#include "strata/gguf/file.hpp"
#include "strata/gguf/writer.hpp"
#include "strata/quant/f32.hpp"
#include "strata/quant/q4_k.hpp"
#include "strata/quant/q5_0.hpp"
#include "strata/quant/q6_k.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/row.hpp"

namespace strata_test::realistic {

using strata::ggml_type;

enum class family { llama, gemma3 };

struct spec {
    std::string name;  // general.name
    family arch = family::llama;
    std::uint32_t n_vocab = 0, n_ctx = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0;
    float rope_theta = 10000.0f;
    float rms_eps = 1e-5f;
    std::uint32_t n_swa = 0;  // gemma3: the sliding window (five sliding layers per global one)
    bool tied = true;         // no output.weight: the head is token_embd
    bool rope_freqs = false;  // llama 3: the frequency factors tensor
    std::uint32_t n_expert = 0, n_expert_used = 0;  // llama MoE (Mixtral's layout); 0: dense
    std::string seed = "strata-realistic";

    std::string arch_name() const { return arch == family::llama ? "llama" : "gemma3"; }
    std::uint32_t n_q() const noexcept { return n_head * head_dim; }
    std::uint32_t n_kv() const noexcept { return n_head_kv * head_dim; }
};

// Llama 3.2 1B (Instruct): tied embeddings, as Meta ships it.
inline spec llama_1b_shape() {
    spec s;
    s.name = "strata-realistic llama-3.2-1B shape";
    s.arch = family::llama;
    s.n_vocab = 128256, s.n_ctx = 131072, s.n_embd = 2048, s.n_layer = 16, s.n_head = 32, s.n_head_kv = 8;
    s.head_dim = 64, s.n_ff = 8192;
    s.rope_theta = 500000.0f, s.rms_eps = 1e-5f;
    s.tied = true, s.rope_freqs = true;
    return s;
}

// Gemma 3 270M: the metadata of Google's gemma-3-270m GGUF (tied; q/k norms, post norms; the
// engine's fixed pattern of five sliding layers at rope base 10k per global one at the file's
// base).
inline spec gemma3_270m_shape() {
    spec s;
    s.name = "strata-realistic gemma-3-270m shape";
    s.arch = family::gemma3;
    s.n_vocab = 262144, s.n_ctx = 32768, s.n_embd = 640, s.n_layer = 18, s.n_head = 4, s.n_head_kv = 1;
    s.head_dim = 256, s.n_ff = 2048;
    s.rope_theta = 1000000.0f, s.rms_eps = 1e-6f, s.n_swa = 512;
    s.tied = true;
    return s;
}

// A small Mixtral: 8 experts of which 2 per token, Mixtral 8x7B's layout (untied head, GQA 4,
// no rope_freqs) at a quarter of its width and an eighth of its depth (~0.4B parameters, ~0.3 GB
// in Q4_K_M): the CPU benchmark of the MoE path beside llama.cpp (strata-write-realistic moe).
inline spec moe_shape() {
    spec s;
    s.name = "strata-realistic small mixtral shape";
    s.arch = family::llama;
    s.n_vocab = 32000, s.n_ctx = 32768, s.n_embd = 1024, s.n_layer = 4, s.n_head = 16, s.n_head_kv = 4;
    s.head_dim = 64, s.n_ff = 3584, s.n_expert = 8, s.n_expert_used = 2;
    s.rope_theta = 1000000.0f, s.rms_eps = 1e-5f;
    s.tied = false;
    return s;
}

// The same architecture and type mix at a CPU test's size: rows stay K-quant-able exactly where
// the full shape's are (llama n_embd 256; gemma 384, not a multiple of 256, as 640 is not), the
// GQA group is kept, q is as wide as n_embd (llama) or wider (gemma), and the layer count gives both
// kinds of layer (llama: a Q4_K and a Q6_K attn_v; gemma: six, so that one is global) — with a
// window of 8 so that a 24-token test slides.
inline spec tiny(const spec& full) {
    spec s = full;
    s.name = full.name + " (tiny)";
    s.n_vocab = 2048;
    s.n_ctx = 512;
    const std::uint32_t group = full.n_head / full.n_head_kv;
    if (full.arch == family::llama) {
        s.n_embd = 256, s.n_layer = 2, s.n_head_kv = 1, s.n_head = std::min<std::uint32_t>(group, 4);
        s.head_dim = s.n_embd / s.n_head, s.n_ff = 4 * s.n_embd;
    } else {
        s.n_embd = 384, s.n_layer = 6, s.n_head_kv = 1, s.n_head = std::min<std::uint32_t>(group, 4);
        s.head_dim = 128, s.n_ff = 1024, s.n_swa = 8;
    }
    return s;
}

// ---- the tensors and their types ----------------------------------------------------------

constexpr bool use_more_bits(std::int64_t i, std::int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

struct tensor_plan {
    std::string name, kind;     // kind: "attn_q", "ffn_norm", ...
    std::int32_t layer = -1;    // -1: not a layer's
    std::uint64_t cols = 0;     // ne[0], the row length
    std::uint64_t rows = 0;     // ne[1]; 0: a 1-D tensor of cols
    ggml_type type = ggml_type::f32;
    std::uint64_t mats = 0;     // ne[2] of stacked expert matrices; 0: one

    // rows of every matrix, as the file stores them one after another
    std::uint64_t all_rows() const { return std::max<std::uint64_t>(rows, 1) * std::max<std::uint64_t>(mats, 1); }
    std::uint64_t bytes() const { return strata::row_bytes(type, cols) * all_rows(); }
};

// The Q4_K_M type of a matrix (see the top of this file).
inline ggml_type q4_k_m_type(const spec& s, const std::string& kind, std::int32_t layer, std::uint64_t cols) {
    ggml_type t = ggml_type::q4_k;
    if (kind == "output" || (kind == "token_embd" && s.tied)) t = ggml_type::q6_k;
    if ((kind == "attn_v" || kind == "ffn_down") && use_more_bits(layer, s.n_layer)) t = ggml_type::q6_k;
    if (cols % 256 != 0) t = t == ggml_type::q6_k ? ggml_type::q8_0 : ggml_type::q5_0;
    return t;
}

inline std::vector<tensor_plan> tensors(const spec& s) {
    std::vector<tensor_plan> t;
    auto vec = [&](std::string name, std::string kind, std::int32_t il, std::uint64_t n) {
        t.push_back({std::move(name), std::move(kind), il, n, 0, ggml_type::f32});
    };
    auto mat = [&](std::string name, std::string kind, std::int32_t il, std::uint64_t cols, std::uint64_t rows) {
        const ggml_type type = q4_k_m_type(s, kind, il, cols);
        t.push_back({std::move(name), std::move(kind), il, cols, rows, type});
    };
    const bool gemma = s.arch == family::gemma3;
    if (s.rope_freqs) vec("rope_freqs.weight", "rope_freqs", -1, s.head_dim / 2);
    mat("token_embd.weight", "token_embd", -1, s.n_embd, s.n_vocab);
    for (std::uint32_t i = 0; i < s.n_layer; ++i) {
        const auto il = static_cast<std::int32_t>(i);
        const std::string b = "blk." + std::to_string(i) + ".";
        vec(b + "attn_norm.weight", "attn_norm", il, s.n_embd);
        mat(b + "attn_q.weight", "attn_q", il, s.n_embd, s.n_q());
        mat(b + "attn_k.weight", "attn_k", il, s.n_embd, s.n_kv());
        mat(b + "attn_v.weight", "attn_v", il, s.n_embd, s.n_kv());
        mat(b + "attn_output.weight", "attn_output", il, s.n_q(), s.n_embd);
        if (gemma) {
            vec(b + "attn_q_norm.weight", "attn_q_norm", il, s.head_dim);
            vec(b + "attn_k_norm.weight", "attn_k_norm", il, s.head_dim);
            vec(b + "post_attention_norm.weight", "post_attention_norm", il, s.n_embd);
        }
        vec(b + "ffn_norm.weight", "ffn_norm", il, s.n_embd);
        if (s.n_expert > 0) {
            // the router stays F32 (llama-quantize leaves ffn_gate_inp); the experts take the
            // dense FFN's types
            t.push_back({b + "ffn_gate_inp.weight", "ffn_gate_inp", il, s.n_embd, s.n_expert, ggml_type::f32});
            for (const char* k : {"ffn_gate", "ffn_up", "ffn_down"}) {
                const bool down = std::string(k) == "ffn_down";
                mat(b + k + "_exps.weight", k, il, down ? s.n_ff : s.n_embd, down ? s.n_embd : s.n_ff);
                t.back().mats = s.n_expert;
            }
        } else {
            mat(b + "ffn_gate.weight", "ffn_gate", il, s.n_embd, s.n_ff);
            mat(b + "ffn_up.weight", "ffn_up", il, s.n_embd, s.n_ff);
            mat(b + "ffn_down.weight", "ffn_down", il, s.n_ff, s.n_embd);
        }
        if (gemma) vec(b + "post_ffw_norm.weight", "post_ffw_norm", il, s.n_embd);
    }
    vec("output_norm.weight", "output_norm", -1, s.n_embd);
    if (!s.tied) mat("output.weight", "output", -1, s.n_embd, s.n_vocab);
    return t;
}

// The bytes of every tensor's data, unpadded (what the engine maps as weights).
inline std::uint64_t expected_weight_bytes(const spec& s) {
    std::uint64_t n = 0;
    for (const tensor_plan& t : tensors(s)) n += t.bytes();
    return n;
}

// ---- values -------------------------------------------------------------------------------

namespace detail {

inline std::uint64_t fnv1a64(const std::string& s) {
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    return h;
}

struct splitmix {
    std::uint64_t state;
    std::uint64_t next() {
        state += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Two 32-bit uniforms summed: mean 2^32, variance 2^64 / 6; centred and scaled to unit variance.
    float unit() {
        const std::uint64_t z = next();
        const double sum = double(z >> 32) + double(z & 0xffffffffu);
        return static_cast<float>((sum * (1.0 / 4294967296.0) - 1.0) * 2.449489742783178);  // sqrt(6)
    }
    float uniform() { return static_cast<float>(double(next() >> 40) * (2.0 / 16777216.0) - 1.0); }
};

inline splitmix row_stream(std::uint64_t key, std::uint64_t row) {
    splitmix s{key ^ (row * 0xD1B54A32D192ED03ull)};
    (void)s.next();  // decorrelate neighbouring rows' first draws
    return s;
}

// Each matrix kind's gain over 1/sqrt(row length): the heads (output, tied embeddings) give logits
// of standard deviation ~2.
inline float matrix_gain(const std::string& kind) { return kind == "token_embd" || kind == "output" ? 2.0f : 1.0f; }

// llama 3's frequency factors: divisors of each rotation frequency, 1 for short wavelengths,
// the scale factor for long ones, a smooth blend between.
inline void llama3_rope_factors(const spec& s, float* out, std::uint64_t n) {
    constexpr double factor = 32, low = 1, high = 4, original = 8192, pi = 3.14159265358979323846;
    const double low_wavelen = original / low, high_wavelen = original / high;
    for (std::uint64_t i = 0; i < n; ++i) {
        const double freq = std::pow(double(s.rope_theta), -2.0 * double(i) / double(s.head_dim));
        const double wavelen = 2 * pi / freq;
        double f = 1;
        if (wavelen > low_wavelen) {
            f = factor;
        } else if (wavelen >= high_wavelen) {
            const double smooth = (original / wavelen - low) / (high - low);
            f = 1 / ((1 - smooth) / factor + smooth);
        }
        out[i] = static_cast<float>(f);
    }
}

// Row `row` of tensor T into out (t.cols values).
inline void fill_row(const spec& s, const tensor_plan& t, std::uint64_t key, std::uint64_t row, float* out) {
    if (t.kind == "rope_freqs") return llama3_rope_factors(s, out, t.cols);
    splitmix r = row_stream(key, row);
    if (t.rows == 0) {  // a norm's gains
        for (std::uint64_t i = 0; i < t.cols; ++i) out[i] = 1.0f + 0.1f * r.uniform();
        return;
    }
    const float scale = matrix_gain(t.kind) / std::sqrt(float(t.cols));
    for (std::uint64_t i = 0; i < t.cols; ++i) out[i] = scale * r.unit();
}

inline void quantize(ggml_type type, const float* x, void* dst, std::uint64_t n) {
    switch (type) {
        case ggml_type::f32: std::memcpy(dst, x, n * sizeof(float)); return;
        case ggml_type::q4_k: return strata::quantize_row<strata::q4_k>(x, dst, n);
        case ggml_type::q6_k: return strata::quantize_row<strata::q6_k>(x, dst, n);
        case ggml_type::q5_0: return strata::quantize_row<strata::q5_0>(x, dst, n);
        case ggml_type::q8_0: return strata::quantize_row<strata::q8_0>(x, dst, n);
        default: throw std::logic_error("realistic models: no quantizer wired for this type");
    }
}

// ---- metadata -------------------------------------------------------------------------------

inline void set_vocab(strata::gguf::writer& w, const spec& s) {
    const bool gemma = s.arch == family::gemma3;
    // gemma's ids as Google's file has them (pad 0, eos 1, bos 2, unk 3); llama's the SentencePiece defaults
    std::vector<std::string> tokens = gemma ? std::vector<std::string>{"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"}
                                            : std::vector<std::string>{"<unk>", "<s>", "</s>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    std::vector<std::int32_t> types(tokens.size(), 3);  // control
    types[gemma ? 3 : 0] = 2;                           // unknown
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        tokens.emplace_back(buf);
        types.push_back(6);  // byte
    }
    const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
    for (std::uint32_t i = 0; tokens.size() < s.n_vocab; ++i) {
        tokens.push_back(i < 26 ? sp + char('a' + i) : i < 52 ? std::string(1, char('a' + i - 26)) : sp + "w" + std::to_string(i));
        types.push_back(1);
    }
    if (tokens.size() != s.n_vocab) throw std::logic_error("realistic models: vocabulary smaller than its specials");
    std::vector<float> scores(tokens.size());
    for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = types[i] == 1 ? -float(i) : 0.0f;
    w.set("tokenizer.ggml.model", "llama");
    w.set_array("tokenizer.ggml.tokens", tokens);
    w.set_array("tokenizer.ggml.scores", scores);
    w.set_array("tokenizer.ggml.token_type", types);
    w.set("tokenizer.ggml.bos_token_id", std::uint32_t(gemma ? 2 : 1));
    w.set("tokenizer.ggml.eos_token_id", std::uint32_t(gemma ? 1 : 2));
    w.set("tokenizer.ggml.unknown_token_id", std::uint32_t(gemma ? 3 : 0));
    if (gemma) {
        w.set("tokenizer.ggml.padding_token_id", std::uint32_t(0));
        w.set("tokenizer.ggml.add_bos_token", true);
        w.set("tokenizer.ggml.add_space_prefix", false);
    }
}

inline strata::gguf::writer layout(const spec& s) {
    strata::gguf::writer w;
    const std::string a = s.arch_name();
    w.set("general.architecture", a);
    w.set("general.name", s.name);
    w.set("general.file_type", std::uint32_t(15));  // llama.cpp's MOSTLY_Q4_K_M
    w.set("general.quantization_version", std::uint32_t(2));
    w.set(a + ".context_length", s.n_ctx);
    w.set(a + ".embedding_length", s.n_embd);
    w.set(a + ".block_count", s.n_layer);
    w.set(a + ".feed_forward_length", s.n_ff);
    w.set(a + ".attention.head_count", s.n_head);
    w.set(a + ".attention.head_count_kv", s.n_head_kv);
    w.set(a + ".attention.key_length", s.head_dim);
    w.set(a + ".attention.value_length", s.head_dim);
    w.set(a + ".attention.layer_norm_rms_epsilon", s.rms_eps);
    w.set(a + ".rope.freq_base", s.rope_theta);
    if (s.arch == family::llama) w.set(a + ".rope.dimension_count", s.head_dim);
    if (s.arch == family::gemma3) w.set(a + ".attention.sliding_window", s.n_swa);
    if (s.n_expert > 0) {
        w.set(a + ".expert_count", s.n_expert);
        w.set(a + ".expert_used_count", s.n_expert_used);
    }
    set_vocab(w, s);
    for (const tensor_plan& t : tensors(s)) {
        std::vector<std::uint64_t> dims = {t.cols};
        if (t.rows > 0) dims.push_back(t.rows);
        if (t.mats > 0) dims.push_back(t.mats);
        w.add_tensor_hole(t.name, t.type, std::move(dims));
    }
    return w;
}

// A piece of work: rows [begin, end) of one tensor.
struct job {
    std::size_t tensor;
    std::uint64_t begin, end;
};

inline std::vector<job> jobs_of(const std::vector<tensor_plan>& ts) {
    constexpr std::uint64_t elems_per_job = std::uint64_t(1) << 20;  // 4 MiB of floats
    std::vector<job> jobs;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        const std::uint64_t rows = ts[i].all_rows();
        const std::uint64_t step = std::max<std::uint64_t>(1, elems_per_job / ts[i].cols);
        for (std::uint64_t r = 0; r < rows; r += step) jobs.push_back({i, r, std::min(rows, r + step)});
    }
    return jobs;
}

inline void pwrite_all(int fd, const std::byte* p, std::size_t n, std::uint64_t at) {
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw std::system_error(w < 0 ? errno : EIO, std::generic_category(), "realistic models: pwrite");
        p += w, n -= std::size_t(w), at += std::uint64_t(w);
    }
}

// The absolute file offset of each tensor's data, read back from the laid-out file.
inline std::vector<std::uint64_t> data_offsets(const std::string& path, const std::vector<tensor_plan>& ts) {
    const auto f = strata::gguf::file::open(path);
    std::vector<std::uint64_t> at;
    for (const tensor_plan& t : ts) at.push_back(f.data_offset() + f.find_tensor(t.name)->offset);
    return at;
}

}  // namespace detail

// Writes the model to PATH (replacing it) with N_THREADS workers (0: one per hardware thread).
inline void write(const spec& s, const std::string& path, unsigned n_threads = 0) {
    const std::vector<tensor_plan> ts = tensors(s);
    detail::layout(s).write(path);
    const std::vector<std::uint64_t> offsets = detail::data_offsets(path, ts);
    std::vector<std::uint64_t> keys;
    for (const tensor_plan& t : ts) keys.push_back(detail::fnv1a64(s.seed + ":" + t.name));
    const std::vector<detail::job> jobs = detail::jobs_of(ts);

    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "realistic models: open " + path);
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_lock;
    auto work = [&] {
        std::vector<float> x;
        std::vector<std::byte> q;
        try {
            for (std::size_t j = next++; j < jobs.size(); j = next++) {
                const detail::job& jb = jobs[j];
                const tensor_plan& t = ts[jb.tensor];
                const std::uint64_t row_bytes = strata::row_bytes(t.type, t.cols);
                x.resize(t.cols);
                q.resize((jb.end - jb.begin) * row_bytes);
                for (std::uint64_t r = jb.begin; r < jb.end; ++r) {
                    detail::fill_row(s, t, keys[jb.tensor], r, x.data());
                    detail::quantize(t.type, x.data(), q.data() + (r - jb.begin) * row_bytes, t.cols);
                }
                detail::pwrite_all(fd, q.data(), q.size(), offsets[jb.tensor] + jb.begin * row_bytes);
            }
        } catch (...) {
            const std::lock_guard<std::mutex> g(failure_lock);
            if (!failure) failure = std::current_exception();
            next = jobs.size();
        }
    };
    const unsigned n = n_threads ? n_threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    try {
        for (unsigned i = 1; i < n; ++i) pool.emplace_back(work);
    } catch (...) {  // no more threads: the ones started and this one finish the work
    }
    work();
    for (std::thread& th : pool) th.join();
    const bool closed = ::close(fd) == 0;
    if (failure) std::rethrow_exception(failure);
    if (!closed) throw std::system_error(errno, std::generic_category(), "realistic models: close " + path);
}

}  // namespace strata_test::realistic
