// strata/gguf/writer.hpp — builds GGUF files (v3 by default, v2 on request).
//
// Used by tests (every value type, every tensor type, malformed variants made by patching the
// bytes), by tools that rewrite metadata, and to build shape-exact model files cheaply: a
// tensor "hole" has a shape and a type but no data, and is left as a sparse-file hole, so a
// 13 GB model layout costs a few kilobytes of disk.
//
// Layout written: header, metadata in insertion order, tensor infos in insertion order, zero
// padding to the alignment, then each tensor's data at the next aligned offset, the last one
// padded too (as ggml writes it).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/gguf/value.hpp"

STRATA_NAMESPACE_BEGIN
namespace gguf {

namespace detail {
inline void put_bytes(std::vector<std::byte>& out, const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
}
template <class T>
void put(std::vector<std::byte>& out, T v) {
    put_bytes(out, &v, sizeof(T));  // little-endian host (asserted in value.hpp)
}
inline void put_string(std::vector<std::byte>& out, std::string_view s) {
    put<std::uint64_t>(out, s.size());
    put_bytes(out, s.data(), s.size());
}
}  // namespace detail

// An owned metadata value, kept in its encoded form (the bytes after the type tag).
class metadata_value {
public:
    template <metadata_scalar T>
    static metadata_value of(T x) {
        metadata_value v(value_type_of<T>::type);
        if constexpr (std::is_same_v<T, bool>) {
            detail::put<std::uint8_t>(v.body_, x ? 1 : 0);
        } else {
            detail::put(v.body_, x);
        }
        return v;
    }
    static metadata_value of(std::string_view s) {
        metadata_value v(value_type::string);
        detail::put_string(v.body_, s);
        return v;
    }

    // An array of scalars (any range: std::vector<bool> works), of strings (anything
    // convertible to std::string_view), or of arrays (a range of array metadata_values).
    template <std::ranges::input_range R>
    static metadata_value array(const R& items) {
        using E = std::ranges::range_value_t<R>;
        if constexpr (std::is_same_v<E, metadata_value>) {
            metadata_value v(value_type::array, value_type::array);
            std::uint64_t n = 0;
            for (const metadata_value& item : items) {
                if (item.type_ != value_type::array)
                    STRATA_THROW(errc::argument, detail::cat("an array of arrays holds only arrays, not a ",
                                                             to_string(item.type_)));
                ++n;
            }
            detail::put<std::uint32_t>(v.body_, static_cast<std::uint32_t>(value_type::array));
            detail::put<std::uint64_t>(v.body_, n);
            for (const metadata_value& item : items) detail::put_bytes(v.body_, item.body_.data(), item.body_.size());
            return v;
        } else if constexpr (std::is_convertible_v<const E&, std::string_view>) {
            metadata_value v(value_type::array, value_type::string);
            v.put_array_header(static_cast<std::uint64_t>(std::ranges::distance(items)));
            for (const auto& s : items) detail::put_string(v.body_, std::string_view(s));
            return v;
        } else {
            static_assert(metadata_scalar<E>, "array elements must be GGUF scalars, strings or arrays");
            metadata_value v(value_type::array, value_type_of<E>::type);
            v.put_array_header(static_cast<std::uint64_t>(std::ranges::distance(items)));
            for (const E x : items) {
                if constexpr (std::is_same_v<E, bool>) {
                    detail::put<std::uint8_t>(v.body_, x ? 1 : 0);
                } else {
                    detail::put(v.body_, x);
                }
            }
            return v;
        }
    }
    template <class E>
    static metadata_value array(std::initializer_list<E> items) {
        return array(std::span<const E>(items.begin(), items.size()));
    }

    // A copy of a value read from a file (to rewrite a file's metadata).
    static metadata_value from(const value& x) {
        metadata_value v(x.type(), x.element_type());
        v.append(x);
        return v;
    }

    value_type type() const noexcept { return type_; }
    value_type element_type() const noexcept { return element_; }
    std::span<const std::byte> body() const noexcept { return body_; }

private:
    explicit metadata_value(value_type t, value_type element = value_type::u8) : type_(t), element_(element) {}

    void put_array_header(std::uint64_t n) {
        detail::put<std::uint32_t>(body_, static_cast<std::uint32_t>(element_));
        detail::put<std::uint64_t>(body_, n);
    }
    void append(const value& x) {
        if (x.is_string()) {
            detail::put_string(body_, x.str());
        } else if (!x.is_array()) {
            const std::uint64_t bits = x.raw_bits();
            detail::put_bytes(body_, &bits, scalar_size(x.type()));
        } else {
            detail::put<std::uint32_t>(body_, static_cast<std::uint32_t>(x.element_type()));
            detail::put<std::uint64_t>(body_, x.size());
            if (x.element_type() == value_type::string) {
                for (std::string_view s : x.strings()) detail::put_string(body_, s);
            } else if (x.element_type() == value_type::array) {
                for (const value& child : x.arrays()) append(child);
            } else {
                const auto b = x.scalars().bytes();
                detail::put_bytes(body_, b.data(), b.size());
            }
        }
    }

