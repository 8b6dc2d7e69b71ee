// strata/backend/cuda/matmul.hpp — y = W x on the GPU for a batch of n tokens, every weight
// format: the contract of cpu::matmul (backend/cpu/matmul.hpp), with device pointers.
//
//   W: rows x k in its file format, row r at w + r * row_bytes
//   x: n x k floats, row-major (one activation row per token)
//   y: n x rows floats, row-major: y[t * rows + r] = dot(W row r, x row t)
//
// Three ways to compute it (choose_matmul_path):
//   matvec          n == 1: x quantized to the format's dot_format (kernels/quantize_act.cuh),
//                   then kernels/matvec.cuh, one warp per output row.
//   matvec_batched  2 <= n <= matvec_batch_max: the same, every weight block read once for all
//                   n tokens (kernels/mul_mat.cuh).
//   gemm_f16        n > matvec_batch_max: W dequantized to F16 on the device, gemm_chunk_target
//                   bytes of rows at a time, and multiplied by x rounded to F16 with cuBLAS
//                   (F16 x F16 on tensor cores, FP32 accumulation, F32 out). F16 weights are
//                   multiplied as they are, with no copy.
//   gemm_f32        n > matvec_batch_max, F32 weights: an FP32 GEMM (CUBLAS_COMPUTE_32F, no
//                   TF32) on W and x as they are. F32 matrices are rare and small in model files
//                   (what a converter kept unquantized on purpose), so they keep their precision
//                   rather than being rounded to 11 bits.
//
// Why 8 tokens: a batched matvec reads W once and spends about n times one matvec's arithmetic
// on it, so it stays bandwidth bound while n is small; the GEMM path instead writes and re-reads
// W as F16 (16 bits per weight, against 4.5 for Q4_K: over 7 times the traffic of one read),
// which only the tensor cores' throughput repays once a batch is wider than a few tokens.
// llama.cpp moves from its batched matvec to its matrix kernels at the same 8.
//
// Scratch (no allocation per call): the quantized activations on the matvec paths; x as F16 and
// one chunk of W as F16 on the GEMM path. matmul_plan is the one computation of those sizes:
// matmul checks the caller's scratch against it and matmul_scratch_bytes budgets a model with it.
//
// The plan, the choices and the argument checks are CUDA-free (tested on the CPU); matmul and
// matmul_context exist only under nvcc (they launch kernels of kernels/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include "strata/core/arena.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/quant/formats.hpp"

#if defined(__CUDACC__)
#include "strata/backend/cuda/blas.hpp"  // first: it turns on check.hpp's cuBLAS part
#endif

