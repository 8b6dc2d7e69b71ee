// strata/plan/plan.hpp — what the planner decides and the engine executes as given: for every
// tensor its device, per device what it holds, the predicted speed, the plans weighed, and why.
//
// A plan is a value: to_json writes it (strata-plan --json), from_json reads it back
// (strata-chat --plan FILE.json), check_matches says whether it belongs to a model file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/core/json.hpp"
#include "strata/core/json_read.hpp"
#include "strata/gguf/file.hpp"
#include "strata/plan/device.hpp"
#include "strata/plan/pattern.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

enum class estimator { native, ollama_0_11_3 };

constexpr std::string_view to_string(estimator e) noexcept {
    return e == estimator::native ? "native" : "ollama-0.11.3";
}
inline estimator estimator_from_name(std::string_view s) {
    if (s == "native") return estimator::native;
    if (s == "ollama-0.11.3" || s == "ollama") return estimator::ollama_0_11_3;
    STRATA_THROW(errc::argument, "estimator '" + std::string(s) + "': expected native or ollama-0.11.3");
}

// What to plan for: the run (Ollama's option names), the devices, the user's overrides.
struct config {
    std::int64_t num_ctx = 2048;     // positions per sequence (the engine's default, Ollama's num_ctx)
    std::int64_t num_batch = 512;    // prompt tokens per forward pass
    std::int64_t num_parallel = 1;   // sequences, each with its own cache and workspace
    ggml_type kv_type = ggml_type::f16;  // f16, q8_0 (run by the engine), q4_0 (priced only)
    bool flash_attention = false;    // Ollama's estimate depends on it; the engine's attention does not
    int n_threads = 0;               // CPU threads (0: one per hardware thread), sizes attention scratch

    // Devices. The CPU is always there: `ram` states its memory (else detected), `cpu_bandwidth`
    // its read rate (else the generic table entry). `gpus` / `sims` state devices for what-if
    // planning. `detect` asks the caller to fill `gpus`, when empty, with the GPUs there are:
    // plan_at_load with the engine's, strata-plan with plan::detect_cuda_devices().
    std::optional<std::uint64_t> ram;
    std::optional<double> cpu_bandwidth;
    std::string cpu_bandwidth_source = "stated";  // or "measured (...)" after probe_read_bandwidth
    std::vector<device_spec> gpus;
    std::vector<std::uint64_t> sims;
    bool detect = true;
    std::uint64_t reserve_bytes = 0;  // kept free on every accelerator (OLLAMA_GPU_OVERHEAD)

    int num_gpu = -1;                               // layers on accelerators, Ollama's semantics (-1: auto)
    bool stream_prefill = true;                     // let large prefill batches stream CPU blocks to a GPU
    // llama.cpp's --cpu-moe: the FFN half (norm, router, experts) of every MoE block stays on
    // the CPU, its attention may go to a GPU.
    bool experts_on_cpu = false;
    std::vector<tensor_override> tensor_overrides;  // "-ot": first match wins
    plan::estimator estimator = estimator::native;
};

struct device_usage {
    std::uint64_t weights_bytes = 0, kv_bytes = 0, compute_bytes = 0, overhead_bytes = 0, total_bytes = 0;
};

struct prediction {
    double decode_tps = 0, prefill_tps = 0;
};

struct tensor_place {
    std::string name;
    int device = 0;           // index into plan::devices
    std::uint64_t bytes = 0;  // the tensor's bytes in the file
};

struct candidate {
    std::string label;  // "layers-only", "experts-on-cpu", "cpu-only", ...
    prediction predicted;
    int layers_gpu = 0;
    bool fits = true;
    std::vector<std::uint64_t> device_total_bytes;  // per device
    std::string summary;                            // what it placed where, one line
};

// The fields of Ollama's `offload` log line, under their names, in bytes (--estimator ollama-0.11.3).
struct ollama_fields {
    std::int64_t layers_model = 0, layers_offload = 0;
    std::uint64_t required_full = 0, required_partial = 0, required_kv = 0, weights_total = 0,
                  weights_repeating = 0, weights_nonrepeating = 0, graph_full = 0, graph_partial = 0;
    std::int64_t num_ctx = 0;
};

