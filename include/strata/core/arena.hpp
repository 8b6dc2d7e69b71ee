// strata/core/arena.hpp — a device's memory: one block of a fixed capacity, handed out in
// aligned pieces and freed all at once (a plan allocates everything up front; nothing is
// allocated on the decode path).
//
// The simulated device of split execution keeps its weights, KV cache and activations here, so
// what it really holds can be measured and held to the plan's estimate; a GPU arena (one
// cudaMalloc) will follow the same rules.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN

class arena {
public:
    // Every piece starts at a multiple of this (what cudaMalloc guarantees; the planner rounds
    // each tensor up to it).
    static constexpr std::size_t alignment = 256;
    static constexpr std::size_t padded(std::size_t bytes) noexcept { return (bytes + alignment - 1) / alignment * alignment; }

    arena(std::string name, std::size_t capacity)
        : name_(std::move(name)), capacity_(padded(capacity)),
          block_(capacity_ ? new (std::align_val_t{alignment}) std::byte[capacity_] : nullptr) {}

    // `what` names the piece in the error when the capacity is exceeded.
    std::span<std::byte> take(std::size_t bytes, std::string_view what) {
        const std::size_t need = reserve(bytes, what);
        std::byte* p = block_.get() + handed_;
        handed_ += need;
        return {p, bytes};
    }

    // Bytes counted against the capacity without being handed out here (activations a backend
    // keeps in its own containers).
    void charge(std::size_t bytes, std::string_view what) { (void)reserve(bytes, what); }

    const std::string& name() const noexcept { return name_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t used() const noexcept { return used_; }

private:
    struct aligned_delete {
        void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{alignment}); }
    };

    std::size_t reserve(std::size_t bytes, std::string_view what) {
        // (bytes is compared before rounding too: a size near SIZE_MAX would round up past 0)
        const std::size_t need = padded(bytes);
        if (bytes > capacity_ - used_ || need > capacity_ - used_)
            STRATA_THROW(errc::memory, name_ + ": " + std::string(what) + " needs " + std::to_string(bytes) + " bytes, " +
                                           std::to_string(capacity_ - used_) + " of its " + std::to_string(capacity_) +
                                           " are left");
        used_ += need;
        return need;
    }

    std::string name_;
    std::size_t capacity_ = 0, used_ = 0, handed_ = 0;  // used_: taken + charged
    std::unique_ptr<std::byte[], aligned_delete> block_;
};

STRATA_NAMESPACE_END
