// strata/quant/row.hpp — whole rows of a format: the scalar reference every backend is tested
// against. Rows are contiguous blocks; n must be a multiple of the block size.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/quant/format.hpp"

STRATA_NAMESPACE_BEGIN

// Precondition for all three: `src`/`dst` point at whole blocks, aligned for F::block (GGUF's
// 32-byte tensor alignment and block sizes guarantee it for mapped tensors).
template <quant_format F>
void dequantize_row(const void* src, float* dst, std::size_t n) {
    const auto* b = static_cast<const typename F::block*>(src);
    for (std::size_t i = 0; i < n / F::block_elems; ++i) F::dequantize(b[i], dst + i * F::block_elems);
}

template <quant_format F>
void quantize_row(const float* src, void* dst, std::size_t n) {
    auto* b = static_cast<typename F::block*>(dst);
    for (std::size_t i = 0; i < n / F::block_elems; ++i) F::quantize(src + i * F::block_elems, b[i]);
}

// Dot of a weight row in F with an activation row already quantized to F::dot_format
// (the two have equal block sizes, see dot_capable).
template <dot_capable F>
float dot_row(const void* w, const void* a, std::size_t n) {
    const auto* wb = static_cast<const typename F::block*>(w);
    const auto* ab = static_cast<const typename F::dot_format::block*>(a);
    float sum = 0.0f;
    for (std::size_t i = 0; i < n / F::block_elems; ++i) sum += F::dot(wb[i], ab[i]);
    return sum;
}

STRATA_NAMESPACE_END
