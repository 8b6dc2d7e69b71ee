// Writing: every tensor type's size, v2/v3, the writer's own argument checks, sparse holes, and
// the parse speed the engine relies on (a multi-GB model parses without touching its data).
#include <catch2/catch.hpp>

#include <chrono>
#include <sys/stat.h>

#include "gguf/util.hpp"

using namespace gguf_test;
namespace gguf = strata::gguf;
using strata::ggml_type;

TEST_CASE("every ggml type: sizes and data round-trip", "[gguf][writer]") {
    gguf::writer w;
    std::vector<std::pair<std::string, bytes>> expected;
    for (std::uint32_t id = 0; id < 64; ++id) {
        const auto ti = strata::find_type_info(id);
        if (!ti) continue;
        const std::uint64_t ne0 = 2 * ti->block_elems, ne1 = 3;
        bytes data(static_cast<std::size_t>(2 * ti->block_bytes * ne1));
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 7 + id);
        const std::string name = strata::gguf::detail::cat("t.", ti->name);
        w.add_tensor(name, static_cast<ggml_type>(id), {ne0, ne1}, data);
        expected.emplace_back(name, std::move(data));
    }
    REQUIRE(expected.size() == 32);  // the current ggml types
    const bytes b = w.to_bytes();
    const gguf::file f = parse(b);
    REQUIRE(f.tensors().size() == expected.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const gguf::tensor_info& t = f.tensors()[i];
        INFO(t.name);
        CHECK(t.name == expected[i].first);
        const auto& ti = strata::info(t.type);
        CHECK(t.n_elements == 6ull * ti.block_elems);
        CHECK(t.n_bytes == strata::row_bytes(t.type, t.ne[0]) * 3);
        CHECK(t.n_bytes == expected[i].second.size());
        CHECK(t.offset % 32 == 0);
        const auto d = f.tensor_data(t);
        CHECK(std::equal(d.begin(), d.end(), expected[i].second.begin(), expected[i].second.end()));
        total += t.n_bytes;
    }
    CHECK(f.total_tensor_bytes() == total);
}

TEST_CASE("versions 2 and 3 are written and read; the version is the only difference", "[gguf][writer]") {
    gguf::writer w2(2), w3;
    for (auto* w : {&w2, &w3}) w->set("general.name", "x").add_tensor_hole("t", ggml_type::q8_0, {64, 2});
    const bytes b2 = w2.to_bytes(), b3 = w3.to_bytes();
    CHECK(parse(b2).version() == 2);
    CHECK(parse(b3).version() == 3);
    REQUIRE(b2.size() == b3.size());
    bytes patched = b2;
    patched[4] = std::byte{3};
    CHECK(patched == b3);
    CHECK(w3.version() == 3);
    CHECK(w2.set_version(3).version() == 3);
}

TEST_CASE("the writer refuses what would make a bad file", "[gguf][writer]") {
    gguf::writer w;
    const auto arg = [](const std::function<void()>& f) { return catch_error(f).category() == strata::errc::argument; };
    CHECK(arg([&] { w.set_version(1); }));
    CHECK(arg([&] { w.set_version(4); }));
    CHECK(arg([&] { w.set("", 1u); }));
    CHECK(arg([&] { w.set_alignment(0); }));
    CHECK(arg([&] { w.set_alignment(48); }));
    CHECK(arg([&] { w.set("general.alignment", "32"); }));
    CHECK(arg([&] { w.add_tensor("a", ggml_type::f32, {4}, bytes(15)); }));
    CHECK(arg([&] { w.add_tensor_hole("a", ggml_type::q4_k, {100}); }));
    CHECK(arg([&] { w.add_tensor_hole("a", ggml_type::f32, {}); }));
    CHECK(arg([&] { w.add_tensor_hole("a", ggml_type::f32, {1, 1, 1, 1, 1}); }));
    CHECK(arg([&] { w.add_tensor_hole("a", ggml_type::f32, {4, 0}); }));
    CHECK(arg([&] { w.add_tensor_hole("a", ggml_type::f32, {std::uint64_t{1} << 32, std::uint64_t{1} << 32}); }));
    CHECK(arg([&] { w.add_tensor_hole("a", static_cast<ggml_type>(4), {32}); }));
    CHECK(arg([&] { w.add_tensor_hole("", ggml_type::f32, {4}); }));
    w.add_tensor_hole("a", ggml_type::f32, {4});
    CHECK(arg([&] { w.add_tensor_hole("a", ggml_type::f32, {4}); }));
    CHECK(arg([&] { (void)gguf::metadata_value::array(std::vector<gguf::metadata_value>{gguf::metadata_value::of(1u)}); }));
    const auto e = catch_error([&] { w.write("/nonexistent-dir/x.gguf"); });
    CHECK(e.category() == strata::errc::io);
    CHECK(e.file() == "/nonexistent-dir/x.gguf");
    CHECK_THAT(e.message(), Catch::Contains("No such file or directory"));
}

TEST_CASE("set replaces in place, remove removes", "[gguf][writer]") {
    gguf::writer w;
    w.set("a", 1u).set("b", "two").set("c", 3.0f);
    w.set("a", "one");  // new type, same place
    CHECK(w.remove("b"));
    CHECK_FALSE(w.remove("b"));
    w.set_alignment(64);
    CHECK(w.alignment() == 64);
    CHECK(w.remove("general.alignment"));
    CHECK(w.alignment() == 32);
    const bytes b = w.to_bytes();
    const gguf::file f = parse(b);
    REQUIRE(f.metadata().size() == 2);
    CHECK(f.metadata()[0].key == "a");
    CHECK(f.get<std::string>("a") == "one");
    CHECK(f.metadata()[1].key == "c");
}

