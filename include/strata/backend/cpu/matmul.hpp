// strata/backend/cpu/matmul.hpp — y = W x on the CPU, for every weight format in a format list.
//
//   W: rows x k, in its file format (weight_view: type, data, rows, k, bytes between rows)
//   x: n_tokens x k floats, row-major (one activation row per token)
//   y: n_tokens x rows floats, row-major: y[t * rows + r] = dot(W row r, x row t)
//
// The activations are first converted, once per call, to the type W's kernels multiply with
// (its dot_format: Q8_0, Q8_1 or Q8_K, as llama.cpp does; F32 and F16 weights read the floats
// as they are) into caller-provided scratch — scratch_bytes() says how much, and the planner
// budgets memory with the same function. Then the rows of W are split across the backend's
// threads and each thread runs the kernels of the backend's ISA level on its rows.
//
//   cpu::backend be;                                         // pool + kernel level, once
//   std::span<std::byte> s = arena.take(cpu::scratch_bytes(w.type, w.k, n), cpu::scratch_alignment);
//   cpu::matmul<formats<q4_k, q6_k, q8_0, f32>>(be, w, x, n, y, s);
//
// Decode (n_tokens == 1) is a gemv and bound by the bandwidth of reading W; prefill is a gemm
// and compute bound: there each weight row is multiplied with up to four activation rows per
// kernel call (kernels_scalar.hpp), over tiles sized for the caches (see run_rows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/kernels_avx2.hpp"
#include "strata/backend/cpu/kernels_avx512.hpp"
#include "strata/backend/cpu/kernels_scalar.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/quant/formats.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

struct weight_view {
    ggml_type type = ggml_type::f32;
    const void* data = nullptr;
    std::int64_t rows = 0;      // output features
    std::int64_t k = 0;         // input features, a multiple of the type's block size
    std::size_t row_bytes = 0;  // from one row to the next, at least strata::row_bytes(type, k)
};

// The type a weight type's activations are converted to (ggml's vec_dot_type), f32 where the
// kernels read the f32 activations directly; nothing for a type Strata has no policy for.
constexpr std::optional<ggml_type> activation_type(ggml_type w) noexcept {
    switch (w) {
        case ggml_type::f32:
        case ggml_type::f16: return ggml_type::f32;
        case ggml_type::bf16: return ggml_type::bf16;
        case ggml_type::q4_0:
        case ggml_type::q5_0:
        case ggml_type::q8_0:
        case ggml_type::iq4_nl:
        case ggml_type::mxfp4: return ggml_type::q8_0;
        case ggml_type::q4_1:
        case ggml_type::q5_1:
        case ggml_type::q8_1: return ggml_type::q8_1;
        case ggml_type::q2_k:
        case ggml_type::q3_k:
        case ggml_type::q4_k:
        case ggml_type::q5_k:
        case ggml_type::q6_k:
        case ggml_type::q8_k:
        case ggml_type::iq4_xs: return ggml_type::q8_k;
        default: return std::nullopt;
    }
}

// Scratch must start on this boundary; each converted activation row starts on it too, so that
// rows never share a cache line between the threads that write them.
inline constexpr std::size_t scratch_alignment = 64;

// The aligned part of a buffer allocated scratch_alignment bytes larger than it must be (a
// std::vector<std::byte> gives no such alignment by itself).
inline std::span<std::byte> aligned_scratch(std::span<std::byte> buf) noexcept {
    const auto misalign = reinterpret_cast<std::uintptr_t>(buf.data()) % scratch_alignment;
    return buf.subspan(misalign ? scratch_alignment - misalign : 0);
}

namespace detail {
[[noreturn]] inline void no_activation_type(ggml_type w) {
    const auto ti = find_type_info(static_cast<std::uint32_t>(w));
    STRATA_THROW(errc::unsupported, "cpu matmul: no kernels for weight type " +
                                        (ti ? std::string(ti->name) : "id " + std::to_string(static_cast<std::uint32_t>(w))));
}
}  // namespace detail

// Bytes from one converted activation row to the next in the scratch (0 when none is needed).
inline std::size_t activation_row_bytes(ggml_type w, std::int64_t k) {
    const auto a = activation_type(w);
    if (!a) detail::no_activation_type(w);
    if (*a == ggml_type::f32) return 0;
    if (*a == ggml_type::q8_0) return detail::q8_0_act_row_bytes(k / 32);  // blocks + two tables
    return detail::round_up(row_bytes(*a, static_cast<std::uint64_t>(k)), scratch_alignment);
}

