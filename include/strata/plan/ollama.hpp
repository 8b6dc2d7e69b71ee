// strata/plan/ollama.hpp — `--estimator ollama-0.11.3`: how many layers Ollama 0.11.3 would
// put on the GPU(s) and how much memory it would reserve, from the GGUF file alone.
//
// A restatement of Ollama's EstimateGPULayers (llm/memory.go) on top of its GraphSize
// (plan/ollama_graph.hpp), so that Strata can print the numbers of Ollama's
// `msg=offload library=cuda layers.model=... memory.required.full=...` log line for a model and
// a card without Ollama. The rules, in the order Ollama applies them:
//
//   1. Context: num_ctx is raised to 8192 for gpt-oss; the cache holds num_ctx × num_parallel
//      tokens; the graph batch is min(that, num_batch).
//   2. KV type: the requested cache type is honoured only with flash attention on, a model that
//      supports it (not an embedding model; key_length == value_length) and GPUs that do;
//      only f16, q8_0 and q4_0 are known. Otherwise f16.
//   3. Per layer: the tensors of "blk.N" plus that layer's KV. The output layer is output_norm
//      plus output (or, for tied embeddings, token_embd, which Ollama then budgets as the
//      output); token_embd itself otherwise stays on the CPU and is in no figure.
//   4. Graph: the architecture's partial/full formula; without one, partial =
//      (max heads / min kv heads) × kv_total / 6 and full = partial. Metal uses the full size
//      for both, several GPUs the partial size for both.
//   5. A GPU takes part only if its free memory holds overhead + max(partial, full) graph +
//      its minimum (457 MiB for CUDA and ROCm, 512 MiB for Metal) + two layers (blk.0's size:
//      the one-layer buffer and at least one layer). Each that does is charged minimum + one
//      layer (the buffer) up front.
//   6. Layers are placed from the last block down to blk.0, layer i on the (i mod n)-th GPU
//      still in the running, while free > overhead + charged + max(partial, full) + layer; a
//      GPU that fails drops out. num_gpu ≥ 0 stops placing after that many layers (the
//      output counts as one). What is not placed is overflow.
//   7. The output layer (number block_count) goes last, on the (placed mod n)-th GPU, if it
//      fits by the same rule.
//   8. Each GPU that holds a layer is charged the full graph when all block_count + 1 layers
//      are on GPUs, the partial graph otherwise.
//   9. required.partial = what the GPUs are charged (0 when no layer fits), required.full =
//      that plus the overflow; weights.repeating = the blk.N tensors, weights.nonrepeating =
//      the output layer, weights.total their sum.
//
// All sizes are bytes; human_bytes2() prints them as Ollama's log does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/core/json.hpp"
#include "strata/gguf/file.hpp"
#include "strata/plan/ollama_graph.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan::ollama {

// The memory a library's runtime keeps for itself on each GPU (Ollama's GpuInfo.MinimumMemory).
inline std::uint64_t minimum_memory(std::string_view library) noexcept {
    if (library == "cuda" || library == "rocm") return 457 * mib;
    if (library == "metal") return 512 * mib;
    return 0;  // cpu, oneapi, anything else
}

struct gpu_info {
    std::string id;
    std::uint64_t free_bytes = 0, total_bytes = 0;
    std::string library = "cuda";
    std::optional<std::uint64_t> minimum_bytes;  // unset: minimum_memory(library)
};

// Ollama 0.11.3's num_ctx when neither the request nor OLLAMA_CONTEXT_LENGTH sets one.
// (options keeps 2048, the value the rest of Strata's tools default to.)
inline constexpr std::int64_t ollama_default_num_ctx = 4096;

struct options {
    std::int64_t num_ctx = 2048, num_batch = 512, num_parallel = 1;
    ggml_type kv_type = ggml_type::f16;  // OLLAMA_KV_CACHE_TYPE
    bool flash_attention = false;        // OLLAMA_FLASH_ATTENTION
    int num_gpu = -1;                    // -1 = as many layers as fit
    std::uint64_t gpu_overhead = 0;      // OLLAMA_GPU_OVERHEAD, per GPU
    std::vector<gpu_info> gpus;          // one library; empty = CPU only
};

