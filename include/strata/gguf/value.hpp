// strata/gguf/value.hpp — one GGUF metadata value, viewed in place.
//
// Values point into the mapped file: a string is a string_view of the file's bytes and an array
// of numbers is (element type, count, pointer), so a 300k-entry score array costs nothing to
// "read". Only arrays of strings (whose element positions must be found by walking the lengths)
// and arrays of arrays become vectors.
#pragma once

#include <bit>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

// GGUF v2/v3 files are little-endian and we read their numbers with memcpy.
static_assert(std::endian::native == std::endian::little, "Strata's GGUF reader needs a little-endian host");

STRATA_NAMESPACE_BEGIN
namespace gguf {

// The on-disk type tags (gguf_type).
enum class value_type : std::uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
inline constexpr std::uint32_t value_type_count = 13;

constexpr bool is_value_type(std::uint32_t tag) noexcept { return tag < value_type_count; }

constexpr std::string_view to_string(value_type t) noexcept {
    switch (t) {
        case value_type::u8: return "u8";
        case value_type::i8: return "i8";
        case value_type::u16: return "u16";
        case value_type::i16: return "i16";
        case value_type::u32: return "u32";
        case value_type::i32: return "i32";
        case value_type::f32: return "f32";
        case value_type::boolean: return "bool";
        case value_type::string: return "string";
        case value_type::array: return "array";
        case value_type::u64: return "u64";
        case value_type::i64: return "i64";
        case value_type::f64: return "f64";
    }
    return "unknown";
}

// Bytes of one scalar on disk; 0 for string and array (variable length).
constexpr std::size_t scalar_size(value_type t) noexcept {
    switch (t) {
        case value_type::u8: case value_type::i8: case value_type::boolean: return 1;
        case value_type::u16: case value_type::i16: return 2;
        case value_type::u32: case value_type::i32: case value_type::f32: return 4;
        case value_type::u64: case value_type::i64: case value_type::f64: return 8;
        case value_type::string: case value_type::array: return 0;
    }
    return 0;
}

constexpr bool is_integer(value_type t) noexcept {
    switch (t) {
        case value_type::u8: case value_type::i8: case value_type::u16: case value_type::i16:
        case value_type::u32: case value_type::i32: case value_type::u64: case value_type::i64:
            return true;
        default: return false;
    }
}

// The GGUF type a C++ type is read as. Strict: a u32 key is not readable as uint64_t.
template <class T> struct value_type_of;
template <> struct value_type_of<std::uint8_t> { static constexpr value_type type = value_type::u8; };
template <> struct value_type_of<std::int8_t> { static constexpr value_type type = value_type::i8; };
template <> struct value_type_of<std::uint16_t> { static constexpr value_type type = value_type::u16; };
template <> struct value_type_of<std::int16_t> { static constexpr value_type type = value_type::i16; };
template <> struct value_type_of<std::uint32_t> { static constexpr value_type type = value_type::u32; };
template <> struct value_type_of<std::int32_t> { static constexpr value_type type = value_type::i32; };
template <> struct value_type_of<std::uint64_t> { static constexpr value_type type = value_type::u64; };
template <> struct value_type_of<std::int64_t> { static constexpr value_type type = value_type::i64; };
template <> struct value_type_of<float> { static constexpr value_type type = value_type::f32; };
template <> struct value_type_of<double> { static constexpr value_type type = value_type::f64; };
template <> struct value_type_of<bool> { static constexpr value_type type = value_type::boolean; };
template <> struct value_type_of<std::string_view> { static constexpr value_type type = value_type::string; };
template <> struct value_type_of<std::string> { static constexpr value_type type = value_type::string; };

template <class T>
concept metadata_scalar = requires { value_type_of<T>::type; } &&
    value_type_of<T>::type != value_type::string;
template <class T>
concept metadata_readable = requires { value_type_of<T>::type; };

namespace detail {
class reader;  // the parser in file.hpp, the only code that builds values

// Builds an error message from strings and integers by appending. (Not `"text" + str`: GCC 12
// at -O2 reports a false -Wrestrict in that operator+, which -Werror builds cannot afford.)
inline void append_part(std::string& s, std::string_view x) { s.append(x); }
inline void append_part(std::string& s, const char* x) { s.append(x); }
template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
void append_part(std::string& s, T x) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, x);
    s.append(buf, r.ptr);
}
template <class... Parts>
std::string cat(const Parts&... parts) {
    std::string s;
    (append_part(s, parts), ...);
    return s;
}
}  // namespace detail

// An array of numbers or bools, in place in the file (possibly unaligned: read by memcpy).
class scalar_array {
public:
    scalar_array() = default;
    scalar_array(value_type element, std::uint64_t count, const std::byte* data) noexcept
        : element_(element), count_(count), data_(data) {}

    value_type element_type() const noexcept { return element_; }
    std::uint64_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    std::span<const std::byte> bytes() const noexcept {
        return {data_, static_cast<std::size_t>(count_ * scalar_size(element_))};
    }

