// strata/model/cuda_stage.hpp — the ops of the forward pass on a GPU: what transformer.hpp
// calls for the layers a plan put there (the members cpu_stage.hpp lists), each an asynchronous
// kernel launch on the stage's stream over buffers in the session's device arena.
//
// Memory: every buffer is a piece of the arena, in the order cuda_workspace.hpp lists them
// (what the planner priced); nothing is allocated after construction. The residual stream enters
// and leaves through pinned staging buffers; positions are uploaded per batch to device memory,
// where rope, the cache store and attention read them.
//
// CUDA graphs: a decode step (one token) of a segment (a run of consecutive layers on this GPU,
// with the output head when it is here) is captured once into a graph and replayed at every
// later step. That is valid because no launch of a segment depends on host values that change
// from step to step: the position lives in device memory, the attention loop reads the number of
// keys from it, and every other argument (pointers into the arena, shapes) is fixed for the
// session. While a graph replays, the ops only check their arguments and launch nothing; the
// graph launches at end_segment. (A segment with an MoE block's FFN half is the exception: its
// routing is a host round trip, so it runs uncaptured; see route.)
//
// Its content exists only in nvcc translation units (under __CUDACC__).
#pragma once

#if defined(__CUDACC__)

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kernels/elementwise.cuh"
#include "kernels/flash_attention.cuh"
#include "kernels/kv_store.cuh"
#include "kernels/moe.cuh"
#include "strata/backend/cpu/moe.hpp"
#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/blas.hpp"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/matmul.hpp"
#include "strata/backend/cuda/sampler.hpp"
#include "strata/model/cpu_stage.hpp"
#include "strata/model/cuda_workspace.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/weights.hpp"
#include "strata/model/workspace.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

struct cuda_stage_options {
    bool sampler = false;  // the stage holds the head: sample on the device
#if defined(STRATA_DEBUG_SYNC)
    bool graphs = false;  // a synchronise after each launch cannot be captured
#else
    bool graphs = true;   // capture decode steps in CUDA graphs
#endif
};

template <class Formats>
class cuda_stage {
public:
    // Takes its buffers from `mem` (the session's arena on this device: cuda_workspace_for's
    // pieces must fit beside the KV cache) and uploads rope_freqs there.
    cuda_stage(cuda::device_arena& mem, const hparams& hp, const weights& w, std::int64_t n_batch, std::int64_t n_ctx,
               ggml_type kv_type, cuda_stage_options opt = {})
        : device_(mem.device()), n_batch_(n_batch), n_ctx_(n_ctx), n_embd_(hp.n_embd), n_vocab_(hp.n_vocab), opt_(opt) {
        // what the kernels cannot run is refused here, before anything is allocated
        for (std::uint32_t il = 0; il < hp.n_layer; ++il)
            if (const auto why = cuda::flash_attention_unsupported(fa_params_for(hp, il), kv_type); !why.empty())
                STRATA_THROW(errc::unsupported, mem.name() + ": layer " + std::to_string(il) + ": " + std::string(why) +
                                                    " (the model has head dims " + std::to_string(hp.head_dim_k) + "/" +
                                                    std::to_string(hp.head_dim_v) + ")");
        cuda::device_guard on(device_);
        const cuda_workspace_shape shape = cuda_workspace_for(hp, w, n_batch, n_ctx);
        float** bufs[10] = {&a_.x, &a_.h, &a_.q, &a_.k, &a_.v, &a_.att, &a_.o, &a_.gate, &a_.up, &a_.logits};
        static constexpr const char* names[10] = {"x", "h", "q", "k", "v", "att", "o", "gate", "up", "logits"};
        for (int i = 0; i < 10; ++i)
            *bufs[i] = reinterpret_cast<float*>(mem.take(shape.floats[std::size_t(i)] * sizeof(float), names[i]));
        pos_ = reinterpret_cast<std::int32_t*>(mem.take(shape.positions * sizeof(std::int32_t), "positions"));
        if (shape.rope_freqs) {
            rope_freqs_ = reinterpret_cast<float*>(mem.take(shape.rope_freqs * sizeof(float), "rope_freqs"));
            STRATA_CUDA_CHECK(cudaMemcpy(rope_freqs_, f32_data(w.rope_freqs, "rope_freqs"), shape.rope_freqs * sizeof(float),
                                         cudaMemcpyHostToDevice));
        }
        mm_scratch_ = mem.take(shape.matmul_scratch, "matmul scratch");
        mm_scratch_bytes_ = arena::padded(shape.matmul_scratch);
        fa_scratch_ = mem.take(shape.attention_scratch, "attention scratch");
        fa_scratch_bytes_ = arena::padded(shape.attention_scratch);
        std::byte* blas_ws = shape.blas_workspace ? mem.take(shape.blas_workspace, "cuBLAS workspace") : nullptr;
        if (hp.n_expert > 0) {
            float** moe[4] = {&a_.router, &a_.expert_in, &a_.slot_out, &a_.expert_weights};
            static constexpr const char* moe_names[4] = {"router logits", "expert rows", "expert slots' outputs", "expert weights"};
            for (int i = 0; i < 4; ++i)
                *moe[i] = reinterpret_cast<float*>(mem.take(shape.moe_floats[std::size_t(i)] * sizeof(float), moe_names[i]));
            a_.expert_slots = reinterpret_cast<std::int32_t*>(mem.take(shape.moe_slots * sizeof(std::int32_t), "expert slots"));
            n_expert_ = int(hp.n_expert);
            n_used_ = int(hp.n_expert_used);
        }
        bytes_ = shape.bytes();
        res_ = std::make_unique<resources>(std::size_t(n_batch) * std::size_t(hp.n_embd), std::size_t(hp.n_vocab),
                                           std::size_t(n_batch), hp.n_expert, hp.n_expert_used);
        if (blas_ws) res_->blas.set_workspace(blas_ws, arena::padded(shape.blas_workspace));
        if (opt.sampler) {
            const std::size_t sb = cuda_sampler_bytes(hp);
            res_->sampler = std::make_unique<cuda::device_sampler>(hp.n_vocab, res_->stream.get(), mem.take(sb, "sampler"), sb);
        }
    }