// The fields of Ollama's "offload to <library>" log line, in bytes, and the placement.
struct estimate {
    std::int64_t num_ctx = 0;  // per sequence, as used (gpt-oss raised to 8192)
    std::int64_t context = 0;  // cache tokens: num_ctx × num_parallel
    std::int64_t batch = 0;    // graph batch: min(context, num_batch)
    std::string library;       // of the GPUs ("cpu" when none)
    int layers_requested = -1; // num_gpu
    int layers_model = 0, layers_offload = 0;
    std::vector<int> layers_per_gpu;             // per options.gpus entry (Ollama's tensor split)
    std::vector<std::uint64_t> memory_per_gpu;   // what each GPU is charged; empty when no layer fits
    std::vector<std::uint64_t> allocations;      // memory.required.allocations (always per GPU)
    std::vector<std::uint64_t> available;        // memory.available
    std::uint64_t gpu_overhead = 0;
    std::uint64_t required_full = 0, required_partial = 0, required_kv = 0, weights_total = 0,
                  weights_repeating = 0, weights_nonrepeating = 0, graph_full = 0, graph_partial = 0;
    std::uint64_t graph = 0;                     // the graph actually charged (full or partial; 0 when nothing offloads)
    ggml_type kv_type = ggml_type::f16;          // the cache type budgeted
    bool flash_attention = false;                // whether flash attention was in effect
    std::vector<std::uint64_t> kv_per_layer;     // per block
    std::vector<int> gpu_of_layer;  // per layer 0..block_count (block_count = output), -1 = CPU
};

namespace detail {

inline bool library_supports_flash_attention(std::string_view library) noexcept {
    return library == "cuda" || library == "rocm" || library == "metal" || library == "cpu";
}

inline void check_options(const options& o) {
    if (o.num_ctx <= 0) STRATA_THROW(errc::argument, gguf::detail::cat("num_ctx must be positive, not ", o.num_ctx));
    if (o.num_batch <= 0) STRATA_THROW(errc::argument, gguf::detail::cat("num_batch must be positive, not ", o.num_batch));
    if (o.num_parallel <= 0)
        STRATA_THROW(errc::argument, gguf::detail::cat("num_parallel must be positive, not ", o.num_parallel));
    if (o.num_ctx > (std::int64_t{1} << 32) || o.num_parallel > (std::int64_t{1} << 16))
        STRATA_THROW(errc::argument, gguf::detail::cat("num_ctx ", o.num_ctx, " × num_parallel ", o.num_parallel,
                                                        " is beyond any cache Ollama could allocate"));
    if (o.num_gpu < -1) STRATA_THROW(errc::argument, gguf::detail::cat("num_gpu must be -1 (auto) or >= 0, not ", o.num_gpu));
    for (const gpu_info& g : o.gpus)
        if (g.library != o.gpus.front().library)
            STRATA_THROW(errc::argument, gguf::detail::cat("GPUs of one estimate share a library: '", g.id, "' is ", g.library,
                                                             ", '", o.gpus.front().id, "' is ", o.gpus.front().library));
}

}  // namespace detail

