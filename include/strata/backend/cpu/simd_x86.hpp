// strata/backend/cpu/simd_x86.hpp — what the x86 kernels share: the target attributes that
// let one translation unit hold AVX2 and AVX-512 code without global -mavx flags (each kernel
// is compiled for its level and only called after run-time detection), and small reductions.
#pragma once

#include "strata/backend/cpu/features.hpp"

#if STRATA_CPU_X86_KERNELS
// GCC 12's AVX-512 reductions and conversions initialise their pass-through operand with a
// self-assignment (_mm512_undefined_ps) that -Wall reports once inlined (GCC bug 105593, fixed
// in 12.3): the diagnostic is issued at the header's lines, so the pragma must cover the
// include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstdint>

// Every function that uses an extension's intrinsics carries its level's attribute (helpers
// too: GCC inlines only into a caller whose target includes the callee's).
#define STRATA_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define STRATA_TARGET_AVX512 \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// Loops over the columns of a register block (and over the sub-blocks of a super-block) must be
// unrolled for their accumulators to live in registers; GCC at -O2 does not unroll them by
// itself and keeps the accumulators in memory (measured: 4x slower gemm).
#define STRATA_UNROLL _Pragma("GCC unroll 16")
// nvcc's front end does not know GCC's pragmas and says so (diagnostic 1675), yet passes them to
// the host compiler, which unrolls as asked: the CPU kernels of an nvcc translation unit (the
// host layers of a hybrid run) are the g++ build's.
#if defined(__CUDACC__)
#pragma nv_diag_suppress 1675
#endif

STRATA_NAMESPACE_BEGIN
namespace cpu::detail {

STRATA_TARGET_AVX2 inline float hsum_avx2(__m256 v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// fp16 bits to float with F16C: one instruction, the same value as fp16_to_fp32 (NaNs stay NaN).
STRATA_TARGET_AVX2 inline float half_to_float_f16c(std::uint16_t h) noexcept {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

}  // namespace cpu::detail
STRATA_NAMESPACE_END

#endif  // STRATA_CPU_X86_KERNELS
