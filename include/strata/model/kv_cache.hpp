// strata/model/kv_cache.hpp — the keys and values of every layer, for one sequence.
//
// Stored as fp16 (llama.cpp's default cache type), position-major: row p holds the
// n_head_kv * head_dim values of position p, heads one after another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "strata/model/hparams.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

struct kv_layer {
    std::vector<std::uint16_t> k, v;  // n_ctx x row_k, n_ctx x row_v
    std::int64_t row_k = 0, row_v = 0;
};

// Bytes the cache of one layer takes for n_ctx positions: the planner sums these, the session
// allocates with them (one source of truth).
inline std::size_t kv_layer_bytes(const hparams& h, std::int64_t n_ctx) {
    return static_cast<std::size_t>(n_ctx) * (h.n_embd_k_gqa() + h.n_embd_v_gqa()) * sizeof(std::uint16_t);
}

inline std::size_t kv_cache_bytes(const hparams& h, std::int64_t n_ctx) {
    return kv_layer_bytes(h, n_ctx) * h.n_layer;
}

struct kv_cache {
    std::int64_t n_ctx = 0;
    std::vector<kv_layer> layers;

    kv_cache() = default;
    kv_cache(const hparams& h, std::int64_t ctx) : n_ctx(ctx), layers(h.n_layer) {
        for (auto& L : layers) {
            L.row_k = h.n_embd_k_gqa();
            L.row_v = h.n_embd_v_gqa();
            L.k.assign(static_cast<std::size_t>(ctx * L.row_k), 0);
            L.v.assign(static_cast<std::size_t>(ctx * L.row_v), 0);
        }
    }

    std::size_t bytes() const noexcept {
        std::size_t b = 0;
        for (const auto& L : layers) b += (L.k.size() + L.v.size()) * sizeof(std::uint16_t);
        return b;
    }
};

}  // namespace model
STRATA_NAMESPACE_END
