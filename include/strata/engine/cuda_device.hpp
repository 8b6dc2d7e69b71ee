// strata/engine/cuda_device.hpp — the GPU as a device of the engine: name it in the backends of
// an engine compiled by nvcc,
//
//   using engine = strata::basic_engine<strata::all_formats, strata::backends<strata::cpu_device, strata::cuda_device>>;
//   auto eng = engine::load("model.gguf", {.placement = strata::placement::offload(n_layer, 0)});
//
// and the layers a placement puts on a CUDA device run there (model/cuda_stage.hpp): the
// engine uploads their weights into one device arena sized to them, and each session takes one
// more for their KV cache and its activations, sized by the functions the planner sums.
//
// Included by engine.hpp in nvcc translation units; its content exists only under __CUDACC__.
#pragma once

#if defined(__CUDACC__)

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/device.hpp"
#include "strata/engine/device_memory.hpp"
#include "strata/engine/placement.hpp"
#include "strata/model/cuda_stage.hpp"
#include "strata/model/cuda_stream.hpp"
#include "strata/model/cuda_workspace.hpp"
#include "strata/plan/cuda_devices.hpp"

STRATA_NAMESPACE_BEGIN

struct cuda_device {};

// One device arena of a GPU (weights, or a session's KV cache and activations).
class cuda_memory final : public device_memory {
public:
    cuda_memory(int device, std::string name, const cuda::arena_budget& budget) : a_(device, std::move(name), budget) {}
    std::span<std::byte> take(std::size_t bytes, std::string_view what) override { return {a_.take(bytes, what), bytes}; }
    void charge(std::size_t bytes, std::string_view what) override { a_.charge(bytes, what); }
    void copy_from_host(std::span<std::byte> dst, const void* src) override {
        cuda::device_guard on(a_.device());
        STRATA_CUDA_CHECK(cudaMemcpy(dst.data(), src, dst.size(), cudaMemcpyHostToDevice));
    }
    void zero(std::span<std::byte> dst) override {
        cuda::device_guard on(a_.device());
        STRATA_CUDA_CHECK(cudaMemset(dst.data(), 0, dst.size()));
    }
    const std::string& name() const noexcept override { return a_.name(); }
    std::size_t capacity() const noexcept override { return a_.capacity(); }
    std::size_t used() const noexcept override { return a_.used(); }
    cuda::device_arena& arena() noexcept { return a_; }

private:
    cuda::device_arena a_;
};

// What the engine asks of the CUDA backend (see engine.hpp: cuda_runtime is only declared there).
template <class Formats>
struct cuda_runtime {
    using stage = model::cuda_stage<Formats>;

    // The GPUs as the planner sees them (free memory now, rates from the table or properties).
    // Asked here, in the nvcc translation unit that names the engine, so that the answer never
    // depends on how the caller's own translation unit was built.
    static std::vector<plan::device_spec> devices() { return plan::to_device_specs(cuda::devices()); }

    static std::unique_ptr<device_memory> memory(const placement::device& d, const cuda::arena_budget& budget) {
        return std::make_unique<cuda_memory>(d.index, d.name, budget);
    }

    static stage make_stage(device_memory& mem, const model::hparams& hp, const model::weights& w, std::int64_t n_batch,
                            std::int64_t n_ctx, ggml_type kv_type, bool graphs, bool holds_head) {
        model::cuda_stage_options o;
        o.graphs = o.graphs && graphs;
        o.sampler = holds_head;
        return stage(static_cast<cuda_memory&>(mem).arena(), hp, w, n_batch, n_ctx, kv_type, o);
    }

    static std::size_t workspace_bytes(const model::hparams& hp, const model::weights& w, std::int64_t n_batch,
                                       std::int64_t n_ctx) {
        return model::cuda_workspace_bytes(hp, w, n_batch, n_ctx);
    }

    // The device sampler's piece of the arena of the GPU that holds the head.
    static std::size_t sampler_bytes(const model::hparams& hp) { return model::cuda_sampler_bytes(hp); }

    // The prefill stream to this GPU (model/cuda_stream.hpp), and the arena bytes it takes.
    static std::unique_ptr<model::matmul_offload> make_stream(device_memory& mem, const model::weights& w,
                                                              std::int64_t n_batch, std::int64_t min_batch) {
        return std::make_unique<model::cuda_stream<Formats>>(static_cast<cuda_memory&>(mem).arena(), w, n_batch, min_batch);
    }
    static std::size_t stream_bytes(const model::weights& w, std::int64_t n_batch) {
        return model::cuda_stream_shape(w, n_batch).bytes();
    }
};

STRATA_NAMESPACE_END

#endif  // __CUDACC__
