// strata/gguf/summary.hpp — what a model file is, at a glance (strata-inspect, `ollama show`).
//
// Pure functions of a parsed file: nothing is printed and no tensor data is read. The hyper-
// parameters shown are read with get_integer (converters disagree on u32/i32/u64); a key that
// is present with a non-integer type is a malformed file and throws errc::type.
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/json.hpp"
#include "strata/gguf/file.hpp"
#include "strata/gguf/value.hpp"

STRATA_NAMESPACE_BEGIN
namespace gguf {

// One line of the quantization mix: all tensors of one ggml type.
struct type_share {
    ggml_type type = ggml_type::f32;
    std::uint64_t tensors = 0;
    std::uint64_t elements = 0;
    std::uint64_t bytes = 0;
};

struct summary {
    std::uint32_t version = 0;
    std::uint64_t file_size = 0;
    std::string architecture;  // general.architecture ("" when absent)
    std::string name;          // general.name
    std::uint64_t parameters = 0;  // sum of every tensor's elements
    std::optional<std::int64_t> context_length;    // {arch}.context_length
    std::optional<std::int64_t> embedding_length;  // {arch}.embedding_length
    std::optional<std::int64_t> block_count;       // {arch}.block_count
    std::optional<std::int64_t> file_type;         // general.file_type (llama_ftype)
    std::string tokenizer_model;                   // tokenizer.ggml.model
    std::optional<std::uint64_t> vocab_size;       // tokens in tokenizer.ggml.tokens
    std::uint64_t tensor_count = 0;
    std::uint64_t tensor_bytes = 0;
    std::vector<type_share> types;  // by bytes, largest first
};

// llama.cpp's name for a general.file_type ("Q4_K_M"); "" when unknown.
constexpr std::string_view file_type_name(std::int64_t ftype) noexcept {
    // Index = llama_ftype; "" where an id was removed from llama.cpp.
    constexpr std::array<std::string_view, 39> names = {
        "F32", "F16", "Q4_0", "Q4_1", "Q4_1_SOME_F16", "", "", "Q8_0", "Q5_0", "Q5_1",
        "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS",
        "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M",
        "IQ4_XS", "IQ1_M", "BF16", "", "", "", "TQ1_0", "TQ2_0", "MXFP4_MOE",
    };
    constexpr std::int64_t guessed = 1024;  // LLAMA_FTYPE_GUESSED: set by llama.cpp, not a type
    if (ftype >= guessed) ftype -= guessed;
    if (ftype < 0 || ftype >= static_cast<std::int64_t>(names.size())) return {};
    return names[static_cast<std::size_t>(ftype)];
}

namespace detail {
inline std::optional<std::int64_t> optional_integer(const file& f, const std::string& key) {
    if (!f.contains(key)) return std::nullopt;
    return f.get_integer(key);
}
inline std::string fixed2(double x) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, 2);
    return std::string(buf, r.ptr);
}
}  // namespace detail

inline summary summarize(const file& f) {
    summary s;
    s.version = f.version();
    s.file_size = f.file_size();
    s.architecture = f.get_or<std::string>("general.architecture", "");
    s.name = f.get_or<std::string>("general.name", "");
    const std::string& a = s.architecture;
    if (!a.empty()) {
        s.context_length = detail::optional_integer(f, a + ".context_length");
        s.embedding_length = detail::optional_integer(f, a + ".embedding_length");
        s.block_count = detail::optional_integer(f, a + ".block_count");
    }
    s.file_type = detail::optional_integer(f, "general.file_type");
    s.tokenizer_model = f.get_or<std::string>("tokenizer.ggml.model", "");
    if (const value* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->is_array())
        s.vocab_size = tokens->size();
    else if (!a.empty() && f.contains(a + ".vocab_size"))
        s.vocab_size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, f.get_integer(a + ".vocab_size")));

    for (const tensor_info& t : f.tensors()) {
        s.parameters += t.n_elements;
        auto it = std::find_if(s.types.begin(), s.types.end(), [&](const type_share& x) { return x.type == t.type; });
        if (it == s.types.end()) it = s.types.insert(s.types.end(), type_share{t.type});
        ++it->tensors;
        it->elements += t.n_elements;
        it->bytes += t.n_bytes;
    }
    std::stable_sort(s.types.begin(), s.types.end(),
                     [](const type_share& x, const type_share& y) { return x.bytes > y.bytes; });
    s.tensor_count = f.tensors().size();
    s.tensor_bytes = f.total_tensor_bytes();
    return s;
}

// ---- formatting for people ----------------------------------------------------------------

// 268098176 -> "268.10M", as model cards and `ollama show` write parameter counts.
inline std::string human_count(std::uint64_t n) {
    constexpr std::array<std::pair<double, const char*>, 4> units = {
        {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}}};
    for (const auto& [scale, suffix] : units)
        if (static_cast<double>(n) >= scale) return detail::fixed2(static_cast<double>(n) / scale) + suffix;
    return std::to_string(n);
}

// 253452288 -> "241.71 MiB".
inline std::string human_bytes(std::uint64_t n) {
    constexpr std::array<const char*, 5> units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) return std::to_string(n) + " B";
    double x = static_cast<double>(n);
    std::size_t u = 0;
    for (x /= 1024; x >= 1024 && u + 1 < units.size(); x /= 1024) ++u;
    return detail::fixed2(x) + " " + units[u];
}

