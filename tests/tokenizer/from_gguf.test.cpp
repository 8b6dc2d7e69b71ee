// load_vocab on GGUF files built in memory: llama.cpp's defaults, the special tokens it finds by
// their text, and an error with the right category for each kind of bad metadata.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "strata/core/error.hpp"
#include "strata/gguf/file.hpp"
#include "strata/gguf/writer.hpp"
#include "strata/tokenizer/from_gguf.hpp"
#include "strata/tokenizer/tokenizer.hpp"

namespace tok = strata::tokenizer;
namespace gguf = strata::gguf;
using strata::errc;

namespace {
const std::string sp = "\xE2\x96\x81";

gguf::writer llama_writer() {
    gguf::writer w;
    w.set("tokenizer.ggml.model", "llama");
    w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", sp + "a", "a", "<|im_end|>"});
    return w;
}

gguf::writer gpt2_writer(const char* pre) {
    gguf::writer w;
    w.set("tokenizer.ggml.model", "gpt2");
    w.set("tokenizer.ggml.pre", pre);
    w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "ab", "<|endoftext|>", "<|eot_id|>"});
    w.set_array("tokenizer.ggml.merges", std::vector<std::string>{"a b"});
    return w;
}

tok::vocab load(const gguf::writer& w) {
    const std::vector<std::byte> bytes = w.to_bytes();
    return tok::load_vocab(gguf::file::parse(bytes, "mem.gguf"));
}

errc load_error(const gguf::writer& w) {
    try {
        load(w);
    } catch (const strata::error& e) {
        return e.category();
    }
    FAIL("no strata::error thrown");
    return errc::internal;
}

bool has(const std::vector<tok::token_id>& v, tok::token_id id) { return std::find(v.begin(), v.end(), id) != v.end(); }
}  // namespace

TEST_CASE("load_vocab applies llama.cpp's SentencePiece defaults", "[tokenizer][gguf]") {
    const tok::vocab v = load(llama_writer());
    CHECK(v.model == tok::model_kind::llama);
    CHECK(v.tokens.size() == 6);
    CHECK(v.bos == 1);
    CHECK(v.eos == 2);
    CHECK(v.unk == 0);
    CHECK(v.add_bos);
    CHECK_FALSE(v.add_eos);
    CHECK(v.add_space_prefix);
    CHECK_FALSE(v.clean_spaces);
    // found by its text, made a control token, and it ends generation
    CHECK(v.eot == 5);
    CHECK((v.attrs[5] & tok::attr::control) != 0);
    CHECK(has(v.eog, 5));
    CHECK(has(v.eog, 2));
    const tok::tokenizer t(v);
    CHECK(t.encode("a", true) == std::vector<tok::token_id>{1, 3});
}

TEST_CASE("load_vocab reads keys over the defaults", "[tokenizer][gguf]") {
    gguf::writer w = llama_writer();
    w.set("tokenizer.ggml.add_bos_token", false);
    w.set("tokenizer.ggml.add_eos_token", true);
    w.set("tokenizer.ggml.add_space_prefix", false);
    w.set("tokenizer.ggml.eos_token_id", std::uint32_t{4});
    w.set("tokenizer.ggml.eot_token_id", std::uint32_t{2});
    w.set_array("tokenizer.ggml.scores", std::vector<std::int32_t>{0, 0, 0, -1, -2, 0});  // i32 scores are read too
    w.set_array("tokenizer.ggml.token_type", std::vector<std::int32_t>{2, 3, 3, 1, 1, 3});
    const tok::vocab v = load(w);
    CHECK_FALSE(v.add_bos);
    CHECK(v.add_eos);
    CHECK_FALSE(v.add_space_prefix);
    CHECK(v.eos == 4);
    CHECK(v.eot == 2);
    CHECK(v.scores[4] == -2.0f);
    CHECK(v.types[0] == tok::token_type::unknown);
    CHECK(v.attrs[1] == tok::attr::control);
}

