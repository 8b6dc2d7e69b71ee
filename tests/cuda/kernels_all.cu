// Instantiates the decode kernels of kernels/ (quantize_act, matvec for every format, the
// element-wise ops, get_rows for every format) behind the plain C++ functions of
// kernels_all.hpp, which the tests call. Compiled for sm_90 in CI, where no GPU runs it.
#include <string>
#include <vector>

#include "kernels/elementwise.cuh"
#include "kernels/moe.cuh"
#include "kernels/matvec.cuh"
#include "kernels/quantize_act.cuh"
#include "strata/quant/formats.hpp"

#include "cuda/device_run.hpp"
#include "cuda/kernels_all.hpp"

namespace strata_test {

std::string cuda_quantize_act(strata::ggml_type act, const float* x, std::int64_t k, void* dst) {
    device_run run;
    const float* d_x = run.upload(x, std::size_t(k));
    const std::size_t bytes = strata::row_bytes(act, std::uint64_t(k));
    auto* d_dst = run.output<unsigned char>(bytes);
    if (!run.ok()) return run.finish(static_cast<unsigned char*>(dst), d_dst, bytes);
    using strata::ggml_type;
    cudaError_t e = cudaErrorInvalidValue;
    if (act == ggml_type::q8_0) e = strata::kernels::quantize_act<strata::q8_0>(d_x, d_dst, k, nullptr);
    if (act == ggml_type::q8_1) e = strata::kernels::quantize_act<strata::q8_1>(d_x, d_dst, k, nullptr);
    if (act == ggml_type::q8_k) e = strata::kernels::quantize_act<strata::q8_k>(d_x, d_dst, k, nullptr);
    run.launched(e);
    return run.finish(static_cast<unsigned char*>(dst), d_dst, bytes);
}

std::string cuda_matvec(strata::ggml_type w_type, const void* w, std::size_t w_bytes, std::int64_t rows, std::int64_t k,
                        std::size_t row_bytes, const float* x, float* y) {
    device_run run;
    const auto* d_w = run.upload(static_cast<const unsigned char*>(w), w_bytes);
    const float* d_x = run.upload(x, std::size_t(k));
    float* d_y = run.output(std::size_t(rows));
    if (!run.ok()) return run.finish(y, d_y, std::size_t(rows));
    run.launched(strata::all_formats::dispatch(w_type, "test weight", [&](auto f) {
        using F = decltype(f);
        const void* act = d_x;
        if constexpr (!strata::kernels::detail::reads_f32_act<F>) {
            using A = typename F::dot_format;
            void* q = run.output<unsigned char>(strata::row_bytes(A::type, std::uint64_t(k)));
            if (!run.ok()) return cudaErrorMemoryAllocation;
            if (auto e = strata::kernels::quantize_act<A>(d_x, q, k, nullptr); e != cudaSuccess) return e;
            act = q;
        }
        return strata::kernels::matvec<F>(d_w, rows, k, row_bytes, act, d_y, nullptr);
    }));
    return run.finish(y, d_y, std::size_t(rows));
}

std::string cuda_rms_norm(const float* x, const float* w, float* y, std::int64_t n_tokens, std::int64_t n, float eps) {
    device_run run;
    const std::size_t total = std::size_t(n_tokens * n);
    const float* d_x = run.upload(x, total);
    const float* d_w = run.upload(w, std::size_t(n));
    float* d_y = run.output(total);
    if (run.ok()) run.launched(strata::kernels::rms_norm(d_x, d_w, d_y, n_tokens, n, eps, nullptr));
    return run.finish(y, d_y, total);
}

std::string cuda_rope(const float* x, float* y, std::int64_t n_tokens, std::int64_t n_heads, std::int64_t head_dim,
                      const std::int32_t* pos, std::int64_t n_rot, float base, float freq_scale,
                      const float* freq_factors, bool neox) {
    device_run run;
    const std::size_t total = std::size_t(n_tokens * n_heads * head_dim);
    const float* d_x = run.upload(x, total);
    const std::int32_t* d_pos = run.upload(pos, std::size_t(n_tokens));
    const float* d_ff = run.upload(freq_factors, std::size_t(n_rot / 2));
    float* d_y = run.output(total);
    if (run.ok())
        run.launched(strata::kernels::rope(d_x, d_y, n_tokens, n_heads, head_dim, d_pos, n_rot, base, freq_scale, d_ff,
                                           neox, nullptr));
    return run.finish(y, d_y, total);
}

namespace {
// Two inputs of n, one output of n.
template <class Launch>
std::string binary_op(const float* a, const float* b, float* y, std::int64_t n, Launch launch) {
    device_run run;
    const float* d_a = run.upload(a, std::size_t(n));
    const float* d_b = run.upload(b, std::size_t(n));
    float* d_y = run.output(std::size_t(n));
    if (run.ok()) run.launched(launch(d_a, d_b, d_y));
    return run.finish(y, d_y, std::size_t(n));
}
}  // namespace

std::string cuda_swiglu(const float* g, const float* u, float* y, std::int64_t n) {
    return binary_op(g, u, y, n, [n](const float* a, const float* b, float* o) { return strata::kernels::swiglu(a, b, o, n, nullptr); });
}
std::string cuda_geglu(const float* g, const float* u, float* y, std::int64_t n) {
    return binary_op(g, u, y, n, [n](const float* a, const float* b, float* o) { return strata::kernels::geglu(a, b, o, n, nullptr); });
}
std::string cuda_add(const float* a, const float* b, float* y, std::int64_t n) {
    return binary_op(a, b, y, n, [n](const float* p, const float* q, float* o) { return strata::kernels::add(p, q, o, n, nullptr); });
}
std::string cuda_softcap(const float* x, float* y, std::int64_t n, float c) {
    return binary_op(x, x, y, n, [n, c](const float* p, const float*, float* o) { return strata::kernels::softcap(p, o, n, c, nullptr); });
}
std::string cuda_scale(const float* x, float* y, std::int64_t n, float s) {
    return binary_op(x, x, y, n, [n, s](const float* p, const float*, float* o) { return strata::kernels::scale(p, o, n, s, nullptr); });
}

std::string cuda_get_rows(strata::ggml_type type, const void* table, std::size_t table_bytes, std::size_t row_bytes,
                          const std::int32_t* ids, std::int64_t n_tokens, std::int64_t k, float* out) {
    device_run run;
    const auto* d_table = run.upload(static_cast<const unsigned char*>(table), table_bytes);
    const std::int32_t* d_ids = run.upload(ids, std::size_t(n_tokens));
    const std::size_t total = std::size_t(n_tokens * k);
    float* d_out = run.output(total);
    if (run.ok())
        run.launched(strata::all_formats::dispatch(type, "test table", [&](auto f) {
            return strata::kernels::get_rows<decltype(f)>(d_table, row_bytes, d_ids, n_tokens, k, d_out, nullptr);
        }));
    return run.finish(out, d_out, total);
}

std::string cuda_moe_rows(const float* x, std::int64_t n_tokens, int n_used, int n_expert, std::int64_t len,
                          const std::int32_t* grouped, const std::int32_t* offsets, const float* weights, float* out) {
    device_run run;
    const std::size_t slots = std::size_t(n_tokens) * std::size_t(n_used);
    const float* d_x = run.upload(x, std::size_t(n_tokens * len));
    const std::int32_t* d_grouped = run.upload(grouped, slots);
    const float* d_w = run.upload(weights, slots);
    float* d_rows = run.output(std::size_t(n_tokens * len));  // one expert's rows: at most one per token
    float* d_slots = run.output(slots * std::size_t(len));
    float* d_out = run.output(std::size_t(n_tokens * len));
    for (int e = 0; run.ok() && e < n_expert; ++e) {
        const std::int64_t m = offsets[e + 1] - offsets[e];
        if (m == 0) continue;
        run.launched(strata::kernels::gather_slot_rows(d_x, d_grouped + offsets[e], m, n_used, len, d_rows, nullptr));
        run.launched(strata::kernels::scale(d_rows, d_rows, m * len, 2.0f, nullptr));
        run.launched(strata::kernels::scatter_slot_rows(d_rows, d_grouped + offsets[e], d_w, m, len, d_slots, nullptr));
    }
    if (run.ok()) run.launched(strata::kernels::sum_slots(d_slots, n_tokens, n_used, len, d_out, nullptr));
    return run.finish(out, d_out, std::size_t(n_tokens * len));
}

}  // namespace strata_test
