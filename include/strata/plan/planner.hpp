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
#pragma once

#include <string>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/plan/cost.hpp"
#include "strata/plan/cuda_devices.hpp"
#include "strata/plan/device.hpp"
#include "strata/plan/memory.hpp"
#include "strata/plan/native.hpp"
#include "strata/plan/ollama.hpp"
#include "strata/plan/plan.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// The devices C describes: the CPU first, then the GPUs (stated, else detected), then the sims.
inline std::vector<device_spec> devices_for(const config& c) {
    std::vector<device_spec> d;
    d.push_back(host_device(c.ram, c.cpu_bandwidth, c.cpu_bandwidth_source));
    std::vector<device_spec> gpus = c.gpus;
    if (gpus.empty() && c.detect) gpus = detect_cuda_devices();
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
                            " (activations, matmul and attention scratch)");
        p.reasons.push_back("device arenas align every tensor to " + std::to_string(arena_alignment) +
                            " B; CPU tensors stay in the memory map (exact bytes, counted as mapped RAM); fixed overhead " +
                            mib_string(cuda_fixed_overhead) + " per CUDA device (context, kernel images, cuBLAS workspace), " +
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

inline plan make_native(const config& c, const model_info& m, const std::vector<device_spec>& devs) {
    const native_result r = search(m, devs, c);
    plan p;
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
    if (best.label == "experts-on-cpu" && p.layers_split > 0)
        p.reasons.push_back("expert tensors of " + std::to_string(p.layers_split) + " blocks stay on the CPU: per byte of device "
                            "memory they buy the least speed, so they leave the device first and the attention, router and norms of "
                            "every block stay on it");
    for (std::size_t i = 0; i < c.tensor_overrides.size(); ++i)
        p.reasons.push_back("override '" + c.tensor_overrides[i].match.source() + "=" + c.tensor_overrides[i].device + "' pinned " +
                            std::to_string(r.pin_counts[i]) + " tensors");
    if (!p.fits)
        for (std::size_t d = 0; d < devs.size(); ++d)
            if (!best.acc.fits[d])
                p.reasons.push_back("does not fit: " + devs[d].name + " needs " + gib_string(best.acc.usage[d].total_bytes) +
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
