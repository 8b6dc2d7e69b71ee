// strata/plan/planner.hpp — the one entry: plan::make(file, config) -> plan.
//
//   auto f = strata::gguf::file::open("model.gguf");
//   strata::plan::config c;
//   c.gpus.push_back(strata::plan::parse_gpu("16GiB", 0));
//   strata::plan::plan p = strata::plan::make(f, c);   // p.layer_device, p.tensors, p.usage ...
//
// Native (the default): Strata's accounting (memory.hpp), cost model (cost.hpp) and search
// (native.hpp). `estimator::ollama_0_11_3`: the placement Ollama 0.11.3 would choose and the
// fields of its offload log line (ollama.hpp), priced by the same cost model so the two compare.
// Only tensor infos and metadata are read: a 13 GB file plans in milliseconds.
//
// A native plan that leaves blocks on the CPU beside a CUDA device may stream them for prefill
// (plan::stream, decide_stream below): large batches compute those blocks' matmuls on the GPU.
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/plan/cost.hpp"
#include "strata/plan/device.hpp"
#include "strata/plan/memory.hpp"
#include "strata/plan/native.hpp"
#include "strata/plan/ollama.hpp"
#include "strata/plan/plan.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// The devices C describes: the CPU first, then the stated GPUs, then the sims. The planner does
// not detect GPUs itself (config::detect is for its callers): whether detection finds any
// depends on how the translation unit was built (plan/cuda_devices.hpp), and an inline
// function shared by every unit must not.
inline std::vector<device_spec> devices_for(const config& c) {
    std::vector<device_spec> d;
    d.push_back(host_device(c.ram, c.cpu_bandwidth, c.cpu_bandwidth_source));
    std::vector<device_spec> gpus = c.gpus;
    for (std::size_t i = 0; i < gpus.size(); ++i) {
        if (gpus[i].kind != device_kind::cuda) STRATA_THROW(errc::argument, "config.gpus[" + std::to_string(i) + "] is not a CUDA device");
        if (gpus[i].name.empty()) gpus[i].name = "CUDA" + std::to_string(i);
        d.push_back(gpus[i]);
    }
    for (std::size_t i = 0; i < c.sims.size(); ++i) d.push_back(make_sim(c.sims[i], int(i), d[0].bandwidth, d[0].flops));
    for (std::size_t i = 1; i < d.size(); ++i) {
        d[i].reserve_bytes = c.reserve_bytes;
        if (d[i].free_bytes == 0) STRATA_THROW(errc::argument, "device " + d[i].name + " has no memory");
    }
    return d;
}

namespace detail {

inline void fill_from(plan& p, const model_info& m, const std::vector<device_spec>& devs, const placement& x) {
    p.devices = devs;
    p.usage = x.acc.usage;
    p.layer_device = x.acc.layer_device;
    p.fits = x.acc.all_fit;
    p.predicted = x.cost.predicted;
    p.tensors.clear();
    p.output_device = 0;
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        p.tensors.push_back({std::string(m.tensors[i].name), x.where[i], m.tensors[i].bytes});
        if (m.tensors[i].name == (m.tied ? "output_norm.weight" : "output.weight")) p.output_device = x.where[i];
    }
    const layer_counts lc = count_layers(m, devs, x.where);
    p.layers_total = static_cast<int>(m.hp.n_layer) + 1;
    p.layers_gpu = lc.gpu;
    p.layers_split = lc.split;
}

inline candidate to_candidate(const model_info& m, const std::vector<device_spec>& devs, const placement& x) {
    candidate k;
    k.label = x.label;
    k.predicted = x.cost.predicted;
    k.layers_gpu = count_layers(m, devs, x.where).gpu;
    k.fits = x.acc.all_fit;
    for (const device_usage& u : x.acc.usage) k.device_total_bytes.push_back(u.total_bytes);
    k.summary = summarize(m, devs, x.where);
    return k;
}

