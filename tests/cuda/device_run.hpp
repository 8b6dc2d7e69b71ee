// tests/cuda/device_run.hpp — the device buffers of one test call (CUDA runtime; for the .cu files
// of tests/cuda only): uploads, poisoned outputs, the first error kept and every later step skipped.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <cuda_runtime.h>

namespace strata_test {

// The device buffers of one test call, freed together; the first error is kept and every
// later step is skipped.
class device_run {
public:
    device_run() = default;
    device_run(const device_run&) = delete;
    device_run& operator=(const device_run&) = delete;
    ~device_run() {
        for (void* p : bufs_) cudaFree(p);
    }

    bool ok() const { return err_.empty(); }
    const std::string& error() const { return err_; }

    void check(cudaError_t e, const char* what) {
        if (e != cudaSuccess && ok()) err_ = std::string(what) + ": " + cudaGetErrorString(e);
    }

    void* alloc(std::size_t bytes) {
        if (!ok() || bytes == 0) return nullptr;
        void* p = nullptr;
        check(cudaMalloc(&p, bytes), "cudaMalloc");
        if (p) bufs_.push_back(p);
        return p;
    }

    // A copy of host data on the device (null stays null).
    template <class T>
    T* upload(const T* host, std::size_t n) {
        if (host == nullptr) return nullptr;
        auto* p = static_cast<T*>(alloc(n * sizeof(T)));
        if (ok()) check(cudaMemcpy(p, host, n * sizeof(T), cudaMemcpyHostToDevice), "upload");
        return p;
    }

    // An output buffer, poisoned (all bits set: NaN as floats) so a kernel that writes nothing
    // cannot pass.
    template <class T = float>
    T* output(std::size_t n) {
        auto* p = static_cast<T*>(alloc(n * sizeof(T)));
        if (ok()) check(cudaMemset(p, 0xff, n * sizeof(T)), "poison");
        return p;
    }

    void launched(cudaError_t e) { check(e, "launch"); }

    // Waits for the kernels, copies the output back and says what failed, if anything.
    template <class T>
    std::string finish(T* host, const T* dev, std::size_t n) {
        if (ok()) check(cudaDeviceSynchronize(), "kernel");
        if (ok()) check(cudaMemcpy(host, dev, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
        return err_;
    }

private:
    std::vector<void*> bufs_;
    std::string err_;
};

}  // namespace strata_test
