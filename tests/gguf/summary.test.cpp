// summarize() and to_json(): what strata-inspect shows.
#include <catch2/catch.hpp>

#include "gguf/util.hpp"

using namespace gguf_test;
namespace gguf = strata::gguf;
using strata::ggml_type;

namespace {
bytes tiny_model() {
    gguf::writer w;
    w.set("general.architecture", "llama").set("general.name", "tiny \"quoted\"");
    w.set("general.file_type", 15u);  // Q4_K_M
    w.set("llama.context_length", std::uint64_t{8192}).set("llama.embedding_length", 256u);
    w.set("llama.block_count", std::int32_t{2});
    w.set("tokenizer.ggml.model", "gpt2");
    w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "c"});
    w.set("bad.float", std::numeric_limits<float>::quiet_NaN());
    w.set_array("long", std::vector<std::uint32_t>(100, 7u));
    w.add_tensor_hole("token_embd.weight", ggml_type::q6_k, {256, 3});
    for (int l = 0; l < 2; ++l) {
        const std::string p = strata::gguf::detail::cat("blk.", l, ".");
        w.add_tensor_hole(p + "attn_norm.weight", ggml_type::f32, {256});
        w.add_tensor_hole(p + "attn_q.weight", ggml_type::q4_k, {256, 256});
    }
    return w.to_bytes();
}
}  // namespace

TEST_CASE("summarize: architecture, hyperparameters, parameter count and type mix", "[gguf][summary]") {
    const bytes b = tiny_model();
    const gguf::file f = parse(b, "tiny.gguf");
    const gguf::summary s = gguf::summarize(f);
    CHECK(s.architecture == "llama");
    CHECK(s.name == "tiny \"quoted\"");
    CHECK(s.context_length == 8192);
    CHECK(s.embedding_length == 256);
    CHECK(s.block_count == 2);
    CHECK(s.file_type == 15);
    CHECK(gguf::file_type_name(*s.file_type) == "Q4_K_M");
    CHECK(s.tokenizer_model == "gpt2");
    CHECK(s.vocab_size == 3u);
    CHECK(s.parameters == 256 * 3 + 2 * (256 + 256 * 256));
    CHECK(s.tensor_count == 5);
    REQUIRE(s.types.size() == 3);
    CHECK(s.types[0].type == ggml_type::q4_k);  // largest first
    CHECK(s.types[0].tensors == 2);
    CHECK(s.types[0].bytes == 2 * 256 * 144);
    CHECK(s.types[1].type == ggml_type::f32);  // 2 × 256 × 4 bytes
    CHECK(s.types[1].elements == 512);
    CHECK(s.types[2].type == ggml_type::q6_k);  // 3 rows × 210 bytes
    CHECK(s.types[2].bytes == 630);
    CHECK(s.tensor_bytes == 630 + 2 * 256 * 4 + 2 * 256 * 144);  // the three types' bytes
}

TEST_CASE("summarize: a wrong-typed hyperparameter is an error, absent ones are empty", "[gguf][summary]") {
    gguf::writer w;
    w.set("general.architecture", "qwen2").set("qwen2.context_length", "long");
    const bytes b = w.to_bytes();
    const gguf::file f = parse(b);
    const auto e = catch_error([&] { (void)gguf::summarize(f); });
    CHECK(e.category() == strata::errc::type);
    CHECK(e.message() == "key 'qwen2.context_length': expected an integer, found string");

    gguf::writer empty;
    const bytes eb = empty.to_bytes();
    const gguf::summary s = gguf::summarize(parse(eb));
    CHECK(s.architecture.empty());
    CHECK_FALSE(s.context_length);
    CHECK_FALSE(s.vocab_size);
    CHECK(s.parameters == 0);
}

TEST_CASE("human-readable counts, sizes, shapes and file types", "[gguf][summary]") {
    CHECK(gguf::human_count(268'098'176) == "268.10M");
    CHECK(gguf::human_count(8'030'261'248) == "8.03B");
    CHECK(gguf::human_count(999) == "999");
    CHECK(gguf::human_count(1500) == "1.50K");
    CHECK(gguf::human_bytes(512) == "512 B");
    CHECK(gguf::human_bytes(253'452'288) == "241.71 MiB");
    CHECK(gguf::human_bytes(std::uint64_t{3} << 40) == "3.00 TiB");
    gguf::tensor_info t;
    t.n_dims = 2;
    t.ne = {640, 262144, 1, 1};
    CHECK(gguf::shape_string(t) == "[640, 262144]");
    CHECK(gguf::file_type_name(0) == "F32");
    CHECK(gguf::file_type_name(7) == "Q8_0");
    CHECK(gguf::file_type_name(32) == "BF16");
    CHECK(gguf::file_type_name(1024 + 18) == "Q6_K");  // the "guessed" flag
    CHECK(gguf::file_type_name(5).empty());
    CHECK(gguf::file_type_name(-1).empty());
    CHECK(gguf::file_type_name(999).empty());
}

TEST_CASE("to_json: summary, metadata and tensors", "[gguf][summary]") {
    const bytes b = tiny_model();
    const gguf::file f = parse(b, "tiny.gguf");
    const std::string j = gguf::to_json(gguf::summarize(f), f, true, 0);
    CHECK_THAT(j, Catch::StartsWith("{\"file\":\"tiny.gguf\",\"version\":3,"));
    CHECK_THAT(j, Catch::Contains("\"architecture\":\"llama\",\"name\":\"tiny \\\"quoted\\\"\""));
    CHECK_THAT(j, Catch::Contains("\"context_length\":8192,\"embedding_length\":256,\"block_count\":2,"
                                  "\"file_type\":15,\"file_type_name\":\"Q4_K_M\""));
    CHECK_THAT(j, Catch::Contains("\"vocab_size\":3"));
    CHECK_THAT(j, Catch::Contains("\"types\":[{\"type\":\"q4_K\",\"tensors\":2,\"elements\":131072,\"bytes\":73728}"));
    CHECK_THAT(j, Catch::Contains("\"tokenizer.ggml.tokens\":[\"a\",\"b\",\"c\"]"));
    CHECK_THAT(j, Catch::Contains("\"bad.float\":null"));  // NaN is not JSON
    CHECK_THAT(j, Catch::Contains("\"long\":{\"element_type\":\"u32\",\"length\":100}"));
    CHECK_THAT(j, Catch::Contains("{\"name\":\"blk.0.attn_q.weight\",\"shape\":[256,256],\"type\":\"q4_K\",\"bytes\":36864,"));
    CHECK(j.back() == '}');

    const std::string no_tensors = gguf::to_json(gguf::summarize(f), f, false, 2);
    CHECK(no_tensors.find("\"tensors\": [") == std::string::npos);
    CHECK_THAT(no_tensors, Catch::Contains("\n  \"architecture\": \"llama\",\n"));
    CHECK(no_tensors.back() == '\n');
}
