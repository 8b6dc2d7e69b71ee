// The tokenizer class around the two algorithms: special-token splitting (parse_special,
// user-defined tokens, lstrip / rstrip, longest first), decode's space clean-up, validation, and
// that no input makes encode throw.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "strata/core/error.hpp"
#include "strata/tokenizer/tokenizer.hpp"

namespace tok = strata::tokenizer;
using ids = std::vector<tok::token_id>;

namespace {
// Byte tokens 0..255 (id = byte value) and a few special tokens after them.
tok::vocab special_vocab() {
    tok::vocab v;
    v.model = tok::model_kind::gpt2;
    v.pre = "gpt-2";
    for (int b = 0; b < 256; ++b) {
        std::string s;
        tok::detail::append_utf8(s, tok::detail::byte_to_cpt[static_cast<std::size_t>(b)]);
        v.tokens.push_back(s);
    }
    v.types.assign(256, tok::token_type::normal);
    const auto add = [&](const char* text, tok::token_type type) {
        v.tokens.push_back(text);
        v.types.push_back(type);
    };
    add("<u>", tok::token_type::user_defined);  // 256
    add("<c>", tok::token_type::control);       // 257
    add("<l>", tok::token_type::user_defined);  // 258, lstrip
    add("<r>", tok::token_type::user_defined);  // 259, rstrip
    add("xx", tok::token_type::user_defined);   // 260
    add("xxx", tok::token_type::user_defined);  // 261
    for (tok::token_type t : v.types) v.attrs.push_back(tok::attr_of(t));
    v.attrs[258] |= tok::attr::lstrip;
    v.attrs[259] |= tok::attr::rstrip;
    v.eos = 257;
    return v;
}
constexpr tok::token_id U = 256, C = 257, L = 258, R = 259, XXX = 261;

template <class F>
strata::errc error_of(F&& f) {
    try {
        f();
    } catch (const strata::error& e) {
        return e.category();
    }
    FAIL("no strata::error thrown");
    return strata::errc::internal;
}
}  // namespace

TEST_CASE("special tokens are cut out before the algorithm runs", "[tokenizer]") {
    const tok::tokenizer t(special_vocab());
    // user-defined tokens always, control tokens only with parse_special
    CHECK(t.encode("a<u>b", false, false) == ids{'a', U, 'b'});
    CHECK(t.encode("a<c>b", false, false) == ids{'a', '<', 'c', '>', 'b'});
    CHECK(t.encode("a<c>b", false, true) == ids{'a', C, 'b'});
    // lstrip eats the blanks before the token, rstrip those after it
    CHECK(t.encode("a \t<l>b", false) == ids{'a', L, 'b'});
    CHECK(t.encode("a<r> \n b", false) == ids{'a', R, 'b'});
    CHECK(t.encode("<r>   ", false) == ids{R});
    // the longest special token is cut out first
    CHECK(t.encode("xxxx", false) == ids{XXX, 'x'});
    CHECK(t.encode("<u><u>", false) == ids{U, U});
    CHECK(t.is_eog(C));
    CHECK(t.find("<u>") == U);
    CHECK(t.find("<nope>") == tok::null_token);
}

TEST_CASE("decode's clean-up of tokenization spaces", "[tokenizer]") {
    const auto clean = [](std::string s) {
        tok::detail::clean_spaces(s);
        return s;
    };
    CHECK(clean("Hello , world !") == "Hello, world!");
    CHECK(clean(" ?x") == "?x");
    CHECK(clean("it ' s") == "it's");
    CHECK(clean("I 'm here , we 're") == "I'm here, we're");
    CHECK(clean("don 't you 'll") == "don 't you 'll");
    CHECK(clean("") == "");
    tok::vocab v = special_vocab();
    v.clean_spaces = true;
    const tok::tokenizer t(v);
    CHECK(t.decode(t.encode("a , b", false)) == "a, b");
}

TEST_CASE("inconsistent vocabularies are refused with a category", "[tokenizer]") {
    using strata::errc;
    const auto build = [](tok::vocab v) { return [v] { tok::tokenizer t(v); }; };
    tok::vocab v = special_vocab();
    v.scores.assign(3, 0.0f);
    CHECK(error_of(build(v)) == errc::format);
    v = special_vocab();
    v.bos = 100000;
    CHECK(error_of(build(v)) == errc::format);
    v = special_vocab();
    v.add_bos = true;  // no bos
    CHECK(error_of(build(v)) == errc::format);
    v = special_vocab();
    v.tokens[1] = v.tokens[0];
    CHECK(error_of(build(v)) == errc::format);
    v = special_vocab();
    v.pre = "no-such-pre";
    CHECK(error_of(build(v)) == errc::unsupported);
    v = special_vocab();
    v.model = tok::model_kind::bert;
    v.unk = tok::null_token;  // WordPiece needs an unknown token
    CHECK(error_of(build(v)) == errc::format);
    CHECK(error_of(build(tok::vocab{})) == errc::argument);
}

TEST_CASE("encode takes any bytes without throwing", "[tokenizer]") {
    const tok::tokenizer t(special_vocab());
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> byte(0, 255), len(0, 64);
    for (int i = 0; i < 2000; ++i) {
        std::string s(static_cast<std::size_t>(len(rng)), '\0');
        for (char& c : s) c = static_cast<char>(byte(rng));
        std::vector<tok::token_id> out;
        REQUIRE_NOTHROW(out = t.encode(s, true, i % 2 == 0));
        for (tok::token_id id : out) REQUIRE(t.vocabulary().contains(id));
        REQUIRE_NOTHROW(t.decode(out, true));
    }
}
