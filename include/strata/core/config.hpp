// strata/core/config.hpp — configuration macros shared by every header.
#pragma once

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0

// All public names live in strata::v0 so that an ABI break can bump the inline namespace.
#define STRATA_NAMESPACE_BEGIN namespace strata { inline namespace v0 {
#define STRATA_NAMESPACE_END } }

// Per-block math (dequantize, dot) is written once and compiled for the host and, under nvcc,
// for the device too.
#if defined(__CUDACC__)
#define STRATA_HD __host__ __device__
#define STRATA_DEVICE_COMPILE 1
#else
#define STRATA_HD
#endif

// The CUDA backend exists only in translation units compiled by nvcc with STRATA_CUDA set.
#if defined(__CUDACC__) && defined(STRATA_CUDA)
#define STRATA_HAS_CUDA 1
#else
#define STRATA_HAS_CUDA 0
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define STRATA_X86_64 1
#else
#define STRATA_X86_64 0
#endif
