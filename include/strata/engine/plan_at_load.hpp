// strata/engine/plan_at_load.hpp — the engine plans its own placement at load, as Ollama does:
//
//   auto eng = engine::load(path, {.plan = strata::plan_at_load(strata::plan_config(session_opts, 12, -1))});
//   eng.planned()->reasons;   // what it chose and why
//
// An engine with the CUDA backend plans for the GPUs its runtime reports (unless the config
// states them); a CPU engine for the CPU (and the config's sims) alone, whatever GPUs the config
// names. The planner (plan/planner.hpp) is compiled only where this header is included.
#pragma once

#include <vector>

#include "strata/core/config.hpp"
#include "strata/engine/engine.hpp"
#include "strata/plan/planner.hpp"

STRATA_NAMESPACE_BEGIN

// The planner's config for sessions of SO with N_THREADS CPU threads, and Ollama's num_gpu: -1
// as many layers on the accelerators as fit, 0 none, N that many.
inline plan::config plan_config(const session_options& so, int n_threads = 0, int num_gpu = -1) {
    plan::config c;
    c.num_ctx = so.n_ctx;
    c.num_batch = so.n_batch;
    c.kv_type = so.kv_type;
    c.n_threads = n_threads;
    c.num_gpu = num_gpu;
    return c;
}

// load_options::plan: plan::make under C for the devices the engine can run.
inline load_planner plan_at_load(plan::config c) {
    return [c](const gguf::file& f, bool with_cuda, const std::vector<plan::device_spec>& gpus) {
        plan::config k = c;
        if (!with_cuda) k.gpus.clear();             // it could not run a GPU placement
        else if (k.gpus.empty() && k.detect) k.gpus = gpus;
        k.detect = false;                           // detected by the engine, where its runtime is
        return plan::make(f, k);
    };
}

STRATA_NAMESPACE_END