// Why: the constants and functions behind the figures, and what was decided.
inline void common_reasons(plan& p, const model_info& m, const config& c, bool native = true) {
    for (const model_tensor& t : m.tensors)
        if (t.kind == part::embed)
            p.reasons.push_back("token_embd.weight (" + mib_string(t.bytes) + ") stays on the CPU: the embedding gathers one row of n_embd "
                                "values per token, a device copy would spend its memory for almost no bandwidth" +
                                std::string(m.tied ? "; the output head is tied to it, so the head's matmul and output_norm run on the CPU too" : ""));
    if (native) {  // Ollama's figures come from its own formulas
        p.reasons.push_back("KV cache: model::kv_layer_bytes(hparams, num_ctx=" + std::to_string(m.n_ctx) + ", " +
                            std::string(type_name(m.kv_type)) + ") = " + mib_string(m.kv_per_layer / std::uint64_t(m.num_parallel)) +
                            " per block and sequence (every block holds num_ctx positions), on the device of the block's attention");
        if (m.kv_type == ggml_type::q4_0) p.reasons.push_back("KV type q4_0 is priced (row_bytes) but the engine runs only f16 and q8_0");
        p.reasons.push_back("compute: model::workspace_bytes(hparams, weights, n_batch=" + std::to_string(m.n_batch) + ", num_ctx=" +
                            std::to_string(m.n_ctx) + ", n_threads=" + std::to_string(m.n_threads) + ") = " + mib_string(m.workspace) +
                            " on every CPU or sim device that runs a part of the model (the CPU always); on a GPU "
                            "model::cuda_workspace_bytes(hparams, weights, n_batch, num_ctx) = " + mib_string(m.workspace_cuda) +
                            " (activations, matmul and attention scratch, cuBLAS's workspace), and on the GPU of the head "
                            "model::cuda_sampler_bytes(hparams) = " + mib_string(m.sampler_cuda) +
                            " (the device sampler's buffers and CUB's budget)");
        p.reasons.push_back("device arenas align every tensor to " + std::to_string(arena_alignment) +
                            " B; CPU tensors stay in the memory map (exact bytes, counted as mapped RAM); fixed overhead " +
                            mib_string(cuda_fixed_overhead) + " per CUDA device (context, kernel images), " +
                            mib_string(sim_fixed_overhead) + " per sim, plus the reserve of " + mib_string(c.reserve_bytes) +
                            " per accelerator; a plan fits with " + std::to_string(int(fit_margin * 100)) + "% of each device's free memory left");
    }
    for (const device_spec& d : p.devices) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s (%s): %.0f GB/s, %.1f TFLOP/s, %s free; %s", d.name.c_str(), d.model.c_str(),
                      d.bandwidth / 1e9, d.flops / 1e12, gib_string(d.free_bytes).c_str(), d.source.c_str());
        p.reasons.push_back(buf);
    }
    if (m.moe())
        p.reasons.push_back("MoE: " + std::to_string(m.n_expert_used) + " of " + std::to_string(m.n_expert) +
                            " experts are read per token, so decode reads " + tps_string(100.0 * m.expert_share()) +
                            "% of the expert bytes");
    if (native && c.flash_attention)
        p.reasons.push_back("flash attention: the engine's attention is one path whose memory does not depend on it; the flag "
                            "changes only Ollama's estimate");
    for (const std::string& n : m.notes) p.reasons.push_back(n);
}

// ---- prefill streaming ----------------------------------------------------------------------
// The matrices of the blocks a placement leaves on the CPU: what a prefill stream would send.
struct cpu_blocks {
    double bytes = 0;  // B: sent once per batch
    double flops = 0;  // F = 2 x active elements: FLOPs per token (experts at their share, as predict does)
};

inline cpu_blocks cpu_block_matrices(const model_info& m, const std::vector<int>& where) {
    cpu_blocks b;
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        const model_tensor& t = m.tensors[i];
        if (where[i] != 0 || !block_matrix(t)) continue;
        b.bytes += double(t.bytes);
        b.flops += 2.0 * double(t.elements) * (t.kind == part::experts ? m.expert_share() : 1.0);
    }
    return b;
}

// What decide_stream decided: the stream, or none; WHY says so (empty: nothing worth saying).
struct stream_decision {
    std::optional<prefill_stream> stream;
    std::string why;
};

