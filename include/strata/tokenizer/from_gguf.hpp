// strata/tokenizer/from_gguf.hpp — a vocab from a GGUF file's tokenizer.ggml.* metadata.
//
// Applies what llama.cpp's llama_vocab::load applies, so that the tokenizer built from the result
// gives llama.cpp's ids: its per-model defaults for absent keys, the flags each pre-tokenizer
// name implies, the special tokens it recognises by their text (end of turn, fill-in-the-middle,
// end of generation) and the attributes it adds to them. Where llama.cpp picks one of several
// tokens with a recognised text by hash-table order, the first in its list of names is taken.
// Unlike llama.cpp, which warns and carries on, inconsistent metadata is an error: array lengths
// that differ from the token count, special ids outside the vocabulary, duplicate tokens.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/tokenizer/pre_tokenizer.hpp"
#include "strata/tokenizer/vocab.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer {

namespace detail {

[[noreturn]] inline void vocab_error(const gguf::file& f, errc c, const std::string& msg) {
    STRATA_THROW(c, "tokenizer: " + msg, f.path());
}

// The per-model defaults of llama_vocab::load, before any key is read.
inline void apply_model_defaults(const gguf::file& f, std::string_view model, vocab& v) {
    if (model == "llama") {
        v.model = model_kind::llama;
        v.bos = 1, v.eos = 2, v.unk = 0;
        v.add_space_prefix = true;
        v.add_bos = true;
    } else if (model == "gpt2") {
        v.model = model_kind::gpt2;
        v.bos = 11, v.eos = 11;
        const auto info = find_pre_tokenizer(v.pre);
        if (!info) vocab_error(f, errc::unsupported, "pre-tokenizer '" + v.pre + "' is not supported");
        v.clean_spaces = info->clean_spaces;
        v.ignore_merges = info->ignore_merges;
        v.add_bos = info->add_bos;
        if (info->no_bos) v.bos = null_token;
    } else if (model == "bert") {
        v.model = model_kind::bert;
        v.bos = 101, v.unk = 100, v.sep = 102, v.pad = 0, v.mask = 103;
        v.add_bos = true;
        v.clean_spaces = true;
    } else {
        vocab_error(f, errc::unsupported, "tokenizer model '" + std::string(model) + "' is not supported");
    }
}

template <class T>
std::vector<T> checked_array(const gguf::file& f, std::string_view key, std::size_t n) {
    std::vector<T> a = f.get_array<T>(key);
    if (a.size() != n)
        vocab_error(f, errc::format, std::string(key) + " has " + std::to_string(a.size()) + " entries for " +
                                         std::to_string(n) + " tokens");
    return a;
}

// tokenizer.ggml.scores: f32, or i32 in some converted files.
inline std::vector<float> read_scores(const gguf::file& f, std::size_t n) {
    constexpr std::string_view key = "tokenizer.ggml.scores";
    const gguf::value* val = f.find(key);
    if (!val) return {};
    if (val->is_array() && val->element_type() == gguf::value_type::i32) {
        const auto ints = checked_array<std::int32_t>(f, key, n);
        return std::vector<float>(ints.begin(), ints.end());
    }
    return checked_array<float>(f, key, n);
}

inline void read_special_ids(const gguf::file& f, vocab& v) {
    const std::size_t n = v.tokens.size();
    const std::pair<std::string_view, token_id*> keys[] = {
        {"tokenizer.ggml.bos_token_id", &v.bos},         {"tokenizer.ggml.eos_token_id", &v.eos},
        {"tokenizer.ggml.eot_token_id", &v.eot},         {"tokenizer.ggml.eom_token_id", &v.eom},
        {"tokenizer.ggml.unknown_token_id", &v.unk},     {"tokenizer.ggml.seperator_token_id", &v.sep},
        {"tokenizer.ggml.padding_token_id", &v.pad},     {"tokenizer.ggml.mask_token_id", &v.mask},
        {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
        // the older names of the first three, read after them as llama.cpp does
        {"tokenizer.ggml.prefix_token_id", &v.fim_pre},  {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
        {"tokenizer.ggml.middle_token_id", &v.fim_mid},
        {"tokenizer.ggml.cls_token_id", &v.bos},  // older BERT files name [CLS] so, not bos
    };
    for (const auto& [key, id] : keys) {
        if (*id != null_token && !v.contains(*id)) *id = null_token;  // a default the vocab is too small for
        if (!f.contains(key)) continue;
        const std::int64_t x = f.get_integer(key);
        if (x < 0 || static_cast<std::uint64_t>(x) >= n)
            vocab_error(f, errc::format, std::string(key) + " = " + std::to_string(x) + " is outside the vocabulary of " +
                                             std::to_string(n) + " tokens");
        *id = static_cast<token_id>(x);
    }
}

using text_index = std::unordered_map<std::string_view, token_id>;

// The first of `names` that is a token, or null_token.
inline token_id first_present(const text_index& index, std::initializer_list<std::string_view> names) {
    for (std::string_view s : names)
        if (const auto it = index.find(s); it != index.end()) return it->second;
    return null_token;
}

// DeepSeek's full-width bar and U+2581 spelled out.
#define STRATA_TOK_DS(x) "<\xEF\xBD\x9C" x "\xEF\xBD\x9C>"
#define STRATA_TOK_SP "\xE2\x96\x81"

// Fills eot, eom and the fim ids that no key set, from the token texts llama.cpp knows; a token
// found this way that was not typed control becomes control.
inline void detect_special_texts(const text_index& index, vocab& v) {
    const auto detect = [&](token_id& id, std::initializer_list<std::string_view> names) {
        if (id != null_token) return;
        id = first_present(index, names);
        if (id != null_token) v.attrs[static_cast<std::size_t>(id)] |= attr::control;
    };
    detect(v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                   "<EOT>", "_<EOT>", "[EOT]", STRATA_TOK_DS("end" STRATA_TOK_SP "of" STRATA_TOK_SP "sentence"),
                   "<end_of_utterance>"});
    detect(v.eom, {"<|eom_id|>"});
    detect(v.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", STRATA_TOK_DS("fim" STRATA_TOK_SP "begin"),
                       "<PRE>", STRATA_TOK_SP "<PRE>", "<|code_prefix|>", "<|prefix|>"});
    detect(v.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", STRATA_TOK_DS("fim" STRATA_TOK_SP "hole"),
                       "<SUF>", STRATA_TOK_SP "<SUF>", "<|code_suffix|>", "<|suffix|>"});
    detect(v.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", STRATA_TOK_DS("fim" STRATA_TOK_SP "end"),
                       "<MID>", STRATA_TOK_SP "<MID>", "<|code_middle|>", "<|middle|>"});
    detect(v.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
    detect(v.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
    detect(v.fim_sep, {"<|file_sep|>"});
}

// The end-of-generation set: fim pad/rep/sep, every token with an end-of-turn text (made control),
// and eos / eot / eom; then llama.cpp's two model-specific exclusions.
inline void collect_eog(const text_index& index, vocab& v) {
    std::vector<token_id>& eog = v.eog;
    for (token_id id : {v.fim_pad, v.fim_rep, v.fim_sep})
        if (id != null_token) eog.push_back(id);
    for (std::string_view s : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                               "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>",
                               "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
                               "<|tool_response>", STRATA_TOK_DS("end" STRATA_TOK_SP "of" STRATA_TOK_SP "sentence"),
                               "[e~["}) {
        if (const auto it = index.find(s); it != index.end()) {
            eog.push_back(it->second);
            v.attrs[static_cast<std::size_t>(it->second)] |= attr::control;
        }
    }
    // gpt-oss: these structure tokens are always rendered.
    for (std::string_view s : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
        if (const auto it = index.find(s); it != index.end()) v.attrs[static_cast<std::size_t>(it->second)] = attr::user_defined;
    for (token_id id : {v.eos, v.eot, v.eom})
        if (id != null_token) eog.push_back(id);
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
    const auto drop = [&](std::string_view s, std::uint32_t new_attr) {
        const token_id id = first_present(index, {s});
        const auto it = std::find(eog.begin(), eog.end(), id);
        if (id == null_token || it == eog.end()) return;
        eog.erase(it);
        v.attrs[static_cast<std::size_t>(id)] = new_attr;
    };
    const auto has = [&](std::string_view s) {
        const token_id id = first_present(index, {s});
        return id != null_token && std::binary_search(eog.begin(), eog.end(), id);
    };
    // o200k_harmony and solar-open end a message with <|end|> but do not stop there.
    const bool call = has("<|call|>") || has("<|calls|>");
    if (has("<|end|>") && call && (has("<|return|>") || has("<|flush|>")))
        drop("<|end|>", attr::user_defined);
    // gemma 4 and paddleocr: </s> is an ordinary token there.
    if (has("<|tool_response>") && has("</s>")) drop("</s>", attr::normal);
}

#undef STRATA_TOK_DS
#undef STRATA_TOK_SP

// Attributes llama.cpp sets by model or pre-tokenizer name.
inline void apply_named_attrs(const gguf::file& f, const text_index& index, vocab& v) {
    std::string name(f.get_or<std::string_view>("general.name", ""));
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    const std::string arch(f.get_or<std::string_view>("general.architecture", ""));
    const auto contains = [](std::string_view s, std::initializer_list<std::string_view> parts) {
        for (std::string_view p : parts) if (s.find(p) != std::string_view::npos) return true;
        return false;
    };
    const auto set = [&](std::string_view token, std::uint32_t bit, bool on) {
        const token_id id = first_present(index, {token});
        if (id == null_token) return;
        auto& a = v.attrs[static_cast<std::size_t>(id)];
        a = on ? (a | bit) : (a & ~bit);
    };
    if (contains(v.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) || contains(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
        set("<mask>", attr::lstrip, true);
    } else if (contains(name, {"phi-3", "phi3"})) {
        // Phi-3 eats the white space after its special tokens.
        for (auto& a : v.attrs)
            if (a & (attr::control | attr::user_defined | attr::unknown)) a |= attr::rstrip;
        set("</s>", attr::rstrip, true);
        for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, attr::rstrip, false);
    } else if (contains(name, {"modern-bert"})) {
        set("[MASK]", attr::lstrip, true);
    }
}

// Control tokens with "unused" in their text are unused.
inline void mark_unused(vocab& v) {
    for (std::size_t i = 0; i < v.tokens.size(); ++i)
        if ((v.attrs[i] & attr::control) && v.tokens[i].find("unused") != std::string::npos) v.attrs[i] |= attr::unused;
}

inline void read_tokens(const gguf::file& f, vocab& v) {
    const std::vector<std::string_view> tokens = f.get_array<std::string_view>("tokenizer.ggml.tokens");
    v.tokens.reserve(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i)
        v.tokens.emplace_back(tokens[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : std::string(tokens[i]));
    v.scores = read_scores(f, v.tokens.size());
    if (f.contains("tokenizer.ggml.token_type")) {
        for (std::int32_t t : checked_array<std::int32_t>(f, "tokenizer.ggml.token_type", v.tokens.size()))
            v.types.push_back(static_cast<token_type>(t));
    }
    v.attrs.reserve(v.tokens.size());
    for (std::size_t i = 0; i < v.tokens.size(); ++i) v.attrs.push_back(attr_of(v.type(static_cast<token_id>(i))));
}

inline text_index index_tokens(const gguf::file& f, const vocab& v) {
    text_index index;
    index.reserve(v.tokens.size());
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
        const auto [it, fresh] = index.try_emplace(v.tokens[i], static_cast<token_id>(i));
        if (!fresh)
            vocab_error(f, errc::format, "duplicate token '" + v.tokens[i] + "' (ids " + std::to_string(it->second) +
                                             " and " + std::to_string(i) + ")");
    }
    return index;
}

}  // namespace detail

