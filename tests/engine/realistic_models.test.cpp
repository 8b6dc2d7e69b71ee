// The realistic synthetic models (tests/support/realistic_models.hpp): the tiny llama 3.2 1B and
// gemma 3 270M shapes are written, loaded by the CPU engine with the hyperparameters, tensor
// types and bytes the spec says, hold the values the spec draws (each tensor's first and last
// row dequantized against the drawn floats), and run a prefill and a greedy decode whose logits
// stay finite and of a sane spread. The full 1B shape (and the full 270M one) is written only
// where STRATA_BIG_SYNTHETIC is set (the GPU machine's run); if it names a directory, the files
// stay there for later steps.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "strata/engine/engine.hpp"
#include "support/realistic_models.hpp"
#include "support/seed_models.hpp"

namespace realistic = strata_test::realistic;
using strata::ggml_type;

namespace {

void dequantize(ggml_type type, const void* src, float* dst, std::size_t n) {
    switch (type) {
        case ggml_type::f32: std::memcpy(dst, src, n * sizeof(float)); return;
        case ggml_type::q4_k: return strata::dequantize_row<strata::q4_k>(src, dst, n);
        case ggml_type::q6_k: return strata::dequantize_row<strata::q6_k>(src, dst, n);
        case ggml_type::q5_0: return strata::dequantize_row<strata::q5_0>(src, dst, n);
        case ggml_type::q8_0: return strata::dequantize_row<strata::q8_0>(src, dst, n);
        default: FAIL("unexpected type " << strata::type_name(type));
    }
}

// Normalised L2 error; NaN anywhere is infinite.
double nerr(const std::vector<float>& got, const std::vector<float>& want) {
    double e = 0, n = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        e += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
        n += double(want[i]) * want[i];
    }
    return n > 0 ? std::sqrt(e / n) : std::sqrt(e);
}

// What each format's round trip of these weights may lose (4, 5, 6, 8 bits).
double tolerance(ggml_type t) {
    switch (t) {
        case ggml_type::f32: return 0.0;
        case ggml_type::q4_k: return 0.12;
        case ggml_type::q5_0: return 0.08;
        case ggml_type::q6_k: return 0.04;
        case ggml_type::q8_0: return 0.01;
        default: return 0.0;
    }
}

struct logit_stats {
    bool finite = true;
    double mean = 0, stddev = 0, min = INFINITY, max = -INFINITY;
};

logit_stats stats_of(std::span<const float> l) {
    logit_stats s;
    double sum = 0, sq = 0;
    for (float x : l) {
        if (!std::isfinite(x)) s.finite = false;
        sum += x, sq += double(x) * x;
        s.min = std::min(s.min, double(x)), s.max = std::max(s.max, double(x));
    }
    s.mean = sum / double(l.size());
    s.stddev = std::sqrt(std::max(0.0, sq / double(l.size()) - s.mean * s.mean));
    return s;
}

void check_logits(std::span<const float> l, const std::string& where) {
    const logit_stats s = stats_of(l);
    INFO(where << ": logits mean " << s.mean << ", std " << s.stddev << ", range [" << s.min << ", " << s.max << "]");
    CHECK(s.finite);
    CHECK(s.max > s.min);
    CHECK(s.stddev >= 0.1);
    CHECK(s.stddev <= 100.0);
}

std::int32_t argmax(std::span<const float> l) { return std::int32_t(std::max_element(l.begin(), l.end()) - l.begin()); }

