// strata/tokenizer/wordpiece.hpp — BERT's WordPiece, as Hugging Face's BertTokenizer does it.
//
//   normalise: drop NUL, U+FFFD and control / unassigned code points; every white space
//              becomes a word break; an uncased vocabulary also strips accents (NFD, nonspacing
//              marks removed) and lower-cases (wordpiece_tables.hpp)
//   split:     at white space; each punctuation character (ASCII punctuation or \p{P}) and each
//              CJK ideograph is a word of its own
//   words:     greedy longest match from the left; the first piece is looked up with the
//              word-start marker, the rest without (GGUF's "phantom space" spelling of the
//              vocabulary: HF "##ing" is "ing", HF "the" is U+2581 "the"); a word with a part
//              no piece matches, or longer than 100 code points, is one [UNK]
//
// Whether the vocabulary is uncased is read from the vocabulary itself: a BERT vocab with no
// upper-case ASCII letter in any normal token was made from lower-cased text.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/tokenizer/bpe.hpp"
#include "strata/tokenizer/unicode.hpp"
#include "strata/tokenizer/vocab.hpp"
#include "strata/tokenizer/wordpiece_tables.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer::detail {

// HF's max_input_chars_per_word: a longer word is [UNK] without being matched.
inline constexpr std::size_t wpm_max_word_chars = 100;

inline bool wpm_uncased(const vocab& v) {
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
        if (v.type(static_cast<token_id>(i)) != token_type::normal) continue;
        const std::string& t = v.tokens[i];
        if (std::any_of(t.begin(), t.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) return false;
    }
    return true;
}

// BERT's "Chinese character" blocks: the CJK ideographs (kana and hangul are not among them).
constexpr bool wpm_cjk(std::uint32_t cp) noexcept {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

inline bool wpm_punctuation(std::uint32_t cp) noexcept {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return true;
    return is_punctuation(cp);
}

// Appends the accent-stripped, lower-cased form of cp.
inline void wpm_fold(std::uint32_t cp, std::vector<std::uint32_t>& out) {
    if (cp >= 0xAC00 && cp <= 0xD7A3) {  // Hangul syllable: L V [T] jamo (Unicode ch. 3.12)
        const std::uint32_t s = cp - 0xAC00;
        out.push_back(0x1100 + s / (21 * 28));
        out.push_back(0x1161 + (s % (21 * 28)) / 28);
        if (s % 28) out.push_back(0x11A7 + s % 28);
        return;
    }
    const auto it = std::lower_bound(fold_entries.begin(), fold_entries.end(), cp,
                                     [](const fold_entry& e, std::uint32_t c) { return e.cp < c; });
    if (it == fold_entries.end() || it->cp != cp) {
        out.push_back(cp);
        return;
    }
    for (std::size_t i = 0; i < it->length; ++i) out.push_back(fold_pool[it->offset + i]);
}

// The words of a text: code points, normalised and split as the header says.
inline std::vector<std::vector<std::uint32_t>> wpm_words(std::string_view text, bool uncased) {
    std::vector<std::vector<std::uint32_t>> words(1);
    std::vector<std::uint32_t> folded;
    const auto brk = [&] {
        if (!words.back().empty()) words.emplace_back();
    };
    for (std::size_t pos = 0; pos < text.size();) {
        const std::uint32_t cp = decode_utf8(text, pos);
        if (cp == 0 || cp == replacement_char) continue;
        if (is_white_space(cp)) {
            brk();
            continue;
        }
        const std::uint8_t cls = cpt_class(cp);
        if (cls == cpt_control || cls == cpt_undefined) continue;
        folded.clear();
        if (uncased) wpm_fold(cp, folded);
        else folded.push_back(cp);
        for (const std::uint32_t c : folded) {
            if (wpm_punctuation(c) || wpm_cjk(c)) {
                brk();
                words.back().push_back(c);
                words.emplace_back();
            } else {
                words.back().push_back(c);
            }
        }
    }
    if (words.back().empty()) words.pop_back();
    return words;
}

inline void wpm_encode_word(const std::vector<std::uint32_t>& word, const token_map& ids, token_id unk,
                            std::vector<token_id>& out) {
    if (word.size() > wpm_max_word_chars) {
        out.push_back(unk);
        return;
    }
    // byte offset of each code point, so that candidate pieces are substrings of one string
    std::string s;
    std::vector<std::size_t> at;
    for (const std::uint32_t c : word) {
        at.push_back(s.size());
        append_utf8(s, c);
    }
    at.push_back(s.size());
    const std::size_t n0 = out.size();
    std::string key;
    for (std::size_t start = 0; start < word.size();) {
        token_id found = null_token;
        std::size_t end = word.size();
        for (; end > start; --end) {
            key.assign(start == 0 ? "\xE2\x96\x81" : "");  // U+2581 marks a word's first piece
            key.append(s, at[start], at[end] - at[start]);
            found = find_token(ids, key);
            if (found != null_token) break;
        }
        if (found == null_token) {
            out.resize(n0);
            out.push_back(unk);
            return;
        }
        out.push_back(found);
        start = end;
    }
}

inline void wpm_encode(std::string_view text, bool uncased, const token_map& ids, token_id unk,
                       std::vector<token_id>& out) {
    for (const auto& w : wpm_words(text, uncased)) wpm_encode_word(w, ids, unk, out);
}

}  // namespace tokenizer::detail
STRATA_NAMESPACE_END