// The stream for placement X of plan P (whose accounting reserved the stream's buffers on
// X.acc.stream_device when m.stream_reserve: memory.hpp). Per batch of n tokens the CPU's matmuls
// of its blocks take F n / cpu.flops; streamed, B / link + F n / gpu.flops (link =
// stream_link_bandwidth). They break even at n* = B / (link F (1/cpu.flops - 1/gpu.flops));
// min_batch = max(32, ceil(n*)).
inline stream_decision decide_stream(const plan& p, const config& c, const model_info& m, const std::vector<device_spec>& devs,
                                     const placement& x) {
    const bool any_cuda = std::any_of(devs.begin() + 1, devs.end(), [](const device_spec& d) { return d.kind == device_kind::cuda; });
    const cpu_blocks b = cpu_block_matrices(m, x.where);
    if (c.num_gpu == 0 || !any_cuda || b.flops <= 0) return {};  // the user asked for no GPU, there is none, or nothing to stream
    if (!c.stream_prefill) return {std::nullopt, "prefill: streaming the CPU blocks to a GPU is off (config.stream_prefill, --no-stream-prefill)"};
    char buf[640];
    const int d = x.acc.stream_device;
    if (d < 0) {
        if (m.n_batch < stream_min_batch_floor)
            std::snprintf(buf, sizeof buf, "prefill: no stream: batches of %lld tokens (num_batch) are below the %lld from which the CPU "
                          "blocks are ever streamed to a GPU", static_cast<long long>(m.n_batch),
                          static_cast<long long>(stream_min_batch_floor));
        else
            std::snprintf(buf, sizeof buf, "prefill: no stream: no CUDA device holds a block or the head, so the engine has no stage there");
        return {std::nullopt, buf};
    }
    const device_spec& cpu = devs[0];
    const device_spec& gpu = devs[static_cast<std::size_t>(d)];
    const double link = stream_link_bandwidth;
    if (!(gpu.flops > cpu.flops) || cpu.flops <= 0)
        return {std::nullopt, "prefill: no stream: " + gpu.name + "'s compute rate is not above the CPU's, sending weights never pays"};
    const double n_star = b.bytes / (link * b.flops * (1 / cpu.flops - 1 / gpu.flops));
    const auto min_batch = std::max<std::int64_t>(stream_min_batch_floor, static_cast<std::int64_t>(std::ceil(n_star)));
    if (m.n_batch < min_batch) {
        std::snprintf(buf, sizeof buf, "prefill: no stream: batches of %lld tokens (num_batch) are below the %lld from which "
                      "sending the CPU blocks' %s to %s at the assumed %.1f GB/s pays (break-even %.1f tokens, at least %lld)",
                      static_cast<long long>(m.n_batch), static_cast<long long>(min_batch), size_string(std::uint64_t(b.bytes)).c_str(),
                      gpu.name.c_str(), link / 1e9, n_star, static_cast<long long>(stream_min_batch_floor));
        return {std::nullopt, buf};
    }
    if (!x.acc.fits[static_cast<std::size_t>(d)])  // only where num_gpu forces a placement that does not fit
        return {std::nullopt, "prefill: no stream: its buffers (" + mib_string(m.stream_cuda) + ") do not fit on " + gpu.name +
                                  " beside the placement num_gpu forces"};
    // Prefill seconds per token: the plan's, less the CPU blocks' matmuls, plus their streamed
    // time at n = num_batch (the weights once per batch, the FLOPs at the GPU's rate). The CPU
    // waits on the stream, so the GPU's time adds. (The CPU's share of predict() is compute-bound
    // at batches this large: its weights over bandwidth x batch are far below its FLOPs.)
    const double batch = double(m.n_batch);
    const double before = p.predicted.prefill_tps > 0 ? 1 / p.predicted.prefill_tps : 0;
    const double after = std::max(0.0, before - b.flops / cpu.flops) + b.bytes / (link * batch) + b.flops / gpu.flops;
    prefill_stream st;
    st.device = d;
    st.min_batch = min_batch;
    st.bytes = m.stream_cuda;
    st.predicted = {p.predicted.decode_tps, after > 0 ? 1 / after : 0};
    std::snprintf(buf, sizeof buf, "prefill: batches of >= %lld tokens stream the CPU blocks' weights (%s) to %s at the assumed %.1f GB/s "
                  "(break-even %.1f tokens, at least %lld): %.1f tok/s prefill predicted against %.1f on the CPU; decode stays on "
                  "the CPU; its buffers: %s on %s (model::stream_shape_for, reserved by the search)",
                  static_cast<long long>(min_batch), size_string(std::uint64_t(b.bytes)).c_str(), gpu.name.c_str(), link / 1e9, n_star,
                  static_cast<long long>(stream_min_batch_floor), st.predicted.prefill_tps, p.predicted.prefill_tps,
                  mib_string(m.stream_cuda).c_str(), gpu.name.c_str());
    return {st, buf};
}

