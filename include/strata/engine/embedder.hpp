// strata/engine/embedder.hpp — sentence embeddings from an encoder GGUF (bert, nomic-bert):
// texts in, one L2-normalised vector per text out, as Ollama's /api/embed answers.
//
//   auto emb = strata::cpu_embedder::load("all-MiniLM-L6-v2-q8_0.gguf");
//   std::vector<std::vector<float>> v = emb.embed({"first text", "second text"});
//
// Each text is tokenized with [CLS] ... [SEP]. The texts are packed back to back into passes of
// at most num_batch tokens, and each pass runs once through the model (one matmul per weight
// for all its texts; attention stays within each text). A text longer than num_ctx is cut to
// num_ctx tokens (its last kept token replaced by [SEP]) when truncate is set, else refused.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/encoder_attention.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/model/bert.hpp"
#include "strata/quant/formats.hpp"
#include "strata/tokenizer/from_gguf.hpp"
#include "strata/tokenizer/tokenizer.hpp"

STRATA_NAMESPACE_BEGIN

struct embed_options {
    int n_threads = 0;             // 0: one per hardware thread
    std::int64_t num_ctx = 0;      // Ollama's num_ctx: the longest input; 0 (or more): the model's context
    std::int64_t num_batch = 512;  // Ollama's num_batch: tokens per forward pass (raised to num_ctx)
    bool truncate = true;          // Ollama's truncate: cut inputs longer than num_ctx, else refuse them
    bool normalize = true;         // L2-normalise each vector (what /api/embed returns)
};

// What the last embed() call did, for benchmarks.
struct embed_stats {
    std::int64_t n_texts = 0, n_tokens = 0, n_passes = 0, n_truncated = 0;
};

template <class Formats = all_formats>
class basic_embedder {
public:
    static basic_embedder load(const std::string& path, embed_options opt = {}) {
        return basic_embedder(std::make_unique<state>(path, opt));
    }

    const model::encoder_hparams& hparams() const noexcept { return s_->hp; }
    const tokenizer::tokenizer& tokenizer() const noexcept { return s_->tok; }
    const gguf::file& file() const noexcept { return s_->file; }
    const cpu::backend& cpu() const noexcept { return s_->cpu; }
    std::int64_t n_embd() const noexcept { return s_->hp.n_embd; }
    std::int64_t num_ctx() const noexcept { return s_->n_ctx; }
    std::int64_t num_batch() const noexcept { return s_->n_batch; }
    const embed_stats& last_stats() const noexcept { return s_->stats; }

    // [CLS] text [SEP] (special tokens written in the text count, as in transformers and Ollama),
    // cut or refused by the options.
    std::vector<std::int32_t> tokenize(std::string_view text, std::size_t index = 0) const {
        std::vector<std::int32_t> ids = s_->tok.encode(text, true, true);
        (void)fit(ids, index);
        return ids;
    }

    std::vector<std::vector<float>> embed(std::initializer_list<std::string_view> texts) {
        return embed(std::span<const std::string_view>(texts.begin(), texts.size()));
    }
    std::vector<std::vector<float>> embed(std::span<const std::string> texts) {
        std::vector<std::string_view> v(texts.begin(), texts.end());
        return embed(std::span<const std::string_view>(v));
    }
    std::vector<std::vector<float>> embed(std::span<const std::string_view> texts) {
        std::vector<std::vector<std::int32_t>> ids;
        ids.reserve(texts.size());
        std::int64_t truncated = 0;
        for (std::size_t i = 0; i < texts.size(); ++i) {
            ids.push_back(s_->tok.encode(texts[i], true, true));
            truncated += fit(ids.back(), i);
        }
        auto out = embed_tokens(ids);
        s_->stats.n_truncated = truncated;
        return out;
    }

    // Token sequences as tokenize() makes them (each 1..num_ctx tokens).
    std::vector<std::vector<float>> embed_tokens(std::span<const std::vector<std::int32_t>> seqs) {
        state& s = *s_;
        const std::int64_t e = s.hp.n_embd;
        std::vector<std::vector<float>> out(seqs.size(), std::vector<float>(std::size_t(e)));
        s.stats = {};
        s.stats.n_texts = std::int64_t(seqs.size());
        std::vector<std::int32_t>& tokens = s.tokens;  // the pass being gathered (kept across calls)
        std::vector<cpu::sequence_span>& spans = s.spans;
        std::vector<float>& pooled = s.pooled;
        tokens.clear();
        spans.clear();
        std::size_t first = 0;  // first sequence of the pass being gathered
        const auto run = [&](std::size_t end) {
            if (spans.empty()) return;
            pooled.resize(spans.size() * std::size_t(e));
            s.enc.forward(s.cpu, tokens, spans, s.ws, pooled.data());
            for (std::size_t j = 0; j < spans.size(); ++j) finish(pooled.data() + j * std::size_t(e), out[first + j]);
            s.stats.n_tokens += std::int64_t(tokens.size());
            ++s.stats.n_passes;
            tokens.clear();
            spans.clear();
            first = end;
        };
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            const auto len = std::int64_t(seqs[i].size());
            if (len == 0) STRATA_THROW(errc::argument, "embed: input " + std::to_string(i) + " has no tokens");
            if (len > s.n_ctx)
                STRATA_THROW(errc::argument, "embed: input " + std::to_string(i) + " has " + std::to_string(len) +
                                                 " tokens, more than num_ctx " + std::to_string(s.n_ctx));
            if (std::int64_t(tokens.size()) + len > s.n_batch) run(i);
            spans.push_back({std::int64_t(tokens.size()), len});
            tokens.insert(tokens.end(), seqs[i].begin(), seqs[i].end());
        }
        run(seqs.size());
        return out;
    }

