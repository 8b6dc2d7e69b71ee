// The host-side interface of tests/cuda/dequantize_all.cu (plain C++, no CUDA headers).
#pragma once

#include <cstddef>
#include <string>

#include "strata/core/dtype.hpp"

namespace strata_test {
// Dequantizes n elements of `type` on the GPU; returns an empty string or what failed.
std::string cuda_dequantize(strata::ggml_type type, const void* host_src, std::size_t src_bytes,
                            float* host_dst, std::size_t n);
bool cuda_device_present();
}  // namespace strata_test
