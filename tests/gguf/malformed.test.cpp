// Malformed files: each is refused with errc::format, the file's name, the offset of what is
// wrong and a message saying what it is. Plus truncation at every byte and random corruption:
// the reader must throw strata::error and never crash, read out of bounds or over-allocate.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <set>

#include "gguf/util.hpp"

using namespace gguf_test;
namespace gguf = strata::gguf;

namespace {

constexpr std::uint64_t huge = std::uint64_t{1} << 62;
constexpr std::uint32_t f32_id = 0, q4_k_id = 12;

struct bad_case {
    const char* name;
    std::function<bytes(std::uint64_t& at)> build;  // sets AT to the offset the error must name
    const char* needle;                              // a substring only this refusal has
};

// A file with one u32 key and ARRAY's bytes after "k" + type array.
bytes array_file(std::uint64_t& at, const std::function<void(raw&, std::uint64_t&)>& body) {
    raw r;
    r.header(0, 1).str("k").u32(9);
    body(r, at);
    return r.b;
}

// One tensor "w" of DIMS and TYPE at OFFSET, with DATA bytes of tensor data after the padding.
bytes tensor_file(std::uint64_t& at, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset,
                  std::size_t data = 64) {
    raw r;
    r.header(1, 0);
    at = r.pos();
    r.tensor("w", std::move(dims), type, offset).pad(32).zeros(data);
    return r.b;
}

// Where tensor "w"'s fields are in tensor_file: record start + name (8 + 1).
constexpr std::uint64_t record = 24, n_dims_at = record + 9, dim0_at = n_dims_at + 4;

const std::vector<bad_case>& cases() {
    static const std::vector<bad_case> all = {
        {"empty file", [](auto& at) { at = 0; return bytes{}; }, "truncated: magic needs 4 bytes, 0 left"},
        {"bad magic", [](auto& at) { at = 0; raw r; r.data("GGUX", 4).u32(3).u64(0).u64(0); return r.b; },
         "bad magic \"GGUX\" (expected \"GGUF\")"},
        {"pre-GGUF magic", [](auto& at) { at = 0; raw r; r.data("tjgg", 4).u32(3); return r.b; },
         "a pre-GGUF ggml file"},
        {"version 1", [](auto& at) { at = 4; raw r; r.header(0, 0, 1); return r.b; }, "GGUF version 1 is not supported"},
        {"version 4", [](auto& at) { at = 4; raw r; r.header(0, 0, 4); return r.b; }, "unsupported GGUF version 4"},
        {"big-endian", [](auto& at) { at = 4; raw r; r.header(0, 0, 0x03000000); return r.b; },
         "big-endian GGUF (version 3 byte-swapped)"},
        {"truncated header", [](auto& at) { at = 8; raw r; r.data("GGUF", 4).u32(3).u32(0); return r.b; },
         "truncated: tensor count needs 8 bytes, 4 left"},
        {"tensor count 2^62", [](auto& at) { at = 8; raw r; r.header(huge, 0).zeros(100); return r.b; },
         "tensor count 4611686018427387904 cannot fit in the 100 bytes left"},
        {"metadata count 2^62", [](auto& at) { at = 16; raw r; r.header(0, huge).zeros(100); return r.b; },
         "metadata count 4611686018427387904 cannot fit in the 100 bytes left"},
        {"key past the end", [](auto& at) { raw r; r.header(0, 1); at = r.pos(); r.u64(1000).zeros(20); return r.b; },
         "metadata key length 1000 runs past the end of the file (20 bytes left)"},
        {"empty key", [](auto& at) { raw r; r.header(0, 1); at = r.pos(); r.str("").u32(4).u32(0); return r.b; },
         "metadata key 0 is empty"},
        {"duplicate key", [](auto& at) { raw r; r.header(0, 2).kv_u32("a.b", 1); at = r.pos(); r.kv_u32("a.b", 2); return r.b; },
         "duplicate metadata key 'a.b' (first at offset 24)"},
        {"unknown value type", [](auto& at) { raw r; r.header(0, 1).str("k"); at = r.pos(); r.u32(13).u32(0); return r.b; },
         "key 'k': unknown value type 13"},
        {"truncated value", [](auto& at) { raw r; r.header(0, 1).str("k").u32(4); at = r.pos(); r.u8(1).u8(2); return r.b; },
         "key 'k': truncated: value needs 4 bytes, 2 left"},
        {"string past the end", [](auto& at) { raw r; r.header(0, 1).str("k").u32(8); at = r.pos(); r.u64(99).data("abc", 3); return r.b; },
         "key 'k': string length 99 runs past the end of the file (3 bytes left)"},
        {"bool value 2", [](auto& at) { raw r; r.header(0, 1).str("k").u32(7); at = r.pos(); r.u8(2); return r.b; },
         "key 'k': bool value 2 is neither 0 nor 1"},
        {"unknown element type", [](auto& at) { return array_file(at, [](raw& r, auto& a) { a = r.pos(); r.u32(77).u64(0); }); },
         "key 'k': unknown array element type 77"},
        {"array length 2^62", [](auto& at) { return array_file(at, [](raw& r, auto& a) { r.u32(4); a = r.pos(); r.u64(huge).zeros(64); }); },
         "key 'k': array of 4611686018427387904 u32 elements cannot fit in the 64 bytes left"},
        {"array nesting 9 deep", [](auto& at) {
             return array_file(at, [](raw& r, auto& a) {
                 for (int d = 1; d <= 8; ++d) r.u32(9).u64(1);  // levels 1..8, each holding one array
                 a = r.pos();
                 r.u32(4).u64(0);                                // level 9
             });
         }, "key 'k': arrays nested deeper than 8 levels"},
        {"bool element 5", [](auto& at) { return array_file(at, [](raw& r, auto& a) { r.u32(7).u64(3).u8(1); a = r.pos(); r.u8(5).u8(0); }); },
         "key 'k': bool element 1 is 5, neither 0 nor 1"},
        {"string element past the end", [](auto& at) {
             return array_file(at, [](raw& r, auto& a) { r.u32(8).u64(2).str("ok"); a = r.pos(); r.u64(50).zeros(9); });
         }, "key 'k': string element length 50 runs past the end of the file (9 bytes left)"},
        {"truncated array header", [](auto& at) { return array_file(at, [](raw& r, auto& a) { r.u32(6); a = r.pos(); r.zeros(3); }); },
         "key 'k': truncated: array length needs 8 bytes, 3 left"},
        {"alignment of type string", [](auto& at) { raw r; r.header(0, 1); at = r.pos(); r.kv_str("general.alignment", "32"); return r.b; },
         "general.alignment must be u32, found string"},
        {"alignment 0", [](auto& at) { raw r; r.header(0, 1); at = r.pos(); r.kv_u32("general.alignment", 0); return r.b; },
         "general.alignment is 0"},
        {"alignment 48", [](auto& at) { raw r; r.header(0, 1); at = r.pos(); r.kv_u32("general.alignment", 48); return r.b; },
         "general.alignment 48 is not a power of two"},
        {"tensor count past the metadata", [](auto& at) { at = 8; raw r; r.header(3, 1).kv_str("k", std::string(80, 'x')); return r.b; },
         "tensor count 3 cannot fit in the 0 bytes left"},
        {"tensor name past the end", [](auto& at) { raw r; r.header(1, 0); at = r.pos(); r.u64(500).zeros(40); return r.b; },
         "tensor name length 500 runs past the end of the file (40 bytes left)"},
        {"empty tensor name", [](auto& at) { raw r; r.header(1, 0); at = r.pos(); r.tensor("", {32}, f32_id, 0).pad(32).zeros(128); return r.b; },
         "tensor 0 has an empty name"},
        {"n_dims 0", [](auto& at) { auto b = tensor_file(at, {32}, f32_id, 0); at = n_dims_at; std::memset(&b[n_dims_at], 0, 4); return b; },
         "tensor 'w': n_dims 0 is outside 1..4"},
        {"n_dims 5", [](auto& at) { auto b = tensor_file(at, {1, 1, 1, 1, 1}, f32_id, 0); at = n_dims_at; return b; },
         "tensor 'w': n_dims 5 is outside 1..4"},
        {"dimension 0", [](auto& at) { auto b = tensor_file(at, {32, 0}, f32_id, 0); at = dim0_at + 8; return b; },
         "tensor 'w': dimension 1 is 0"},
        {"dimension above int64", [](auto& at) { auto b = tensor_file(at, {~std::uint64_t{0}}, f32_id, 0); at = dim0_at; return b; },
         "tensor 'w': dimension 0 is 18446744073709551615, above 2^63-1"},
        {"element count overflow", [](auto& at) {
             auto b = tensor_file(at, {std::uint64_t{1} << 32, std::uint64_t{1} << 32}, f32_id, 0); at = dim0_at + 8; return b;
         }, "tensor 'w': element count overflows 64 bits"},
        {"byte size overflow", [](auto& at) {
             auto b = tensor_file(at, {std::uint64_t{1} << 31, std::uint64_t{1} << 31}, f32_id, 0); at = n_dims_at; return b;
         }, "tensor 'w': byte size overflows 64 bits"},
        {"removed ggml type", [](auto& at) { auto b = tensor_file(at, {32}, 4, 0); at = dim0_at + 8; return b; },
         "tensor 'w': unknown ggml type 4"},
        {"unknown ggml type", [](auto& at) { auto b = tensor_file(at, {32}, 1000, 0); at = dim0_at + 8; return b; },
         "tensor 'w': unknown ggml type 1000"},
        {"row not whole blocks", [](auto& at) { auto b = tensor_file(at, {100, 2}, q4_k_id, 0); at = n_dims_at; return b; },
         "tensor 'w': row length 100 is not a multiple of q4_K's block size 256"},
        {"misaligned offset", [](auto& at) { auto b = tensor_file(at, {4}, f32_id, 8); at = dim0_at + 8 + 4; return b; },
         "tensor 'w': data offset 8 is not a multiple of the alignment 32"},
        {"truncated tensor info", [](auto& at) {
             raw r;
             r.header(1, 0).str("a_long_tensor_name").u32(1).u64(32);  // long enough to pass the count bound
             at = r.pos();
             r.zeros(3);
             return r.b;
         }, "tensor 'a_long_tensor_name': truncated: type needs 4 bytes, 3 left"},
        {"data past the end", [](auto& at) { return tensor_file(at, {32}, f32_id, 0, 100); },
         "tensor 'w': data at offset 0 + 128 bytes runs past the end of the file (100 bytes of tensor data"},
        {"data offset overflow", [](auto& at) { return tensor_file(at, {32}, f32_id, ~std::uint64_t{31}); },
         "tensor 'w': data at offset 18446744073709551584 + 128 bytes runs past the end"},
        {"duplicate tensor", [](auto& at) {
             raw r;
             r.header(2, 0).tensor("w", {8}, f32_id, 0);
             at = r.pos();
             r.tensor("w", {8}, f32_id, 32).pad(32).zeros(64);
             return r.b;
         }, "duplicate tensor name 'w' (first at offset 24)"},
        {"overlapping tensors", [](auto& at) {
             raw r;
             r.header(2, 0).tensor("a", {16}, f32_id, 0);
             at = r.pos();
             r.tensor("b", {16}, f32_id, 32).pad(32).zeros(128);
             return r.b;
         }, "tensors 'a' [0, 64) and 'b' [32, 96) overlap"},
    };
    return all;
}

}  // namespace

