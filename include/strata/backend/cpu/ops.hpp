// strata/backend/cpu/ops.hpp — the element-wise and normalisation ops of a transformer layer on
// the CPU, written to round where llama.cpp's CPU backend rounds (the comments say where), so
// that logits agree closely and greedy tokens agree exactly.
//
// Rows are contiguous; `n_tokens` rows of `n` values. These ops are a small share of a token's
// time next to the matrix products, so they are plain loops the compiler vectorises.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "strata/backend/cpu/backend.hpp"
#include "strata/core/half.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

// y = x / sqrt(mean(x^2) + eps) * w (w may be null: no gain). The sum of squares is taken in
// double, as ggml does, so long rows lose nothing.
inline void rms_norm(const float* x, const float* w, float* y, std::int64_t n, float eps) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += double(x[i] * x[i]);
    const float scale = 1.0f / std::sqrt(float(sum / double(n)) + eps);
    if (w) {
        for (std::int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
    } else {
        for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
    }
}

inline void rms_norm_rows(const float* x, const float* w, float* y, std::int64_t n_tokens, std::int64_t n, float eps) {
    for (std::int64_t t = 0; t < n_tokens; ++t) rms_norm(x + t * n, w, y + t * n, n, eps);
}

// Rotary position embedding of one head vector in place. The angle of pair i at position p is
// p * freq_scale * base^(-2i/n_rot) / freq_factor[i]; like ggml the per-pair power is built by
// repeated multiplication, so the angles match its to the last bit.
//   adjacent: pairs (2i, 2i+1) (llama);  neox: pairs (i, i + n_rot/2) (gemma, gpt-neox).
struct rope_params {
    std::int64_t n_rot = 0;
    float base = 10000.0f;
    float freq_scale = 1.0f;
    const float* freq_factors = nullptr;  // n_rot/2 divisors (llama 3), or null
    bool neox = false;
};

inline void rope(float* v, std::int64_t pos, const rope_params& rp) {
    const float theta_scale = std::pow(rp.base, -2.0f / float(rp.n_rot));
    float theta = float(pos);
    const std::int64_t half = rp.n_rot / 2;
    for (std::int64_t i = 0; i < half; ++i) {
        const float ff = rp.freq_factors ? rp.freq_factors[i] : 1.0f;
        const float angle = rp.freq_scale * (theta / ff);
        const float c = std::cos(angle), s = std::sin(angle);
        const std::int64_t a = rp.neox ? i : 2 * i;
        const std::int64_t b = rp.neox ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
        theta *= theta_scale;
    }
}

// GELU with the tanh approximation, gated: y = gelu(g) * u. ggml evaluates GELU through a
// table indexed by the fp16 value of its input and stores fp16 results, so we round the same
// way (the values of gemma's FFN are where greedy decoding is most sensitive).
inline float gelu_tanh(float x) {
    constexpr float sqrt_2_over_pi = 0.79788456080286535587989211986876f;
    constexpr float coef_a = 0.044715f;
    return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * x * (1.0f + coef_a * x * x)));
}

inline float gelu_tanh_fp16(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return fp16_to_fp32(fp32_to_fp16(gelu_tanh(fp16_to_fp32(fp32_to_fp16(x)))));
}

// gelu_tanh_fp16 of every fp16 value, computed once (tanh per element was an eighth of gemma's
// prefill time): an immutable table, built on first use in a thread-safe static.
inline const std::uint16_t* gelu_tanh_fp16_table() {
    static const std::vector<std::uint16_t> table = [] {
        std::vector<std::uint16_t> t(65536);
        for (std::uint32_t h = 0; h < 65536; ++h)
            t[h] = fp32_to_fp16(gelu_tanh_fp16(fp16_to_fp32(static_cast<std::uint16_t>(h))));
        return t;
    }();
    return table.data();
}

// The table gives exactly gelu_tanh_fp16 except beyond ±10, where that returns the unrounded
// input (x itself, or 0) rather than a table entry.
inline void geglu(const float* g, const float* u, float* y, std::int64_t n) {
    const std::uint16_t* table = gelu_tanh_fp16_table();
    for (std::int64_t i = 0; i < n; ++i) {
        const float x = g[i];
        const float a = x <= -10.0f ? 0.0f : x >= 10.0f ? x : fp16_to_fp32(table[fp32_to_fp16(x)]);
        y[i] = a * u[i];
    }
}

