// strata/core/dtype.hpp — ggml's tensor type ids and their block geometry.
//
// The numbers are GGUF's on-disk type ids (ggml_type). The table lists every id a GGUF file may
// carry, including types Strata has no policy for, so that the reader can validate any file's
// sizes; whether a type can be *computed* with is decided by the compiled-in format list.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN

enum class ggml_type : std::uint32_t {
    f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3,
    // 4, 5: Q4_2 / Q4_3, removed from ggml
    q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
    q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
    iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22,
    iq4_xs = 23, i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30,
    // 31..33: Q4_0_4_4 / Q4_0_4_8 / Q4_0_8_8, removed (repacking is now done at load)
    tq1_0 = 34, tq2_0 = 35,
    // 36..38: IQ4_NL_4_4 / _4_8 / _8_8, removed
    mxfp4 = 39,
};

// Geometry of one type: a row of n elements takes n / block_elems * block_bytes bytes.
struct type_info {
    std::string_view name;      // as ggml prints it ("q4_K", "f16")
    std::uint32_t block_elems;  // elements per block (1 for plain scalars)
    std::uint32_t block_bytes;  // bytes per block
};

namespace detail {
inline constexpr std::uint32_t type_table_size = 40;
inline constexpr std::array<type_info, type_table_size> type_table = {{
    {"f32", 1, 4},        {"f16", 1, 2},       {"q4_0", 32, 18},    {"q4_1", 32, 20},
    {{}, 0, 0},           {{}, 0, 0},          {"q5_0", 32, 22},    {"q5_1", 32, 24},
    {"q8_0", 32, 34},     {"q8_1", 32, 36},    {"q2_K", 256, 84},   {"q3_K", 256, 110},
    {"q4_K", 256, 144},   {"q5_K", 256, 176},  {"q6_K", 256, 210},  {"q8_K", 256, 292},
    {"iq2_xxs", 256, 66}, {"iq2_xs", 256, 74}, {"iq3_xxs", 256, 98}, {"iq1_s", 256, 50},
    {"iq4_nl", 32, 18},   {"iq3_s", 256, 110}, {"iq2_s", 256, 82},  {"iq4_xs", 256, 136},
    {"i8", 1, 1},         {"i16", 1, 2},       {"i32", 1, 4},       {"i64", 1, 8},
    {"f64", 1, 8},        {"iq1_m", 256, 56},  {"bf16", 1, 2},      {{}, 0, 0},
    {{}, 0, 0},           {{}, 0, 0},          {"tq1_0", 256, 54},  {"tq2_0", 256, 66},
    {{}, 0, 0},           {{}, 0, 0},          {{}, 0, 0},          {"mxfp4", 32, 17},
}};
}  // namespace detail

// The geometry of a raw type id, or nothing when the id is not a (current) ggml type.
constexpr std::optional<type_info> find_type_info(std::uint32_t id) noexcept {
    if (id >= detail::type_table_size || detail::type_table[id].block_elems == 0) return std::nullopt;
    return detail::type_table[id];
}

// Precondition: t is a known type (every enumerator above is).
constexpr const type_info& info(ggml_type t) noexcept {
    return detail::type_table[static_cast<std::uint32_t>(t)];
}

constexpr std::string_view type_name(ggml_type t) noexcept { return info(t).name; }

// Bytes of a row of n elements; precondition: n is a multiple of the block size.
constexpr std::uint64_t row_bytes(ggml_type t, std::uint64_t n) noexcept {
    return n / info(t).block_elems * info(t).block_bytes;
}

constexpr std::optional<ggml_type> type_from_name(std::string_view name) noexcept {
    for (std::uint32_t i = 0; i < detail::type_table_size; ++i) {
        const auto& ti = detail::type_table[i];
        if (ti.block_elems == 0) continue;
        // case-insensitive, so "Q4_K" and "q4_k" both work
        if (ti.name.size() != name.size()) continue;
        bool eq = true;
        for (std::size_t k = 0; k < name.size() && eq; ++k) {
            char a = ti.name[k], b = name[k];
            if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
            eq = a == b;
        }
        if (eq) return static_cast<ggml_type>(i);
    }
    return std::nullopt;
}

STRATA_NAMESPACE_END
