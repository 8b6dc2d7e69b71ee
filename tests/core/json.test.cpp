// The JSON writer: structure, escaping, invalid UTF-8, numbers, indentation and misuse.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "strata/core/json.hpp"

using strata::json_writer;

namespace {
std::string quoted(std::string_view s) {
    std::string out;
    strata::append_json_string(out, s);
    return out;
}
template <class T>
std::string number(T x) {
    std::string out;
    json_writer(out).value(x);
    return out;
}
bool is_argument_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const strata::error& e) {
        return e.category() == strata::errc::argument;
    }
    return false;
}
}  // namespace

TEST_CASE("json: objects, arrays, scalars, compact", "[core][json]") {
    std::string out;
    json_writer j(out);
    j.begin_object();
    j.member("a", 1).member("b", "x").member("c", true).key("d").null();
    j.key("e").begin_array().value(1u).value(-2).value(0.5).begin_object().end_object().begin_array().end_array().end_array();
    j.key("f").begin_object().member("g", false).end_object();
    j.end_object();
    CHECK(j.done());
    CHECK(out == R"({"a":1,"b":"x","c":true,"d":null,"e":[1,-2,0.5,{},[]],"f":{"g":false}})");
}

TEST_CASE("json: indentation", "[core][json]") {
    std::string out;
    json_writer j(out, 2);
    j.begin_object().member("a", 1).key("b").begin_array().value(1).value(2).end_array();
    j.key("c").begin_object().end_object().end_object();
    CHECK(out == "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}");
}

TEST_CASE("json: string escaping", "[core][json]") {
    CHECK(quoted("plain") == "\"plain\"");
    CHECK(quoted("a\"b\\c/d") == R"("a\"b\\c/d")");
    CHECK(quoted("\b\f\n\r\t") == R"("\b\f\n\r\t")");
    CHECK(quoted(std::string("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\x7f\"");
    CHECK(quoted("") == "\"\"");
}

TEST_CASE("json: valid UTF-8 passes, invalid bytes become U+FFFD", "[core][json]") {
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(quoted("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    CHECK(quoted("\xEF\xBF\xBF") == "\"\xEF\xBF\xBF\"");              // U+FFFF is a valid scalar
    CHECK(quoted("\xF4\x8F\xBF\xBF") == "\"\xF4\x8F\xBF\xBF\"");      // U+10FFFF
    CHECK(quoted("\x80") == "\"" + fffd + "\"");                      // lone continuation
    CHECK(quoted("a\xFF" "b") == "\"a" + fffd + "b\"");
    CHECK(quoted("\xC0\xAF") == "\"" + fffd + fffd + "\"");           // overlong '/'
    CHECK(quoted("\xE0\x80\xAF") == "\"" + fffd + fffd + fffd + "\""); // overlong, 3 bytes
    CHECK(quoted("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\""); // a UTF-16 surrogate
    CHECK(quoted("\xF4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // above U+10FFFF
    CHECK(quoted("\xF5\x80") == "\"" + fffd + fffd + "\"");
    CHECK(quoted("\xE2\x82") == "\"" + fffd + "\"");                  // truncated: one maximal subpart
    CHECK(quoted("\xE2\x82x") == "\"" + fffd + "x\"");
    CHECK(quoted("\xF0\x9F\x98") == "\"" + fffd + "\"");
    CHECK(quoted("\xF0\x9F\x98\x80\xF0") == "\"\xF0\x9F\x98\x80" + fffd + "\"");
}

TEST_CASE("json: random bytes always give valid UTF-8 output", "[core][json]") {
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> len(0, 40), byte(0, 255);
    for (int i = 0; i < 2000; ++i) {
        std::string s(static_cast<std::size_t>(len(rng)), '\0');
        for (auto& c : s) c = static_cast<char>(byte(rng));
        const std::string q = quoted(s);
        // Every byte >= 0x80 of the output belongs to a valid sequence, and no raw control byte is left.
        for (std::size_t k = 0; k < q.size();) {
            const auto c = static_cast<unsigned char>(q[k]);
            REQUIRE(c >= 0x20);
            if (c < 0x80) {
                ++k;
                continue;
            }
            std::size_t prefix = 0;
            const std::size_t n = strata::detail::utf8_sequence(q, k, &prefix);
            REQUIRE(n >= 2);
            k += n;
        }
    }
}

TEST_CASE("json: integers and doubles", "[core][json]") {
    CHECK(number(0) == "0");
    CHECK(number(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
    CHECK(number(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
    CHECK(number(std::int8_t{-5}) == "-5");
    CHECK(number(std::uint8_t{200}) == "200");
    CHECK(number(0.1) == "0.1");
    CHECK(number(0.1f) == "0.1");  // float's own shortest form, not 0.10000000149011612
    CHECK(number(-0.0) == "-0");
    CHECK(number(1e300) == "1e+300");
    CHECK(number(5e-324) == "5e-324");
    CHECK(number(123456789.0) == "123456789");
    CHECK(number(std::numeric_limits<double>::quiet_NaN()) == "null");
    CHECK(number(-std::numeric_limits<double>::infinity()) == "null");
    CHECK(number(std::numeric_limits<float>::infinity()) == "null");
    // Shortest round trip: reading the text back gives the same double.
    std::mt19937_64 rng(42);
    for (int i = 0; i < 1000; ++i) {
        double x;
        const std::uint64_t bits = rng();
        std::memcpy(&x, &bits, 8);
        if (!std::isfinite(x)) continue;
        const std::string s = number(x);
        CHECK(std::strtod(s.c_str(), nullptr) == x);
    }
}

TEST_CASE("json: misuse is an argument error", "[core][json]") {
    std::string out;
    CHECK(is_argument_error([&] { json_writer(out).key("k"); }));
    CHECK(is_argument_error([&] { json_writer(out).begin_object().value(1); }));
    CHECK(is_argument_error([&] { json_writer(out).begin_object().key("a").key("b"); }));
    CHECK(is_argument_error([&] { json_writer(out).begin_array().end_object(); }));
    CHECK(is_argument_error([&] { json_writer(out).end_array(); }));
    CHECK(is_argument_error([&] { json_writer(out).begin_object().key("a").end_object(); }));
    CHECK(is_argument_error([&] { json_writer(out).value(1).value(2); }));
    CHECK(is_argument_error([&] { json_writer(out).begin_array().key("k"); }));
    json_writer j(out);
    CHECK_FALSE(j.done());
    j.begin_array();
    CHECK_FALSE(j.done());
    j.end_array();
    CHECK(j.done());
}
