// strata/model/cpu_stage.hpp — the ops of the forward pass on a CPU backend (the host, or a sim
// device): what transformer.hpp calls for the layers placed on it.
//
// A stage is one device's part of a forward pass: its backend, its activations, and the ops of
// a layer over them. Every stage type offers the same members (see cuda_stage.hpp for the GPU's),
// so the forward pass is written once:
//   acts()                         the activation buffers (raw pointers in the stage's memory)
//   norm_rows, matmul, rope, scale, store_kv, attention, add, swiglu, geglu, softcap
//   route, gather_expert, scatter_expert, sum_expert_slots (MoE blocks)
//   host_x(), x_to_host, x_from_host      the residual stream crossing a device boundary
//   begin_segment, end_segment            around each run of consecutive work on the stage
//   logits()                              the last token's logits, readable on the host
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cpu/moe.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/backend/cpu/quantize_x86.hpp"
#include "strata/core/error.hpp"
#include "strata/core/half.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/prefill_stream.hpp"
#include "strata/model/weights.hpp"
#include "strata/model/workspace.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// Norm gains are read as floats by every backend.
inline const float* f32_data(const tensor& t, const char* what) {
    if (t.type != ggml_type::f32) STRATA_THROW(errc::unsupported, std::string(what) + ": norm weights must be f32");
    return static_cast<const float*>(t.data);
}

template <class Formats>
class cpu_stage {
public:
    // OFFLOAD, when given, computes the matmuls of batches of at least its min_batch() tokens
    // (prefill streaming, model/prefill_stream.hpp).
    cpu_stage(const cpu::backend& be, workspace& ws, const matmul_offload* offload = nullptr)
        : be_(&be), ws_(&ws), offload_(offload) {}

    std::int64_t n_batch() const noexcept { return ws_->n_batch; }
    activations acts() const noexcept { return views_of(*ws_); }

    // The residual stream lives in host memory here: a boundary is a copy.
    float* host_x() const noexcept { return ws_->x.data(); }
    void x_to_host(float* dst, std::size_t count) const { std::copy_n(ws_->x.data(), count, dst); }
    void x_from_host(const float* src, std::size_t count) const { std::copy_n(src, count, ws_->x.data()); }

    void begin_segment(std::int64_t /*n_tokens*/, std::int64_t /*pos0*/, int /*key*/) const noexcept {}
    void end_segment() const noexcept {}

    std::span<const float> logits() const noexcept { return ws_->logits; }

    void norm_rows(const tensor& w, const float* x, float* y, std::int64_t n, std::int64_t len, float eps) const {
        cpu::rms_norm_rows(x, f32_data(w, "norm"), y, n, len, eps);
    }

    void matmul(const tensor& W, const float* x, std::int64_t n, float* y) const {
        if (offload_ && n >= offload_->min_batch()) return offload_->matmul(W, x, n, y);
        const cpu::weight_view wv{W.type, W.data, W.rows(), W.cols(), W.row_bytes};
        cpu::matmul<Formats>(*be_, wv, x, n, y, cpu::aligned_scratch(ws_->mm_scratch));
    }

    // n_tokens x n_heads head vectors of head_dim, token t at position pos0 + t.
    void rope(float* x, std::int64_t n_tokens, std::int64_t n_heads, std::int64_t head_dim, std::int64_t pos0,
              const cpu::rope_params& rp) const {
        for (std::int64_t t = 0; t < n_tokens; ++t)
            for (std::int64_t hh = 0; hh < n_heads; ++hh) cpu::rope(x + (t * n_heads + hh) * head_dim, pos0 + t, rp);
    }

    void scale(float* x, std::int64_t n, float s) const { cpu::scale(x, n, s); }
    void add(float* x, const float* y, std::int64_t n) const { cpu::add(x, y, n); }
    void swiglu(float* g, const float* u, std::int64_t n) const { cpu::swiglu(g, u, g, n); }
    void geglu(float* g, const float* u, std::int64_t n) const { cpu::geglu(g, u, g, n); }
    void softcap(float* x, std::int64_t n, float c) const { cpu::softcap(x, n, c); }

    // The cache rows of positions pos0.., in the cache's type (Q8_0 with the activation
    // quantizer, as ggml-cpu converts rows it copies into a quantized cache).
    void store_kv(kv_layer& kv, std::int64_t pos0, std::int64_t n, const float* k, const float* v) const {
        for (std::int64_t t = 0; t < n; ++t) {
            std::byte* kd = kv.k.data() + std::size_t(pos0 + t) * kv.row_k_bytes;
            std::byte* vd = kv.v.data() + std::size_t(pos0 + t) * kv.row_v_bytes;
            const float* kt = k + t * kv.row_k;
            const float* vt = v + t * kv.row_v;
            if (kv.type == ggml_type::q8_0) {
                cpu::detail::quantize_row_q8_0_act_ref(kt, kd, kv.row_k);
                cpu::detail::quantize_row_q8_0_act_ref(vt, vd, kv.row_v);
                continue;
            }
            auto* k16 = reinterpret_cast<std::uint16_t*>(kd);
            auto* v16 = reinterpret_cast<std::uint16_t*>(vd);
            for (std::int64_t i = 0; i < kv.row_k; ++i) k16[i] = fp32_to_fp16(kt[i]);
            for (std::int64_t i = 0; i < kv.row_v; ++i) v16[i] = fp32_to_fp16(vt[i]);
        }
    }

    // MoE (backend/cpu/moe.hpp): the router's choice per token, then per expert the rows routed
    // to it in and out. The routing scratch follows the (n_batch, ...) part of its buffers.
    void route(const activations& a, std::int64_t n, int n_expert, int n_used) const {
        cpu::route_top_k(a.router, n, n_expert, n_used, a.expert_ids, a.expert_weights, a.router + ws_->n_batch * n_expert,
                         a.expert_ids + ws_->n_batch * n_used);
    }
    std::int64_t gather_expert(const activations& a, int expert, std::int64_t n, int n_used, std::int64_t n_embd) const {
        return cpu::gather_expert_rows(expert, a.expert_ids, n, n_used, a.h, n_embd, a.expert_slots, a.expert_in);
    }
    void scatter_expert(const activations& a, const float* y, std::int64_t rows, std::int64_t n_embd) const {
        cpu::scatter_expert_rows(y, rows, a.expert_slots, a.expert_weights, n_embd, a.slot_out);
    }
    void sum_expert_slots(const activations& a, std::int64_t n, int n_used, std::int64_t n_embd, float* out) const {
        cpu::sum_slots(a.slot_out, n, n_used, n_embd, out);
    }

    void attention(const float* q, std::int64_t n, std::int64_t pos0, const kv_layer& kv,
                   const cpu::attention_params& ap, float* out) const {
        const cpu::kv_view view{kv.type, kv.k.data(), kv.v.data(), kv.row_k, kv.row_v, kv.row_k_bytes, kv.row_v_bytes};
        cpu::attention(*be_, q, n, pos0, view, ap, out, ws_->att_scratch);
    }

private:
    const cpu::backend* be_;
    workspace* ws_;
    const matmul_offload* offload_ = nullptr;
};

}  // namespace model
STRATA_NAMESPACE_END
