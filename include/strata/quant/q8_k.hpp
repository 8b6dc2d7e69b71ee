// strata/quant/q8_k.hpp — Q8_K: blocks of 256 int8 with one f32 scale and 16 partial sums.
//
// Only an activation format: every K-quant (and IQ4_XS) weight is multiplied with activations
// quantized to Q8_K, as llama.cpp does. The bsums (sums of 16 consecutive quants) let the
// formats with a per-sub-block min subtract it with one multiply per 16 values.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/quant/format.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q8_k {
    static constexpr ggml_type type = ggml_type::q8_k;
    static constexpr std::uint32_t block_elems = 256;
    static constexpr std::uint32_t block_bytes = 292;
    static constexpr std::string_view name = "q8_K";

    struct block {
        float d;                  // scale: x ≈ d * q (f32, unlike the weight formats)
        std::int8_t qs[256];      // quants
        std::int16_t bsums[16];   // bsums[j] = sum of qs[16j .. 16j+15]
    };
    using dot_format = q8_k;

    static STRATA_HD void dequantize(const block& b, float* y) {
        for (int i = 0; i < 256; ++i) y[i] = b.d * static_cast<float>(b.qs[i]);
    }

    // Symmetric around the value of largest magnitude, max: it maps to -127 exactly and
    // d = -max/127 carries its sign; the others round to nearest, ties to even (nearest_int).
    static STRATA_HD void quantize(const float* x, block& b) {
        float max = 0, amax = 0;
        for (int i = 0; i < 256; ++i) {
            const float ax = detail::fabs_hd(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax == 0.0f) {
            b.d = 0;
            for (int i = 0; i < 256; ++i) b.qs[i] = 0;
            for (int j = 0; j < 16; ++j) b.bsums[j] = 0;
            return;
        }
        // ggml divides by -127, not -128: every quant stays in -127..127 (a symmetric range the
        // SIMD dot products rely on); the clamp below only guards the rounding of iscale * max
        const float iscale = -127.0f / max;
        for (int i = 0; i < 256; ++i) {
            const int v = detail::nearest_int(iscale * x[i]);
            b.qs[i] = static_cast<std::int8_t>(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; ++j) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
            b.bsums[j] = static_cast<std::int16_t>(sum);
        }
        b.d = 1 / iscale;
    }

    static STRATA_HD float dot(const block& w, const block& a) {
        int sum = 0;
        for (int i = 0; i < 256; ++i) sum += static_cast<int>(w.qs[i]) * static_cast<int>(a.qs[i]);
        return static_cast<float>(sum) * (w.d * a.d);
    }
};
static_assert(quant_format<q8_k>);
static_assert(dot_capable<q8_k>);

STRATA_NAMESPACE_END
