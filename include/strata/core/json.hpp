// strata/core/json.hpp — a minimal streaming JSON writer (no parser, no DOM, no dependencies).
//
// For the tools' --json output: values are appended to a std::string as they are given, with
// the commas and (optionally) indentation handled here. Structure misuse — a value in an object
// without a key, a mismatched end — is a caller bug and throws errc::argument.
//
// Strings are escaped per RFC 8259; bytes that are not valid UTF-8 (GGUF strings need not be)
// are replaced by U+FFFD, one per maximal invalid subsequence, so the output is always valid
// UTF-8 JSON. Doubles are written in their shortest round-trip form (std::to_chars); JSON has
// no NaN or infinity, so those are written as null.
#pragma once

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN

namespace detail {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one; *prefix receives how
// many bytes of it were plausible (the maximal subpart to replace by one U+FFFD).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t* prefix) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned c = b(i);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the range allowed for the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }        // no overlong 3-byte forms
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }        // no UTF-16 surrogates
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }        // no overlong 4-byte forms
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }        // nothing above U+10FFFF
    *prefix = 1;
    if (len == 0) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if (i + k >= s.size()) return 0;
        const unsigned x = b(i + k);
        const unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (x < l || x > h) return 0;
        *prefix = k + 1;
    }
    return len;
}

}  // namespace detail

// Appends S to OUT as a quoted JSON string.
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            std::size_t prefix = 1;
            if (const std::size_t n = detail::utf8_sequence(s, i, &prefix)) {
                out.append(s.data() + i, n);
                i += n;
            } else {
                out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
                i += prefix;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    out += '"';
}

class json_writer {
public:
    // INDENT 0 writes compactly; otherwise each member or element goes on its own line.
    explicit json_writer(std::string& out, int indent = 0) : out_(out), indent_(indent < 0 ? 0 : indent) {}

    json_writer& begin_object() { return open('{', frame::object); }
    json_writer& end_object() { return close('}', frame::object); }
    json_writer& begin_array() { return open('[', frame::array); }
    json_writer& end_array() { return close(']', frame::array); }

    json_writer& key(std::string_view k) {
        if (stack_.empty() || stack_.back().kind != frame::object || stack_.back().has_key)
            misuse("a key is allowed only inside an object, before its value");
        separate();
        append_json_string(out_, k);
        out_ += indent_ ? ": " : ":";
        stack_.back().has_key = true;
        return *this;
    }

    json_writer& value(std::string_view s) { before_value(); append_json_string(out_, s); return *this; }
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(const std::string& s) { return value(std::string_view(s)); }
    json_writer& value(bool b) { before_value(); out_ += b ? "true" : "false"; return *this; }
    json_writer& null() { before_value(); out_ += "null"; return *this; }

    template <std::integral T>
        requires(!std::same_as<T, bool>)
    json_writer& value(T x) {
        before_value();
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, x);
        out_.append(buf, r.ptr);
        return *this;
    }

    // Shortest form that reads back as the same double (or float: 0.1f prints "0.1").
    template <std::floating_point T>
    json_writer& value(T x) {
        if (!std::isfinite(x)) return null();
        before_value();
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, x);
        out_.append(buf, r.ptr);
        return *this;
    }

    // A key and its value in one call.
    template <class T>
    json_writer& member(std::string_view k, const T& v) { key(k); return value(v); }

    // True once one complete top-level value has been written.
    bool done() const noexcept { return stack_.empty() && wrote_top_; }

private:
    struct frame {
        enum kind_t : unsigned char { object, array } kind;
        std::size_t count = 0;
        bool has_key = false;
    };

    [[noreturn]] static void misuse(const char* what) { STRATA_THROW(errc::argument, std::string("json_writer: ") + what); }

    void newline() {
        out_ += '\n';
        out_.append(stack_.size() * static_cast<std::size_t>(indent_), ' ');
    }
    // Comma and line break before a member or an array element.
    void separate() {
        frame& f = stack_.back();
        if (f.count++ > 0) out_ += ',';
        if (indent_) newline();
    }
    void before_value() {
        if (stack_.empty()) {
            if (wrote_top_) misuse("a second top-level value");
            wrote_top_ = true;
            return;
        }
        frame& f = stack_.back();
        if (f.kind == frame::object) {
            if (!f.has_key) misuse("a value inside an object needs a key first");
            f.has_key = false;
        } else {
            separate();
        }
    }
    json_writer& open(char c, frame::kind_t kind) {
        before_value();
        out_ += c;
        stack_.push_back({kind});
        return *this;
    }
    json_writer& close(char c, frame::kind_t kind) {
        if (stack_.empty() || stack_.back().kind != kind) misuse("an end that matches no begin");
        if (stack_.back().has_key) misuse("an object ends after a key without its value");
        const bool empty = stack_.back().count == 0;
        stack_.pop_back();
        if (indent_ && !empty) newline();
        out_ += c;
        return *this;
    }

    std::string& out_;
    int indent_;
    std::vector<frame> stack_;
    bool wrote_top_ = false;
};

STRATA_NAMESPACE_END
