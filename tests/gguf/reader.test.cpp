// Reading: every value type round-trips through the writer, accessors are strict and say what
// was wrong, real vocabulary files parse, and the map behaves.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <fstream>
#include <limits>

#include "gguf/util.hpp"

using namespace gguf_test;
namespace gguf = strata::gguf;
using gguf::metadata_value;
using gguf::value_type;

namespace {

// A string that is not UTF-8 and holds a NUL: GGUF strings are bytes.
const std::string odd_string("caf\xC3\xA9 \xFF\xFE and \0 nul", 18);

gguf::writer every_value_type(std::uint32_t version = 3) {
    gguf::writer w(version);
    w.set("u8", std::uint8_t{250}).set("i8", std::int8_t{-120});
    w.set("u16", std::uint16_t{65000}).set("i16", std::int16_t{-32000});
    w.set("u32", std::uint32_t{4000000000u}).set("i32", std::int32_t{-2000000000});
    w.set("u64", std::numeric_limits<std::uint64_t>::max()).set("i64", std::numeric_limits<std::int64_t>::min());
    w.set("f32", -0.15625f).set("f64", 1e300).set("t", true).set("f", false);
    w.set("s", "hello").set("empty", "").set("odd", odd_string);
    w.set_array("a.u8", {std::uint8_t{1}, std::uint8_t{255}});
    w.set_array("a.i8", {std::int8_t{-1}, std::int8_t{127}});
    w.set_array("a.u16", {std::uint16_t{7}});
    w.set_array("a.i16", {std::int16_t{-7}, std::int16_t{8}});
    w.set_array("a.u32", {1u, 2u, 3u});
    w.set_array("a.i32", {-1, 0, 1});
    w.set_array("a.u64", {std::uint64_t{1} << 40});
    w.set_array("a.i64", {std::int64_t{-1} << 40, std::int64_t{5}});
    w.set_array("a.f32", {0.5f, std::numeric_limits<float>::infinity()});
    w.set_array("a.f64", {0.1, -2.5});
    w.set_array("a.bool", std::vector<bool>{true, false, true});
    w.set_array("a.str", std::vector<std::string>{"<s>", "", odd_string});
    w.set_array("a.empty", std::vector<std::uint32_t>{});
    // [[1, 2], ["x"], [[true]], []]
    w.set("a.nested", metadata_value::array(std::vector<metadata_value>{
                          metadata_value::array({std::uint16_t{1}, std::uint16_t{2}}),
                          metadata_value::array({"x"}),
                          metadata_value::array(std::vector<metadata_value>{metadata_value::array(std::vector<bool>{true})}),
                          metadata_value::array(std::vector<float>{})}));
    return w;
}

}  // namespace

