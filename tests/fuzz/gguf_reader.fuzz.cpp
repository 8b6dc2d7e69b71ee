// libFuzzer harness for the GGUF reader (and, through it, the writer, summary and JSON).
//
// Any input must either be refused with a strata::error or parse into a file whose every value
// and tensor can be touched without going out of bounds. Anything else — a crash, a sanitizer
// report, another exception type, a broken invariant (trapped below) — is a bug.
//
// Oracle for the inputs that parse: copying the metadata and tensors into a writer and parsing
// its output must succeed and give back the same metadata and tensor table.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "strata/gguf/gguf.hpp"

namespace gguf = strata::gguf;

namespace {

#define FUZZ_CHECK(cond) \
    do {                 \
        if (!(cond)) __builtin_trap(); \
    } while (0)

std::uint64_t sink = 0;  // keeps the reads below from being optimized away

void touch(std::span<const std::byte> b) {
    for (std::byte x : b) sink += static_cast<unsigned>(x);
}
void touch(std::string_view s) { touch(std::as_bytes(std::span(s.data(), s.size()))); }

template <class T>
void touch_elements(const gguf::scalar_array& a) {
    for (std::uint64_t i = 0; i < a.size(); ++i) sink += static_cast<std::uint64_t>(a.at<T>(i) != T{});
    FUZZ_CHECK(a.to_vector<T>().size() == a.size());
}

void touch(const gguf::value& v, int depth) {
    FUZZ_CHECK(depth <= static_cast<int>(gguf::max_array_depth));
    if (v.is_string()) return touch(v.str());
    if (!v.is_array()) {
        sink += v.raw_bits() + static_cast<std::uint64_t>(v.as_integer().value_or(0));
        return;
    }
    const gguf::scalar_array a = v.scalars();
    switch (v.element_type()) {
        case gguf::value_type::u8: touch_elements<std::uint8_t>(a); break;
        case gguf::value_type::i8: touch_elements<std::int8_t>(a); break;
        case gguf::value_type::u16: touch_elements<std::uint16_t>(a); break;
        case gguf::value_type::i16: touch_elements<std::int16_t>(a); break;
        case gguf::value_type::u32: touch_elements<std::uint32_t>(a); break;
        case gguf::value_type::i32: touch_elements<std::int32_t>(a); break;
        case gguf::value_type::u64: touch_elements<std::uint64_t>(a); break;
        case gguf::value_type::i64: touch_elements<std::int64_t>(a); break;
        case gguf::value_type::f32: touch_elements<float>(a); break;
        case gguf::value_type::f64: touch_elements<double>(a); break;
        case gguf::value_type::boolean: touch_elements<bool>(a); break;
        case gguf::value_type::string:
            FUZZ_CHECK(v.strings().size() == v.size());
            for (std::string_view s : v.strings()) touch(s);
            break;
        case gguf::value_type::array:
            FUZZ_CHECK(v.arrays().size() == v.size());
            for (const gguf::value& child : v.arrays()) touch(child, depth + 1);
            break;
    }
}

void check_file(const gguf::file& f, std::span<const std::byte> input) {
    FUZZ_CHECK(f.version() == 2 || f.version() == 3);
    FUZZ_CHECK(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);
    FUZZ_CHECK(f.data_offset() % f.alignment() == 0);
    for (const gguf::metadata_entry& e : f.metadata()) {
        touch(e.key);
        touch(e.value, 1);
        FUZZ_CHECK(f.find(e.key) == &e.value);
        try {
            sink += static_cast<std::uint64_t>(f.get_integer(e.key));
        } catch (const strata::error&) {
        }
    }
    std::uint64_t total = 0;
    for (const gguf::tensor_info& t : f.tensors()) {
        FUZZ_CHECK(f.find_tensor(t.name) == &t);
        FUZZ_CHECK(t.n_dims >= 1 && t.n_dims <= gguf::max_dims);
        FUZZ_CHECK(t.n_bytes == strata::row_bytes(t.type, t.ne[0]) * (t.n_elements / t.ne[0]));
        const auto d = f.tensor_data(t);
        FUZZ_CHECK(d.data() >= input.data() && d.data() + d.size() <= input.data() + input.size());
        touch(d);
        total += t.n_bytes;
    }
    FUZZ_CHECK(total == f.total_tensor_bytes());
}

// The copy is built in memory (writer::to_bytes) with its header padded to the file's alignment:
// a legal alignment of up to 2^31 would cost that much memory, beyond the fuzzer's 2 GiB limit.
constexpr std::uint32_t round_trip_max_alignment = std::uint32_t{1} << 20;

// Writes F again with the writer and checks that the copy reads back the same.
void check_round_trip(const gguf::file& f) {
    if (f.alignment() > round_trip_max_alignment) return;
    gguf::writer w(f.version());
    for (const gguf::metadata_entry& e : f.metadata()) w.set(std::string(e.key), gguf::metadata_value::from(e.value));
    for (const gguf::tensor_info& t : f.tensors())
        w.add_tensor(std::string(t.name), t.type, std::vector<std::uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                     f.tensor_data(t));
    const std::vector<std::byte> out = w.to_bytes();
    const gguf::file g = gguf::file::parse(out, "round-trip");
    FUZZ_CHECK(g.metadata().size() == f.metadata().size());
    for (std::size_t i = 0; i < f.metadata().size(); ++i) {
        FUZZ_CHECK(g.metadata()[i].key == f.metadata()[i].key);
        FUZZ_CHECK(g.metadata()[i].value.type_name() == f.metadata()[i].value.type_name());
    }
    FUZZ_CHECK(g.tensors().size() == f.tensors().size());
    for (std::size_t i = 0; i < f.tensors().size(); ++i) {
        const auto &a = f.tensors()[i], &b = g.tensors()[i];
        FUZZ_CHECK(a.name == b.name && a.ne == b.ne && a.type == b.type && a.n_bytes == b.n_bytes);
        const auto da = f.tensor_data(a), db = g.tensor_data(b);
        FUZZ_CHECK(da.size() == db.size() && (da.empty() || std::memcmp(da.data(), db.data(), da.size()) == 0));
    }
    // Metadata encodes canonically: the copy of the copy is byte-identical.
    gguf::writer w2(g.version());
    for (const gguf::metadata_entry& e : g.metadata()) w2.set(std::string(e.key), gguf::metadata_value::from(e.value));
    for (const gguf::tensor_info& t : g.tensors())
        w2.add_tensor(std::string(t.name), t.type, std::vector<std::uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                      g.tensor_data(t));
    FUZZ_CHECK(w2.to_bytes() == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
    std::optional<gguf::file> f;
    try {
        f.emplace(gguf::file::parse(input, "fuzz.gguf"));
    } catch (const strata::error& e) {
        FUZZ_CHECK(e.category() == strata::errc::format && !e.message().empty() && e.has_offset());
        return 0;  // a refusal: the expected outcome for most inputs
    }
    // From here on nothing may throw: the file was accepted.
    check_file(*f, input);
    check_round_trip(*f);
    try {
        const std::string j = gguf::to_json(gguf::summarize(*f), *f);
        FUZZ_CHECK(!j.empty() && j.front() == '{');
    } catch (const strata::error& e) {
        // A hyperparameter of the wrong type is summarize()'s one legitimate refusal.
        FUZZ_CHECK(e.category() == strata::errc::type);
    }
    return 0;
}
