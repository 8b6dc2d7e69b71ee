// The encoder forward (bert and nomic-bert) on tiny synthetic models that this test writes with
// gguf::writer, against a straightforward double-precision implementation written here from
// the definitions (BertModel; nomic-bert's rotary, fused QKV and SwiGLU), for every pooling and
// a batch of texts of different lengths in one call; then the load-time errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "strata/engine/embedder.hpp"
#include "strata/gguf/writer.hpp"

namespace {

using strata::errc;
using strata::ggml_type;

constexpr std::int64_t n_vocab = 40, n_embd = 32, n_head = 4, head_dim = 8, n_ff = 64, n_layer = 2, n_ctx = 16;

struct mat {
    std::int64_t rows = 0, cols = 0;  // cols == 0: a vector of rows values
    std::vector<float> v;
};

struct synthetic {
    std::string arch = "bert";
    int pooling = 1;
    bool causal = false;
    std::string drop_key;       // metadata key left out
    std::string bad_tensor;     // tensor written with one column too many
    std::map<std::string, mat> t;

    bool bert() const { return arch == "bert"; }

    void make(std::uint32_t seed) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        const auto add = [&](const std::string& name, std::int64_t rows, std::int64_t cols, float amp, float base = 0.0f) {
            mat m{rows, cols, {}};
            m.v.resize(std::size_t(rows * (cols ? cols : 1)));
            for (float& x : m.v) x = base + amp * u(rng);
            t[name] = std::move(m);
        };
        add("token_embd.weight", n_vocab, n_embd, 1.0f);
        if (bert()) add("position_embd.weight", n_ctx, n_embd, 0.5f);
        add("token_types.weight", 2, n_embd, 0.5f);
        add("token_embd_norm.weight", n_embd, 0, 0.2f, 1.0f);
        add("token_embd_norm.bias", n_embd, 0, 0.1f);
        for (int il = 0; il < n_layer; ++il) {
            const std::string p = "blk." + std::to_string(il) + ".";
            if (bert()) {
                for (const char* w : {"attn_q", "attn_k", "attn_v"}) {
                    add(p + w + ".weight", n_embd, n_embd, 0.4f);
                    add(p + w + ".bias", n_embd, 0, 0.1f);
                }
                add(p + "ffn_up.bias", n_ff, 0, 0.1f);
                add(p + "ffn_down.bias", n_embd, 0, 0.1f);
                add(p + "attn_output.bias", n_embd, 0, 0.1f);
            } else {
                add(p + "attn_qkv.weight", 3 * n_embd, n_embd, 0.4f);
                add(p + "ffn_gate.weight", n_ff, n_embd, 0.3f);
            }
            add(p + "attn_output.weight", n_embd, n_embd, 0.3f);
            add(p + "attn_output_norm.weight", n_embd, 0, 0.2f, 1.0f);
            add(p + "attn_output_norm.bias", n_embd, 0, 0.1f);
            add(p + "ffn_up.weight", n_ff, n_embd, 0.3f);
            add(p + "ffn_down.weight", n_embd, n_ff, 0.2f);
            add(p + "layer_output_norm.weight", n_embd, 0, 0.2f, 1.0f);
            add(p + "layer_output_norm.bias", n_embd, 0, 0.1f);
        }
    }