TEST_CASE("every metadata value type round-trips", "[gguf][reader]") {
    const std::uint32_t version = GENERATE(2u, 3u);
    const bytes b = every_value_type(version).to_bytes();
    const gguf::file f = parse(b);
    CHECK(f.version() == version);
    CHECK(f.alignment() == 32);
    CHECK(f.tensors().empty());

    CHECK(f.get<std::uint8_t>("u8") == 250);
    CHECK(f.get<std::int8_t>("i8") == -120);
    CHECK(f.get<std::uint16_t>("u16") == 65000);
    CHECK(f.get<std::int16_t>("i16") == -32000);
    CHECK(f.get<std::uint32_t>("u32") == 4000000000u);
    CHECK(f.get<std::int32_t>("i32") == -2000000000);
    CHECK(f.get<std::uint64_t>("u64") == std::numeric_limits<std::uint64_t>::max());
    CHECK(f.get<std::int64_t>("i64") == std::numeric_limits<std::int64_t>::min());
    CHECK(f.get<float>("f32") == -0.15625f);
    CHECK(f.get<double>("f64") == 1e300);
    CHECK(f.get<bool>("t"));
    CHECK_FALSE(f.get<bool>("f"));
    CHECK(f.get<std::string_view>("s") == "hello");
    CHECK(f.get<std::string>("empty").empty());
    CHECK(f.get<std::string>("odd") == odd_string);

    CHECK(f.get_array<std::uint8_t>("a.u8") == std::vector<std::uint8_t>{1, 255});
    CHECK(f.get_array<std::int8_t>("a.i8") == std::vector<std::int8_t>{-1, 127});
    CHECK(f.get_array<std::uint16_t>("a.u16") == std::vector<std::uint16_t>{7});
    CHECK(f.get_array<std::int16_t>("a.i16") == std::vector<std::int16_t>{-7, 8});
    CHECK(f.get_array<std::uint32_t>("a.u32") == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(f.get_array<std::int32_t>("a.i32") == std::vector<std::int32_t>{-1, 0, 1});
    CHECK(f.get_array<std::uint64_t>("a.u64") == std::vector<std::uint64_t>{std::uint64_t{1} << 40});
    CHECK(f.get_array<std::int64_t>("a.i64") == std::vector<std::int64_t>{std::int64_t{-1} << 40, 5});
    CHECK(f.get_array<float>("a.f32") == std::vector<float>{0.5f, std::numeric_limits<float>::infinity()});
    CHECK(f.get_array<double>("a.f64") == std::vector<double>{0.1, -2.5});
    CHECK(f.get_array<bool>("a.bool") == std::vector<bool>{true, false, true});
    CHECK(f.get_array<std::string>("a.str") == std::vector<std::string>{"<s>", "", odd_string});
    CHECK(f.get_array<std::string_view>("a.str").size() == 3);
    CHECK(f.get_array<std::uint32_t>("a.empty").empty());

    const gguf::value* nested = f.find("a.nested");
    REQUIRE(nested);
    CHECK(nested->type_name() == "array of array");
    REQUIRE(nested->arrays().size() == 4);
    const auto& inner = nested->arrays();
    CHECK(inner[0].scalars().to_vector<std::uint16_t>() == std::vector<std::uint16_t>{1, 2});
    CHECK(inner[0].scalars().at<std::uint16_t>(1) == 2);
    CHECK(inner[1].strings().size() == 1);
    CHECK(inner[1].strings()[0] == "x");
    REQUIRE(inner[2].arrays().size() == 1);
    CHECK(inner[2].arrays()[0].scalars().at<bool>(0));
    CHECK(inner[3].element_type() == value_type::f32);
    CHECK(inner[3].size() == 0);

    // Views point into the bytes: nothing was copied.
    const auto sv = f.get<std::string_view>("s");
    CHECK(reinterpret_cast<const std::byte*>(sv.data()) >= b.data());
    CHECK(reinterpret_cast<const std::byte*>(sv.data()) < b.data() + b.size());
}

TEST_CASE("metadata is kept in file order and copies back byte for byte", "[gguf][reader]") {
    const bytes b = every_value_type().to_bytes();
    const gguf::file f = parse(b);
    std::vector<std::string> keys;
    gguf::writer copy;
    for (const auto& e : f.metadata()) {
        keys.emplace_back(e.key);
        copy.set(std::string(e.key), metadata_value::from(e.value));
    }
    CHECK(keys.front() == "u8");
    CHECK(keys[1] == "i8");
    CHECK(keys.back() == "a.nested");
    CHECK(keys.size() == f.metadata().size());
    CHECK(copy.to_bytes() == b);
    CHECK(f.metadata()[0].offset == 24);  // right after the header
}

TEST_CASE("accessors are strict and name the key, the expected and the actual type", "[gguf][reader]") {
    gguf::writer w;
    w.set("general.name", "tiny").set("llama.context_length", std::uint32_t{4096});
    w.set("big", std::numeric_limits<std::uint64_t>::max()).set("small", std::int8_t{-3});
    w.set_array("ids", {1u, 2u});
    const bytes b = w.to_bytes();
    const gguf::file f = parse(b, "model.gguf");

    CHECK(f.contains("general.name"));
    CHECK_FALSE(f.contains("general.nam"));
    CHECK(f.find("nope") == nullptr);

    auto e = catch_error([&] { (void)f.get<std::uint32_t>("llama.block_count"); });
    CHECK(e.category() == strata::errc::missing);
    CHECK(e.message() == "key 'llama.block_count' not found");
    CHECK(e.file() == "model.gguf");

    e = catch_error([&] { (void)f.get<std::uint32_t>("general.name"); });
    CHECK(e.category() == strata::errc::type);
    CHECK(e.message() == "key 'general.name': expected u32, found string");
    CHECK(e.offset() == f.find_entry("general.name")->offset);

    // Strict: a u32 is not read as a u64 or an i32.
    e = catch_error([&] { (void)f.get<std::uint64_t>("llama.context_length"); });
    CHECK(e.message() == "key 'llama.context_length': expected u64, found u32");
    e = catch_error([&] { (void)f.get<std::string>("ids"); });
    CHECK(e.message() == "key 'ids': expected string, found array of u32");

    e = catch_error([&] { (void)f.get_array<float>("ids"); });
    CHECK(e.category() == strata::errc::type);
    CHECK(e.message() == "key 'ids': expected array of f32, found array of u32");
    e = catch_error([&] { (void)f.get_array<std::string_view>("general.name"); });
    CHECK(e.message() == "key 'general.name': expected array of string, found string");
    e = catch_error([&] { (void)f.get_array<std::uint32_t>("missing.array"); });
    CHECK(e.category() == strata::errc::missing);

    CHECK(f.get_integer("llama.context_length") == 4096);
    CHECK(f.get_integer("small") == -3);
    e = catch_error([&] { (void)f.get_integer("big"); });
    CHECK(e.category() == strata::errc::type);
    CHECK_THAT(e.message(), Catch::Contains("key 'big': u64 value 18446744073709551615 does not fit in int64"));
    e = catch_error([&] { (void)f.get_integer("general.name"); });
    CHECK(e.message() == "key 'general.name': expected an integer, found string");

    CHECK(f.get_or<std::uint32_t>("llama.block_count", 7) == 7);
    CHECK(f.get_or<std::uint32_t>("llama.context_length", 7) == 4096);
    CHECK(f.get_or<std::string>("general.arch", "none") == "none");
    e = catch_error([&] { (void)f.get_or<float>("general.name", 1.0f); });  // present but wrong: still an error
    CHECK(e.message() == "key 'general.name': expected f32, found string");

    // value-level access, for code that walks the metadata
    const gguf::value& v = *f.find("ids");
    CHECK(v.is_array());
    CHECK_FALSE(v.as<std::uint32_t>());
    e = catch_error([&] { (void)v.scalars().at<std::int32_t>(0); });
    CHECK(e.message() == "expected array of i32, found array of u32");
    e = catch_error([&] { (void)v.scalars().at<std::uint32_t>(2); });
    CHECK(e.category() == strata::errc::argument);
    CHECK(e.message() == "array index 2 is out of range (size 2)");
    CHECK(f.find("small")->as_integer() == -3);
    CHECK_FALSE(f.find("big")->as_integer());
}

TEST_CASE("tensor infos: shape, type, sizes, offsets and data", "[gguf][reader]") {
    gguf::writer w;
    bytes d1(4 * 3 * 2), d2(2 * 144);
    for (std::size_t i = 0; i < d1.size(); ++i) d1[i] = static_cast<std::byte>(i);
    for (std::size_t i = 0; i < d2.size(); ++i) d2[i] = static_cast<std::byte>(255 - i % 256);
    w.add_tensor("a", strata::ggml_type::f32, {3, 2}, d1);
    w.add_tensor("blk.0.ffn_up.weight", strata::ggml_type::q4_k, {256, 2}, d2);
    const bytes b = w.to_bytes();
    const gguf::file f = parse(b);
    REQUIRE(f.tensors().size() == 2);
    const gguf::tensor_info& a = f.tensors()[0];
    CHECK(a.name == "a");
    CHECK(a.n_dims == 2);
    CHECK(a.ne == std::array<std::uint64_t, 4>{3, 2, 1, 1});
    CHECK(a.type == strata::ggml_type::f32);
    CHECK(a.n_elements == 6);
    CHECK(a.n_bytes == 24);
    CHECK(a.offset == 0);
    CHECK(a.info_offset == 24);  // no metadata: right after the header
    const gguf::tensor_info* q = f.find_tensor("blk.0.ffn_up.weight");
    REQUIRE(q);
    CHECK(q == &f.tensors()[1]);
    CHECK(q->n_bytes == 288);
    CHECK(q->offset == 32);  // 24 bytes padded to 32
    CHECK(f.find_tensor("b") == nullptr);
    CHECK(f.data_offset() % 32 == 0);
    CHECK(f.total_tensor_bytes() == 24 + 288);
    CHECK(f.file_size() == b.size());
    const auto da = f.tensor_data(a), dq = f.tensor_data(*q);
    CHECK(std::equal(da.begin(), da.end(), d1.begin(), d1.end()));
    CHECK(std::equal(dq.begin(), dq.end(), d2.begin(), d2.end()));
    CHECK(da.data() == b.data() + f.data_offset());

    gguf::tensor_info stranger = a;
    CHECK(catch_error([&] { (void)f.tensor_data(stranger); }).category() == strata::errc::argument);
}

TEST_CASE("the alignment comes from general.alignment", "[gguf][reader]") {
    const std::uint32_t alignment = GENERATE(1u, 8u, 64u, 4096u);
    gguf::writer w;
    w.set_alignment(alignment);
    w.set("pad", "x");
    const bytes d(5 * 4);
    w.add_tensor("a", strata::ggml_type::f32, {5}, d).add_tensor("b", strata::ggml_type::f32, {5}, d);
    const bytes b = w.to_bytes();
    const gguf::file f = parse(b);
    CHECK(f.alignment() == alignment);
    CHECK(f.data_offset() % alignment == 0);
    // header 24, alignment key 33, "pad" 24, two tensor records of 33: padded by less than one alignment
    constexpr std::uint64_t infos_end = 24 + 33 + 24 + 2 * 33;
    CHECK(f.data_offset() >= infos_end);
    CHECK(f.data_offset() < infos_end + alignment);
    for (const auto& t : f.tensors()) CHECK(t.offset % alignment == 0);
    CHECK(f.tensors()[1].offset == (20 + alignment - 1) / alignment * alignment);
    CHECK(f.get<std::uint32_t>("general.alignment") == alignment);
}

TEST_CASE("real vocabulary files parse", "[gguf][reader]") {
    const std::filesystem::path dir = STRATA_SHARED_DIR "/vocab";
    if (!std::filesystem::is_directory(dir)) {
        WARN("skipped: " << dir << " is absent");
        return;
    }
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".gguf") continue;
        INFO(entry.path());
        const gguf::file f = gguf::file::open(entry.path().string());
        CHECK(f.version() >= 2);
        const gguf::value* tokens = f.find("tokenizer.ggml.tokens");
        REQUIRE(tokens);
        CHECK(tokens->element_type() == value_type::string);
        CHECK(tokens->size() > 1000);
        CHECK_NOTHROW(gguf::to_json(gguf::summarize(f), f));
        ++n;
    }
    CHECK(n > 0);

    const std::string spm = (dir / "ggml-vocab-llama-spm.gguf").string();
    if (!std::filesystem::exists(spm)) return;
    const gguf::file f = gguf::file::open(spm);
    CHECK(f.get<std::string>("tokenizer.ggml.model") == "llama");
    const auto tokens = f.get_array<std::string_view>("tokenizer.ggml.tokens");
    CHECK(tokens.size() == 32000);
    CHECK(tokens[0] == "<unk>");
    CHECK(tokens[1] == "<s>");
    CHECK(f.get_array<float>("tokenizer.ggml.scores").size() == tokens.size());
    CHECK(f.get_array<std::int32_t>("tokenizer.ggml.token_type").size() == tokens.size());
}