STRATA_NAMESPACE_BEGIN
namespace cuda {

enum class matmul_path { matvec, matvec_batched, gemm_f16, gemm_f32 };

constexpr std::string_view path_name(matmul_path p) noexcept {
    switch (p) {
        case matmul_path::matvec: return "matvec";
        case matmul_path::matvec_batched: return "matvec_batched";
        case matmul_path::gemm_f16: return "gemm_f16";
        case matmul_path::gemm_f32: return "gemm_f32";
    }
    return "unknown";
}

// The widest batch the batched matvec takes (the top of this file says why 8).
inline constexpr std::int64_t matvec_batch_max = 8;

// Rows and k do not move the choice today: the thresholds above hold for every transformer shape
// we plan for (k 896..28672); they are parameters so that a shape rule measured later (a tiny
// matrix, a very wide k) changes no caller.
constexpr matmul_path choose_matmul_path(ggml_type type, std::int64_t n_tokens, [[maybe_unused]] std::int64_t rows,
                                         [[maybe_unused]] std::int64_t k) noexcept {
    if (n_tokens <= 1) return matmul_path::matvec;
    if (n_tokens <= matvec_batch_max) return matmul_path::matvec_batched;
    return type == ggml_type::f32 ? matmul_path::gemm_f32 : matmul_path::gemm_f16;
}

// The GEMM path dequantizes this many bytes of F16 rows at a time: 32 MiB is 8192 rows of k =
// 2048 (a 128256-row output head in 16 chunks, against 525 MB at once) or 2048 rows of k = 8192,
// each chunk still a GEMM of billions of FLOPs at prefill widths. Chunks are whole multiples of
// gemm_chunk_multiple rows (cuBLAS's tile heights), and never fewer than that many rows, so a k
// beyond 128K would take more than the target.
inline constexpr std::size_t gemm_chunk_target = std::size_t{32} << 20;
inline constexpr std::int64_t gemm_chunk_multiple = 128;

// Scratch pieces start on the arena's 256 B boundary (their sizes are padded to it).
inline constexpr std::size_t matmul_scratch_alignment = arena::alignment;

// (chunk_target: gemm_chunk_target everywhere but in the tests, which cut small matrices.)
constexpr std::int64_t gemm_chunk_rows(std::int64_t rows, std::int64_t k,
                                       std::size_t chunk_target = gemm_chunk_target) noexcept {
    const std::int64_t per_row = 2 * (k > 0 ? k : 1);
    std::int64_t c = static_cast<std::int64_t>(chunk_target) / per_row / gemm_chunk_multiple * gemm_chunk_multiple;
    if (c < gemm_chunk_multiple) c = gemm_chunk_multiple;
    return c < rows ? c : rows;
}

struct row_range {
    std::int64_t begin = 0, end = 0;
};

// Chunk i of rows cut into chunk_rows-row pieces, the last one shorter.
constexpr std::int64_t chunk_count(std::int64_t rows, std::int64_t chunk_rows) noexcept {
    return chunk_rows > 0 ? (rows + chunk_rows - 1) / chunk_rows : 0;
}
constexpr row_range chunk_at(std::int64_t rows, std::int64_t chunk_rows, std::int64_t i) noexcept {
    const std::int64_t b = i * chunk_rows, e = b + chunk_rows;
    return {b, e < rows ? e : rows};
}

// What one matmul needs, and where it lies in the scratch.
struct matmul_plan {
    matmul_path path = matmul_path::matvec;
    ggml_type act_type = ggml_type::f32;  // matvec paths: the activations' format (f32: the floats, no copy)
    std::size_t act_bytes = 0;            // matvec paths: n rows of act_type, dense, at offset 0
    std::size_t x_bytes = 0;              // gemm_f16: x as F16, at offset 0
    std::int64_t chunk_rows = 0;          // gemm_f16: rows of W per GEMM (0: W multiplied as it is)
    std::size_t chunk_bytes = 0;          // gemm_f16: chunk_rows x k halves, at offset x_bytes

