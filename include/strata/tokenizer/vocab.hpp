// strata/tokenizer/vocab.hpp — a tokenizer vocabulary as a plain value.
//
// Everything a tokenizer needs, in plain vectors, so that a test can write a five-token vocab by
// hand and load_vocab() (from_gguf.hpp) can fill one from a GGUF file with llama.cpp's defaults
// already applied. The tokenizer class builds its lookup structures from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer {

using token_id = std::int32_t;
inline constexpr token_id null_token = -1;  // "no such token" (LLAMA_TOKEN_NULL)

// tokenizer.ggml.model
enum class model_kind {
    llama,  // "llama": SentencePiece BPE, score-driven merges, <0xXX> byte fallback
    gpt2,   // "gpt2": byte-level BPE, rank-driven merges, a regex-like pre-tokenizer
    bert,   // "bert": WordPiece (wordpiece.hpp)
};

constexpr std::string_view to_string(model_kind k) noexcept {
    switch (k) {
        case model_kind::llama: return "llama";
        case model_kind::gpt2: return "gpt2";
        case model_kind::bert: return "bert";
    }
    return "unknown";
}

// tokenizer.ggml.token_type values.
enum class token_type : std::int32_t {
    undefined = 0,
    normal = 1,
    unknown = 2,
    control = 3,
    user_defined = 4,
    unused = 5,
    byte = 6,
};

// Per-token attribute bits, llama.cpp's llama_token_attr: what the tokenizer actually consults.
// A token type gives one bit; loading adds more (control for end-of-turn markers that were not
// typed control, rstrip for Phi-3's specials, ...).
namespace attr {
inline constexpr std::uint32_t undefined = 0;
inline constexpr std::uint32_t unknown = 1u << 0;
inline constexpr std::uint32_t unused = 1u << 1;
inline constexpr std::uint32_t normal = 1u << 2;
inline constexpr std::uint32_t control = 1u << 3;
inline constexpr std::uint32_t user_defined = 1u << 4;
inline constexpr std::uint32_t byte = 1u << 5;
inline constexpr std::uint32_t lstrip = 1u << 7;  // eat whitespace before the token's text
inline constexpr std::uint32_t rstrip = 1u << 8;  // eat whitespace after it
}  // namespace attr

constexpr std::uint32_t attr_of(token_type t) noexcept {
    switch (t) {
        case token_type::normal: return attr::normal;
        case token_type::unknown: return attr::unknown;
        case token_type::control: return attr::control;
        case token_type::user_defined: return attr::user_defined;
        case token_type::unused: return attr::unused;
        case token_type::byte: return attr::byte;
        case token_type::undefined: return attr::undefined;
    }
    return attr::undefined;  // any other value in a file: llama.cpp's "undefined"
}

struct vocab {
    model_kind model = model_kind::llama;
    std::string pre;  // tokenizer.ggml.pre: the pre-tokenizer of a gpt2 model ("" = "default")

    std::vector<std::string> tokens;  // id -> text (byte-level alphabet for gpt2, U+2581 for spaces in llama)
    std::vector<float> scores;        // SentencePiece merge scores; empty = all 0
    std::vector<token_type> types;    // empty = all normal
    std::vector<std::uint32_t> attrs; // attr:: bits; empty = derived from types
    std::vector<std::string> merges;  // gpt2: "left right", rank = index (the first of duplicates wins)

    token_id bos = null_token;
    token_id eos = null_token;
    token_id eot = null_token;  // end of turn
    token_id eom = null_token;  // end of message (tool calls)
    token_id unk = null_token;
    token_id pad = null_token;
    token_id sep = null_token;
    token_id mask = null_token;
    token_id fim_pre = null_token, fim_suf = null_token, fim_mid = null_token;
    token_id fim_pad = null_token, fim_rep = null_token, fim_sep = null_token;
    std::vector<token_id> eog;  // ends generation; empty = {eos, eot, eom} where set

    bool add_bos = false;           // encode(add_special) prepends bos
    bool add_eos = false;           // encode(add_special) appends eos
    bool add_space_prefix = false;  // llama: a space before the text (and after each special token)
    bool ignore_merges = false;     // gpt2: a pre-token that is a token is taken whole (llama-3)
    bool clean_spaces = false;      // decode: drop the space before , . ! ? and in contractions

    std::size_t size() const noexcept { return tokens.size(); }
    bool contains(token_id id) const noexcept { return id >= 0 && static_cast<std::size_t>(id) < tokens.size(); }

    token_type type(token_id id) const noexcept {
        return types.empty() ? token_type::normal : types[static_cast<std::size_t>(id)];
    }
    float score(token_id id) const noexcept { return scores.empty() ? 0.0f : scores[static_cast<std::size_t>(id)]; }
    std::uint32_t attributes(token_id id) const noexcept {
        return attrs.empty() ? attr_of(type(id)) : attrs[static_cast<std::size_t>(id)];
    }
};

}  // namespace tokenizer
STRATA_NAMESPACE_END
