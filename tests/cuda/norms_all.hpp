// The host-side interface of tests/cuda/norms_all.cu (plain C++, no CUDA headers): each call
// uploads its inputs, poisons its output (all bits set: NaN), runs one kernel of
// kernels/elementwise.cuh and downloads the result. Returns an empty string, or what failed.
// Host pointers throughout.
#pragma once

#include <cstdint>
#include <string>

namespace strata_test {

// n_tokens rows of n; w and b: n values each, or null. in_place: the kernel runs with y == x
// (a device copy of x), as the bert encoder calls it.
std::string cuda_layer_norm(const float* x, const float* w, const float* b, float* y, std::int64_t n_tokens, std::int64_t n,
                            float eps, bool in_place);

// n values of g and u.
std::string cuda_swiglu_oai(const float* g, const float* u, float* y, std::int64_t n, float alpha, float limit);

}  // namespace strata_test