    std::size_t scratch_bytes() const noexcept { return act_bytes + x_bytes + chunk_bytes; }
};

namespace detail {

struct format_facts {
    std::uint32_t block_elems = 0, block_bytes = 0;
    std::size_t block_align = 1;
    ggml_type act = ggml_type::f32;  // what the matvec kernels read: dot_format, or the floats
};

// From the format policy itself (the one run-time -> compile-time switch): errc::unsupported
// naming a type Strata has no format for.
inline format_facts facts_of(ggml_type t) {
    return all_formats::dispatch(t, "cuda matmul weight", [](auto f) {
        using F = decltype(f);
        return format_facts{F::block_elems, F::block_bytes, alignof(typename F::block),
                            F::block_elems == 1 ? ggml_type::f32 : F::dot_format::type};
    });
}

}  // namespace detail

// The plan of a matmul of n_tokens with W of `type`, rows x k (shapes assumed valid: see
// check_matmul). Throws errc::unsupported for a type without a format.
inline matmul_plan plan_matmul(ggml_type type, std::int64_t rows, std::int64_t k, std::int64_t n_tokens,
                               std::size_t chunk_target = gemm_chunk_target) {
    const detail::format_facts ff = detail::facts_of(type);
    const auto n = static_cast<std::uint64_t>(n_tokens > 0 ? n_tokens : 0);
    const auto kk = static_cast<std::uint64_t>(k > 0 ? k : 0);
    matmul_plan p;
    p.path = choose_matmul_path(type, n_tokens, rows, k);
    p.act_type = ff.act;
    switch (p.path) {
        case matmul_path::matvec:
        case matmul_path::matvec_batched:
            if (ff.act != ggml_type::f32) p.act_bytes = arena::padded(n * row_bytes(ff.act, kk));
            break;
        case matmul_path::gemm_f16:
            p.x_bytes = arena::padded(n * kk * 2);
            if (type != ggml_type::f16) {
                p.chunk_rows = gemm_chunk_rows(rows, k, chunk_target);
                p.chunk_bytes = arena::padded(static_cast<std::uint64_t>(p.chunk_rows) * kk * 2);
            }
            break;
        case matmul_path::gemm_f32: break;
    }
    return p;
}

// One cublasGemmEx(CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, A, lda, B, ldb, C, ldc) of the GEMM
// paths (the column-major reading is explained at detail::gemm_wt_x): A holds W's rows
// [row0, row0 + m) — W itself (F16 or F32, lda = row_bytes / element size) or their chunk
// dequantized to dense halves (lda = k); B is x (ldb = k); C is y + row0 (ldc = rows). Here, not
// in the CUDA part, so that the CPU tests replay the calls against a reference GEMM.
struct gemm_call {
    std::int64_t row0 = 0;
    int m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
};

constexpr std::int64_t gemm_call_count(const matmul_plan& p, std::int64_t rows) noexcept {
    return p.chunk_rows > 0 ? chunk_count(rows, p.chunk_rows) : 1;
}

// Call i of gemm_call_count (dimensions already checked to fit int: check_matmul).
constexpr gemm_call gemm_call_at(const matmul_plan& p, std::int64_t rows, std::int64_t k, std::size_t row_bytes_,
                                 std::int64_t n, std::int64_t i) noexcept {
    gemm_call c;
    c.n = static_cast<int>(n);
    c.k = c.ldb = static_cast<int>(k);
    c.ldc = static_cast<int>(rows);
    if (p.chunk_rows > 0) {
        const row_range r = chunk_at(rows, p.chunk_rows, i);
        c.row0 = r.begin;
        c.m = static_cast<int>(r.end - r.begin);
        c.lda = static_cast<int>(k);
    } else {
        c.m = static_cast<int>(rows);
        c.lda = static_cast<int>(row_bytes_ / (p.path == matmul_path::gemm_f32 ? 4 : 2));
    }
    return c;
}

struct matmul_shape {
    ggml_type type = ggml_type::f32;
    std::int64_t rows = 0, k = 0;
};

// The scratch for the biggest matmul of a model with these weights, for any batch of 1 ..
// n_batch tokens. Within a path the need grows with n, so the widest batch of each path that
// n_batch reaches is the one to price: 1, min(n_batch, matvec_batch_max), n_batch.
inline std::size_t matmul_scratch_bytes(std::span<const matmul_shape> weights, std::int64_t n_batch) {
    std::size_t most = 0;
    const std::int64_t small = n_batch < matvec_batch_max ? n_batch : matvec_batch_max;
    for (const matmul_shape& s : weights)
        for (const std::int64_t n : {std::int64_t{1}, small, n_batch}) {
            const std::size_t b = plan_matmul(s.type, s.rows, s.k, n).scratch_bytes();
            if (b > most) most = b;
        }
    return most;
}

// Checks one call's arguments and returns its plan; errc::argument (message starting "cuda
// matmul: ") for a null pointer, an empty or misaligned shape, dimensions cuBLAS cannot take, or
// too little or misaligned scratch. CUDA-free: the pointers are only compared, never read.
inline matmul_plan check_matmul(ggml_type type, const void* w, std::int64_t rows, std::int64_t k, std::size_t row_bytes_,
                                const void* x, std::int64_t n, const void* y, const void* scratch,
                                std::size_t scratch_bytes) {
    const auto fail = [](const std::string& m) { STRATA_THROW(errc::argument, "cuda matmul: " + m); };
    const detail::format_facts ff = detail::facts_of(type);
    const std::string tn(type_name(type));
    if (w == nullptr || x == nullptr || y == nullptr) fail("null weight, activation or output pointer");
    if (rows < 1 || k < 1 || n < 1) fail("empty shape");
    if (k % ff.block_elems != 0)
        fail("k = " + std::to_string(k) + " is not a multiple of the block size of " + tn);
    if (row_bytes_ < row_bytes(type, static_cast<std::uint64_t>(k))) fail("row_bytes is smaller than one row");
    if (row_bytes_ % ff.block_align != 0 || reinterpret_cast<std::uintptr_t>(w) % ff.block_align != 0)
        fail("the weight rows are not aligned to " + tn + "'s blocks");
    const matmul_plan p = plan_matmul(type, rows, k, n);
    if (p.path == matmul_path::gemm_f16 || p.path == matmul_path::gemm_f32) {
        constexpr std::int64_t lim = std::numeric_limits<int>::max();  // cuBLAS's dimensions are int
        if (rows > lim || k > lim || n > lim || row_bytes_ / ff.block_bytes > std::size_t(lim))
            fail("a dimension of " + std::to_string(rows) + " x " + std::to_string(k) + ", n = " + std::to_string(n) +
                 " exceeds cuBLAS's int");
    }
    const std::size_t need = p.scratch_bytes();
    const std::string what = tn + " " + std::to_string(rows) + " x " + std::to_string(k) + ", n = " + std::to_string(n) +
                             " (" + std::string(path_name(p.path)) + ")";
    if (need > 0 && scratch == nullptr) fail("no scratch for " + what + ", which needs " + std::to_string(need) + " bytes");
    if (scratch_bytes < need)
        fail("scratch holds " + std::to_string(scratch_bytes) + " bytes, " + what + " needs " + std::to_string(need) +
             " (size it with matmul_scratch_bytes)");
    if (need > 0 && reinterpret_cast<std::uintptr_t>(scratch) % matmul_scratch_alignment != 0)
        fail("scratch is not 256-byte aligned");
    return p;
}

}  // namespace cuda
STRATA_NAMESPACE_END

