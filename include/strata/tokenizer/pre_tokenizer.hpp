// strata/tokenizer/pre_tokenizer.hpp — splitting text into words before byte-level BPE.
//
// Each model family splits with one or more regular expressions, applied in turn: every regex
// cuts each piece from the previous one into its matches and the text between them. llama.cpp
// runs the common ones (GPT-2, Llama 3) through hand-written matchers and the rest through
// std::regex on a "collapsed" text in which each non-ASCII code point is replaced by a byte
// standing for its category. Each regex is written out here by hand with the same semantics
// (leftmost match, alternatives tried in order, greedy with backtracking), on code points and
// their general categories, and with the two quirks of the std::regex route:
//   - a regex with no \p{..} runs on code points in which non-ASCII white space was replaced
//     by U+000B, so an explicit range such as U+0800..U+4E00 never matches U+3000;
//   - every match is confined to the piece the previous regex produced (lookahead included).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/tokenizer/unicode.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer {

// The regex families of llama.cpp's llm_tokenizer_bpe that Strata implements.
enum class pre_kind {
    default_bpe,     // "default": punctuation runs, GPT-2, digit runs, groups of 3 digits
    gpt2,            // GPT-2: 's|'t|... | ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
    llama3,          // Llama 3: case-insensitive contractions, \p{N}{1,3}, newline runs
    qwen2,           // Qwen 2: the Llama 3 regex with single digits
    starcoder,       // single digits, then GPT-2
    falcon,          // punctuation runs, GPT-2, groups of 3 digits
    deepseek_llm,    // DeepSeek LLM: newlines, cased letters, ASCII/CJK punctuation, CJK, digit runs
    deepseek_coder,  // DeepSeek Coder: newlines, letters, punctuation, CJK, single digits
};

// What a tokenizer.ggml.pre name selects, with the flags llama.cpp's loader sets for it.
struct pre_tokenizer_info {
    pre_kind kind = pre_kind::default_bpe;
    bool clean_spaces = true;    // decode cleans " ," etc. (true unless the family says no)
    bool ignore_merges = false;  // a word that is a token is not merged (Llama 3)
    bool add_bos = false;        // default for add_bos before tokenizer.ggml.add_bos_token
    bool no_bos = false;         // the family has no BOS token (ChatGLM)
};

// The names llama.cpp accepts for the families above; nothing for any other name.
inline std::optional<pre_tokenizer_info> find_pre_tokenizer(std::string_view name) {
    const auto in = [&](std::initializer_list<std::string_view> names) {
        for (std::string_view n : names) if (n == name) return true;
        return false;
    };
    pre_tokenizer_info i;
    if (name.empty() || name == "default") {
        i.kind = pre_kind::default_bpe;
    } else if (in({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                   "jina-v5-nano"})) {
        i = {pre_kind::llama3, true, true, true, false};
    } else if (in({"dbrx", "smaug-bpe"})) {
        i.kind = pre_kind::llama3;
    } else if (in({"chatglm-bpe", "glm4"})) {
        i = {pre_kind::llama3, true, false, false, true};
    } else if (in({"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"})) {
        i = {pre_kind::qwen2, false, false, false, false};
    } else if (in({"stablelm2", "megrez"})) {
        i.kind = pre_kind::qwen2;
    } else if (in({"gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
                   "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo",
                   "jais"})) {
        i.kind = pre_kind::gpt2;
    } else if (in({"trillion", "granite-docling"})) {
        i = {pre_kind::gpt2, false, false, false, false};
    } else if (in({"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"})) {
        i.kind = pre_kind::starcoder;
    } else if (in({"smollm", "command-r"})) {
        i = {pre_kind::starcoder, false, false, false, false};
    } else if (name == "falcon") {
        i.kind = pre_kind::falcon;
    } else if (name == "deepseek-llm") {
        i = {pre_kind::deepseek_llm, false, false, false, false};
    } else if (name == "deepseek-coder") {
        i = {pre_kind::deepseek_coder, false, false, false, false};
    } else {
        return std::nullopt;
    }
    return i;
}

