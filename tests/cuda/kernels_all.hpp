// The host-side interface of tests/cuda/kernels_all.cu (plain C++, no CUDA headers): each call
// uploads its inputs, poisons its outputs (all bits set: NaN), runs one kernel of kernels/ and
// downloads the result. Returns an empty string, or what failed. Host pointers throughout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "strata/core/dtype.hpp"

namespace strata_test {

// k floats to blocks of `act` (q8_0, q8_1 or q8_k): k / block_elems * block_bytes bytes at dst.
std::string cuda_quantize_act(strata::ggml_type act, const float* x, std::int64_t k, void* dst);

// y (rows floats) = W x (k floats): W is rows x k of w_type, rows row_bytes apart (w_bytes in
// all). The activations are quantized on the device to the format's dot_format first.
std::string cuda_matvec(strata::ggml_type w_type, const void* w, std::size_t w_bytes, std::int64_t rows, std::int64_t k,
                        std::size_t row_bytes, const float* x, float* y);

// n_tokens rows of n; w: n gains or null.
std::string cuda_rms_norm(const float* x, const float* w, float* y, std::int64_t n_tokens, std::int64_t n, float eps);

// n_tokens x n_heads head vectors of head_dim, out of place; pos: n_tokens positions;
// freq_factors: n_rot / 2 values or null.
std::string cuda_rope(const float* x, float* y, std::int64_t n_tokens, std::int64_t n_heads, std::int64_t head_dim,
                      const std::int32_t* pos, std::int64_t n_rot, float base, float freq_scale,
                      const float* freq_factors, bool neox);

std::string cuda_swiglu(const float* g, const float* u, float* y, std::int64_t n);
std::string cuda_geglu(const float* g, const float* u, float* y, std::int64_t n);
std::string cuda_softcap(const float* x, float* y, std::int64_t n, float c);
std::string cuda_add(const float* a, const float* b, float* y, std::int64_t n);
std::string cuda_scale(const float* x, float* y, std::int64_t n, float s);

// out (n_tokens x k floats) = rows ids[t] of a table of `type` rows, row_bytes apart.
std::string cuda_get_rows(strata::ggml_type type, const void* table, std::size_t table_bytes, std::size_t row_bytes,
                          const std::int32_t* ids, std::int64_t n_tokens, std::int64_t k, float* out);

// The MoE row moves of one routing (kernels/moe.cuh): x (n_tokens x len) gathered per expert by
// the slots grouped by expert (offsets: n_expert + 1 entries), each expert's rows doubled (a
// stand-in for its FFN), scattered with the slots' weights, and each token's n_used slots summed
// into out (n_tokens x len).
std::string cuda_moe_rows(const float* x, std::int64_t n_tokens, int n_used, int n_expert, std::int64_t len,
                          const std::int32_t* grouped, const std::int32_t* offsets, const float* weights, float* out);

}  // namespace strata_test
