// strata/plan/memory.hpp — Strata's own memory accounting: what each device holds for a given
// placement of tensors, from tensor infos and metadata alone (no tensor data is read).
//
//   weights  — the tensor bytes. On an accelerator each tensor is rounded up to arena_alignment
//              (its arena starts every tensor on that boundary); CPU tensors stay in the memory
//              map, so their exact bytes are counted as mapped RAM.
//   KV       — model::kv_layer_bytes(hparams, num_ctx, kv_type) per block and sequence, on the
//              device of the block's attention: the very function the session allocates with
//              (every block holds num_ctx positions today, sliding-window ones included).
//   compute  — model::workspace_bytes(hparams, weights, n_batch, num_ctx, n_threads) per
//              sequence on every CPU or sim device that runs a part of the model (the CPU
//              always: it gathers the embeddings), model::cuda_workspace_bytes(hparams,
//              weights, n_batch, num_ctx) on a GPU: the functions the session sizes them with;
//              the GPU of the output head adds model::cuda_sampler_bytes (it samples there).
//   stream   — model::stream_shape_for(weights, n_batch, cuda, cublas_workspace_bytes) per
//              sequence (model/prefill_stream.hpp): the buffers a prefill stream takes on a
//              GPU, part of that GPU's compute. Reserved during the search in every placement
//              that leaves a block on the CPU (else the greedy fill packs the GPU to its budget
//              and no stream fits after); the planner also searches without them and keeps
//              the plan whose chat turn is shorter (planner.hpp, make_native).
//   overhead — a fixed amount per kind (below, with the reason) plus the user's reserve.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/model/cuda_workspace.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/prefill_stream.hpp"
#include "strata/model/transformer.hpp"
#include "strata/model/weights.hpp"
#include "strata/plan/device.hpp"
#include "strata/plan/plan.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// Every tensor in a device arena starts on a 256-byte boundary: cudaMalloc's own alignment,
// and what coalesced 128-bit loads of any block format need.
inline constexpr std::uint64_t arena_alignment = 256;
// A CUDA device loses memory before Strata allocates anything: the context and the loaded kernel
// images take 300-500 MiB per process on current drivers (nvidia-smi with an idle context); the
// planner budgets 400 MiB. (cuBLAS's workspace is given from the arena: cuda_workspace.hpp.)
inline constexpr std::uint64_t cuda_fixed_overhead = 400 * mib;
// A simulated device is a CPU backend instance in this process: nothing beyond its buffers.
inline constexpr std::uint64_t sim_fixed_overhead = 0;
// A placement fits when its total leaves 2% of the device's free memory unused (arena
// fragmentation, allocations of the runtime that grow after load).
inline constexpr double fit_margin = 0.02;
// Decode reads the cache as filled so far; over a conversation that fills num_ctx, half of it
// (for the cost model; a sliding-window block reads at most its window).
inline constexpr double kv_read_share = 0.5;

inline std::uint64_t fixed_overhead(device_kind k) noexcept {
    return k == device_kind::cuda ? cuda_fixed_overhead : k == device_kind::sim ? sim_fixed_overhead : 0;
}
inline std::uint64_t align_up(std::uint64_t n, std::uint64_t a) noexcept { return (n + a - 1) / a * a; }

// llama.cpp offloads an op of a host layer from batches of this many tokens
// (GGML_OP_OFFLOAD_MIN_BATCH's default); a prefill stream's min_batch never goes below it.
inline constexpr std::int64_t stream_min_batch_floor = 32;

// ---- the model as the planner sees it -----------------------------------------------------
enum class part { embed, attention, ffn, experts, output, other };

struct model_tensor {
    std::string_view name;  // into the file's map
    int layer = -1;         // block, or -1
    part kind = part::other;
    std::uint64_t bytes = 0, elements = 0, rows = 1;
};

// The FFN half of a block (its ffn_* tensors: norm, router, dense or expert matrices), which an
// MoE block may place apart from its attention half; the engine runs each half where its
// tensors are (placement::from_plan).
inline bool ffn_half(const model_tensor& t) noexcept {
    return t.layer >= 0 && (t.kind == part::ffn || t.kind == part::experts);
}

