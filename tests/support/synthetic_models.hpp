// tests/support/synthetic_models.hpp — tiny synthetic llama and gemma2 models with
// deterministic weights, written with strata::gguf::writer, and the goldens llama.cpp produced
// for them (tools/reference/synthetic_goldens.py).
//
// The description here and the one in synthetic_goldens.py must stay identical: same metadata
// keys, value types and order; same tensors, order, types and values. The test checks the sha256
// of the bytes written here against the one the script recorded for the file llama.cpp ran, so
// any drift fails loudly instead of comparing two different models.
//
// Weights: each tensor has its own splitmix64 stream seeded with fnv1a64("<arch>:<name>");
// element i (row-major over (rows, cols)) takes draw z, v = 2 * (z >> 40) * 2^-24 - 1 (double),
// stored as f32(v * amp) (matrices) or f32(base + v * amp) (norm gains), f32(2.5 + 1.5 v)
// (rope_freqs). Q8_0 matrices are drawn quantized: per block d = amp * (64 + z % 64) / 16384
// (exact in fp16), then 32 values q = z % 255 - 127.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "strata/core/half.hpp"
#include "strata/gguf/writer.hpp"

namespace strata_test::synthetic {

// ---- PRNG -----------------------------------------------------------------------------------

inline std::uint64_t fnv1a64(const std::string& s) {
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    return h;
}

struct stream {
    std::uint64_t state;
    explicit stream(const std::string& key) : state(fnv1a64(key)) {}
    std::uint64_t next() {
        state += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return 2.0 * (double(next() >> 40) * (1.0 / 16777216.0)) - 1.0; }
};

// ---- the models ---------------------------------------------------------------------------

constexpr std::uint32_t n_vocab = 300, n_embd = 64, n_ff = 128, n_layer = 3, n_head = 4, n_head_kv = 2,
                        head_dim = 16, n_ctx = 256, n_swa = 8, n_expert = 4, n_expert_used = 2;

struct variant {
    std::string name, arch;
    bool tied = false, rope_freqs = false, q8_0 = false;
    std::uint32_t experts = 0;  // 0: a dense FFN; else Mixtral's layout with n_expert_used per token

    // the goldens file: synthetic-<group>.txt
    std::string group() const { return arch + (experts ? "-moe" : ""); }
};

inline const std::vector<variant>& variants() {
    static const std::vector<variant> v = {
        {"llama-f32", "llama", false, false, false},
        {"llama-f32-tied-ropefreqs", "llama", true, true, false},
        {"llama-q8_0", "llama", false, true, true},
        {"gemma2-f32", "gemma2", true, false, false},
        {"gemma2-q8_0", "gemma2", true, false, true},
        {"llama-moe-f32", "llama", false, false, false, n_expert},
        {"llama-moe-q8_0", "llama", false, true, true, n_expert},
    };
    return v;
}

inline const variant& find_variant(const std::string& name) {
    for (const variant& v : variants())
        if (v.name == name) return v;
    throw std::logic_error("no synthetic variant " + name);
}

inline double matrix_amp(const std::string& kind) {
    static const std::map<std::string, double> amp = {
        {"token_embd", 1.0}, {"output", 0.5},     {"attn_q", 0.5},  {"attn_k", 0.5},     {"attn_v", 0.25},
        {"attn_output", 0.25}, {"ffn_gate", 0.25}, {"ffn_up", 0.25}, {"ffn_down", 0.125}, {"ffn_gate_inp", 0.5},
    };
    return amp.at(kind);
}

inline bool is_norm(const std::string& kind) { return kind.size() > 5 && kind.substr(kind.size() - 5) == "_norm"; }

struct tensor_spec {
    std::string name, kind;
    std::uint64_t rows, cols;  // rows == 0: 1-D of cols
    std::uint64_t mats = 0;    // > 0: that many stacked (rows, cols) matrices (experts), drawn in order

