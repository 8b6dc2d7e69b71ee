// strata/strata.hpp — the umbrella header: everything a program needs to use Strata.
//
// In a .cpp this is the CPU engine. In a .cu compiled by nvcc with STRATA_CUDA defined, the
// CUDA backend and its kernels come with it.
#pragma once

// ---- core: configuration, errors, scalar types -----------------------------------------------
#include "strata/core/arena.hpp"
#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/core/half.hpp"
#include "strata/core/json.hpp"
#include "strata/core/json_read.hpp"
#include "strata/core/units.hpp"
#include "strata/core/utf8.hpp"

// ---- gguf: the model file ---------------------------------------------------------------------
#include "strata/gguf/gguf.hpp"

// ---- quant: one policy per tensor type, the compiled-in list ---------------------------------
#include "strata/quant/act_quant.hpp"
#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

// ---- tokenizer, chat formats, samplers ------------------------------------------------------
#include "strata/chat/template.hpp"
#include "strata/sample/sample.hpp"
#include "strata/tokenizer/tokenizers.hpp"

// ---- planning: where the layers go, how much memory they take ---------------------------------
#include "strata/plan/cuda_devices.hpp" // the CUDA devices of this machine, as the planner sees them
#include "strata/plan/device.hpp"  // device kinds, the table of known parts, detection, the probe
#include "strata/plan/ollama.hpp"  // --estimator ollama-0.11.3: Ollama's EstimateGPULayers
#include "strata/plan/pattern.hpp" // -ot tensor overrides
#include "strata/plan/plan.hpp"    // the plan value, to_json / from_json / check_matches
#include "strata/plan/planner.hpp" // plan::make: native (memory.hpp, cost.hpp, native.hpp) or ollama

// ---- the CUDA backend, host side (the runtime calls only under nvcc or STRATA_CUDA_RUNTIME) ----
#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/device.hpp"

// ---- the CPU backend, models, the engine -----------------------------------------------------
#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/encoder_attention.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/engine/conversation.hpp"
#include "strata/engine/embedder.hpp"
#include "strata/engine/engine.hpp"
#include "strata/engine/generate.hpp"
#include "strata/engine/placement.hpp"
#include "strata/model/bert.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/transformer.hpp"
#include "strata/model/weights.hpp"
#include "strata/sample/set_parameter.hpp"
