// strata/strata.hpp — the umbrella header: everything a program needs to use Strata.
//
// In a .cpp this is the CPU engine. In a .cu compiled by nvcc with STRATA_CUDA defined, the
// CUDA backend and its kernels come with it.
#pragma once

// ---- core: configuration, errors, scalar types -----------------------------------------------
#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/core/half.hpp"
#include "strata/core/json.hpp"

// ---- gguf: the model file ---------------------------------------------------------------------
#include "strata/gguf/gguf.hpp"

// ---- quant: one policy per tensor type, the compiled-in list ---------------------------------
#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

// ---- tokenizer, chat formats, samplers ------------------------------------------------------
#include "strata/chat/template.hpp"
#include "strata/sample/sample.hpp"
#include "strata/tokenizer/tokenizers.hpp"

// ---- the CPU backend, models, the engine -----------------------------------------------------
#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cpu/ops.hpp"
#include "strata/engine/conversation.hpp"
#include "strata/engine/engine.hpp"
#include "strata/engine/generate.hpp"
#include "strata/model/hparams.hpp"
#include "strata/model/kv_cache.hpp"
#include "strata/model/transformer.hpp"
#include "strata/model/weights.hpp"
#include "strata/sample/set_parameter.hpp"