// Reads the vocabulary of a GGUF file. Throws strata::error: errc::missing when
// tokenizer.ggml.model, .tokens (or .merges for gpt2) is absent, errc::type for a key of the
// wrong type, errc::format for inconsistent data, errc::unsupported for a tokenizer model or
// pre-tokenizer that Strata does not implement.
inline vocab load_vocab(const gguf::file& f) {
    vocab v;
    const std::string model(f.get<std::string_view>("tokenizer.ggml.model"));
    v.pre = std::string(f.get_or<std::string_view>("tokenizer.ggml.pre", ""));
    detail::apply_model_defaults(f, model, v);
    if (v.model == model_kind::gpt2) {
        for (std::string_view m : f.get_array<std::string_view>("tokenizer.ggml.merges")) v.merges.emplace_back(m);
    }
    v.add_space_prefix = f.get_or<bool>("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
    detail::read_tokens(f, v);
    if (v.tokens.empty()) detail::vocab_error(f, errc::format, "tokenizer.ggml.tokens is empty");
    const detail::text_index index = detail::index_tokens(f, v);
    detail::read_special_ids(f, v);
    v.add_bos = f.get_or<bool>("tokenizer.ggml.add_bos_token", v.add_bos);
    v.add_eos = f.get_or<bool>("tokenizer.ggml.add_eos_token", v.add_eos);
    if (v.add_bos && v.bos == null_token)
        detail::vocab_error(f, errc::format, "tokenizer.ggml.add_bos_token is true but there is no bos token");
    if (v.add_eos && v.eos == null_token)
        detail::vocab_error(f, errc::format, "tokenizer.ggml.add_eos_token is true but there is no eos token");
    detail::detect_special_texts(index, v);
    detail::mark_unused(v);
    detail::collect_eog(index, v);
    detail::apply_named_attrs(f, index, v);
    return v;
}

}  // namespace tokenizer
STRATA_NAMESPACE_END
