// Helpers shared by the GGUF tests: a raw byte builder (to write files the writer refuses to),
// a scratch directory, and error matching.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "strata/gguf/gguf.hpp"

namespace gguf_test {

using bytes = std::vector<std::byte>;

// Appends GGUF fields one by one; pos() before an append is the offset an error should name.
struct raw {
    bytes b;

    std::uint64_t pos() const { return b.size(); }
    raw& data(const void* p, std::size_t n) {
        const auto* c = static_cast<const std::byte*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    raw& u8(std::uint8_t v) { return data(&v, 1); }
    raw& u32(std::uint32_t v) { return data(&v, 4); }
    raw& u64(std::uint64_t v) { return data(&v, 8); }
    raw& str(std::string_view s) { return u64(s.size()).data(s.data(), s.size()); }
    raw& header(std::uint64_t n_tensors, std::uint64_t n_kv, std::uint32_t version = 3) {
        return data("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
    }
    raw& kv_u32(std::string_view key, std::uint32_t v) { return str(key).u32(4).u32(v); }
    raw& kv_str(std::string_view key, std::string_view v) { return str(key).u32(8).str(v); }
    raw& tensor(std::string_view name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
        str(name).u32(static_cast<std::uint32_t>(dims.size()));
        for (auto d : dims) u64(d);
        return u32(type).u64(offset);
    }
    raw& pad(std::size_t alignment) {
        while (b.size() % alignment) b.push_back(std::byte{0});
        return *this;
    }
    raw& zeros(std::size_t n) {
        b.insert(b.end(), n, std::byte{0});
        return *this;
    }
};

// An exact-size heap copy, so that AddressSanitizer sees any read past the end.
inline bytes exact_copy(const std::byte* p, std::size_t n) { return bytes(p, p + n); }

inline strata::gguf::file parse(const bytes& b, std::string name = "test.gguf") {
    return strata::gguf::file::parse(b, std::move(name));
}

// Runs F, which must throw a strata::error; returns it.
inline strata::error catch_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const strata::error& e) {
        return e;
    }
    FAIL("no strata::error was thrown");
    throw;  // unreachable
}

// A scratch directory removed at the end of the test.
struct scratch_dir {
    std::filesystem::path path;
    scratch_dir() {
        path = std::filesystem::temp_directory_path() /
               strata::gguf::detail::cat("strata-gguf-test-", ::getpid(), "-", counter()++);
        std::filesystem::create_directories(path);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

}  // namespace gguf_test
