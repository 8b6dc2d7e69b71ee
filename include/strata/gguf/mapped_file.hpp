// strata/gguf/mapped_file.hpp — a read-only view of a file's bytes: an mmap, or borrowed memory.
//
// A model file is mapped, never read: the weights that stay on the CPU are used in place, and
// parsing touches only the pages that hold the header. MAP_PRIVATE + PROT_READ means nothing we
// do can write to the file, and the kernel may drop clean pages under memory pressure.
//
// The same type can also wrap bytes someone else owns (the fuzzer's input, a test's buffer) so
// that the parser has one input type and never copies.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace gguf {

class mapped_file {
public:
    mapped_file() = default;

    // Maps the whole file. An empty file is valid and maps nothing (mmap refuses length 0).
    explicit mapped_file(std::string path) : path_(std::move(path)) {
        const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail("cannot open");
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            fail("cannot stat", e);
        }
        // A directory opens fine and only fails later at mmap with a puzzling ENODEV.
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            STRATA_THROW(errc::io, "not a regular file", path_);
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                const int e = errno;
                ::close(fd);
                size_ = 0;
                fail("cannot map", e);
            }
            data_ = static_cast<const std::byte*>(p);
            owned_ = true;
        }
        // The mapping keeps the file referenced; the descriptor is no longer needed.
        ::close(fd);
    }

    // Borrows bytes the caller keeps alive for as long as this object (and what views it) lives.
    mapped_file(std::span<const std::byte> bytes, std::string name)
        : path_(std::move(name)), data_(bytes.data()), size_(bytes.size()) {}

    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    mapped_file(mapped_file&& o) noexcept
        : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)),
          size_(std::exchange(o.size_, 0)), owned_(std::exchange(o.owned_, false)) {}
    mapped_file& operator=(mapped_file&& o) noexcept {
        if (this != &o) {
            unmap();
            path_ = std::move(o.path_);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            owned_ = std::exchange(o.owned_, false);
        }
        return *this;
    }
    ~mapped_file() { unmap(); }

    const std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    const std::string& path() const noexcept { return path_; }
    bool is_mapped() const noexcept { return owned_; }

private:
    [[noreturn]] void fail(const char* what, int e = errno) const {
        STRATA_THROW(errc::io, std::string(what) + ": " + std::generic_category().message(e), path_);
    }
    void unmap() noexcept {
        if (owned_ && data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = nullptr;
        size_ = 0;
        owned_ = false;
    }

    std::string path_;
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    bool owned_ = false;  // true: data_ is our mapping to unmap; false: borrowed or empty
};

}  // namespace gguf
STRATA_NAMESPACE_END
