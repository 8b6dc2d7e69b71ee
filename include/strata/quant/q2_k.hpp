// strata/quant/q2_k.hpp — Q2_K: 256 values in 16 sub-blocks of 16, 2-bit quants with a 4-bit
// scale and a 4-bit min per sub-block, both scaled by fp16 super-block factors (2.625 bits/weight).
//
// Value i of sub-block s: x ≈ (d * sc[s]) * q - (dmin * m[s]), with q in 0..3.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/k_common.hpp"
#include "strata/quant/q8_k.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q2_k {
    static constexpr ggml_type type = ggml_type::q2_k;
    static constexpr std::uint32_t block_elems = 256;
    static constexpr std::uint32_t block_bytes = 84;
    static constexpr std::string_view name = "q2_K";

    struct block {
        std::uint8_t scales[16];  // low nibble: scale, high nibble: min, of sub-block s
        std::uint8_t qs[64];      // 2-bit quants, see levels()
        fp16_t d;                 // super-block scale of the scales
        fp16_t dmin;              // super-block scale of the mins
    };
    using dot_format = q8_k;

    // The 2-bit quants in element order. Each half of the block (128 values) uses 32 bytes:
    // byte l holds elements l, l+32, l+64, l+96 of that half in bit pairs 0-1, 2-3, 4-5, 6-7.
    static STRATA_HD void levels(const block& b, std::uint8_t* q) {
        for (int half = 0; half < 2; ++half) {
            for (int k = 0; k < 4; ++k) {
                for (int l = 0; l < 32; ++l) {
                    q[128 * half + 32 * k + l] = static_cast<std::uint8_t>((b.qs[32 * half + l] >> (2 * k)) & 3);
                }
            }
        }
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        const float dmin = to_float(b.dmin);
        std::uint8_t q[256];
        levels(b, q);
        for (int s = 0; s < 16; ++s) {
            // ggml's order of operations: dl * q - ml, both products rounded first
            const float dl = d * static_cast<float>(b.scales[s] & 0xF);
            const float ml = dmin * static_cast<float>(b.scales[s] >> 4);
            for (int i = 0; i < 16; ++i) y[16 * s + i] = dl * static_cast<float>(q[16 * s + i]) - ml;
        }
    }

    // ggml's reference: each sub-block fitted with make_qkx2_quants minimising the |x|-weighted
    // absolute error; the 16 scales and 16 mins quantized to 4 bits against their largest; then
    // the values re-rounded against the stored scale and min.
    static STRATA_HD void quantize(const float* x, block& b) {
        std::uint8_t L[256];
        float scales[16], mins[16], weights[16];
        float max_scale = 0, max_min = 0;
        for (int s = 0; s < 16; ++s) {
            for (int i = 0; i < 16; ++i) weights[i] = detail::fabs_hd(x[16 * s + i]);
            scales[s] = detail::make_qkx2_quants(16, 3, x + 16 * s, weights, L + 16 * s, mins[s],
                                                 -0.5f, 0.1f, 15, true);
            if (scales[s] > max_scale) max_scale = scales[s];
            if (mins[s] > max_min) max_min = mins[s];
        }
        const float q4scale = 15.0f;
        if (max_scale > 0) {
            const float iscale = q4scale / max_scale;
            for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<std::uint8_t>(detail::nearest_int(iscale * scales[s]));
            b.d = to_fp16(max_scale / q4scale);
        } else {
            for (int s = 0; s < 16; ++s) b.scales[s] = 0;
            b.d = to_fp16(0.0f);
        }
        if (max_min > 0) {
            const float iscale = q4scale / max_min;
            for (int s = 0; s < 16; ++s) {
                const int l = detail::nearest_int(iscale * mins[s]);
                b.scales[s] = static_cast<std::uint8_t>(b.scales[s] | (l << 4));
            }
            b.dmin = to_fp16(max_min / q4scale);
        } else {
            b.dmin = to_fp16(0.0f);
        }
        const float d = to_float(b.d), dmin = to_float(b.dmin);
        for (int s = 0; s < 16; ++s) {
            const float dl = d * static_cast<float>(b.scales[s] & 0xF);
            if (dl == 0.0f) continue;  // scale stored as zero: keep the fitted levels
            const float ml = dmin * static_cast<float>(b.scales[s] >> 4);
            for (int i = 0; i < 16; ++i) {
                const int l = detail::nearest_int((x[16 * s + i] + ml) / dl);
                L[16 * s + i] = static_cast<std::uint8_t>(l < 0 ? 0 : (l > 3 ? 3 : l));
            }
        }
        for (int half = 0; half < 2; ++half) {
            for (int l = 0; l < 32; ++l) {
                const std::uint8_t* Lh = L + 128 * half + l;
                b.qs[32 * half + l] = static_cast<std::uint8_t>(Lh[0] | (Lh[32] << 2) | (Lh[64] << 4) | (Lh[96] << 6));
            }
        }
    }

    // sum_i w_i a_i = da * (d * sum_s sc_s * sum_i q_i qa_i - dmin * sum_s m_s * bsum_s): the
    // min term needs only the activation's 16-value sums.
    static STRATA_HD float dot(const block& w, const q8_k::block& a) {
        std::uint8_t q[256];
        levels(w, q);
        int isum = 0, summs = 0;
        for (int s = 0; s < 16; ++s) {
            int sub = 0;
            for (int i = 0; i < 16; ++i) sub += static_cast<int>(q[16 * s + i]) * static_cast<int>(a.qs[16 * s + i]);
            isum += (w.scales[s] & 0xF) * sub;
            summs += (w.scales[s] >> 4) * static_cast<int>(a.bsums[s]);
        }
        const float dall = a.d * to_float(w.d);
        const float dmin = a.d * to_float(w.dmin);
        return dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
};
static_assert(quant_format<q2_k>);
static_assert(dot_capable<q2_k>);

STRATA_NAMESPACE_END
