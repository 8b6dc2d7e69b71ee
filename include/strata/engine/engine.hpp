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
#include <type_traits>
#include <variant>
#include <vector>

#include "strata/backend/cpu/backend.hpp"
#include "strata/chat/template.hpp"
#include "strata/core/arena.hpp"
#include "strata/core/error.hpp"
#include "strata/engine/device_memory.hpp"
#include "strata/engine/placement.hpp"
#include "strata/gguf/file.hpp"
#include "strata/model/cpu_stage.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/transformer.hpp"
#include "strata/model/weights.hpp"
#include "strata/model/workspace.hpp"
#include "strata/quant/formats.hpp"
#include "strata/sample/chain.hpp"
#include "strata/tokenizer/from_gguf.hpp"
#include "strata/tokenizer/tokenizer.hpp"

STRATA_NAMESPACE_BEGIN

// The devices layers may be placed on, as compile-time tags: the CPU (the host, and the
// simulated device of split execution, a second CPU backend) and, in translation units nvcc
// compiles, the GPU (cuda_device, engine/cuda_device.hpp).
struct cpu_device {};
struct cuda_device;
template <class... Devices>
struct backends {
    template <class D>
    static constexpr bool has = (std::is_same_v<D, Devices> || ...);
};

// The CUDA backend's side of the engine: defined in engine/cuda_device.hpp, which only nvcc
// translation units include.
template <class Formats>
struct cuda_runtime;

namespace detail {
// A session's stage per device: the CPU's, or a variant over the CPU's and the GPU's.
template <class Formats, bool WithCuda>
struct stage_type {
    using type = model::cpu_stage<Formats>;
};
template <class Formats>
struct stage_type<Formats, true> {
    using type = std::variant<model::cpu_stage<Formats>, typename cuda_runtime<Formats>::stage>;
};
}  // namespace detail

// A planner asked at load: the file, whether this engine has the CUDA backend, and the GPUs
// its CUDA runtime reports (none for a CPU engine) -> the plan it runs.
using load_planner = std::function<plan::plan(const gguf::file&, bool with_cuda, const std::vector<plan::device_spec>& gpus)>;

struct load_options {
    int n_threads = 0;  // 0: one per hardware thread
    // Touch every weight page once while loading (so the first token does not pay for page
    // faults), reporting progress in [0, 1]. Off: weights are read on first use.
    bool prefault = true;
    std::function<void(double)> progress;
    // Where each layer runs (default: all on the host CPU).
    strata::placement placement;
    // Or a planner to ask at load (plan_at_load(config), engine/plan_at_load.hpp: Ollama's way).
    // When set, `placement` is not read; the plan is kept (basic_engine::planned()).
    load_planner plan;
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
    bool cuda_graphs = true;  // GPU layers: replay each decode step's launches from a CUDA graph
    // The head on a GPU: sample there (the CPU chain's token, only it comes back) whenever the
    // parameters allow (cuda::device_supports); else the logits come back to the CPU chain.
    bool device_sampling = true;
};

template <class Formats, class Backends, class Sampler>
class basic_session;

template <class Formats = all_formats, class Backends = backends<cpu_device>, class Sampler = sample::default_chain>
class basic_engine {
public:
    using session = basic_session<Formats, Backends, Sampler>;
    static constexpr bool with_cuda = Backends::template has<cuda_device>;

    static basic_engine load(const std::string& path, load_options opt = {}) {
        return basic_engine(std::make_unique<state>(path, std::move(opt)));
    }

    const model::hparams& hparams() const noexcept { return s_->hp; }
    const model::weights& weights() const noexcept { return s_->w; }
    const tokenizer::tokenizer& tokenizer() const noexcept { return s_->tok; }
    const gguf::file& file() const noexcept { return s_->file; }
    const cpu::backend& cpu() const noexcept { return s_->cpu; }
    const strata::placement& placement() const noexcept { return s_->place; }
    // The plan load_options::plan made (its memory figures and reasons); null when the placement
    // was given.
    const plan::plan* planned() const noexcept { return s_->planned ? &*s_->planned : nullptr; }
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
        std::optional<plan::plan> planned;
        strata::placement place;
        struct device {
            placement::device spec;
            std::unique_ptr<cpu::backend> own;   // sim: its own pool; host: null (the engine's cpu)
            std::unique_ptr<device_memory> mem;  // sim: its memory; cuda: its weights' arena
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
              planned(opt.plan ? std::optional<plan::plan>(opt.plan(file, with_cuda, reachable_gpus())) : std::nullopt),
              place(planned ? strata::placement::from_plan(*planned) : std::move(opt.placement)),
              tf(hp, w) {
            check_formats();
            place.check(hp.n_layer, with_cuda);
            if (opt.prefault) prefault(opt.progress);
            place_weights();
        }