    cuda_stage(cuda_stage&&) noexcept = default;
    cuda_stage& operator=(cuda_stage&&) noexcept = default;

    std::int64_t n_batch() const noexcept { return n_batch_; }
    activations acts() const noexcept { return a_; }
    int device() const noexcept { return device_; }
    // MoE blocks: the router's logits come to the host, which picks each token's experts
    // (backend/cpu/moe.hpp, as the CPU stage does) and sends back the slots grouped by expert;
    // each expert's rows are then gathered, multiplied and scattered here (kernels/moe.cuh). That
    // round trip is a host synchronisation, which a graph cannot hold: a decode segment that
    // routes runs what it captured so far, once, and is not captured again (route).

    // Device bytes of the workspace (what cuda_workspace_bytes priced).
    std::size_t bytes() const noexcept { return bytes_; }
    cudaStream_t stream() const noexcept { return res_->stream; }
    // Decode graphs captured so far, and replays of them.
    int graphs_captured() const noexcept { return res_->captured; }
    std::int64_t graph_replays() const noexcept { return res_->replays; }

    // ---- the residual stream across a boundary (through pinned memory) ----

    float* host_x() const noexcept { return nullptr; }

    // Waits only for the previous copy out of the staging buffer, not for the stream's kernels:
    // the host's layers of the next prefill batch run while this GPU still works on the last.
    void x_from_host(const float* src, std::size_t count) const {
        cuda::device_guard on(device_);
        res_->x_staged.wait();
        std::memcpy(res_->x_stage.data(), src, count * sizeof(float));
        STRATA_CUDA_CHECK(cudaMemcpyAsync(a_.x, res_->x_stage.data(), count * sizeof(float), cudaMemcpyHostToDevice, res_->stream));
        res_->x_staged.record(res_->stream);
    }

    void x_to_host(float* dst, std::size_t count) const {
        cuda::device_guard on(device_);
        STRATA_CUDA_CHECK(cudaMemcpyAsync(res_->x_stage.data(), a_.x, count * sizeof(float), cudaMemcpyDeviceToHost, res_->stream));
        res_->stream.synchronize();
        std::memcpy(dst, res_->x_stage.data(), count * sizeof(float));
    }

    // The last token's logits on the host: copied back once per forward pass, when asked.
    std::span<const float> logits() const {
        if (!res_->logits_on_host) {
            cuda::device_guard on(device_);
            STRATA_CUDA_CHECK(cudaMemcpyAsync(res_->logits_stage.data(), a_.logits, std::size_t(n_vocab_) * sizeof(float),
                                              cudaMemcpyDeviceToHost, res_->stream));
            res_->stream.synchronize();
            res_->logits_on_host = true;
        }
        return {reinterpret_cast<const float*>(res_->logits_stage.data()), std::size_t(n_vocab_)};
    }
    // The logits in device memory (for sampling on the device).
    const float* device_logits() const noexcept { return a_.logits; }