TEST_CASE("every malformed file is refused with its own message and offset", "[gguf][malformed]") {
    std::set<std::string> needles;
    for (const bad_case& c : cases()) {
        INFO("case: " << c.name);
        std::uint64_t at = ~std::uint64_t{0};
        const bytes b = c.build(at);
        const bytes exact = exact_copy(b.data(), b.size());
        const strata::error e = catch_error([&] { (void)parse(exact, c.name); });
        INFO("what(): " << e.what());
        CHECK(e.category() == strata::errc::format);
        CHECK(e.file() == c.name);
        REQUIRE(e.has_offset());
        CHECK(e.offset() == at);
        CHECK_THAT(e.message(), Catch::Contains(c.needle));
        CHECK_THAT(std::string(e.what()), Catch::StartsWith(gguf::detail::cat(c.name, ": offset ", at, ": ")));
        needles.insert(c.needle);
    }
    CHECK(cases().size() >= 25);
    CHECK(needles.size() == cases().size());  // every case is told apart by its message
}

TEST_CASE("a 2^62 count fails at once, without allocating", "[gguf][malformed]") {
    for (const char* name : {"tensor count 2^62", "metadata count 2^62", "array length 2^62"}) {
        const auto& c = *std::find_if(cases().begin(), cases().end(), [&](const bad_case& x) { return std::string(x.name) == name; });
        std::uint64_t at = 0;
        const bytes b = c.build(at);
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_THROWS_AS(parse(b), strata::error);  // a reservation of 2^62 would be bad_alloc or an ASan report
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(100));
    }
}

