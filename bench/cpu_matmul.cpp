// strata-bench-matmul: the CPU backend's matmul per format, kernel level and thread count.
//
//   gemv (decode): GB/s of weight bytes read per second, "hot" (the same matrix again and
//   again: it sits in L2/L3) and "cold" (rotating over copies that together exceed the last
//   level cache, as a model larger than the cache is read), next to the measured memory read
//   bandwidth so the share of the peak is visible;
//   gemm (prefill, 512 tokens): GFLOP/s (2 * rows * k * tokens per second).
// With llama.cpp's libraries at hand (--ggml DIR, default the reference venv), ggml's own
// mul_mat on the same data, threads and shapes is printed alongside.
//
//   strata-bench-matmul [--quick] [--ggml DIR | --no-ggml] [--formats q8_0,q4_K,...]
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ggml_reference.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/quant/row.hpp"

namespace {

using namespace strata;
using clock_type = std::chrono::steady_clock;

struct options {
    bool quick = false;
    std::string ggml_dir = "/root/.cache/strata/reference-venv/lib/python3.11/site-packages/llama_cpp/lib";
    std::string only;  // comma-separated format names, empty: all
};

struct aligned_buffer {
    explicit aligned_buffer(std::size_t n) : size(n), p(static_cast<std::byte*>(::operator new(n, std::align_val_t{64}))) {}
    ~aligned_buffer() { ::operator delete(p, std::align_val_t{64}); }
    aligned_buffer(const aligned_buffer&) = delete;
    aligned_buffer& operator=(const aligned_buffer&) = delete;
    std::size_t size;
    std::byte* p;
};

double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// Best time of fn over at least min_reps runs and min_time seconds.
template <class Fn>
double best_seconds(Fn&& fn, int min_reps, double min_time) {
    double best = 1e30, total = 0;
    for (int r = 0; r < min_reps || total < min_time; ++r) {
        const auto t0 = clock_type::now();
        fn();
        const double t = seconds_since(t0);
        best = std::min(best, t);
        total += t;
        if (r > 1000) break;
    }
    return best;
}

// ---- the memory bandwidth figure -------------------------------------------------------------

#if STRATA_CPU_X86_KERNELS
__attribute__((target("avx2"))) std::uint64_t read_sum(const std::byte* p, std::size_t n) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (std::size_t i = 0; i + 128 <= n; i += 128) {
        acc0 = _mm256_add_epi64(acc0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
        acc1 = _mm256_add_epi64(acc1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
        acc2 = _mm256_add_epi64(acc2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
        acc3 = _mm256_add_epi64(acc3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
    }
    const __m256i s = _mm256_add_epi64(_mm256_add_epi64(acc0, acc1), _mm256_add_epi64(acc2, acc3));
    alignas(32) std::uint64_t v[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
    return v[0] + v[1] + v[2] + v[3];
}
#else
std::uint64_t read_sum(const std::byte* p, std::size_t n) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, p + i, 8);
        s += v;
    }
    return s;
}
#endif

// Read bandwidth of a buffer 4x the size of a 300 MB L3, split over the pool's threads.
double read_bandwidth(const cpu::backend& be, const aligned_buffer& buf, int threads) {
    std::vector<std::uint64_t> sink(static_cast<std::size_t>(threads));
    const double t = best_seconds([&] {
        be.pool().run(threads, [&](int i, int n) {
            const std::size_t chunk = buf.size / static_cast<std::size_t>(n) / 128 * 128;
            sink[static_cast<std::size_t>(i)] += read_sum(buf.p + chunk * static_cast<std::size_t>(i), chunk);
        });
    }, 3, 0.0);
    return double(buf.size) / t / 1e9;
}

double memcpy_bandwidth(const aligned_buffer& buf) {
    const std::size_t half = buf.size / 2;
    const double t = best_seconds([&] { std::memcpy(buf.p + half, buf.p, half); }, 3, 0.0);
    return 2.0 * double(half) / t / 1e9;  // read + write
}

// ---- one matrix ------------------------------------------------------------------------------

struct shape {
    const char* name;
    std::int64_t rows, k;
};

struct matrix {
    std::int64_t rows, k;
    std::size_t row_bytes, bytes;
    std::unique_ptr<aligned_buffer> copies;  // `count` copies back to back, for the cold runs
    std::size_t count = 1;
};

template <class F>
matrix make_matrix(const shape& s, std::size_t cold_bytes) {
    matrix m{s.rows, s.k, row_bytes(F::type, std::uint64_t(s.k)), 0, nullptr, 1};
    m.bytes = m.row_bytes * std::size_t(s.rows);
    m.count = std::max<std::size_t>(2, (cold_bytes + m.bytes - 1) / m.bytes);
    m.copies = std::make_unique<aligned_buffer>(m.bytes * m.count);
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> row(std::size_t(s.k));
    for (std::int64_t r = 0; r < s.rows; ++r) {
        if (r < 256) for (auto& v : row) v = nd(rng);  // 256 distinct rows are enough for timing
        quantize_row<F>(row.data(), m.copies->p + std::size_t(r) * m.row_bytes, std::size_t(s.k));
    }
    for (std::size_t c = 1; c < m.count; ++c) std::memcpy(m.copies->p + c * m.bytes, m.copies->p, m.bytes);
    return m;
}

cpu::weight_view view(ggml_type t, const matrix& m, std::size_t copy) {
    return {t, m.copies->p + copy * m.bytes, m.rows, m.k, m.row_bytes};
}

struct gemv_result {
    double hot, cold;  // GB/s
};

template <class F>
gemv_result bench_gemv(const cpu::backend& be, const matrix& m, const std::vector<float>& x, aligned_buffer& scratch,
                       std::vector<float>& y, bool quick, bool hot_only) {
    const auto scratch_span = std::span<std::byte>(scratch.p, scratch.size);
    const double t_hot = best_seconds([&] { cpu::gemv<formats<F>>(be, view(F::type, m, 0), x.data(), y.data(), scratch_span); },
                                      quick ? 3 : 10, quick ? 0.05 : 0.2);
    if (hot_only) return {double(m.bytes) / t_hot / 1e9, 0};
    const auto t0 = clock_type::now();
    for (std::size_t c = 0; c < m.count; ++c) cpu::gemv<formats<F>>(be, view(F::type, m, c), x.data(), y.data(), scratch_span);
    const double t_cold = seconds_since(t0) / double(m.count);
    return {double(m.bytes) / t_hot / 1e9, double(m.bytes) / t_cold / 1e9};
}

template <class F>
double bench_gemm(const cpu::backend& be, const matrix& m, const std::vector<float>& x, std::int64_t n_tokens,
                  aligned_buffer& scratch, std::vector<float>& y, bool quick) {
    const auto scratch_span = std::span<std::byte>(scratch.p, scratch.size);
    const double t = best_seconds([&] { cpu::matmul<formats<F>>(be, view(F::type, m, 0), x.data(), n_tokens, y.data(), scratch_span); },
                                  quick ? 1 : 3, quick ? 0.0 : 0.3);
    return 2.0 * double(m.rows) * double(m.k) * double(n_tokens) / t / 1e9;
}

// ggml's time for the same product, or nothing without the library.
double ggml_seconds(const ggml_ref::library* lib, ggml_type t, const matrix& m, const std::vector<float>& x,
                    std::int64_t n_tokens, int threads, bool quick) {
    if (!lib) return 0;
    ggml_ref::matmul mm(*lib, int(t), m.rows, m.k, n_tokens, m.copies->p, m.bytes, x.data(), threads);
    return best_seconds([&] { mm.run(); }, n_tokens > 1 ? (quick ? 1 : 3) : (quick ? 3 : 10), quick ? 0.05 : 0.2);
}

struct context {
    options opt;
    std::vector<std::unique_ptr<cpu::backend>> backends;  // (level, threads 1..2)
    const ggml_ref::library* ggml;
    double peak;  // read GB/s with 2 threads
    std::vector<float> x1, x512;
};

template <class F>
void bench_format(context& cx) {
    if (!cx.opt.only.empty() && ("," + cx.opt.only + ",").find("," + std::string(F::name) + ",") == std::string::npos) return;
    const std::int64_t gemm_tokens = 512;
    // gemma3 270M's shapes: FFN down (640 x 2048), FFN up/gate (2048 x 640, only where 640 is
    // a whole number of blocks), and for Q8_0 the 262144 x 640 output head
    std::vector<shape> shapes = {{"640x2048", 640, 2048}};
    if (640 % F::block_elems == 0) shapes.push_back({"2048x640", 2048, 640});
    if (std::is_same_v<F, q8_0>) shapes.push_back({"262144x640", 262144, 640});
    const std::size_t cold_bytes = cx.opt.quick ? (std::size_t(400) << 20) : (std::size_t(1200) << 20);
    for (const auto& s : shapes) {
        const matrix m = make_matrix<F>(s, cold_bytes);
        aligned_buffer scratch(std::max<std::size_t>(64, cpu::scratch_bytes(F::type, s.k, gemm_tokens)));
        std::vector<float> y(std::size_t(s.rows) * std::size_t(gemm_tokens));
        const bool head = s.rows > 100000;
        for (const auto& be : cx.backends) {
            const bool slow = be->level() == cpu::isa::scalar;
            if (slow && head) continue;  // minutes of scalar code: not informative
            const auto g = bench_gemv<F>(*be, m, cx.x1, scratch, y, cx.opt.quick || slow, slow);
            double gg = 0;
            if (be->level() == cpu::detect()) {
                const double t = ggml_seconds(cx.ggml, F::type, m, cx.x1, 1, be->n_threads(), cx.opt.quick);
                gg = t > 0 ? double(m.bytes) / t / 1e9 : 0;
            }
            fmt::print("{:6} {:10} {:6} t{}  gemv hot {:7.1f} GB/s", F::name, s.name, cpu::to_string(be->level()), be->n_threads(), g.hot);
            if (!slow) fmt::print("  cold {:6.1f} GB/s ({:3.0f}% of peak)", g.cold, 100.0 * g.cold / cx.peak);
            if (gg > 0) fmt::print("   ggml hot {:7.1f} GB/s ({:.2f}x)", gg, g.hot / gg);
            fmt::print("\n");
            if (head || slow) continue;
            const double gf = bench_gemm<F>(*be, m, cx.x512, gemm_tokens, scratch, y, cx.opt.quick);
            double ggf = 0;
            if (be->level() == cpu::detect()) {
                const double t = ggml_seconds(cx.ggml, F::type, m, cx.x512, gemm_tokens, be->n_threads(), cx.opt.quick);
                ggf = t > 0 ? 2.0 * double(m.rows) * double(m.k) * double(gemm_tokens) / t / 1e9 : 0;
            }
            fmt::print("{:6} {:10} {:6} t{}  gemm {} tokens {:7.1f} GFLOP/s", F::name, s.name, cpu::to_string(be->level()),
                       be->n_threads(), gemm_tokens, gf);
            if (ggf > 0) fmt::print("   ggml {:7.1f} GFLOP/s ({:.2f}x)", ggf, gf / ggf);
            fmt::print("\n");
        }
    }
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") o.quick = true;
        else if (a == "--no-ggml") o.ggml_dir.clear();
        else if (a == "--ggml" && i + 1 < argc) o.ggml_dir = argv[++i];
        else if (a == "--formats" && i + 1 < argc) o.only = argv[++i];
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    context cx;
    cx.opt = parse(argc, argv);
    const auto f = cpu::query_features();
    fmt::print("CPU: {} hardware threads, best kernel level {} (avx512 vnni {}, avx_vnni {}, amx {})\n",
               std::thread::hardware_concurrency(), cpu::to_string(cpu::detect()), f.avx512vnni, f.avx_vnni, f.amx_int8);
    for (int l = 0; l <= int(cpu::detect()); ++l)
        for (int t = 1; t <= 2; ++t) cx.backends.push_back(std::make_unique<cpu::backend>(cpu::backend_options{t, cpu::isa(l)}));

    {
        aligned_buffer buf(std::size_t(1200) << 20);
        std::memset(buf.p, 1, buf.size);
        const double r1 = read_bandwidth(*cx.backends[0], buf, 1);
        cx.peak = read_bandwidth(*cx.backends[1], buf, 2);
        fmt::print("memory: read {:.1f} GB/s (1 thread), {:.1f} GB/s (2 threads); memcpy {:.1f} GB/s (read + write)\n", r1,
                   cx.peak, memcpy_bandwidth(buf));
    }
    std::unique_ptr<ggml_ref::library> lib;
    if (!cx.opt.ggml_dir.empty() && std::filesystem::exists(cx.opt.ggml_dir + "/libggml-cpu.so")) {
        lib = std::make_unique<ggml_ref::library>(cx.opt.ggml_dir);
        if (!lib->ok()) lib.reset();
    }
    cx.ggml = lib.get();
    fmt::print("ggml reference: {}\n\n", lib ? cx.opt.ggml_dir : std::string("not loaded"));

    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    cx.x1.resize(262144);
    for (auto& v : cx.x1) v = nd(rng);
    cx.x512.resize(512 * 2048);
    for (auto& v : cx.x512) v = nd(rng);

    bench_format<q8_0>(cx);
    bench_format<q4_0>(cx);
    bench_format<q5_0>(cx);
    bench_format<q4_k>(cx);
    bench_format<q5_k>(cx);
    bench_format<q6_k>(cx);
    bench_format<f16>(cx);
    bench_format<f32>(cx);
    bench_format<bf16>(cx);
    bench_format<iq4_nl>(cx);
    bench_format<mxfp4>(cx);
    bench_format<q3_k>(cx);
    bench_format<q2_k>(cx);
    bench_format<iq4_xs>(cx);
    bench_format<q4_1>(cx);
    bench_format<q5_1>(cx);
}
