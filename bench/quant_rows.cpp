// strata-bench-quant: throughput of the scalar reference per format — dequantize a row and
// dot a row with its activation format — in GB/s of weight bytes read (decode is bandwidth
// bound, so bytes per second is the figure to compare with the machine's memory bandwidth).
// These are the portable per-block functions; the CPU backend's SIMD kernels are measured by
// strata-bench-matmul.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "strata/quant/formats.hpp"
#include "strata/quant/row.hpp"

namespace {

template <class Fn>
double best_seconds(Fn&& fn, int reps = 5) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

template <class F>
void bench(const std::vector<float>& x, const std::vector<float>& act) {
    using A = typename F::dot_format;
    const std::size_t n = x.size();
    std::vector<unsigned char> wq(n / F::block_elems * F::block_bytes), aq(n / A::block_elems * A::block_bytes);
    std::vector<float> y(n);
    strata::quantize_row<F>(x.data(), wq.data(), n);
    strata::quantize_row<A>(act.data(), aq.data(), n);
    const double t_deq = best_seconds([&] { strata::dequantize_row<F>(wq.data(), y.data(), n); });
    volatile float sink = 0;
    const double t_dot = best_seconds([&] { sink = sink + strata::dot_row<F>(wq.data(), aq.data(), n); });
    const double gb = double(wq.size()) / 1e9;
    fmt::print("{:8} {:6.2f} bits/w   dequantize {:7.2f} GB/s   dot x {:5} {:7.2f} GB/s\n", F::name,
               8.0 * F::block_bytes / F::block_elems, gb / t_deq, A::name, gb / t_dot);
}

template <class... F>
void bench_all(strata::formats<F...>, const std::vector<float>& x, const std::vector<float>& a) {
    (bench<F>(x, a), ...);
}

}  // namespace

int main() {
    const std::size_t n = std::size_t(1) << 22;  // 4M weights: 2.3 MB in Q4_K, out of most L2s
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    std::vector<float> x(n), a(n);
    for (auto& v : x) v = nd(rng);
    for (auto& v : a) v = nd(rng);
    fmt::print("scalar reference per-block code, {} weights, best of 5\n", n);
    bench_all(strata::all_formats{}, x, a);
}