namespace {
// A small valid file exercising every section: scalars, strings, arrays of each kind, tensors.
bytes small_valid_file() {
    gguf::writer w;
    w.set("general.architecture", "llama").set("llama.block_count", std::uint32_t{2});
    w.set("f", 1.5f).set("b", true).set("i64", std::int64_t{-7});
    w.set_array("scores", {0.5f, -1.0f, 2.0f});
    w.set_array("tokens", std::vector<std::string>{"<s>", "a", ""});
    w.set_array("flags", std::vector<bool>{true, false});
    w.set("nested", gguf::metadata_value::array(std::vector<gguf::metadata_value>{
                        gguf::metadata_value::array({std::uint16_t{1}, std::uint16_t{2}}),
                        gguf::metadata_value::array({"x"})}));
    const std::vector<std::byte> d8(8 * 4, std::byte{0x11}), dq(144, std::byte{0x22});
    w.add_tensor("norm", strata::ggml_type::f32, {8}, d8);
    w.add_tensor("blk.0.w", strata::ggml_type::q4_k, {256}, dq);
    return w.to_bytes();
}
}  // namespace

TEST_CASE("truncation at every byte throws strata::error", "[gguf][malformed]") {
    const bytes full = small_valid_file();
    const gguf::file ok = parse(full);
    std::uint64_t needed = 0;  // the file is whole once the last tensor's bytes are there
    for (const auto& t : ok.tensors()) needed = std::max(needed, ok.data_offset() + t.offset + t.n_bytes);
    REQUIRE(needed <= full.size());
    for (std::size_t n = 0; n < full.size(); ++n) {
        INFO("prefix of " << n << " bytes");
        const bytes prefix = exact_copy(full.data(), n);
        if (n < needed) {
            const strata::error e = catch_error([&] { (void)parse(prefix); });
            CHECK(e.category() == strata::errc::format);
            CHECK(e.has_offset());
            CHECK(e.offset() <= n);
        } else {
            CHECK_NOTHROW(parse(prefix));  // only the trailing padding is missing
        }
    }
}

TEST_CASE("random corruption never crashes", "[gguf][malformed]") {
    const bytes full = small_valid_file();
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_int_distribution<std::size_t> where(0, full.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255), flips(1, 4);
    int refused = 0;
    for (int i = 0; i < 3000; ++i) {
        bytes b = full;
        for (int k = flips(rng); k > 0; --k) b[where(rng)] = static_cast<std::byte>(byte(rng));
        try {
            const gguf::file f = parse(b);
            for (const auto& t : f.tensors()) (void)f.tensor_data(t);
        } catch (const strata::error& e) {
            CHECK(e.category() == strata::errc::format);
            ++refused;
        }
    }
    CHECK(refused > 0);
}
