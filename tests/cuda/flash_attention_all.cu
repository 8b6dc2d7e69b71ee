// Instantiates kernels::flash_attention (both cache types, every head-dim width and rows per
// warp: 12 tile kernels and 3 combines) behind the plain C++ functions of
// flash_attention_all.hpp, which the tests call. Compiled for sm_90 in CI, where no GPU runs it.
#include <random>
#include <string>
#include <vector>

#include "kernels/flash_attention.cuh"

#include "cuda/device_run.hpp"
#include "cuda/flash_attention_all.hpp"

namespace strata_test {
namespace {

namespace sc = strata::cuda;

// device_run's buffers, plus a stream and the graph of the replay test (destroyed before the
// buffers are freed).
class fa_run : public device_run {
public:
    fa_run() = default;
    ~fa_run() {
        if (exec_) cudaGraphExecDestroy(exec_);
        if (graph_) cudaGraphDestroy(graph_);
        if (stream_) cudaStreamDestroy(stream_);
    }

    void download(float* host, const float* dev, std::size_t n) { (void)finish(host, dev, n); }

    cudaStream_t stream() {
        if (!stream_ && ok()) check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "stream");
        return stream_;
    }

    cudaGraph_t graph_ = nullptr;
    cudaGraphExec_t exec_ = nullptr;

private:
    cudaStream_t stream_ = nullptr;
};

// The cache, queries, positions and scratch of one call on the device.
struct fa_inputs {
    const float* q = nullptr;
    std::int32_t* pos = nullptr;
    sc::fa_kv kv;
    void* scratch = nullptr;
    std::size_t scratch_bytes = 0;
};

fa_inputs upload_inputs(fa_run& run, const float* q, std::int64_t n_tokens, const std::int32_t* pos,
                        std::int64_t kv_len_max, const sc::fa_kv& kv, std::size_t k_bytes, std::size_t v_bytes,
                        const sc::fa_params& p) {
    fa_inputs in;
    in.q = run.upload(q, std::size_t(n_tokens * p.n_head * p.head_dim_k));
    in.pos = pos ? run.upload(pos, std::size_t(n_tokens)) : nullptr;
    in.kv = kv;
    in.kv.k = run.upload(kv.k, k_bytes);
    in.kv.v = run.upload(kv.v, v_bytes);
    in.scratch_bytes = sc::flash_attention_scratch_bytes(p, n_tokens, kv_len_max);
    in.scratch = run.alloc(in.scratch_bytes);
    if (in.scratch) run.check(cudaMemset(in.scratch, 0xff, in.scratch_bytes), "poison scratch");
    return in;
}

}  // namespace

std::string cuda_flash_attention(const float* q, std::int64_t n_tokens, const std::int32_t* pos, std::int64_t kv_len_max,
                                 const sc::fa_kv& kv, std::size_t k_bytes, std::size_t v_bytes, const sc::fa_params& p,
                                 const float* sinks, float* out) {
    fa_run run;
    const fa_inputs in = upload_inputs(run, q, n_tokens, pos, kv_len_max, kv, k_bytes, v_bytes, p);
    const float* d_sinks = run.upload(sinks, std::size_t(p.n_head));
    const std::size_t n_out = std::size_t(n_tokens * p.n_head * p.head_dim_v);
    float* d_out = run.output(n_out);
    if (run.ok())
        run.check(strata::kernels::flash_attention(in.q, n_tokens, in.pos, kv_len_max, in.kv, p, d_sinks, d_out, in.scratch,
                                                   in.scratch_bytes, nullptr),
                  "launch");
    run.download(out, d_out, n_out);
    return run.error();
}

