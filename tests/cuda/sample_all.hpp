// The host-side interface of tests/cuda/sample_all.cu (plain C++, no CUDA headers): a
// cuda::device_sampler on its own stream, fed host logits. Errors come back as strings (empty:
// none), a strata::error's message included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "strata/sample/history.hpp"
#include "strata/sample/params.hpp"

namespace strata_test {

struct cuda_sample_out {
    std::int32_t id = -1;
    bool drew = false;
};

class cuda_sampler_session {
public:
    // exact_draws: as cuda::device_sampler's.
    explicit cuda_sampler_session(std::int64_t n_vocab, bool exact_draws = false);
    ~cuda_sampler_session();
    cuda_sampler_session(const cuda_sampler_session&) = delete;
    cuda_sampler_session& operator=(const cuda_sampler_session&) = delete;

    // What construction failed on, if anything (then nothing else works).
    const std::string& error() const;
    std::size_t device_bytes() const;
    std::size_t cub_temp_bytes() const;  // what CUB asked for

    // Uploads n_vocab logits and samples them with u as dist's uniform number.
    std::string sample(const float* logits, const strata::sample::params& p, const strata::sample::history& h,
                       double u, cuda_sample_out& out);

    // As sample(), through a CUDA graph of device_sampler::launch() captured at the first call
    // of each path and replayed after each stage().
    std::string sample_graph(const float* logits, const strata::sample::params& p, const strata::sample::history& h,
                             double u, cuda_sample_out& out);

    // Microseconds per sample of the last uploaded logits (enqueue, stream sync, result), over
    // reps after a few to warm up.
    std::string time_us(const strata::sample::params& p, const strata::sample::history& h, int reps, double& us);

    struct impl;  // sample_all.cu's CUDA state (public so that its helpers there may take it)

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace strata_test
