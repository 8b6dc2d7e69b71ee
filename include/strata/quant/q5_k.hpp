// strata/quant/q5_k.hpp — Q5_K: 256 values in 8 sub-blocks of 32, 5-bit quants with a 6-bit
// scale and a 6-bit min per sub-block, both scaled by fp16 super-block factors (5.5 bits/weight).
//
// Value i of sub-block s: x ≈ (d * sc[s]) * q - (dmin * m[s]), with q in 0..31: the low four
// bits laid out as Q4_K's, the fifth in qh.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/k_common.hpp"
#include "strata/quant/q8_k.hpp"

STRATA_NAMESPACE_BEGIN

struct q5_k {
    static constexpr ggml_type type = ggml_type::q5_k;
    static constexpr std::uint32_t block_elems = 256;
    static constexpr std::uint32_t block_bytes = 176;
    static constexpr std::string_view name = "q5_K";

    struct block {
        fp16_t d;                 // super-block scale of the scales
        fp16_t dmin;              // super-block scale of the mins
        std::uint8_t scales[12];  // 6-bit scales and mins, see detail::unpack_scale_min_k4
        std::uint8_t qh[32];      // fifth bit of element e: bit e/32 of qh[e % 32]
        std::uint8_t qs[128];     // low 4 bits, as Q4_K's qs
    };
    using dot_format = q8_k;

    static STRATA_HD int level(const block& b, int e) {
        const int byte = b.qs[32 * (e / 64) + e % 32];
        const int low = (e / 32) % 2 ? byte >> 4 : byte & 0xF;
        return low + ((b.qh[e % 32] >> (e / 32)) & 1 ? 16 : 0);
    }

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        const float dmin = to_float(b.dmin);
        for (int s = 0; s < 8; ++s) {
            int sc = 0, m = 0;
            detail::unpack_scale_min_k4(b.scales, s, sc, m);
            // ggml's order of operations: d1 * q - m1, both products rounded first
            const float d1 = d * static_cast<float>(sc);
            const float m1 = dmin * static_cast<float>(m);
            for (int i = 0; i < 32; ++i) y[32 * s + i] = d1 * static_cast<float>(level(b, 32 * s + i)) - m1;
        }
    }

    // ggml's reference: make_qkx2_quants on each sub-block (16 grids from nmax-0.5 in steps of 0.1).
    static STRATA_HD void quantize(const float* x, block& b) {
        std::uint8_t L[256];
        detail::quantize_scale_min_k4(x, 31, -0.5f, 0.1f, 15, b.scales, b.d, b.dmin, L);
        for (int i = 0; i < 32; ++i) b.qh[i] = 0;
        for (int p = 0; p < 4; ++p) {
            for (int l = 0; l < 32; ++l) {
                const int lo = L[64 * p + l], hi = L[64 * p + 32 + l];
                b.qs[32 * p + l] = static_cast<std::uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
                b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | ((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
            }
        }
    }

    // sum_i w_i a_i = da * (d * sum_s sc_s * sum_i q_i qa_i - dmin * sum_s m_s * (bsums of s)).
    static STRATA_HD float dot(const block& w, const q8_k::block& a) {
        int isum = 0, summs = 0;
        for (int s = 0; s < 8; ++s) {
            int sc = 0, m = 0;
            detail::unpack_scale_min_k4(w.scales, s, sc, m);
            int sub = 0;
            for (int i = 0; i < 32; ++i) sub += level(w, 32 * s + i) * static_cast<int>(a.qs[32 * s + i]);
            isum += sc * sub;
            summs += m * (static_cast<int>(a.bsums[2 * s]) + static_cast<int>(a.bsums[2 * s + 1]));
        }
        const float d = to_float(w.d) * a.d;
        const float dmin = to_float(w.dmin) * a.d;
        return d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
};
static_assert(quant_format<q5_k>);
static_assert(dot_capable<q5_k>);

STRATA_NAMESPACE_END
