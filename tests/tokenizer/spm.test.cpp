// SentencePiece BPE on a hand-made vocabulary: score-driven merges, byte fallback, U+2581.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "strata/tokenizer/tokenizer.hpp"

namespace tok = strata::tokenizer;
using ids = std::vector<tok::token_id>;

namespace {
// 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then words with their scores.
tok::vocab tiny_spm() {
    tok::vocab v;
    v.model = tok::model_kind::llama;
    const auto add = [&](std::string text, float score, tok::token_type type) {
        v.tokens.push_back(std::move(text));
        v.scores.push_back(score);
        v.types.push_back(type);
    };
    add("<unk>", 0, tok::token_type::unknown);
    add("<s>", 0, tok::token_type::control);
    add("</s>", 0, tok::token_type::control);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        add(name, 0, tok::token_type::byte);
    }
    const char* words[] = {"\xE2\x96\x81", "h", "e", "l", "o", "ll", "he", "llo", "hello", "\xE2\x96\x81hello", "\xE2\x96\x81he"};
    const float scores[] = {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -20};
    for (int i = 0; i < 11; ++i) add(words[i], scores[i], tok::token_type::normal);
    v.unk = 0, v.bos = 1, v.eos = 2;
    v.add_bos = true;
    v.add_space_prefix = true;
    return v;
}
constexpr tok::token_id space = 259, h = 260, l = 262, ll = 264, hello = 267, space_hello = 268;
constexpr tok::token_id byte(unsigned char b) { return 3 + b; }
}  // namespace

TEST_CASE("spm merges the highest-scoring pair first", "[tokenizer][spm]") {
    const tok::tokenizer t(tiny_spm());
    // ll (-6), he (-7), llo (-8), hello (-9), ▁hello (-10): ▁he (-20) never gets its turn
    CHECK(t.encode("hello", false) == ids{space_hello});
    CHECK(t.encode("hello", true) == ids{1, space_hello});
    // equal scores: the leftmost pair wins
    CHECK(t.encode("lll", false) == ids{space, ll, l});
    // 'i' is no token: its byte
    CHECK(t.encode("hello hi", false) == ids{space_hello, space, h, byte('i')});
    CHECK(t.encode("", false).empty());
    CHECK(t.encode("", true) == ids{1});
}

TEST_CASE("spm falls back to bytes and survives invalid UTF-8", "[tokenizer][spm]") {
    const tok::tokenizer t(tiny_spm());
    CHECK(t.encode("\xC3\xB1", false) == ids{space, byte(0xC3), byte(0xB1)});
    CHECK(t.encode("\xFF", false) == ids{space, byte(0xFF)});
    CHECK(t.encode("h\xE2\x96", false) == ids{space, h, byte(0xE2), byte(0x96)});
    CHECK(t.decode(t.encode("\xC3\xB1 hello", false)) == "\xC3\xB1 hello");
}

TEST_CASE("spm special tokens and the space prefix", "[tokenizer][spm]") {
    const tok::tokenizer t(tiny_spm());
    // recognised only with parse_special; the text after a special gets the space prefix again
    CHECK(t.encode("<s>hello", false, true) == ids{1, space_hello});
    CHECK(t.encode("<s>hello", false, false) == ids{space, byte('<'), byte('s'), byte('>'), hello});
    tok::vocab v = tiny_spm();
    v.add_space_prefix = false;
    const tok::tokenizer no_prefix(v);
    CHECK(no_prefix.encode("hello", false) == ids{hello});
}

TEST_CASE("spm pieces and decoding", "[tokenizer][spm]") {
    const tok::tokenizer t(tiny_spm());
    CHECK(t.piece(space_hello) == " hello");
    CHECK(t.piece(byte('A')) == "A");
    CHECK(t.piece(1).empty());
    CHECK(t.piece(1, true) == "<s>");
    CHECK(t.piece(0, true) == "<unk>");
    CHECK(t.piece(-1).empty());
    CHECK(t.piece(100000).empty());
    // the space add_space_prefix put first is removed
    CHECK(t.decode(ids{space_hello, space, h, byte('i')}) == "hello hi");
    // only the first piece is stripped, even when it renders as "" (as llama_detokenize does)
    CHECK(t.decode(ids{1, space_hello}) == " hello");
    CHECK(t.decode(ids{1, space_hello}, true) == "<s> hello");
    CHECK(t.decode(ids{1, space_hello}, false, true) == " hello");  // bos removed: no strip
}
