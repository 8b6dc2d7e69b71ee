// Instantiates cuda::matmul (kernels/mul_mat.cuh, matvec, quantize_act, cuBLAS) for the eight
// formats the test covers, behind the plain C++ functions of matmul_all.hpp. Compiled for sm_90
// in CI, where no GPU runs it.
#include "strata/backend/cuda/matmul.hpp"  // first: it enables check.hpp's cuBLAS part

#include <string>
#include <vector>

#include "strata/backend/cuda/blas.hpp"
#include "strata/quant/formats.hpp"

#include "cuda/matmul_all.hpp"

namespace strata_test {
namespace {

// Kept to the test's list (every instantiation is nvcc time); the dot formats Q8_0 and Q8_K are
// used as activation types only.
using test_formats = strata::formats<strata::f32, strata::f16, strata::bf16, strata::q4_0, strata::q8_0, strata::q4_k,
                                     strata::q6_k, strata::mxfp4>;

// Device memory freed together; failures throw strata::error (STRATA_CUDA_CHECK).
class device_buffers {
public:
    device_buffers() = default;
    device_buffers(const device_buffers&) = delete;
    device_buffers& operator=(const device_buffers&) = delete;
    ~device_buffers() {
        for (void* p : bufs_) cudaFree(p);
    }

    template <class T = std::byte>
    T* alloc(std::size_t bytes) {
        if (bytes == 0) return nullptr;
        void* p = nullptr;
        STRATA_CUDA_CHECK(cudaMalloc(&p, bytes));
        bufs_.push_back(p);
        return static_cast<T*>(p);
    }

    template <class T>
    T* upload(const T* host, std::size_t n) {
        T* p = alloc<T>(n * sizeof(T));
        STRATA_CUDA_CHECK(cudaMemcpy(p, host, n * sizeof(T), cudaMemcpyHostToDevice));
        return p;
    }

private:
    std::vector<void*> bufs_;
};

struct setup {
    device_buffers mem;
    strata::cuda::blas_handle blas{nullptr};
    strata::cuda::matmul_context ctx;
    const void* w = nullptr;
    const float* x = nullptr;
    float* y = nullptr;
    std::size_t y_count = 0;

    setup(strata::ggml_type type, const void* host_w, std::size_t w_bytes, std::int64_t rows, std::int64_t k,
          const float* host_x, std::int64_t n, std::size_t scratch_bytes) {
        w = mem.upload(static_cast<const unsigned char*>(host_w), w_bytes);
        x = mem.upload(host_x, std::size_t(n * k));
        y_count = std::size_t(n * rows);
        y = mem.alloc<float>(y_count * sizeof(float));
        STRATA_CUDA_CHECK(cudaMemset(y, 0xff, y_count * sizeof(float)));  // poison: NaN
        if (scratch_bytes == plan_scratch) scratch_bytes = strata::cuda::plan_matmul(type, rows, k, n).scratch_bytes();
        ctx = {nullptr, blas.get(), mem.alloc(scratch_bytes), scratch_bytes};
    }

    void run(strata::ggml_type type, std::int64_t rows, std::int64_t k, std::size_t row_bytes, std::int64_t n) const {
        strata::cuda::matmul<test_formats>(ctx, type, w, rows, k, row_bytes, x, n, y);
    }
};

}  // namespace

const char* cuda_matmul(strata::ggml_type w_type, const void* w, std::size_t w_bytes, std::int64_t rows, std::int64_t k,
                        std::size_t row_bytes, const float* x, std::int64_t n, float* y, std::size_t scratch_bytes) {
    setup s(w_type, w, w_bytes, rows, k, x, n, scratch_bytes);
    s.run(w_type, rows, k, row_bytes, n);
    STRATA_CUDA_CHECK(cudaDeviceSynchronize());
    STRATA_CUDA_CHECK(cudaMemcpy(y, s.y, s.y_count * sizeof(float), cudaMemcpyDeviceToHost));
    return strata::cuda::path_name(strata::cuda::choose_matmul_path(w_type, n, rows, k)).data();
}

double cuda_matmul_ms(strata::ggml_type w_type, const void* w, std::size_t w_bytes, std::int64_t rows, std::int64_t k,
                      std::size_t row_bytes, const float* x, std::int64_t n, int reps) {
    setup s(w_type, w, w_bytes, rows, k, x, n, plan_scratch);
    s.run(w_type, rows, k, row_bytes, n);  // warm-up: cuBLAS's heuristics, first-touch
    cudaEvent_t start = nullptr, stop = nullptr;
    STRATA_CUDA_CHECK(cudaEventCreate(&start));
    STRATA_CUDA_CHECK(cudaEventCreate(&stop));
    float ms = 0.0f;
    try {
        STRATA_CUDA_CHECK(cudaEventRecord(start, nullptr));
        for (int i = 0; i < reps; ++i) s.run(w_type, rows, k, row_bytes, n);
        STRATA_CUDA_CHECK(cudaEventRecord(stop, nullptr));
        STRATA_CUDA_CHECK(cudaEventSynchronize(stop));
        STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    } catch (...) {
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
        throw;
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return double(ms) / (reps > 0 ? reps : 1);
}

}  // namespace strata_test
