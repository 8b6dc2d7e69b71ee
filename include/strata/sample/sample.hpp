// strata/sample/sample.hpp — the sampler layer: logits in, one token out.
//
// Stages (one header each) are policies composed by sample::chain; sample::params holds their
// run-time values, sample::ollama_defaults() Ollama's, sample::default_chain Ollama's order.
#pragma once

// ---- the data the stages work on ---------------------------------------------------------------
#include "strata/sample/candidates.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/stage.hpp"

// ---- stages, in default-chain order --------------------------------------------------------------
#include "strata/sample/penalties.hpp"
#include "strata/sample/top_k.hpp"
#include "strata/sample/typical_p.hpp"
#include "strata/sample/top_p.hpp"
#include "strata/sample/min_p.hpp"
#include "strata/sample/temperature.hpp"
#include "strata/sample/dist.hpp"
#include "strata/sample/greedy.hpp"

// ---- composition -----------------------------------------------------------------------------
#include "strata/sample/chain.hpp"