TEST_CASE("write() and to_bytes() agree; holes read as zeros", "[gguf][writer]") {
    scratch_dir dir;
    gguf::writer w;
    w.set("general.architecture", "llama");
    w.add_tensor("x", ggml_type::f32, {8}, bytes(32, std::byte{0xAB}));
    w.add_tensor_hole("hole", ggml_type::q4_0, {64, 64});
    w.add_tensor("y", ggml_type::f16, {3}, bytes(6, std::byte{0xCD}));
    const std::string path = dir.file("m.gguf");
    w.write(path);
    const bytes mem = w.to_bytes();
    CHECK(w.file_size() == mem.size());
    const gguf::file f = gguf::file::open(path);
    CHECK(f.file_size() == mem.size());
    CHECK(std::equal(f.bytes().begin(), f.bytes().end(), mem.begin(), mem.end()));
    const auto hole = f.tensor_data(*f.find_tensor("hole"));
    CHECK(hole.size() == 64 * 64 / 32 * 18);
    CHECK(std::all_of(hole.begin(), hole.end(), [](std::byte c) { return c == std::byte{0}; }));
    CHECK(f.tensor_data(*f.find_tensor("y"))[5] == std::byte{0xCD});
}

namespace {

// The layout of a 7B llama in f16 (about 13.5 GB), with a 32000-token vocabulary: every tensor
// a hole, so the file takes a few hundred kilobytes on disk.
gguf::writer llama7b_f16_layout() {
    gguf::writer w;
    constexpr std::uint64_t n_embd = 4096, n_ff = 11008, n_vocab = 32000;
    constexpr std::uint32_t n_layer = 32;
    w.set("general.architecture", "llama").set("general.name", "sparse-7b").set("general.file_type", 1u);
    w.set("llama.context_length", 4096u).set("llama.embedding_length", static_cast<std::uint32_t>(n_embd));
    w.set("llama.block_count", n_layer).set("llama.feed_forward_length", static_cast<std::uint32_t>(n_ff));
    std::vector<std::string> tokens;
    for (std::uint64_t i = 0; i < n_vocab; ++i) tokens.push_back(strata::gguf::detail::cat("tok", i));
    w.set("tokenizer.ggml.model", "llama").set_array("tokenizer.ggml.tokens", tokens);
    w.set_array("tokenizer.ggml.scores", std::vector<float>(n_vocab, 0.0f));
    w.add_tensor_hole("token_embd.weight", ggml_type::f16, {n_embd, n_vocab});
    for (std::uint32_t l = 0; l < n_layer; ++l) {
        const std::string p = strata::gguf::detail::cat("blk.", l, ".");
        w.add_tensor_hole(p + "attn_norm.weight", ggml_type::f32, {n_embd});
        for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"})
            w.add_tensor_hole(p + m + ".weight", ggml_type::f16, {n_embd, n_embd});
        w.add_tensor_hole(p + "ffn_norm.weight", ggml_type::f32, {n_embd});
        w.add_tensor_hole(p + "ffn_gate.weight", ggml_type::f16, {n_embd, n_ff});
        w.add_tensor_hole(p + "ffn_up.weight", ggml_type::f16, {n_embd, n_ff});
        w.add_tensor_hole(p + "ffn_down.weight", ggml_type::f16, {n_ff, n_embd});
    }
    w.add_tensor_hole("output_norm.weight", ggml_type::f32, {n_embd});
    w.add_tensor_hole("output.weight", ggml_type::f16, {n_embd, n_vocab});
    return w;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("a sparse 13 GB model file parses in milliseconds", "[gguf][writer]") {
    scratch_dir dir;
    const std::string path = dir.file("sparse-7b.gguf");
    llama7b_f16_layout().write(path);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(st.st_size > 13'000'000'000);
    CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < 16'000'000);  // holes take no disk

    const auto t0 = std::chrono::steady_clock::now();
    const gguf::file f = gguf::file::open(path);
    const double dt = seconds_since(t0);
    WARN("parsed a " << f.file_size() / 1e9 << " GB sparse file (" << f.tensors().size() << " tensors, "
                     << f.find("tokenizer.ggml.tokens")->size() << " tokens) in " << dt * 1e3 << " ms");
    CHECK(f.tensors().size() == 2 + 32 * 9 + 1);
    CHECK(f.total_tensor_bytes() + 4096 > f.file_size() - f.data_offset());
    CHECK(dt < 1.0);  // generous for Debug + sanitizers; milliseconds in a release build
}

TEST_CASE("300k tokenizer strings and 1000 tensors parse fast", "[gguf][writer]") {
    gguf::writer w;
    std::vector<std::string> tokens(300'000);
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = strata::gguf::detail::cat("token-", i);
    w.set_array("tokenizer.ggml.tokens", tokens);
    w.set_array("tokenizer.ggml.merges", std::vector<std::string>(tokens.begin(), tokens.begin() + 250'000));
    w.set_array("tokenizer.ggml.token_type", std::vector<std::int32_t>(tokens.size(), 1));
    for (int i = 0; i < 1000; ++i) w.add_tensor_hole(strata::gguf::detail::cat("t", i), ggml_type::q4_k, {256, 16});
    const bytes b = w.to_bytes();
    const auto t0 = std::chrono::steady_clock::now();
    const gguf::file f = parse(b);
    const double dt = seconds_since(t0);
    WARN("parsed 550k strings and 1000 tensors (" << b.size() / 1e6 << " MB) in " << dt * 1e3 << " ms");
    CHECK(f.find("tokenizer.ggml.tokens")->strings()[299'999] == "token-299999");
    CHECK(f.tensors().size() == 1000);
    CHECK(dt < 2.0);  // Debug + ASan; a release build takes ~10 ms
}
