// strata/engine/any_engine.hpp — an engine and its sessions behind virtual functions.
//
// An engine with the CUDA backend must be instantiated in a translation unit nvcc compiles, and
// a program's other code often cannot be (fmt 9, for one, does not compile under nvcc in C++20).
// make_any_engine instantiates the engine where it is called; the rest of the program sees only
// any_engine and any_session, which generate() and conversation take like a basic_session:
//
//   // load_engine.cu, compiled by nvcc: the one place the engine type is named
//   using gpu_engine = strata::basic_engine<strata::all_formats,
//                                           strata::backends<strata::cpu_device, strata::cuda_device>>;
//   std::unique_ptr<strata::any_engine> load_engine(const std::string& path, strata::load_options o) {
//       return strata::make_any_engine<gpu_engine>(path, std::move(o));
//   }
//
//   // main.cpp, compiled by g++ (declares load_engine)
//   auto eng = load_engine("model.gguf", {.plan = strata::plan_at_load({})});   // engine/plan_at_load.hpp
//   auto s = eng->new_session({.n_ctx = 2048});
//   strata::generate(*s, eng->tokenizer(), eng->tokenizer().encode("Hi", true, true), {}, print);
//
// One virtual call per token costs nothing next to a forward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "strata/chat/template.hpp"
#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/engine/engine.hpp"
#include "strata/sample/params.hpp"

STRATA_NAMESPACE_BEGIN

// basic_session's interface (see there for what each member does).
class any_session {
public:
    virtual ~any_session() = default;
    virtual std::int64_t position() const = 0;
    virtual std::int64_t n_ctx() const = 0;
    virtual bool context_shift() const = 0;
    virtual const std::vector<std::int32_t>& tokens() const = 0;
    virtual void prefill(std::span<const std::int32_t> tokens) = 0;
    virtual void decode(std::int32_t token) = 0;
    virtual std::span<const float> logits() const = 0;
    virtual std::int32_t sample() = 0;
    // The sampler chain's parameters (basic_session::sampler().parameters()).
    virtual const sample::params& sampling() const = 0;
    virtual void set_sampling(const sample::params& p) = 0;
    virtual void reset() = 0;
    virtual void rewind(std::int64_t n) = 0;
    virtual std::size_t kv_bytes() const = 0;
    virtual ggml_type kv_type() const = 0;
    virtual std::vector<measured_usage> usage() const = 0;
    virtual std::int64_t shifts() const = 0;
    virtual int cuda_graphs_captured() const = 0;
    virtual std::int64_t cuda_graph_replays() const = 0;
    virtual const model::matmul_offload* prefill_stream() const = 0;
};

// basic_engine's interface; new_session's sessions refer to the engine, which must outlive them.
class any_engine {
public:
    virtual ~any_engine() = default;
    virtual const model::hparams& hparams() const = 0;
    virtual const model::weights& weights() const = 0;
    virtual const tokenizer::tokenizer& tokenizer() const = 0;
    virtual const gguf::file& file() const = 0;
    virtual const cpu::backend& cpu() const = 0;
    virtual const strata::placement& placement() const = 0;
    virtual const plan::plan* planned() const = 0;
    virtual std::vector<measured_usage> weights_usage() const = 0;
    virtual std::optional<chat::format> chat_format() const = 0;
    virtual bool with_cuda() const = 0;  // the engine was built with the CUDA backend
    virtual std::unique_ptr<any_session> new_session(const session_options& opt = {}) const = 0;
};

namespace detail {

template <class Session>
class erased_session final : public any_session {
public:
    explicit erased_session(Session s) : s_(std::move(s)) {}
    std::int64_t position() const override { return s_.position(); }
    std::int64_t n_ctx() const override { return s_.n_ctx(); }
    bool context_shift() const override { return s_.context_shift(); }
    const std::vector<std::int32_t>& tokens() const override { return s_.tokens(); }
    void prefill(std::span<const std::int32_t> tokens) override { s_.prefill(tokens); }
    void decode(std::int32_t token) override { s_.decode(token); }
    std::span<const float> logits() const override { return s_.logits(); }
    std::int32_t sample() override { return s_.sample(); }
    const sample::params& sampling() const override { return s_.sampler().parameters(); }
    void set_sampling(const sample::params& p) override { s_.sampler().set_parameters(p); }
    void reset() override { s_.reset(); }
    void rewind(std::int64_t n) override { s_.rewind(n); }
    std::size_t kv_bytes() const override { return s_.kv_bytes(); }
    ggml_type kv_type() const override { return s_.kv_type(); }
    std::vector<measured_usage> usage() const override { return s_.usage(); }
    std::int64_t shifts() const override { return s_.shifts(); }
    int cuda_graphs_captured() const override { return s_.cuda_graphs_captured(); }
    std::int64_t cuda_graph_replays() const override { return s_.cuda_graph_replays(); }
    const model::matmul_offload* prefill_stream() const override { return s_.prefill_stream(); }

private:
    mutable Session s_;  // sampler() is not const on basic_session
};

template <class Engine>
class erased_engine final : public any_engine {
public:
    explicit erased_engine(Engine e) : e_(std::move(e)) {}
    const model::hparams& hparams() const override { return e_.hparams(); }
    const model::weights& weights() const override { return e_.weights(); }
    const tokenizer::tokenizer& tokenizer() const override { return e_.tokenizer(); }
    const gguf::file& file() const override { return e_.file(); }
    const cpu::backend& cpu() const override { return e_.cpu(); }
    const strata::placement& placement() const override { return e_.placement(); }
    const plan::plan* planned() const override { return e_.planned(); }
    std::vector<measured_usage> weights_usage() const override { return e_.weights_usage(); }
    std::optional<chat::format> chat_format() const override { return e_.chat_format(); }
    bool with_cuda() const override { return Engine::with_cuda; }
    std::unique_ptr<any_session> new_session(const session_options& opt) const override {
        return std::make_unique<erased_session<typename Engine::session>>(e_.new_session(opt));
    }

private:
    Engine e_;  // its state is on the heap: sessions' pointers stay valid when it moves here
};

}  // namespace detail

// Loads the model at PATH into an Engine (a basic_engine) and returns it behind any_engine.
template <class Engine>
std::unique_ptr<any_engine> make_any_engine(const std::string& path, load_options opt = {}) {
    return std::make_unique<detail::erased_engine<Engine>>(Engine::load(path, std::move(opt)));
}

STRATA_NAMESPACE_END
