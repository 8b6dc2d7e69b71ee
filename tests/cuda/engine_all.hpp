// The host-side interface of tests/cuda/engine_all.cu (plain C++, no CUDA headers): the engine
// built with the CUDA backend (for the formats of the realistic synthetic models: f32, q4_k,
// q5_0, q6_k, q8_0) run on CUDA device 0 with a given split, and what it measured.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/core/dtype.hpp"

namespace strata_test {

struct gpu_case {
    std::string path;
    std::uint32_t first_gpu_layer = 0;  // layers [first_gpu_layer, n_layer) on the GPU
    bool head_on_gpu = true;
    std::int64_t n_ctx = 256, n_batch = 64;
    strata::ggml_type kv_type = strata::ggml_type::f16;
    bool graphs = true;
    std::int64_t stream_min_batch = 0;  // > 0: the host's matmuls of such batches stream to the GPU
    bool experts_on_host = false;       // an MoE model: every block's FFN half on the host (the hybrid)
};

struct gpu_trace {
    std::string error;                      // empty, or what failed
    std::vector<std::vector<float>> logits;  // after the prompt, then after each forced token
    std::vector<std::int32_t> sampled;       // session.sample() (on the device when it can) at each step
    int graphs_captured = 0;
    long long graph_replays = 0;
    long long streamed_matmuls = -1;  // the prefill stream's matmuls (-1: the session has none)
};

// Prefills `prompt`, then decodes each of `forced` (teacher forcing: the CPU's greedy tokens), keeping
// the logits of every step and, with greedy sampling parameters, what sample() chose.
gpu_trace cuda_engine_trace(const gpu_case& c, const std::vector<std::int32_t>& prompt,
                            const std::vector<std::int32_t>& forced);

struct gpu_memory {
    std::string error;
    std::uint64_t planned_weights = 0, planned_kv = 0, planned_compute = 0, planned_overhead = 0;
    std::uint64_t measured_weights = 0, measured_kv = 0, measured_compute = 0;  // the session's usage()
    std::uint64_t free_before = 0, free_after = 0;                              // cudaMemGetInfo
    int layers_gpu = 0, layers_total = 0;
};

// Plans the model for device 0 (its free memory as the driver reports it), loads the engine with that
// plan, opens a session and measures the drop of free device memory.
gpu_memory cuda_engine_memory(const std::string& path, std::int64_t n_ctx, std::int64_t n_batch);

}  // namespace strata_test