// The exact scratch a matmul of weight type w with n_tokens activation rows of k uses. It does
// not depend on the ISA level or the thread count.
inline std::size_t scratch_bytes(ggml_type w, std::int64_t k, std::int64_t n_tokens) {
    return activation_row_bytes(w, k) * static_cast<std::size_t>(n_tokens > 0 ? n_tokens : 0);
}

namespace detail {

// The kernels of one format at one level (levels above what is compiled fall back).
template <class F>
kernel_set kernels_for(isa level) noexcept {
#if STRATA_CPU_X86_KERNELS
    if (level == isa::avx512) {
        static constexpr kernel_set ks = avx512_kernels<F>();
        return ks;
    }
    if (level == isa::avx2) {
        static constexpr kernel_set ks = avx2_kernels<F>();
        return ks;
    }
#endif
    (void)level;
    static constexpr kernel_set ks = scalar_kernels<F>();
    return ks;
}

// Tiles of the gemm loop over one thread's rows: 64 tokens x 16 rows. A row tile of Q4_K with
// k = 2048 is 18 KB and stays in L1 while the 64 activation rows (150 KB of Q8_K) stream from
// L2; every weight row tile is read n_tokens / 64 times in all.
inline constexpr std::int64_t row_tile = 16;
inline constexpr std::int64_t token_tile = 64;

// Decode streams the weights once: prefetching the bytes one row-length at a time this far ahead
// doubled the single-thread gemv bandwidth from memory (Q8_0 262144 x 640: 6.2 -> 12 GB/s, on a
// VM reading 11-13 GB/s; 1-16 KB all helped, 6-8 KB most). Prefetches never fault, so running
// past the end of the matrix is harmless.
inline constexpr std::size_t prefetch_distance = 6 * 1024;

inline void prefetch(const std::byte* p, std::size_t bytes) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    for (std::size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
#else
    (void)p, (void)bytes;
#endif
}

struct gemm_args {
    const std::byte* w;
    std::size_t w_stride;
    const std::byte* act;
    std::size_t act_stride;
    std::int64_t nb;  // blocks per row
    std::int64_t n_tokens;
    float* y;
    std::int64_t rows;  // y's row stride
};

inline void run_rows(const kernel_set& ks, const gemm_args& g, std::int64_t r0, std::int64_t r1) {
    const auto ys = static_cast<std::size_t>(g.rows);
    if (g.n_tokens == 1) {
        for (std::int64_t r = r0; r < r1; ++r) {
            const std::byte* row = g.w + static_cast<std::size_t>(r) * g.w_stride;
            prefetch(row + prefetch_distance, g.w_stride);
            ks.dot[0](row, g.act, 0, g.nb, g.y + r, 0);
        }
        return;
    }
    for (std::int64_t t0 = 0; t0 < g.n_tokens; t0 += token_tile) {
        const std::int64_t t1 = t0 + token_tile < g.n_tokens ? t0 + token_tile : g.n_tokens;
        for (std::int64_t rc = r0; rc < r1; rc += row_tile) {
            const std::int64_t re = rc + row_tile < r1 ? rc + row_tile : r1;
            for (std::int64_t t = t0; t < t1; t += max_cols) {
                const auto cols = static_cast<int>(t1 - t < max_cols ? t1 - t : max_cols);
                const std::byte* a = g.act + static_cast<std::size_t>(t) * g.act_stride;
                for (std::int64_t r = rc; r < re; ++r)
                    ks.dot[cols - 1](g.w + static_cast<std::size_t>(r) * g.w_stride, a, g.act_stride, g.nb,
                                     g.y + static_cast<std::size_t>(t) * ys + r, ys);
            }
        }
    }
}

// Thread i's rows [split(i), split(i + 1)): even shares, cut at multiples of 16 rows so that
// no two threads write one cache line of y.
constexpr std::int64_t split(std::int64_t rows, int i, int n) noexcept {
    if (i >= n) return rows;
    const std::int64_t at = rows * i / n;
    return at / 16 * 16;
}

// Below ~32 KB of weights a second thread costs more to wake than it saves.
inline int threads_for(const backend& be, std::int64_t rows, std::size_t weight_bytes, std::int64_t n_tokens) {
    constexpr std::size_t min_bytes_per_thread = 32 * 1024;
    const std::size_t work = weight_bytes * static_cast<std::size_t>(n_tokens);
    std::int64_t n = static_cast<std::int64_t>(work / min_bytes_per_thread);
    if (n > (rows + 15) / 16) n = (rows + 15) / 16;
    if (n > be.n_threads()) n = be.n_threads();
    return n < 1 ? 1 : static_cast<int>(n);
}

inline void check_args(const weight_view& w, const float* x, std::int64_t n_tokens, const float* y, std::span<std::byte> scratch) {
    const auto fail = [](const std::string& m) { STRATA_THROW(errc::argument, "cpu matmul: " + m); };
    if (w.data == nullptr || x == nullptr || y == nullptr) fail("null weight, activation or output pointer");
    if (w.rows < 1 || w.k < 1 || n_tokens < 1) fail("empty shape");
    const std::uint32_t be = info(w.type).block_elems;
    if (be == 0 || w.k % be != 0) fail("k = " + std::to_string(w.k) + " is not a multiple of the block size of " + std::string(type_name(w.type)));
    if (w.row_bytes < row_bytes(w.type, static_cast<std::uint64_t>(w.k))) fail("row_bytes is smaller than one row");
    const std::size_t need = scratch_bytes(w.type, w.k, n_tokens);
    if (scratch.size() < need) fail("scratch holds " + std::to_string(scratch.size()) + " bytes, needs " + std::to_string(need));
    if (need > 0 && reinterpret_cast<std::uintptr_t>(scratch.data()) % scratch_alignment != 0) fail("scratch is not 64-byte aligned");
}

}  // namespace detail

