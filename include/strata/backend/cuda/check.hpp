// strata/backend/cuda/check.hpp — a failing CUDA runtime (or cuBLAS) status becomes a
// strata::error naming the statement, the file and line, and what the driver said.
//
//   STRATA_CUDA_CHECK(cudaMalloc(&p, n));                 // throws on any status but success
//   STRATA_CUDA_CHECK_LAUNCH(kernels::f<F>(..., s), s);   // the launch's status; and, built with
//                                                         // -DSTRATA_DEBUG_SYNC, a synchronise of
//                                                         // the stream so a faulting kernel is
//                                                         // reported at its own launch
//
// Categories: cudaErrorMemoryAllocation (and CUBLAS_STATUS_ALLOC_FAILED) is errc::memory; a
// missing or unusable device or driver (no device, driver too old, ECC, device busy, the
// driver not ready) is errc::io — the environment failed, as a file that cannot be opened,
// and the caller may fall back to the CPU; code not built for this GPU is errc::unsupported;
// everything else (an invalid value, an illegal address, a failed launch) is errc::internal,
// a broken invariant inside Strata, which no retry or fallback fixes.
//
// The CUDA part exists only in translation units compiled by nvcc, or by a host compiler that
// defines STRATA_CUDA_RUNTIME (and links cudart): a plain g++ build never sees cuda_runtime.h.
// Define STRATA_CUBLAS as well to check cublasStatus_t (only the header is needed: the names
// are Strata's own table, so nothing extra is linked).
#pragma once

#include <string>
#include <string_view>

#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace cuda {
namespace detail {

// "STMT failed: NAME (DESCRIPTION) at FILE:LINE" — CUDA-free, so that it is tested without CUDA.
inline std::string failure_message(std::string_view stmt, std::string_view name, std::string_view description,
                                   std::string_view file, int line) {
    std::string s(stmt);
    s += " failed: ";
    s += name;
    s += " (";
    s += description;
    s += ") at ";
    s += file;
    s += ':';
    s += std::to_string(line);
    return s;
}

}  // namespace detail
}  // namespace cuda
STRATA_NAMESPACE_END

#if defined(__CUDACC__) || defined(STRATA_CUDA_RUNTIME)
#include <cuda_runtime.h>
// nvcc always has cuBLAS's header: its statuses are checked in every CUDA translation unit
// (linking cuBLAS is only needed where one is called).
#if defined(__CUDACC__) && !defined(STRATA_CUBLAS)
#define STRATA_CUBLAS
#endif
#if defined(STRATA_CUBLAS)
#include <cublas_v2.h>
#endif

