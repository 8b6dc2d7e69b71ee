// strata/quant/q8_0.hpp — Q8_0: blocks of 32 int8 with one fp16 scale (8.5 bits/weight).
//
// Also the activation format that Q4_0, Q5_0, Q8_0, IQ4_NL and MXFP4 weights are multiplied
// with (as llama.cpp does): activations are quantized to Q8_0 row by row, then dot products are
// integer sums per block times the two scales.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q8_0 {
    static constexpr ggml_type type = ggml_type::q8_0;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 34;
    static constexpr std::string_view name = "q8_0";

    struct block {
        fp16_t d;            // scale: x ≈ d * q
        std::int8_t qs[32];  // quants
    };
    using dot_format = q8_0;

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        for (int i = 0; i < 32; ++i) y[i] = static_cast<float>(b.qs[i]) * d;
    }

    // Symmetric: the largest magnitude maps to ±127, values round half away from zero.
    static STRATA_HD void quantize(const float* x, block& b) {
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) {
            const float a = detail::fabs_hd(x[i]);
            amax = a > amax ? a : amax;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b.d = to_fp16(d);
        for (int i = 0; i < 32; ++i) b.qs[i] = static_cast<std::int8_t>(detail::round_away(x[i] * id));
    }

    static STRATA_HD float dot(const block& w, const block& a) {
        int sum = 0;
        for (int i = 0; i < 32; ++i) sum += static_cast<int>(w.qs[i]) * static_cast<int>(a.qs[i]);
        return static_cast<float>(sum) * (to_float(w.d) * to_float(a.d));
    }
};
static_assert(quant_format<q8_0>);
static_assert(dot_capable<q8_0>);

STRATA_NAMESPACE_END
