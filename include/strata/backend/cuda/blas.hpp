// strata/backend/cuda/blas.hpp — one cuBLAS handle, owned: created bound to a stream, its
// statuses checked (check.hpp's cuBLAS table: the same error categories as the runtime's).
//
//   cuda::blas_handle blas(stream);             // cublasCreate + cublasSetStream
//   cublasGemmEx(blas.get(), ...);              // every call on `stream`
//
// Math mode: CUBLAS_DEFAULT_MATH. Since cuBLAS 11 that already runs F16 and BF16 GEMMs on tensor
// cores (the old CUBLAS_TENSOR_OP_MATH is deprecated), while an F32 GEMM computed as
// CUBLAS_COMPUTE_32F stays true FP32: TF32 is chosen per call (CUBLAS_COMPUTE_32F_FAST_TF32),
// never by the handle, so no caller loses precision it did not ask to lose. The pointer mode is
// host (alpha and beta are host floats).
//
// Exists only under nvcc, or for a host compiler with both STRATA_CUDA_RUNTIME and STRATA_CUBLAS
// defined (linked with cudart and cublas). check.hpp compiles its cuBLAS part only when
// STRATA_CUBLAS is defined at its first inclusion: under nvcc this header defines it, so it must
// come before any other backend/cuda header of the translation unit (an #error says so).
#pragma once

#if defined(__CUDACC__) || (defined(STRATA_CUDA_RUNTIME) && defined(STRATA_CUBLAS))

#if defined(STRATA_CUDA_CHECK) && !defined(STRATA_CUBLAS)
#error "strata/backend/cuda/check.hpp was included without STRATA_CUBLAS: include blas.hpp (or matmul.hpp) first, or define STRATA_CUBLAS for the whole translation unit"
#endif
#if !defined(STRATA_CUBLAS)
#define STRATA_CUBLAS 1
#endif

#include <cstddef>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <utility>

#include "strata/backend/cuda/check.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {

class blas_handle {
public:
    // Throws strata::error (errc::io when no device or driver is usable, errc::memory when the
    // library's workspace cannot be allocated).
    explicit blas_handle(cudaStream_t stream) {
        STRATA_CUDA_CHECK(cublasCreate(&h_));
        try {
            STRATA_CUDA_CHECK(cublasSetMathMode(h_, CUBLAS_DEFAULT_MATH));
            STRATA_CUDA_CHECK(cublasSetPointerMode(h_, CUBLAS_POINTER_MODE_HOST));
            set_stream(stream);
        } catch (...) {
            cublasDestroy(h_);
            throw;
        }
    }
    blas_handle(const blas_handle&) = delete;
    blas_handle& operator=(const blas_handle&) = delete;
    blas_handle(blas_handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    blas_handle& operator=(blas_handle&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    ~blas_handle() { reset(); }

    // Later calls run on `stream` (cuBLAS then falls back to its default workspace).
    void set_stream(cudaStream_t stream) { STRATA_CUDA_CHECK(cublasSetStream(h_, stream)); }

    // A workspace of the caller's (e.g. a piece of the plan's arena), so that cuBLAS allocates
    // nothing of its own while a stream is captured into a CUDA graph. Call after set_stream.
    void set_workspace(void* p, std::size_t bytes) { STRATA_CUDA_CHECK(cublasSetWorkspace(h_, p, bytes)); }

    cublasHandle_t get() const noexcept { return h_; }

private:
    void reset() noexcept {
        if (h_ != nullptr) cublasDestroy(h_);  // a destructor reports nothing
        h_ = nullptr;
    }

    cublasHandle_t h_ = nullptr;
};

}  // namespace cuda
STRATA_NAMESPACE_END

#endif  // __CUDACC__ || (STRATA_CUDA_RUNTIME && STRATA_CUBLAS)