private:
    struct state {
        gguf::file file;
        model::encoder_hparams hp;
        model::encoder_weights w;
        tokenizer::tokenizer tok;
        cpu::backend cpu;
        model::encoder<Formats> enc;
        embed_options opt;
        std::int64_t n_ctx, n_batch;
        model::encoder_workspace ws;
        std::vector<std::int32_t> tokens;  // one pass: (n_batch) token ids, spans, pooled vectors
        std::vector<cpu::sequence_span> spans;
        std::vector<float> pooled;
        embed_stats stats;

        state(const std::string& path, embed_options o)
            : file(gguf::file::open(path)),
              hp(model::load_encoder_hparams(file)),
              w(model::bind_encoder_weights(file, hp)),
              tok(load_tokenizer(file)),
              cpu(cpu::backend_options{o.n_threads, {}}),
              enc(hp, w),
              opt(o),
              n_ctx(o.num_ctx > 0 ? std::min<std::int64_t>(o.num_ctx, hp.n_ctx_train) : hp.n_ctx_train),
              n_batch(std::max(o.num_batch, n_ctx)),
              ws(model::make_encoder_workspace(hp, w, n_batch, n_ctx, cpu.n_threads())) {
            if (o.num_batch <= 0) STRATA_THROW(errc::argument, "embed: num_batch must be positive", path);
            for (const auto& t : file.tensors()) Formats::dispatch(t.type, t.name, [](auto) {});
            if (tok.size() != hp.n_vocab)
                STRATA_THROW(errc::format, "the tokenizer has " + std::to_string(tok.size()) + " tokens, token_embd " +
                                               std::to_string(hp.n_vocab) + " rows", path);
        }

        static tokenizer::tokenizer load_tokenizer(const gguf::file& f) {
            tokenizer::vocab v = tokenizer::load_vocab(f);
            if (v.model != tokenizer::model_kind::bert)
                STRATA_THROW(errc::unsupported, "embed: tokenizer model '" + std::string(tokenizer::to_string(v.model)) +
                                                    "' (only bert WordPiece encoders are supported)", f.path());
            return tokenizer::tokenizer(std::move(v));
        }
    };

    explicit basic_embedder(std::unique_ptr<state> s) : s_(std::move(s)) {}

    // Cuts ids to num_ctx (or refuses them); true when it cut.
    bool fit(std::vector<std::int32_t>& ids, std::size_t index) const {
        const std::int64_t n = s_->n_ctx;
        if (std::int64_t(ids.size()) <= n) return false;
        if (!s_->opt.truncate)
            STRATA_THROW(errc::argument, "embed: input " + std::to_string(index) + " has " + std::to_string(ids.size()) +
                                             " tokens, more than num_ctx " + std::to_string(n) + " (truncate is off)");
        const std::int32_t sep = s_->tok.vocabulary().sep;
        ids.resize(std::size_t(n));
        if (sep != tokenizer::null_token) ids.back() = sep;
        return true;
    }

    void finish(const float* pooled, std::vector<float>& y) const {
        const std::int64_t e = s_->hp.n_embd;
        double ss = 0.0;
        for (std::int64_t d = 0; d < e; ++d) ss += double(pooled[d]) * double(pooled[d]);
        const double inv = s_->opt.normalize && ss > 0.0 ? 1.0 / std::sqrt(ss) : 1.0;
        for (std::int64_t d = 0; d < e; ++d) y[std::size_t(d)] = float(double(pooled[d]) * inv);
    }

    std::unique_ptr<state> s_;
};

using cpu_embedder = basic_embedder<>;

// cos(a, b) of two vectors of the same length (the --similarity table, tests).
inline double cosine(std::span<const float> a, std::span<const float> b) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        ab += double(a[i]) * double(b[i]);
        aa += double(a[i]) * double(a[i]);
        bb += double(b[i]) * double(b[i]);
    }
    return aa > 0.0 && bb > 0.0 ? ab / std::sqrt(aa * bb) : 0.0;
}

STRATA_NAMESPACE_END
