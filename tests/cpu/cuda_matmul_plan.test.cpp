// The CUDA-free half of backend/cuda/matmul.hpp, on the CPU: the path thresholds, the scratch a
// model needs, the GEMM path's row chunks, the argument checks; and a host emulation of the GEMM
// path's numerics (W dequantized and rounded to half, x rounded to half, dots in double) against
// cpu::matmul, which measures the error budgets the [cuda] matmul test holds the GPU to
// (tests/cuda/matmul_all.hpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "cuda/matmul_all.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cuda/matmul.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

using namespace strata;
using cuda::matmul_path;

TEST_CASE("cuda matmul path: matvec at 1 token, batched matvec to 8, then GEMM", "[cuda-plan]") {
    for (const ggml_type t : {ggml_type::q4_k, ggml_type::q8_0, ggml_type::f16, ggml_type::bf16}) {
        CHECK(cuda::choose_matmul_path(t, 1, 4096, 4096) == matmul_path::matvec);
        CHECK(cuda::choose_matmul_path(t, 2, 4096, 4096) == matmul_path::matvec_batched);
        CHECK(cuda::choose_matmul_path(t, 8, 4096, 4096) == matmul_path::matvec_batched);
        CHECK(cuda::choose_matmul_path(t, 9, 4096, 4096) == matmul_path::gemm_f16);
        CHECK(cuda::choose_matmul_path(t, 512, 128256, 2048) == matmul_path::gemm_f16);
    }
    CHECK(cuda::choose_matmul_path(ggml_type::f32, 1, 64, 64) == matmul_path::matvec);
    CHECK(cuda::choose_matmul_path(ggml_type::f32, 8, 64, 64) == matmul_path::matvec_batched);
    CHECK(cuda::choose_matmul_path(ggml_type::f32, 9, 64, 64) == matmul_path::gemm_f32);
    CHECK(cuda::matvec_batch_max == 8);
}

TEST_CASE("cuda matmul plan: scratch sizes of each path", "[cuda-plan]") {
    SECTION("matvec: the quantized activation rows, dense, padded to 256 B") {
        const auto p = cuda::plan_matmul(ggml_type::q4_k, 257, 1024, 3);
        CHECK(p.path == matmul_path::matvec_batched);
        CHECK(p.act_type == ggml_type::q8_k);
        CHECK(p.act_bytes == arena::padded(3 * 4 * 292));  // 4 Q8_K blocks of 292 B per row
        CHECK(p.scratch_bytes() == p.act_bytes);
        const auto q = cuda::plan_matmul(ggml_type::mxfp4, 10, 64, 1);
        CHECK(q.act_type == ggml_type::q8_0);
        CHECK(q.act_bytes == 256);  // 2 blocks of 34 B, padded
    }
    SECTION("matvec of float weights reads the floats: no scratch") {
        for (const ggml_type t : {ggml_type::f32, ggml_type::f16, ggml_type::bf16})
            CHECK(cuda::plan_matmul(t, 100, 64, 4).scratch_bytes() == 0);
    }
    SECTION("gemm_f16: x as half, then one chunk of W as half") {
        const auto p = cuda::plan_matmul(ggml_type::q4_k, 4096, 4096, 512);
        CHECK(p.path == matmul_path::gemm_f16);
        CHECK(p.x_bytes == 512u * 4096 * 2);
        CHECK(p.chunk_rows == 4096);  // 32 MiB / 8 KiB per row
        CHECK(p.chunk_bytes == std::size_t{32} << 20);
        const auto f = cuda::plan_matmul(ggml_type::f16, 4096, 4096, 512);  // multiplied as it is
        CHECK(f.chunk_rows == 0);
        CHECK(f.scratch_bytes() == 512u * 4096 * 2);
        const auto s = cuda::plan_matmul(ggml_type::q8_0, 257, 1024, 9);  // fewer rows than a chunk
        CHECK(s.chunk_rows == 257);
        CHECK(s.chunk_bytes == arena::padded(257u * 1024 * 2));
        CHECK(s.x_bytes == arena::padded(9u * 1024 * 2));
    }
    SECTION("gemm_f32: W and x as they are") {
        CHECK(cuda::plan_matmul(ggml_type::f32, 4096, 4096, 512).scratch_bytes() == 0);
    }
}