    // The next token chosen on the device from the last logits, with the CPU chain's parameters,
    // window and RNG (only the token comes back); nullopt where the device cannot give the CPU
    // chain's token for these parameters (cuda::device_supports), and the caller samples on the
    // host.
    std::optional<std::int32_t> sample(const sample::params& p, const sample::history& window, sample::dist& rng) const {
        if (!res_->sampler || !cuda::device_supports(p)) return std::nullopt;
        cuda::device_guard on(device_);
        return res_->sampler->sample(a_.logits, p, window, rng);
    }
    // Device bytes of the sampler's buffers (0 without one).
    std::size_t sampler_bytes() const noexcept { return res_->sampler ? res_->sampler->device_bytes() : 0; }

    // ---- segments: positions in, and the decode graph ----

    void begin_segment(std::int64_t n_tokens, std::int64_t pos0, int key) const {
        cuda::device_guard on(device_);
        resources& r = *res_;
        abandon_capture();
        r.pos_staged.wait();  // the positions' staging buffer may still feed the last copy
        auto* p = reinterpret_cast<std::int32_t*>(r.pos_stage.data());
        for (std::int64_t t = 0; t < n_tokens; ++t) p[t] = static_cast<std::int32_t>(pos0 + t);
        STRATA_CUDA_CHECK(cudaMemcpyAsync(pos_, p, std::size_t(n_tokens) * sizeof(std::int32_t), cudaMemcpyHostToDevice, r.stream));
        r.pos_staged.record(r.stream);
        r.logits_on_host = false;
        r.replaying = nullptr;
        if (!opt_.graphs || n_tokens != 1) return;
        for (int k : r.uncapturable)
            if (k == key) return;
        for (auto& g : r.graphs)
            if (g.first == key) {
                r.replaying = g.second;
                return;
            }
        STRATA_CUDA_CHECK(cudaStreamBeginCapture(r.stream, cudaStreamCaptureModeThreadLocal));
        r.capturing = true;
        r.capture_key = key;
    }

    void end_segment() const {
        cuda::device_guard on(device_);
        resources& r = *res_;
        if (r.replaying) {
            STRATA_CUDA_CHECK(cudaGraphLaunch(r.replaying, r.stream));
            ++r.replays;
            r.replaying = nullptr;
            return;
        }
        if (!r.capturing) return;
        cudaGraph_t graph = nullptr;
        r.capturing = false;
        STRATA_CUDA_CHECK(cudaStreamEndCapture(r.stream, &graph));
        cudaGraphExec_t exec = nullptr;
        const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
        (void)cudaGraphDestroy(graph);
        STRATA_CUDA_CHECK(e);
        r.graphs.emplace_back(r.capture_key, exec);
        ++r.captured;
        STRATA_CUDA_CHECK(cudaGraphLaunch(exec, r.stream));
    }

    // ---- the ops ----

    void norm_rows(const tensor& w, const float* x, float* y, std::int64_t n, std::int64_t len, float eps) const {
        const float* g = f32_data(w, "norm");
        if (skip()) return;
        STRATA_CUDA_CHECK_LAUNCH(kernels::rms_norm(x, g, y, n, len, eps, res_->stream), res_->stream);
    }

    void matmul(const tensor& W, const float* x, std::int64_t n, float* y) const {
        if (skip()) return;
        const cuda::matmul_context ctx{res_->stream, res_->blas.get(), mm_scratch_, mm_scratch_bytes_};
        cuda::matmul<Formats>(ctx, W.type, W.data, W.rows(), W.cols(), W.row_bytes, x, n, y);
    }

    void rope(float* x, std::int64_t n_tokens, std::int64_t n_heads, std::int64_t head_dim, std::int64_t /*pos0*/,
              const cpu::rope_params& rp) const {
        if (skip()) return;
        STRATA_CUDA_CHECK_LAUNCH(kernels::rope(x, x, n_tokens, n_heads, head_dim, pos_, rp.n_rot, rp.base, rp.freq_scale,
                               rp.freq_factors ? rope_freqs_ : nullptr, rp.neox, res_->stream), res_->stream);
    }

    void scale(float* x, std::int64_t n, float s) const {
        if (!skip()) STRATA_CUDA_CHECK_LAUNCH(kernels::scale(x, x, n, s, res_->stream), res_->stream);
    }
    void add(float* x, const float* y, std::int64_t n) const {
        if (!skip()) STRATA_CUDA_CHECK_LAUNCH(kernels::add(x, y, x, n, res_->stream), res_->stream);
    }
    void swiglu(float* g, const float* u, std::int64_t n) const {
        if (!skip()) STRATA_CUDA_CHECK_LAUNCH(kernels::swiglu(g, u, g, n, res_->stream), res_->stream);
    }
    void geglu(float* g, const float* u, std::int64_t n) const {
        if (!skip()) STRATA_CUDA_CHECK_LAUNCH(kernels::geglu(g, u, g, n, res_->stream), res_->stream);
    }
    void softcap(float* x, std::int64_t n, float c) const {
        if (!skip()) STRATA_CUDA_CHECK_LAUNCH(kernels::softcap(x, x, n, c, res_->stream), res_->stream);
    }