// Prefill streaming (model/prefill_stream.hpp): batches of at least min_batch tokens compute the
// matmuls of the blocks left on the CPU on devices[device], each weight sent there per batch;
// decode stays on the CPU. device -1: off.
struct prefill_stream {
    int device = -1;
    std::int64_t min_batch = 0;
    std::uint64_t bytes = 0;  // its buffers on that device (part of that device's compute_bytes)
    prediction predicted;     // the plan's prediction with the stream (plan::predicted is without)
};

struct plan {
    std::string model;      // general.name, else the file name
    std::string arch;
    std::string estimator = "native";
    std::int64_t num_ctx = 0, num_batch = 0, num_parallel = 1;
    ggml_type kv_type = ggml_type::f16;
    bool flash_attention = false;
    int n_threads = 1;

    std::vector<device_spec> devices;   // devices[0] is the CPU
    std::vector<device_usage> usage;    // per device
    std::vector<int> layer_device;      // per block: the device of its attention and its KV cache
    int output_device = 0;              // the device of output.weight / output_norm
    std::vector<tensor_place> tensors;  // every tensor of the file, in file order
    int layers_total = 0;               // blocks + the output head (as Ollama counts)
    int layers_gpu = 0;                 // of those, entirely on accelerators
    int layers_split = 0;               // blocks split between devices (experts apart)
    bool fits = true;                   // every device within its memory (less reserve and margin)
    prediction predicted;
    prefill_stream stream;              // off unless the planner found it faster
    std::vector<candidate> candidates;  // the chosen one first
    std::vector<std::string> reasons;
    std::optional<ollama_fields> ollama;

    std::uint64_t total_bytes() const noexcept {
        std::uint64_t t = 0;
        for (const device_usage& u : usage) t += u.total_bytes;
        return t;
    }
    std::uint64_t accelerator_bytes() const noexcept {
        std::uint64_t t = 0;
        for (std::size_t d = 0; d < devices.size() && d < usage.size(); ++d)
            if (devices[d].is_accelerator()) t += usage[d].total_bytes;
        return t;
    }
};

// ---- JSON ---------------------------------------------------------------------------------
namespace detail {

inline void write_prediction(json_writer& w, const prediction& p) {
    w.begin_object().member("decode_tps", p.decode_tps).member("prefill_tps", p.prefill_tps).end_object();
}

}  // namespace detail