    // Element i as T; T must be the element type exactly (errc::type otherwise).
    template <metadata_scalar T>
    T at(std::uint64_t i) const {
        check<T>();
        if (i >= count_) STRATA_THROW(errc::argument, detail::cat("array index ", i, " is out of range (size ", count_, ")"));
        return load<T>(data_ + i * sizeof(T));
    }

    template <metadata_scalar T>
    std::vector<T> to_vector() const {
        check<T>();
        std::vector<T> out(static_cast<std::size_t>(count_));
        if constexpr (std::is_same_v<T, bool>) {
            // Bytes were checked to be 0 or 1 by the parser, but a bool is read as a byte anyway
            // so that no invalid bool object is ever formed.
            for (std::size_t i = 0; i < out.size(); ++i) out[i] = data_[i] != std::byte{0};
        } else if (count_ != 0) {
            std::memcpy(out.data(), data_, out.size() * sizeof(T));
        }
        return out;
    }

private:
    template <class T>
    void check() const {
        if (value_type_of<T>::type != element_)
            STRATA_THROW(errc::type, detail::cat("expected array of ", to_string(value_type_of<T>::type),
                                                 ", found array of ", to_string(element_)));
    }
    template <class T>
    static T load(const std::byte* p) noexcept {
        if constexpr (std::is_same_v<T, bool>) {
            return *p != std::byte{0};
        } else {
            T v;
            std::memcpy(&v, p, sizeof(T));
            return v;
        }
    }

    value_type element_ = value_type::u8;
    std::uint64_t count_ = 0;
    const std::byte* data_ = nullptr;
};

class value {
public:
    value() = default;

    value_type type() const noexcept { return type_; }
    bool is_array() const noexcept { return type_ == value_type::array; }
    bool is_string() const noexcept { return type_ == value_type::string; }
    bool is_integer() const noexcept { return gguf::is_integer(type_); }

    // "u32", "string", "array of string", "array of array": for messages.
    std::string type_name() const {
        if (!is_array()) return std::string(to_string(type_));
        return detail::cat("array of ", to_string(element_));
    }

    // The value as T when its type is exactly T's (std::string_view / std::string for strings).
    template <metadata_readable T>
    std::optional<T> as() const {
        if (type_ != value_type_of<T>::type) return std::nullopt;
        if constexpr (std::is_same_v<T, std::string_view>) {
            return string_;
        } else if constexpr (std::is_same_v<T, std::string>) {
            return std::string(string_);
        } else if constexpr (std::is_same_v<T, bool>) {
            return bits_ != 0;
        } else {
            T v;
            std::memcpy(&v, &bits_, sizeof(T));  // little-endian: the low bytes hold the value
            return v;
        }
    }

    // Any integer type, widened to int64; nothing for other types or a u64 above INT64_MAX.
    std::optional<std::int64_t> as_integer() const noexcept {
        switch (type_) {
            case value_type::u8: case value_type::u16: case value_type::u32: return static_cast<std::int64_t>(bits_);
            case value_type::i8: return static_cast<std::int8_t>(bits_);
            case value_type::i16: return static_cast<std::int16_t>(bits_);
            case value_type::i32: return static_cast<std::int32_t>(bits_);
            case value_type::i64: return static_cast<std::int64_t>(bits_);
            case value_type::u64:
                if (bits_ > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
                return static_cast<std::int64_t>(bits_);
            default: return std::nullopt;
        }
    }

    // The raw little-endian payload of a scalar, zero-extended (for printing any scalar).
    std::uint64_t raw_bits() const noexcept { return bits_; }

    // A string's bytes (not necessarily UTF-8); empty unless is_string().
    std::string_view str() const noexcept { return string_; }

    // Arrays. element_type() is meaningful only for arrays; size() is 0 for non-arrays.
    value_type element_type() const noexcept { return element_; }
    std::uint64_t size() const noexcept { return is_array() ? count_ : 0; }
    // The numbers of an array of scalars (empty view for other values).
    scalar_array scalars() const noexcept {
        if (!is_array() || scalar_size(element_) == 0) return {};
        return {element_, count_, data_};
    }
    // The elements of an array of strings / of an array of arrays (empty otherwise).
    std::span<const std::string_view> strings() const noexcept { return strings_; }
    std::span<const value> arrays() const noexcept { return arrays_; }

private:
    friend class detail::reader;

    value_type type_ = value_type::u8;
    value_type element_ = value_type::u8;  // arrays: the element type
    std::uint64_t bits_ = 0;               // scalars: the payload
    std::uint64_t count_ = 0;              // arrays: the element count
    const std::byte* data_ = nullptr;      // arrays of scalars: the first element in the file
    std::string_view string_;
    std::vector<std::string_view> strings_;
    std::vector<value> arrays_;
};

}  // namespace gguf
STRATA_NAMESPACE_END