#if defined(__CUDACC__)
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/matvec.cuh"
#include "kernels/mul_mat.cuh"
#include "kernels/quantize_act.cuh"
#include "strata/backend/cuda/check.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

// Everything a matmul runs with: its stream, a cuBLAS handle (bound to that stream, or rebound
// here), and device scratch of at least matmul_scratch_bytes, 256-byte aligned.
struct matmul_context {
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    std::byte* scratch = nullptr;
    std::size_t scratch_bytes = 0;
};

namespace detail {

// cuBLAS is column-major. Row-major y (n x rows) is, read column-major, the rows x n matrix
// Y' with leading dimension ldc = rows (Y'(r, t) = y[r + t * rows]); row-major W (rows x k, lda
// elements apart) is the column-major k x rows matrix W', W = W'^T; row-major x (n x k) is the
// column-major k x n matrix X'. Y'(r, t) = sum_i W(r, i) x(t, i) = (W'^T X')(r, t): so
// transa = T on A = W' (lda), transb = N on B = X' (ldb = k), m = rows, n = tokens, k = k.
// A chunk of rows r0.. is A at its first row and C at y + r0 with the same ldc = rows.
//
// FP32 accumulation (CUBLAS_COMPUTE_32F) for both input types: tensor cores for halves, plain
// FP32 (no TF32) for floats; C is F32.
inline void gemm_wt_x(cublasHandle_t h, const gemm_call& g, const void* a, cudaDataType at, const void* b, cudaDataType bt,
                      float* c) {
    const float alpha = 1.0f, beta = 0.0f;
    STRATA_CUDA_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, g.m, g.n, g.k, &alpha, a, at, g.lda, b, bt, g.ldb, &beta,
                                   c, CUDA_R_32F, g.ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

inline void bind_stream(const matmul_context& ctx) {
    if (ctx.blas == nullptr) STRATA_THROW(errc::argument, "cuda matmul: the GEMM path needs a cuBLAS handle");
    cudaStream_t s = nullptr;
    STRATA_CUDA_CHECK(cublasGetStream(ctx.blas, &s));
    if (s != ctx.stream) STRATA_CUDA_CHECK(cublasSetStream(ctx.blas, ctx.stream));
}

template <class F>
void run_matvec(const matmul_context& ctx, const void* w, std::int64_t rows, std::int64_t k, std::size_t row_bytes_,
                const float* x, std::int64_t n, float* y) {
    const void* act = x;
    std::size_t act_stride = static_cast<std::size_t>(k) * sizeof(float);
    if constexpr (!kernels::detail::reads_f32_act<F>) {
        using A = typename F::dot_format;
        STRATA_CUDA_CHECK_LAUNCH(kernels::quantize_act<A>(x, ctx.scratch, k * n, ctx.stream), ctx.stream);
        act = ctx.scratch;
        act_stride = static_cast<std::size_t>(row_bytes(A::type, static_cast<std::uint64_t>(k)));
    }
    if (n == 1) {
        STRATA_CUDA_CHECK_LAUNCH(kernels::matvec<F>(w, rows, k, row_bytes_, act, y, ctx.stream), ctx.stream);
    } else {
        constexpr int max_n = static_cast<int>(matvec_batch_max);
        STRATA_CUDA_CHECK_LAUNCH((kernels::matvec_batched<F, max_n>(w, rows, k, row_bytes_, act, act_stride,
                                                                    static_cast<int>(n), y, ctx.stream)),
                                 ctx.stream);
    }
}

// F16 GEMM: x to half at scratch + 0; W as it is (F16) or dequantized a chunk at a time to
// scratch + x_bytes, each chunk's GEMM queued before the next chunk overwrites it (one stream).
template <class F>
void run_gemm_f16(const matmul_context& ctx, const matmul_plan& p, const void* w, std::int64_t rows, std::int64_t k,
                  std::size_t row_bytes_, const float* x, std::int64_t n, float* y) {
    bind_stream(ctx);
    void* xh = ctx.scratch;
    STRATA_CUDA_CHECK_LAUNCH(kernels::f32_to_f16(x, xh, n * k, ctx.stream), ctx.stream);
    const auto* wb = static_cast<const std::byte*>(w);
    for (std::int64_t i = 0, nc = gemm_call_count(p, rows); i < nc; ++i) {
        const gemm_call c = gemm_call_at(p, rows, k, row_bytes_, n, i);
        const void* a = wb + static_cast<std::size_t>(c.row0) * row_bytes_;  // F16: W as it is
        if constexpr (F::type != ggml_type::f16) {
            a = ctx.scratch + p.x_bytes;
            STRATA_CUDA_CHECK_LAUNCH(kernels::dequantize_rows_f16<F>(wb + static_cast<std::size_t>(c.row0) * row_bytes_,
                                                                     row_bytes_, c.m, k, ctx.scratch + p.x_bytes,
                                                                     ctx.stream),
                                     ctx.stream);
        }
        gemm_wt_x(ctx.blas, c, a, CUDA_R_16F, xh, CUDA_R_16F, y + c.row0);
    }
}

// FP32 GEMM on W and x as they are (no scratch): one call.
inline void run_gemm_f32(const matmul_context& ctx, const matmul_plan& p, const void* w, std::int64_t rows,
                         std::int64_t k, std::size_t row_bytes_, const float* x, std::int64_t n, float* y) {
    bind_stream(ctx);
    gemm_wt_x(ctx.blas, gemm_call_at(p, rows, k, row_bytes_, n, 0), w, CUDA_R_32F, x, CUDA_R_32F, y);
}

}  // namespace detail

// y = W x for n tokens (shapes at the top of this file), asynchronous on ctx.stream. Throws
// strata::error: errc::unsupported for a type not in Formats (naming it), errc::argument for bad
// shapes or too little scratch (check_matmul), and a failed launch or cuBLAS call as check.hpp
// categorises it.
template <class Formats>
void matmul(const matmul_context& ctx, ggml_type type, const void* w, std::int64_t rows, std::int64_t k,
            std::size_t row_bytes_, const float* x, std::int64_t n, float* y) {
    Formats::dispatch(type, "cuda matmul weight", [&](auto f) {
        using F = decltype(f);
        const matmul_plan p = check_matmul(type, w, rows, k, row_bytes_, x, n, y, ctx.scratch, ctx.scratch_bytes);
        switch (p.path) {
            case matmul_path::matvec:
            case matmul_path::matvec_batched: detail::run_matvec<F>(ctx, w, rows, k, row_bytes_, x, n, y); return;
            case matmul_path::gemm_f16:
                if constexpr (F::type != ggml_type::f32) {
                    detail::run_gemm_f16<F>(ctx, p, w, rows, k, row_bytes_, x, n, y);
                    return;
                }
                break;
            case matmul_path::gemm_f32:
                if constexpr (F::type == ggml_type::f32) {
                    detail::run_gemm_f32(ctx, p, w, rows, k, row_bytes_, x, n, y);
                    return;
                }
                break;
        }
        STRATA_THROW(errc::internal, "cuda matmul: no " + std::string(path_name(p.path)) + " for " + std::string(F::name));
    });
}

}  // namespace cuda
STRATA_NAMESPACE_END
#endif  // __CUDACC__
