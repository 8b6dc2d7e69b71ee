// strata/quant/f16.hpp — F16: IEEE half precision, one element per "block".
//
// Conversion rounds to nearest, ties to even, as ggml's row conversion (and F16C) does.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN

struct f16 {
    static constexpr ggml_type type = ggml_type::f16;
    static constexpr std::uint32_t block_elems = 1;
    static constexpr std::uint32_t block_bytes = 2;
    static constexpr std::string_view name = "f16";

    struct block {
        fp16_t v;
    };
    using dot_format = f16;

    static STRATA_HD void dequantize(const block& b, float* y) { y[0] = to_float(b.v); }

    static STRATA_HD void quantize(const float* x, block& b) { b.v = to_fp16(x[0]); }

    // Both halves widen exactly; the product is rounded once, to float.
    static STRATA_HD float dot(const block& w, const block& a) { return to_float(w.v) * to_float(a.v); }
};
static_assert(quant_format<f16>);
static_assert(dot_capable<f16>);

STRATA_NAMESPACE_END
