// strata/sample/chain.hpp — stages composed at compile time, parameters set at run time.
//
//   sample::chain<sample::penalties, sample::top_k, sample::top_p, sample::temperature,
//                 sample::dist> sampler(sample::ollama_defaults());
//   const std::int32_t token = sampler.sample(logits);   // std::span<const float>, n_vocab
//   sampler.accept(token);                                // into the penalty window
//
// The stages run in the order given, each on what the previous left, as a llama.cpp sampler
// chain does; the last one must select (dist or greedy). The chain owns the candidate buffers
// and the history, so after the first call nothing is allocated per token.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "strata/core/config.hpp"
#include "strata/sample/candidates.hpp"
#include "strata/sample/dist.hpp"
#include "strata/sample/greedy.hpp"
#include "strata/sample/history.hpp"
#include "strata/sample/min_p.hpp"
#include "strata/sample/params.hpp"
#include "strata/sample/penalties.hpp"
#include "strata/sample/stage.hpp"
#include "strata/sample/temperature.hpp"
#include "strata/sample/top_k.hpp"
#include "strata/sample/top_p.hpp"
#include "strata/sample/typical_p.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

template <stage... Stages>
class chain {
    static_assert(sizeof...(Stages) > 0, "a chain needs at least its selecting stage");
    using last_stage = std::tuple_element_t<sizeof...(Stages) - 1, std::tuple<Stages...>>;
    static_assert(selecting_stage<last_stage>, "the last stage of a chain must select a token (dist, greedy)");
    static_assert((int(Stages::selects) + ...) == 1, "only the last stage of a chain may select a token");

public:
    static constexpr std::size_t size = sizeof...(Stages);
    static constexpr std::array<std::string_view, size> names{Stages::name...};

    explicit chain(const params& p = ollama_defaults()) : params_(p) {
        validate(params_);
        history_ = sample::history(std::size_t(params_.repeat_last_n));
        reset_stages();
    }

    // The next token from logits (n_vocab of them), with the chain's own history.
    std::int32_t sample(std::span<const float> logits) { return sample(logits, history_); }

    // The same with a history kept elsewhere (a session's): its newest repeat_last_n tokens count.
    std::int32_t sample(std::span<const float> logits, const sample::history& h) {
        candidates_.assign(logits);
        std::apply([&](Stages&... s) { (s.apply(candidates_, params_, h), ...); }, stages_);
        return candidates_.selected_id();
    }

    // Records a token generated (or a prompt token, if those are to be penalised too).
    void accept(std::int32_t token) noexcept { history_.push(token); }

    // Forgets the history and restarts the stages' state: a fixed seed replays its sequence,
    // random_seed draws a new one (llama.cpp's chain reset).
    void reset() {
        history_.clear();
        reset_stages();
    }

    const params& parameters() const noexcept { return params_; }

    // New parameters for the next calls. A new window resizes the history (keeping the newest
    // tokens); a new seed reseeds; other fields take effect on the next sample().
    void set_parameters(const params& p) {
        validate(p);
        const bool reseed = p.seed != params_.seed;
        if (p.repeat_last_n != params_.repeat_last_n) history_.resize(std::size_t(p.repeat_last_n));
        params_ = p;
        if (reseed) reset_stages();
    }

    const sample::history& last_tokens() const noexcept { return history_; }
    // The set the last sample() ended with; p holds the final probabilities when dist ran.
    const candidates& last_candidates() const noexcept { return candidates_; }

    template <class S>
    S& get() noexcept { return std::get<S>(stages_); }
    template <class S>
    const S& get() const noexcept { return std::get<S>(stages_); }

    // The seed dist uses (the drawn one when params.seed is random_seed).
    std::uint32_t seed() const noexcept
        requires(std::is_same_v<last_stage, dist>)
    {
        return std::get<dist>(stages_).seed();
    }

    // Bytes held by the buffers (candidates and history): stable after the first sample().
    std::size_t reserved_bytes() const noexcept {
        return candidates_.reserved_bytes() + history_.capacity() * sizeof(std::int32_t);
    }

private:
    void reset_stages() {
        std::apply([&](Stages&... s) { (reset_one(s), ...); }, stages_);
    }
    template <class S>
    void reset_one(S& s) {
        if constexpr (resettable_stage<S>) s.reset(params_);
    }

    params params_;
    sample::history history_;
    candidates candidates_;
    std::tuple<Stages...> stages_;
};

// The order llama.cpp's common_params_sampling::samplers lists by default, which Ollama's llama
// runner keeps (it sets the values, not the order): penalties, dry, top_n_sigma, top_k,
// typical_p, top_p, min_p, xtc, temperature, then dist. DRY, top-n-sigma and XTC are off at
// Ollama's defaults and not implemented here, which leaves this chain.
// (Ollama's Go sampler, used by its newer "ollama engine" runner, has another order and no
// penalties: top_k, temperature, softmax, top_p, min_p, draw; chain<top_k, temperature,
// top_p, min_p, dist> is that order.)
using default_chain = chain<penalties, top_k, typical_p, top_p, min_p, temperature, dist>;

}  // namespace sample
STRATA_NAMESPACE_END