    std::string write(const std::string& path) const {
        strata::gguf::writer w;
        const auto set = [&](const std::string& key, auto value) {
            if (key != drop_key) w.set(key, value);
        };
        set("general.architecture", arch);
        set(arch + ".context_length", std::uint32_t(n_ctx));
        set(arch + ".embedding_length", std::uint32_t(n_embd));
        set(arch + ".feed_forward_length", std::uint32_t(n_ff));
        set(arch + ".block_count", std::uint32_t(n_layer));
        set(arch + ".attention.head_count", std::uint32_t(n_head));
        set(arch + ".attention.layer_norm_epsilon", 1e-12f);
        set(arch + ".attention.causal", causal);
        set(arch + ".pooling_type", std::uint32_t(pooling));
        if (!bert()) set(arch + ".rope.freq_base", 1000.0f);
        std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        while (std::int64_t(tokens.size()) < n_vocab) tokens.push_back("\xE2\x96\x81w" + std::to_string(tokens.size()));
        std::vector<std::int32_t> types(tokens.size(), 1);
        for (int i = 0; i < 5; ++i) types[std::size_t(i)] = 3;
        set("tokenizer.ggml.model", "bert");
        w.set_array("tokenizer.ggml.tokens", tokens);
        w.set_array("tokenizer.ggml.token_type", types);
        set("tokenizer.ggml.token_type_count", std::uint32_t(2));
        set("tokenizer.ggml.bos_token_id", std::uint32_t(2));
        set("tokenizer.ggml.seperator_token_id", std::uint32_t(3));
        set("tokenizer.ggml.unknown_token_id", std::uint32_t(1));
        set("tokenizer.ggml.padding_token_id", std::uint32_t(0));
        for (const auto& [name, m] : t) {
            std::vector<float> v = m.v;
            std::vector<std::uint64_t> dims = m.cols ? std::vector<std::uint64_t>{std::uint64_t(m.cols), std::uint64_t(m.rows)}
                                                     : std::vector<std::uint64_t>{std::uint64_t(m.rows)};
            if (name == bad_tensor) {
                dims[0] += 1;
                v.resize(v.size() + std::size_t(m.cols ? m.rows : 1));
            }
            w.add_tensor(name, ggml_type::f32, dims, std::as_bytes(std::span(v)));
        }
        w.write(path);
        return path;
    }

    // ---- the reference, in double ------------------------------------------------------------

    const mat& at(const std::string& name) const { return t.at(name); }
    bool has(const std::string& name) const { return t.count(name) != 0; }

    // y = W x (+ b): W rows x cols
    std::vector<double> linear(const std::string& w, const std::string& b, const std::vector<double>& x) const {
        const mat& W = at(w);
        std::vector<double> y(static_cast<std::size_t>(W.rows));
        for (std::int64_t r = 0; r < W.rows; ++r) {
            double s = has(b) ? double(at(b).v[std::size_t(r)]) : 0.0;
            for (std::int64_t c = 0; c < W.cols; ++c) s += double(W.v[std::size_t(r * W.cols + c)]) * x[std::size_t(c)];
            y[std::size_t(r)] = s;
        }
        return y;
    }

    void layer_norm(std::vector<double>& x, const std::string& name) const {
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= double(x.size());
        for (double v : x) var += (v - mean) * (v - mean);
        var /= double(x.size());
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = (x[i] - mean) / std::sqrt(var + 1e-12) * at(name + ".weight").v[i] + at(name + ".bias").v[i];
    }

    static void rope(double* v, std::int64_t pos) {  // NeoX pairs (i, i + d/2), base 1000
        for (std::int64_t i = 0; i < head_dim / 2; ++i) {
            const double theta = double(pos) * std::pow(1000.0, -2.0 * double(i) / double(head_dim));
            const double a = v[i], b = v[i + head_dim / 2];
            v[i] = a * std::cos(theta) - b * std::sin(theta);
            v[i + head_dim / 2] = a * std::sin(theta) + b * std::cos(theta);
        }
    }

