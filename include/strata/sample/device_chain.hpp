// strata/sample/device_chain.hpp — the default chain's arithmetic in the form a GPU runs it.
//
// The CUDA sampler (backend/cuda/sampler.hpp, kernels/sample.cuh) reproduces
//   penalties -> top_k -> top_p -> min_p -> temperature -> dist
// of sample::default_chain (typical_p off) on the device. The pieces here are the per-entry
// math and the order-dependent scans, written once (STRATA_HD) so the kernels call exactly what
// the CPU tests check against sample::chain. Two layouts of the candidate set exist:
//
//   sorted:   top_k or top_p on. The set is the best-first prefix of the (logit, id) sort, as
//             the CPU leaves it after top_k (or top_p's sort); every later stage keeps a prefix.
//   id order: top_k and top_p off. The CPU never sorts: min_p filters in place and dist walks
//             the tokens in id order, so the device does too (and sorts nothing).
//
// Float semantics, stage by stage, against the CPU:
//   - exp: the CPU calls std::exp(float) (glibc's expf, within ~0.502 ulp); exp_rounded()
//     takes the exp of the double and rounds once (nearly correctly rounded, on host and
//     device alike). They differ by one ulp for about 6 in 10000 arguments (measured), which
//     moves a cumulative boundary of the draw by ~1e-7 of the mass; CUDA's expf (2 ulp) would
//     differ more often, and differently on the host tests.
//   - penalties: one multiply and one add each rounded (no fused multiply-add, as the CPU
//     builds with -ffp-contract=off).
//   - top_p's softmax sum is a float sum in the set's order and its cumsum a float cumsum:
//     the scans below run serially in that order, for sets of up to serial_max entries. With
//     top_k off the CPU sums in id order, which the sorted device set cannot follow, and a
//     tree sum over more entries is ~1e-5 off, enough to move the nucleus cut by a token in a
//     few percent of draws: those parameters stay on the CPU (cuda::device_supports).
//   - log(min_p) is computed on the host with the CPU's std::log(float).
//   - dist: float e_i, a double sum and a double running sum in set order, target = sum * u.
//     Over more than serial_max entries (top_k > serial_max without top_p, the id order) the
//     device sums by trees: a different token only when u falls within ~1e-15 of a boundary.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample::device_chain {

// Sets up to this many entries are summed and scanned serially (one thread), in the CPU's order.
inline constexpr std::size_t serial_max = 1024;

// The CPU's std::exp(float), computed so that a GPU gets the same float (see the top).
STRATA_HD inline float exp_rounded(float x) { return float(::exp(double(x))); }

// a * b rounded on its own: the device would otherwise fuse it with the add that follows.
STRATA_HD inline float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

// What penalties does to a logit whose token occurs count > 0 times in the window.
STRATA_HD inline float penalised(float logit, std::int32_t count, float repeat, float frequency, float presence) {
    logit = logit <= 0.0f ? mul_rn(logit, repeat) : logit / repeat;
    return logit - (mul_rn(float(count), frequency) + presence);
}

// The settings of the stages after top_k, as the kernels take them (host-computed values
// where the device's math library would round differently).
struct finish_args {
    float top_p = 1.0f;       // used when use_top_p
    float log_min_p = 0.0f;   // std::log(min_p) on the host; used when use_min_p
    float temperature = 1.0f; // <= 0: the best entry, after the cuts (to know whether dist drew)
    std::int32_t min_keep = 0;
    bool use_top_p = false;
    bool use_min_p = false;
    double u = 0.0;           // dist's uniform number in [0, 1)
};

// top_p on a best-first set: e[i] = exp(l[i] - l[0]) and their float sum; p = e / sum as the CPU
// stores it. Keeps up to the first i with cumsum >= top_p and i + 1 >= min_keep (or all m).
STRATA_HD inline std::size_t top_p_keep(const float* e, std::size_t m, float sum, float top_p,
                                        std::size_t min_keep) {
    float cum = 0.0f;
    for (std::size_t i = 0; i < m; ++i) {
        cum += e[i] / sum;
        if (cum >= top_p && i + 1 >= min_keep) return i + 1;
    }
    return m;
}

