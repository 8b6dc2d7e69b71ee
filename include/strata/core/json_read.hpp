// strata/core/json_read.hpp — a small JSON reader (RFC 8259) into a tree, for files Strata
// writes itself and reads back (a plan: `strata-chat --plan FILE.json`).
//
// Numbers are kept as doubles and, when they are integers, also exactly as 64-bit integers
// (byte counts exceed 2^53). Malformed input is an errc::format error with the byte offset;
// asking a value for the wrong type or a missing member is an errc::format error naming it.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/core/utf8.hpp"

STRATA_NAMESPACE_BEGIN

class json_value {
public:
    enum class kind { null, boolean, number, string, array, object };

    kind type() const noexcept { return kind_; }
    bool is_null() const noexcept { return kind_ == kind::null; }
    bool is_object() const noexcept { return kind_ == kind::object; }
    bool is_array() const noexcept { return kind_ == kind::array; }

    bool as_bool(std::string_view what = "value") const { want(kind::boolean, what); return bool_; }
    double as_double(std::string_view what = "value") const { want(kind::number, what); return num_; }
    std::int64_t as_int(std::string_view what = "value") const {
        want(kind::number, what);
        if (!is_int_) STRATA_THROW(errc::format, "JSON: " + std::string(what) + " must be an integer");
        return int_;
    }
    std::uint64_t as_uint(std::string_view what = "value") const {
        const std::int64_t v = as_int(what);
        if (v < 0 && !big_) STRATA_THROW(errc::format, "JSON: " + std::string(what) + " must not be negative");
        return static_cast<std::uint64_t>(v);
    }
    const std::string& as_string(std::string_view what = "value") const { want(kind::string, what); return str_; }
    const std::vector<json_value>& items(std::string_view what = "value") const { want(kind::array, what); return arr_; }

    // Member KEY of an object: null when absent (find), an error when absent (at).
    const json_value* find(std::string_view key) const {
        if (kind_ != kind::object) return nullptr;
        for (const auto& [k, v] : obj_)
            if (k == key) return &v;
        return nullptr;
    }
    const json_value& at(std::string_view key) const {
        want(kind::object, "parent of '" + std::string(key) + "'");
        const json_value* v = find(key);
        if (!v) STRATA_THROW(errc::format, "JSON: member '" + std::string(key) + "' is missing");
        return *v;
    }
    const std::vector<std::pair<std::string, json_value>>& members() const { want(kind::object, "value"); return obj_; }

    static json_value parse(std::string_view text);

private:
    friend class json_parser;
    void want(kind k, std::string_view what) const {
        static constexpr const char* names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
        if (kind_ != k)
            STRATA_THROW(errc::format, "JSON: " + std::string(what) + " must be " + names[int(k)] + ", is " + names[int(kind_)]);
    }

    kind kind_ = kind::null;
    bool bool_ = false, is_int_ = false, big_ = false;  // big_: an integer above INT64_MAX kept in int_'s bits
    double num_ = 0;
    std::int64_t int_ = 0;
    std::string str_;
    std::vector<json_value> arr_;
    std::vector<std::pair<std::string, json_value>> obj_;
};

class json_parser {
public:
    explicit json_parser(std::string_view s) : s_(s) {}

    json_value document() {
        json_value v = value(0);
        space();
        if (i_ != s_.size()) fail("text after the value");
        return v;
    }

private:
    static constexpr int max_depth = 256;

    [[noreturn]] void fail(const char* why) const {
        STRATA_THROW(errc::format, std::string("JSON: ") + why + " at offset " + std::to_string(i_));
    }
    void space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }
    bool literal(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }

    json_value value(int depth) {
        if (depth > max_depth) fail("nesting too deep");
        space();
        if (i_ >= s_.size()) fail("unexpected end");
        json_value v;
        const char c = s_[i_];
        if (c == '{') {
            v.kind_ = json_value::kind::object;
            ++i_;
            space();
            if (i_ < s_.size() && s_[i_] == '}') { ++i_; return v; }
            for (;;) {
                space();
                if (i_ >= s_.size() || s_[i_] != '"') fail("expected a member name");
                std::string k = string();
                space();
                if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':'");
                ++i_;
                v.obj_.emplace_back(std::move(k), value(depth + 1));
                space();
                if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                if (i_ < s_.size() && s_[i_] == '}') { ++i_; return v; }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[') {
            v.kind_ = json_value::kind::array;
            ++i_;
            space();
            if (i_ < s_.size() && s_[i_] == ']') { ++i_; return v; }
            for (;;) {
                v.arr_.push_back(value(depth + 1));
                space();
                if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                if (i_ < s_.size() && s_[i_] == ']') { ++i_; return v; }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"') {
            v.kind_ = json_value::kind::string;
            v.str_ = string();
            return v;
        }
        if (literal("true")) { v.kind_ = json_value::kind::boolean; v.bool_ = true; return v; }
        if (literal("false")) { v.kind_ = json_value::kind::boolean; return v; }
        if (literal("null")) return v;
        return number();
    }

    json_value number() {
        const std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        bool integral = true;
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (c >= '0' && c <= '9') { ++i_; continue; }
            if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') { integral = false; ++i_; continue; }
            break;
        }
        const std::string_view t = s_.substr(start, i_ - start);
        json_value v;
        v.kind_ = json_value::kind::number;
        const auto r = std::from_chars(t.data(), t.data() + t.size(), v.num_);
        if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) { i_ = start; fail("expected a value"); }
        if (integral) {
            if (std::from_chars(t.data(), t.data() + t.size(), v.int_).ec == std::errc()) {
                v.is_int_ = true;
            } else if (std::uint64_t u = 0; t[0] != '-' && std::from_chars(t.data(), t.data() + t.size(), u).ec == std::errc()) {
                v.is_int_ = v.big_ = true;
                v.int_ = static_cast<std::int64_t>(u);
            }
        }
        return v;
    }

    std::uint32_t hex4() {
        if (i_ + 4 > s_.size()) fail("short \\u escape");
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= std::uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') v |= std::uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= std::uint32_t(c - 'A' + 10);
            else fail("bad \\u escape");
        }
        return v;
    }
    std::string string() {
        ++i_;  // the opening quote
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            const char c = s_[i_++];
            if (static_cast<unsigned char>(c) < 0x20) fail("a control character in a string");
            if (c != '\\') { out += c; continue; }
            if (i_ >= s_.size()) break;
            switch (const char e = s_[i_++]) {
                case '"': case '\\': case '/': out += e; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    std::uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(i_, 2) == "\\u") {
                        i_ += 2;
                        const std::uint32_t lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF) fail("a lone surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xD800 && cp < 0xE000) {
                        fail("a lone surrogate");
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: fail("a bad escape");
            }
        }
        if (i_ >= s_.size()) fail("an unterminated string");
        ++i_;
        return out;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

inline json_value json_value::parse(std::string_view text) { return json_parser(text).document(); }

STRATA_NAMESPACE_END
