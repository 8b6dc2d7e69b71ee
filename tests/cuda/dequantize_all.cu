// Instantiates every format's device-side dequantize (so device code never rots: CI compiles
// this for sm_90 on a machine without a GPU), behind a plain C++ function the test calls.
#include "kernels/dequantize.cuh"
#include "strata/backend/cuda/device.hpp"
#include "strata/quant/formats.hpp"

#include "cuda/dequantize_all.hpp"

namespace strata_test {

std::string cuda_dequantize(strata::ggml_type type, const void* host_src, std::size_t src_bytes,
                            float* host_dst, std::size_t n) {
    void* d_src = nullptr;
    float* d_dst = nullptr;
    auto fail = [&](cudaError_t e, const char* what) {
        cudaFree(d_src);
        cudaFree(d_dst);
        return std::string(what) + ": " + cudaGetErrorString(e);
    };
    if (auto e = cudaMalloc(&d_src, src_bytes); e != cudaSuccess) return fail(e, "cudaMalloc");
    if (auto e = cudaMalloc(&d_dst, n * sizeof(float)); e != cudaSuccess) return fail(e, "cudaMalloc");
    if (auto e = cudaMemcpy(d_src, host_src, src_bytes, cudaMemcpyHostToDevice); e != cudaSuccess) return fail(e, "upload");
    // Poison the output so a kernel that writes nothing cannot pass.
    if (auto e = cudaMemset(d_dst, 0xff, n * sizeof(float)); e != cudaSuccess) return fail(e, "cudaMemset");
    const cudaError_t launched = strata::all_formats::dispatch(type, "test tensor", [&](auto f) {
        return strata::kernels::dequantize<decltype(f)>(d_src, d_dst, n, nullptr);
    });
    if (launched != cudaSuccess) return fail(launched, "launch");
    if (auto e = cudaMemcpy(host_dst, d_dst, n * sizeof(float), cudaMemcpyDeviceToHost); e != cudaSuccess) return fail(e, "download");
    cudaFree(d_src);
    cudaFree(d_dst);
    return {};
}

// No device or no driver reads as absent (the tests WARN and pass); any other failure of the
// runtime throws, so that a broken GPU machine fails the tests instead of skipping them.
bool cuda_device_present() { return strata::cuda::device_count() > 0; }

}  // namespace strata_test
