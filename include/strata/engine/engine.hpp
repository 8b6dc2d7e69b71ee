// strata/engine/engine.hpp — a loaded model (file, weights, tokenizer, backend) and the
// sessions that run it.
//
//   auto eng = strata::cpu_engine::load("model.gguf");
//   auto s = eng.new_session({.n_ctx = 2048});
//   s.prefill(eng.tokenizer().encode("The capital of France is", true, true));
//   for (int i = 0; i < 32; ++i) { auto t = s.sample(); if (eng.tokenizer().is_eog(t)) break; s.decode(t); }
//
// The engine is immutable once loaded and may serve several sessions one after another; a
// session holds its KV cache, activations, sampler and token history.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "strata/backend/cpu/backend.hpp"
#include "strata/chat/template.hpp"
#include "strata/core/arena.hpp"
#include "strata/core/error.hpp"
#include "strata/engine/placement.hpp"
#include "strata/gguf/file.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/transformer.hpp"
#include "strata/model/weights.hpp"
#include "strata/quant/formats.hpp"
#include "strata/sample/chain.hpp"
#include "strata/tokenizer/from_gguf.hpp"
#include "strata/tokenizer/tokenizer.hpp"

STRATA_NAMESPACE_BEGIN

// The devices layers may be placed on, as compile-time tags. The CPU (and the simulated device
// of split execution, a second CPU backend) exists yet; every layer's placement is recorded
// (placement.hpp), so later backends slot in per layer.
struct cpu_device {};
template <class... Devices>
struct backends {};

struct load_options {
    int n_threads = 0;  // 0: one per hardware thread
    // Touch every weight page once while loading (so the first token does not pay for page
    // faults), reporting progress in [0, 1]. Off: weights are read on first use.
    bool prefault = true;
    std::function<void(double)> progress;
    // Where each layer runs (default: all on the host CPU).
    strata::placement placement;
};

// What one device holds, measured from the allocations themselves (not from a formula).
struct measured_usage {
    std::string name;
    std::size_t weights_bytes = 0;  // host: the mapped bytes of its tensors; sim: copied into its arena
    std::size_t kv_bytes = 0;
    std::size_t compute_bytes = 0;  // activations and scratch
    std::size_t total_bytes() const noexcept { return weights_bytes + kv_bytes + compute_bytes; }
};

struct session_options {
    std::int64_t n_ctx = 2048;   // Ollama's num_ctx
    std::int64_t n_batch = 512;  // Ollama's num_batch: prompt tokens per forward pass
    ggml_type kv_type = ggml_type::f16;  // the KV cache: f16 or q8_0 (half the memory)
    // When the context is full: an error (the default), or a shift that keeps the first
    // num_keep tokens (and a leading BOS), drops the older half of the rest and goes on.
    bool context_shift = false;
    std::int64_t num_keep = 0;  // Ollama's num_keep
    sample::params sampling = sample::ollama_defaults();
};

template <class Formats, class Backends, class Sampler>
class basic_session;

template <class Formats = all_formats, class Backends = backends<cpu_device>, class Sampler = sample::default_chain>
class basic_engine {
public:
    using session = basic_session<Formats, Backends, Sampler>;

    static basic_engine load(const std::string& path, load_options opt = {}) {
        return basic_engine(std::make_unique<state>(path, std::move(opt)));
    }

    const model::hparams& hparams() const noexcept { return s_->hp; }
    const model::weights& weights() const noexcept { return s_->w; }
    const tokenizer::tokenizer& tokenizer() const noexcept { return s_->tok; }
    const gguf::file& file() const noexcept { return s_->file; }
    const cpu::backend& cpu() const noexcept { return s_->cpu; }
    const strata::placement& placement() const noexcept { return s_->place; }
    // The weights each device holds (the sessions add their KV cache and activations).
    std::vector<measured_usage> weights_usage() const {
        std::vector<measured_usage> u;
        for (const auto& d : s_->devices) u.push_back({d.spec.name, d.weights_bytes, 0, 0});
        return u;
    }
    // The chat format: from tokenizer.chat_template when the file has one Strata knows, else
    // from the vocabulary's turn markers (base models ship without a template); nothing when
    // neither tells (use raw prompts).
    std::optional<chat::format> chat_format() const noexcept { return s_->chat; }