// SiLU gated (SwiGLU): y = g * sigmoid(g) * u.
inline void swiglu(const float* g, const float* u, float* y, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = (g[i] / (1.0f + std::exp(-g[i]))) * u[i];
}

// c * tanh(x / c): gemma2's soft-capping of attention scores and of logits.
inline void softcap(float* x, std::int64_t n, float c) {
    const float inv = 1.0f / c;  // ggml scales by the reciprocal, then tanh, then scales back
    for (std::int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * c;
}

inline void add(float* y, const float* x, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) y[i] += x[i];
}

inline void scale(float* y, std::int64_t n, float s) {
    for (std::int64_t i = 0; i < n; ++i) y[i] *= s;
}

// In-place softmax of x[0..n); the sum is accumulated in double (ggml does likewise).
inline void softmax(float* x, std::int64_t n) {
    float mx = -INFINITY;
    for (std::int64_t i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += double(x[i]);
    }
    const float inv = float(1.0 / sum);
    for (std::int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// LayerNorm (BERT): y = (x - mean) / sqrt(var + eps) * w + b, w and b may be null. Mean and
// variance are taken in double, like the sum of rms_norm.
inline void layer_norm(const float* x, const float* w, const float* b, float* y, std::int64_t n, float eps) {
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += double(x[i]);
    const float mean = float(sum / double(n));
    double var = 0.0;
    for (std::int64_t i = 0; i < n; ++i) var += double(x[i] - mean) * double(x[i] - mean);
    const float scale = 1.0f / std::sqrt(float(var / double(n)) + eps);
    for (std::int64_t i = 0; i < n; ++i) {
        float v = (x[i] - mean) * scale;
        if (w) v *= w[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

// GELU as BERT defines it (the erf form, not the tanh approximation), x * Phi(x), over a row:
// Phi from a table at steps of 1/512 over [-8, 8] (built once, in double, in a thread-safe
// static; immutable), linearly interpolated, within 1e-6 of the exact form (tested). erf per
// element showed as about a tenth of a MiniLM forward in a profile.
inline const float* gelu_erf_phi_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(16 * 512 + 2);
        for (std::size_t i = 0; i < t.size(); ++i)
            t[i] = float(0.5 * (1.0 + std::erf((-8.0 + double(i) / 512.0) * 0.70710678118654752440)));
        return t;
    }();
    return table.data();
}

inline void gelu_erf_row(float* x, std::int64_t n) {
    const float* phi = gelu_erf_phi_table();
    for (std::int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        if (v <= -8.0f) {
            x[i] = 0.0f;  // |v Phi(v)| < 1e-14
        } else if (v < 8.0f) {
            const float f = (v + 8.0f) * 512.0f;
            const auto j = static_cast<std::int32_t>(f);
            const float a = f - float(j);
            x[i] = v * (phi[j] + a * (phi[j + 1] - phi[j]));
        }  // v >= 8: Phi(v) is 1 in float
    }
}

// layer_norm over n_tokens contiguous rows of n (the device's kernels::layer_norm runs the same
// rows; y == x runs in place).
inline void layer_norm_rows(const float* x, const float* w, const float* b, float* y, std::int64_t n_tokens, std::int64_t n,
                            float eps) {
    for (std::int64_t t = 0; t < n_tokens; ++t) layer_norm(x + t * n, w, b, y + t * n, n, eps);
}

// gpt-oss's gated activation (the gpt-oss reference implementation; llama.cpp calls the op
// swiglu_oai): the gate is clamped from above only, the linear input from both sides, and the
// linear input is offset by one:
//   g' = min(g, limit), u' = clamp(u, -limit, limit), y = g' * sigmoid(alpha * g') * (u' + 1),
// with alpha = 1.702 and limit = 7 in gpt-oss. The clamps are written as comparisons that keep
// a NaN input (as std::min and std::clamp do), and the device's op compares the same way.
inline void swiglu_oai(const float* g, const float* u, float* y, std::int64_t n, float alpha, float limit) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float x = g[i] > limit ? limit : g[i];
        const float l = u[i] > limit ? limit : u[i] < -limit ? -limit : u[i];
        y[i] = (x / (1.0f + std::exp(-alpha * x))) * (l + 1.0f);
    }
}

}  // namespace cpu
STRATA_NAMESPACE_END
