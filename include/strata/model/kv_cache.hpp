// strata/model/kv_cache.hpp — the keys and values of every layer, for one sequence.
//
// Position-major: row p holds the n_head_kv * head_dim values of position p, heads one after
// another, stored as F16 (llama.cpp's default cache type) or Q8_0 (half the bytes, blocks of 32
// values along a row, so head_dim must be a multiple of 32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/model/hparams.hpp"

STRATA_NAMESPACE_BEGIN
namespace model {

// The cache types the engine runs. The planner may price others (q4_0, for Ollama's estimate).
inline bool kv_type_supported(ggml_type t) noexcept { return t == ggml_type::f16 || t == ggml_type::q8_0; }

inline ggml_type kv_type_from_name(std::string_view name) {
    if (name == "f16") return ggml_type::f16;
    if (name == "q8_0") return ggml_type::q8_0;
    STRATA_THROW(errc::argument, "KV cache type '" + std::string(name) + "': expected f16 or q8_0");
}

struct kv_layer {
    ggml_type type = ggml_type::f16;
    std::span<std::byte> k, v;          // n_ctx rows of row_k_bytes / row_v_bytes
    std::int64_t row_k = 0, row_v = 0;  // values per position
    std::size_t row_k_bytes = 0, row_v_bytes = 0;
};

// Bytes the cache of one layer takes for n_ctx positions: the planner sums these, the session
// allocates with them (one source of truth).
inline std::size_t kv_layer_bytes(const hparams& h, std::int64_t n_ctx, ggml_type type = ggml_type::f16) {
    return static_cast<std::size_t>(n_ctx) *
           (row_bytes(type, h.n_embd_k_gqa()) + row_bytes(type, h.n_embd_v_gqa()));
}

inline std::size_t kv_cache_bytes(const hparams& h, std::int64_t n_ctx, ggml_type type = ggml_type::f16) {
    return kv_layer_bytes(h, n_ctx, type) * h.n_layer;
}

// Where a layer's cache lives: storage of the bytes asked for on the layer's device, or an
// empty span for host memory the cache owns.
using kv_allocator = std::function<std::span<std::byte>(std::uint32_t layer, std::size_t bytes)>;

struct kv_cache {
    std::int64_t n_ctx = 0;
    ggml_type type = ggml_type::f16;
    std::vector<kv_layer> layers;

    kv_cache() = default;
    kv_cache(const hparams& h, std::int64_t ctx, ggml_type t = ggml_type::f16, const kv_allocator& alloc = {})
        : n_ctx(ctx), type(t), layers(h.n_layer) {
        if (!kv_type_supported(t))
            STRATA_THROW(errc::unsupported, std::string("KV cache type ") + std::string(type_name(t)) + ": the engine runs f16 and q8_0");
        if (t == ggml_type::q8_0 && (h.head_dim_k % 32 != 0 || h.head_dim_v % 32 != 0))
            STRATA_THROW(errc::unsupported, "KV cache type q8_0 needs head dimensions that are multiples of 32, the model has " +
                                                std::to_string(h.head_dim_k) + "/" + std::to_string(h.head_dim_v));
        const std::size_t layer_bytes = kv_layer_bytes(h, ctx, t);
        std::vector<std::span<std::byte>> storage(h.n_layer);
        std::size_t host_bytes = 0;
        for (std::uint32_t il = 0; il < h.n_layer; ++il) {
            if (alloc) storage[il] = alloc(il, layer_bytes);
            if (storage[il].empty()) host_bytes += layer_bytes;
        }
        host_.assign(host_bytes, std::byte{0});
        std::size_t at = 0;
        for (std::uint32_t il = 0; il < h.n_layer; ++il) {
            auto& L = layers[il];
            L.type = t;
            L.row_k = h.n_embd_k_gqa();
            L.row_v = h.n_embd_v_gqa();
            L.row_k_bytes = row_bytes(t, L.row_k);
            L.row_v_bytes = row_bytes(t, L.row_v);
            std::span<std::byte> mem = storage[il];
            if (mem.empty()) {
                mem = std::span<std::byte>(host_).subspan(at, layer_bytes);
                at += layer_bytes;
            }
            const std::size_t k_bytes = static_cast<std::size_t>(ctx) * L.row_k_bytes;
            L.k = mem.subspan(0, k_bytes);
            L.v = mem.subspan(k_bytes, layer_bytes - k_bytes);
        }
    }

    kv_cache(kv_cache&&) = default;
    kv_cache& operator=(kv_cache&&) = default;
    kv_cache(const kv_cache&) = delete;  // the layers point into host_
    kv_cache& operator=(const kv_cache&) = delete;

    std::size_t bytes() const noexcept {
        std::size_t b = 0;
        for (const auto& L : layers) b += L.k.size() + L.v.size();
        return b;
    }

private:
    std::vector<std::byte> host_;
};

}  // namespace model
STRATA_NAMESPACE_END
