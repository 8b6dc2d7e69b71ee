// strata/model/prefill_stream.hpp — prefill streaming: the matmuls of the blocks a plan leaves
// on the host, for a batch of at least min_batch tokens, computed on an accelerator that is sent
// each weight as it is needed (llama.cpp offloads large-batch ops the same way).
//
// Why it pays: a batch of n tokens costs 2 x params x n flops on the CPU against params' bytes
// over the host link plus the same flops on the device, and a GPU's flops are some 30 times a
// CPU's (the planner's table: 23.7 TFLOP/s for an RTX 5060 Ti, 0.8 for a desktop CPU). Decode (n = 1) reads every weight once either way and stays on the CPU: sending the
// weight costs more than the CPU's read of it.
//
// The cpu_stage of the host asks its matmul_offload (when the engine gave it one) for every
// matmul of n >= min_batch() tokens; what the offload does is the device's business. Its buffers
// are one list of pieces, stream_shape, that the session takes from the device's arena and the
// planner prices (plan/memory.hpp): the largest block weight, the widest activations in and
// out, and the device matmul's scratch. host_stream is the offload of a sim device (a copy into
// its memory and its own CPU backend: the data path of a GPU's, testable without one); the
// GPU's is in model/cuda_stream.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "strata/backend/cpu/backend.hpp"
#include "strata/backend/cpu/matmul.hpp"
#include "strata/backend/cuda/matmul.hpp"
#include "strata/core/arena.hpp"
#include "strata/core/error.hpp"
#include "strata/model/weights.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// Where a stage's large-batch matmuls go.
class matmul_offload {
public:
    virtual ~matmul_offload() = default;
    // Batches of fewer tokens stay with the stage.
    virtual std::int64_t min_batch() const noexcept = 0;
    // y = W x for n tokens: W in host memory (the memory map), x (n x k) and y (n x rows) in the
    // stage's host buffers. Returns with y written.
    virtual void matmul(const tensor& W, const float* x, std::int64_t n, float* y) const = 0;
    // Matmuls done and weight bytes sent so far (what a test and a benchmark read).
    virtual std::int64_t calls() const noexcept = 0;
    virtual std::uint64_t bytes_sent() const noexcept = 0;
};

enum class stream_target { cuda, sim };

// The buffers of a prefill stream for batches of up to n_batch tokens, as pieces of the target
// device's arena (each rounded to the arena's alignment).
struct stream_shape {
    std::size_t weight_bytes = 0;    // the largest block matmul weight
    std::size_t x_floats = 0;        // n_batch x the widest k
    std::size_t y_floats = 0;        // n_batch x the most rows
    std::size_t scratch_bytes = 0;   // the target's matmul scratch for those weights
    std::size_t blas_workspace = 0;  // cuda: cuBLAS's workspace (its GEMMs run on the stream's own handle)

    std::size_t bytes() const noexcept {
        return arena::padded(weight_bytes) + arena::padded(x_floats * sizeof(float)) +
               arena::padded(y_floats * sizeof(float)) + arena::padded(scratch_bytes) + arena::padded(blas_workspace);
    }
};

// The matrices a stream may be sent: every block's. Every block's, not only the host's: the
// layers a placement leaves on the host are usually alike, and one bound over all keeps the
// session's allocation and the planner's price the same function of the model alone.
// (An expert tensor is sent one expert at a time, as the expert's matmul runs.)
inline std::vector<tensor> streamed_matrices(const weights& w) {
    std::vector<tensor> m;
    for (const auto& L : w.layers)
        for (const tensor& t : matrices_of(L))
            if (t) m.push_back(t);
    return m;
}

inline stream_shape stream_shape_for(const weights& w, std::int64_t n_batch, stream_target target,
                                     std::size_t cublas_workspace = 0) {
    const auto n = static_cast<std::size_t>(n_batch);
    stream_shape s;
    std::vector<cuda::matmul_shape> shapes;  // cuda: what its scratch is sized by
    for (const tensor& mat : streamed_matrices(w)) {
        const tensor* t = &mat;
        s.weight_bytes = std::max(s.weight_bytes, tensor_bytes(*t));
        s.x_floats = std::max(s.x_floats, n * std::size_t(t->cols()));
        s.y_floats = std::max(s.y_floats, n * std::size_t(t->rows()));
        if (target == stream_target::sim)
            s.scratch_bytes = std::max(s.scratch_bytes, cpu::scratch_bytes(t->type, t->cols(), n_batch) + cpu::scratch_alignment);
        else
            shapes.push_back({t->type, t->rows(), t->cols()});
    }
    if (target == stream_target::cuda) {
        s.scratch_bytes = cuda::matmul_scratch_bytes(shapes, n_batch);
        s.blas_workspace = cublas_workspace;
    }
    return s;
}

// A stream's matmul must fit its buffers (what stream_shape_for sized from every block's weights):
// a weight or a batch beyond them is a bug of the caller, named.
inline void check_stream_fits(const tensor& W, std::int64_t n, std::size_t weight_bytes, std::size_t x_floats,
                              std::size_t y_floats) {
    if (tensor_bytes(W) > weight_bytes || std::size_t(n * W.cols()) > x_floats || std::size_t(n * W.rows()) > y_floats)
        STRATA_THROW(errc::internal, "prefill stream: " + std::string(W.info ? W.info->name : "a weight") + " for " +
                                         std::to_string(n) + " tokens exceeds the stream's buffers");
}

// A sim device's stream: W and x copied into its memory, multiplied by its own CPU backend, y
// copied back. The results are the host's bit for bit (the same kernels, the same rows).
template <class Formats>
class host_stream final : public matmul_offload {
public:
    // The pieces of shape (stream_shape_for(..., sim)), taken from the sim's arena by the caller.
    host_stream(const cpu::backend& be, std::int64_t min_batch, std::span<std::byte> weights, std::span<float> x,
                std::span<float> y, std::span<std::byte> scratch)
        : be_(&be), min_batch_(min_batch), w_(weights), x_(x), y_(y), scratch_(scratch) {}

    std::int64_t min_batch() const noexcept override { return min_batch_; }
    std::int64_t calls() const noexcept override { return calls_; }
    std::uint64_t bytes_sent() const noexcept override { return sent_; }

    void matmul(const tensor& W, const float* x, std::int64_t n, float* y) const override {
        check_stream_fits(W, n, w_.size(), x_.size(), y_.size());
        const std::size_t wb = tensor_bytes(W), xn = std::size_t(n * W.cols()), yn = std::size_t(n * W.rows());
        std::memcpy(w_.data(), W.data, wb);
        std::copy_n(x, xn, x_.data());
        const cpu::weight_view staged{W.type, w_.data(), W.rows(), W.cols(), W.row_bytes};
        cpu::matmul<Formats>(*be_, staged, x_.data(), n, y_.data(), cpu::aligned_scratch(scratch_));
        std::copy_n(y_.data(), yn, y);
        ++calls_;
        sent_ += wb;
    }

private:
    const cpu::backend* be_;
    std::int64_t min_batch_;
    std::span<std::byte> w_;
    std::span<float> x_, y_;
    std::span<std::byte> scratch_;
    mutable std::int64_t calls_ = 0;
    mutable std::uint64_t sent_ = 0;
};

}  // namespace model
STRATA_NAMESPACE_END
