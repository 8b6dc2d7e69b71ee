// strata/quant/q4_0.hpp — Q4_0: blocks of 32 4-bit quants with one fp16 scale (4.5 bits/weight).
//
// x ≈ d * (q - 8) with q in 0..15. Multiplied with Q8_0 activations.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q4_0 {
    static constexpr ggml_type type = ggml_type::q4_0;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 18;
    static constexpr std::string_view name = "q4_0";

    struct block {
        fp16_t d;             // scale
        std::uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high one
    };
    using dot_format = q8_0;

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
            y[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
        }
    }

    // The value of largest magnitude, with its sign, maps to -8: that end of the range is one
    // step longer, so d takes the sign that puts the extreme value there. The others round by
    // truncating q + 8.5 (they are never below -8, so the sum is non-negative and truncation
    // rounds half up) and clamp at 15, which only the opposite extreme reaches.
    static STRATA_HD void quantize(const float* x, block& b) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const float a = detail::fabs_hd(x[j]);
            if (a > amax) { amax = a; max = x[j]; }  // the first of equal magnitudes wins
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b.d = to_fp16(d);
        for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(code(x[j] * id) | code(x[j + 16] * id) << 4);
    }

    static STRATA_HD float dot(const block& w, const q8_0::block& a) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) {
            sum += ((w.qs[j] & 0x0f) - 8) * a.qs[j];
            sum += ((w.qs[j] >> 4) - 8) * a.qs[j + 16];
        }
        return static_cast<float>(sum) * (to_float(w.d) * to_float(a.d));
    }

private:
    // v = x / d in [-8, 8]: the stored 4-bit code
    static STRATA_HD int code(float v) {
        const int q = static_cast<int>(v + 8.5f);
        return q < 15 ? q : 15;
    }
};
static_assert(quant_format<q4_0>);
static_assert(dot_capable<q4_0>);

STRATA_NAMESPACE_END
