// strata/quant/q5_1.hpp — Q5_1: blocks of 32 5-bit quants with an fp16 scale and minimum
// (6 bits/weight).
//
// x ≈ d * q + m with q in 0..31, packed like Q5_0 (low nibbles as Q4_1's, fifth bits in one
// little-endian 32-bit word). Multiplied with Q8_1 activations.
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/core/half.hpp"
#include "strata/quant/format.hpp"
#include "strata/quant/q8_1.hpp"

STRATA_NAMESPACE_BEGIN

struct q5_1 {
    static constexpr ggml_type type = ggml_type::q5_1;
    static constexpr std::uint32_t block_elems = 32;
    static constexpr std::uint32_t block_bytes = 24;
    static constexpr std::string_view name = "q5_1";

    struct block {
        fp16_t d;             // scale
        fp16_t m;             // minimum: the value of q = 0
        std::uint8_t qh[4];   // fifth bits, bit j of the little-endian word for element j
        std::uint8_t qs[16];  // low bits: element j in the low nibble of qs[j], j + 16 in the high
    };
    using dot_format = q8_1;

    // q * d rounded, then + m rounded: two operations, as ggml evaluates it (not fused).
    static STRATA_HD void dequantize(const block& b, float* y) {
        const float d = to_float(b.d);
        const float m = to_float(b.m);
        const std::uint32_t qh = high_bits(b);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(quant(b, qh, j)) * d + m;
    }

    // As Q4_1 with 31 steps. ggml does not clamp here; (x - min) / d exceeds 31 by a few ulps at
    // most, so the clamp below never changes a result and only guards against overflowed input.
    static STRATA_HD void quantize(const float* x, block& b) {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; ++j) {
            min = x[j] < min ? x[j] : min;
            max = x[j] > max ? x[j] : max;
        }
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b.d = to_fp16(d);
        b.m = to_fp16(min);
        std::uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = code((x[j] - min) * id), hi = code((x[j + 16] - min) * id);
            b.qs[j] = static_cast<std::uint8_t>((lo & 0x0f) | (hi & 0x0f) << 4);
            qh |= static_cast<std::uint32_t>(lo >> 4) << j | static_cast<std::uint32_t>(hi >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<std::uint8_t>(qh >> (8 * k));
    }

    // d_w d_a sum(q a) + m_w s_a, with s_a = d_a sum(a) taken from the activation block.
    static STRATA_HD float dot(const block& w, const q8_1::block& a) {
        const std::uint32_t qh = high_bits(w);
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += quant(w, qh, j) * a.qs[j];
        return (to_float(w.d) * to_float(a.d)) * static_cast<float>(sum) + to_float(w.m) * to_float(a.s);
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

    // v = (x - min) / d in [0, 31]: the stored 5-bit code
    static STRATA_HD int code(float v) {
        const int q = static_cast<int>(v + 0.5f);
        return q < 31 ? q : 31;
    }
};
static_assert(quant_format<q5_1>);
static_assert(dot_capable<q5_1>);

STRATA_NAMESPACE_END
