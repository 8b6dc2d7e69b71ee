// strata/engine/device_memory.hpp — the memory of one device of a placement, as the engine sees
// it: pieces taken in order from one block of a fixed capacity, filled from the host, zeroed.
//
// A sim device's block is host memory (core/arena.hpp); a GPU's is one cudaMalloc
// (backend/cuda/arena.hpp, wrapped in engine/cuda_device.hpp). The engine loads weights into it
// and a session its KV cache and activations, the same way for both.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "strata/core/arena.hpp"

STRATA_NAMESPACE_BEGIN

class device_memory {
public:
    virtual ~device_memory() = default;
    // A piece of BYTES (device addresses for a GPU: never dereferenced on the host).
    virtual std::span<std::byte> take(std::size_t bytes, std::string_view what) = 0;
    // Bytes counted against the capacity that the device's own containers hold.
    virtual void charge(std::size_t bytes, std::string_view what) = 0;
    virtual void copy_from_host(std::span<std::byte> dst, const void* src) = 0;
    virtual void zero(std::span<std::byte> dst) = 0;
    virtual const std::string& name() const noexcept = 0;
    virtual std::size_t capacity() const noexcept = 0;
    virtual std::size_t used() const noexcept = 0;
};

// A sim device: host memory with a cap of its own.
class host_memory final : public device_memory {
public:
    host_memory(std::string name, std::size_t capacity) : a_(std::move(name), capacity) {}
    std::span<std::byte> take(std::size_t bytes, std::string_view what) override { return a_.take(bytes, what); }
    void charge(std::size_t bytes, std::string_view what) override { a_.charge(bytes, what); }
    void copy_from_host(std::span<std::byte> dst, const void* src) override { std::memcpy(dst.data(), src, dst.size()); }
    void zero(std::span<std::byte> dst) override { std::fill(dst.begin(), dst.end(), std::byte{0}); }
    const std::string& name() const noexcept override { return a_.name(); }
    std::size_t capacity() const noexcept override { return a_.capacity(); }
    std::size_t used() const noexcept override { return a_.used(); }

private:
    arena a_;
};

STRATA_NAMESPACE_END