    session new_session(const session_options& opt = {}) const { return session(*this, opt); }

private:
    struct state {
        gguf::file file;
        model::hparams hp;
        model::weights w;
        tokenizer::tokenizer tok;
        cpu::backend cpu;
        std::optional<chat::format> chat;
        strata::placement place;
        struct device {
            placement::device spec;
            std::unique_ptr<cpu::backend> own;  // sim: its own pool; host: null (the engine's cpu)
            std::unique_ptr<arena> mem;         // sim: its memory
            std::size_t weights_bytes = 0;
        };
        std::vector<device> devices;
        model::transformer<Formats> tf;

        state(const std::string& path, load_options opt)
            : file(gguf::file::open(path)),
              hp(model::load_hparams(file)),
              w(model::bind_weights(file, hp)),
              tok(tokenizer::load_vocab(file)),
              cpu(cpu::backend_options{opt.n_threads, {}}),
              chat(detect_chat(file, tok)),
              place(std::move(opt.placement)),
              tf(hp, w) {
            check_formats();
            place.check(hp.n_layer);
            if (opt.prefault) prefault(opt.progress);
            place_weights();
        }

        const cpu::backend& backend_of(int d) const noexcept { return devices[std::size_t(d)].own ? *devices[std::size_t(d)].own : cpu; }

        // Each sim device gets its arena and a copy of its layers' weights (what an upload to a
        // GPU does); host tensors stay in the memory map.
        void place_weights() {
            for (const auto& spec : place.devices) {
                device d{spec, nullptr, nullptr, 0};
                if (spec.kind == plan::device_kind::sim) {
                    d.own = std::make_unique<cpu::backend>(cpu::backend_options{spec.n_threads > 0 ? spec.n_threads : cpu.n_threads(), cpu.level()});
                    d.mem = std::make_unique<arena>(spec.name, spec.memory_bytes);
                }
                devices.push_back(std::move(d));
            }
            auto put = [&](model::tensor& t, int dev) {
                if (!t) return;
                const std::size_t bytes = model::tensor_bytes(t);
                device& d = devices[std::size_t(dev)];
                if (d.mem) {
                    auto mem = d.mem->take(bytes, t.info->name);
                    std::memcpy(mem.data(), t.data, bytes);
                    t.data = mem.data();
                }
                d.weights_bytes += d.mem ? arena::padded(bytes) : bytes;
            };
            put(w.token_embd, 0);
            for (std::uint32_t il = 0; il < hp.n_layer; ++il)
                for (model::tensor* t : model::tensors_of(w.layers[il])) put(*t, place.device_of_layer(il));
            put(w.output_norm, place.output_device);
            // a tied head shares token_embd's bytes on the host; elsewhere it is a copy
            if (w.output.info != w.token_embd.info || place.output_device != 0) put(w.output, place.output_device);
            put(w.rope_freqs, 0);  // read by every layer: a few bytes, kept on the host
        }

        // Every tensor type must be compiled in: say so at load, not at the first token.
        void check_formats() const {
            for (const auto& t : file.tensors())
                Formats::dispatch(t.type, t.name, [](auto) {});
        }

        void prefault(const std::function<void(double)>& progress) const {
            const auto bytes = file.bytes();
            const std::size_t begin = file.data_offset(), end = bytes.size(), page = 4096;
            volatile std::uint8_t sink = 0;
            const std::size_t step = std::size_t(64) << 20;  // report every 64 MiB
            for (std::size_t at = begin; at < end;) {
                const std::size_t stop = std::min(end, at + step);
                for (std::size_t p = at; p < stop; p += page) sink = sink ^ std::to_integer<std::uint8_t>(bytes[p]);
                at = stop;
                if (progress) progress(double(at - begin) / double(end - begin));
            }
            if (progress && begin >= end) progress(1.0);
        }

        static std::optional<chat::format> detect_chat(const gguf::file& f, const tokenizer::tokenizer& tok) {
            if (const auto* v = f.find("tokenizer.chat_template"); v && v->template as<std::string_view>()) {
                try {
                    return chat::detect(*v->template as<std::string_view>());
                } catch (const error&) {
                    // an unknown template: fall through to the markers
                }
            }
            auto has = [&](std::string_view t) { return tok.find(t) >= 0; };
            if (has("<start_of_turn>") && has("<end_of_turn>")) return chat::format::gemma;
            if (has("<|start_header_id|>") && has("<|eot_id|>")) return chat::format::llama3;
            if (has("<|im_start|>") && has("<|im_end|>")) return chat::format::chatml;
            if (has("<|assistant|>") && has("<|end|>")) return chat::format::phi3;
            return std::nullopt;
        }
    };

