// strata/backend/cpu/features.hpp — which x86 vector extensions this CPU and OS can run.
//
// A feature counts only when the CPU has it (cpuid) *and* the OS saves its registers on a
// context switch (XCR0 via xgetbv): a VM or kernel may hide AVX-512 state even on a CPU that
// has it, and executing a zmm instruction then faults. The kernels come in three levels:
//   scalar — the per-block policy code, runs everywhere (and is the only level off x86-64);
//   avx2   — AVX2 + FMA + F16C (Haswell, Zen 1 and later);
//   avx512 — AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later).
// AMX is deliberately not used: its tile state must be requested per process with
// arch_prctl(ARCH_REQ_XCOMP_PERM), and tile instructions fault with SIGILL until then.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "strata/core/config.hpp"

#if STRATA_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define STRATA_CPU_X86_KERNELS 1
#else
#define STRATA_CPU_X86_KERNELS 0
#endif

STRATA_NAMESPACE_BEGIN
namespace cpu {

// Kernel levels, ordered: a machine that runs one level runs every lower one.
enum class isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

constexpr std::string_view to_string(isa level) noexcept {
    switch (level) {
        case isa::scalar: return "scalar";
        case isa::avx2: return "avx2";
        case isa::avx512: return "avx512";
    }
    return "unknown";
}

// "scalar", "avx2" or "avx512" (case-sensitive, as written in STRATA_CPU_ISA).
constexpr std::optional<isa> isa_from_string(std::string_view s) noexcept {
    if (s == "scalar") return isa::scalar;
    if (s == "avx2") return isa::avx2;
    if (s == "avx512") return isa::avx512;
    return std::nullopt;
}

// What the CPU and the OS together support (all false off x86-64).
struct features {
    bool avx = false, avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
    bool avx512vnni = false, avx512bf16 = false, avx_vnni = false;
    bool amx_int8 = false;  // reported only; see the header comment

    // The best kernel level these features allow.
    constexpr isa best_isa() const noexcept {
        if (avx2 && fma && f16c && avx512f && avx512bw && avx512vl && avx512dq && avx512vnni) return isa::avx512;
        if (avx2 && fma && f16c) return isa::avx2;
        return isa::scalar;
    }
};

namespace detail {
#if STRATA_CPU_X86_KERNELS
struct cpuid_regs { std::uint32_t a = 0, b = 0, c = 0, d = 0; };

inline cpuid_regs cpuid(std::uint32_t leaf, std::uint32_t sub) noexcept {
    cpuid_regs r;
    __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
    return r;
}

// XCR0: which register states the OS saves. Only call when cpuid reports OSXSAVE.
inline std::uint64_t xgetbv0() noexcept {
    std::uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

constexpr bool bit(std::uint32_t reg, int n) noexcept { return (reg >> n) & 1u; }
#endif
}  // namespace detail

// Queries cpuid and XCR0; cheap enough to call at backend construction (a few hundred cycles).
inline features query_features() noexcept {
    features f;
#if STRATA_CPU_X86_KERNELS
    const auto l0 = detail::cpuid(0, 0);
    const std::uint32_t max_leaf = l0.a;
    if (max_leaf < 1) return f;
    const auto l1 = detail::cpuid(1, 0);
    const bool osxsave = detail::bit(l1.c, 27);
    if (!osxsave) return f;  // no xgetbv: the OS manages no AVX state
    const std::uint64_t xcr0 = detail::xgetbv0();
    const bool os_ymm = (xcr0 & 0x6) == 0x6;     // XMM and YMM state
    const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
    const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA (still needs arch_prctl)
    if (!os_ymm) return f;
    f.avx = detail::bit(l1.c, 28);
    f.fma = detail::bit(l1.c, 12);
    f.f16c = detail::bit(l1.c, 29);
    if (max_leaf >= 7) {
        const auto l7 = detail::cpuid(7, 0);
        f.avx2 = f.avx && detail::bit(l7.b, 5);
        if (os_zmm) {
            f.avx512f = detail::bit(l7.b, 16);
            f.avx512dq = f.avx512f && detail::bit(l7.b, 17);
            f.avx512bw = f.avx512f && detail::bit(l7.b, 30);
            f.avx512vl = f.avx512f && detail::bit(l7.b, 31);
            f.avx512vnni = f.avx512f && detail::bit(l7.c, 11);
        }
        f.amx_int8 = os_amx && detail::bit(l7.d, 25);
        if (l7.a >= 1) {
            const auto l71 = detail::cpuid(7, 1);
            f.avx_vnni = f.avx2 && detail::bit(l71.a, 4);
            f.avx512bf16 = f.avx512f && detail::bit(l71.a, 5);
        }
    }
#endif
    return f;
}

// The best level this machine runs.
inline isa detect() noexcept { return query_features().best_isa(); }

// The level to use: `requested` if given, else the STRATA_CPU_ISA environment variable if set
// (to "scalar", "avx2" or "avx512"), else the best detected — and never above what the machine
// runs, so forcing avx512 on an AVX2 machine gives avx2 rather than SIGILL. An unknown value of
// the variable is ignored. Read when a backend is constructed, never cached in a global.
inline isa choose_isa(std::optional<isa> requested = std::nullopt) noexcept {
    const isa best = detect();
    isa want = best;
    if (requested) {
        want = *requested;
    } else if (const char* env = std::getenv("STRATA_CPU_ISA")) {
        if (const auto parsed = isa_from_string(env)) want = *parsed;
    }
    return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

}  // namespace cpu
STRATA_NAMESPACE_END
