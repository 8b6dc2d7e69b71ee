// Byte-level BPE on a hand-made vocabulary: merges by rank, the byte alphabet, byte fallback.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "strata/tokenizer/tokenizer.hpp"

namespace tok = strata::tokenizer;
using ids = std::vector<tok::token_id>;

namespace {
// Ids 0..255 are the single bytes (id = byte value), spelled in the GPT-2 alphabet.
tok::vocab tiny_bpe() {
    tok::vocab v;
    v.model = tok::model_kind::gpt2;
    v.pre = "gpt-2";
    for (int b = 0; b < 256; ++b) {
        std::string s;
        tok::detail::append_utf8(s, tok::detail::byte_to_cpt[static_cast<std::size_t>(b)]);
        v.tokens.push_back(s);
    }
    const std::string G = "\xC4\xA0";  // 'Ġ', the spelling of ' '
    for (const std::string& t : {std::string("ll"), std::string("he"), std::string("hell"), std::string("hello"), G + "w",
                                 std::string("or"), G + "wor", std::string("ld"), G + "world"})
        v.tokens.push_back(t);
    v.tokens.push_back("<|endoftext|>");
    v.tokens.push_back(G + "xyz");
    v.types.assign(v.tokens.size(), tok::token_type::normal);
    v.types[265] = tok::token_type::control;
    v.merges = {"l l", "h e", "he ll", "hell o", G + " w", "o r", G + "w or", "l d", G + "wor ld"};
    v.bos = v.eos = 265;
    return v;
}
constexpr tok::token_id ll = 256, hell = 258, hello = 259, space_world = 264, eot = 265, space_xyz = 266;
}  // namespace

TEST_CASE("bpe merges the lowest rank first", "[tokenizer][bpe]") {
    const tok::tokenizer t(tiny_bpe());
    CHECK(t.encode("hello world", false) == ids{hello, space_world});
    CHECK(t.encode("hellx", false) == ids{hell, 'x'});
    CHECK(t.encode("lll", false) == ids{ll, 'l'});  // equal ranks: leftmost
    CHECK(t.encode(" ", false) == ids{' '});
    CHECK(t.encode("\xC3\xA9", false) == ids{0xC3, 0xA9});
    CHECK(t.encode(" xyz", false) == ids{' ', 'x', 'y', 'z'});  // no merges lead to "Ġxyz"
    CHECK(t.encode("", false).empty());
}

TEST_CASE("bpe ignore_merges takes a word that is a token whole", "[tokenizer][bpe]") {
    tok::vocab v = tiny_bpe();
    v.ignore_merges = true;
    const tok::tokenizer t(v);
    CHECK(t.encode(" xyz", false) == ids{space_xyz});
}

TEST_CASE("bpe special tokens, add_special and decoding", "[tokenizer][bpe]") {
    tok::vocab v = tiny_bpe();
    v.add_bos = true;
    const tok::tokenizer t(v);
    CHECK(t.encode("hello<|endoftext|>", false, true) == ids{hello, eot});
    CHECK(t.encode("hello<|endoftext|>", false, false) ==
          ids{hello, '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>'});
    CHECK(t.encode("hello", true) == ids{eot, hello});
    CHECK(t.decode(ids{hello, space_world}) == "hello world");
    CHECK(t.decode(ids{eot, hello}) == "hello");
    CHECK(t.decode(ids{eot, hello}, true) == "<|endoftext|>hello");
    CHECK(t.piece(' ') == " ");
    CHECK(t.piece(0xC3) == "\xC3");
    CHECK(t.is_eog(eot));
    CHECK_FALSE(t.is_eog(hello));
}

TEST_CASE("bpe survives invalid UTF-8: bad bytes become U+FFFD", "[tokenizer][bpe]") {
    const tok::tokenizer t(tiny_bpe());
    // U+FFFD = EF BF BD, one byte token each
    CHECK(t.encode("a\xFF", false) == ids{'a', 0xEF, 0xBF, 0xBD});
    CHECK(t.decode(t.encode("a\xFF", false)) == "a\xEF\xBF\xBD");
}