// Llama 3.2 1B: hidden 2048, 32 query and 8 KV heads of 64, FFN 8192, a 128256-token tied
// output head; Q4_K with Q6_K for ffn_down and the head, as Ollama ships it. At 512 tokens the
// largest need is ffn_down (k = 8192): x as half 512 x 8192 x 2 = 8 MiB, plus a chunk of 2048
// rows (32 MiB / 16 KiB; all its rows) x 8192 x 2 = 32 MiB: 40 MiB. The head (k = 2048) needs
// 2 MiB + 8192 rows x 4 KiB = 34 MiB: chunked, instead of 525 MB in one piece.
TEST_CASE("cuda matmul scratch of a llama-3.2-1B-like model", "[cuda-plan]") {
    const std::vector<cuda::matmul_shape> w = {
        {ggml_type::q4_k, 2048, 2048},   {ggml_type::q4_k, 512, 2048},  {ggml_type::q4_k, 512, 2048},
        {ggml_type::q4_k, 2048, 2048},   {ggml_type::q4_k, 8192, 2048}, {ggml_type::q4_k, 8192, 2048},
        {ggml_type::q6_k, 2048, 8192},   {ggml_type::q6_k, 128256, 2048},
    };
    CHECK(cuda::matmul_scratch_bytes(w, 512) == std::size_t{40} << 20);
    const std::vector<cuda::matmul_shape> head = {{ggml_type::q6_k, 128256, 2048}};
    CHECK(cuda::matmul_scratch_bytes(head, 512) == (std::size_t{34} << 20));
    // Decode only: 8 rows of Q8_K of the widest k (8192: 32 blocks of 292 B) at most.
    CHECK(cuda::matmul_scratch_bytes(w, 1) == arena::padded(32 * 292));
    CHECK(cuda::matmul_scratch_bytes(w, 8) == arena::padded(8 * 32 * 292));
    // A batch of 9..: the GEMM path's need, never below the batched matvec's.
    CHECK(cuda::matmul_scratch_bytes(w, 9) >= cuda::matmul_scratch_bytes(w, 8));
}

TEST_CASE("cuda matmul GEMM chunks cover every row once and fit their scratch", "[cuda-plan]") {
    const std::int64_t ks[] = {32, 256, 896, 2048, 4096, 8192, 14336, 28672, 1 << 20};
    const std::int64_t rows_list[] = {1, 127, 128, 257, 4096, 4097, 32000, 128256};
    for (const std::int64_t k : ks)
        for (const std::int64_t rows : rows_list) {
            INFO("k " << k << ", rows " << rows);
            const auto p = cuda::plan_matmul(ggml_type::q4_0, rows, k, 64);
            REQUIRE(p.chunk_rows >= 1);
            CHECK(p.chunk_rows <= rows);
            if (p.chunk_rows < rows) CHECK(p.chunk_rows % cuda::gemm_chunk_multiple == 0);
            // within the target, except where one minimum chunk of a huge k is larger
            if (p.chunk_rows > cuda::gemm_chunk_multiple)
                CHECK(std::size_t(p.chunk_rows) * std::size_t(k) * 2 <= cuda::gemm_chunk_target);
            std::int64_t next = 0;
            const std::int64_t n = cuda::chunk_count(rows, p.chunk_rows);
            for (std::int64_t i = 0; i < n; ++i) {
                const cuda::row_range c = cuda::chunk_at(rows, p.chunk_rows, i);
                REQUIRE(c.begin == next);  // contiguous: no row twice, none skipped
                REQUIRE(c.end > c.begin);
                CHECK(std::size_t(c.end - c.begin) * std::size_t(k) * 2 <= p.chunk_bytes);
                next = c.end;
            }
            CHECK(next == rows);
        }
}

