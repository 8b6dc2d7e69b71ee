// strata/quant/k_common.hpp — pieces shared by the K-quants (256-element super-blocks).
//
// Q2_K, Q4_K and Q5_K store each sub-block as x ≈ d_sub * q - m_sub with an unsigned q, and
// find (d_sub, m_sub) with the same weighted least-squares search; Q4_K and Q5_K also share the
// 12-byte packing of eight 6-bit scales and eight 6-bit mins. The search is ggml's
// make_qkx2_quants, restated: the reference quantizers are defined by it, so matching it
// operation for operation (same float expressions, same order) gives byte-identical blocks.
#pragma once

#include <cmath>
#include <cstdint>

#include "strata/core/config.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/round.hpp"

STRATA_NAMESPACE_BEGIN
namespace detail {

// ggml treats a group whose largest magnitude is below this as all zero.
inline constexpr float group_max_eps = 1e-15f;

// Correctly rounded on both sides (sqrtss on x86-64, IEEE sqrtf on the device), as ggml's sqrtf.
STRATA_HD inline float sqrt_hd(float x) noexcept {
#if defined(__CUDA_ARCH__)
    return ::sqrtf(x);
#else
    return std::sqrt(x);
#endif
}

// The 12 bytes holding eight 6-bit scales (sc) and eight 6-bit mins (m) of Q4_K / Q5_K:
//   bytes 0-3:  sc[0..3] in the low 6 bits, the top 2 bits of sc[4..7] above them
//   bytes 4-7:  m[0..3]  in the low 6 bits, the top 2 bits of m[4..7] above them
//   bytes 8-11: low nibble = low 4 bits of sc[4..7], high nibble = low 4 bits of m[4..7]
STRATA_HD constexpr void unpack_scale_min_k4(const std::uint8_t* q, int j, int& sc, int& m) noexcept {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Inverse of the above for sc, m in 0..63; sub-blocks 0..3 must be packed before 4..7 (those
// only add their top bits to bytes the first four wrote).
STRATA_HD constexpr void pack_scale_min_k4(std::uint8_t* q, int j, int sc, int m) noexcept {
    if (j < 4) {
        q[j] = static_cast<std::uint8_t>(sc);
        q[j + 4] = static_cast<std::uint8_t>(m);
    } else {
        q[j + 4] = static_cast<std::uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
        q[j - 4] = static_cast<std::uint8_t>(q[j - 4] | ((sc >> 4) << 6));
        q[j] = static_cast<std::uint8_t>(q[j] | ((m >> 4) << 6));
    }
}

// Weighted fit of x[i] ≈ scale * L[i] - neg_min with L[i] in 0..nmax (n <= 32). Starts from the
// plain min/max grid, then tries nstep+1 grids of nmax + rmin + rdelta*k steps across the range,
// solving the 2x2 least-squares system for (scale, min) on each and keeping the one with the
// smallest weighted error (absolute error when use_mad). The min is clamped to <= 0 so that
// neg_min >= 0 is what the format stores. Returns the scale; L receives the levels.
STRATA_HD inline float make_qkx2_quants(int n, int nmax, const float* x, const float* weights,
                                        std::uint8_t* L, float& neg_min, float rmin, float rdelta,
                                        int nstep, bool use_mad) noexcept {
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        neg_min = -min;
        return 0.0f;
    }
    const auto clamp_level = [nmax](int l) { return l < 0 ? 0 : (l > nmax ? nmax : l); };
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<std::uint8_t>(clamp_level(nearest_int(iscale * (x[i] - min))));
        float diff = scale * static_cast<float>(L[i]) + min - x[i];
        diff = use_mad ? fabs_hd(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        neg_min = -min;
        return scale;
    }
    std::uint8_t Laux[32];
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_level(nearest_int(iscale * (x[i] - min)));
            Laux[i] = static_cast<std::uint8_t>(l);
            const float w = weights[i];
            const auto fl = static_cast<float>(l);
            sum_l += w * fl;
            sum_l2 += w * fl * fl;
            sum_xl += w * fl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {  // an offset above zero cannot be stored: refit the scale alone
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = 0;
        for (int i = 0; i < n; ++i) {
            float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
            diff = use_mad ? fabs_hd(diff) : diff * diff;
            cur_error += weights[i] * diff;
        }
        if (cur_error < best_error) {
            for (int i = 0; i < n; ++i) L[i] = Laux[i];
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    neg_min = -min;
    return scale;
}

// The common body of the Q4_K and Q5_K reference quantizers: eight sub-blocks of 32 fitted with
// make_qkx2_quants (weights |x| plus the sub-block's RMS, so that small values still count),
// their scales and mins quantized to 6 bits against the largest of each, and every value then
// re-rounded against the scale and min as stored (fp16 times 6-bit), which is what dequantizes.
// Fills scales[12], d, dmin and the levels L[256] in 0..nmax.
STRATA_HD inline void quantize_scale_min_k4(const float* x, int nmax, float rmin, float rdelta, int nstep,
                                            std::uint8_t* scales, fp16_t& d, fp16_t& dmin,
                                            std::uint8_t* L) noexcept {
    float sub_scale[8], sub_min[8], weights[32];
    float max_scale = 0, max_min = 0;  // both non-negative: the min is subtracted
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrt_hd(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + fabs_hd(xs[l]);
        sub_scale[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, sub_min[j], rmin, rdelta, nstep, false);
        if (sub_scale[j] > max_scale) max_scale = sub_scale[j];
        if (sub_min[j] > max_min) max_min = sub_min[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
        // as ggml: the rounded value is taken modulo 256 before the clamp to 63
        auto ls = static_cast<std::uint8_t>(nearest_int(inv_scale * sub_scale[j]));
        auto lm = static_cast<std::uint8_t>(nearest_int(inv_min * sub_min[j]));
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        pack_scale_min_k4(scales, j, ls, lm);
    }
    d = to_fp16(max_scale / 63.0f);
    dmin = to_fp16(max_min / 63.0f);
    const float df = to_float(d), dminf = to_float(dmin);
    for (int j = 0; j < 8; ++j) {
        int sc = 0, m = 0;
        unpack_scale_min_k4(scales, j, sc, m);
        const float ds = df * static_cast<float>(sc);
        if (ds == 0.0f) continue;  // scale stored as zero: keep the fitted levels
        const float dm = dminf * static_cast<float>(m);
        for (int i = 0; i < 32; ++i) {
            const int l = nearest_int((x[32 * j + i] + dm) / ds);
            L[32 * j + i] = static_cast<std::uint8_t>(l < 0 ? 0 : (l > nmax ? nmax : l));
        }
    }
}

}  // namespace detail
STRATA_NAMESPACE_END