// "[640, 262144]": ne[0] (the row length) first, as GGUF stores it.
inline std::string shape_string(const tensor_info& t) {
    std::string s = "[";
    for (std::uint32_t d = 0; d < t.n_dims; ++d) {
        if (d) s += ", ";
        s += std::to_string(t.ne[d]);
    }
    return s + "]";
}

// ---- JSON -----------------------------------------------------------------------------------

namespace detail {
// Arrays longer than this are described ({element_type, length}) rather than listed: a
// vocabulary would otherwise be most of the output.
inline constexpr std::uint64_t json_array_limit = 64;

inline void write_json_scalar(json_writer& j, const value& v) {
    switch (v.type()) {
        case value_type::u8: j.value(*v.as<std::uint8_t>()); break;
        case value_type::i8: j.value(*v.as<std::int8_t>()); break;
        case value_type::u16: j.value(*v.as<std::uint16_t>()); break;
        case value_type::i16: j.value(*v.as<std::int16_t>()); break;
        case value_type::u32: j.value(*v.as<std::uint32_t>()); break;
        case value_type::i32: j.value(*v.as<std::int32_t>()); break;
        case value_type::u64: j.value(*v.as<std::uint64_t>()); break;
        case value_type::i64: j.value(*v.as<std::int64_t>()); break;
        case value_type::f32: j.value(*v.as<float>()); break;
        case value_type::f64: j.value(*v.as<double>()); break;
        case value_type::boolean: j.value(*v.as<bool>()); break;
        case value_type::string: j.value(v.str()); break;
        case value_type::array: j.null(); break;
    }
}

template <class T>
void write_json_elements(json_writer& j, const scalar_array& a) {
    for (std::uint64_t i = 0; i < a.size(); ++i) j.value(a.at<T>(i));
}

inline void write_json_value(json_writer& j, const value& v) {
    if (!v.is_array()) return write_json_scalar(j, v);
    if (v.size() > json_array_limit) {
        j.begin_object().member("element_type", to_string(v.element_type())).member("length", v.size()).end_object();
        return;
    }
    j.begin_array();
    const scalar_array a = v.scalars();
    switch (v.element_type()) {
        case value_type::u8: write_json_elements<std::uint8_t>(j, a); break;
        case value_type::i8: write_json_elements<std::int8_t>(j, a); break;
        case value_type::u16: write_json_elements<std::uint16_t>(j, a); break;
        case value_type::i16: write_json_elements<std::int16_t>(j, a); break;
        case value_type::u32: write_json_elements<std::uint32_t>(j, a); break;
        case value_type::i32: write_json_elements<std::int32_t>(j, a); break;
        case value_type::u64: write_json_elements<std::uint64_t>(j, a); break;
        case value_type::i64: write_json_elements<std::int64_t>(j, a); break;
        case value_type::f32: write_json_elements<float>(j, a); break;
        case value_type::f64: write_json_elements<double>(j, a); break;
        case value_type::boolean: write_json_elements<bool>(j, a); break;
        case value_type::string: for (std::string_view s : v.strings()) j.value(s); break;
        case value_type::array: for (const value& child : v.arrays()) write_json_value(j, child); break;
    }
    j.end_array();
}

template <class T>
void optional_member(json_writer& j, std::string_view key, const std::optional<T>& v) {
    j.key(key);
    if (v) j.value(*v);
    else j.null();
}
}  // namespace detail

// The summary, every metadata entry and (unless TENSORS is false) every tensor, as JSON.
inline std::string to_json(const summary& s, const file& f, bool tensors = true, int indent = 2) {
    std::string out;
    json_writer j(out, indent);
    j.begin_object();
    j.member("file", f.path()).member("version", s.version).member("file_size", s.file_size);
    j.member("alignment", f.alignment()).member("data_offset", f.data_offset());
    j.member("architecture", s.architecture).member("name", s.name).member("parameters", s.parameters);
    detail::optional_member(j, "context_length", s.context_length);
    detail::optional_member(j, "embedding_length", s.embedding_length);
    detail::optional_member(j, "block_count", s.block_count);
    detail::optional_member(j, "file_type", s.file_type);
    j.member("file_type_name", s.file_type ? file_type_name(*s.file_type) : std::string_view{});
    j.member("tokenizer_model", s.tokenizer_model);
    detail::optional_member(j, "vocab_size", s.vocab_size);
    j.member("tensor_count", s.tensor_count).member("tensor_bytes", s.tensor_bytes);

    j.key("types").begin_array();
    for (const type_share& t : s.types)
        j.begin_object()
            .member("type", type_name(t.type))
            .member("tensors", t.tensors)
            .member("elements", t.elements)
            .member("bytes", t.bytes)
            .end_object();
    j.end_array();

    j.key("metadata").begin_object();
    for (const metadata_entry& e : f.metadata()) {
        j.key(e.key);
        detail::write_json_value(j, e.value);
    }
    j.end_object();

    if (tensors) {
        j.key("tensors").begin_array();
        for (const tensor_info& t : f.tensors()) {
            j.begin_object().member("name", t.name).key("shape").begin_array();
            for (std::uint32_t d = 0; d < t.n_dims; ++d) j.value(t.ne[d]);
            j.end_array()
                .member("type", type_name(t.type))
                .member("bytes", t.n_bytes)
                .member("offset", t.offset)
                .end_object();
        }
        j.end_array();
    }
    j.end_object();
    if (indent) out += '\n';
    return out;
}

}  // namespace gguf
STRATA_NAMESPACE_END
