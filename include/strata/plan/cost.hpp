// strata/plan/cost.hpp — predicted tokens/s of a placement.
//
// Decode is bandwidth-bound: one token's time is, per device, the bytes it reads over its
// bandwidth (every weight once; of the expert tensors only expert_used_count / expert_count;
// the KV cache as filled on average (sliding-window blocks: their window); the embedding's one row), plus a transfer at every
// boundary between devices along the forward (n_embd floats, and the logits back to the CPU
// for sampling), plus a fixed per-token cost. Prefill of a num_batch batch is, per device, the
// slower of its FLOPs (2 per active parameter and token) over its compute rate and its weight
// bytes (all experts: a batch touches them all) over bandwidth × batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/plan/device.hpp"
#include "strata/plan/memory.hpp"
#include "strata/plan/plan.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// PCIe 4.0 x16 moves 32 GB/s raw; pinned cudaMemcpy reaches about 25 GB/s.
inline constexpr double pcie_bandwidth = 25e9;
// A prefill stream (planner.hpp) sends the weights of the CPU's blocks to a GPU once per batch.
// They come from the pageable memory map, which the driver copies through pinned staging of its
// own: an ASSUMPTION of about half the pinned rate above. A GPU run should measure it
// (model::matmul_offload::bytes_sent over the time of a streamed prefill).
inline constexpr double stream_link_bandwidth = pcie_bandwidth / 2;
// (The floor of a stream's min_batch, llama.cpp's: memory.hpp, stream_min_batch_floor.)
// One small host<->device copy with its stream synchronisation: about 10 us.
inline constexpr double pcie_latency = 10e-6;
// Between two CPU backend instances (sim) a boundary is a memcpy and a pool hand-off: ~2 us.
inline constexpr double host_handoff_latency = 2e-6;
// Sampling over the vocabulary, the generation loop and thread wake-ups: ~150 us per token.
inline constexpr double per_token_overhead = 150e-6;
// The cache bytes a decode step reads per block: model_info::kv_read (memory.hpp, kv_read_share).

struct cost_breakdown {
    prediction predicted;
    double decode_s = 0;          // seconds per generated token
    double transfer_s = 0;        // of which boundary transfers
    int crossings = 0;            // boundaries per token
    std::vector<double> read_bytes;  // per device, per generated token
};

inline cost_breakdown predict(const model_info& m, const std::vector<device_spec>& devs, const std::vector<int>& where,
                              const accounting& a) {
    const std::size_t nd = devs.size();
    cost_breakdown c;
    c.read_bytes.assign(nd, 0);
    std::vector<double> batch_bytes(nd, 0), flops(nd, 0);  // prefill: bytes per batch, FLOPs per token
    const double share = m.expert_share();
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        const model_tensor& t = m.tensors[i];
        const auto d = static_cast<std::size_t>(where[i]);
        double read = double(t.bytes), active = double(t.elements);
        if (t.kind == part::experts) { read *= share; active *= share; }
        if (t.kind == part::embed) {  // a row gather; tied: the head reads it all, on the CPU
            read = double(t.bytes) / double(std::max<std::uint64_t>(1, t.rows));
            active = 0;
            if (m.tied) { read += double(t.bytes); active = double(t.elements); }
        }
        c.read_bytes[d] += read;
        flops[d] += 2 * active;
        batch_bytes[d] += t.kind == part::embed && !m.tied ? 0 : double(t.bytes);
    }
    for (std::size_t l = 0; l < a.layer_device.size() && l < m.kv_read.size(); ++l)
        c.read_bytes[static_cast<std::size_t>(a.layer_device[l])] += double(m.kv_read[l]);

    // boundaries along the forward: CPU (embedding) -> blocks -> head -> CPU (sampling)
    const double host_bw = devs[0].bandwidth;
    const double act = 4.0 * m.hp.n_embd;
    double per_batch_s = 0, per_token_bytes_s = 0;  // prefill: once per batch, once per token of it
    int at = 0;
    // ONCE: the copy happens once per batch in prefill (the logits of its last token)
    auto step = [&](int next, double bytes, bool once = false) {
        if (next == at) return;
        const bool pcie = devs[static_cast<std::size_t>(at)].kind == device_kind::cuda ||
                          devs[static_cast<std::size_t>(next)].kind == device_kind::cuda;
        const double latency = pcie ? pcie_latency : host_handoff_latency;
        const double copy = bytes / (pcie ? pcie_bandwidth : host_bw);
        c.transfer_s += latency + copy;
        per_batch_s += latency + (once ? copy : 0);
        per_token_bytes_s += once ? 0 : copy;
        ++c.crossings;
        at = next;
    };
    for (std::size_t l = 0; l < a.attn_stage.size(); ++l) {
        step(a.attn_stage[l], act);
        step(a.ffn_stage[l], act);
    }
    step(a.output_stage, act);
    step(0, 4.0 * m.hp.n_vocab, true);  // the logits back to the CPU for sampling

    double seconds = per_token_overhead + c.transfer_s, prefill = 0;
    const double batch = double(m.n_batch);
    for (std::size_t d = 0; d < nd; ++d) {
        if (devs[d].bandwidth > 0) seconds += c.read_bytes[d] / devs[d].bandwidth;
        const double compute = devs[d].flops > 0 ? flops[d] / devs[d].flops : 0;
        const double memory = devs[d].bandwidth > 0 ? batch_bytes[d] / (devs[d].bandwidth * batch) : 0;
        prefill += std::max(compute, memory);
    }
    prefill += per_token_bytes_s + per_batch_s / batch + per_token_overhead / batch;
    c.decode_s = seconds;
    c.predicted.decode_tps = seconds > 0 ? 1.0 / seconds : 0;
    c.predicted.prefill_tps = prefill > 0 ? 1.0 / prefill : 0;
    return c;
}

}  // namespace plan
STRATA_NAMESPACE_END
