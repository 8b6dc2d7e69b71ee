// strata/quant/iq4_nl.hpp — IQ4_NL: blocks of 32 4-bit indices into a fixed non-linear codebook,
// with one fp16 scale (4.5 bits/weight).
//
// x ≈ d * level[q]. The 16 levels are denser near zero, where normally distributed weights
// are, so the same bits lose less than Q4_0's even grid. Packed like Q4_0; multiplied with Q8_0
// activations.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct iq4_nl {
    static constexpr ggml_type type = ggml_type::iq4_nl;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 18;
    static constexpr std::string_view name = "iq4_nl";

    struct block {
        fp16_t d;             // scale
        std::uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high one
    };
    using dot_format = q8_0;

    // The codebook, ascending (ggml's kvalues_iq4nl). A local constexpr array so that device
    // code can use it too.
    static STRATA_HD constexpr int level(int i) {
        constexpr std::int8_t levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
        return levels[i];
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        for (int j = 0; j < 16; ++j) {
            y[j] = d * static_cast<float>(level(b.qs[j] & 0x0f));
            y[j + 16] = d * static_cast<float>(level(b.qs[j] >> 4));
        }
    }

    // ggml's scale search: weights w = x^2 (no importance matrix), a first scale that puts the
    // extreme value on the top level, then 15 candidate scales around the one that puts it on
    // the bottom level; each candidate picks the nearest levels, gets its least-squares scale
    // d = sum(w q x) / sum(w q^2), and the one with the largest sum(w q x)^2 / sum(w q^2) (the
    // smallest weighted error) is kept. The levels are then re-picked for that scale.
    static STRATA_HD void quantize(const float* x, block& b) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const float a = detail::fabs_hd(x[j]);
            if (a > amax) { amax = a; max = x[j]; }  // the first of equal magnitudes wins
        }
        float d = 0.0f;
        if (amax >= 1e-15f) {  // below that ggml treats the block as zero
            fit f = fit_levels(x, 1.0f / (max / 127.0f));  // ggml's rounding: not 127 / max
            d = f.sumqx / f.sumq2;
            float best = d * f.sumqx;
            for (int step = -7; step <= 7; ++step) {
                f = fit_levels(x, static_cast<float>(step - 127) / max);
                if (f.sumq2 > 0.0f && f.sumqx * f.sumqx > best * f.sumq2) {
                    d = f.sumqx / f.sumq2;
                    best = d * f.sumqx;
                }
            }
        }
        b.d = to_fp16(d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;  // the float scale, not its fp16 value
        for (int j = 0; j < 16; ++j) {
            b.qs[j] = static_cast<std::uint8_t>(nearest_level(id * x[j]) | nearest_level(id * x[j + 16]) << 4);
        }
    }

    static STRATA_HD float dot(const block& w, const q8_0::block& a) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) {
            sum += level(w.qs[j] & 0x0f) * a.qs[j];
            sum += level(w.qs[j] >> 4) * a.qs[j + 16];
        }
        return static_cast<float>(sum) * (to_float(w.d) * to_float(a.d));
    }

private:
    struct fit {
        float sumqx, sumq2;  // sum(w q x), sum(w q^2)
    };

    // The weighted sums for the levels nearest to x * id; accumulated in ggml's order, since
    // which candidate wins can hinge on the last bit.
    static STRATA_HD fit fit_levels(const float* x, float id) {
        fit f{0.0f, 0.0f};
        for (int j = 0; j < 32; ++j) {
            const float q = static_cast<float>(level(nearest_level(id * x[j])));
            const float w = x[j] * x[j];
            f.sumqx += w * q * x[j];
            f.sumq2 += w * q * q;
        }
        return f;
    }

    // Index of the level nearest to v; halfway between two levels goes to the upper one.
    static STRATA_HD int nearest_level(float v) {
        if (v <= static_cast<float>(level(0))) return 0;
        if (v >= static_cast<float>(level(15))) return 15;
        int lo = 0, hi = 15;  // level(lo) <= v < level(hi)
        while (hi - lo > 1) {
            const int mid = (lo + hi) / 2;
            if (v < static_cast<float>(level(mid))) hi = mid; else lo = mid;
        }
        return v - static_cast<float>(level(lo)) < static_cast<float>(level(hi)) - v ? lo : hi;
    }
};
static_assert(quant_format<iq4_nl>);
static_assert(dot_capable<iq4_nl>);

STRATA_NAMESPACE_END