namespace detail {

// The text being split: code points and their classes, computed once.
struct split_text {
    std::vector<std::uint32_t> cps;
    std::vector<std::uint8_t> cls;
    std::vector<bool> space;

    explicit split_text(std::string_view s) : cps(decode_utf8(s)) {
        cls.reserve(cps.size());
        space.reserve(cps.size());
        for (std::uint32_t c : cps) {
            cls.push_back(cpt_class(c));
            space.push_back(is_white_space(c));
        }
    }
    bool letter(std::size_t i) const { return cls[i] == cpt_letter; }
    bool number(std::size_t i) const { return cls[i] == cpt_number; }
    bool punct(std::size_t i) const { return cls[i] == cpt_punctuation; }
    bool ws(std::size_t i) const { return space[i]; }
    // [^\s\p{L}\p{N}]
    bool other(std::size_t i) const { return !space[i] && cls[i] != cpt_letter && cls[i] != cpt_number; }
    // The code point as the std::wregex route sees it.
    std::uint32_t wide(std::size_t i) const { return cps[i] >= 0x80 && space[i] ? 0x0B : cps[i]; }
};

// Piece lengths (in code points) are appended to `out`; [b, e) is one piece of the previous stage.
using pieces = std::vector<std::size_t>;

// Drives a matcher over [b, e) like std::regex_iterator: the leftmost match, then the next one
// after it; the text between matches becomes pieces of its own. `match(pos)` returns the length
// of the match starting at pos (0 for none).
template <class Match>
void split_matches(std::size_t b, std::size_t e, pieces& out, Match match) {
    std::size_t gap = b;
    for (std::size_t pos = b; pos < e;) {
        const std::size_t n = match(pos);
        if (n == 0) { ++pos; continue; }
        if (pos > gap) out.push_back(pos - gap);
        out.push_back(n);
        pos += n;
        gap = pos;
    }
    if (e > gap) out.push_back(e - gap);
}

// Length of the run of `in` starting at pos, below e, at most `max` long (0 = unbounded).
template <class In>
std::size_t run(std::size_t pos, std::size_t e, In in, std::size_t max = 0) {
    std::size_t n = 0;
    while (pos + n < e && in(pos + n) && (max == 0 || n < max)) ++n;
    return n;
}

// C+ (max 0) or a single C (max 1).
template <class In>
void split_runs(std::size_t b, std::size_t e, pieces& out, In in, std::size_t max = 0) {
    split_matches(b, e, out, [&](std::size_t pos) { return run(pos, e, in, max); });
}

// \s?C+
template <class In>
void split_space_then_run(const split_text& t, std::size_t b, std::size_t e, pieces& out, In in) {
    split_matches(b, e, out, [&](std::size_t pos) -> std::size_t {
        if (t.ws(pos) && pos + 1 < e && in(pos + 1)) return 1 + run(pos + 1, e, in);
        return run(pos, e, in);
    });
}

// 's|'t|'re|'ve|'m|'ll|'d (ASCII case folded when `fold`): the match length at pos, or 0.
inline std::size_t contraction(const split_text& t, std::size_t pos, std::size_t e, bool fold) {
    if (t.cps[pos] != '\'' || pos + 1 >= e) return 0;
    const auto low = [&](std::size_t i) {
        const std::uint32_t c = t.cps[i];
        return fold && c >= 'A' && c <= 'Z' ? c + 32 : c;
    };
    const std::uint32_t c1 = low(pos + 1);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (pos + 2 >= e) return 0;
    const std::uint32_t c2 = low(pos + 2);
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

// White space at pos: \s+(?!\S) leaves the last blank to a following word; otherwise \s+.
// Also the "no match" step (one code point) when pos is not white space.
inline std::size_t blanks(const split_text& t, std::size_t pos, std::size_t e) {
    const std::size_t n = run(pos, e, [&](std::size_t i) { return t.ws(i); });
    if (n > 1 && pos + n < e) return n - 1;
    return n > 0 ? n : 1;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
inline void split_gpt2(const split_text& t, std::size_t b, std::size_t e, pieces& out) {
    for (std::size_t pos = b; pos < e;) {
        std::size_t n = contraction(t, pos, e, false);
        if (n == 0) {
            const std::size_t q = t.cps[pos] == ' ' ? pos + 1 : pos;  // after the optional space
            if (q < e && t.letter(q)) {
                n = q - pos + run(q, e, [&](std::size_t i) { return t.letter(i); });
            } else if (q < e && t.number(q)) {
                n = q - pos + run(q, e, [&](std::size_t i) { return t.number(i); });
            } else if (q < e && t.other(q)) {
                n = q - pos + run(q, e, [&](std::size_t i) { return t.other(i); });
            } else {
                n = blanks(t, pos, e);
            }
        }
        out.push_back(n);
        pos += n;
    }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+          with D = 3 (Llama 3) or 1 (Qwen 2)
inline std::size_t llama3_word(const split_text& t, std::size_t pos, std::size_t e, std::size_t digits) {
    if (const std::size_t n = contraction(t, pos, e, true)) return n;
    const std::uint32_t c = t.cps[pos];
    const auto letter = [&](std::size_t i) { return t.letter(i); };
    if (c != '\r' && c != '\n' && !t.number(pos)) {
        if (t.letter(pos)) return run(pos, e, letter);
        if (pos + 1 < e && t.letter(pos + 1)) return 1 + run(pos + 1, e, letter);
    }
    if (t.number(pos)) return run(pos, e, [&](std::size_t i) { return t.number(i); }, digits);
    const std::size_t q = c == ' ' ? pos + 1 : pos;
    if (q < e && t.other(q)) {
        std::size_t end = q + run(q, e, [&](std::size_t i) { return t.other(i); });
        end += run(end, e, [&](std::size_t i) { return t.cps[i] == '\r' || t.cps[i] == '\n'; });
        return end - pos;
    }
    // \s*[\r\n]+ reaches the last newline of the blank run, if it has one.
    std::size_t n = 0, through_newline = 0;
    for (; pos + n < e && t.ws(pos + n); ++n)
        if (t.cps[pos + n] == '\r' || t.cps[pos + n] == '\n') through_newline = n + 1;
    if (through_newline > 0) return through_newline;
    return blanks(t, pos, e);
}

inline void split_llama3(const split_text& t, std::size_t b, std::size_t e, pieces& out, std::size_t digits) {
    for (std::size_t pos = b; pos < e;) {
        const std::size_t n = llama3_word(t, pos, e, digits);
        out.push_back(n);
        pos += n;
    }
}

// \s+$ : the blank run that ends the piece.
inline void split_trailing_blanks(const split_text& t, std::size_t b, std::size_t e, pieces& out) {
    std::size_t tail = e;
    while (tail > b && t.ws(tail - 1)) --tail;
    if (tail > b) out.push_back(tail - b);
    if (e > tail) out.push_back(e - tail);
}

// [0-9][0-9][0-9]
inline void split_digit_triples(const split_text& t, std::size_t b, std::size_t e, pieces& out) {
    const auto digit = [&](std::size_t i) { return t.cps[i] >= '0' && t.cps[i] <= '9'; };
    split_matches(b, e, out, [&](std::size_t pos) -> std::size_t {
        return pos + 3 <= e && digit(pos) && digit(pos + 1) && digit(pos + 2) ? 3 : 0;
    });
}

struct cp_range {
    std::uint32_t first, last;
};

template <std::size_t N>
constexpr bool in_ranges(const cp_range (&r)[N], std::uint32_t c) noexcept {
    for (const cp_range& x : r) if (c >= x.first && c <= x.last) return true;
    return false;
}

// DeepSeek LLM's cased-letter class (the upper, lower and title case letters of the Unicode
// version its tokenizer.json was written against).
inline constexpr cp_range deepseek_letters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA}, {0x1BC, 0x1BF},
    {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F},
    {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481},
    {0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D},
    {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC},
    {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102},
    {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3},
    {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF},
    {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
    {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};
// DeepSeek LLM's punctuation class: ASCII punctuation and symbols, full-width forms, quotes,
// ideographic space and punctuation.
inline constexpr cp_range deepseek_punct[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};
// [一-龥ࠀ-一가-퟿]: CJK ideographs, U+0800..U+4E00 (sic, as the tokenizers write it) and Hangul.
inline constexpr cp_range deepseek_cjk[] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};

// [\p{P}$+<=>^~|] plus ` when `backtick` (Falcon).
inline bool falcon_punct(const split_text& t, std::size_t i, bool backtick) {
    if (t.punct(i)) return true;
    const std::uint32_t c = t.cps[i];
    return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|' ||
           (backtick && c == '`');
}

// One regex stage over every piece of the previous one.
template <class Split>
pieces stage(const pieces& in, Split split) {
    pieces out;
    out.reserve(in.size());
    std::size_t b = 0;
    for (std::size_t len : in) {
        split(b, b + len, out);
        b += len;
    }
    return out;
}

inline pieces split_pieces(const split_text& t, pre_kind kind) {
    pieces p{t.cps.size()};
    const auto gpt2 = [&](std::size_t b, std::size_t e, pieces& o) { split_gpt2(t, b, e, o); };
    const auto triples = [&](std::size_t b, std::size_t e, pieces& o) { split_digit_triples(t, b, e, o); };
    const auto number = [&](std::size_t i) { return t.number(i); };
    const auto newline = [&](std::size_t i) { return t.cps[i] == '\r' || t.cps[i] == '\n'; };
    const auto cjk = [&](std::size_t i) { return in_ranges(deepseek_cjk, t.wide(i)); };
    switch (kind) {
        case pre_kind::gpt2: return stage(p, gpt2);
        case pre_kind::llama3:
        case pre_kind::qwen2: {
            const std::size_t digits = kind == pre_kind::llama3 ? 3 : 1;
            return stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_llama3(t, b, e, o, digits); });
        }
        case pre_kind::starcoder:
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, number, 1); });
            return stage(p, gpt2);
        case pre_kind::default_bpe:
        case pre_kind::falcon: {
            const bool tick = kind == pre_kind::falcon;
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) {
                split_runs(b, e, o, [&](std::size_t i) { return falcon_punct(t, i, tick); });
            });
            p = stage(p, gpt2);
            if (!tick) p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, number); });
            return stage(p, triples);
        }
        case pre_kind::deepseek_llm:
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, newline, 1); });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) {
                split_space_then_run(t, b, e, o, [&](std::size_t i) { return in_ranges(deepseek_letters, t.wide(i)); });
            });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) {
                split_space_then_run(t, b, e, o, [&](std::size_t i) { return in_ranges(deepseek_punct, t.wide(i)); });
            });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_trailing_blanks(t, b, e, o); });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, cjk); });
            return stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, number); });
        case pre_kind::deepseek_coder:
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, newline, 1); });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) {
                split_space_then_run(t, b, e, o, [&](std::size_t i) { return t.letter(i); });
            });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) {
                split_space_then_run(t, b, e, o, [&](std::size_t i) { return t.punct(i); });
            });
            p = stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, cjk); });
            return stage(p, [&](std::size_t b, std::size_t e, pieces& o) { split_runs(b, e, o, number, 1); });
    }
    return p;
}

}  // namespace detail

// Splits text into the words byte-level BPE merges within, as UTF-8 (bytes that are not valid
// UTF-8 come back as U+FFFD, as in llama.cpp). Empty text gives no words.
inline std::vector<std::string> pre_tokenize(std::string_view text, pre_kind kind) {
    const detail::split_text t(text);
    std::vector<std::string> words;
    if (t.cps.empty()) return words;
    const detail::pieces p = detail::split_pieces(t, kind);
    words.reserve(p.size());
    std::size_t b = 0;
    for (std::size_t len : p) {
        std::string w;
        for (std::size_t i = b; i < b + len; ++i) detail::append_utf8(w, t.cps[i]);
        words.push_back(std::move(w));
        b += len;
    }
    return words;
}

}  // namespace tokenizer
STRATA_NAMESPACE_END
