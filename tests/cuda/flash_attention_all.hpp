// The host-side interface of tests/cuda/flash_attention_all.cu (plain C++, no CUDA headers):
// each call uploads a cache and queries, poisons the output (all bits set: NaN), runs
// kernels::flash_attention and downloads the result. Returns an empty string, or what failed.
// Host pointers throughout; the fa_kv's k and v point at host copies of the whole cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "strata/backend/cuda/flash_attention.hpp"

namespace strata_test {

// kv: n_ctx rows of the cache on the host (k_bytes / v_bytes in all); pos: n_tokens positions
// (null when not causal); sinks: n_head logits or null; out: n_tokens * n_head * head_dim_v.
std::string cuda_flash_attention(const float* q, std::int64_t n_tokens, const std::int32_t* pos, std::int64_t kv_len_max,
                                 const strata::cuda::fa_kv& kv, std::size_t k_bytes, std::size_t v_bytes,
                                 const strata::cuda::fa_params& p, const float* sinks, float* out);

// A CUDA graph of one decode step (n_tokens = 1 at pos_a), captured once and replayed twice:
// first as captured (out_a), then after pos[] on the device becomes pos_b and the cache rows
// from pos_a + 1 to pos_b are written (from new_k / new_v, row bytes as kv's) into the device
// cache (out_b). kv holds the cache as it is before the second replay's rows.
std::string cuda_flash_attention_graph(const float* q, std::int32_t pos_a, std::int32_t pos_b, std::int64_t kv_len_max,
                                       const strata::cuda::fa_kv& kv, std::size_t k_bytes, std::size_t v_bytes,
                                       const std::byte* new_k, const std::byte* new_v, const strata::cuda::fa_params& p,
                                       float* out_a, float* out_b);

// Milliseconds per call of n_tokens queries at positions kv_len - n_tokens .. kv_len - 1 over
// a random cache of kv_len rows (causal), averaged over `reps` calls after a warm-up.
std::string cuda_flash_attention_time(strata::ggml_type type, const strata::cuda::fa_params& p, std::int64_t n_tokens,
                                      std::int64_t kv_len, int reps, double* ms);

}  // namespace strata_test
