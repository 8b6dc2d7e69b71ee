// strata/gguf/file.hpp — a GGUF file (v2, v3): metadata and the tensor table, validated.
//
// Layout (little-endian):
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count × { string key | u32 type | value }          string = u64 length + bytes
//   tensor_count × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | tensor data (offsets are relative to here)
//
// Everything is checked before anything is used: a file that parses can be indexed without
// further bounds checks (every tensor lies inside the file, no two overlap). Counts are bounded
// by the bytes left before anything is reserved, so a hostile header cannot make us allocate,
// and array nesting is bounded so it cannot exhaust the stack. Parsing reads only the header
// region: a 13 GB model parses in the time it takes to walk its tokenizer strings.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/dtype.hpp"
#include "strata/core/error.hpp"
#include "strata/gguf/mapped_file.hpp"
#include "strata/gguf/value.hpp"

STRATA_NAMESPACE_BEGIN
namespace gguf {

inline constexpr std::uint32_t default_alignment = 32;
inline constexpr std::uint32_t max_array_depth = 8;  // arrays of arrays of ...: far above any real file
inline constexpr std::uint32_t max_dims = 4;          // GGML_MAX_DIMS
inline constexpr std::string_view alignment_key = "general.alignment";

struct tensor_info {
    std::string_view name;
    std::uint32_t n_dims = 0;
    std::array<std::uint64_t, max_dims> ne{1, 1, 1, 1};  // ne[0] is the row length; unused = 1
    ggml_type type = ggml_type::f32;
    std::uint64_t offset = 0;       // relative to the data section
    std::uint64_t n_elements = 0;
    std::uint64_t n_bytes = 0;
    std::uint64_t info_offset = 0;  // where its record starts in the file (for messages)
};

struct metadata_entry {
    std::string_view key;
    gguf::value value;
    std::uint64_t offset = 0;  // where the entry (its key) starts in the file
};

namespace detail {

// Who a message is about: "key 'general.name'" or "tensor 'output.weight'". Built lazily, only
// when something fails, so that the 300k strings of a vocabulary cost no string building.
// What to reserve for N records already bounded by the bytes left: a huge (say 13 GB) file
// still allows a hostile count in the billions, so reservations are capped and vectors grow
// only as records actually parse (memory stays proportional to what was read).
inline std::size_t reservation(std::uint64_t n, std::uint64_t cap = std::uint64_t{1} << 16) noexcept {
    return static_cast<std::size_t>(std::min(n, cap));
}

struct subject {
    const char* kind;
    std::string_view name;
    std::string prefix() const { return cat(kind, " '", name, "': "); }
};

// A cursor over the file's bytes; every read is bounds-checked and every failure names the
// file and the offset.
class reader {
public:
    reader(std::span<const std::byte> bytes, const std::string& name) noexcept
        : base_(bytes.data()), size_(bytes.size()), name_(name) {}

    std::uint64_t pos() const noexcept { return pos_; }
    std::uint64_t size() const noexcept { return size_; }
    std::uint64_t left() const noexcept { return size_ - pos_; }
    void seek(std::uint64_t p) noexcept { pos_ = p; }

    [[noreturn]] void fail(std::uint64_t at, const std::string& msg) const {
        STRATA_THROW(errc::format, msg, name_, at);
    }

    const std::byte* take(std::uint64_t n, const char* what, const subject* who = nullptr) {
        if (n > left())
            fail(pos_, cat(who ? who->prefix() : std::string(), "truncated: ", what, " needs ", n, " bytes, ", left(),
                           " left"));
        const std::byte* p = base_ + pos_;
        pos_ += n;
        return p;
    }
    template <class T>
    T read(const char* what, const subject* who = nullptr) {
        T v;
        std::memcpy(&v, take(sizeof(T), what, who), sizeof(T));
        return v;
    }
    // A GGUF string: u64 length + bytes (any bytes: GGUF strings are not checked for UTF-8).
    std::string_view string(const char* what, const subject* who = nullptr) {
        const std::uint64_t at = pos_;
        const auto n = read<std::uint64_t>(what, who);
        if (n > left())
            fail(at, cat(who ? who->prefix() : std::string(), what, " length ", n, " runs past the end of the file (",
                         left(), " bytes left)"));
        return {reinterpret_cast<const char*>(take(n, what)), static_cast<std::size_t>(n)};
    }

