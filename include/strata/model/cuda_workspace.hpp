// strata/model/cuda_workspace.hpp — the device memory of a GPU stage's activations, as pieces:
// the one list the stage takes from its arena (cuda_stage.hpp) and the planner prices
// (plan/memory.hpp), so the estimate cannot drift from the allocation. CUDA-free.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "strata/backend/cuda/flash_attention.hpp"
#include "strata/backend/cuda/matmul.hpp"
#include "strata/backend/cuda/sampler.hpp"
#include "strata/core/arena.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/weights.hpp"
#include "strata/model/workspace.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

struct cuda_workspace_shape {
    // floats: x, h, q, k, v, att, o, gate, up (n_batch rows each), logits (n_vocab)
    std::array<std::size_t, 10> floats{};
    std::size_t positions = 0;         // int32 per token of a batch
    std::size_t rope_freqs = 0;        // floats: the device copy of rope_freqs (llama 3), or 0
    std::size_t matmul_scratch = 0;    // bytes: quantized activations, F16 tiles for the GEMM path
    std::size_t attention_scratch = 0; // bytes: flash attention's split-KV partials
    std::size_t blas_workspace = 0;    // bytes: cuBLAS's workspace, given to it (prefill batches only)
    // MoE (zeros for a dense model), floats: the router's logits (n_batch, n_expert), an expert's
    // gathered rows (n_batch, n_embd), the slots' outputs (n_batch * n_expert_used, n_embd) and
    // their weights; int32: the slots grouped by expert (backend/cpu/moe.hpp)
    std::array<std::size_t, 4> moe_floats{};
    std::size_t moe_slots = 0;

    // Every piece is taken apart from the arena, so each is rounded to its alignment.
    std::size_t bytes() const noexcept {
        std::size_t b = arena::padded(moe_slots * sizeof(std::int32_t));
        for (std::size_t f : moe_floats) b += arena::padded(f * sizeof(float));
        for (std::size_t f : floats) b += arena::padded(f * sizeof(float));
        return b + arena::padded(positions * sizeof(std::int32_t)) + arena::padded(rope_freqs * sizeof(float)) +
               arena::padded(matmul_scratch) + arena::padded(attention_scratch) + arena::padded(blas_workspace);
    }
};

// Causal attention as the flash-attention kernel takes its parameters.
inline cuda::fa_params fa_params_of(const cpu::attention_params& ap) noexcept {
    cuda::fa_params p{};
    p.n_head = ap.n_head;
    p.n_head_kv = ap.n_head_kv;
    p.head_dim_k = ap.head_dim_k;
    p.head_dim_v = ap.head_dim_v;
    p.kq_scale = ap.kq_scale;
    p.softcap = ap.softcap;
    p.n_swa = ap.n_swa;
    p.causal = true;
    return p;
}

inline cuda::fa_params fa_params_for(const hparams& hp, std::uint32_t il) { return fa_params_of(attention_params_for(hp, il)); }

// cuBLAS's workspace: what NVIDIA documents as enough for every GEMM on Hopper (32 MiB; 4 MiB on
// earlier parts). Given from the arena, cuBLAS allocates none of its own, so the plan counts it.
inline constexpr std::size_t cublas_workspace_bytes = std::size_t{32} << 20;

inline cuda_workspace_shape cuda_workspace_for(const hparams& hp, const weights& w, std::int64_t n_batch,
                                               std::int64_t n_ctx) {
    const auto n = static_cast<std::size_t>(n_batch);
    cuda_workspace_shape s;
    s.floats = {n * hp.n_embd, n * hp.n_embd, n * hp.n_head * hp.head_dim_k, n * hp.n_embd_k_gqa(),
                n * hp.n_embd_v_gqa(), n * hp.n_head * hp.head_dim_v, n * hp.n_embd, n * hp.n_ff, n * hp.n_ff,
                std::size_t(hp.n_vocab)};
    s.positions = n;
    if (hp.n_expert > 0) {
        const std::size_t slots = n * hp.n_expert_used;
        s.moe_floats = {n * hp.n_expert, n * hp.n_embd, slots * hp.n_embd, slots};
        s.moe_slots = slots;
    }
    s.rope_freqs = w.rope_freqs ? std::size_t(w.rope_freqs.rows() * w.rope_freqs.cols()) : 0;
    std::vector<cuda::matmul_shape> shapes;
    for (const auto& L : w.layers)
        for (const tensor& t : matrices_of(L))
            if (t) shapes.push_back({t.type, t.rows(), t.cols()});
    // the head multiplies the last token only
    const cuda::matmul_shape head[1] = {{w.output.type, w.output.rows(), w.output.cols()}};
    s.matmul_scratch = std::max(cuda::matmul_scratch_bytes(shapes, n_batch), cuda::matmul_scratch_bytes(head, 1));
    if (n_batch > cuda::matvec_batch_max) s.blas_workspace = cublas_workspace_bytes;
    for (std::uint32_t il = 0; il < hp.n_layer; ++il)
        s.attention_scratch = std::max(s.attention_scratch, cuda::flash_attention_scratch_bytes(fa_params_for(hp, il), n_batch, n_ctx));
    return s;
}

inline std::size_t cuda_workspace_bytes(const hparams& hp, const weights& w, std::int64_t n_batch, std::int64_t n_ctx) {
    return cuda_workspace_for(hp, w, n_batch, n_ctx).bytes();
}

// The device sampler's piece of the arena of the GPU that holds the output head (when it samples
// there): its buffers and CUB's budget (backend/cuda/sampler.hpp).
inline std::size_t cuda_sampler_bytes(const hparams& hp) { return arena::padded(cuda::sampler_device_bytes(hp.n_vocab)); }

}  // namespace model
STRATA_NAMESPACE_END
