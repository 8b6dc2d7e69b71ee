// strata/core/error.hpp — the one exception type the library throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN

// What kind of failure: lets a caller react without parsing the message.
enum class errc {
    io,           // open/map/read failed
    format,       // a file is malformed (GGUF structure, bad values)
    type,         // a metadata value has another type than asked
    missing,      // a key or tensor that must be there is not
    unsupported,  // well-formed but not compiled in / not implemented
    argument,     // a caller passed a bad argument
    memory,       // an allocation or a budget failed
    internal,     // a broken invariant inside Strata
};

constexpr std::string_view to_string(errc c) noexcept {
    switch (c) {
        case errc::io: return "io";
        case errc::format: return "format";
        case errc::type: return "type";
        case errc::missing: return "missing";
        case errc::unsupported: return "unsupported";
        case errc::argument: return "argument";
        case errc::memory: return "memory";
        case errc::internal: return "internal";
    }
    return "unknown";
}

// An error with a category, and where it applies, the file and the byte offset.
// what() is one line: "FILE: offset N: MESSAGE" (parts omitted when absent).
class error : public std::runtime_error {
public:
    static constexpr std::uint64_t no_offset = ~std::uint64_t{0};

    error(errc category, std::string message, std::string file = {}, std::uint64_t offset = no_offset)
        : std::runtime_error(compose(message, file, offset)),
          category_(category), message_(std::move(message)), file_(std::move(file)), offset_(offset) {}

    errc category() const noexcept { return category_; }
    const std::string& message() const noexcept { return message_; }
    const std::string& file() const noexcept { return file_; }
    bool has_offset() const noexcept { return offset_ != no_offset; }
    std::uint64_t offset() const noexcept { return offset_; }

private:
    static std::string compose(const std::string& msg, const std::string& file, std::uint64_t off) {
        std::string s;
        if (!file.empty()) s += file + ": ";
        if (off != no_offset) s += "offset " + std::to_string(off) + ": ";
        s += msg;
        return s;
    }
    errc category_;
    std::string message_;
    std::string file_;
    std::uint64_t offset_;
};

STRATA_NAMESPACE_END

// Every throw goes through this macro so that a user can route errors elsewhere
// (define STRATA_THROW before including Strata).
#ifndef STRATA_THROW
#define STRATA_THROW(...) throw ::strata::error(__VA_ARGS__)
#endif