    // The value after a type tag.
    value read_value(value_type t, const subject& who) {
        value v;
        v.type_ = t;
        if (t == value_type::string) {
            v.string_ = string("string", &who);
        } else if (t == value_type::array) {
            read_array(v, who, 1);
        } else {
            const std::uint64_t at = pos_;
            const std::size_t n = scalar_size(t);
            std::memcpy(&v.bits_, take(n, "value", &who), n);
            if (t == value_type::boolean && v.bits_ > 1)
                fail(at, cat(who.prefix(), "bool value ", v.bits_, " is neither 0 nor 1"));
        }
        return v;
    }

private:
    // u32 element type | u64 count | elements. Arrays of arrays recurse, to a bounded depth.
    void read_array(value& v, const subject& who, std::uint32_t depth) {
        const std::uint64_t at = pos_;
        if (depth > max_array_depth)
            fail(at, cat(who.prefix(), "arrays nested deeper than ", max_array_depth, " levels"));
        v.type_ = value_type::array;
        const auto tag = read<std::uint32_t>("array element type", &who);
        if (!is_value_type(tag)) fail(at, cat(who.prefix(), "unknown array element type ", tag));
        v.element_ = static_cast<value_type>(tag);
        const std::uint64_t count_at = pos_;
        v.count_ = read<std::uint64_t>("array length", &who);
        // The smallest element on disk: a scalar's size, an empty string's length (8), an empty
        // array's header (4 + 8). No count larger than what the rest of the file could hold
        // is ever reserved.
        const std::uint64_t min_elem = v.element_ == value_type::string  ? 8
                                       : v.element_ == value_type::array ? 12
                                                                         : scalar_size(v.element_);
        if (v.count_ > left() / min_elem)
            fail(count_at, cat(who.prefix(), "array of ", v.count_, " ", to_string(v.element_),
                               " elements cannot fit in the ", left(), " bytes left"));
        const auto count = static_cast<std::size_t>(v.count_);
        switch (v.element_) {
            case value_type::string:
                v.strings_.reserve(reservation(v.count_, std::uint64_t{1} << 20));  // a vocabulary: ~300k
                for (std::size_t i = 0; i < count; ++i) v.strings_.push_back(string("string element", &who));
                break;
            case value_type::array:
                v.arrays_.reserve(reservation(v.count_));
                for (std::size_t i = 0; i < count; ++i) read_array(v.arrays_.emplace_back(), who, depth + 1);
                break;
            default: {
                const std::uint64_t data_at = pos_;
                v.data_ = take(v.count_ * min_elem, "array data", &who);
                if (v.element_ == value_type::boolean) check_bools(v.data_, count, data_at, who);
            }
        }
    }

    void check_bools(const std::byte* p, std::size_t n, std::uint64_t at, const subject& who) const {
        for (std::size_t i = 0; i < n; ++i)
            if (static_cast<unsigned>(p[i]) > 1)
                fail(at + i, cat(who.prefix(), "bool element ", i, " is ", static_cast<unsigned>(p[i]),
                                 ", neither 0 nor 1"));
    }

    const std::byte* base_;
    std::uint64_t size_;
    std::uint64_t pos_ = 0;
    const std::string& name_;
};

// "GGUF" printable, anything else escaped, for the bad-magic message.
inline std::string printable(std::span<const std::byte> b) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (std::byte x : b) {
        const auto c = static_cast<unsigned char>(x);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            s += static_cast<char>(c);
        } else {
            s += "\\x";
            s += hex[c >> 4];
            s += hex[c & 15];
        }
    }
    return s;
}

}  // namespace detail

class file {
public:
    // Maps PATH and parses it. The file object owns the map; every view it hands out points
    // into it and lives as long as the file object (moving the object keeps them valid).
    static file open(const std::string& path) { return file(mapped_file(path)); }

    // Parses bytes owned by the caller, who keeps them alive as long as the file object.
    static file parse(std::span<const std::byte> bytes, std::string name) {
        return file(mapped_file(bytes, std::move(name)));
    }

    std::uint32_t version() const noexcept { return version_; }
    const std::string& path() const noexcept { return map_.path(); }
    std::uint64_t file_size() const noexcept { return map_.size(); }
    std::span<const std::byte> bytes() const noexcept { return map_.bytes(); }
    std::uint32_t alignment() const noexcept { return alignment_; }
    std::uint64_t data_offset() const noexcept { return data_offset_; }

    // ---- metadata ------------------------------------------------------------------------
    std::span<const metadata_entry> metadata() const noexcept { return metadata_; }  // file order

