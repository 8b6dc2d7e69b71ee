// strata/quant/q6_k.hpp — Q6_K: 256 values in 16 sub-blocks of 16, signed 6-bit quants with a
// signed 8-bit scale per sub-block and one fp16 super-block scale (6.5625 bits/weight).
//
// Value i of sub-block s: x ≈ (d * sc[s]) * q with q in -32..31, stored as q + 32: the low four
// bits in ql, the top two in qh.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/k_common.hpp"
#include "strata/quant/q8_k.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q6_k {
    static constexpr ggml_type type = ggml_type::q6_k;
    static constexpr std::uint32_t block_elems = 256;
    static constexpr std::uint32_t block_bytes = 210;
    static constexpr std::string_view name = "q6_K";

    struct block {
        std::uint8_t ql[128];     // low 4 bits, see level()
        std::uint8_t qh[64];      // top 2 bits, see level()
        std::int8_t scales[16];   // sub-block scales
        fp16_t d;                 // super-block scale
    };
    using dot_format = q8_k;

    // Each half of the block (128 values) has 64 ql bytes and 32 qh bytes. Within a half, for
    // element l + 32k (l < 32, k < 4): the low nibble is in ql[l + 32*(k%2)] (high nibble when
    // k >= 2), the top two bits in qh[l] at bit 2k.
    static STRATA_HD int level(const block& b, int e) {
        const int half = e / 128, k = (e % 128) / 32, l = e % 32;
        const int lo = b.ql[64 * half + l + 32 * (k % 2)] >> (k >= 2 ? 4 : 0);
        const int hi = b.qh[32 * half + l] >> (2 * k);
        return ((lo & 0xF) | ((hi & 3) << 4)) - 32;
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        for (int e = 0; e < 256; ++e) {
            // ggml's order of operations: (d * sc) * q
            y[e] = d * static_cast<float>(b.scales[e / 16]) * static_cast<float>(level(b, e));
        }
    }

    // ggml's reference: each sub-block fitted with make_qx_quants (x²-weighted least squares
    // over 19 grids), the sixteen scales quantized to int8 against the one of largest magnitude
    // (its sign carried by d), then the values re-rounded against the stored scales.
    static STRATA_HD void quantize(const float* x, block& b) {
        std::int8_t L[256];
        float scales[16];
        float max_scale = 0, max_abs_scale = 0;
        for (int s = 0; s < 16; ++s) {
            scales[s] = make_qx_quants(x + 16 * s, L + 16 * s);
            const float as = detail::fabs_hd(scales[s]);
            if (as > max_abs_scale) { max_abs_scale = as; max_scale = scales[s]; }
        }
        if (max_abs_scale < detail::group_max_eps) {  // all (near) zero: an all-zero block
            for (auto& v : b.ql) v = 0;
            for (auto& v : b.qh) v = 0;
            for (auto& v : b.scales) v = 0;
            b.d = to_fp16(0.0f);
            return;
        }
        const float iscale = -128.0f / max_scale;
        b.d = to_fp16(1 / iscale);
        for (int s = 0; s < 16; ++s) {
            const int l = detail::nearest_int(iscale * scales[s]);
            b.scales[s] = static_cast<std::int8_t>(l < 127 ? l : 127);
        }
        const float d = to_float(b.d);
        for (int s = 0; s < 16; ++s) {
            const float dl = d * static_cast<float>(b.scales[s]);
            if (dl == 0.0f) continue;  // scale stored as zero: keep the fitted levels
            for (int i = 0; i < 16; ++i) {
                const int l = detail::nearest_int(x[16 * s + i] / dl);
                L[16 * s + i] = static_cast<std::int8_t>((l < -32 ? -32 : (l > 31 ? 31 : l)) + 32);
            }
        }
        for (int half = 0; half < 2; ++half) {
            const std::int8_t* Lh = L + 128 * half;
            for (int l = 0; l < 32; ++l) {
                b.ql[64 * half + l] = static_cast<std::uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
                b.ql[64 * half + l + 32] = static_cast<std::uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
                b.qh[32 * half + l] = static_cast<std::uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
                                                                ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
            }
        }
    }

    static STRATA_HD float dot(const block& w, const q8_k::block& a) {
        int isum = 0;
        for (int s = 0; s < 16; ++s) {
            int sub = 0;
            for (int i = 0; i < 16; ++i) sub += level(w, 16 * s + i) * static_cast<int>(a.qs[16 * s + i]);
            isum += static_cast<int>(w.scales[s]) * sub;
        }
        return (to_float(w.d) * a.d) * static_cast<float>(isum);
    }

    // ggml's make_qx_quants for 16 values, nmax = 32, weights x² (its rmse_type 1): the grid
    // through the largest magnitude and 18 grids around it (nmax ± 0.1..0.9), keeping the one
    // whose least-squares scale explains most of the weighted energy (max sumlx²/suml2).
    // L gets q + 32 (0 in an all-zero group); returns the scale.
    static STRATA_HD float make_qx_quants(const float* x, std::int8_t* L) {
        constexpr int n = 16, nmax = 32;
        float max = 0, amax = 0;
        for (int i = 0; i < n; ++i) {
            const float ax = detail::fabs_hd(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < detail::group_max_eps) {
            for (int i = 0; i < n; ++i) L[i] = 0;
            return 0.0f;
        }
        const auto level_at = [](float iscale, float v) {
            const int l = detail::nearest_int(iscale * v);
            return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
        };
        float iscale = static_cast<float>(-nmax) / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = level_at(iscale, x[i]);
            L[i] = static_cast<std::int8_t>(l + nmax);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * static_cast<float>(l);
            suml2 += w * static_cast<float>(l) * static_cast<float>(l);
        }
        float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) continue;
            iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; ++i) {
                const auto l = static_cast<float>(level_at(iscale, x[i]));
                const float w = x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(nmax + level_at(iscale, x[i]));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }
};
static_assert(quant_format<q6_k>);
static_assert(dot_capable<q6_k>);

STRATA_NAMESPACE_END