    std::uint64_t all_rows() const { return std::max<std::uint64_t>(mats, 1) * rows; }
};

inline std::vector<tensor_spec> tensor_list(const variant& v) {
    std::vector<tensor_spec> t;
    t.push_back({"token_embd.weight", "token_embd", n_vocab, n_embd});
    if (v.rope_freqs) t.push_back({"rope_freqs.weight", "rope_freqs", 0, head_dim / 2});
    t.push_back({"output_norm.weight", "output_norm", 0, n_embd});
    if (!v.tied) t.push_back({"output.weight", "output", n_vocab, n_embd});
    const std::uint64_t nq = n_head * head_dim, nkv = n_head_kv * head_dim;
    const bool gemma = v.arch == "gemma2";
    for (std::uint32_t il = 0; il < n_layer; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        t.push_back({b + "attn_norm.weight", "attn_norm", 0, n_embd});
        t.push_back({b + "attn_q.weight", "attn_q", nq, n_embd});
        t.push_back({b + "attn_k.weight", "attn_k", nkv, n_embd});
        t.push_back({b + "attn_v.weight", "attn_v", nkv, n_embd});
        t.push_back({b + "attn_output.weight", "attn_output", n_embd, nq});
        if (gemma) t.push_back({b + "post_attention_norm.weight", "post_attention_norm", 0, n_embd});
        t.push_back({b + "ffn_norm.weight", "ffn_norm", 0, n_embd});
        if (v.experts) {
            t.push_back({b + "ffn_gate_inp.weight", "ffn_gate_inp", v.experts, n_embd});
            t.push_back({b + "ffn_gate_exps.weight", "ffn_gate", n_ff, n_embd, v.experts});
            t.push_back({b + "ffn_up_exps.weight", "ffn_up", n_ff, n_embd, v.experts});
            t.push_back({b + "ffn_down_exps.weight", "ffn_down", n_embd, n_ff, v.experts});
        } else {
            t.push_back({b + "ffn_gate.weight", "ffn_gate", n_ff, n_embd});
            t.push_back({b + "ffn_up.weight", "ffn_up", n_ff, n_embd});
            t.push_back({b + "ffn_down.weight", "ffn_down", n_embd, n_ff});
        }
        if (gemma) t.push_back({b + "post_ffw_norm.weight", "post_ffw_norm", 0, n_embd});
    }
    return t;
}

inline std::vector<float> f32_values(const variant& v, const tensor_spec& t, std::uint64_t n) {
    stream s(v.arch + ":" + t.name);
    std::vector<float> out(n);
    if (t.kind == "rope_freqs") {
        for (auto& x : out) x = static_cast<float>(2.5 + 1.5 * s.uniform());
    } else if (is_norm(t.kind)) {
        const bool big = v.arch == "gemma2" && t.kind == "output_norm";  // the final soft-cap well bent
        const double base = big ? 2.0 : 1.0, amp = big ? 0.5 : 0.25;
        for (auto& x : out) x = static_cast<float>(base + s.uniform() * amp);
    } else {
        const double amp = matrix_amp(t.kind);
        for (auto& x : out) x = static_cast<float>(s.uniform() * amp);
    }
    return out;
}

inline std::vector<std::byte> q8_0_bytes(const variant& v, const tensor_spec& t) {
    stream s(v.arch + ":" + t.name);
    const double amp = matrix_amp(t.kind);
    std::vector<std::byte> out;
    out.reserve(t.all_rows() * t.cols / 32 * 34);
    for (std::uint64_t b = 0; b < t.all_rows() * t.cols / 32; ++b) {
        const double d = amp * double(64 + s.next() % 64) / 16384.0;
        const std::uint16_t h = strata::fp32_to_fp16(static_cast<float>(d));
        out.push_back(std::byte(h & 0xff));
        out.push_back(std::byte(h >> 8));
        for (int i = 0; i < 32; ++i) out.push_back(std::byte(std::uint8_t(int(s.next() % 255) - 127)));
    }
    return out;
}

inline strata::gguf::writer make_writer(const variant& v) {
    using strata::ggml_type;
    strata::gguf::writer w;
    const std::string& a = v.arch;
    const bool gemma = a == "gemma2";
    w.set("general.architecture", a);
    w.set("general.name", "strata-synthetic-" + a);
    w.set(a + ".context_length", n_ctx);
    w.set(a + ".embedding_length", n_embd);
    w.set(a + ".block_count", n_layer);
    w.set(a + ".feed_forward_length", n_ff);
    w.set(a + ".attention.head_count", n_head);
    w.set(a + ".attention.head_count_kv", n_head_kv);
    w.set(a + ".attention.key_length", head_dim);
    w.set(a + ".attention.value_length", head_dim);
    // as Python packs a double into an f32
    w.set(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(gemma ? 1e-6 : 1e-5));
    w.set(a + ".rope.dimension_count", head_dim);
    w.set(a + ".rope.freq_base", 10000.0f);
    if (v.experts) {
        w.set(a + ".expert_count", v.experts);
        w.set(a + ".expert_used_count", n_expert_used);
    }
    if (gemma) {
        w.set("gemma2.attention.sliding_window", n_swa);
        w.set("gemma2.attn_logit_softcapping", 50.0f);
        w.set("gemma2.final_logit_softcapping", 30.0f);
    }
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<float> scores = {0.0f, 0.0f, 0.0f};
    std::vector<std::int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        tokens.emplace_back(buf);
        scores.push_back(0.0f);
        types.push_back(6);
    }
    const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
    std::vector<std::string> pieces;
    for (char c = 'a'; c <= 'z'; ++c) pieces.push_back(sp + c);
    for (const char* p : {"th", "he"}) pieces.push_back(sp + p);
    for (const char* p : {"in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of"}) pieces.emplace_back(p);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        tokens.push_back(pieces[i]);
        scores.push_back(-float(i + 1));
        types.push_back(1);
    }
    if (tokens.size() != n_vocab) throw std::logic_error("synthetic vocab size");
    w.set("tokenizer.ggml.model", "llama");
    w.set_array("tokenizer.ggml.tokens", tokens);
    w.set_array("tokenizer.ggml.scores", scores);
    w.set_array("tokenizer.ggml.token_type", types);
    w.set("tokenizer.ggml.bos_token_id", std::uint32_t(1));
    w.set("tokenizer.ggml.eos_token_id", std::uint32_t(2));
    w.set("tokenizer.ggml.unknown_token_id", std::uint32_t(0));
    for (const tensor_spec& t : tensor_list(v)) {
        if (t.rows == 0) {
            const auto x = f32_values(v, t, t.cols);
            w.add_tensor(t.name, ggml_type::f32, {t.cols}, std::as_bytes(std::span(x)));
            continue;
        }
        std::vector<std::uint64_t> shape = {t.cols, t.rows};
        if (t.mats) shape.push_back(t.mats);
        if (v.q8_0 && t.kind != "ffn_gate_inp") {  // the router stays f32, as llama-quantize leaves it
            const auto b = q8_0_bytes(v, t);
            w.add_tensor(t.name, ggml_type::q8_0, shape, b);
        } else {
            const auto x = f32_values(v, t, t.all_rows() * t.cols);
            w.add_tensor(t.name, ggml_type::f32, shape, std::as_bytes(std::span(x)));
        }
    }
    return w;
}