// y = W x for n_tokens activation rows (shapes at the top of this file). Throws
// errc::unsupported for a weight type not in Formats, errc::argument for bad shapes or too
// little / misaligned scratch. Calls the backend's pool; not to be called from inside it.
template <class Formats>
void matmul(const backend& be, const weight_view& w, const float* x, std::int64_t n_tokens, float* y,
            std::span<std::byte> scratch) {
    detail::check_args(w, x, n_tokens, y, scratch);
    const detail::kernel_set ks = Formats::dispatch(w.type, "cpu matmul weight", [&](auto f) {
        using F = decltype(f);
        constexpr ggml_type expect = std::is_same_v<F, f16> || std::is_same_v<F, f32> ? ggml_type::f32 : F::dot_format::type;
        static_assert(activation_type(F::type) == expect, "activation_type() disagrees with the format's dot_format");
        return detail::kernels_for<F>(be.level());
    });
    const std::size_t a_stride = activation_row_bytes(w.type, w.k);
    const int n_threads = detail::threads_for(be, w.rows, w.row_bytes * static_cast<std::size_t>(w.rows), n_tokens);

    const auto* act = reinterpret_cast<const std::byte*>(x);
    std::size_t act_stride = static_cast<std::size_t>(w.k) * sizeof(float);
    if (ks.quantize != nullptr) {
        const auto quantize = [&](std::int64_t t0, std::int64_t t1) {
            for (std::int64_t t = t0; t < t1; ++t)
                ks.quantize(x + t * w.k, scratch.data() + static_cast<std::size_t>(t) * a_stride, w.k);
        };
        if (n_tokens == 1 || n_threads == 1) {
            quantize(0, n_tokens);  // one row: cheaper than waking the pool for it
        } else {
            be.pool().run(n_threads, [&](int i, int n) { quantize(n_tokens * i / n, n_tokens * (i + 1) / n); });
        }
        act = scratch.data();
        act_stride = a_stride;
    }

    const detail::gemm_args g{static_cast<const std::byte*>(w.data), w.row_bytes, act, act_stride,
                              w.k / static_cast<std::int64_t>(info(w.type).block_elems), n_tokens, y, w.rows};
    be.pool().run(n_threads, [&](int i, int n) {
        detail::run_rows(ks, g, detail::split(w.rows, i, n), detail::split(w.rows, i + 1, n));
    });
}

// Decode: one activation row, y has w.rows values.
template <class Formats>
void gemv(const backend& be, const weight_view& w, const float* x, float* y, std::span<std::byte> scratch) {
    matmul<Formats>(be, w, x, 1, y, scratch);
}

}  // namespace cpu
STRATA_NAMESPACE_END