    std::vector<double> embed(const std::vector<std::int32_t>& ids) const {
        const auto n = std::int64_t(ids.size());
        std::vector<std::vector<double>> x(static_cast<std::size_t>(n), std::vector<double>(n_embd));
        for (std::int64_t p = 0; p < n; ++p) {
            for (std::int64_t d = 0; d < n_embd; ++d) {
                double v = at("token_embd.weight").v[std::size_t(ids[std::size_t(p)] * n_embd + d)];
                if (bert()) v += at("position_embd.weight").v[std::size_t(p * n_embd + d)];
                v += at("token_types.weight").v[std::size_t(d)];
                x[std::size_t(p)][std::size_t(d)] = v;
            }
            layer_norm(x[std::size_t(p)], "token_embd_norm");
        }
        for (int il = 0; il < n_layer; ++il) {
            const std::string b = "blk." + std::to_string(il) + ".";
            const auto un = static_cast<std::size_t>(n);
            std::vector<std::vector<double>> q(un), k(un), v(un);
            for (std::int64_t p = 0; p < n; ++p) {
                const auto& xp = x[std::size_t(p)];
                if (bert()) {
                    q[std::size_t(p)] = linear(b + "attn_q.weight", b + "attn_q.bias", xp);
                    k[std::size_t(p)] = linear(b + "attn_k.weight", b + "attn_k.bias", xp);
                    v[std::size_t(p)] = linear(b + "attn_v.weight", b + "attn_v.bias", xp);
                } else {
                    const auto qkv = linear(b + "attn_qkv.weight", "", xp);
                    q[std::size_t(p)].assign(qkv.begin(), qkv.begin() + n_embd);
                    k[std::size_t(p)].assign(qkv.begin() + n_embd, qkv.begin() + 2 * n_embd);
                    v[std::size_t(p)].assign(qkv.begin() + 2 * n_embd, qkv.end());
                    for (std::int64_t h = 0; h < n_head; ++h) {
                        rope(q[std::size_t(p)].data() + h * head_dim, p);
                        rope(k[std::size_t(p)].data() + h * head_dim, p);
                    }
                }
            }
            for (std::int64_t p = 0; p < n; ++p) {
                std::vector<double> att(n_embd, 0.0);
                for (std::int64_t h = 0; h < n_head; ++h) {
                    std::vector<double> s(static_cast<std::size_t>(n));
                    double mx = -1e300, sum = 0;
                    for (std::int64_t j = 0; j < n; ++j) {
                        double d = 0;
                        for (std::int64_t i = 0; i < head_dim; ++i)
                            d += q[std::size_t(p)][std::size_t(h * head_dim + i)] * k[std::size_t(j)][std::size_t(h * head_dim + i)];
                        s[std::size_t(j)] = d / std::sqrt(double(head_dim));
                        mx = std::max(mx, s[std::size_t(j)]);
                    }
                    for (double& e : s) sum += (e = std::exp(e - mx));
                    for (std::int64_t j = 0; j < n; ++j)
                        for (std::int64_t i = 0; i < head_dim; ++i)
                            att[std::size_t(h * head_dim + i)] += s[std::size_t(j)] / sum * v[std::size_t(j)][std::size_t(h * head_dim + i)];
                }
                const auto o = linear(b + "attn_output.weight", b + "attn_output.bias", att);
                for (std::int64_t d = 0; d < n_embd; ++d) x[std::size_t(p)][std::size_t(d)] += o[std::size_t(d)];
                layer_norm(x[std::size_t(p)], b + "attn_output_norm");
            }
            for (std::int64_t p = 0; p < n; ++p) {
                auto up = linear(b + "ffn_up.weight", b + "ffn_up.bias", x[std::size_t(p)]);
                if (bert()) {
                    for (double& e : up) e = 0.5 * e * (1.0 + std::erf(e / std::sqrt(2.0)));
                } else {
                    const auto g = linear(b + "ffn_gate.weight", "", x[std::size_t(p)]);
                    for (std::size_t i = 0; i < up.size(); ++i) up[i] *= g[i] / (1.0 + std::exp(-g[i]));
                }
                const auto f = linear(b + "ffn_down.weight", b + "ffn_down.bias", up);
                for (std::int64_t d = 0; d < n_embd; ++d) x[std::size_t(p)][std::size_t(d)] += f[std::size_t(d)];
                layer_norm(x[std::size_t(p)], b + "layer_output_norm");
            }
        }
        std::vector<double> y(n_embd, 0.0);
        if (pooling == 2) y = x.front();
        else if (pooling == 3) y = x.back();
        else
            for (const auto& row : x)
                for (std::int64_t d = 0; d < n_embd; ++d) y[std::size_t(d)] += row[std::size_t(d)] / double(n);
        double ss = 0;
        for (double e : y) ss += e * e;
        for (double& e : y) e /= std::sqrt(ss);
        return y;
    }
};

std::string temp_path(const std::string& tag) {
    return (std::filesystem::temp_directory_path() / ("strata-embed-" + tag + "-" + std::to_string(std::random_device{}()) + ".gguf")).string();
}

struct removed {
    std::string path;
    ~removed() { std::filesystem::remove(path); }
};

errc load_error(const synthetic& s, std::string* msg) {
    const removed f{s.write(temp_path("bad"))};
    try {
        (void)strata::cpu_embedder::load(f.path);
    } catch (const strata::error& e) {
        *msg = e.what();
        return e.category();
    }
    return errc::internal;  // loaded: not what the caller expects
}

}  // namespace

