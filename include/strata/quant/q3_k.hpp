// strata/quant/q3_k.hpp — Q3_K: 256 values in 16 sub-blocks of 16, signed 3-bit quants with a
// signed 6-bit scale per sub-block and one fp16 super-block scale (3.4375 bits/weight).
//
// Value i of sub-block s: x ≈ (d * (sc[s] - 32)) * q with q in -4..3. The low two bits of q + 4
// are in qs, the third in hmask — stored inverted: a set bit means "no -4".
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/k_common.hpp"
#include "strata/quant/q8_k.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q3_k {
    static constexpr ggml_type type = ggml_type::q3_k;
    static constexpr std::uint32_t block_elems = 256;
    static constexpr std::uint32_t block_bytes = 110;
    static constexpr std::string_view name = "q3_K";

    struct block {
        std::uint8_t hmask[32];   // high bit of element e: bit e/32 of hmask[e % 32]
        std::uint8_t qs[64];      // low 2 bits, laid out as Q2_K's
        std::uint8_t scales[12];  // sixteen 6-bit scales, see scale()
        fp16_t d;                 // super-block scale
    };
    using dot_format = q8_k;

    // Scale s (0..63, biased by 32). Bytes 0-7 hold the low nibbles: s < 8 in the low nibble of
    // byte s, s >= 8 in the high nibble of byte s-8; bytes 8-11 hold the top two bits: those of
    // s in byte 8 + s%4 at bit 2*(s/4).
    static STRATA_HD int scale(const std::uint8_t* sc, int s) {
        const int low = s < 8 ? sc[s] & 0xF : sc[s - 8] >> 4;
        return low | (((sc[8 + s % 4] >> (2 * (s / 4))) & 3) << 4);
    }

    // The signed quants (-4..3) in element order.
    static STRATA_HD void levels(const block& b, std::int8_t* q) {
        for (int half = 0; half < 2; ++half) {
            for (int k = 0; k < 4; ++k) {
                const int bit = 4 * half + k;
                for (int l = 0; l < 32; ++l) {
                    const int low = (b.qs[32 * half + l] >> (2 * k)) & 3;
                    q[128 * half + 32 * k + l] = static_cast<std::int8_t>(low - ((b.hmask[l] >> bit) & 1 ? 0 : 4));
                }
            }
        }
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        std::int8_t q[256];
        levels(b, q);
        for (int s = 0; s < 16; ++s) {
            const float dl = d * static_cast<float>(scale(b.scales, s) - 32);
            for (int i = 0; i < 16; ++i) y[16 * s + i] = dl * static_cast<float>(q[16 * s + i]);
        }
    }

    // ggml's reference: each sub-block fitted with make_q3_quants (x²-weighted, with a few rounds
    // of moving single quants), the sixteen scales quantized to 6 bits against the one of
    // largest magnitude (its sign carried by d), then the values re-rounded against the
    // stored scales.
    static STRATA_HD void quantize(const float* x, block& b) {
        std::int8_t L[256];
        float scales[16];
        float max_scale = 0, amax = 0;
        for (int s = 0; s < 16; ++s) {
            scales[s] = make_q3_quants(x + 16 * s, L + 16 * s);
            const float as = detail::fabs_hd(scales[s]);
            if (as > amax) { amax = as; max_scale = scales[s]; }
        }
        for (int i = 0; i < 12; ++i) b.scales[i] = 0;
        if (max_scale != 0.0f) {
            const float iscale = -32.0f / max_scale;
            for (int s = 0; s < 16; ++s) {
                int l = static_cast<std::int8_t>(detail::nearest_int(iscale * scales[s]));
                l = (l < -32 ? -32 : (l > 31 ? 31 : l)) + 32;
                if (s < 8) b.scales[s] = static_cast<std::uint8_t>(l & 0xF);
                else b.scales[s - 8] = static_cast<std::uint8_t>(b.scales[s - 8] | ((l & 0xF) << 4));
                b.scales[8 + s % 4] = static_cast<std::uint8_t>(b.scales[8 + s % 4] | ((l >> 4) << (2 * (s / 4))));
            }
            b.d = to_fp16(1 / iscale);
        } else {
            b.d = to_fp16(0.0f);
        }
        const float d = to_float(b.d);
        for (int s = 0; s < 16; ++s) {
            const float dl = d * static_cast<float>(scale(b.scales, s) - 32);
            if (dl == 0.0f) continue;  // scale stored as zero: keep the fitted levels
            for (int i = 0; i < 16; ++i) {
                const int l = detail::nearest_int(x[16 * s + i] / dl);
                L[16 * s + i] = static_cast<std::int8_t>((l < -4 ? -4 : (l > 3 ? 3 : l)) + 4);
            }
        }
        for (int i = 0; i < 32; ++i) b.hmask[i] = 0;
        for (int e = 0; e < 256; ++e) {
            if (L[e] > 3) {
                b.hmask[e % 32] = static_cast<std::uint8_t>(b.hmask[e % 32] | (1 << (e / 32)));
                L[e] = static_cast<std::int8_t>(L[e] - 4);
            }
        }
        for (int half = 0; half < 2; ++half) {
            for (int l = 0; l < 32; ++l) {
                const std::int8_t* Lh = L + 128 * half + l;
                b.qs[32 * half + l] = static_cast<std::uint8_t>(Lh[0] | (Lh[32] << 2) | (Lh[64] << 4) | (Lh[96] << 6));
            }
        }
    }

    static STRATA_HD float dot(const block& w, const q8_k::block& a) {
        std::int8_t q[256];
        levels(w, q);
        int isum = 0;
        for (int s = 0; s < 16; ++s) {
            int sub = 0;
            for (int i = 0; i < 16; ++i) sub += static_cast<int>(q[16 * s + i]) * static_cast<int>(a.qs[16 * s + i]);
            isum += (scale(w.scales, s) - 32) * sub;
        }
        return (to_float(w.d) * a.d) * static_cast<float>(isum);
    }

    // ggml's make_q3_quants for 16 values, nmax = 4: start from the grid through the largest
    // magnitude, then for up to 5 rounds move single quants to where they best fit the current
    // least-squares scale (weights x²) as long as the weighted fit improves. L gets q + 4 (0 in
    // an all-zero group); returns the scale.
    static STRATA_HD float make_q3_quants(const float* x, std::int8_t* L) {
        constexpr int n = 16, nmax = 4;
        float max = 0, amax = 0;
        for (int i = 0; i < n; ++i) {
            const float ax = detail::fabs_hd(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < detail::group_max_eps) {
            for (int i = 0; i < n; ++i) L[i] = 0;
            return 0.0f;
        }
        const auto clamp_level = [](int l) { return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l); };
        const float iscale = static_cast<float>(-nmax) / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_level(detail::nearest_int(iscale * x[i]));
            L[i] = static_cast<std::int8_t>(l);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * static_cast<float>(l);
            suml2 += w * static_cast<float>(l) * static_cast<float>(l);
        }
        for (int itry = 0; itry < 5; ++itry) {
            int n_changed = 0;
            for (int i = 0; i < n; ++i) {
                const float w = x[i] * x[i];
                const auto li = static_cast<float>(L[i]);
                float slx = sumlx - w * x[i] * li;
                if (!(slx > 0)) continue;
                float sl2 = suml2 - w * li * li;
                const int new_l = clamp_level(detail::nearest_int(x[i] * sl2 / slx));
                if (new_l == L[i]) continue;
                const auto nl = static_cast<float>(new_l);
                slx += w * x[i] * nl;
                sl2 += w * nl * nl;
                // compares slx²/sl2 with sumlx²/suml2 without dividing
                if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                    L[i] = static_cast<std::int8_t>(new_l);
                    sumlx = slx;
                    suml2 = sl2;
                    ++n_changed;
                }
            }
            if (!n_changed) break;
        }
        for (int i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(L[i] + nmax);
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }
};
static_assert(quant_format<q3_k>);
static_assert(dot_capable<q3_k>);

STRATA_NAMESPACE_END
