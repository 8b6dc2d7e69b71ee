// strata/core/units.hpp — binary byte units and the one way the engine and planner write a size
// in a message ("1.2 MiB", "3.25 GiB"). strata-inspect's tables use gguf::human_bytes, and the
// Ollama-compatible log lines plan::ollama::human_bytes2, which copy other programs' formats.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN

inline constexpr std::uint64_t kib = std::uint64_t{1} << 10;
inline constexpr std::uint64_t mib = std::uint64_t{1} << 20;
inline constexpr std::uint64_t gib = std::uint64_t{1} << 30;

inline std::string gib_string(std::uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(gib));
    return buf;
}
inline std::string mib_string(std::uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(mib));
    return buf;
}
// GiB from 1 GiB up, MiB below.
inline std::string size_string(std::uint64_t b) { return b >= gib ? gib_string(b) : mib_string(b); }

STRATA_NAMESPACE_END
