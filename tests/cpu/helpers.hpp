// Shared by the CPU backend tests: the kernel levels this machine runs, aligned scratch,
// random data (support/random.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "strata/backend/cpu/features.hpp"
#include "support/random.hpp"

namespace strata_test {

// Every level up to the best one the machine runs (each forced in turn through the backend's
// override, which is what STRATA_CPU_ISA sets).
inline std::vector<strata::cpu::isa> levels() {
    std::vector<strata::cpu::isa> v;
    const int best = static_cast<int>(strata::cpu::detect());
    for (int l = 0; l <= best; ++l) v.push_back(static_cast<strata::cpu::isa>(l));
    return v;
}

// Memory on a 64-byte boundary, as matmul's scratch must be.
class aligned_bytes {
public:
    explicit aligned_bytes(std::size_t n)
        : size_(n), p_(static_cast<std::byte*>(::operator new(n > 0 ? n : 1, std::align_val_t{64}))) {}
    ~aligned_bytes() { ::operator delete(p_, std::align_val_t{64}); }
    aligned_bytes(const aligned_bytes&) = delete;
    aligned_bytes& operator=(const aligned_bytes&) = delete;
    std::byte* data() const noexcept { return p_; }
    std::size_t size() const noexcept { return size_; }

private:
    std::size_t size_;
    std::byte* p_;
};

}  // namespace strata_test
