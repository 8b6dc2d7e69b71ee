// strata/quant/iq4_xs.hpp — IQ4_XS: 256 values in 8 sub-blocks of 32, 4-bit indices into a
// fixed non-linear codebook with a signed 6-bit scale per sub-block and one fp16 super-block
// scale (4.25 bits/weight).
//
// Value i of sub-block s: x ≈ (d * (ls[s] - 32)) * codebook[q], with the codebook IQ4_NL's.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/k_common.hpp"
#include "strata/quant/q8_k.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct iq4_xs {
    static constexpr ggml_type type = ggml_type::iq4_xs;
    static constexpr std::uint32_t block_elems = 256;
    static constexpr std::uint32_t block_bytes = 136;
    static constexpr std::string_view name = "iq4_xs";

    struct block {
        fp16_t d;                  // super-block scale
        std::uint16_t scales_h;    // top 2 bits of scale s at bit 2s
        std::uint8_t scales_l[4];  // low 4 bits of scale s: nibble s%2 of byte s/2
        std::uint8_t qs[128];      // 16 bytes per sub-block: low nibbles values 0-15, high 16-31
    };
    using dot_format = q8_k;

    // The 16 levels, denser near zero where weights are (IQ4_NL's codebook). A function-local
    // constexpr table so that device code can use it too.
    static STRATA_HD int codebook(int i) {
        constexpr std::int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
        return values[i];
    }

    static STRATA_HD int scale(const block& b, int s) {
        return (((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xF) | (((b.scales_h >> (2 * s)) & 3) << 4)) - 32;
    }

    static STRATA_HD int index(const block& b, int e) {
        const int byte = b.qs[16 * (e / 32) + e % 16];
        return (e % 32) < 16 ? byte & 0xF : byte >> 4;
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        for (int s = 0; s < 8; ++s) {
            const float dl = d * static_cast<float>(scale(b, s));
            for (int i = 0; i < 32; ++i) y[32 * s + i] = dl * static_cast<float>(codebook(index(b, 32 * s + i)));
        }
    }

    // The codebook entry nearest to v (ties to the upper one), by bisection as ggml does.
    static STRATA_HD int nearest_index(float v) {
        if (v <= static_cast<float>(codebook(0))) return 0;
        if (v >= static_cast<float>(codebook(15))) return 15;
        int lo = 0, hi = 15;
        while (hi - lo > 1) {
            const int mid = (lo + hi) / 2;
            if (v < static_cast<float>(codebook(mid))) hi = mid;
            else lo = mid;
        }
        return v - static_cast<float>(codebook(hi - 1)) < static_cast<float>(codebook(hi)) - v ? hi - 1 : hi;
    }

    // ggml's quantizer (no importance weights, so weights x²): per sub-block the least-squares
    // scale of the grid through the largest magnitude and of 15 grids around it, keeping the
    // best fit; the eight scales quantized to signed 6 bits against the one of largest
    // magnitude; then every value re-mapped to the nearest codebook entry under its stored scale.
    static STRATA_HD void quantize(const float* x, block& b) {
        float scales[8];
        float max_scale = 0, amax_scale = 0;
        for (int s = 0; s < 8; ++s) {
            scales[s] = fit_scale(x + 32 * s);
            const float as = detail::fabs_hd(scales[s]);
            if (as > amax_scale) { amax_scale = as; max_scale = scales[s]; }
        }
        // as ggml: d = -max_scale / 32 even when that is -0 (an all-zero block stores d = -0)
        const float d = -max_scale / 32;
        b.d = to_fp16(d);
        const float id = d != 0.0f ? 1 / d : 0.0f;
        b.scales_h = 0;
        for (int s = 0; s < 8; ++s) {
            int l = detail::nearest_int(id * scales[s]);
            l = l < -32 ? -32 : (l > 31 ? 31 : l);
            // the values are re-mapped with the unrounded d: what ggml's reference does
            const float dl = d * static_cast<float>(l);
            const float idl = dl != 0.0f ? 1 / dl : 0.0f;
            std::uint8_t L[32];
            for (int i = 0; i < 32; ++i) L[i] = static_cast<std::uint8_t>(nearest_index(idl * x[32 * s + i]));
            for (int i = 0; i < 16; ++i) b.qs[16 * s + i] = static_cast<std::uint8_t>(L[i] | (L[i + 16] << 4));
            l += 32;
            if (s % 2 == 0) b.scales_l[s / 2] = static_cast<std::uint8_t>(l & 0xF);
            else b.scales_l[s / 2] = static_cast<std::uint8_t>(b.scales_l[s / 2] | ((l & 0xF) << 4));
            b.scales_h = static_cast<std::uint16_t>(b.scales_h | ((l >> 4) << (2 * s)));
        }
    }

    static STRATA_HD float dot(const block& w, const q8_k::block& a) {
        int isum = 0;
        for (int s = 0; s < 8; ++s) {
            int sub = 0;
            for (int i = 0; i < 32; ++i) sub += codebook(index(w, 32 * s + i)) * static_cast<int>(a.qs[32 * s + i]);
            isum += scale(w, s) * sub;
        }
        return (to_float(w.d) * a.d) * static_cast<float>(isum);
    }

    // The scale of one sub-block of 32 (0 for an all-zero one): x²-weighted least squares on
    // the codebook grid scaled so the largest magnitude lands on -127, then on the grids with
    // that point moved by -7..7 codebook units, keeping the one that explains most of the
    // weighted energy (max sumqx²/sumq2).
    static STRATA_HD float fit_scale(const float* x) {
        constexpr int ntry = 7;
        float amax = 0, max = 0;
        for (int i = 0; i < 32; ++i) {
            const float ax = detail::fabs_hd(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < detail::group_max_eps) return 0.0f;
        const auto v0 = static_cast<float>(codebook(0));
        float d = -max / v0;
        float id = 1 / d;
        float sumqx = 0, sumq2 = 0;
        for (int i = 0; i < 32; ++i) {
            const auto q = static_cast<float>(codebook(nearest_index(id * x[i])));
            const float w = x[i] * x[i];
            sumqx += w * q * x[i];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; ++itry) {
            id = static_cast<float>(itry + codebook(0)) / max;
            sumqx = sumq2 = 0;
            for (int i = 0; i < 32; ++i) {
                const auto q = static_cast<float>(codebook(nearest_index(id * x[i])));
                const float w = x[i] * x[i];
                sumqx += w * q * x[i];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }
};
static_assert(quant_format<iq4_xs>);
static_assert(dot_capable<iq4_xs>);

STRATA_NAMESPACE_END