// The stream's buffers cost GPU memory, so a plan with them may hold fewer layers there and
// decode slower. The planner weighs the two plans by one turn of a chat: a prompt of num_batch
// tokens and turn_generated_tokens generated (an assumption about the use, stated in the reasons).
inline constexpr double turn_generated_tokens = 128;
inline double turn_seconds(const prediction& q, double prompt_tokens) {
    if (q.prefill_tps <= 0 || q.decode_tps <= 0) return 1e300;
    return prompt_tokens / q.prefill_tps + turn_generated_tokens / q.decode_tps;
}

// One native search's plan, before the stream and the closing reasons, and its placement.
struct native_choice {
    plan p;
    placement best;
};

inline native_choice choose_native(const config& c, const model_info& m, const std::vector<device_spec>& devs) {
    const native_result r = search(m, devs, c);
    native_choice out{plan{}, r.chosen};
    plan& p = out.p;
    fill_from(p, m, devs, r.chosen);
    for (const placement& x : r.candidates) p.candidates.push_back(to_candidate(m, devs, x));
    const placement& best = r.chosen;
    std::string why = "chose '" + best.label + "' (" + tps_string(best.cost.predicted.decode_tps) + " tok/s decode, " +
                      tps_string(best.cost.predicted.prefill_tps) + " tok/s prefill predicted, " +
                      std::to_string(best.cost.crossings) + " device boundaries per token)";
    if (c.num_gpu >= 0 && devs.size() > 1) why += ": num_gpu=" + std::to_string(c.num_gpu) + " forces the layer count";
    else if (r.candidates.size() > 1)
        why += " over '" + r.candidates[1].label + "' (" + tps_string(r.candidates[1].cost.predicted.decode_tps) + " tok/s" +
               (r.candidates[1].acc.all_fit ? "" : ", does not fit") + ")" +
               (r.candidates[1].acc.all_fit && r.candidates[1].cost.predicted.decode_tps > best.cost.predicted.decode_tps
                    ? ": within the " + std::to_string(int(tie_tolerance * 100)) + "% tie margin the plan with more on accelerators wins"
                    : "");
    else if (devs.size() == 1) why += ": no accelerator";
    p.reasons.push_back(why);
    p.reasons.push_back("placement: " + summarize(m, devs, best.where));
    if (c.experts_on_cpu && m.moe())
        p.reasons.push_back("experts_on_cpu: the FFN half (norm, router, experts) of every block stays on the CPU"
                            " (--cpu-moe), its attention may go to a GPU");
    else if (best.label == "experts-on-cpu" && p.layers_split > 0)
        p.reasons.push_back("the FFN halves (norm, router, experts) of " + std::to_string(p.layers_split) + " blocks stay on the CPU: "
                            "experts are read at expert_used_count / expert_count per token, so per byte of device memory they buy "
                            "the least speed; they leave the device first and every block's attention stays on it");
    for (std::size_t i = 0; i < c.tensor_overrides.size(); ++i)
        p.reasons.push_back("override '" + c.tensor_overrides[i].match.source() + "=" + c.tensor_overrides[i].device + "' pinned " +
                            std::to_string(r.pin_counts[i]) + " tensors");
    return out;
}

