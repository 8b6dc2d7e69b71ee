// strata/sample/params.hpp — the run-time sampler settings, and Ollama's defaults for them.
//
// One struct holds every knob of every stage; each stage reads its own fields and treats the
// "off" value as llama.cpp does (listed with each field). The chain is compiled with a fixed
// set of stages; these values are what a user or an API request changes per generation.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

// llama.cpp's LLAMA_DEFAULT_SEED: a fresh random seed at construction and at every reset().
// Ollama's seed -1 arrives here as this value (it converts the int to uint32).
inline constexpr std::uint32_t random_seed = 0xFFFFFFFFu;

// A default-constructed params is Ollama's defaults (see ollama_defaults() for the sources).
struct params {
    float temperature = 0.8f;          // divides the logits; <= 0: greedy (only the best survives)
    std::int32_t top_k = 40;           // keep the k best; <= 0: off
    float top_p = 0.9f;                // keep the smallest prefix with mass >= top_p; >= 1: off
    float min_p = 0.0f;                // keep p >= min_p * p_max; <= 0: off
    float typical_p = 1.0f;            // locally typical sampling; >= 1: off
    float repeat_penalty = 1.1f;       // repeated tokens: positive logits / it, others * it; 1: off
    std::int32_t repeat_last_n = 64;   // the penalty window in tokens; 0: off, -1: the context
    float presence_penalty = 0.0f;     // minus this once for a token in the window; 0: off
    float frequency_penalty = 0.0f;    // minus this per occurrence in the window; 0: off
    std::uint32_t seed = random_seed;  // for dist; random_seed: a random one
    std::int32_t min_keep = 0;         // top_p, min_p, typical_p keep at least this many; 0: none

    friend constexpr bool operator==(const params&, const params&) = default;
};

// Ollama's defaults, from api/types.go DefaultOptions(); what Ollama does not set there comes
// from llama.cpp's common_params_sampling, which Ollama's llama runner fills
// (llama/sampling_ext.cpp, common_sampler_cinit).
constexpr params ollama_defaults() noexcept {
    params p;
    p.temperature = 0.8f;         // Ollama Temperature: 0.8
    p.top_k = 40;                 // Ollama TopK: 40
    p.top_p = 0.9f;               // Ollama TopP: 0.9
    p.min_p = 0.0f;               // Ollama MinP: not set in DefaultOptions, so 0.0 (off)
    p.typical_p = 1.0f;           // Ollama TypicalP: 1.0 (off)
    p.repeat_penalty = 1.1f;      // Ollama RepeatPenalty: 1.1
    p.repeat_last_n = 64;         // Ollama RepeatLastN: 64
    p.presence_penalty = 0.0f;    // Ollama PresencePenalty: 0.0
    p.frequency_penalty = 0.0f;   // Ollama FrequencyPenalty: 0.0
    p.seed = random_seed;         // Ollama Seed: -1 (random), i.e. LLAMA_DEFAULT_SEED
    p.min_keep = 0;               // not an Ollama option: llama.cpp common default 0
    return p;
}

// Every stage off and temperature 1: the chain then samples from softmax(logits) itself.
constexpr params neutral() noexcept {
    params p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.typical_p = 1.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 0;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    p.seed = random_seed;
    p.min_keep = 0;
    return p;
}

// Ollama's repeat_last_n -1 means "the whole context"; only the caller knows its size.
constexpr params with_context(params p, std::int32_t n_ctx) noexcept {
    if (p.repeat_last_n == -1) p.repeat_last_n = n_ctx;
    return p;
}

// Throws errc::argument for values no stage can act on (NaNs would break the sort order).
inline void validate(const params& p) {
    const auto bad = [](const char* field, const std::string& why) {
        STRATA_THROW(errc::argument, std::string("sample::params.") + field + ": " + why);
    };
    const float floats[] = {p.temperature, p.top_p, p.min_p, p.typical_p, p.repeat_penalty,
                            p.presence_penalty, p.frequency_penalty};
    const char* names[] = {"temperature", "top_p", "min_p", "typical_p", "repeat_penalty",
                           "presence_penalty", "frequency_penalty"};
    for (int i = 0; i < 7; ++i)
        if (std::isnan(floats[i])) bad(names[i], "is NaN");
    if (!(p.repeat_penalty > 0.0f)) bad("repeat_penalty", "must be > 0 (1 is off)");
    if (p.repeat_last_n == -1) bad("repeat_last_n", "-1 (the context) must be resolved with with_context(p, n_ctx)");
    if (p.repeat_last_n < 0) bad("repeat_last_n", "must be >= 0, got " + std::to_string(p.repeat_last_n));
    if (p.min_keep < 0) bad("min_keep", "must be >= 0, got " + std::to_string(p.min_keep));
}

}  // namespace sample
STRATA_NAMESPACE_END