inline std::string to_json(const plan& p, int indent = 2) {
    std::string out;
    json_writer w(out, indent);
    w.begin_object();
    w.member("model", p.model).member("arch", p.arch).member("estimator", p.estimator);
    w.key("config").begin_object();
    w.member("num_ctx", p.num_ctx).member("num_batch", p.num_batch).member("num_parallel", p.num_parallel);
    w.member("kv_type", type_name(p.kv_type)).member("flash_attention", p.flash_attention).member("n_threads", p.n_threads);
    w.end_object();
    w.key("devices").begin_array();
    for (std::size_t d = 0; d < p.devices.size(); ++d) {
        const device_spec& s = p.devices[d];
        const device_usage u = d < p.usage.size() ? p.usage[d] : device_usage{};
        w.begin_object();
        w.member("name", s.name).member("kind", to_string(s.kind)).member("model", s.model);
        w.member("memory_total_bytes", s.total_bytes).member("memory_free_bytes", s.free_bytes);
        w.member("reserve_bytes", s.reserve_bytes).member("bandwidth", s.bandwidth).member("flops", s.flops);
        w.member("source", s.source);
        w.member("weights_bytes", u.weights_bytes).member("kv_bytes", u.kv_bytes).member("compute_bytes", u.compute_bytes);
        w.member("overhead_bytes", u.overhead_bytes).member("total_bytes", u.total_bytes);
        w.end_object();
    }
    w.end_array();
    w.member("layers_total", p.layers_total).member("layers_gpu", p.layers_gpu).member("layers_split", p.layers_split);
    w.member("fits", p.fits);
    w.key("layer_device").begin_array();
    for (int d : p.layer_device) w.value(d);
    w.end_array();
    w.member("output_device", p.output_device);
    w.key("predicted");
    detail::write_prediction(w, p.predicted);
    w.key("prefill_stream").begin_object();
    w.member("device", p.stream.device).member("min_batch", p.stream.min_batch).member("bytes", p.stream.bytes);
    w.key("predicted");
    detail::write_prediction(w, p.stream.predicted);
    w.end_object();
    if (p.ollama) {
        const ollama_fields& o = *p.ollama;
        w.member("layers.model", o.layers_model).member("layers.offload", o.layers_offload);
        w.member("memory.required.full", o.required_full).member("memory.required.partial", o.required_partial);
        w.member("memory.required.kv", o.required_kv).member("memory.weights.total", o.weights_total);
        w.member("memory.weights.repeating", o.weights_repeating).member("memory.weights.nonrepeating", o.weights_nonrepeating);
        w.member("memory.graph.full", o.graph_full).member("memory.graph.partial", o.graph_partial);
        w.member("ollama.num_ctx", o.num_ctx);
    }
    w.key("candidates").begin_array();
    for (const candidate& c : p.candidates) {
        w.begin_object().member("label", c.label).member("layers_gpu", c.layers_gpu).member("fits", c.fits);
        w.member("summary", c.summary);
        w.key("predicted");
        detail::write_prediction(w, c.predicted);
        w.key("device_total_bytes").begin_array();
        for (std::uint64_t b : c.device_total_bytes) w.value(b);
        w.end_array().end_object();
    }
    w.end_array();
    w.key("reasons").begin_array();
    for (const std::string& r : p.reasons) w.value(r);
    w.end_array();
    w.key("tensors").begin_array();
    for (const tensor_place& t : p.tensors)
        w.begin_object().member("name", t.name).member("device", t.device).member("bytes", t.bytes).end_object();
    w.end_array();
    w.end_object();
    out += '\n';
    return out;
}

namespace detail {

// "blk.12.ffn_up_exps.weight" -> layer 12, rest "ffn_up_exps.weight"; -1 for a name outside the
// blocks. A number past 10^8 saturates there: beyond any block count, never an int overflow.
inline int block_of(std::string_view name, std::string_view* rest) {
    if (name.substr(0, 4) != "blk.") return -1;
    std::size_t i = 4;
    int n = 0;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i)
        if (n < 100'000'000) n = n * 10 + (name[i] - '0');
    if (i == 4 || i >= name.size() || name[i] != '.') return -1;
    *rest = name.substr(i + 1);
    return n;
}

inline prediction read_prediction(const json_value& v) {
    return {v.at("decode_tps").as_double("predicted.decode_tps"), v.at("prefill_tps").as_double("predicted.prefill_tps")};
}

// "prefill_stream": device -1 (off) or an accelerator's index, min_batch at least 1 when on.
inline prefill_stream read_stream(const json_value& v, std::int64_t n_dev) {
    prefill_stream s;
    const std::int64_t d = v.at("device").as_int("prefill_stream.device");
    if (d != -1 && (d < 1 || d >= n_dev))
        STRATA_THROW(errc::format, "plan: prefill_stream.device = " + std::to_string(d) + " names no accelerator (" +
                                       std::to_string(n_dev) + " devices; -1: off)");
    s.device = static_cast<int>(d);
    s.min_batch = v.at("min_batch").as_int("prefill_stream.min_batch");
    if (s.device != -1 && s.min_batch < 1)
        STRATA_THROW(errc::format, "plan: prefill_stream.min_batch = " + std::to_string(s.min_batch) + " (at least 1)");
    s.bytes = v.at("bytes").as_uint("prefill_stream.bytes");
    s.predicted = read_prediction(v.at("predicted"));
    return s;
}