// Ollama 0.11.3's EstimateGPULayers for file F with options O.
inline estimate estimate_gpu_layers(const gguf::file& f, const options& o) {
    detail::check_options(o);
    const model_facts m = read_model_facts(f);
    const std::vector<gpu_info>& gpus = o.gpus;
    const std::size_t n_blocks = static_cast<std::size_t>(m.block_count);

    estimate e;
    e.library = gpus.empty() ? "cpu" : gpus.front().library;
    e.layers_requested = o.num_gpu;
    e.layers_model = static_cast<int>(m.block_count) + 1;
    e.gpu_overhead = o.gpu_overhead;
    e.num_ctx = m.is_gptoss() ? std::max<std::int64_t>(o.num_ctx, 8192) : o.num_ctx;
    e.context = e.num_ctx * o.num_parallel;
    e.batch = std::min(e.context, o.num_batch);
    for (const gpu_info& g : gpus) e.available.push_back(g.free_bytes);

    const bool fa_model = !m.has_pooling_type && m.key_length != 0 && m.value_length != 0 && m.key_length == m.value_length;
    e.flash_attention = o.flash_attention && fa_model && detail::library_supports_flash_attention(e.library);
    const bool known_kv = o.kv_type == ggml_type::f16 || o.kv_type == ggml_type::q8_0 || o.kv_type == ggml_type::q4_0;
    e.kv_type = e.flash_attention && known_kv ? o.kv_type : ggml_type::f16;

    const graph_size gs = compute_graph_size(m, static_cast<std::uint64_t>(e.context), static_cast<std::uint64_t>(e.batch),
                                             static_cast<std::uint64_t>(o.num_parallel), e.kv_type);
    e.kv_per_layer = gs.kv;
    for (const std::uint64_t x : gs.kv) e.required_kv += x;

    std::uint64_t partial = gs.partial, full = gs.full;
    if (partial == 0) partial = m.heads_max / std::max<std::uint64_t>(m.kv_heads_min, 1) * e.required_kv / 6;
    if (full == 0) full = partial;
    if (e.library == "metal") {
        partial = full;  // no partial-offload overhead on unified memory
    } else if (gpus.size() > 1) {
        full = partial;
    }
    e.graph_partial = partial;
    e.graph_full = full;
    const std::uint64_t graph_reserve = std::max(partial, full);

    // The one-layer buffer: blk.0 with its cache (without a blk.0, Ollama still counts its cache).
    std::uint64_t layer_size = m.layer("blk.0") + gs.kv[0];
    const std::uint64_t output_size = m.layer("output_norm") + (m.has_layer("output") ? m.layer("output") : m.layer("token_embd"));
    e.weights_nonrepeating = output_size;

    const std::uint64_t overhead = o.gpu_overhead;
    std::vector<std::uint64_t> alloc(gpus.size(), 0);
    std::vector<int> counts(gpus.size(), 0);
    std::vector<std::size_t> in_running;  // indices of GPUs that can still take layers
    for (std::size_t i = 0; i < gpus.size(); ++i) {
        const std::uint64_t minimum = gpus[i].minimum_bytes.value_or(minimum_memory(gpus[i].library));
        if (gpus[i].free_bytes < overhead + graph_reserve + minimum + 2 * layer_size) continue;
        in_running.push_back(i);
        alloc[i] += minimum + layer_size;  // the graph is added once full vs partial is known
    }

    e.gpu_of_layer.assign(n_blocks + 1, -1);
    std::uint64_t overflow = 0;
    int placed = 0;
    const auto fits = [&](std::size_t g, std::uint64_t bytes) {
        return gpus[g].free_bytes > overhead + alloc[g] + graph_reserve + bytes;
    };
    for (std::size_t i = n_blocks; i-- > 0;) {
        // A missing blk.N keeps the previous layer's size (Ollama's "inconsistent layer sizes" rule).
        const std::string name = gguf::detail::cat("blk.", i);
        if (m.has_layer(name)) {
            layer_size = m.layer(name) + gs.kv[i];
            e.weights_repeating += m.layer(name);
        }
        if (o.num_gpu >= 0 && placed >= o.num_gpu) {
            overflow += layer_size;
            continue;
        }
        for (std::size_t j = in_running.size(); j > 0; --j) {
            const std::size_t slot = i % j, g = in_running[slot];
            if (fits(g, layer_size)) {
                alloc[g] += layer_size;
                ++counts[g];
                ++placed;
                e.gpu_of_layer[i] = static_cast<int>(g);
                break;
            }
            in_running.erase(in_running.begin() + static_cast<std::ptrdiff_t>(slot));
        }
        if (in_running.empty()) overflow += layer_size;
    }
    bool fully_loaded = placed >= static_cast<int>(n_blocks);

    if (output_size > 0) {
        if (o.num_gpu < 0 || placed < o.num_gpu) {
            for (std::size_t j = in_running.size(); j > 0; --j) {
                const std::size_t g = in_running[static_cast<std::size_t>(placed) % j];
                if (fits(g, output_size)) {  // a GPU that cannot take the output stays in the list
                    alloc[g] += output_size;
                    ++counts[g];
                    ++placed;
                    e.gpu_of_layer[n_blocks] = static_cast<int>(g);
                    break;
                }
            }
        }
        if (placed < static_cast<int>(n_blocks) + 1) {
            fully_loaded = false;
            overflow += output_size;
        }
    }

    for (std::size_t i = 0; i < gpus.size(); ++i)
        if (counts[i] > 0) alloc[i] += fully_loaded ? full : partial;

    std::uint64_t charged = 0;
    for (const std::uint64_t a : alloc) charged += a;
    e.allocations = alloc;
    e.required_full = charged + overflow;
    e.weights_total = e.weights_repeating + e.weights_nonrepeating;

    // Ollama reports no offload (and no partial size) for the CPU library or when nothing fits.
    if (e.library == "cpu" || placed == 0) {
        e.layers_per_gpu.assign(gpus.size(), 0);
        e.gpu_of_layer.assign(n_blocks + 1, -1);
        return e;
    }
    e.layers_offload = placed;
    e.layers_per_gpu = counts;
    e.memory_per_gpu = alloc;
    e.required_partial = charged;
    e.graph = fully_loaded ? full : partial;
    return e;
}

// ---- output ----------------------------------------------------------------------------------

// Ollama's format.HumanBytes2: binary units, one decimal ("11.7 GiB", "291.0 MiB", "457.0 MiB",
// "512 B"). Go's %.1f rounds the exact double, as printf does.
inline std::string human_bytes2(std::uint64_t b) {
    char buf[48];
    const auto d = static_cast<double>(b);
    if (b >= gib) {
        std::snprintf(buf, sizeof buf, "%.1f GiB", d / static_cast<double>(gib));
    } else if (b >= mib) {
        std::snprintf(buf, sizeof buf, "%.1f MiB", d / static_cast<double>(mib));
    } else if (b >= kib) {
        std::snprintf(buf, sizeof buf, "%.1f KiB", d / static_cast<double>(kib));
    } else {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    }
    return buf;
}