TEST_CASE("cuda matmul argument checks are clear errors", "[cuda-plan]") {
    alignas(256) static std::byte buf[4096];
    const void* w = buf;
    const float* x = reinterpret_cast<const float*>(buf);
    const float* y = x;
    const auto message = [&](auto&& fn) -> std::string {
        try {
            fn();
        } catch (const error& e) {
            CHECK(e.category() == errc::argument);
            return e.message();
        }
        return "no error";
    };
    using Catch::Matchers::Contains;
    const std::size_t rb = 4 * 144;  // q4_k, k = 1024
    // Too little scratch names the shape, the path, both sizes and the function to size it with.
    const std::string small = message([&] { cuda::check_matmul(ggml_type::q4_k, w, 257, 1024, rb, x, 64, y, buf, 1024); });
    CHECK_THAT(small, Contains("scratch holds 1024 bytes") && Contains("q4_K 257 x 1024, n = 64 (gemm_f16)") &&
                          Contains("matmul_scratch_bytes"));
    CHECK_THAT(message([&] { cuda::check_matmul(ggml_type::q4_k, w, 257, 1024, rb, x, 3, y, nullptr, 0); }),
               Contains("no scratch"));
    CHECK_THAT(message([&] { cuda::check_matmul(ggml_type::q4_k, w, 257, 1000, rb, x, 1, y, buf, 1024); }),
               Contains("not a multiple of the block size of q4_K"));
    CHECK_THAT(message([&] { cuda::check_matmul(ggml_type::q4_k, w, 257, 1024, rb - 1, x, 1, y, buf, 1024); }),
               Contains("row_bytes is smaller"));
    CHECK_THAT(message([&] { cuda::check_matmul(ggml_type::q4_k, nullptr, 257, 1024, rb, x, 1, y, buf, 1024); }),
               Contains("null"));
    CHECK_THAT(message([&] { cuda::check_matmul(ggml_type::q4_k, w, 0, 1024, rb, x, 1, y, buf, 1024); }),
               Contains("empty shape"));
    CHECK_THAT(message([&] { cuda::check_matmul(ggml_type::q4_k, w, 257, 1024, rb, x, 1, y, buf + 64, 2048); }),
               Contains("256-byte aligned"));
    // Float weights on the matvec path need no scratch at all.
    CHECK_NOTHROW(cuda::check_matmul(ggml_type::f16, w, 7, 64, 128, x, 5, y, nullptr, 0));
    // A type without a format is unsupported, by name.
    try {
        cuda::check_matmul(static_cast<ggml_type>(9999), w, 1, 32, 64, x, 1, y, buf, 1024);
        FAIL("no error");
    } catch (const error& e) {
        CHECK(e.category() == errc::unsupported);
    }
}

// --- the GEMM path's numerics, emulated -------------------------------------------------------

