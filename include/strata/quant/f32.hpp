// strata/quant/f32.hpp — F32: plain IEEE single precision, one element per "block".
//
// Treated as a format like the quantized ones so that every tensor type goes through the same
// row functions and dispatch; its dot product is simply the float product.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN

struct f32 {
    static constexpr ggml_type type = ggml_type::f32;
    static constexpr std::uint32_t block_elems = 1;
    static constexpr std::uint32_t block_bytes = 4;
    static constexpr std::string_view name = "f32";

    struct block {
        float v;
    };
    using dot_format = f32;

    static STRATA_HD void dequantize(const block& b, float* y) { y[0] = b.v; }

    static STRATA_HD void quantize(const float* x, block& b) { b.v = x[0]; }

    static STRATA_HD float dot(const block& w, const block& a) { return w.v * a.v; }
};
static_assert(quant_format<f32>);
static_assert(dot_capable<f32>);

STRATA_NAMESPACE_END