    void store_kv(kv_layer& kv, std::int64_t /*pos0*/, std::int64_t n, const float* k, const float* v) const {
        if (skip()) return;
        STRATA_CUDA_CHECK_LAUNCH(kernels::kv_store(kv.type, k, n, kv.row_k, pos_, kv.k.data(), kv.row_k_bytes, res_->stream), res_->stream);
        STRATA_CUDA_CHECK_LAUNCH(kernels::kv_store(kv.type, v, n, kv.row_v, pos_, kv.v.data(), kv.row_v_bytes, res_->stream), res_->stream);
    }

    void attention(const float* q, std::int64_t n, std::int64_t /*pos0*/, const kv_layer& kv,
                   const cpu::attention_params& ap, float* out) const {
        if (skip()) return;
        const cuda::fa_params p = fa_params_of(ap);
        const cuda::fa_kv view{kv.type, kv.k.data(), kv.v.data(), kv.row_k_bytes, kv.row_v_bytes};
        STRATA_CUDA_CHECK_LAUNCH(kernels::flash_attention(q, n, pos_, n_ctx_, view, p, nullptr, out, fa_scratch_, fa_scratch_bytes_, res_->stream), res_->stream);
    }

    void route(const activations& a, std::int64_t n, int n_expert, int n_used) const {
        if (skip()) STRATA_THROW(errc::internal, "cuda stage: a replayed decode graph reached an MoE router");
        if (n_expert != n_expert_ || n_used != n_used_ || a.router != a_.router)
            STRATA_THROW(errc::internal, "cuda stage: routing for another model's experts");
        cuda::device_guard on(device_);
        resources& r = *res_;
        cudaGraphExec_t ran = run_capture_so_far();
        const std::size_t slots = std::size_t(n) * std::size_t(n_used);
        STRATA_CUDA_CHECK(cudaMemcpyAsync(r.router_stage.data(), a_.router, std::size_t(n) * std::size_t(n_expert) * sizeof(float),
                                          cudaMemcpyDeviceToHost, r.stream));
        r.stream.synchronize();  // also: the last route's uploads out of route_stage are done
        if (ran) (void)cudaGraphExecDestroy(ran);
        auto* slot_ids = reinterpret_cast<std::int32_t*>(r.route_stage.data());
        auto* slot_w = reinterpret_cast<float*>(r.route_stage.data() + r.slots_max * sizeof(std::int32_t));
        cpu::route_top_k(reinterpret_cast<const float*>(r.router_stage.data()), n, n_expert, n_used, r.ids.data(), slot_w,
                         r.probs.data(), r.order.data());
        cpu::group_slots_by_expert(r.ids.data(), n, n_used, n_expert, r.offsets.data(), slot_ids);
        STRATA_CUDA_CHECK(cudaMemcpyAsync(a_.expert_slots, slot_ids, slots * sizeof(std::int32_t), cudaMemcpyHostToDevice, r.stream));
        STRATA_CUDA_CHECK(cudaMemcpyAsync(a_.expert_weights, slot_w, slots * sizeof(float), cudaMemcpyHostToDevice, r.stream));
    }
    std::int64_t gather_expert(const activations& /*a*/, int expert, std::int64_t /*n*/, int n_used, std::int64_t n_embd) const {
        resources& r = *res_;
        r.expert_at = r.offsets[std::size_t(expert)];
        const std::int64_t rows = r.offsets[std::size_t(expert) + 1] - r.expert_at;
        if (rows > 0)
            STRATA_CUDA_CHECK_LAUNCH(kernels::gather_slot_rows(a_.h, a_.expert_slots + r.expert_at, rows, n_used, n_embd, a_.expert_in,
                                                               r.stream), r.stream);
        return rows;
    }
    void scatter_expert(const activations& /*a*/, const float* y, std::int64_t rows, std::int64_t n_embd) const {
        resources& r = *res_;
        STRATA_CUDA_CHECK_LAUNCH(kernels::scatter_slot_rows(y, a_.expert_slots + r.expert_at, a_.expert_weights, rows, n_embd,
                                                            a_.slot_out, r.stream), r.stream);
    }
    void sum_expert_slots(const activations& /*a*/, std::int64_t n, int n_used, std::int64_t n_embd, float* out) const {
        STRATA_CUDA_CHECK_LAUNCH(kernels::sum_slots(a_.slot_out, n, n_used, n_embd, out, res_->stream), res_->stream);
    }

private:
    // What a stage owns beyond its arena pieces: behind a pointer, so the stage moves freely.
    struct resources {
        cuda::stream stream;
        cuda::blas_handle blas;
        cuda::pinned_buffer x_stage, logits_stage, pos_stage;
        cuda::event x_staged, pos_staged;  // the last copies out of x_stage and pos_stage
        std::unique_ptr<cuda::device_sampler> sampler;
        std::vector<std::pair<int, cudaGraphExec_t>> graphs;
        std::vector<int> uncapturable;  // keys of decode segments that route experts on the host
        cudaGraphExec_t replaying = nullptr;
        bool capturing = false;
        int capture_key = 0;
        int captured = 0;
        std::int64_t replays = 0;
        bool logits_on_host = false;