// min_p on a best-first set: the CPU keeps i until the first i >= min_keep (i >= 1) with
// l[i] < l[0] + log(min_p). l is best-first, so that test is monotone: a binary search.
STRATA_HD inline std::size_t min_p_keep(const float* l, std::size_t m, float log_min_p, std::size_t min_keep) {
    const float min_logit = l[0] + log_min_p;
    std::size_t lo = min_keep > 1 ? min_keep : 1, hi = m;
    if (lo >= m) return m;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (l[mid] < min_logit) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

// dist's walk: the first i whose double running sum of e reaches target with e[i] > 0;
// the last entry if rounding leaves the sum short (as the CPU).
STRATA_HD inline std::size_t dist_walk(const float* e, std::size_t m, double target) {
    double run = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
        run += double(e[i]);
        if (run >= target && e[i] > 0.0f) return i;
    }
    return m - 1;
}

STRATA_HD inline double serial_sum_double(const float* e, std::size_t m) {
    double s = 0.0;
    for (std::size_t i = 0; i < m; ++i) s += double(e[i]);
    return s;
}

STRATA_HD inline float serial_sum_float(const float* e, std::size_t m) {
    float s = 0.0f;
    for (std::size_t i = 0; i < m; ++i) s += e[i];
    return s;
}

// What the kernels of one sample read from device memory (copied there from pinned memory by
// the launch itself, so that a captured CUDA graph replays with the values of the moment):
// the finishing arguments, the sorted prefix, and the window's entries and penalties (its ids
// and counts follow this header in the same buffer).
struct launch_args {
    finish_args f;
    std::int32_t m = 0;       // the sorted layout's set after top_k
    std::int32_t window = 0;  // distinct window tokens to penalise; 0: none
    float repeat = 1.0f, frequency = 0.0f, presence = 0.0f;
};

// Where the kernels leave their result in device memory (the host copies it back whole):
// best and max from the arg-max (greedy and the id-order layout), id and drew from the final
// kernel, nan set by the copy of the logits when one is NaN (the CPU's error).
struct result_slots {
    std::int64_t best;
    float max;
    std::int32_t id;
    std::int32_t drew;
    std::int32_t nan;
};

// Which entry is drawn, and whether dist used a random number (a set of one entry draws none:
// the caller then leaves the RNG where it was, as the CPU does).
struct pick {
    std::size_t index = 0;
    bool drew = false;
};

// The sorted layout, serially (the device's result for sets of up to serial_max entries): l is
// the best-first prefix of m >= 1 penalised logits after top_k; e is m floats of scratch.
STRATA_HD inline pick finish_sorted(const float* l, std::size_t m, const finish_args& f, float* e) {
    const std::size_t min_keep = f.min_keep > 0 ? std::size_t(f.min_keep) : 0;
    if (f.use_top_p) {
        for (std::size_t i = 0; i < m; ++i) e[i] = exp_rounded(l[i] - l[0]);
        m = top_p_keep(e, m, serial_sum_float(e, m), f.top_p, min_keep);
    }
    if (f.use_min_p) m = min_p_keep(l, m, f.log_min_p, min_keep);
    if (m == 1) return {0, false};
    if (f.temperature <= 0.0f) return {0, true};  // the best survives alone; dist still draws
    const float max_t = l[0] / f.temperature;
    for (std::size_t i = 0; i < m; ++i) e[i] = exp_rounded(l[i] / f.temperature - max_t);
    return {dist_walk(e, m, serial_sum_double(e, m) * f.u), true};
}

// min_p's test in the id-order layout: kept when logit >= max + log(min_p).
STRATA_HD inline bool min_p_passes(float logit, float max_logit, const finish_args& f) {
    return !f.use_min_p || logit >= max_logit + f.log_min_p;
}

// The id-order layout, serially: l is all n penalised logits in id order, max_logit their
// maximum and best its lowest index. Requires min_keep <= 1 and min_p <= 1 when use_min_p
// (then the best always passes; see device_supports). e: n floats of scratch.
STRATA_HD inline pick finish_id_order(const float* l, std::size_t n, float max_logit, std::size_t best,
                                      const finish_args& f, float* e) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) kept += min_p_passes(l[i], max_logit, f);
    if (kept == 1) return {best, false};
    if (f.temperature <= 0.0f) return {best, true};
    const float max_t = max_logit / f.temperature;
    for (std::size_t i = 0; i < n; ++i)
        e[i] = min_p_passes(l[i], max_logit, f) ? exp_rounded(l[i] / f.temperature - max_t) : 0.0f;
    pick r{dist_walk(e, n, serial_sum_double(e, n) * f.u), true};
    while (r.index > 0 && !(e[r.index] > 0.0f)) --r.index;  // the fallback: the last kept entry
    return r;
}

}  // namespace sample::device_chain
STRATA_NAMESPACE_END