    explicit basic_engine(std::unique_ptr<state> s) : s_(std::move(s)) {}
    friend session;
    std::unique_ptr<state> s_;  // stable address: sessions and the transformer refer into it
};

// One conversation: KV cache, position, activations, sampler, the tokens seen so far.
template <class Formats, class Backends, class Sampler>
class basic_session {
public:
    using engine = basic_engine<Formats, Backends, Sampler>;
    using stage = model::cpu_stage<Formats>;

    basic_session(const engine& e, const session_options& opt)
        : e_(&e), opt_(checked(opt)), arenas_(make_arenas(e)),
          kv_(e.hparams(), opt_.n_ctx, opt_.kv_type, kv_alloc()),
          sampler_(opt_.sampling) {
        const auto& st = *e.s_;
        for (std::size_t d = 0; d < st.devices.size(); ++d) {
            ws_.push_back(model::make_workspace(st.hp, st.w, opt_.n_batch, opt_.n_ctx, st.backend_of(int(d)).n_threads()));
            if (arenas_[d]) arenas_[d]->charge(model::allocated_bytes(ws_.back()), "activations");
        }
        for (std::size_t d = 0; d < st.devices.size(); ++d) stages_.emplace_back(st.backend_of(int(d)), ws_[d]);
    }

    std::int64_t position() const noexcept { return static_cast<std::int64_t>(tokens_.size()); }
    std::int64_t n_ctx() const noexcept { return opt_.n_ctx; }
    bool context_shift() const noexcept { return opt_.context_shift; }
    const std::vector<std::int32_t>& tokens() const noexcept { return tokens_; }

    // Feeds tokens (a prompt) in batches of n_batch; afterwards logits() are the last token's.
    // Tokens beyond the context are an error, or shift the window when context_shift is on.
    void prefill(std::span<const std::int32_t> tokens) {
        if (tokens.empty()) return;
        if (!opt_.context_shift && position() + std::int64_t(tokens.size()) > opt_.n_ctx)
            STRATA_THROW(errc::argument, "prompt of " + std::to_string(tokens.size()) + " tokens at position " +
                                             std::to_string(position()) + " does not fit the context of " +
                                             std::to_string(opt_.n_ctx) + " (num_ctx; or enable the context shift with num_keep)");
        for (std::size_t at = 0; at < tokens.size(); at += std::size_t(opt_.n_batch)) {
            const auto batch = tokens.subspan(at, std::min<std::size_t>(std::size_t(opt_.n_batch), tokens.size() - at));
            if (position() + std::int64_t(batch.size()) > opt_.n_ctx) shift_context(std::int64_t(batch.size()));
            forward(batch);
        }
        has_logits_ = true;
    }

    // One generated token into the cache.
    void decode(std::int32_t token) {
        const std::int32_t t[1] = {token};
        prefill(t);
    }

    // The last token's logits (n_vocab).
    std::span<const float> logits() const {
        if (!has_logits_) STRATA_THROW(errc::argument, "no logits yet: prefill a prompt first");
        return ws_[std::size_t(e_->placement().output_device)].logits;
    }

    // The next token by the sampler chain, recorded in the penalty window.
    std::int32_t sample() {
        const std::int32_t t = sampler_.sample(logits());
        sampler_.accept(t);
        return t;
    }

    Sampler& sampler() noexcept { return sampler_; }

    // Back to an empty context (the cache memory is kept).
    void reset() {
        tokens_.clear();
        has_logits_ = false;
        sampler_.reset();
    }

    // Keeps the first n tokens: later positions are overwritten by what comes next. The logits
    // are gone until the next prefill.
    void rewind(std::int64_t n) {
        if (n < 0 || n > position())
            STRATA_THROW(errc::argument, "rewind to " + std::to_string(n) + " of " + std::to_string(position()) + " tokens");
        tokens_.resize(static_cast<std::size_t>(n));
        has_logits_ = false;
    }