// A variant written to a temporary file for the lifetime of this object.
struct temp_model {
    std::string path;
    explicit temp_model(const variant& v)
        : path((std::filesystem::temp_directory_path() / ("strata-" + v.name + "-" + std::to_string(::getpid()) + ".gguf")).string()) {
        make_writer(v).write(path);
    }
    ~temp_model() { std::remove(path.c_str()); }
    temp_model(const temp_model&) = delete;
    temp_model& operator=(const temp_model&) = delete;
};

// ---- sha256 (FIPS 180-4), for the drift check ------------------------------------------------

inline std::string sha256_hex(const std::vector<std::byte>& data) {
    static constexpr std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    auto rotr = [](std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
    std::vector<std::uint8_t> m(data.size());
    std::memcpy(m.data(), data.data(), data.size());
    const std::uint64_t bits = std::uint64_t(data.size()) * 8;
    m.push_back(0x80);
    while (m.size() % 64 != 56) m.push_back(0);
    for (int i = 7; i >= 0; --i) m.push_back(std::uint8_t(bits >> (8 * i)));
    for (std::size_t at = 0; at < m.size(); at += 64) {
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = std::uint32_t(m[at + 4 * i]) << 24 | std::uint32_t(m[at + 4 * i + 1]) << 16 |
                   std::uint32_t(m[at + 4 * i + 2]) << 8 | std::uint32_t(m[at + 4 * i + 3]);
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
    std::string hex;
    char buf[9];
    for (std::uint32_t x : h) {
        std::snprintf(buf, sizeof buf, "%08x", x);
        hex += buf;
    }
    return hex;
}

// ---- goldens (synthetic_goldens.py's format) --------------------------------------------------

struct golden {
    std::string name, arch, sha256;
    std::uint64_t bytes = 0;
    std::vector<std::int32_t> tokens;
    std::vector<std::vector<float>> batch, step;  // [position][token id]
};

inline std::map<std::string, golden> load_goldens(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::map<std::string, golden> out;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto bar = line.find(" | ");
        if (bar == std::string::npos) throw std::runtime_error("bad golden line: " + line.substr(0, 60));
        std::istringstream head(line.substr(0, bar)), body(line.substr(bar + 3));
        std::string tag, name;
        head >> tag >> name;
        golden& g = out[name];
        g.name = name;
        if (tag == "variant") {
            std::string sep;
            body >> g.arch >> sep >> g.sha256 >> sep >> g.bytes;
        } else if (tag == "tokens") {
            std::int32_t t;
            while (body >> t) g.tokens.push_back(t);
        } else if (tag == "batch" || tag == "step") {
            std::size_t pos = 0;
            head >> pos;
            auto& rows = tag == "batch" ? g.batch : g.step;
            if (rows.size() <= pos) rows.resize(pos + 1);
            float x;
            while (body >> x) rows[pos].push_back(x);
        }
    }
    return out;
}

}  // namespace strata_test::synthetic