struct model_info {
    std::string name, arch;
    model::hparams hp;
    bool engine_runs = false;       // the engine has a forward for this architecture
    std::uint32_t n_expert = 0, n_expert_used = 0;
    bool tied = false;              // no output.weight: the head multiplies by token_embd
    std::vector<model_tensor> tensors;  // file order
    std::int64_t n_ctx = 0, n_batch = 0, num_parallel = 1;
    int n_threads = 1;
    ggml_type kv_type = ggml_type::f16;
    std::uint64_t kv_per_layer = 0;  // kv_layer_bytes × num_parallel
    std::uint64_t workspace = 0;     // workspace_bytes × num_parallel (a CPU or sim device)
    std::uint64_t workspace_cuda = 0;  // cuda_workspace_bytes × num_parallel (a GPU)
    std::uint64_t sampler_cuda = 0;    // cuda_sampler_bytes × num_parallel (the GPU of the head samples there)
    std::uint64_t stream_cuda = 0;     // stream_shape_for(cuda).bytes() × num_parallel (a GPU a prefill stream goes to)
    bool stream_reserve = false;       // account() reserves stream_cuda where a stream may go (native, streaming allowed)
    std::vector<std::uint64_t> kv_read;  // per block: cache bytes one decode step reads (cost model)
    std::vector<std::string> notes;

    bool moe() const noexcept { return n_expert > 0; }
    double expert_share() const noexcept { return moe() ? double(n_expert_used) / double(n_expert) : 1.0; }
};

namespace detail {

inline std::uint32_t key_u32(const gguf::file& f, const std::string& key, std::uint32_t fallback) {
    const gguf::value* v = f.find(key);
    if (!v) return fallback;
    if (v->is_array()) {  // per-layer counts (some files): the largest
        std::uint32_t m = 0;
        if (v->element_type() == gguf::value_type::u32)
            for (std::uint32_t x : f.get_array<std::uint32_t>(key)) m = std::max(m, x);
        else if (v->element_type() == gguf::value_type::i32)
            for (std::int32_t x : f.get_array<std::int32_t>(key)) m = std::max(m, static_cast<std::uint32_t>(std::max(0, x)));
        return m ? m : fallback;
    }
    const std::int64_t x = f.get_integer(key);
    if (x < 0 || x > 0x7fffffff) STRATA_THROW(errc::format, "key '" + key + "' = " + std::to_string(x) + " is out of range", f.path());
    return static_cast<std::uint32_t>(x);
}

// Hyperparameters of an architecture the engine does not run, from the generic keys every
// llama.cpp architecture writes: enough to size its cache and workspace.
inline model::hparams generic_hparams(const gguf::file& f, const std::string& arch) {
    const std::string p = arch + ".";
    model::hparams h;
    h.name = std::string(f.get_or<std::string_view>("general.name", ""));
    h.n_layer = key_u32(f, p + "block_count", 0);
    if (h.n_layer == 0) STRATA_THROW(errc::missing, "key '" + p + "block_count' is missing", f.path());
    h.n_embd = key_u32(f, p + "embedding_length", 0);
    if (h.n_embd == 0) STRATA_THROW(errc::missing, "key '" + p + "embedding_length' is missing", f.path());
    h.n_ff = key_u32(f, p + "expert_feed_forward_length", key_u32(f, p + "feed_forward_length", 0));
    h.n_head = key_u32(f, p + "attention.head_count", 1);
    h.n_head_kv = key_u32(f, p + "attention.head_count_kv", h.n_head);
    h.head_dim_k = key_u32(f, p + "attention.key_length", h.n_embd / std::max(1u, h.n_head));
    h.head_dim_v = key_u32(f, p + "attention.value_length", h.head_dim_k);
    h.n_ctx_train = key_u32(f, p + "context_length", 0);
    const gguf::value* tokens = f.find("tokenizer.ggml.tokens");
    if (tokens && tokens->is_array()) h.n_vocab = static_cast<std::uint32_t>(tokens->size());
    else if (const gguf::tensor_info* e = f.find_tensor("token_embd.weight")) h.n_vocab = static_cast<std::uint32_t>(e->ne[1]);
    else h.n_vocab = key_u32(f, p + "vocab_size", 0);
    return h;
}

// The matrices the workspace is sized by, found under their generic names (attn_out for
// attn_output, the expert tensors for the dense FFN ones): a view with types and shapes only.
inline model::weights generic_weights(const gguf::file& f, const model::hparams& h) {
    auto view = [&](std::initializer_list<std::string> names) {
        model::tensor t;
        for (const std::string& n : names)
            if (const gguf::tensor_info* ti = f.find_tensor(n)) {
                t.info = ti;
                t.type = ti->type;
                t.ne[0] = static_cast<std::int64_t>(ti->ne[0]);
                t.ne[1] = static_cast<std::int64_t>(ti->ne[1]);
                t.row_bytes = row_bytes(ti->type, ti->ne[0]);
                return t;
            }
        return t;
    };
    model::weights w;
    w.token_embd = view({"token_embd.weight"});
    w.output = view({"output.weight", "token_embd.weight"});
    w.layers.resize(h.n_layer);
    for (std::uint32_t il = 0; il < h.n_layer; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        auto& L = w.layers[il];
        L.wq = view({b + "attn_q.weight", b + "attn_qkv.weight"});
        L.wk = view({b + "attn_k.weight"});
        L.wv = view({b + "attn_v.weight"});
        L.wo = view({b + "attn_output.weight", b + "attn_out.weight"});
        L.ffn_gate = view({b + "ffn_gate.weight", b + "ffn_gate_exps.weight"});
        L.ffn_up = view({b + "ffn_up.weight", b + "ffn_up_exps.weight"});
        L.ffn_down = view({b + "ffn_down.weight", b + "ffn_down_exps.weight"});
    }
    return w;
}

inline part classify(std::string_view name, int layer, std::string_view rest) {
    if (layer >= 0) {
        if (rest.find("_exps") != std::string_view::npos) return part::experts;
        if (rest.substr(0, 4) == "ffn_") return part::ffn;
        return part::attention;
    }
    if (name == "token_embd.weight") return part::embed;
    if (name.substr(0, 7) == "output." || name.substr(0, 11) == "output_norm") return part::output;
    return part::other;
}

}  // namespace detail