TEST_CASE("encoder forward equals a double-precision reference", "[embed][model]") {
    const std::string arch = GENERATE(std::string("bert"), std::string("nomic-bert"));
    const int pooling = GENERATE(1, 2, 3);
    const std::uint32_t seed = std::random_device{}();
    INFO(arch << ", pooling " << pooling << ", seed " << seed);
    synthetic s;
    s.arch = arch;
    s.pooling = pooling;
    s.make(seed);
    const removed f{s.write(temp_path(arch))};
    auto emb = strata::cpu_embedder::load(f.path, {.n_threads = 2, .num_batch = 20});
    CHECK(emb.hparams().pooling == strata::model::pooling(pooling));
    CHECK(emb.hparams().arch == (arch == "bert" ? strata::model::encoder_arch::bert : strata::model::encoder_arch::nomic_bert));
    // lengths 1 .. n_ctx, several per pass, one across a pass boundary
    const std::vector<std::vector<std::int32_t>> seqs = {
        {2, 3}, {2, 7, 8, 9, 3}, {5}, {2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 3}, {2, 39, 38, 3}};
    const auto got = emb.embed_tokens(seqs);
    CHECK(emb.last_stats().n_passes == 2);
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        const auto want = s.embed(seqs[i]);
        double worst = 0;
        for (std::size_t d = 0; d < want.size(); ++d) worst = std::max(worst, std::abs(double(got[i][d]) - want[d]));
        INFO("sequence " << i << " of " << seqs[i].size() << " tokens: max |diff| " << worst);
        CHECK(worst < 2e-5);
    }
    // texts go through the WordPiece tokenizer of the file: [CLS] w7 w8 [SEP]
    CHECK(emb.tokenize("w7 W8") == std::vector<std::int32_t>{2, 7, 8, 3});
    const auto by_text = emb.embed({"w7 w8"});
    const auto by_ids = emb.embed_tokens(std::vector<std::vector<std::int32_t>>{{2, 7, 8, 3}});
    CHECK(strata::cosine(by_text[0], by_ids[0]) > 0.9999999);
}

TEST_CASE("encoder files with missing keys or wrong shapes are refused with a clear error", "[embed][model]") {
    std::string msg;
    synthetic s;
    s.make(1);
    s.drop_key = "bert.embedding_length";
    CHECK(load_error(s, &msg) == errc::missing);
    CHECK_THAT(msg, Catch::Contains("bert.embedding_length"));
    s.drop_key = "bert.attention.layer_norm_epsilon";
    CHECK(load_error(s, &msg) == errc::missing);
    CHECK_THAT(msg, Catch::Contains("layer_norm_epsilon"));
    s.drop_key.clear();
    s.bad_tensor = "blk.1.ffn_down.weight";
    CHECK(load_error(s, &msg) == errc::format);
    CHECK_THAT(msg, Catch::Contains("blk.1.ffn_down.weight") && Catch::Contains("expected [64, 32]"));
    s.bad_tensor.clear();
    s.t.erase("blk.0.attn_k.bias");
    CHECK(load_error(s, &msg) == errc::missing);
    CHECK_THAT(msg, Catch::Contains("blk.0.attn_k.bias"));
    s.make(1);
    s.causal = true;
    CHECK(load_error(s, &msg) == errc::unsupported);
    CHECK_THAT(msg, Catch::Contains("causal"));
    s.causal = false;
    s.pooling = 7;
    CHECK(load_error(s, &msg) == errc::unsupported);
    CHECK_THAT(msg, Catch::Contains("pooling_type"));
    s.pooling = 1;
    s.arch = "llama";
    CHECK(load_error(s, &msg) == errc::unsupported);
    CHECK_THAT(msg, Catch::Contains("not an encoder"));
}

TEST_CASE("gelu_erf_row (table of Phi) stays within 1e-6 of x Phi(x) with erf", "[embed][cpu]") {
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.000977f) x.push_back(v);
    for (float v : {-8.0f, -7.9999f, 7.9999f, 8.0f, 100.0f, -100.0f, 0.0f, -0.0f}) x.push_back(v);
    std::vector<float> y = x;
    strata::cpu::gelu_erf_row(y.data(), std::int64_t(y.size()));
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double want = 0.5 * double(x[i]) * (1.0 + std::erf(double(x[i]) / std::sqrt(2.0)));
        worst = std::max(worst, std::abs(double(y[i]) - want));
    }
    INFO("max |diff| " << worst);
    CHECK(worst < 1e-6);
    CHECK(worst > 0.0);  // it is an approximation: the check above is not vacuous
}