TEST_CASE("mapped_file: errors name the path and errno, empty files, moves", "[gguf][reader]") {
    scratch_dir dir;
    auto e = catch_error([&] { (void)gguf::file::open(dir.file("absent.gguf")); });
    CHECK(e.category() == strata::errc::io);
    CHECK(e.file() == dir.file("absent.gguf"));
    CHECK(e.message() == "cannot open: No such file or directory");

    e = catch_error([&] { (void)gguf::mapped_file(dir.path.string()); });
    CHECK(e.category() == strata::errc::io);
    CHECK(e.message() == "not a regular file");

    const std::string empty = dir.file("empty.gguf");
    std::ofstream(empty).close();
    gguf::mapped_file m(empty);
    CHECK(m.size() == 0);
    CHECK(m.bytes().empty());
    e = catch_error([&] { (void)gguf::file::open(empty); });
    CHECK(e.category() == strata::errc::format);
    CHECK(e.file() == empty);

    const std::string path = dir.file("small.gguf");
    every_value_type().write(path);
    gguf::mapped_file a(path);
    CHECK(a.is_mapped());
    const std::byte* p = a.data();
    gguf::mapped_file moved(std::move(a));
    CHECK(moved.data() == p);
    CHECK(a.data() == nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is empty
    a = std::move(moved);
    CHECK(a.data() == p);

    // A file object moves with its views intact.
    gguf::file f = gguf::file::open(path);
    const std::string_view s = f.get<std::string_view>("s");
    gguf::file g = std::move(f);
    CHECK(g.get<std::string_view>("s").data() == s.data());
    CHECK(g.path() == path);
}

TEST_CASE("the fuzz seeds (written by an independent Python writer) parse and rewrite identically", "[gguf][reader]") {
    const std::filesystem::path dir = STRATA_SOURCE_DIR "/tests/fuzz/corpus/gguf";
    REQUIRE(std::filesystem::is_directory(dir));
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        INFO(entry.path());
        const gguf::file f = gguf::file::open(entry.path().string());
        gguf::writer w(f.version());
        for (const auto& e : f.metadata()) w.set(std::string(e.key), metadata_value::from(e.value));
        for (const auto& t : f.tensors())
            w.add_tensor(std::string(t.name), t.type, std::vector<std::uint64_t>(t.ne.begin(), t.ne.begin() + t.n_dims),
                         f.tensor_data(t));
        const bytes again = w.to_bytes();
        CHECK(std::equal(again.begin(), again.end(), f.bytes().begin(), f.bytes().end()));
        ++n;
    }
    CHECK(n >= 8);
}