// The native plan: the search without the stream's buffers and, where a stream may go, once
// more with them reserved; the plan with the stream is kept when a turn (turn_seconds) is shorter
// with it.
inline plan make_native(const config& c, const model_info& m, const std::vector<device_spec>& devs) {
    model_info plain = m;
    plain.stream_reserve = false;
    native_choice chosen = choose_native(c, plain, devs);
    std::string why;
    if (!m.stream_reserve) {
        why = decide_stream(chosen.p, c, plain, devs, chosen.best).why;
    } else {
        native_choice with = choose_native(c, m, devs);
        const stream_decision s = decide_stream(with.p, c, m, devs, with.best);
        why = s.why;
        if (s.stream) {
            const double n = double(m.n_batch);
            const double t_with = turn_seconds(s.stream->predicted, n), t_without = turn_seconds(chosen.p.predicted, n);
            char buf[320];
            std::snprintf(buf, sizeof buf, "; a turn of %lld prompt and %.0f generated tokens takes %.3g s with it (%d layers on "
                          "accelerators) against %.3g s without (%d)", static_cast<long long>(m.n_batch), turn_generated_tokens,
                          t_with, with.p.layers_gpu, t_without, chosen.p.layers_gpu);
            if (t_with < t_without) {
                chosen = std::move(with);
                chosen.p.stream = *s.stream;
                why += buf;
            } else {
                why = "prefill: no stream: its buffers would leave blocks to the CPU" + std::string(buf);
            }
        }
    }
    plan p = std::move(chosen.p);
    if (!why.empty()) p.reasons.push_back(why);
    if (!p.fits)
        for (std::size_t d = 0; d < devs.size(); ++d)
            if (p.usage[d].total_bytes > budget(devs[d]))
                p.reasons.push_back("does not fit: " + devs[d].name + " needs " + gib_string(p.usage[d].total_bytes) +
                                    ", its budget is " + gib_string(budget(devs[d])));
    common_reasons(p, m, c);
    return p;
}

