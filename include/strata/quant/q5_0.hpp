// strata/quant/q5_0.hpp — Q5_0: blocks of 32 5-bit quants with one fp16 scale (5.5 bits/weight).
//
// x ≈ d * (q - 16) with q in 0..31. The low four bits of each quant are packed like Q4_0's; the
// fifth bits of all 32 sit in one little-endian 32-bit word, bit j for element j. Multiplied
// with Q8_0 activations.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/q8_0.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN

struct q5_0 {
    static constexpr ggml_type type = ggml_type::q5_0;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 22;
    static constexpr std::string_view name = "q5_0";

    struct block {
        fp16_t d;             // scale
        std::uint8_t qh[4];   // fifth bits, bit j of the little-endian word for element j
        std::uint8_t qs[16];  // low bits: element j in the low nibble of qs[j], j + 16 in the high
    };
    using dot_format = q8_0;

    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        const std::uint32_t qh = high_bits(b);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(quant(b, qh, j) - 16) * d;
    }

    // As Q4_0 one bit wider: the signed extreme maps to -16, the rest truncate q + 16.5 and
    // clamp at 31.
    static STRATA_HD void quantize(const float* x, block& b) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; ++j) {
            const float a = detail::fabs_hd(x[j]);
            if (a > amax) { amax = a; max = x[j]; }  // the first of equal magnitudes wins
        }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b.d = to_fp16(d);
        std::uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = code(x[j] * id), hi = code(x[j + 16] * id);
            b.qs[j] = static_cast<std::uint8_t>((lo & 0x0f) | (hi & 0x0f) << 4);
            qh |= static_cast<std::uint32_t>(lo >> 4) << j | static_cast<std::uint32_t>(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<std::uint8_t>(qh >> (8 * k));
    }

    static STRATA_HD float dot(const block& w, const q8_0::block& a) {
        const std::uint32_t qh = high_bits(w);
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += (quant(w, qh, j) - 16) * a.qs[j];
        return static_cast<float>(sum) * (to_float(w.d) * to_float(a.d));
    }

private:
    // The fifth bits as the little-endian word they are stored as (the block is only 2-byte
    // aligned, so it is assembled from bytes).
    static STRATA_HD std::uint32_t high_bits(const block& b) {
        std::uint32_t qh = 0;
        for (int k = 0; k < 4; ++k) qh |= static_cast<std::uint32_t>(b.qh[k]) << (8 * k);
        return qh;
    }

    // Element j's quant, 0..31, given the block's high_bits.
    static STRATA_HD int quant(const block& b, std::uint32_t qh, int j) {
        const int low = j < 16 ? b.qs[j] & 0x0f : b.qs[j - 16] >> 4;
        return low | static_cast<int>((qh >> j) & 1u) << 4;
    }

    // v = x / d in [-16, 16]: the stored 5-bit code
    static STRATA_HD int code(float v) {
        const int q = static_cast<int>(v + 16.5f);
        return q < 31 ? q : 31;
    }
};
static_assert(quant_format<q5_0>);
static_assert(dot_capable<q5_0>);

STRATA_NAMESPACE_END