// The hyperparameters, tensor types and bytes the engine read are the spec's.
void check_loaded(const strata::cpu_engine& e, const realistic::spec& s) {
    const auto& h = e.hparams();
    CHECK(h.arch == (s.arch == realistic::family::llama ? strata::model::arch::llama : strata::model::arch::gemma3));
    CHECK(h.n_vocab == s.n_vocab);
    CHECK(h.n_ctx_train == s.n_ctx);
    CHECK(h.n_embd == s.n_embd);
    CHECK(h.n_layer == s.n_layer);
    CHECK(h.n_ff == s.n_ff);
    CHECK(h.n_head == s.n_head);
    CHECK(h.n_head_kv == s.n_head_kv);
    CHECK(h.head_dim_k == s.head_dim);
    CHECK(h.head_dim_v == s.head_dim);
    CHECK(h.n_rot == s.head_dim);
    CHECK(h.rope_theta == s.rope_theta);
    CHECK(h.rms_eps == s.rms_eps);
    CHECK(h.n_swa == s.n_swa);
    if (s.arch == realistic::family::gemma3) {
        CHECK(h.is_swa(0));
        CHECK_FALSE(h.is_swa(5));
        CHECK(h.layer_rope_theta(0) == 10000.0f);
        CHECK(h.layer_rope_theta(5) == s.rope_theta);
    }
    CHECK((e.weights().output.info == e.weights().token_embd.info) == s.tied);
    CHECK(bool(e.weights().rope_freqs) == s.rope_freqs);
    CHECK(e.chat_format() == (s.arch == realistic::family::llama ? strata::chat::format::llama3 : strata::chat::format::gemma));

    std::uint64_t bytes = 0;
    for (const auto& t : realistic::tensors(s)) {
        const auto* ti = e.file().find_tensor(t.name);
        REQUIRE(ti != nullptr);
        INFO(t.name);
        CHECK(ti->type == t.type);
        CHECK(ti->ne[0] == t.cols);
        CHECK(ti->ne[1] == std::max<std::uint64_t>(t.rows, 1));
        bytes += ti->n_bytes;
    }
    CHECK(e.file().tensors().size() == realistic::tensors(s).size());
    CHECK(bytes == realistic::expected_weight_bytes(s));
}

// Each tensor's first and last row as stored against the floats the spec draws for them.
void check_values(const strata::cpu_engine& e, const realistic::spec& s) {
    for (const auto& t : realistic::tensors(s)) {
        const auto* ti = e.file().find_tensor(t.name);
        REQUIRE(ti != nullptr);
        const auto data = e.file().tensor_data(*ti);
        const std::uint64_t rows = std::max<std::uint64_t>(t.rows, 1), rb = strata::row_bytes(t.type, t.cols);
        const std::uint64_t key = realistic::detail::fnv1a64(s.seed + ":" + t.name);
        for (const std::uint64_t r : {std::uint64_t{0}, rows - 1}) {
            std::vector<float> want(t.cols), got(t.cols, NAN);
            realistic::detail::fill_row(s, t, key, r, want.data());
            dequantize(t.type, data.data() + r * rb, got.data(), t.cols);
            INFO(t.name << " row " << r << " (" << strata::type_name(t.type) << ")");
            CHECK(nerr(got, want) <= tolerance(t.type));
        }
    }
}

// A prompt of n ids past the specials and byte tokens, led by BOS.
std::vector<std::int32_t> prompt_of(const strata::cpu_engine& e, std::size_t n) {
    std::vector<std::int32_t> p = {e.tokenizer().bos()};
    const auto v = std::int32_t(e.hparams().n_vocab);
    for (std::size_t i = 1; i < n; ++i) p.push_back(300 + std::int32_t(i * 37) % (v - 300));
    return p;
}

// Prefill, then greedy decoding: every step's logits sane, and the first and last differ.
void run_forward(const strata::cpu_engine& e, std::size_t n_prompt, int n_decode) {
    auto session = e.new_session({.n_ctx = 64});
    session.prefill(prompt_of(e, n_prompt));
    check_logits(session.logits(), "prefill");
    const std::vector<float> first(session.logits().begin(), session.logits().end());
    for (int i = 0; i < n_decode; ++i) {
        session.decode(argmax(session.logits()));
        check_logits(session.logits(), "decode step " + std::to_string(i));
    }
    const std::vector<float> last(session.logits().begin(), session.logits().end());
    CHECK(first != last);
}

std::map<ggml_type, int> type_counts(const realistic::spec& s) {
    std::map<ggml_type, int> n;
    for (const auto& t : realistic::tensors(s)) ++n[t.type];
    return n;
}

}  // namespace