        // MoE routing on the host: the router's logits in, the grouped slots and their weights out
        // (pinned), and the scratch of the top-k; sized once, for n_batch tokens
        std::size_t slots_max = 0;
        cuda::pinned_buffer router_stage, route_stage;
        std::vector<std::int32_t> ids, order, offsets;
        std::vector<float> probs;
        std::int32_t expert_at = 0;  // the first slot of the expert being multiplied

        resources(std::size_t x_floats, std::size_t n_vocab, std::size_t n_batch, std::size_t n_expert = 0, std::size_t n_used = 0)
            : blas(stream.get()),
              x_stage(x_floats * sizeof(float)),
              logits_stage(n_vocab * sizeof(float)),
              pos_stage(n_batch * sizeof(std::int32_t)) {
            if (n_expert == 0) return;
            slots_max = n_batch * n_used;
            router_stage = cuda::pinned_buffer(n_batch * n_expert * sizeof(float));
            route_stage = cuda::pinned_buffer(slots_max * (sizeof(std::int32_t) + sizeof(float)));
            ids.resize(slots_max);
            order.resize(n_expert);
            offsets.resize(n_expert + 1);
            probs.resize(n_expert);
        }
        ~resources() {
            if (capturing) {
                cudaGraph_t g = nullptr;
                (void)cudaStreamEndCapture(stream, &g);
                if (g) (void)cudaGraphDestroy(g);
            }
            for (auto& g : graphs) (void)cudaGraphExecDestroy(g.second);
        }
        resources(const resources&) = delete;
        resources& operator=(const resources&) = delete;
    };

    bool skip() const noexcept { return res_->replaying != nullptr; }

    // A capture a host round trip interrupts: its launches so far run now (as a graph, once),
    // the rest of the segment runs uncaptured, and its key is never captured again. Returns the
    // graph to destroy once the stream has synchronised (null when nothing was capturing).
    cudaGraphExec_t run_capture_so_far() const {
        resources& r = *res_;
        if (!r.capturing) return nullptr;
        r.capturing = false;
        r.uncapturable.push_back(r.capture_key);
        cudaGraph_t graph = nullptr;
        STRATA_CUDA_CHECK(cudaStreamEndCapture(r.stream, &graph));
        cudaGraphExec_t exec = nullptr;
        const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
        (void)cudaGraphDestroy(graph);
        STRATA_CUDA_CHECK(e);
        STRATA_CUDA_CHECK(cudaGraphLaunch(exec, r.stream));
        return exec;
    }

    // A capture an exception interrupted is ended and dropped (the next step captures anew).
    void abandon_capture() const {
        resources& r = *res_;
        if (!r.capturing) return;
        cudaGraph_t g = nullptr;
        (void)cudaStreamEndCapture(r.stream, &g);
        if (g) (void)cudaGraphDestroy(g);
        (void)cudaGetLastError();
        r.capturing = false;
    }

    int device_ = 0;
    std::int64_t n_batch_ = 0, n_ctx_ = 0, n_embd_ = 0, n_vocab_ = 0;
    cuda_stage_options opt_;
    activations a_{};
    std::int32_t* pos_ = nullptr;
    float* rope_freqs_ = nullptr;
    std::byte* mm_scratch_ = nullptr;
    std::size_t mm_scratch_bytes_ = 0;
    std::byte* fa_scratch_ = nullptr;
    std::size_t fa_scratch_bytes_ = 0;
    std::size_t bytes_ = 0;
    int n_expert_ = 0, n_used_ = 0;
    std::unique_ptr<resources> res_;
};

}  // namespace model
STRATA_NAMESPACE_END

#endif  // __CUDACC__
