// strata/quant/round.hpp — the rounding helpers the reference quantizers are defined with.
#pragma once

#include <bit>
#include <cstdint>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace detail {

// Round to nearest, ties to even, for |x| < 2^22: adding 1.5 * 2^23 puts the integer part in
// the low mantissa bits (the float addition does the rounding). This is the rounding ggml's
// K-quant and Q8_K quantizers use, so matching it matters for byte-exact output.
STRATA_HD constexpr int nearest_int(float x) noexcept {
    const float v = x + 12582912.0f;
    const auto bits = std::bit_cast<std::uint32_t>(v);
    return static_cast<int>(bits & 0x007fffffu) - 0x00400000;
}

// Round half away from zero (C's roundf) for |x| < 2^31, without <cmath> so it is constexpr.
STRATA_HD constexpr float round_away(float x) noexcept {
    const float a = x < 0 ? -x : x;
    if (!(a < 2147483648.0f)) return x;  // huge, inf or NaN: nothing to round
    auto t = static_cast<float>(static_cast<std::int64_t>(a));  // truncation
    if (a - t >= 0.5f) t += 1.0f;
    return x < 0 ? -t : t;
}

STRATA_HD constexpr float fabs_hd(float x) noexcept { return x < 0 ? -x : x; }

}  // namespace detail
STRATA_NAMESPACE_END