// Reads what the plan needs from the file's tensor infos and metadata.
inline model_info read_model(const gguf::file& f, const config& c) {
    if (c.num_ctx <= 0) STRATA_THROW(errc::argument, "num_ctx must be positive, not " + std::to_string(c.num_ctx));
    if (c.num_batch <= 0) STRATA_THROW(errc::argument, "num_batch must be positive, not " + std::to_string(c.num_batch));
    if (c.num_parallel <= 0) STRATA_THROW(errc::argument, "num_parallel must be positive, not " + std::to_string(c.num_parallel));
    if (c.kv_type != ggml_type::f16 && c.kv_type != ggml_type::q8_0 && c.kv_type != ggml_type::q4_0)
        STRATA_THROW(errc::argument, "KV cache type " + std::string(type_name(c.kv_type)) + ": expected f16, q8_0 or q4_0");
    model_info m;
    m.arch = std::string(f.get<std::string_view>("general.architecture"));
    m.n_ctx = c.num_ctx;
    m.n_batch = std::min(c.num_batch, c.num_ctx);  // as the session clamps it
    m.num_parallel = c.num_parallel;
    m.kv_type = c.kv_type;
    if (c.n_threads > 0) {
        m.n_threads = c.n_threads;
    } else {
        const unsigned n = std::thread::hardware_concurrency();  // as cpu::backend defaults
        m.n_threads = n > 0 ? static_cast<int>(n) : 1;
    }
    model::weights w;
    if (const std::string why = model::check(f); why.empty()) {
        m.engine_runs = true;
        m.hp = model::load_hparams(f);
        w = model::bind_weights(f, m.hp);
    } else {
        m.hp = detail::generic_hparams(f, m.arch);
        w = detail::generic_weights(f, m.hp);
        m.notes.push_back("the engine does not run this model (" + why + "): its cache and workspace are priced with the engine's "
                          "functions over the generic hyperparameter keys and the matrices found by their generic names");
    }
    m.name = !m.hp.name.empty() ? m.hp.name : std::string(f.get_or<std::string_view>("general.name", ""));
    const std::string p = m.arch + ".";
    m.n_expert = detail::key_u32(f, p + "expert_count", 0);
    m.n_expert_used = m.n_expert ? std::max(1u, detail::key_u32(f, p + "expert_used_count", 1)) : 0;
    m.tied = f.find_tensor("output.weight") == nullptr;
    for (const gguf::tensor_info& t : f.tensors()) {
        model_tensor x;
        x.name = t.name;
        std::string_view rest;
        x.layer = detail::block_of(t.name, &rest);
        if (x.layer >= int(m.hp.n_layer))
            STRATA_THROW(errc::format, "tensor '" + std::string(t.name) + "' names a block beyond block_count " +
                                           std::to_string(m.hp.n_layer), f.path(), t.info_offset);
        x.kind = detail::classify(t.name, x.layer, rest);
        x.bytes = t.n_bytes;
        x.elements = t.n_elements;
        x.rows = t.n_elements / std::max<std::uint64_t>(1, t.ne[0]);
        m.tensors.push_back(x);
    }
    m.kv_per_layer = model::kv_layer_bytes(m.hp, m.n_ctx, m.kv_type) * static_cast<std::uint64_t>(m.num_parallel);
    for (std::uint32_t il = 0; il < m.hp.n_layer; ++il) {
        std::int64_t pos = std::max<std::int64_t>(1, static_cast<std::int64_t>(double(m.n_ctx) * kv_read_share));
        if (m.hp.is_swa(il)) pos = std::min<std::int64_t>(pos, m.hp.n_swa);
        m.kv_read.push_back(model::kv_layer_bytes(m.hp, pos, m.kv_type));
    }
    m.workspace = model::workspace_bytes(m.hp, w, m.n_batch, m.n_ctx, m.n_threads) * static_cast<std::uint64_t>(m.num_parallel);
    m.workspace_cuda = model::cuda_workspace_bytes(m.hp, w, m.n_batch, m.n_ctx) * static_cast<std::uint64_t>(m.num_parallel);
    m.sampler_cuda = model::cuda_sampler_bytes(m.hp) * static_cast<std::uint64_t>(m.num_parallel);
    // every session (sequence) has a stream of its own; batches below the floor never stream
    m.stream_reserve = c.estimator == estimator::native && c.stream_prefill && c.num_gpu != 0 && m.n_batch >= stream_min_batch_floor;
    m.stream_cuda = model::stream_shape_for(w, m.n_batch, model::stream_target::cuda, model::cublas_workspace_bytes).bytes() *
                    static_cast<std::uint64_t>(m.num_parallel);
    return m;
}

