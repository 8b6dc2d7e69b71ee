// strata/quant/mxfp4.hpp — MXFP4 (OCP microscaling FP4): blocks of 32 E2M1 values with one
// E8M0 shared exponent (4.25 bits/weight).
//
// E2M1 has the magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6. ggml stores them doubled, as the integers
// 0..12, and scales by 2^(e-128) (half the E8M0 value) instead, so that the dot product with
// Q8_0 activations is an integer sum. Packed like Q4_0.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct mxfp4 {
    static constexpr ggml_type type = ggml_type::mxfp4;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 17;
    static constexpr std::string_view name = "mxfp4";

    struct block {
        std::uint8_t e;       // E8M0 shared exponent
        std::uint8_t qs[16];  // E2M1 codes: element j in the low nibble of qs[j], j + 16 in the high
    };
    using dot_format = q8_0;

    // Twice the E2M1 value of a code: bit 3 is the sign, so code 8 is -0 (= 0 here).
    // A local constexpr array so that device code can use it too.
    static STRATA_HD constexpr int value(int code) {
        constexpr std::int8_t values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
        return values[code];
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = e8m0_to_fp32_half(b.e);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(value(b.qs[j] & 0x0f)) * d;
            y[j + 16] = static_cast<float>(value(b.qs[j] >> 4)) * d;
        }
    }

    // The exponent puts the largest magnitude a in [4, 8) E2M1 units, so values above 6 units
    // saturate to 6 rather than the block losing resolution; each value then takes the nearest
    // code (the first of equally near ones, so +0 rather than -0).
    static STRATA_HD void quantize(const float* x, block& b) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const float a = detail::fabs_hd(x[j]);
            amax = a > amax ? a : amax;
        }
        // floor(log2 a) - 2 + 127; for a tiny a this is negative and ggml's float-to-uint8
        // conversion wraps it (on x86), which going through int reproduces.
        b.e = amax > 0.0f ? static_cast<std::uint8_t>(floor_log2(amax) - 2 + 127) : std::uint8_t{0};
        const float d = e8m0_to_fp32_half(b.e);
        for (int j = 0; j < 16; ++j) {
            b.qs[j] = static_cast<std::uint8_t>(nearest_code(x[j], d) | nearest_code(x[j + 16], d) << 4);
        }
    }

    static STRATA_HD float dot(const block& w, const q8_0::block& a) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) {
            sum += value(w.qs[j] & 0x0f) * a.qs[j];
            sum += value(w.qs[j] >> 4) * a.qs[j + 16];
        }
        return static_cast<float>(sum) * (e8m0_to_fp32_half(w.e) * to_float(a.d));
    }

private:
    static STRATA_HD int nearest_code(float x, float d) {
        int best = 0;
        float best_err = detail::fabs_hd(static_cast<float>(value(0)) * d - x);
        for (int c = 1; c < 16; ++c) {
            const float err = detail::fabs_hd(static_cast<float>(value(c)) * d - x);
            if (err < best_err) { best = c; best_err = err; }
        }
        return best;
    }

    // floor(log2f(a)) for a finite a > 0, without <cmath>: the binary exponent of a, except
    // that ggml's log2f result is rounded to float first, and for a a few ulps below 2^(e+1)
    // that rounding already lands on the integer e + 1. With t = e + 1 and 2^(q-23) the float
    // spacing next to t on e's side, log2f(a) rounds to t when 1 - log2(m) < 2^(q-24), m being
    // a's significand in [1, 2); to first order (exact for every q that can occur, whose
    // thresholds 2^q ln 2 are nowhere near integers) that is when m is fewer than 2^q ln 2 of
    // its ulps below 2.
    static STRATA_HD constexpr int floor_log2(float a) {
        int shift = 0;
        if (a < 0x1p-126f) { a *= 0x1p64f; shift = 64; }  // subnormal: normalize (exactly)
        const std::uint32_t bits = std::bit_cast<std::uint32_t>(a);
        const int e = static_cast<int>(bits >> 23) - 127 - shift;
        const int t = e + 1;
        int mag = t > 0 ? t - 1 : -t;  // the floats next to t on e's side lie in [2^q, 2^(q+1))
        if (mag < 2) return e;         // q <= 0: the threshold is below one ulp
        int q = 0;
        while (mag >>= 1) ++q;
        const std::uint32_t ulps_below_2 = 0x800000u - (bits & 0x7fffffu);
        return static_cast<double>(ulps_below_2) < static_cast<double>(1u << q) * 0.6931471805599453 ? t : e;
    }
};
static_assert(quant_format<mxfp4>);
static_assert(dot_capable<mxfp4>);

STRATA_NAMESPACE_END