    std::size_t kv_bytes() const noexcept { return kv_.bytes(); }
    ggml_type kv_type() const noexcept { return kv_.type; }
    // What each device holds for this engine and session, measured from the allocations: its
    // weights, the KV cache of its layers, its activations.
    std::vector<measured_usage> usage() const {
        auto u = e_->weights_usage();
        for (std::uint32_t il = 0; il < kv_.layers.size(); ++il) {
            const auto& L = kv_.layers[il];
            u[std::size_t(e_->placement().device_of_layer(il))].kv_bytes += L.k.size() + L.v.size();
        }
        for (std::size_t d = 0; d < ws_.size(); ++d) u[d].compute_bytes = model::allocated_bytes(ws_[d]);
        return u;
    }
    // How many times the window has shifted.
    std::int64_t shifts() const noexcept { return shifts_; }

private:
    // A session's part of each sim device: what the engine's weights left of its capacity.
    static std::vector<std::unique_ptr<arena>> make_arenas(const engine& e) {
        std::vector<std::unique_ptr<arena>> a;
        for (const auto& d : e.s_->devices)
            a.push_back(d.mem ? std::make_unique<arena>(d.spec.name, d.mem->capacity() - d.mem->used()) : nullptr);
        return a;
    }

    model::kv_allocator kv_alloc() {
        return [this](std::uint32_t il, std::size_t bytes) -> std::span<std::byte> {
            auto& a = arenas_[std::size_t(e_->placement().device_of_layer(il))];
            if (!a) return {};
            auto mem = a->take(bytes, "KV cache of layer " + std::to_string(il));
            std::fill(mem.begin(), mem.end(), std::byte{0});
            return mem;
        };
    }

    void forward(std::span<const std::int32_t> batch) {
        const auto& p = e_->placement();
        e_->s_->tf.forward(std::span<stage>(stages_), p.layer_device, p.output_device, batch, position(), kv_);
        tokens_.insert(tokens_.end(), batch.begin(), batch.end());
    }

    // Makes room for `need` more tokens: keeps the first num_keep tokens (a leading BOS is kept
    // beyond them, as llama.cpp does), drops the older half of the rest (more if `need` asks),
    // and recomputes the kept window at its new positions. Recomputing instead of re-rotating
    // the cached keys (llama.cpp's shift) costs one prefill of half the context per n_ctx / 2
    // tokens and leaves the cache exactly as a fresh prefill of the window would.
    void shift_context(std::int64_t need) {
        const auto& tok = e_->tokenizer();
        const std::int64_t bos = !tokens_.empty() && tokens_.front() == tok.bos() ? 1 : 0;
        const std::int64_t keep = std::min(position(), std::max<std::int64_t>(opt_.num_keep, 0) + bos);
        if (keep + need > opt_.n_ctx)
            STRATA_THROW(errc::argument, "context shift: num_keep " + std::to_string(opt_.num_keep) + " leaves no room for " +
                                             std::to_string(need) + " tokens in the context of " + std::to_string(opt_.n_ctx));
        const std::int64_t n_left = position() - keep;
        const std::int64_t n_discard = std::min(n_left, std::max(n_left / 2, position() + need - opt_.n_ctx));
        std::vector<std::int32_t> tail(tokens_.begin() + keep + n_discard, tokens_.end());
        tokens_.resize(static_cast<std::size_t>(keep));
        for (std::size_t at = 0; at < tail.size(); at += std::size_t(opt_.n_batch))
            forward(std::span<const std::int32_t>(tail).subspan(at, std::min<std::size_t>(std::size_t(opt_.n_batch), tail.size() - at)));
        ++shifts_;
    }

    static session_options checked(session_options o) {
        if (o.n_ctx <= 0) STRATA_THROW(errc::argument, "num_ctx must be positive, got " + std::to_string(o.n_ctx));
        if (o.n_batch <= 0) STRATA_THROW(errc::argument, "num_batch must be positive, got " + std::to_string(o.n_batch));
        o.n_batch = std::min(o.n_batch, o.n_ctx);
        if (o.num_keep < 0) STRATA_THROW(errc::argument, "num_keep must not be negative, got " + std::to_string(o.num_keep));
        return o;
    }

    const engine* e_;
    session_options opt_;
    std::vector<std::unique_ptr<arena>> arenas_;  // per device; null for the host
    model::kv_cache kv_;
    std::vector<model::workspace> ws_;            // per device
    std::vector<stage> stages_;
    Sampler sampler_;
    std::vector<std::int32_t> tokens_;
    bool has_logits_ = false;
    std::int64_t shifts_ = 0;
};

using cpu_engine = basic_engine<>;

STRATA_NAMESPACE_END