        const cpu::backend& backend_of(int d) const noexcept { return devices[std::size_t(d)].own ? *devices[std::size_t(d)].own : cpu; }

        // Each sim device gets its arena and a copy of its layers' weights (what an upload to a
        // GPU does); each CUDA device an arena of exactly its weights, uploaded; host tensors stay
        // in the memory map.
        void place_weights() {
            // which tensors go where: a tied head shares token_embd's bytes on the host, elsewhere
            // it is a copy; rope_freqs (a few bytes every layer reads) stays on the host
            std::vector<std::pair<model::tensor*, int>> where{{&w.token_embd, 0}};
            for (std::uint32_t il = 0; il < hp.n_layer; ++il) {
                for (model::tensor* t : model::attention_tensors_of(w.layers[il])) where.emplace_back(t, place.device_of_layer(il));
                for (model::tensor* t : model::ffn_tensors_of(w.layers[il])) where.emplace_back(t, place.device_of_ffn(il));
            }
            where.emplace_back(&w.output_norm, place.output_device);
            if (w.output.info != w.token_embd.info || place.output_device != 0) where.emplace_back(&w.output, place.output_device);
            where.emplace_back(&w.rope_freqs, 0);

            std::vector<std::size_t> need(place.devices.size(), 0);
            for (const auto& [t, dev] : where)
                if (*t) need[std::size_t(dev)] += arena::padded(model::tensor_bytes(*t));
            for (std::size_t i = 0; i < place.devices.size(); ++i) {
                const auto& spec = place.devices[i];
                device d{spec, nullptr, nullptr, 0};
                if (spec.kind == plan::device_kind::sim) {
                    d.own = std::make_unique<cpu::backend>(cpu::backend_options{spec.n_threads > 0 ? spec.n_threads : cpu.n_threads(), cpu.level()});
                    d.mem = std::make_unique<host_memory>(spec.name, spec.memory_bytes);
                } else if (spec.kind == plan::device_kind::cuda) {
                    if constexpr (with_cuda) {
                        if (spec.memory_bytes > 0 && need[i] > spec.memory_bytes)
                            STRATA_THROW(errc::memory, spec.name + ": the weights placed there take " + std::to_string(need[i]) +
                                                           " bytes, the placement gives it " + std::to_string(spec.memory_bytes));
                        d.mem = cuda_runtime<Formats>::memory(spec, {need[i], 0, 0, 0});
                    }
                }
                devices.push_back(std::move(d));
            }
            for (const auto& [t, dev] : where) {
                if (!*t) continue;
                const std::size_t bytes = model::tensor_bytes(*t);
                device& d = devices[std::size_t(dev)];
                if (d.mem) {
                    auto mem = d.mem->take(bytes, t->info->name);
                    d.mem->copy_from_host(mem, t->data);
                    t->data = mem.data();
                }
                d.weights_bytes += d.mem ? arena::padded(bytes) : bytes;
            }
        }