STRATA_NAMESPACE_BEGIN
namespace cuda {

// What kind of failure a runtime status is (see the top of this file for why).
inline errc category_of(cudaError_t e) noexcept {
    switch (e) {
        case cudaErrorMemoryAllocation: return errc::memory;
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
        case cudaErrorInitializationError:
        case cudaErrorStubLibrary:
        case cudaErrorCallRequiresNewerDriver:
        case cudaErrorSystemDriverMismatch:
        case cudaErrorCompatNotSupportedOnDevice:
        case cudaErrorSystemNotReady:
        case cudaErrorDevicesUnavailable:
        case cudaErrorDeviceNotLicensed:
        case cudaErrorECCUncorrectable:
        case cudaErrorLaunchTimeout: return errc::io;
        case cudaErrorNoKernelImageForDevice:
        case cudaErrorUnsupportedPtxVersion:
        case cudaErrorNotSupported: return errc::unsupported;
        default: return errc::internal;
    }
}

namespace detail {

inline bool failed(cudaError_t e) noexcept { return e != cudaSuccess; }

inline void raise(cudaError_t e, const char* stmt, const char* file, int line) {
    // A non-sticky error (an out-of-memory, an invalid value) stays the runtime's "last error"
    // and would be reported again by the next cudaGetLastError() of a launch check: clear it.
    (void)cudaGetLastError();
    STRATA_THROW(category_of(e), failure_message(stmt, cudaGetErrorName(e), cudaGetErrorString(e), file, line));
}

}  // namespace detail

#if defined(STRATA_CUBLAS)
struct cublas_status_text {
    std::string_view name, description;
};

inline cublas_status_text describe(cublasStatus_t s) noexcept {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS: return {"CUBLAS_STATUS_SUCCESS", "success"};
        case CUBLAS_STATUS_NOT_INITIALIZED: return {"CUBLAS_STATUS_NOT_INITIALIZED", "the library was not initialized"};
        case CUBLAS_STATUS_ALLOC_FAILED: return {"CUBLAS_STATUS_ALLOC_FAILED", "the resource allocation failed"};
        case CUBLAS_STATUS_INVALID_VALUE: return {"CUBLAS_STATUS_INVALID_VALUE", "an invalid numeric value was used as an argument"};
        case CUBLAS_STATUS_ARCH_MISMATCH: return {"CUBLAS_STATUS_ARCH_MISMATCH", "an absent device architectural feature is required"};
        case CUBLAS_STATUS_MAPPING_ERROR: return {"CUBLAS_STATUS_MAPPING_ERROR", "an access to GPU memory space failed"};
        case CUBLAS_STATUS_EXECUTION_FAILED: return {"CUBLAS_STATUS_EXECUTION_FAILED", "the GPU program failed to execute"};
        case CUBLAS_STATUS_INTERNAL_ERROR: return {"CUBLAS_STATUS_INTERNAL_ERROR", "an internal operation failed"};
        case CUBLAS_STATUS_NOT_SUPPORTED: return {"CUBLAS_STATUS_NOT_SUPPORTED", "the functionality requested is not supported"};
        case CUBLAS_STATUS_LICENSE_ERROR: return {"CUBLAS_STATUS_LICENSE_ERROR", "the functionality requested requires some license"};
        default: return {"CUBLAS_STATUS_UNKNOWN", "an unknown cuBLAS status"};
    }
}

inline errc category_of(cublasStatus_t s) noexcept {
    switch (s) {
        case CUBLAS_STATUS_ALLOC_FAILED: return errc::memory;
        case CUBLAS_STATUS_NOT_INITIALIZED: return errc::io;
        case CUBLAS_STATUS_ARCH_MISMATCH:
        case CUBLAS_STATUS_NOT_SUPPORTED: return errc::unsupported;
        default: return errc::internal;
    }
}

namespace detail {
inline bool failed(cublasStatus_t s) noexcept { return s != CUBLAS_STATUS_SUCCESS; }
inline void raise(cublasStatus_t s, const char* stmt, const char* file, int line) {
    const cublas_status_text t = describe(s);
    STRATA_THROW(category_of(s), failure_message(stmt, t.name, t.description, file, line));
}
}  // namespace detail
#endif  // STRATA_CUBLAS

}  // namespace cuda
STRATA_NAMESPACE_END

#define STRATA_CUDA_CHECK(stmt)                                                                   \
    do {                                                                                          \
        const auto strata_cuda_status_ = (stmt);                                                  \
        if (::strata::cuda::detail::failed(strata_cuda_status_))                                  \
            ::strata::cuda::detail::raise(strata_cuda_status_, #stmt, __FILE__, __LINE__);        \
    } while (0)

// After a kernel launch: STMT is the launcher's returned status (or cudaGetLastError() after a
// raw <<<...>>>). With STRATA_DEBUG_SYNC defined the stream is synchronised too, so that an
// asynchronous fault is charged to this launch and not to some later call.
#if defined(STRATA_DEBUG_SYNC)
#define STRATA_CUDA_CHECK_LAUNCH(stmt, stream)                                                    \
    do {                                                                                          \
        STRATA_CUDA_CHECK(stmt);                                                                  \
        STRATA_CUDA_CHECK(cudaStreamSynchronize(stream));                                         \
    } while (0)
#else
#define STRATA_CUDA_CHECK_LAUNCH(stmt, stream)                                                    \
    do {                                                                                          \
        STRATA_CUDA_CHECK(stmt);                                                                  \
        (void)(stream);                                                                           \
    } while (0)
#endif

#endif  // __CUDACC__ || STRATA_CUDA_RUNTIME