inline ggml_type kv_type_named(std::string_view s) {
    for (ggml_type t : {ggml_type::f16, ggml_type::q8_0, ggml_type::q4_0})
        if (type_name(t) == s) return t;
    STRATA_THROW(errc::format, "plan: kv_type '" + std::string(s) + "' is not f16, q8_0 or q4_0");
}

}  // namespace detail

// Reads a plan that to_json wrote. Structure errors are errc::format naming the member.
inline plan from_json(std::string_view text) {
    const json_value j = json_value::parse(text);
    plan p;
    p.model = j.at("model").as_string("model");
    p.arch = j.at("arch").as_string("arch");
    p.estimator = j.at("estimator").as_string("estimator");
    const json_value& c = j.at("config");
    p.num_ctx = c.at("num_ctx").as_int("config.num_ctx");
    p.num_batch = c.at("num_batch").as_int("config.num_batch");
    p.num_parallel = c.at("num_parallel").as_int("config.num_parallel");
    p.kv_type = detail::kv_type_named(c.at("kv_type").as_string("config.kv_type"));
    p.flash_attention = c.at("flash_attention").as_bool("config.flash_attention");
    p.n_threads = static_cast<int>(c.at("n_threads").as_int("config.n_threads"));
    for (const json_value& d : j.at("devices").items("devices")) {
        device_spec s;
        s.name = d.at("name").as_string("devices[].name");
        s.kind = device_kind_from_name(d.at("kind").as_string("devices[].kind"));
        s.model = d.at("model").as_string("devices[].model");
        s.total_bytes = d.at("memory_total_bytes").as_uint("devices[].memory_total_bytes");
        s.free_bytes = d.at("memory_free_bytes").as_uint("devices[].memory_free_bytes");
        s.reserve_bytes = d.at("reserve_bytes").as_uint("devices[].reserve_bytes");
        s.bandwidth = d.at("bandwidth").as_double("devices[].bandwidth");
        s.flops = d.at("flops").as_double("devices[].flops");
        s.source = d.at("source").as_string("devices[].source");
        device_usage u;
        u.weights_bytes = d.at("weights_bytes").as_uint("devices[].weights_bytes");
        u.kv_bytes = d.at("kv_bytes").as_uint("devices[].kv_bytes");
        u.compute_bytes = d.at("compute_bytes").as_uint("devices[].compute_bytes");
        u.overhead_bytes = d.at("overhead_bytes").as_uint("devices[].overhead_bytes");
        u.total_bytes = d.at("total_bytes").as_uint("devices[].total_bytes");
        p.devices.push_back(std::move(s));
        p.usage.push_back(u);
    }
    if (p.devices.empty() || p.devices[0].kind != device_kind::cpu)
        STRATA_THROW(errc::format, "plan: devices[0] must be the CPU");
    const auto n_dev = static_cast<std::int64_t>(p.devices.size());
    auto device_index = [&](const json_value& v, const char* what) {
        const std::int64_t d = v.as_int(what);
        if (d < 0 || d >= n_dev)
            STRATA_THROW(errc::format, std::string("plan: ") + what + " = " + std::to_string(d) + " names no device (" +
                                           std::to_string(n_dev) + " devices)");
        return static_cast<int>(d);
    };
    p.layers_total = static_cast<int>(j.at("layers_total").as_int("layers_total"));
    p.layers_gpu = static_cast<int>(j.at("layers_gpu").as_int("layers_gpu"));
    p.layers_split = static_cast<int>(j.at("layers_split").as_int("layers_split"));
    p.fits = j.at("fits").as_bool("fits");
    for (const json_value& d : j.at("layer_device").items("layer_device")) p.layer_device.push_back(device_index(d, "layer_device[]"));
    p.output_device = device_index(j.at("output_device"), "output_device");
    p.predicted = detail::read_prediction(j.at("predicted"));
    if (const json_value* s = j.find("prefill_stream")) p.stream = detail::read_stream(*s, n_dev);  // absent (older files): off
    if (const json_value* lm = j.find("layers.model")) {
        ollama_fields o;
        o.layers_model = lm->as_int("layers.model");
        o.layers_offload = j.at("layers.offload").as_int("layers.offload");
        o.required_full = j.at("memory.required.full").as_uint("memory.required.full");
        o.required_partial = j.at("memory.required.partial").as_uint("memory.required.partial");
        o.required_kv = j.at("memory.required.kv").as_uint("memory.required.kv");
        o.weights_total = j.at("memory.weights.total").as_uint("memory.weights.total");
        o.weights_repeating = j.at("memory.weights.repeating").as_uint("memory.weights.repeating");
        o.weights_nonrepeating = j.at("memory.weights.nonrepeating").as_uint("memory.weights.nonrepeating");
        o.graph_full = j.at("memory.graph.full").as_uint("memory.graph.full");
        o.graph_partial = j.at("memory.graph.partial").as_uint("memory.graph.partial");
        if (const json_value* nc = j.find("ollama.num_ctx")) o.num_ctx = nc->as_int("ollama.num_ctx");
        p.ollama = o;
    }
    for (const json_value& cv : j.at("candidates").items("candidates")) {
        candidate k;
        k.label = cv.at("label").as_string("candidates[].label");
        k.layers_gpu = static_cast<int>(cv.at("layers_gpu").as_int("candidates[].layers_gpu"));
        k.fits = cv.at("fits").as_bool("candidates[].fits");
        k.summary = cv.at("summary").as_string("candidates[].summary");
        k.predicted = detail::read_prediction(cv.at("predicted"));
        for (const json_value& b : cv.at("device_total_bytes").items("candidates[].device_total_bytes"))
            k.device_total_bytes.push_back(b.as_uint("candidates[].device_total_bytes[]"));
        p.candidates.push_back(std::move(k));
    }
    for (const json_value& r : j.at("reasons").items("reasons")) p.reasons.push_back(r.as_string("reasons[]"));
    for (const json_value& t : j.at("tensors").items("tensors"))
        p.tensors.push_back({t.at("name").as_string("tensors[].name"), device_index(t.at("device"), "tensors[].device"),
                             t.at("bytes").as_uint("tensors[].bytes")});
    return p;
}