    const metadata_entry* find_entry(std::string_view key) const noexcept {
        const auto it = key_index_.find(key);
        return it == key_index_.end() ? nullptr : &metadata_[it->second];
    }
    const value* find(std::string_view key) const noexcept {
        const metadata_entry* e = find_entry(key);
        return e ? &e->value : nullptr;
    }
    bool contains(std::string_view key) const noexcept { return find_entry(key) != nullptr; }

    // The value of KEY as exactly T (errc::missing when absent, errc::type when it has another
    // type: a u32 is not silently read as a u64, so a file that disagrees with its spec shows).
    template <metadata_readable T>
    T get(std::string_view key) const {
        const metadata_entry& e = entry(key);
        if (auto v = e.value.template as<T>()) return *std::move(v);
        type_error(e, to_string(value_type_of<T>::type));
    }

    // FALLBACK when KEY is absent; a present key of another type is still an error.
    template <metadata_readable T>
    T get_or(std::string_view key, T fallback) const {
        return contains(key) ? get<T>(key) : std::move(fallback);
    }

    // Any integer type (hyperparameters are written as u32 by some converters, i32 or u64 by
    // others), as int64.
    std::int64_t get_integer(std::string_view key) const {
        const metadata_entry& e = entry(key);
        if (auto v = e.value.as_integer()) return *v;
        if (e.value.type() == value_type::u64)
            STRATA_THROW(errc::type, detail::cat("key '", key, "': u64 value ", e.value.raw_bits(), " does not fit in int64"),
                         path(), e.offset);
        type_error(e, "an integer");
    }

    // An array of T (a scalar type, std::string_view or std::string), copied out.
    template <metadata_readable T>
    std::vector<T> get_array(std::string_view key) const {
        const metadata_entry& e = entry(key);
        const value& v = e.value;
        constexpr value_type want = value_type_of<T>::type;
        if (!v.is_array() || v.element_type() != want)
            type_error(e, detail::cat("array of ", to_string(want)));
        if constexpr (want == value_type::string) {
            return std::vector<T>(v.strings().begin(), v.strings().end());
        } else {
            return v.scalars().template to_vector<T>();
        }
    }

    // ---- tensors -------------------------------------------------------------------------
    std::span<const tensor_info> tensors() const noexcept { return tensors_; }  // file order

    const tensor_info* find_tensor(std::string_view name) const noexcept {
        const auto it = tensor_index_.find(name);
        return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
    }

    // The tensor's bytes, in place in the map. T must be one of this file's tensors.
    std::span<const std::byte> tensor_data(const tensor_info& t) const {
        if (tensors_.empty() || &t < tensors_.data() || &t >= tensors_.data() + tensors_.size())
            STRATA_THROW(errc::argument, detail::cat("tensor '", t.name, "' is not a tensor of this file"), path());
        return {map_.data() + data_offset_ + t.offset, static_cast<std::size_t>(t.n_bytes)};
    }

    std::uint64_t total_tensor_bytes() const noexcept { return total_tensor_bytes_; }

private:
    explicit file(mapped_file map) : map_(std::move(map)) {
        detail::reader r(map_.bytes(), map_.path());
        const auto [n_tensors, n_kv] = read_header(r);
        read_metadata(r, n_kv);
        read_alignment(r);
        read_tensor_infos(r, n_tensors);
        const std::uint64_t a = alignment_;
        data_offset_ = (r.pos() + a - 1) / a * a;  // pos <= file size: cannot overflow
        check_tensor_data(r);
    }

    // ---- parsing, in file order ----------------------------------------------------------
    struct counts { std::uint64_t tensors, kv; };

    counts read_header(detail::reader& r) {
        const std::byte* magic = r.take(4, "magic");
        if (std::memcmp(magic, "GGUF", 4) != 0) {
            std::string msg = detail::cat("bad magic \"", detail::printable({magic, 4}), "\" (expected \"GGUF\")");
            // ggml's pre-GGUF formats wrote their magic as a little-endian u32 of "ggml" etc.
            for (const char* old : {"lmgg", "fmgg", "tjgg"})
                if (std::memcmp(magic, old, 4) == 0) msg += ": a pre-GGUF ggml file; convert it to GGUF";
            r.fail(0, msg);
        }
        version_ = r.read<std::uint32_t>("version");
        const std::uint32_t swapped = __builtin_bswap32(version_);
        if (version_ == 1)
            r.fail(4, "GGUF version 1 is not supported (it used 32-bit counts; only versions 2 and 3 are read)");
        if (version_ != 2 && version_ != 3) {
            if (swapped >= 1 && swapped <= 3)
                r.fail(4, detail::cat("big-endian GGUF (version ", swapped, " byte-swapped) is not supported"));
            r.fail(4, detail::cat("unsupported GGUF version ", version_, " (only versions 2 and 3 are read)"));
        }
        const auto n_tensors = r.read<std::uint64_t>("tensor count");
        const auto n_kv = r.read<std::uint64_t>("metadata count");
        check_count(r, 8, n_tensors, min_tensor_record, "tensor count", "a tensor record");
        check_count(r, 16, n_kv, min_kv_record, "metadata count", "an entry");
        return {n_tensors, n_kv};
    }

