// strata/quant/q8_1.hpp — Q8_1: Q8_0 plus the block's scaled sum (9 bits/weight).
//
// Only an activation format: Q4_1 and Q5_1 weights (x ≈ d*q + m) are multiplied with it, and
// their min term m * sum(a) then costs one multiplication because the block carries
// s = d * sum(qs). ggml has no tensor data in Q8_1, so dequantize is defined as qs * d (s is a
// cache, not information).
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q8_1 {
    static constexpr ggml_type type = ggml_type::q8_1;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 36;
    static constexpr std::string_view name = "q8_1";

    struct block {
        fp16_t d;            // scale: x ≈ d * q
        fp16_t s;            // d * sum(qs), rounded to half
        std::int8_t qs[32];  // quants
    };
    using dot_format = q8_1;

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        for (int i = 0; i < 32; ++i) y[i] = static_cast<float>(b.qs[i]) * d;
    }

    // As Q8_0 (largest magnitude to ±127, round half away from zero); the sum is taken over the
    // rounded quants and multiplied by the unrounded scale, as ggml does.
    static STRATA_HD void quantize(const float* x, block& b) {
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) {
            const float a = detail::fabs_hd(x[i]);
            amax = a > amax ? a : amax;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int i = 0; i < 32; ++i) {
            b.qs[i] = static_cast<std::int8_t>(detail::round_away(x[i] * id));
            sum += b.qs[i];
        }
        b.d = to_fp16(d);
        b.s = to_fp16(static_cast<float>(sum) * d);
    }

    static STRATA_HD float dot(const block& w, const block& a) {
        int sum = 0;
        for (int i = 0; i < 32; ++i) sum += static_cast<int>(w.qs[i]) * static_cast<int>(a.qs[i]);
        return static_cast<float>(sum) * (to_float(w.d) * to_float(a.d));
    }
};
static_assert(quant_format<q8_1>);
static_assert(dot_capable<q8_1>);

STRATA_NAMESPACE_END
