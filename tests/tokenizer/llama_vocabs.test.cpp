// The tokenizer test vocabularies of llama.cpp (../shared/vocab/): every test string must give the
// ids of its .out line, tokenized as llama.cpp's test-tokenizer-0 does (add_special = false,
// parse_special = false; the .inp strings are split on "\n__ggml_vocab_test__\n").
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "strata/gguf/file.hpp"
#include "strata/tokenizer/tokenizers.hpp"

namespace tok = strata::tokenizer;

namespace {

const std::string vocab_dir = STRATA_SHARED_DIR "/vocab";

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct test_case {
    std::string text;
    std::vector<tok::token_id> ids;
};

std::vector<test_case> read_cases(const std::string& gguf_path) {
    const std::string inp = slurp(gguf_path + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (std::size_t pos = 0; pos < inp.size();) {
        const std::size_t next = inp.find(sep, pos);
        if (next == std::string::npos) {
            texts.push_back(inp.substr(pos));
            break;
        }
        texts.push_back(inp.substr(pos, next - pos));
        pos = next + sep.size();
    }
    std::ifstream out(gguf_path + ".out");
    std::vector<test_case> cases;
    std::string line;
    for (std::size_t i = 0; std::getline(out, line); ++i) {
        test_case c;
        c.text = i < texts.size() ? texts[i] : std::string();
        std::istringstream ids(line);
        for (int id; ids >> id;) c.ids.push_back(id);
        cases.push_back(std::move(c));
    }
    REQUIRE(cases.size() == texts.size());
    return cases;
}

bool valid_utf8(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t p = i;
        if (tok::detail::decode_utf8(s, p) == tok::detail::replacement_char && s.compare(i, 3, "\xEF\xBF\xBD") != 0)
            return false;
        i = p;
    }
    return true;
}

// llama_detokenize's space clean-up changes these, so no round trip is promised for them.
bool cleaned_by_decode(const std::string& s) {
    for (const char* p : {" ?", " !", " .", " ,", " '"})
        if (s.find(p) != std::string::npos) return true;
    return false;
}

const char* const vocab_names[] = {"gpt-2",  "llama-spm", "phi-3",    "deepseek-coder", "deepseek-llm",
                                   "falcon", "mpt",       "refact",   "starcoder"};

}  // namespace

TEST_CASE("llama.cpp test vocabularies tokenize to the reference ids", "[tokenizer][vocab]") {
    if (!std::filesystem::exists(vocab_dir)) {
        WARN("skipped: " << vocab_dir << " is absent");
        return;
    }
    const std::string name = GENERATE(from_range(std::begin(vocab_names), std::end(vocab_names)));
    const std::string path = vocab_dir + "/ggml-vocab-" + name + ".gguf";
    if (!std::filesystem::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    const tok::tokenizer t(tok::load_vocab(strata::gguf::file::open(path)));
    const std::vector<test_case> cases = read_cases(path);
    std::size_t passed = 0, round_trips = 0, round_trip_checked = 0;
    for (const test_case& c : cases) {
        INFO(name << ": \"" << c.text << "\"");
        const std::vector<tok::token_id> got = t.encode(c.text, false, false);
        CHECK(got == c.ids);
        passed += got == c.ids;
        if (valid_utf8(c.text) && !(t.vocabulary().clean_spaces && cleaned_by_decode(c.text))) {
            ++round_trip_checked;
            const std::string back = t.decode(got);
            CHECK(back == c.text);
            round_trips += back == c.text;
        }
    }
    std::printf("tokenizer %-15s %2zu/%zu strings, %2zu/%zu round trips\n", name.c_str(), passed, cases.size(),
                round_trips, round_trip_checked);
}

TEST_CASE("test vocabularies load with llama.cpp's metadata defaults", "[tokenizer][vocab]") {
    const auto open = [](const char* name) {
        return tok::load_vocab(strata::gguf::file::open(vocab_dir + "/ggml-vocab-" + name + ".gguf"));
    };
    if (!std::filesystem::exists(vocab_dir + "/ggml-vocab-gpt-2.gguf")) {
        WARN("skipped: " << vocab_dir << " is absent");
        return;
    }
    const tok::vocab gpt2 = open("gpt-2");
    CHECK(gpt2.model == tok::model_kind::gpt2);
    CHECK(gpt2.bos == 50256);
    CHECK(gpt2.eos == 50256);
    CHECK(gpt2.eot == 50256);
    CHECK(gpt2.eog == std::vector<tok::token_id>{50256});
    CHECK(gpt2.clean_spaces);
    CHECK_FALSE(gpt2.add_bos);
    CHECK(gpt2.merges.size() == 50000);

    const tok::vocab spm = open("llama-spm");
    CHECK(spm.model == tok::model_kind::llama);
    CHECK(spm.add_bos);
    CHECK(spm.add_space_prefix);
    CHECK(spm.unk == 0);
    const tok::tokenizer t(spm);
    const std::vector<tok::token_id> plain = t.encode("Hello world", false);
    std::vector<tok::token_id> with_bos{1};
    with_bos.insert(with_bos.end(), plain.begin(), plain.end());
    CHECK(t.encode("Hello world", true) == with_bos);
    CHECK(t.encode("<s>Hello world", false, true) == with_bos);
    CHECK(t.decode(plain) == "Hello world");
    // as in llama_detokenize, dropping the BOS also drops the removal of the prefix space
    CHECK(t.decode(with_bos, false, true) == " Hello world");

    const tok::vocab phi3 = open("phi-3");
    CHECK(phi3.eos == 32000);
    CHECK(phi3.eot == 32007);  // <|end|>
    const tok::tokenizer p(phi3);
    CHECK(p.is_eog(32000));
    CHECK(p.is_eog(32007));
    // Phi-3's specials eat the white space after them
    CHECK(p.encode("<|user|>\nHi", false, true) == p.encode("<|user|>Hi", false, true));

    const tok::vocab coder = open("deepseek-coder");
    CHECK(coder.add_bos);
    CHECK(coder.bos == 32013);
    CHECK_FALSE(coder.clean_spaces);
    const tok::tokenizer c(coder);
    CHECK(c.encode("x", true).front() == 32013);
}

TEST_CASE("test vocabularies take any bytes without throwing", "[tokenizer][vocab]") {
    if (!std::filesystem::exists(vocab_dir)) {
        WARN("skipped: " << vocab_dir << " is absent");
        return;
    }
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> byte(0, 255), len(0, 48);
    for (const char* name : vocab_names) {
        const std::string path = vocab_dir + "/ggml-vocab-" + name + ".gguf";
        if (!std::filesystem::exists(path)) continue;
        const tok::tokenizer t(tok::load_vocab(strata::gguf::file::open(path)));
        for (int i = 0; i < 200; ++i) {
            std::string s(static_cast<std::size_t>(len(rng)), '\0');
            for (char& ch : s) ch = static_cast<char>(i % 2 ? byte(rng) : byte(rng) % 128);
            std::vector<tok::token_id> ids;
            INFO(name);
            REQUIRE_NOTHROW(ids = t.encode(s, true, i % 3 == 0));
            for (tok::token_id id : ids) REQUIRE(t.vocabulary().contains(id));
            REQUIRE_NOTHROW(t.decode(ids, i % 2 == 0));
        }
    }
}
