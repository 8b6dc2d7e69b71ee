// strata/model/cuda_stream.hpp — the prefill stream of a GPU (model/prefill_stream.hpp): each
// large-batch matmul of the host's layers sends its weight and activations to the device,
// multiplies there (backend/cuda/matmul.hpp, the GEMM path for these batches), and brings the
// result back. Its buffers are stream_shape's pieces of the session's arena on the GPU; it has
// its own stream and cuBLAS handle (the GPU's stage may be mid-segment on its own).
//
// One weight is in flight at a time: the copy of the next does not yet overlap the product of
// this one (a second weight buffer would let it; the plan's buffers would grow by the largest
// weight).
//
// Its content exists only in nvcc translation units (under __CUDACC__).
#pragma once

#if defined(__CUDACC__)

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "strata/backend/cuda/arena.hpp"
#include "strata/backend/cuda/blas.hpp"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/device.hpp"
#include "strata/backend/cuda/matmul.hpp"
#include "strata/model/cuda_workspace.hpp"
#include "strata/model/prefill_stream.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

inline stream_shape cuda_stream_shape(const weights& w, std::int64_t n_batch) {
    return stream_shape_for(w, n_batch, stream_target::cuda, cublas_workspace_bytes);
}

template <class Formats>
class cuda_stream final : public matmul_offload {
public:
    cuda_stream(cuda::device_arena& mem, const weights& w, std::int64_t n_batch, std::int64_t min_batch)
        : device_(mem.device()), min_batch_(min_batch), shape_(cuda_stream_shape(w, n_batch)) {
        cuda::device_guard on(device_);
        w_ = mem.take(shape_.weight_bytes, "prefill stream: weights");
        x_ = reinterpret_cast<float*>(mem.take(shape_.x_floats * sizeof(float), "prefill stream: x"));
        y_ = reinterpret_cast<float*>(mem.take(shape_.y_floats * sizeof(float), "prefill stream: y"));
        scratch_ = mem.take(shape_.scratch_bytes, "prefill stream: matmul scratch");
        std::byte* ws = mem.take(shape_.blas_workspace, "prefill stream: cuBLAS workspace");
        res_ = std::make_unique<resources>();
        res_->blas.set_workspace(ws, arena::padded(shape_.blas_workspace));
    }

    std::int64_t min_batch() const noexcept override { return min_batch_; }
    std::int64_t calls() const noexcept override { return calls_; }
    std::uint64_t bytes_sent() const noexcept override { return sent_; }

    void matmul(const tensor& W, const float* x, std::int64_t n, float* y) const override {
        check_stream_fits(W, n, shape_.weight_bytes, shape_.x_floats, shape_.y_floats);
        const std::size_t wb = tensor_bytes(W), xb = std::size_t(n * W.cols()) * sizeof(float),
                          yb = std::size_t(n * W.rows()) * sizeof(float);
        cuda::device_guard on(device_);
        cudaStream_t s = res_->stream.get();
        // W comes from the memory map (pageable): the driver stages the copy through pinned memory
        STRATA_CUDA_CHECK(cudaMemcpyAsync(w_, W.data, wb, cudaMemcpyHostToDevice, s));
        STRATA_CUDA_CHECK(cudaMemcpyAsync(x_, x, xb, cudaMemcpyHostToDevice, s));
        const cuda::matmul_context ctx{s, res_->blas.get(), scratch_, arena::padded(shape_.scratch_bytes)};
        cuda::matmul<Formats>(ctx, W.type, w_, W.rows(), W.cols(), W.row_bytes, x_, n, y_);
        STRATA_CUDA_CHECK(cudaMemcpyAsync(y, y_, yb, cudaMemcpyDeviceToHost, s));
        res_->stream.synchronize();
        ++calls_;
        sent_ += wb;
    }

private:
    struct resources {
        cuda::stream stream;
        cuda::blas_handle blas{stream.get()};
    };

    int device_ = 0;
    std::int64_t min_batch_ = 0;
    stream_shape shape_;
    std::byte* w_ = nullptr;
    float *x_ = nullptr, *y_ = nullptr;
    std::byte* scratch_ = nullptr;
    std::unique_ptr<resources> res_;
    mutable std::int64_t calls_ = 0;
    mutable std::uint64_t sent_ = 0;
};

}  // namespace model
STRATA_NAMESPACE_END

#endif  // __CUDACC__