    value_type type_;
    value_type element_;
    std::vector<std::byte> body_;
};

class writer {
public:
    explicit writer(std::uint32_t version = 3) { set_version(version); }

    writer& set_version(std::uint32_t v) {
        if (v != 2 && v != 3) STRATA_THROW(errc::argument, detail::cat("GGUF version ", v, " cannot be written (2 or 3)"));
        version_ = v;
        return *this;
    }
    std::uint32_t version() const noexcept { return version_; }

    // Sets general.alignment (the reader finds the data there).
    writer& set_alignment(std::uint32_t a) { return set(std::string(alignment_key), metadata_value::of(a)); }
    std::uint32_t alignment() const noexcept { return alignment_; }

    // ---- metadata: a new key goes last, an existing key keeps its place -------------------
    writer& set(std::string key, metadata_value v) {
        if (key.empty()) STRATA_THROW(errc::argument, "metadata keys cannot be empty");
        if (key == alignment_key) alignment_ = checked_alignment(v);
        for (auto& [k, old] : metadata_)
            if (k == key) {
                old = std::move(v);
                return *this;
            }
        metadata_.emplace_back(std::move(key), std::move(v));
        return *this;
    }
    template <metadata_scalar T>
    writer& set(std::string key, T x) { return set(std::move(key), metadata_value::of(x)); }
    writer& set(std::string key, std::string_view s) { return set(std::move(key), metadata_value::of(s)); }
    writer& set(std::string key, const char* s) { return set(std::move(key), metadata_value::of(std::string_view(s))); }
    writer& set(std::string key, const std::string& s) { return set(std::move(key), metadata_value::of(std::string_view(s))); }

    template <std::ranges::input_range R>
    writer& set_array(std::string key, const R& items) { return set(std::move(key), metadata_value::array(items)); }
    template <class E>
    writer& set_array(std::string key, std::initializer_list<E> items) {
        return set(std::move(key), metadata_value::array(items));
    }

    bool remove(std::string_view key) {
        for (auto it = metadata_.begin(); it != metadata_.end(); ++it)
            if (it->first == key) {
                if (key == alignment_key) alignment_ = default_alignment;
                metadata_.erase(it);
                return true;
            }
        return false;
    }

    // ---- tensors, in insertion order -----------------------------------------------------
    // DATA must be exactly the tensor's size in bytes; it is copied.
    writer& add_tensor(std::string name, ggml_type type, std::vector<std::uint64_t> dims, std::span<const std::byte> data) {
        pending_tensor t = make_tensor(std::move(name), type, std::move(dims));
        if (data.size() != t.n_bytes)
            STRATA_THROW(errc::argument, detail::cat("tensor '", t.name, "' needs ", t.n_bytes, " bytes, got ", data.size()));
        t.data.assign(data.begin(), data.end());
        t.has_data = true;
        tensors_.push_back(std::move(t));
        return *this;
    }
    // A tensor whose data is never written: a hole in the file (zeros when read).
    writer& add_tensor_hole(std::string name, ggml_type type, std::vector<std::uint64_t> dims) {
        tensors_.push_back(make_tensor(std::move(name), type, std::move(dims)));
        return *this;
    }

    // ---- output --------------------------------------------------------------------------
    std::uint64_t file_size() const { return plan().total; }

    std::vector<std::byte> to_bytes() const {
        const layout l = plan();
        std::vector<std::byte> out = std::move(l.head);
        out.resize(static_cast<std::size_t>(l.total));
        for (std::size_t i = 0; i < tensors_.size(); ++i)
            if (tensors_[i].has_data && !tensors_[i].data.empty())
                std::memcpy(out.data() + l.data_offset + l.offsets[i], tensors_[i].data.data(), tensors_[i].data.size());
        return out;
    }