// Throws errc::argument, naming the first difference, unless P places exactly the tensors of F
// (every one once, with its size) and has one device entry per block.
inline void check_matches(const plan& p, const gguf::file& f) {
    auto fail = [&](const std::string& why) {
        STRATA_THROW(errc::argument, "the plan (for '" + p.model + "') does not match the model: " + why, f.path());
    };
    const auto file_tensors = f.tensors();
    if (p.tensors.size() != file_tensors.size())
        fail("it places " + std::to_string(p.tensors.size()) + " tensors, the file has " + std::to_string(file_tensors.size()));
    for (std::size_t i = 0; i < file_tensors.size(); ++i) {
        const gguf::tensor_info& t = file_tensors[i];
        const tensor_place& q = p.tensors[i];
        if (q.name != t.name) fail("tensor " + std::to_string(i) + " is '" + std::string(t.name) + "', the plan has '" + q.name + "'");
        if (q.bytes != t.n_bytes)
            fail("tensor '" + q.name + "' has " + std::to_string(t.n_bytes) + " bytes, the plan " + std::to_string(q.bytes));
        if (q.device < 0 || q.device >= int(p.devices.size())) fail("tensor '" + q.name + "' is on no device");
    }
    if (static_cast<int>(p.layer_device.size()) + 1 != p.layers_total)
        fail("layers_total " + std::to_string(p.layers_total) + " is not the " + std::to_string(p.layer_device.size()) +
             " blocks + the output");
    std::size_t blocks = 0;  // as read_model numbers them
    for (const gguf::tensor_info& t : file_tensors) {
        std::string_view rest;
        if (const int n = detail::block_of(t.name, &rest); n >= 0) blocks = std::max(blocks, std::size_t(n) + 1);
    }
    if (blocks != p.layer_device.size())
        fail("the file has " + std::to_string(blocks) + " blocks, the plan " + std::to_string(p.layer_device.size()));
}

}  // namespace plan
STRATA_NAMESPACE_END