// One JSON object with the log line's names as keys, sizes in bytes:
// {"library":"cuda","layers.requested":-1,"layers.model":25,"layers.offload":25,
//  "layers.split":[25],"memory.available":[...],"memory.gpu_overhead":0,
//  "memory.required.full":...,"memory.required.partial":...,"memory.required.kv":...,
//  "memory.required.allocations":[...],"memory.weights.total":...,"memory.weights.repeating":...,
//  "memory.weights.nonrepeating":...,"memory.graph.full":...,"memory.graph.partial":...,
//  "num_ctx":8192,"kv_cache_type":"f16","flash_attention":false,"gpu_of_layer":[...]}
inline void write_json(json_writer& w, const estimate& e) {
    const auto u64_array = [&](std::string_view k, const std::vector<std::uint64_t>& xs) {
        w.key(k).begin_array();
        for (const std::uint64_t x : xs) w.value(x);
        w.end_array();
    };
    const auto int_array = [&](std::string_view k, const std::vector<int>& xs) {
        w.key(k).begin_array();
        for (const int x : xs) w.value(x);
        w.end_array();
    };
    w.begin_object();
    w.member("estimator", "ollama-0.11.3");
    w.member("library", e.library);
    w.member("layers.requested", e.layers_requested);
    w.member("layers.model", e.layers_model);
    w.member("layers.offload", e.layers_offload);
    int_array("layers.split", e.layers_per_gpu);
    u64_array("memory.available", e.available);
    w.member("memory.gpu_overhead", e.gpu_overhead);
    w.member("memory.required.full", e.required_full);
    w.member("memory.required.partial", e.required_partial);
    w.member("memory.required.kv", e.required_kv);
    u64_array("memory.required.allocations", e.allocations);
    w.member("memory.weights.total", e.weights_total);
    w.member("memory.weights.repeating", e.weights_repeating);
    w.member("memory.weights.nonrepeating", e.weights_nonrepeating);
    w.member("memory.graph.full", e.graph_full);
    w.member("memory.graph.partial", e.graph_partial);
    w.member("num_ctx", e.num_ctx);
    w.member("num_batch", e.batch);
    w.member("kv_cache_type", type_name(e.kv_type));
    w.member("flash_attention", e.flash_attention);
    int_array("gpu_of_layer", e.gpu_of_layer);
    w.end_object();
}

inline std::string to_json(const estimate& e, int indent = 0) {
    std::string s;
    json_writer w(s, indent);
    write_json(w, e);
    return s;
}

// The attributes of Ollama's offload log line as it prints them (sizes through human_bytes2):
// library=cuda layers.requested=-1 layers.model=25 layers.offload=25 layers.split="" ...
inline std::string log_line(const estimate& e) {
    std::string s;
    const auto list = [](const std::vector<std::uint64_t>& xs) {
        std::string l = "\"[";
        for (std::size_t i = 0; i < xs.size(); ++i) {
            if (i) l += ' ';
            l += human_bytes2(xs[i]);
        }
        return l + "]\"";
    };
    const auto q = [](const std::string& x) { return gguf::detail::cat("\"", x, "\""); };
    std::string split;  // Ollama prints the split only for several GPUs
    if (e.layers_per_gpu.size() > 1)
        for (std::size_t i = 0; i < e.layers_per_gpu.size(); ++i) {
            if (i) split += ',';
            split += std::to_string(e.layers_per_gpu[i]);
        }
    s = gguf::detail::cat("library=", e.library, " layers.requested=", e.layers_requested, " layers.model=", e.layers_model,
                            " layers.offload=", e.layers_offload, " layers.split=", q(split), " memory.available=", list(e.available),
                            " memory.gpu_overhead=", q(human_bytes2(e.gpu_overhead)),
                            " memory.required.full=", q(human_bytes2(e.required_full)),
                            " memory.required.partial=", q(human_bytes2(e.required_partial)),
                            " memory.required.kv=", q(human_bytes2(e.required_kv)),
                            " memory.required.allocations=", list(e.allocations),
                            " memory.weights.total=", q(human_bytes2(e.weights_total)),
                            " memory.weights.repeating=", q(human_bytes2(e.weights_repeating)),
                            " memory.weights.nonrepeating=", q(human_bytes2(e.weights_nonrepeating)),
                            " memory.graph.full=", q(human_bytes2(e.graph_full)),
                            " memory.graph.partial=", q(human_bytes2(e.graph_partial)));
    return s;
}

}  // namespace plan::ollama
STRATA_NAMESPACE_END
