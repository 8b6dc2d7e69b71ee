// The device sampler behind tests/cuda/sample_all.hpp: one instantiation of the sampler's
// kernels (kernels/sample.cuh through backend/cuda/sampler.hpp).
#include <chrono>
#include <string>

#include "strata/backend/cuda/sampler.hpp"

#include "cuda/sample_all.hpp"

namespace strata_test {

struct cuda_sampler_session::impl {
    std::int64_t n = 0;
    cudaStream_t stream = nullptr;
    float* d_logits = nullptr;
    std::unique_ptr<strata::cuda::device_sampler> sampler;
    std::string err;
    cudaGraphExec_t graphs[3] = {};  // per sample_path

    ~impl() {
        for (cudaGraphExec_t g : graphs)
            if (g) cudaGraphExecDestroy(g);
        sampler.reset();
        if (d_logits) cudaFree(d_logits);
        if (stream) cudaStreamDestroy(stream);
    }
};

namespace {

// Runs f on a session whose setup succeeded; what a CUDA call threw comes back as the message.
template <class F>
std::string guarded(cuda_sampler_session::impl& s, F f) {
    if (!s.err.empty()) return s.err;
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

void upload_logits(cuda_sampler_session::impl& s, const float* logits) {
    STRATA_CUDA_CHECK(
        cudaMemcpyAsync(s.d_logits, logits, std::size_t(s.n) * sizeof(float), cudaMemcpyHostToDevice, s.stream));
}

}  // namespace

cuda_sampler_session::cuda_sampler_session(std::int64_t n_vocab, bool exact_draws) : impl_(std::make_unique<impl>()) {
    impl& s = *impl_;
    s.n = n_vocab;
    try {
        STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
        STRATA_CUDA_CHECK(cudaMalloc(&s.d_logits, std::size_t(n_vocab) * sizeof(float)));
        s.sampler = std::make_unique<strata::cuda::device_sampler>(n_vocab, s.stream, exact_draws);
    } catch (const std::exception& e) {
        s.err = e.what();
    }
}

cuda_sampler_session::~cuda_sampler_session() = default;

const std::string& cuda_sampler_session::error() const { return impl_->err; }

std::size_t cuda_sampler_session::device_bytes() const {
    return impl_->sampler ? impl_->sampler->device_bytes() : 0;
}

std::size_t cuda_sampler_session::cub_temp_bytes() const {
    return impl_->sampler ? impl_->sampler->cub_temp_bytes() : 0;
}

std::string cuda_sampler_session::sample(const float* logits, const strata::sample::params& p,
                                         const strata::sample::history& h, double u, cuda_sample_out& out) {
    impl& s = *impl_;
    return guarded(s, [&] {
        upload_logits(s, logits);
        const strata::cuda::sample_result r = s.sampler->sample(s.d_logits, p, h, u);
        out = {r.id, r.drew};
    });
}

std::string cuda_sampler_session::sample_graph(const float* logits, const strata::sample::params& p,
                                               const strata::sample::history& h, double u, cuda_sample_out& out) {
    impl& s = *impl_;
    return guarded(s, [&] {
        upload_logits(s, logits);
        s.sampler->stage(p, h, u);
        cudaGraphExec_t& exec = s.graphs[int(s.sampler->path())];
        if (!exec) {
            cudaGraph_t g = nullptr;
            STRATA_CUDA_CHECK(cudaStreamBeginCapture(s.stream, cudaStreamCaptureModeThreadLocal));
            s.sampler->launch(s.d_logits);
            STRATA_CUDA_CHECK(cudaStreamEndCapture(s.stream, &g));
            const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
            cudaGraphDestroy(g);
            STRATA_CUDA_CHECK(e);
        }
        STRATA_CUDA_CHECK(cudaGraphLaunch(exec, s.stream));
        STRATA_CUDA_CHECK(cudaStreamSynchronize(s.stream));
        const strata::cuda::sample_result r = s.sampler->result();
        out = {r.id, r.drew};
    });
}

std::string cuda_sampler_session::time_us(const strata::sample::params& p, const strata::sample::history& h, int reps,
                                          double& us) {
    impl& s = *impl_;
    return guarded(s, [&] {
        for (int i = 0; i < 5; ++i) (void)s.sampler->sample(s.d_logits, p, h, 0.5);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) (void)s.sampler->sample(s.d_logits, p, h, double(i % 100) / 100.0);
        const auto t1 = std::chrono::steady_clock::now();
        us = std::chrono::duration<double, std::micro>(t1 - t0).count() / reps;
    });
}

}  // namespace strata_test