TEST_CASE("load_vocab applies the gpt2 model's and pre-tokenizer's defaults", "[tokenizer][gguf]") {
    gguf::writer w = gpt2_writer("gpt-2");
    tok::vocab v = load(w);
    CHECK(v.model == tok::model_kind::gpt2);
    CHECK(v.pre == "gpt-2");
    CHECK(v.merges == std::vector<std::string>{"a b"});
    CHECK(v.bos == tok::null_token);  // the default 11 lies outside this vocabulary
    CHECK(v.clean_spaces);
    CHECK_FALSE(v.add_bos);
    CHECK(v.eot == 4);  // "<|eot_id|>" comes before "<|endoftext|>" in llama.cpp's list
    CHECK(has(v.eog, 3));
    CHECK(has(v.eog, 4));

    // llama-bpe: add_bos by default, which needs a bos id
    w = gpt2_writer("llama-bpe");
    CHECK(load_error(w) == errc::format);
    w.set("tokenizer.ggml.bos_token_id", std::uint32_t{3});
    v = load(w);
    CHECK(v.add_bos);
    CHECK(v.ignore_merges);
    const tok::tokenizer t(v);
    CHECK(t.encode("ab", true) == std::vector<tok::token_id>{3, 2});

    v = load(gpt2_writer("qwen2"));
    CHECK_FALSE(v.clean_spaces);
}

TEST_CASE("load_vocab sets Phi-3's rstrip by model name", "[tokenizer][gguf]") {
    gguf::writer w = llama_writer();
    w.set("general.name", "Phi3");
    w.set_array("tokenizer.ggml.token_type", std::vector<std::int32_t>{3, 3, 4, 1, 1, 3});
    const tok::vocab v = load(w);
    CHECK((v.attrs[5] & tok::attr::rstrip) != 0);
    CHECK((v.attrs[2] & tok::attr::rstrip) != 0);
    CHECK((v.attrs[1] & tok::attr::rstrip) == 0);
    CHECK((v.attrs[0] & tok::attr::rstrip) == 0);
}

TEST_CASE("load_vocab refuses bad metadata with the right category", "[tokenizer][gguf]") {
    gguf::writer w = llama_writer();
    w.remove("tokenizer.ggml.model");
    CHECK(load_error(w) == errc::missing);

    w = llama_writer();
    w.remove("tokenizer.ggml.tokens");
    CHECK(load_error(w) == errc::missing);

    w = gpt2_writer("gpt-2");
    w.remove("tokenizer.ggml.merges");
    CHECK(load_error(w) == errc::missing);

    w = llama_writer();
    w.set_array("tokenizer.ggml.scores", std::vector<float>{0, 0, 0});
    CHECK(load_error(w) == errc::format);

    w = llama_writer();
    w.set_array("tokenizer.ggml.token_type", std::vector<std::int32_t>{1, 1, 1, 1, 1, 1, 1});
    CHECK(load_error(w) == errc::format);

    w = llama_writer();
    w.set_array("tokenizer.ggml.token_type", std::vector<std::uint32_t>{1, 1, 1, 1, 1, 1});
    CHECK(load_error(w) == errc::type);

    w = llama_writer();
    w.set("tokenizer.ggml.eos_token_id", std::uint32_t{6});
    CHECK(load_error(w) == errc::format);

    w = llama_writer();
    w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", "a", "a"});
    CHECK(load_error(w) == errc::format);

    w = llama_writer();
    w.set("tokenizer.ggml.model", "t5");
    CHECK(load_error(w) == errc::unsupported);

    CHECK(load_error(gpt2_writer("no-such-pre")) == errc::unsupported);
}

TEST_CASE("load_vocab names empty tokens as llama.cpp does", "[tokenizer][gguf]") {
    gguf::writer w = llama_writer();
    w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", ""});
    const tok::vocab v = load(w);
    CHECK(v.tokens[3] == "[EMPTY_3]");
}
