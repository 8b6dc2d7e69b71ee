// strata/quant/bf16.hpp — BF16: the upper half of an IEEE single, one element per "block".
//
// Conversion rounds to nearest, ties to even, and keeps NaN a quiet NaN, as ggml's reference
// conversion does (a plain truncation would differ in the last bit for half of all inputs).
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN

struct bf16 {
    static constexpr ggml_type type = ggml_type::bf16;
    static constexpr std::uint32_t block_elems = 1;
    static constexpr std::uint32_t block_bytes = 2;
    static constexpr std::string_view name = "bf16";

    struct block {
        bf16_t v;
    };
    using dot_format = bf16;

    static STRATA_HD void dequantize(const block& b, float* y) { y[0] = to_float(b.v); }

    static STRATA_HD void quantize(const float* x, block& b) { b.v = to_bf16(x[0]); }

    // Two 8-bit significands: the product is exact in float.
    static STRATA_HD float dot(const block& w, const block& a) { return to_float(w.v) * to_float(a.v); }
};
static_assert(quant_format<bf16>);
static_assert(dot_capable<bf16>);

STRATA_NAMESPACE_END