inline plan make_ollama(const gguf::file& f, const config& c, const std::vector<device_spec>& devs) {
    ollama::options o;
    o.num_ctx = c.num_ctx;
    o.num_batch = c.num_batch;
    o.num_parallel = c.num_parallel;
    o.kv_type = c.kv_type;
    o.flash_attention = c.flash_attention;
    o.num_gpu = c.num_gpu;
    o.gpu_overhead = c.reserve_bytes;
    std::vector<int> gpu_device;  // options.gpus index -> device index
    for (std::size_t d = 1; d < devs.size(); ++d) {
        if (devs[d].kind != device_kind::cuda)
            STRATA_THROW(errc::argument, "the ollama-0.11.3 estimator plans CUDA GPUs only; " + devs[d].name + " is a " +
                                             std::string(to_string(devs[d].kind)) + " device (use the native estimator)");
        o.gpus.push_back({devs[d].name, devs[d].free_bytes, devs[d].total_bytes, "cuda", std::nullopt});
        gpu_device.push_back(int(d));
    }
    if (!c.tensor_overrides.empty())
        STRATA_THROW(errc::argument, "tensor overrides (-ot) are not part of Ollama 0.11.3's estimate (use the native estimator)");
    const ollama::estimate e = ollama::estimate_gpu_layers(f, o);
    config at_ollama_ctx = c;  // the cost model prices the cache Ollama sized (gpt-oss: 8192)
    at_ollama_ctx.num_ctx = e.num_ctx;
    const model_info m = read_model(f, at_ollama_ctx);
    const auto dev_of = [&](int g) { return g < 0 ? 0 : gpu_device[static_cast<std::size_t>(g)]; };
    std::vector<int> where(m.tensors.size(), 0);
    const auto nl = static_cast<std::size_t>(m.hp.n_layer);
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        const model_tensor& t = m.tensors[i];
        if (t.layer >= 0 && static_cast<std::size_t>(t.layer) < e.gpu_of_layer.size()) where[i] = dev_of(e.gpu_of_layer[static_cast<std::size_t>(t.layer)]);
        else if (t.kind == part::output && nl < e.gpu_of_layer.size()) where[i] = dev_of(e.gpu_of_layer[nl]);
    }
    plan p;
    const placement x = [&] {
        placement y;
        y.label = "ollama-0.11.3";
        y.acc = account(m, devs, where);
        y.cost = predict(m, devs, where, y.acc);
        y.where = where;
        return y;
    }();
    fill_from(p, m, devs, x);
    p.estimator = "ollama-0.11.3";
    // memory as Ollama budgets it: per GPU what it is charged; the CPU holds the rest
    for (std::size_t g = 0; g < gpu_device.size(); ++g) {
        device_usage& u = p.usage[static_cast<std::size_t>(gpu_device[g])];
        u = {};
        for (std::size_t i = 0; i < m.tensors.size(); ++i)
            if (where[i] == gpu_device[g]) u.weights_bytes += m.tensors[i].bytes;
        for (std::size_t l = 0; l < nl && l < e.kv_per_layer.size(); ++l)
            if (e.gpu_of_layer[l] == int(g)) u.kv_bytes += e.kv_per_layer[l];
        const std::uint64_t charged = g < e.memory_per_gpu.size() ? e.memory_per_gpu[g] : 0;
        if (charged) {
            u.compute_bytes = e.graph;
            const std::uint64_t parts = u.weights_bytes + u.kv_bytes + u.compute_bytes;
            u.overhead_bytes = charged > parts ? charged - parts : 0;  // minimum memory, the one-layer buffer, gpu_overhead
        }
        u.total_bytes = u.weights_bytes + u.kv_bytes + u.compute_bytes + u.overhead_bytes;
    }
    {
        device_usage& u = p.usage[0];
        u = {};
        for (std::size_t i = 0; i < m.tensors.size(); ++i)
            if (where[i] == 0) u.weights_bytes += m.tensors[i].bytes;
        for (std::size_t l = 0; l < nl && l < e.kv_per_layer.size(); ++l)
            if (e.gpu_of_layer[l] < 0) u.kv_bytes += e.kv_per_layer[l];
        u.total_bytes = u.weights_bytes + u.kv_bytes;
    }
    ollama_fields of;
    of.layers_model = e.layers_model;
    of.layers_offload = e.layers_offload;
    of.required_full = e.required_full;
    of.required_partial = e.required_partial;
    of.required_kv = e.required_kv;
    of.weights_total = e.weights_total;
    of.weights_repeating = e.weights_repeating;
    of.weights_nonrepeating = e.weights_nonrepeating;
    of.graph_full = e.graph_full;
    of.graph_partial = e.graph_partial;
    of.num_ctx = e.num_ctx;
    p.ollama = of;
    p.layers_gpu = e.layers_offload;
    p.candidates.push_back(to_candidate(m, devs, x));
    // Strata's own best whole-layer plan beside it
    const native_result r = search(m, devs, c);
    for (const placement& y : r.candidates)
        if (y.label == "layers-only") p.candidates.push_back(to_candidate(m, devs, y));
    p.reasons.push_back("Ollama 0.11.3's estimate: " + ollama::log_line(e));
    p.reasons.push_back("placement: " + summarize(m, devs, where) + "; predicted speeds from Strata's cost model on that placement");
    if (e.num_ctx != c.num_ctx)
        p.reasons.push_back("Ollama raises num_ctx to " + std::to_string(e.num_ctx) + " for this model; its figures use that");
    common_reasons(p, m, c, false);
    return p;
}

}  // namespace detail

// Plans model F under C. Reads tensor infos and metadata only.
inline plan make(const gguf::file& f, const config& c) {
    const std::vector<device_spec> devs = devices_for(c);
    const model_info m = read_model(f, c);
    plan p = c.estimator == estimator::native ? detail::make_native(c, m, devs) : detail::make_ollama(f, c, devs);
    p.model = !m.name.empty() ? m.name : f.path();
    p.arch = m.arch;
    p.num_ctx = p.ollama ? p.ollama->num_ctx : m.n_ctx;
    p.num_batch = m.n_batch;
    p.num_parallel = m.num_parallel;
    p.kv_type = m.kv_type;
    p.flash_attention = c.flash_attention;
    p.n_threads = m.n_threads;
    return p;
}

}  // namespace plan
STRATA_NAMESPACE_END
