// strata/quant/format.hpp — what a quantization format policy is.
//
// A format is a struct of static facts plus three per-block functions, written once and used
// by the CPU backend, the CUDA kernels (they are STRATA_HD) and the tests:
//
//   struct q4_0 {
//       static constexpr ggml_type type = ggml_type::q4_0;
//       static constexpr std::uint32_t block_elems = 32, block_bytes = 18;
//       static constexpr std::string_view name = "q4_0";
//       struct block { fp16_t d; std::uint8_t qs[16]; };   // exactly GGUF's bytes
//       using dot_format = q8_0;                            // activations it multiplies with
//       static STRATA_HD void dequantize(const block&, float* y);       // block_elems values
//       static STRATA_HD void quantize(const float* x, block&);          // reference quantizer
//       static STRATA_HD float dot(const block&, const dot_format::block&);
//   };
//   static_assert(quant_format<q4_0>);
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"

STRATA_NAMESPACE_BEGIN

template <class F>
concept quant_format =
    requires(const typename F::block& b, typename F::block& out, float* y, const float* x) {
        { F::type } -> std::convertible_to<ggml_type>;
        { F::block_elems } -> std::convertible_to<std::uint32_t>;
        { F::block_bytes } -> std::convertible_to<std::uint32_t>;
        { F::name } -> std::convertible_to<std::string_view>;
        typename F::dot_format;
        F::dequantize(b, y);
        F::quantize(x, out);
    } &&
    std::is_trivially_copyable_v<typename F::block> &&
    sizeof(typename F::block) == F::block_bytes &&           // layout is GGUF's, byte for byte
    F::block_elems == info(F::type).block_elems &&          // and agrees with the type table
    F::block_bytes == info(F::type).block_bytes &&
    F::name == info(F::type).name;

// A format together with the dot product against its activation format. Separate from the
// concept above because the activation format must itself be a format (and may be F itself).
template <class F>
concept dot_capable = quant_format<F> && quant_format<typename F::dot_format> &&
    requires(const typename F::block& w, const typename F::dot_format::block& a) {
        { F::dot(w, a) } -> std::convertible_to<float>;
    } &&
    // every pairing llama.cpp uses has equal block sizes (32 with Q8_0/Q8_1, 256 with Q8_K)
    F::block_elems == F::dot_format::block_elems;

STRATA_NAMESPACE_END
