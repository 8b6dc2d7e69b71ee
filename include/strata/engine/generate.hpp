// strata/engine/generate.hpp — the generation loop: sample, stop, stream text.
//
// Streaming text is cut at token boundaries, which can split a UTF-8 character or the start of
// a stop string; the loop holds such a tail back until it is known to be complete (or not a
// stop string), so a caller only ever sees final text, and never the stop string itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN

struct generate_options {
    std::int64_t num_predict = -1;       // tokens to generate at most; -1: until EOG or the context is full
    std::vector<std::string> stop;       // stop strings (not included in the output)
};

enum class stop_reason { eog, stop_string, num_predict, context_full };

constexpr std::string_view to_string(stop_reason r) noexcept {
    switch (r) {
        case stop_reason::eog: return "end of generation";
        case stop_reason::stop_string: return "stop string";
        case stop_reason::num_predict: return "num_predict reached";
        case stop_reason::context_full: return "context full";
    }
    return "unknown";
}

struct generate_stats {
    std::int64_t prompt_tokens = 0, generated_tokens = 0;
    double prompt_seconds = 0, generate_seconds = 0;
    stop_reason reason = stop_reason::eog;
    std::string text;  // everything streamed
};

namespace detail {

// Length of the longest prefix of s that ends on a complete UTF-8 character.
inline std::size_t complete_utf8(std::string_view s) {
    std::size_t i = s.size();
    // walk back over at most 3 continuation bytes to the lead byte of the last character
    std::size_t back = 0;
    while (back < 4 && i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) { --i; ++back; }
    if (i == 0) return s.size();  // no lead byte: not UTF-8 we can wait for; pass through
    const auto lead = static_cast<unsigned char>(s[i - 1]);
    const std::size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return back + 1 >= need ? s.size() : i - 1;  // incomplete: stop before its lead byte
}

// How many trailing bytes of s could begin one of the stop strings.
inline std::size_t stop_prefix_tail(std::string_view s, const std::vector<std::string>& stops) {
    std::size_t keep = 0;
    for (const auto& st : stops)
        for (std::size_t n = std::min(st.size() - 1, s.size()); n > keep; --n)
            if (s.substr(s.size() - n) == std::string_view(st).substr(0, n)) { keep = n; break; }
    return keep;
}

}  // namespace detail

// Prefills `prompt` into the session, then generates with its sampler, calling on_text with
// each piece of final text. Session is any basic_session; tok its engine's tokenizer.
template <class Session, class Tokenizer>
generate_stats generate(Session& s, const Tokenizer& tok, std::span<const std::int32_t> prompt,
                        const generate_options& opt, const std::function<void(std::string_view)>& on_text) {
    using clock = std::chrono::steady_clock;
    generate_stats st;
    for (const auto& x : opt.stop)
        if (x.empty()) STRATA_THROW(errc::argument, "empty stop string");
    const auto t0 = clock::now();
    s.prefill(prompt);
    st.prompt_tokens = static_cast<std::int64_t>(prompt.size());
    const auto t1 = clock::now();
    st.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

    std::string pending;  // decoded but not yet streamed
    auto flush = [&](std::size_t n) {
        if (n == 0) return;
        on_text(std::string_view(pending).substr(0, n));
        st.text.append(pending, 0, n);
        pending.erase(0, n);
    };
    for (;;) {
        if (opt.num_predict >= 0 && st.generated_tokens >= opt.num_predict) { st.reason = stop_reason::num_predict; break; }
        if (s.position() >= s.n_ctx() && !s.context_shift()) { st.reason = stop_reason::context_full; break; }
        const std::int32_t t = s.sample();
        if (tok.is_eog(t)) { st.reason = stop_reason::eog; break; }
        ++st.generated_tokens;
        pending += tok.piece(t);
        bool stopped = false;
        for (const auto& x : opt.stop) {
            const auto at = pending.find(x);
            if (at != std::string::npos) {
                pending.resize(at);
                stopped = true;
            }
        }
        if (stopped) { st.reason = stop_reason::stop_string; break; }
        const std::size_t safe = detail::complete_utf8(pending);
        flush(safe - std::min(safe, detail::stop_prefix_tail(std::string_view(pending).substr(0, safe), opt.stop)));
        if (s.position() < s.n_ctx() || s.context_shift()) s.decode(t);  // a full context shifts or stops
    }
    flush(pending.size());
    st.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return st;
}

STRATA_NAMESPACE_END
