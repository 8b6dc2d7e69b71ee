// Scalar conversions, checked against oracles that do not share their code: every half value
// decoded by arithmetic from its fields, and float -> half rounding as "the nearest
// representable half, ties to the even one", found by search over all halves.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "strata/core/error.hpp"
#include "strata/core/half.hpp"

using namespace strata;

namespace {

double half_by_fields(std::uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    double v = exp == 0 ? std::ldexp(man, -24) : std::ldexp(1024 + man, exp - 25);
    return sign ? -v : v;
}

struct finite_halves {
    std::vector<std::pair<double, std::uint16_t>> sorted;  // non-negative finite halves by value
    finite_halves() {
        for (std::uint32_t h = 0; h < 0x7c00; ++h) sorted.emplace_back(half_by_fields(std::uint16_t(h)), std::uint16_t(h));
    }
    // nearest half to |x|, ties to even mantissa; past the largest half + half an ulp: inf
    std::uint16_t nearest(float x) const {
        const double a = std::fabs(double(x));
        const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
        if (a >= 65520.0) return sign | 0x7c00;
        auto it = std::lower_bound(sorted.begin(), sorted.end(), std::make_pair(a, std::uint16_t(0)));
        if (it == sorted.end()) return sign | 0x7bff;  // in (65504, 65520): the largest half
        if (it->first == a || it == sorted.begin()) return sign | it->second;
        const auto lo = *(it - 1), hi = *it;
        const double dl = a - lo.first, dh = hi.first - a;
        if (dl < dh) return sign | lo.second;
        if (dh < dl) return sign | hi.second;
        return sign | ((lo.second & 1) ? hi.second : lo.second);
    }
};

float from_bits(std::uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
std::uint32_t to_bits(float f) { std::uint32_t u; std::memcpy(&u, &f, 4); return u; }

}  // namespace

TEST_CASE("fp16 -> fp32 is exact for all 65536 halves", "[core]") {
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_fp32(std::uint16_t(h));
        const int exp = (h >> 10) & 31;
        if (exp == 31) {
            if (h & 1023) { CHECK(std::isnan(f)); } else { CHECK(std::isinf(f)); }
            continue;
        }
        if (double(f) != half_by_fields(std::uint16_t(h)) || std::signbit(f) != bool(h >> 15)) {
            FAIL_CHECK("half 0x" << std::hex << h << " decoded as " << f);
        }
    }
}

TEST_CASE("fp32 -> fp16 rounds to the nearest half, ties to even", "[core]") {
    static const finite_halves oracle;
    std::vector<float> xs = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, -1e9f,
                             5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 6.1035156e-5f,
                             6.1035152e-5f, 1.0009766f, 1.0004883f, 1.0014648f, 0.33333334f};
    // every half and the midpoints around it
    for (std::uint32_t h = 0; h < 0x7c00; ++h) {
        const double v = half_by_fields(std::uint16_t(h)), next = half_by_fields(std::uint16_t(h + 1));
        const float mid = float((v + next) / 2);
        xs.insert(xs.end(), {float(v), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), -mid});
    }
    std::mt19937 rng(std::random_device{}());
    for (int i = 0; i < 200000; ++i) {
        const float f = from_bits(rng());
        if (std::isfinite(f)) xs.push_back(f);
    }
    std::size_t bad = 0;
    for (float x : xs) {
        const auto got = fp32_to_fp16(x), want = oracle.nearest(x);
        if (got != want && bad++ < 5) FAIL_CHECK(x << ": got 0x" << std::hex << got << " want 0x" << want);
    }
    CHECK(bad == 0);
    CHECK(fp32_to_fp16(std::numeric_limits<float>::infinity()) == 0x7c00);
    CHECK((fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()) & 0x7fff) > 0x7c00);
}

TEST_CASE("bf16 conversions", "[core]") {
    CHECK(bf16_to_fp32(0x3f80) == 1.0f);
    CHECK(bf16_to_fp32(0xc040) == -3.0f);
    std::mt19937 rng(std::random_device{}());
    for (int i = 0; i < 100000; ++i) {
        const float x = from_bits(rng());
        if (!std::isfinite(x)) continue;
        const auto b = fp32_to_bf16(x);
        // nearest of the two bf16 neighbours (truncated and truncated + 1), ties to even
        const std::uint32_t lo = to_bits(x) >> 16;
        const double dl = std::fabs(double(x) - double(from_bits(lo << 16)));
        // the neighbour above the largest bf16 is 2^128 (it rounds to inf), not inf itself
        const double up = (lo & 0x7fff) == 0x7f7f ? std::ldexp(std::signbit(x) ? -1.0 : 1.0, 128)
                                                   : double(from_bits((lo + 1) << 16));
        const double dh = std::fabs(up - double(x));
        const std::uint32_t want = dl < dh ? lo : dh < dl ? lo + 1 : ((lo & 1) ? lo + 1 : lo);
        if (b != want) FAIL_CHECK(x << ": got 0x" << std::hex << b << " want 0x" << want);
    }
    CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("e8m0 scales are powers of two, subnormal at the bottom", "[core]") {
    CHECK(e8m0_to_fp32(127) == 1.0f);
    CHECK(e8m0_to_fp32(130) == 8.0f);
    CHECK(e8m0_to_fp32(0) == std::ldexp(1.0f, -127));
    CHECK(e8m0_to_fp32_half(128) == 1.0f);
    CHECK(e8m0_to_fp32_half(1) == std::ldexp(1.0f, -127));
    CHECK(e8m0_to_fp32_half(0) == std::ldexp(1.0f, -128));
    for (int e = 2; e < 255; ++e) CHECK(e8m0_to_fp32_half(std::uint8_t(e)) == std::ldexp(1.0f, e - 128));
}

TEST_CASE("strata::error carries category, file and offset", "[core]") {
    const error e(errc::format, "bad magic", "m.gguf", 0);
    CHECK(std::string(e.what()) == "m.gguf: offset 0: bad magic");
    CHECK(e.category() == errc::format);
    CHECK(e.has_offset());
    const error plain(errc::argument, "num_ctx must be positive");
    CHECK(std::string(plain.what()) == "num_ctx must be positive");
    CHECK_FALSE(plain.has_offset());
    CHECK(to_string(errc::unsupported) == "unsupported");
}
