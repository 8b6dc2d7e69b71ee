// strata/core/half.hpp — IEEE half, bfloat16 and E8M0 scalars, converted bit-exactly.
//
// Written with integer operations only, so the same code is a constexpr host function and a
// device function under nvcc, and gives the same bits everywhere (no reliance on F16C or on
// the compiler's _Float16).
#pragma once

#include <bit>
#include <cstdint>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN

// Storage types: plain bits, so block structs stay trivially copyable and layout-exact.
struct fp16_t { std::uint16_t bits; };
struct bf16_t { std::uint16_t bits; };
static_assert(sizeof(fp16_t) == 2 && sizeof(bf16_t) == 2);

namespace detail {
STRATA_HD constexpr float bits_to_float(std::uint32_t u) noexcept { return std::bit_cast<float>(u); }
STRATA_HD constexpr std::uint32_t float_to_bits(float f) noexcept { return std::bit_cast<std::uint32_t>(f); }
}  // namespace detail

// Exact: every half value is a float value.
STRATA_HD constexpr float fp16_to_fp32(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return detail::bits_to_float(sign | 0x7f800000u | (man << 13));  // inf / nan
    if (exp == 0) {
        if (man == 0) return detail::bits_to_float(sign);  // signed zero
        // subnormal: shift the mantissa up until its leading 1 is the implicit bit
        std::uint32_t e = 113;  // 127 - 15 + 1
        while ((man & 0x400u) == 0) { man <<= 1; --e; }
        man &= 0x3ffu;
        return detail::bits_to_float(sign | (e << 23) | (man << 13));
    }
    return detail::bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}

// Round to nearest, ties to even; overflow to inf; NaN stays NaN (quiet).
STRATA_HD constexpr std::uint16_t fp32_to_fp16(float f) noexcept {
    const std::uint32_t u = detail::float_to_bits(f);
    const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t exp = (u >> 23) & 0xffu;
    std::uint32_t man = u & 0x7fffffu;
    if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (man ? 0x200u : 0u));
    const int e = static_cast<int>(exp) - 127 + 15;  // re-biased exponent
    if (e >= 0x1f) return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (e <= 0) {
        // result is subnormal or zero: value = man24 * 2^(exp-150); half subnormal unit is 2^-24
        if (e < -10) return sign;  // below half of the smallest subnormal: rounds to zero
        man |= 0x800000u;          // implicit bit
        const int shift = 14 - e;  // 24-bit mantissa down to the subnormal grid
        std::uint32_t q = man >> shift;
        const std::uint32_t rem = man & ((1u << shift) - 1u);
        const std::uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) ++q;  // may carry into the normal range: fine
        return static_cast<std::uint16_t>(sign | q);
    }
    std::uint32_t q = (static_cast<std::uint32_t>(e) << 10) | (man >> 13);
    const std::uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q;  // carry may reach inf: correct
    return static_cast<std::uint16_t>(sign | q);
}

STRATA_HD constexpr float bf16_to_fp32(std::uint16_t b) noexcept {
    return detail::bits_to_float(static_cast<std::uint32_t>(b) << 16);
}

// Round to nearest, ties to even; NaN is kept a (quiet) NaN — as ggml converts.
STRATA_HD constexpr std::uint16_t fp32_to_bf16(float f) noexcept {
    const std::uint32_t u = detail::float_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
    return static_cast<std::uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

STRATA_HD constexpr float to_float(fp16_t h) noexcept { return fp16_to_fp32(h.bits); }
STRATA_HD constexpr float to_float(bf16_t h) noexcept { return bf16_to_fp32(h.bits); }
STRATA_HD constexpr fp16_t to_fp16(float f) noexcept { return {fp32_to_fp16(f)}; }
STRATA_HD constexpr bf16_t to_bf16(float f) noexcept { return {fp32_to_bf16(f)}; }

// E8M0 (OCP microscaling shared exponent): 2^(e-127). MXFP4 stores its E2M1 values doubled
// (so they are integers), hence the "half" variant 2^(e-128) used to scale them back.
STRATA_HD constexpr float e8m0_to_fp32(std::uint8_t e) noexcept {
    // e == 0 is 2^-127, a float subnormal: bit 22 set
    const std::uint32_t bits = e == 0 ? 0x00400000u : static_cast<std::uint32_t>(e) << 23;
    return detail::bits_to_float(bits);
}
STRATA_HD constexpr float e8m0_to_fp32_half(std::uint8_t e) noexcept {
    // 2^(e-128): for e < 2 the result is subnormal (2^-128 = bit 21, 2^-127 = bit 22)
    const std::uint32_t bits = e < 2 ? (0x00200000u << e) : static_cast<std::uint32_t>(e - 1) << 23;
    return detail::bits_to_float(bits);
}

STRATA_NAMESPACE_END