// ---- accounting ---------------------------------------------------------------------------
struct accounting {
    std::vector<device_usage> usage;  // per device
    std::vector<int> layer_device;    // per block: where its attention (and so its KV) is
    std::vector<int> attn_stage, ffn_stage;  // per block: the device each half runs on
    int output_stage = 0;             // where the head's matmul runs
    std::vector<bool> fits;           // per device
    bool all_fit = true;
    int stream_device = -1;           // the GPU whose compute holds a prefill stream's buffers (m.stream_reserve), or -1
    std::uint64_t stream_bytes = 0;   // those buffers (part of its compute_bytes), or 0
};

// The budget a device's total (which holds the reserve as overhead) must stay within.
inline std::uint64_t budget(const device_spec& d) noexcept {
    const auto margin = static_cast<std::uint64_t>(double(d.free_bytes) * fit_margin);
    return d.free_bytes > margin ? d.free_bytes - margin : 0;
}

namespace detail {

// A matrix of a block (what a prefill stream sends; norms and biases stay on the CPU).
inline bool block_matrix(const model_tensor& t) noexcept {
    return t.layer >= 0 && t.rows > 1 && (t.kind == part::attention || t.kind == part::ffn || t.kind == part::experts);
}

// Where a prefill stream would go for placement WHERE: -1 without a block matrix on the CPU;
// else of the CUDA devices holding a block or the head (the engine has a stage there), the
// one with the most budget left after USAGE; -1 if none.
inline int stream_device_for(const model_info& m, const std::vector<device_spec>& devs, const std::vector<int>& where,
                             const std::vector<device_usage>& usage) {
    bool cpu_block = false;
    std::vector<bool> holds(devs.size(), false);
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        const model_tensor& t = m.tensors[i];
        cpu_block = cpu_block || (where[i] == 0 && block_matrix(t));
        if (t.layer >= 0 || t.kind == part::output) holds[static_cast<std::size_t>(where[i])] = true;
    }
    if (!cpu_block) return -1;
    int best = -1;
    std::int64_t most = INT64_MIN;
    for (std::size_t d = 1; d < devs.size(); ++d) {
        const std::int64_t room = std::int64_t(budget(devs[d])) - std::int64_t(usage[d].total_bytes);
        if (devs[d].kind == device_kind::cuda && holds[d] && room > most) {
            most = room;
            best = int(d);
        }
    }
    return best;
}

}  // namespace detail