std::string cuda_flash_attention_graph(const float* q, std::int32_t pos_a, std::int32_t pos_b, std::int64_t kv_len_max,
                                       const sc::fa_kv& kv, std::size_t k_bytes, std::size_t v_bytes,
                                       const std::byte* new_k, const std::byte* new_v, const sc::fa_params& p,
                                       float* out_a, float* out_b) {
    fa_run run;
    const fa_inputs in = upload_inputs(run, q, 1, &pos_a, kv_len_max, kv, k_bytes, v_bytes, p);
    const std::size_t n_out = std::size_t(p.n_head * p.head_dim_v);
    float* d_out = run.output(n_out);
    cudaStream_t s = run.stream();
    if (run.ok()) {
        run.check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "begin capture");
        const cudaError_t launched =
            run.ok() ? strata::kernels::flash_attention(in.q, 1, in.pos, kv_len_max, in.kv, p, nullptr, d_out, in.scratch,
                                                        in.scratch_bytes, s)
                     : cudaSuccess;
        cudaGraph_t g = nullptr;
        const cudaError_t ended = cudaStreamEndCapture(s, &g);
        run.graph_ = g;
        run.check(launched, "launch (capture)");
        run.check(ended, "end capture");
    }
    if (run.ok()) run.check(cudaGraphInstantiate(&run.exec_, run.graph_, 0), "instantiate");
    if (run.ok()) run.check(cudaGraphLaunch(run.exec_, s), "replay a");
    run.download(out_a, d_out, n_out);

    // The host's update between steps: the new position and the new cache rows.
    const std::size_t rows = std::size_t(pos_b - pos_a);
    auto* dk = const_cast<std::byte*>(in.kv.k) + std::size_t(pos_a + 1) * kv.row_k_bytes;
    auto* dv = const_cast<std::byte*>(in.kv.v) + std::size_t(pos_a + 1) * kv.row_v_bytes;
    if (run.ok()) run.check(cudaMemcpy(in.pos, &pos_b, sizeof pos_b, cudaMemcpyHostToDevice), "pos");
    if (run.ok()) run.check(cudaMemcpy(dk, new_k, rows * kv.row_k_bytes, cudaMemcpyHostToDevice), "k rows");
    if (run.ok()) run.check(cudaMemcpy(dv, new_v, rows * kv.row_v_bytes, cudaMemcpyHostToDevice), "v rows");
    if (run.ok()) run.check(cudaMemset(d_out, 0xff, n_out * sizeof(float)), "poison");
    if (run.ok()) run.check(cudaGraphLaunch(run.exec_, s), "replay b");
    run.download(out_b, d_out, n_out);
    return run.error();
}

std::string cuda_flash_attention_time(strata::ggml_type type, const sc::fa_params& p, std::int64_t n_tokens,
                                      std::int64_t kv_len, int reps, double* ms) {
    fa_run run;
    const std::int64_t row_k = p.n_head_kv * p.head_dim_k, row_v = p.n_head_kv * p.head_dim_v;
    const std::size_t rk = strata::row_bytes(type, std::uint64_t(row_k)), rv = strata::row_bytes(type, std::uint64_t(row_v));
    // Random fp16 values, or Q8_0 blocks of scale ~1/64 and random quants: any finite data.
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    std::vector<std::byte> k(rk * std::size_t(kv_len)), v(rv * std::size_t(kv_len));
    for (auto* buf : {&k, &v}) {
        for (std::size_t i = 0; i + 1 < buf->size(); i += 2) {
            const std::uint16_t h = strata::fp32_to_fp16(type == strata::ggml_type::f16 ? nd(rng) : 0.015f);
            (*buf)[i] = std::byte(h & 0xff), (*buf)[i + 1] = std::byte(h >> 8);
        }
    }
    std::vector<float> q(std::size_t(n_tokens * p.n_head * p.head_dim_k));
    for (auto& x : q) x = nd(rng);
    std::vector<std::int32_t> pos(static_cast<std::size_t>(n_tokens));
    for (std::int64_t t = 0; t < n_tokens; ++t) pos[std::size_t(t)] = std::int32_t(kv_len - n_tokens + t);
    const sc::fa_kv kv{type, k.data(), v.data(), rk, rv};
    const fa_inputs in = upload_inputs(run, q.data(), n_tokens, pos.data(), kv_len, kv, k.size(), v.size(), p);
    float* d_out = run.output(std::size_t(n_tokens * p.n_head * p.head_dim_v));
    cudaStream_t s = run.stream();
    cudaEvent_t e0 = nullptr, e1 = nullptr;
    run.check(cudaEventCreate(&e0), "event");
    run.check(cudaEventCreate(&e1), "event");
    const auto call = [&] {
        return strata::kernels::flash_attention(in.q, n_tokens, in.pos, kv_len, in.kv, p, nullptr, d_out, in.scratch,
                                                in.scratch_bytes, s);
    };
    for (int i = 0; i < 3 && run.ok(); ++i) run.check(call(), "warm-up");
    if (run.ok()) run.check(cudaEventRecord(e0, s), "record");
    for (int i = 0; i < reps && run.ok(); ++i) run.check(call(), "launch");
    if (run.ok()) run.check(cudaEventRecord(e1, s), "record");
    if (run.ok()) run.check(cudaEventSynchronize(e1), "kernel");
    float total = 0.0f;
    if (run.ok()) run.check(cudaEventElapsedTime(&total, e0, e1), "elapsed");
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    *ms = double(total) / reps;
    return run.error();
}

}  // namespace strata_test