    // Smallest possible records: a 1-byte name/key, one dimension / a 1-byte value.
    static constexpr std::uint64_t min_tensor_record = 8 + 1 + 4 + 8 + 4 + 8;
    static constexpr std::uint64_t min_kv_record = 8 + 1 + 4 + 1;

    static void check_count(const detail::reader& r, std::uint64_t at, std::uint64_t n, std::uint64_t min_bytes,
                            const char* what, const char* unit) {
        if (n > r.left() / min_bytes)
            r.fail(at, detail::cat(what, " ", n, " cannot fit in the ", r.left(), " bytes left (", unit, " takes at least ",
                                   min_bytes, ")"));
    }

    void read_metadata(detail::reader& r, std::uint64_t n_kv) {
        metadata_.reserve(detail::reservation(n_kv));
        key_index_.reserve(detail::reservation(n_kv));
        for (std::uint64_t i = 0; i < n_kv; ++i) {
            const std::uint64_t at = r.pos();
            const std::string_view key = r.string("metadata key");
            if (key.empty()) r.fail(at, detail::cat("metadata key ", i, " is empty"));
            const auto [it, fresh] = key_index_.emplace(key, metadata_.size());
            if (!fresh)
                r.fail(at, detail::cat("duplicate metadata key '", key, "' (first at offset ", metadata_[it->second].offset,
                                       ")"));
            const detail::subject who{"key", key};
            const std::uint64_t tag_at = r.pos();
            const auto tag = r.read<std::uint32_t>("value type", &who);
            if (!is_value_type(tag)) r.fail(tag_at, detail::cat(who.prefix(), "unknown value type ", tag));
            metadata_.push_back({key, r.read_value(static_cast<value_type>(tag), who), at});
        }
    }

    void read_alignment(const detail::reader& r) {
        const metadata_entry* e = find_entry(alignment_key);
        if (!e) return;
        const auto a = e->value.as<std::uint32_t>();
        if (!a) r.fail(e->offset, detail::cat(alignment_key, " must be u32, found ", e->value.type_name()));
        if (*a == 0) r.fail(e->offset, detail::cat(alignment_key, " is 0"));
        if ((*a & (*a - 1)) != 0) r.fail(e->offset, detail::cat(alignment_key, " ", *a, " is not a power of two"));
        alignment_ = *a;
    }

    void read_tensor_infos(detail::reader& r, std::uint64_t n_tensors) {
        // Bounded again by what is left after the metadata: this is what we reserve.
        check_count(r, 8, n_tensors, min_tensor_record, "tensor count", "a tensor record");
        tensors_.reserve(detail::reservation(n_tensors));
        tensor_index_.reserve(detail::reservation(n_tensors));
        for (std::uint64_t i = 0; i < n_tensors; ++i) {
            tensor_info t = read_tensor_info(r, i);
            const auto [it, fresh] = tensor_index_.emplace(t.name, tensors_.size());
            if (!fresh)
                r.fail(t.info_offset, detail::cat("duplicate tensor name '", t.name, "' (first at offset ",
                                                  tensors_[it->second].info_offset, ")"));
            tensors_.push_back(t);
        }
    }