// What each device holds when tensor i is on device where[i].
inline accounting account(const model_info& m, const std::vector<device_spec>& devs, const std::vector<int>& where) {
    const std::size_t nd = devs.size();
    const std::size_t nl = m.hp.n_layer;
    accounting a;
    a.usage.assign(nd, {});
    std::vector<bool> used(nd, false);
    used[0] = true;  // the CPU gathers embeddings and samples
    // the device of each half of a block: that of its largest tensor
    std::vector<std::uint64_t> best_attn(nl, 0), best_ffn(nl, 0);
    a.attn_stage.assign(nl, 0);
    a.ffn_stage.assign(nl, 0);
    std::uint64_t best_out = 0;
    a.output_stage = 0;
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        const model_tensor& t = m.tensors[i];
        const auto d = static_cast<std::size_t>(where[i]);
        used[d] = true;
        a.usage[d].weights_bytes += devs[d].is_accelerator() ? align_up(t.bytes, arena_alignment) : t.bytes;
        if (t.layer >= 0) {
            const auto l = static_cast<std::size_t>(t.layer);
            auto& best = t.kind == part::attention ? best_attn[l] : best_ffn[l];
            auto& stage = t.kind == part::attention ? a.attn_stage[l] : a.ffn_stage[l];
            if (t.bytes + 1 > best) { best = t.bytes + 1; stage = where[i]; }
        } else if (t.kind == part::output && t.bytes + 1 > best_out) {
            best_out = t.bytes + 1;
            a.output_stage = where[i];
        }
    }
    // tied embeddings: the head's matmul reads token_embd, on the CPU
    if (m.tied) a.output_stage = 0;
    a.layer_device = a.attn_stage;
    for (std::size_t l = 0; l < nl; ++l) {
        if (best_attn[l] == 0) a.layer_device[l] = a.ffn_stage[l];
        a.usage[static_cast<std::size_t>(a.layer_device[l])].kv_bytes += m.kv_per_layer;
    }
    a.fits.assign(nd, true);
    for (std::size_t d = 0; d < nd; ++d) {
        device_usage& u = a.usage[d];
        if (used[d] || u.kv_bytes) {
            u.compute_bytes = devs[d].kind == device_kind::cuda ? m.workspace_cuda : m.workspace;
            // the GPU of the head samples there: the device sampler's buffers are in its arena
            if (devs[d].kind == device_kind::cuda && int(d) == a.output_stage) u.compute_bytes += m.sampler_cuda;
            u.overhead_bytes = fixed_overhead(devs[d].kind) + devs[d].reserve_bytes;
        }
        u.total_bytes = u.weights_bytes + u.kv_bytes + u.compute_bytes + u.overhead_bytes;
    }
    if (m.stream_reserve) {
        a.stream_device = detail::stream_device_for(m, devs, where, a.usage);
        if (a.stream_device > 0) {
            device_usage& u = a.usage[static_cast<std::size_t>(a.stream_device)];
            u.compute_bytes += m.stream_cuda;
            u.total_bytes += m.stream_cuda;
            a.stream_bytes = m.stream_cuda;
        }
    }
    for (std::size_t d = 0; d < nd; ++d) {
        a.fits[d] = a.usage[d].total_bytes <= budget(devs[d]);
        a.all_fit = a.all_fit && a.fits[d];
    }
    return a;
}

}  // namespace plan
STRATA_NAMESPACE_END