        // The GPUs this engine's CUDA runtime reports (in the translation unit nvcc compiled).
        static std::vector<plan::device_spec> reachable_gpus() {
            if constexpr (with_cuda) return cuda_runtime<Formats>::devices();
            else return {};
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
    using stage = typename detail::stage_type<Formats, engine::with_cuda>::type;

    basic_session(const engine& e, const session_options& opt)
        : e_(&e), opt_(checked(opt)), arenas_(make_arenas(e, opt_)),
          kv_(e.hparams(), opt_.n_ctx, opt_.kv_type, kv_alloc()),
          sampler_(opt_.sampling) {
        const auto& st = *e.s_;
        ws_.resize(st.devices.size());  // stable: the CPU stages point into it
        compute_bytes_.assign(st.devices.size(), 0);
        make_stream();
        for (std::size_t d = 0; d < st.devices.size(); ++d) {
            if (st.devices[d].spec.kind == plan::device_kind::cuda) {
                if constexpr (engine::with_cuda) {
                    stages_.push_back(stage(cuda_runtime<Formats>::make_stage(
                        *arenas_[d], st.hp, st.w, opt_.n_batch, opt_.n_ctx, opt_.kv_type, opt_.cuda_graphs,
                        samples_on(e, opt_, d))));
                    // measured: what the stage (and a prefill stream) took from the arena beyond the
                    // KV cache (the planner's figure is cuda_workspace_bytes; a test compares the two)
                    compute_bytes_[d] = arenas_[d]->used() - kv_arena_bytes(d);
                }
                continue;
            }
            ws_[d] = model::make_workspace(st.hp, st.w, opt_.n_batch, opt_.n_ctx, st.backend_of(int(d)).n_threads());
            const std::size_t activations = model::allocated_bytes(ws_[d]);
            compute_bytes_[d] += activations;  // a sim's prefill stream pieces may be there already
            if (arenas_[d]) arenas_[d]->charge(activations, "activations");
            // the host's large batches go to the prefill stream, when the placement has one
            stages_.push_back(stage(model::cpu_stage<Formats>(st.backend_of(int(d)), ws_[d], d == 0 ? stream_.get() : nullptr)));
        }
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
        return model::detail::with_stage(stages_[std::size_t(e_->placement().output_device)],
                                         [](const auto& s) -> std::span<const float> { return s.logits(); });
    }

    // The next token by the sampler chain, recorded in the penalty window.
    std::int32_t sample() {
        if constexpr (engine::with_cuda && std::is_same_v<Sampler, sample::default_chain>) {
            if (!has_logits_) STRATA_THROW(errc::argument, "no logits yet: prefill a prompt first");
            using gpu_stage = typename cuda_runtime<Formats>::stage;
            if (const auto* g = std::get_if<gpu_stage>(&stages_[std::size_t(e_->placement().output_device)])) {
                if (const auto t = g->sample(sampler_.parameters(), sampler_.last_tokens(), sampler_.template get<sample::dist>())) {
                    sampler_.accept(*t);
                    return *t;
                }
            }
        }
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
    // The prefill stream the placement asked for (null without one, or when num_batch is below
    // its min_batch): its matmul count and the weight bytes it sent.
    const model::matmul_offload* prefill_stream() const noexcept { return stream_.get(); }
    // What each device holds for this engine and session, measured from the allocations: its
    // weights, the KV cache of its layers, its activations.
    std::vector<measured_usage> usage() const {
        auto u = e_->weights_usage();
        for (std::uint32_t il = 0; il < kv_.layers.size(); ++il) {
            const auto& L = kv_.layers[il];
            u[std::size_t(e_->placement().device_of_layer(il))].kv_bytes += L.k.size() + L.v.size();
        }
        for (std::size_t d = 0; d < compute_bytes_.size(); ++d) u[d].compute_bytes = compute_bytes_[d];
        return u;
    }
    // How many times the window has shifted.
    std::int64_t shifts() const noexcept { return shifts_; }

    // Decode steps captured into CUDA graphs (one per run of GPU layers), and their replays.
    int cuda_graphs_captured() const {
        int n = 0;
        for (const auto& st : stages_)
            model::detail::with_stage(st, [&](const auto& s) {
                if constexpr (requires { s.graphs_captured(); }) n += s.graphs_captured();
            });
        return n;
    }
    std::int64_t cuda_graph_replays() const {
        std::int64_t n = 0;
        for (const auto& st : stages_)
            model::detail::with_stage(st, [&](const auto& s) {
                if constexpr (requires { s.graph_replays(); }) n += s.graph_replays();
            });
        return n;
    }

private:
    // A session's part of each device: of a sim, what the engine's weights left of its
    // capacity; of a GPU, one more arena of exactly its layers' KV cache and the activations.
    static std::vector<std::unique_ptr<device_memory>> make_arenas(const engine& e, const session_options& opt) {
        const auto& st = *e.s_;
        std::vector<std::unique_ptr<device_memory>> a;
        for (std::size_t d = 0; d < st.devices.size(); ++d) {
            const auto& dev = st.devices[d];
            if (dev.spec.kind == plan::device_kind::sim) {
                a.push_back(std::make_unique<host_memory>(dev.spec.name, dev.mem->capacity() - dev.mem->used()));
            } else if (dev.spec.kind == plan::device_kind::cuda) {
                if constexpr (engine::with_cuda) {
                    std::uint64_t kv = 0;
                    for (std::uint32_t il = 0; il < st.hp.n_layer; ++il)
                        if (std::size_t(st.place.device_of_layer(il)) == d)
                            kv += arena::padded(model::kv_layer_bytes(st.hp, opt.n_ctx, opt.kv_type));
                    std::uint64_t compute = cuda_runtime<Formats>::workspace_bytes(st.hp, st.w, opt.n_batch, opt.n_ctx);
                    if (streams_to(e, opt, d)) compute += cuda_runtime<Formats>::stream_bytes(st.w, opt.n_batch);
                    if (samples_on(e, opt, d)) compute += cuda_runtime<Formats>::sampler_bytes(st.hp);
                    if (dev.spec.memory_bytes > 0 && dev.weights_bytes + kv + compute > dev.spec.memory_bytes)
                        STRATA_THROW(errc::memory, dev.spec.name + ": weights " + std::to_string(dev.weights_bytes) + " + KV cache " +
                                                       std::to_string(kv) + " + activations " + std::to_string(compute) +
                                                       " bytes exceed the " + std::to_string(dev.spec.memory_bytes) +
                                                       " the placement gives it (a smaller num_ctx or num_batch, or fewer layers)");
                    a.push_back(cuda_runtime<Formats>::memory(dev.spec, {0, kv, compute, 0}));
                }
            } else {
                a.push_back(nullptr);
            }
        }
        return a;
    }

    // Whether the host's prefill batches stream to device d (its placement says so and the
    // session's batches reach min_batch), and whether the head's GPU d samples there: what its
    // arena is sized for (make_arenas) and what the session then builds.
    static bool streams_to(const engine& e, const session_options& o, std::size_t d) noexcept {
        const auto& p = e.placement();
        return p.stream_device >= 0 && std::size_t(p.stream_device) == d && o.n_batch >= p.stream_min_batch;
    }
    static bool samples_on(const engine& e, const session_options& o, std::size_t d) noexcept {
        return std::size_t(e.placement().output_device) == d && o.device_sampling;
    }

    // The prefill stream of the placement (model/prefill_stream.hpp), its buffers taken from
    // the stream device's session arena. A GPU's compute is measured from its arena later; a
    // sim's counts its workspace vectors, so the stream's pieces are counted here.
    void make_stream() {
        const auto& st = *e_->s_;
        const int d = st.place.stream_device;
        if (d < 0 || !streams_to(*e_, opt_, std::size_t(d))) return;
        device_memory& mem = *arenas_[std::size_t(d)];
        if (st.devices[std::size_t(d)].spec.kind == plan::device_kind::sim) {
            const std::size_t before = mem.used();
            const auto s = model::stream_shape_for(st.w, opt_.n_batch, model::stream_target::sim);
            auto floats = [&](std::size_t n, const char* what) {
                const auto b = mem.take(n * sizeof(float), what);
                return std::span<float>(reinterpret_cast<float*>(b.data()), n);
            };
            const auto w = mem.take(s.weight_bytes, "prefill stream: weights");
            const auto x = floats(s.x_floats, "prefill stream: x");
            const auto y = floats(s.y_floats, "prefill stream: y");
            const auto scratch = mem.take(s.scratch_bytes, "prefill stream: matmul scratch");
            stream_ = std::make_unique<model::host_stream<Formats>>(st.backend_of(d), st.place.stream_min_batch, w, x, y, scratch);
            compute_bytes_[std::size_t(d)] += mem.used() - before;
        } else if constexpr (engine::with_cuda) {
            stream_ = cuda_runtime<Formats>::make_stream(mem, st.w, opt_.n_batch, st.place.stream_min_batch);
        }
    }

    // The arena bytes the KV cache of device d's layers took (each layer's piece padded).
    std::size_t kv_arena_bytes(std::size_t d) const {
        std::size_t b = 0;
        for (std::uint32_t il = 0; il < kv_.layers.size(); ++il)
            if (std::size_t(e_->placement().device_of_layer(il)) == d)
                b += arena::padded(kv_.layers[il].k.size() + kv_.layers[il].v.size());
        return b;
    }

    model::kv_allocator kv_alloc() {
        return [this](std::uint32_t il, std::size_t bytes) -> std::span<std::byte> {
            auto& a = arenas_[std::size_t(e_->placement().device_of_layer(il))];
            if (!a) return {};
            auto mem = a->take(bytes, "KV cache of layer " + std::to_string(il));
            a->zero(mem);
            return mem;
        };
    }

    void forward(std::span<const std::int32_t> batch) {
        const auto& p = e_->placement();
        e_->s_->tf.forward(std::span<stage>(stages_), p.layer_device, p.ffn_device, p.output_device, batch, position(), kv_);
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
    std::vector<std::unique_ptr<device_memory>> arenas_;  // per device; null for the host
    model::kv_cache kv_;
    std::vector<model::workspace> ws_;            // per CPU device (empty for a GPU)
    std::vector<std::size_t> compute_bytes_;      // per device: its activations' bytes
    std::unique_ptr<model::matmul_offload> stream_;  // the prefill stream (before stages_: they point to it)
    std::vector<stage> stages_;
    Sampler sampler_;
    std::vector<std::int32_t> tokens_;
    bool has_logits_ = false;
    std::int64_t shifts_ = 0;
};

using cpu_engine = basic_engine<>;

STRATA_NAMESPACE_END

#if defined(__CUDACC__)
#include "strata/engine/cuda_device.hpp"
#endif