    tensor_info read_tensor_info(detail::reader& r, std::uint64_t index) const {
        tensor_info t;
        t.info_offset = r.pos();
        t.name = r.string("tensor name");
        if (t.name.empty()) r.fail(t.info_offset, detail::cat("tensor ", index, " has an empty name"));
        const detail::subject who{"tensor", t.name};
        const std::uint64_t dims_at = r.pos();
        t.n_dims = r.read<std::uint32_t>("n_dims", &who);
        if (t.n_dims < 1 || t.n_dims > max_dims)
            r.fail(dims_at, detail::cat(who.prefix(), "n_dims ", t.n_dims, " is outside 1..4"));
        t.n_elements = 1;
        for (std::uint32_t d = 0; d < t.n_dims; ++d) {
            const std::uint64_t at = r.pos();
            const auto n = r.read<std::uint64_t>("dimension", &who);
            if (n == 0) r.fail(at, detail::cat(who.prefix(), "dimension ", d, " is 0"));
            // ggml holds dimensions as int64_t.
            if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                r.fail(at, detail::cat(who.prefix(), "dimension ", d, " is ", n, ", above 2^63-1"));
            if (t.n_elements > std::numeric_limits<std::uint64_t>::max() / n)
                r.fail(at, detail::cat(who.prefix(), "element count overflows 64 bits"));
            t.ne[d] = n;
            t.n_elements *= n;
        }
        const std::uint64_t type_at = r.pos();
        const auto type_id = r.read<std::uint32_t>("type", &who);
        const auto ti = find_type_info(type_id);
        if (!ti) r.fail(type_at, detail::cat(who.prefix(), "unknown ggml type ", type_id));
        t.type = static_cast<ggml_type>(type_id);
        if (t.ne[0] % ti->block_elems != 0)
            r.fail(dims_at, detail::cat(who.prefix(), "row length ", t.ne[0], " is not a multiple of ", ti->name,
                                        "'s block size ", ti->block_elems));
        const std::uint64_t blocks = t.n_elements / ti->block_elems;
        if (blocks > std::numeric_limits<std::uint64_t>::max() / ti->block_bytes)
            r.fail(dims_at, detail::cat(who.prefix(), "byte size overflows 64 bits"));
        t.n_bytes = blocks * ti->block_bytes;
        const std::uint64_t offset_at = r.pos();
        t.offset = r.read<std::uint64_t>("data offset", &who);
        if (t.offset % alignment_ != 0)
            r.fail(offset_at, detail::cat(who.prefix(), "data offset ", t.offset, " is not a multiple of the alignment ",
                                          alignment_));
        return t;
    }

    // Every tensor inside the file, no two sharing a byte.
    void check_tensor_data(const detail::reader& r) {
        const std::uint64_t size = r.size();
        const std::uint64_t section = size >= data_offset_ ? size - data_offset_ : 0;
        for (const tensor_info& t : tensors_) {
            // offset + n_bytes <= section, written so that it cannot overflow
            if (t.offset > section || t.n_bytes > section - t.offset)
                r.fail(t.info_offset, detail::cat("tensor '", t.name, "': data at offset ", t.offset, " + ", t.n_bytes,
                                                  " bytes runs past the end of the file (", section,
                                                  " bytes of tensor data from offset ", data_offset_, ")"));
            total_tensor_bytes_ += t.n_bytes;
        }
        std::vector<std::size_t> order(tensors_.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return tensors_[a].offset < tensors_[b].offset; });
        for (std::size_t i = 1; i < order.size(); ++i) {
            const tensor_info& a = tensors_[order[i - 1]];
            const tensor_info& b = tensors_[order[i]];
            if (a.offset + a.n_bytes > b.offset)  // both inside the file: no overflow
                r.fail(b.info_offset, detail::cat("tensors '", a.name, "' [", a.offset, ", ", a.offset + a.n_bytes,
                                                  ") and '", b.name, "' [", b.offset, ", ", b.offset + b.n_bytes,
                                                  ") overlap"));
        }
    }

    // ---- accessor errors -----------------------------------------------------------------
    const metadata_entry& entry(std::string_view key) const {
        const metadata_entry* e = find_entry(key);
        if (!e) STRATA_THROW(errc::missing, detail::cat("key '", key, "' not found"), path());
        return *e;
    }
    [[noreturn]] void type_error(const metadata_entry& e, std::string_view expected) const {
        STRATA_THROW(errc::type, detail::cat("key '", e.key, "': expected ", expected, ", found ", e.value.type_name()),
                     path(), e.offset);
    }

    mapped_file map_;
    std::uint32_t version_ = 0;
    std::uint32_t alignment_ = default_alignment;
    std::uint64_t data_offset_ = 0;
    std::uint64_t total_tensor_bytes_ = 0;
    std::vector<metadata_entry> metadata_;
    std::vector<tensor_info> tensors_;
    std::unordered_map<std::string_view, std::size_t> key_index_;
    std::unordered_map<std::string_view, std::size_t> tensor_index_;
};

}  // namespace gguf
STRATA_NAMESPACE_END