namespace {

double nerr(const std::vector<float>& a, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        if (std::isnan(a[i])) return std::numeric_limits<double>::infinity();
        const double d = double(a[i]) - double(ref[i]);
        num += d * d;
        den += double(ref[i]) * double(ref[i]);
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// The gemm_f16 path's arithmetic (strata_test::emulate_gemm_f16: the device's dequantize,
// rounding to half, FP32-exact products) against cpu::matmul on the same random data.
template <class F>
double emulated_gemm_error(std::int64_t rows, std::int64_t k, std::int64_t n, std::uint32_t seed) {
    const std::size_t rb = std::size_t(row_bytes(F::type, std::uint64_t(k)));
    std::vector<unsigned char> w(rb * std::size_t(rows));
    for (std::int64_t r = 0; r < rows; ++r) {
        const auto v = strata_test::random_normal(std::size_t(k), seed + std::uint32_t(r));
        quantize_row<F>(v.data(), w.data() + std::size_t(r) * rb, std::size_t(k));
    }
    const auto x = strata_test::random_normal(std::size_t(n * k), seed ^ 0x5bd1e995u);
    const std::vector<float> emu = strata_test::emulate_gemm_f16<F>(w.data(), rows, k, rb, x.data(), n);
    std::vector<float> ref(std::size_t(n * rows));
    cpu::backend be({.n_threads = 1, .level = cpu::isa::scalar});
    strata_test::aligned_bytes scratch(cpu::scratch_bytes(F::type, k, n));
    const cpu::weight_view wv{F::type, w.data(), rows, k, rb};
    cpu::matmul<all_formats>(be, wv, x.data(), n, ref.data(), {scratch.data(), scratch.size()});
    return nerr(emu, ref);
}

}  // namespace

// Measured at 257 x 1024, 16 tokens, 4 seeds (the max of each): q4_k 7.2e-3, q8_0 5.5e-3,
// bf16 1.7e-3, f16 2.1e-4 — almost all of it the CPU's 8-bit (or bf16) activations; the budgets
// of tests/cuda/matmul_all.hpp are these with room for other seeds and shapes.
TEST_CASE("cuda matmul GEMM path numerics, emulated on the host, stay within the [cuda] budgets", "[cuda-plan]") {
    const std::int64_t rows = 257, k = 1024, n = 16;
    double e_q4k = 0, e_q80 = 0, e_bf16 = 0, e_f16 = 0;
    for (std::uint32_t s = 0; s < 4; ++s) {
        const std::uint32_t seed = 1000 + 77 * s;
        e_q4k = std::max(e_q4k, emulated_gemm_error<q4_k>(rows, k, n, seed));
        e_q80 = std::max(e_q80, emulated_gemm_error<q8_0>(rows, k, n, seed));
        e_bf16 = std::max(e_bf16, emulated_gemm_error<bf16>(rows, k, n, seed));
        e_f16 = std::max(e_f16, emulated_gemm_error<f16>(rows, k, n, seed));
    }
    INFO("q4_k " << e_q4k << ", q8_0 " << e_q80 << ", bf16 " << e_bf16 << ", f16 " << e_f16);
    CHECK(e_q4k <= strata_test::gemm_budget_q8k_act);
    CHECK(e_q80 <= strata_test::gemm_budget_q8_0_act);
    CHECK(e_bf16 <= strata_test::gemm_budget_bf16);
    CHECK(e_f16 <= strata_test::gemm_budget_f16);
    // A lost block of four per row (k = 1024 of Q4_K) would be an error near 0.5.
    CHECK(strata_test::gemm_budget_q8k_act <= 1e-2);
}

// --- the GEMM calls' geometry, replayed -------------------------------------------------------

namespace {

// What cublasGemmEx(CUBLAS_OP_T, CUBLAS_OP_N, ...) computes, column-major by its definition:
// C[r + t ldc] = sum_i op(A)(r, i) B(i, t), op(A)(r, i) = A[i + r lda], B(i, t) = B[i + t ldb].
void reference_gemm_tn(const cuda::gemm_call& g, const float* a, const float* b, float* c) {
    for (int t = 0; t < g.n; ++t)
        for (int r = 0; r < g.m; ++r) {
            double s = 0;
            for (int i = 0; i < g.k; ++i)
                s += double(a[std::size_t(i) + std::size_t(r) * std::size_t(g.lda)]) *
                     double(b[std::size_t(i) + std::size_t(t) * std::size_t(g.ldb)]);
            c[std::size_t(r) + std::size_t(t) * std::size_t(g.ldc)] = float(s);
        }
}

// The gemm_f16 path's calls exactly as matmul makes them (plan, gemm_call_at, the chunk
// dequantized densely or F16 rows read in place at lda), on the host: y must be the
// emulation's, bit for bit (both sum in double, in the same order).
template <class F>
void replay_gemm_f16(std::int64_t rows, std::int64_t k, std::int64_t n, std::size_t pad, std::size_t chunk_target) {
    const std::size_t rb = std::size_t(row_bytes(F::type, std::uint64_t(k))) + pad;
    std::vector<unsigned char> w(rb * std::size_t(rows), 0);
    for (std::int64_t r = 0; r < rows; ++r) {
        const auto v = strata_test::random_normal(std::size_t(k), 40 + std::uint32_t(r));
        quantize_row<F>(v.data(), w.data() + std::size_t(r) * rb, std::size_t(k));
    }
    const auto x = strata_test::random_normal(std::size_t(n * k), 41);
    const auto p = cuda::plan_matmul(F::type, rows, k, n, chunk_target);
    REQUIRE(p.path == matmul_path::gemm_f16);
    std::vector<float> xh(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) xh[i] = to_float(to_fp16(x[i]));
    std::vector<float> y(std::size_t(n * rows), std::numeric_limits<float>::quiet_NaN());
    const std::int64_t calls = cuda::gemm_call_count(p, rows);
    for (std::int64_t i = 0; i < calls; ++i) {
        const cuda::gemm_call c = cuda::gemm_call_at(p, rows, k, rb, n, i);
        std::vector<float> a;  // A as the device holds it
        if (p.chunk_rows > 0) {  // the chunk, dequantized and rounded, dense
            a.resize(std::size_t(c.m) * std::size_t(k));
            for (int r = 0; r < c.m; ++r)
                dequantize_row<F>(w.data() + std::size_t(c.row0 + r) * rb, a.data() + std::size_t(r) * std::size_t(k),
                                  std::size_t(k));
            for (float& v : a) v = to_float(to_fp16(v));
        } else {  // W's own halves, padding and all, read at lda
            const std::size_t elems = rb / 2 * std::size_t(rows);
            a.resize(elems);
            const auto* h = reinterpret_cast<const fp16_t*>(w.data() + std::size_t(c.row0) * rb);
            for (std::size_t e = 0; e + std::size_t(c.row0) * rb / 2 < elems; ++e) a[e] = to_float(h[e]);
        }
        reference_gemm_tn(c, a.data(), xh.data(), y.data() + c.row0);
    }
    const std::vector<float> emu = strata_test::emulate_gemm_f16<F>(w.data(), rows, k, rb, x.data(), n);
    CHECK(nerr(y, emu) == 0.0);
}

}  // namespace

TEST_CASE("cuda matmul GEMM calls (op T x N, leading dimensions, chunk offsets) compute y = W x", "[cuda-plan]") {
    SECTION("dequantized, in chunks of 128 rows (the last one short)") {
        const std::size_t target = 128 * 256 * 2;  // 128 rows of k = 256 per chunk
        replay_gemm_f16<q4_k>(300, 256, 9, 0, target);
        replay_gemm_f16<q8_0>(300, 256, 12, 64, target);
        const auto p = cuda::plan_matmul(ggml_type::q4_k, 300, 256, 9, target);
        CHECK(cuda::gemm_call_count(p, 300) == 3);
        CHECK(cuda::gemm_call_at(p, 300, 256, 144, 9, 2).m == 44);
        CHECK(cuda::gemm_call_at(p, 300, 256, 144, 9, 2).row0 == 256);
    }
    SECTION("F16 weights in place, padded rows: lda = row_bytes / 2") {
        replay_gemm_f16<f16>(37, 64, 10, 0, cuda::gemm_chunk_target);
        replay_gemm_f16<f16>(37, 64, 10, 32, cuda::gemm_chunk_target);
        const auto p = cuda::plan_matmul(ggml_type::f16, 37, 64, 10);
        CHECK(cuda::gemm_call_count(p, 37) == 1);
        CHECK(cuda::gemm_call_at(p, 37, 64, 160, 10, 0).lda == 80);
    }
    SECTION("F32 weights: lda = row_bytes / 4") {
        const auto p = cuda::plan_matmul(ggml_type::f32, 37, 64, 10);
        CHECK(p.path == matmul_path::gemm_f32);
        const auto c = cuda::gemm_call_at(p, 37, 64, 320, 10, 0);
        CHECK((c.m == 37 && c.n == 10 && c.k == 64 && c.lda == 80 && c.ldb == 64 && c.ldc == 37 && c.row0 == 0));
    }
}
