// tests/cpu/fa_cache.hpp — the attention tests' random KV cache (F16 or Q8_0, rows optionally
// padded) and batch positions, shared by the CPU test of flash attention's math and the [cuda]
// test of its kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/helpers.hpp"
#include "strata/backend/cpu/attention.hpp"
#include "strata/backend/cuda/flash_attention.hpp"
#include "strata/core/half.hpp"
#include "strata/quant/row.hpp"

namespace strata_test {

// A cache of n_ctx rows of K and V in the cache's layout, every row random (rows past the visible
// keys too: reading them would show).
struct cache {
    strata::ggml_type type;
    std::int64_t row_k, row_v;
    std::size_t row_k_bytes, row_v_bytes;
    std::vector<std::byte> k, v;

    // pad: bytes after each row (2 breaks the 16-byte alignment of F16 rows: the scalar loads)
    cache(strata::ggml_type t, const strata::cuda::fa_params& p, std::int64_t n_ctx, std::uint32_t seed, std::size_t pad = 0)
        : type(t), row_k(p.n_head_kv * p.head_dim_k), row_v(p.n_head_kv * p.head_dim_v),
          row_k_bytes(strata::row_bytes(t, std::uint64_t(row_k)) + pad), row_v_bytes(strata::row_bytes(t, std::uint64_t(row_v)) + pad),
          k(row_k_bytes * std::size_t(n_ctx)), v(row_v_bytes * std::size_t(n_ctx)) {
        fill(k.data(), row_k, row_k_bytes, n_ctx, seed);
        fill(v.data(), row_v, row_v_bytes, n_ctx, seed + 1);
    }
    strata::cuda::fa_kv fa() const { return {type, k.data(), v.data(), row_k_bytes, row_v_bytes}; }
    strata::cpu::kv_view view() const { return {type, k.data(), v.data(), row_k, row_v, row_k_bytes, row_v_bytes}; }

private:
    void fill(std::byte* dst, std::int64_t n, std::size_t bytes, std::int64_t rows, std::uint32_t seed) const {
        const auto x = strata_test::random_normal(std::size_t(n * rows), seed);
        for (std::int64_t r = 0; r < rows; ++r) {
            if (type == strata::ggml_type::q8_0) {
                strata::quantize_row<strata::q8_0>(x.data() + r * n, dst + std::size_t(r) * bytes, std::size_t(n));
            } else {
                auto* h = reinterpret_cast<std::uint16_t*>(dst + std::size_t(r) * bytes);
                for (std::int64_t i = 0; i < n; ++i) h[i] = strata::fp32_to_fp16(x[std::size_t(r * n + i)]);
            }
        }
    }
};

std::vector<std::int32_t> positions(std::int64_t pos0, std::int64_t n) {
    std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
    for (std::int64_t t = 0; t < n; ++t) pos[std::size_t(t)] = std::int32_t(pos0 + t);
    return pos;
}

}  // namespace strata_test
