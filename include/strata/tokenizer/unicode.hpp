// strata/tokenizer/unicode.hpp — UTF-8 and code point classes as llama.cpp's tokenizers see them.
//
// Token ids must equal llama.cpp's, so the decoder reproduces its leniency exactly: a lead byte
// announces the length, continuation bytes are checked, but overlong forms and surrogates decode
// as written; a byte that starts no valid sequence becomes U+FFFD and decoding moves on by one
// byte. Nothing here throws, whatever the bytes.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/utf8.hpp"
#include "strata/tokenizer/unicode_tables.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer::detail {

inline constexpr std::uint32_t replacement_char = 0xFFFD;
inline constexpr std::uint32_t max_code_point = 0x10FFFF;

// Bytes in the UTF-8 sequence a lead byte announces (1 for a stray continuation byte), from
// its high nibble: what llama.cpp uses to cut text into "characters" without validating it.
constexpr std::size_t utf8_len(char lead) noexcept {
    constexpr std::uint8_t by_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_nibble[static_cast<std::uint8_t>(lead) >> 4];
}

// Decodes one code point at s[pos] and advances pos; invalid input gives U+FFFD and pos + 1.
// A 4-byte form above U+10FFFF is treated as invalid too (llama.cpp would throw later on it).
inline std::uint32_t decode_utf8(std::string_view s, std::size_t& pos) noexcept {
    const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(s[pos + i]); };
    const auto cont = [&](std::size_t i) { return pos + i < s.size() && (b(i) & 0xC0) == 0x80; };
    const std::uint8_t c = b(0);
    std::uint32_t cp = replacement_char;
    std::size_t n = 1;
    if (c < 0x80) {
        cp = c;
    } else if ((c & 0xE0) == 0xC0) {
        if (cont(1)) { cp = (std::uint32_t{c} & 0x1F) << 6 | (b(1) & 0x3Fu); n = 2; }
    } else if ((c & 0xF0) == 0xE0) {
        if (cont(1) && cont(2)) { cp = (std::uint32_t{c} & 0x0F) << 12 | (b(1) & 0x3Fu) << 6 | (b(2) & 0x3Fu); n = 3; }
    } else if ((c & 0xF8) == 0xF0) {
        if (cont(1) && cont(2) && cont(3)) {
            const std::uint32_t v = (std::uint32_t{c} & 0x07) << 18 | (b(1) & 0x3Fu) << 12 | (b(2) & 0x3Fu) << 6 |
                                    (b(3) & 0x3Fu);
            if (v <= max_code_point) { cp = v; n = 4; }
        }
    }
    pos += n;
    return cp;
}

inline std::vector<std::uint32_t> decode_utf8(std::string_view s) {
    std::vector<std::uint32_t> out;
    out.reserve(s.size());
    for (std::size_t pos = 0; pos < s.size();) out.push_back(decode_utf8(s, pos));
    return out;
}

using ::strata::append_utf8;  // core/utf8.hpp

// ---- code point classes ----------------------------------------------------------------------

// The general-category class bit (cpt_* in unicode_tables.hpp); cpt_undefined above U+10FFFF.
inline std::uint8_t cpt_class(std::uint32_t cp) noexcept {
    if (cp > max_code_point) return cpt_undefined;
    const auto it = std::upper_bound(cpt_range_first.begin(), cpt_range_first.end(), cp);
    return cpt_range_class[static_cast<std::size_t>(it - cpt_range_first.begin()) - 1];
}

inline bool is_white_space(std::uint32_t cp) noexcept {
    if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
    return std::binary_search(white_space.begin(), white_space.end(), cp);
}

inline bool is_letter(std::uint32_t cp) noexcept { return cpt_class(cp) == cpt_letter; }
inline bool is_number(std::uint32_t cp) noexcept { return cpt_class(cp) == cpt_number; }
inline bool is_punctuation(std::uint32_t cp) noexcept { return cpt_class(cp) == cpt_punctuation; }

// ---- GPT-2 byte-level alphabet ---------------------------------------------------------------
// Byte-level BPE spells every byte as a printable code point: the printable Latin-1 bytes stand
// for themselves, the other 68 are mapped in order to U+0100.. so that no token holds a control
// character or a space.

constexpr bool byte_is_printable(int b) noexcept {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

constexpr std::array<std::uint16_t, 256> make_byte_to_cpt() noexcept {
    std::array<std::uint16_t, 256> map{};
    std::uint16_t next = 256;
    for (int b = 0; b < 256; ++b) map[static_cast<std::size_t>(b)] = byte_is_printable(b) ? static_cast<std::uint16_t>(b) : next++;
    return map;
}
inline constexpr std::array<std::uint16_t, 256> byte_to_cpt = make_byte_to_cpt();
inline constexpr std::uint32_t byte_alphabet_end = 256 + 68;  // one past the highest mapped code point

constexpr std::array<std::int16_t, byte_alphabet_end> make_cpt_to_byte() noexcept {
    std::array<std::int16_t, byte_alphabet_end> map{};
    for (auto& v : map) v = -1;
    for (int b = 0; b < 256; ++b) map[byte_to_cpt[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
    return map;
}
inline constexpr std::array<std::int16_t, byte_alphabet_end> cpt_to_byte_map = make_cpt_to_byte();

// The byte a code point of the alphabet stands for, or -1.
constexpr int cpt_to_byte(std::uint32_t cp) noexcept {
    return cp < byte_alphabet_end ? cpt_to_byte_map[cp] : -1;
}

// Appends the alphabet spelling of raw bytes.
inline void append_byte_encoded(std::string& out, std::string_view bytes) {
    for (char c : bytes) append_utf8(out, byte_to_cpt[static_cast<std::uint8_t>(c)]);
}

}  // namespace tokenizer::detail
STRATA_NAMESPACE_END
