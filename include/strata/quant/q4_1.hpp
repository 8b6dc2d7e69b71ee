// strata/quant/q4_1.hpp — Q4_1: blocks of 32 4-bit quants with an fp16 scale and minimum
// (5 bits/weight).
//
// x ≈ d * q + m with q in 0..15. Multiplied with Q8_1 activations, whose block sum serves the
// m term.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/q8_1.hpp"

STRATA_NAMESPACE_BEGIN

struct q4_1 {
    static constexpr ggml_type type = ggml_type::q4_1;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 20;
    static constexpr std::string_view name = "q4_1";

    struct block {
        fp16_t d;             // scale
        fp16_t m;             // minimum: the value of q = 0
        std::uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high one
    };
    using dot_format = q8_1;

    // q * d rounded, then + m rounded: two operations, as ggml evaluates it (not fused).
    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        const float m = to_float(b.m);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(b.qs[j] & 0x0f) * d + m;
            y[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
        }
    }

    // [min, max] split into 15 steps; (x - min) / d rounds half up by truncating + 0.5 (it is
    // never negative). The quants are computed from the float d and min, not their fp16 values.
    static STRATA_HD void quantize(const float* x, block& b) {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; ++j) {
            min = x[j] < min ? x[j] : min;
            max = x[j] > max ? x[j] : max;
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b.d = to_fp16(d);
        b.m = to_fp16(min);
        for (int j = 0; j < 16; ++j) {
            b.qs[j] = static_cast<std::uint8_t>(code((x[j] - min) * id) | code((x[j + 16] - min) * id) << 4);
        }
    }

    // d_w d_a sum(q a) + m_w s_a, with s_a = d_a sum(a) taken from the activation block.
    static STRATA_HD float dot(const block& w, const q8_1::block& a) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) {
            sum += (w.qs[j] & 0x0f) * a.qs[j];
            sum += (w.qs[j] >> 4) * a.qs[j + 16];
        }
        return (to_float(w.d) * to_float(a.d)) * static_cast<float>(sum) + to_float(w.m) * to_float(a.s);
    }

private:
    // v = (x - min) / d in [0, 15]: the stored 4-bit code
    static STRATA_HD int code(float v) {
        const int q = static_cast<int>(v + 0.5f);
        return q < 15 ? q : 15;
    }
};
static_assert(quant_format<q4_1>);
static_assert(dot_capable<q4_1>);

STRATA_NAMESPACE_END