TEST_CASE("realistic models: the Q4_K_M mix of the full shapes", "[engine]") {
    // llama 3.2 1B: 16 layers, use_more_bits true at 0, 1, 4, 7, 10, 13, 14, 15 (8 of them)
    const auto llama = type_counts(realistic::llama_1b_shape());
    CHECK(llama.at(ggml_type::q6_k) == 2 * 8 + 1);  // attn_v, ffn_down; tied token_embd
    CHECK(llama.at(ggml_type::q4_k) == 16 * 7 - 2 * 8);
    CHECK(llama.at(ggml_type::f32) == 16 * 2 + 1 + 1);  // norms, output_norm, rope_freqs
    CHECK(llama.size() == 3);
    // ~800 MB: what a llama-3.2-1B Q4_K_M file's tensors weigh
    const double mb = double(realistic::expected_weight_bytes(realistic::llama_1b_shape())) / 1e6;
    CHECK(mb > 700);
    CHECK(mb < 900);

    // gemma 3 270M: the counts of Google's gemma-3-270m-q4_k_m.gguf (strata-inspect): q8_0 10,
    // q5_0 81, q4_K 27, q6_K 9, f32 109
    const auto gemma = type_counts(realistic::gemma3_270m_shape());
    CHECK(gemma.at(ggml_type::q8_0) == 10);
    CHECK(gemma.at(ggml_type::q5_0) == 81);
    CHECK(gemma.at(ggml_type::q4_k) == 27);
    CHECK(gemma.at(ggml_type::q6_k) == 9);
    CHECK(gemma.at(ggml_type::f32) == 109);

    // untied: the head is Q6_K, the embeddings Q4_K
    realistic::spec untied = realistic::llama_1b_shape();
    untied.tied = false;
    const auto ts = realistic::tensors(untied);
    CHECK(ts.front().name == "rope_freqs.weight");
    CHECK(ts[1].name == "token_embd.weight");
    CHECK(ts[1].type == ggml_type::q4_k);
    CHECK(ts.back().name == "output.weight");
    CHECK(ts.back().type == ggml_type::q6_k);

    // the tiny variants keep every type of their full shape
    for (const auto& full : {realistic::llama_1b_shape(), realistic::gemma3_270m_shape()}) {
        std::vector<ggml_type> a, b;
        for (const auto& [t, n] : type_counts(full)) a.push_back(t);
        for (const auto& [t, n] : type_counts(realistic::tiny(full))) b.push_back(t);
        CHECK(a == b);
    }
}

TEST_CASE("realistic models: the tiny shapes load, hold their values, and run sanely", "[engine]") {
    strata_test::seed::temp_dir dir;
    realistic::spec untied = realistic::tiny(realistic::llama_1b_shape());
    untied.tied = false;
    for (const auto& s : {realistic::tiny(realistic::llama_1b_shape()), untied, realistic::tiny(realistic::gemma3_270m_shape())}) {
        const std::string tag = s.arch_name() + (s.tied ? "" : "-untied");
        DYNAMIC_SECTION(tag) {
            const std::string path = dir.file(tag + "-tiny.gguf");
            realistic::write(s, path, 2);
            CHECK(std::filesystem::file_size(path) > realistic::expected_weight_bytes(s));
            const auto e = strata::cpu_engine::load(path, {.n_threads = 2, .prefault = false});
            check_loaded(e, s);
            check_values(e, s);
            CHECK_FALSE(e.tokenizer().encode("the quick brown fox", true, true).empty());
            run_forward(e, 16, 8);
            // a prompt longer than the tiny gemma's window of 8
            if (s.arch == realistic::family::gemma3) run_forward(e, 24, 2);

            // the bytes do not depend on the number of threads that wrote them (once is enough)
            if (s.arch == realistic::family::llama && s.tied) {
                const std::string again = dir.file(tag + "-tiny-1.gguf");
                realistic::write(s, again, 1);
                const auto f = strata::gguf::file::open(again);
                CHECK(std::ranges::equal(f.bytes(), e.file().bytes()));
            }
        }
    }
}

TEST_CASE("realistic models: the full llama 1B and gemma 270M shapes (STRATA_BIG_SYNTHETIC)", "[engine]") {
    const char* env = std::getenv("STRATA_BIG_SYNTHETIC");
    if (!env || !*env) {
        WARN("STRATA_BIG_SYNTHETIC not set: the full-size synthetic models are not written");
        return;
    }
    strata_test::seed::temp_dir tmp;
    const bool keep = std::filesystem::is_directory(env);
    for (const auto& s : {realistic::llama_1b_shape(), realistic::gemma3_270m_shape()}) {
        const std::string file = s.arch == realistic::family::llama ? "llama-1b-shape.gguf" : "gemma3-270m-shape.gguf";
        const std::string path = keep ? (std::filesystem::path(env) / file).string() : tmp.file(file);
        const auto t0 = std::chrono::steady_clock::now();
        realistic::write(s, path);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto size = std::filesystem::file_size(path);
        std::printf("timing: synthetic %s: %.1f MB written in %.1f s (%u threads)\n", file.c_str(), double(size) / 1e6,
                    secs, std::max(1u, std::thread::hardware_concurrency()));
        CHECK(size > realistic::expected_weight_bytes(s));
        const auto e = strata::cpu_engine::load(path, {.prefault = false});
        check_loaded(e, s);
        auto session = e.new_session({.n_ctx = 64});
        session.prefill(prompt_of(e, 4));
        check_logits(session.logits(), "prefill");
    }
}