    // Writes PATH (replacing it); holes stay unallocated where the file system supports it.
    void write(const std::string& path) const {
        const layout l = plan();
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) io_fail(path, "cannot create");
        auto fail = [&](const char* what) {
            const int e = errno;
            ::close(fd);
            ::unlink(path.c_str());
            io_fail(path, what, e);
        };
        if (!write_at(fd, l.head.data(), l.head.size(), 0)) fail("cannot write");
        for (std::size_t i = 0; i < tensors_.size(); ++i) {
            const pending_tensor& t = tensors_[i];
            if (t.has_data && !write_at(fd, t.data.data(), t.data.size(), l.data_offset + l.offsets[i]))
                fail("cannot write");
        }
        // Extends the file over trailing holes and padding without writing them.
        if (::ftruncate(fd, static_cast<off_t>(l.total)) != 0) fail("cannot set the size of");
        if (::close(fd) != 0) io_fail(path, "cannot close");
    }

private:
    struct pending_tensor {
        std::string name;
        ggml_type type = ggml_type::f32;
        std::vector<std::uint64_t> dims;
        std::uint64_t n_bytes = 0;
        bool has_data = false;
        std::vector<std::byte> data;
    };
    struct layout {
        std::vector<std::byte> head;  // header + metadata + infos + padding: data_offset bytes
        std::vector<std::uint64_t> offsets;
        std::uint64_t data_offset = 0;
        std::uint64_t total = 0;
    };

    static std::uint32_t checked_alignment(const metadata_value& v) {
        const auto body = v.body();
        std::uint32_t a = 0;
        if (v.type() == value_type::u32) std::memcpy(&a, body.data(), 4);
        if (v.type() != value_type::u32 || a == 0 || (a & (a - 1)) != 0)
            STRATA_THROW(errc::argument, std::string(alignment_key) + " must be a u32 power of two");
        return a;
    }

    pending_tensor make_tensor(std::string name, ggml_type type, std::vector<std::uint64_t> dims) const {
        auto bad = [&](std::string_view why) { STRATA_THROW(errc::argument, detail::cat("tensor '", name, "': ", why)); };
        if (name.empty()) STRATA_THROW(errc::argument, "tensor names cannot be empty");
        for (const pending_tensor& t : tensors_)
            if (t.name == name) bad("added twice");
        const auto ti = find_type_info(static_cast<std::uint32_t>(type));
        if (!ti) bad(detail::cat("unknown ggml type ", static_cast<std::uint32_t>(type)));
        if (dims.empty() || dims.size() > max_dims) bad("needs 1 to 4 dimensions");
        std::uint64_t n = 1;
        for (std::uint64_t d : dims) {
            if (d == 0 || d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) bad("bad dimension");
            if (n > std::numeric_limits<std::uint64_t>::max() / d) bad("element count overflows");
            n *= d;
        }
        if (dims[0] % ti->block_elems != 0) bad("row length is not a multiple of the block size");
        pending_tensor t;
        t.name = std::move(name);
        t.type = type;
        t.dims = std::move(dims);
        t.n_bytes = n / ti->block_elems * ti->block_bytes;
        return t;
    }

    static std::uint64_t align_up(std::uint64_t x, std::uint64_t a) noexcept { return (x + a - 1) / a * a; }

    layout plan() const {
        layout l;
        std::vector<std::byte>& h = l.head;
        detail::put_bytes(h, "GGUF", 4);
        detail::put<std::uint32_t>(h, version_);
        detail::put<std::uint64_t>(h, tensors_.size());
        detail::put<std::uint64_t>(h, metadata_.size());
        for (const auto& [key, v] : metadata_) {
            detail::put_string(h, key);
            detail::put<std::uint32_t>(h, static_cast<std::uint32_t>(v.type()));
            detail::put_bytes(h, v.body().data(), v.body().size());
        }
        std::uint64_t next = 0;
        for (const pending_tensor& t : tensors_) {
            detail::put_string(h, t.name);
            detail::put<std::uint32_t>(h, static_cast<std::uint32_t>(t.dims.size()));
            for (std::uint64_t d : t.dims) detail::put<std::uint64_t>(h, d);
            detail::put<std::uint32_t>(h, static_cast<std::uint32_t>(t.type));
            detail::put<std::uint64_t>(h, next);
            l.offsets.push_back(next);
            next += align_up(t.n_bytes, alignment_);
        }
        l.data_offset = align_up(h.size(), alignment_);
        h.resize(static_cast<std::size_t>(l.data_offset));
        l.total = l.data_offset + next;
        return l;
    }

    static bool write_at(int fd, const std::byte* p, std::size_t n, std::uint64_t at) {
        while (n > 0) {
            const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                if (w == 0) errno = EIO;
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
            at += static_cast<std::uint64_t>(w);
        }
        return true;
    }
    [[noreturn]] static void io_fail(const std::string& path, const char* what, int e = errno) {
        STRATA_THROW(errc::io, std::string(what) + " file: " + std::generic_category().message(e), path);
    }

    std::uint32_t version_ = 3;
    std::uint32_t alignment_ = default_alignment;
    std::vector<std::pair<std::string, metadata_value>> metadata_;
    std::vector<pending_tensor> tensors_;
};

}  // namespace gguf
STRATA_NAMESPACE_END
