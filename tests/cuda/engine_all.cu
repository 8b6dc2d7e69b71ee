// The engine with the CUDA backend behind the plain C++ functions of engine_all.hpp. One
// instantiation, for the formats the realistic synthetic models use (tests/support/
// realistic_models.hpp), to keep nvcc's work bounded.
#include <cuda_runtime.h>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include "strata/engine/engine.hpp"
#include "strata/plan/planner.hpp"
#include "strata/quant/formats.hpp"
#include "strata/sample/params.hpp"

#include "cuda/engine_all.hpp"

namespace strata_test {
namespace {

using test_formats = strata::formats<strata::f32, strata::q4_k, strata::q5_0, strata::q6_k, strata::q8_0, strata::q8_k>;
using gpu_engine = strata::basic_engine<test_formats, strata::backends<strata::cpu_device, strata::cuda_device>>;

strata::sample::params greedy() {
    auto p = strata::sample::neutral();
    p.temperature = 0.0f;
    return p;
}

}  // namespace

gpu_trace cuda_engine_trace(const gpu_case& c, const std::vector<std::int32_t>& prompt,
                            const std::vector<std::int32_t>& forced) {
    gpu_trace r;
    try {
        const auto probe = strata::gguf::file::open(c.path);
        const auto n_layer = strata::model::load_hparams(probe).n_layer;
        auto place = strata::placement::offload(n_layer, c.first_gpu_layer, c.head_on_gpu);
        if (c.experts_on_host) place.ffn_device.assign(n_layer, 0);
        if (c.stream_min_batch > 0) {
            place.stream_device = 1;
            place.stream_min_batch = c.stream_min_batch;
        }
        const auto e = gpu_engine::load(c.path, {.prefault = false, .placement = place});
        auto s = e.new_session({.n_ctx = c.n_ctx, .n_batch = c.n_batch, .kv_type = c.kv_type, .sampling = greedy(),
                                .cuda_graphs = c.graphs});
        s.prefill(prompt);
        auto keep = [&] {
            const auto l = s.logits();
            r.logits.emplace_back(l.begin(), l.end());
            r.sampled.push_back(s.sample());
        };
        keep();
        for (const std::int32_t t : forced) {
            s.decode(t);
            keep();
        }
        r.graphs_captured = s.cuda_graphs_captured();
        r.graph_replays = s.cuda_graph_replays();
        if (const auto* st = s.prefill_stream()) r.streamed_matmuls = st->calls();
    } catch (const std::exception& ex) {
        r.error = ex.what();
    }
    return r;
}

gpu_memory cuda_engine_memory(const std::string& path, std::int64_t n_ctx, std::int64_t n_batch) {
    gpu_memory m;
    try {
        std::size_t free0 = 0, total = 0;
        if (cudaFree(nullptr) != cudaSuccess || cudaMemGetInfo(&free0, &total) != cudaSuccess) {
            m.error = "cudaMemGetInfo failed";
            return m;
        }
        const auto file = strata::gguf::file::open(path);
        strata::plan::config cfg;
        cfg.num_ctx = n_ctx;
        cfg.num_batch = n_batch;
        cfg.detect = false;
        strata::plan::device_spec gpu;
        gpu.kind = strata::plan::device_kind::cuda;
        gpu.name = "CUDA0";
        gpu.total_bytes = total;
        gpu.free_bytes = free0;
        gpu.bandwidth = 3.0e12;
        gpu.flops = 50e12;
        gpu.source = "stated";
        cfg.gpus = {gpu};
        const auto p = strata::plan::make(file, cfg);
        m.layers_gpu = p.layers_gpu;
        m.layers_total = p.layers_total;
        if (p.usage.size() < 2) {
            m.error = "the plan has no GPU device";
            return m;
        }
        m.planned_weights = p.usage[1].weights_bytes;
        m.planned_kv = p.usage[1].kv_bytes;
        m.planned_compute = p.usage[1].compute_bytes;
        m.planned_overhead = p.usage[1].overhead_bytes;
        m.free_before = free0;
        const auto e = gpu_engine::load(path, {.prefault = false, .placement = strata::placement::from_plan(p)});
        auto s = e.new_session({.n_ctx = n_ctx, .n_batch = n_batch});
        // kernels load lazily: count the modules of a prefill (the GEMM path) and a decode step too
        std::vector<std::int32_t> prompt(std::size_t(std::min<std::int64_t>(n_batch, 64)));
        for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = std::int32_t(1 + i);
        s.prefill(prompt);
        s.decode(s.sample());
        (void)s.sample();
        std::size_t free1 = 0;
        if (cudaMemGetInfo(&free1, &total) != cudaSuccess) {
            m.error = "cudaMemGetInfo failed";
            return m;
        }
        m.free_after = free1;
        const auto u = s.usage();
        m.measured_weights = u[1].weights_bytes;
        m.measured_kv = u[1].kv_bytes;
        m.measured_compute = u[1].compute_bytes;
    } catch (const std::exception& ex) {
        m.error = ex.what();
    }
    return m;
}

}  // namespace strata_test
