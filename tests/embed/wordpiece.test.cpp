// WordPiece (bert) tokenization: llama.cpp's BERT test vocabulary (../shared/vocab, ids from the
// Hugging Face tokenizer), the all-MiniLM-L6-v2 vocabulary against the ids transformers gave
// (tests/data/embed), and the rules on a vocabulary written by hand.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "embed/goldens.hpp"
#include "strata/gguf/file.hpp"
#include "strata/tokenizer/tokenizers.hpp"

namespace tok = strata::tokenizer;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string show(const std::vector<tok::token_id>& ids) {
    std::string s;
    for (auto id : ids) s += std::to_string(id) + " ";
    return s;
}

// ▁ (U+2581) marks a word's first piece in GGUF's spelling of a BERT vocabulary.
const std::string ws = "\xE2\x96\x81";

tok::vocab hand_vocab() {
    tok::vocab v;
    v.model = tok::model_kind::bert;
    v.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", ws + "hello", ws + "world", ws + "un", "aff", "able",
                ws + "!", ws + ",", ws + "cafe", ws + "\xE4\xB8\xAD", ws + "a", ws + "b", "b"};
    v.types.assign(v.tokens.size(), tok::token_type::normal);
    for (int i = 0; i < 4; ++i) v.types[std::size_t(i)] = tok::token_type::control;
    v.pad = 0, v.unk = 1, v.bos = 2, v.sep = 3;
    v.add_bos = true;
    return v;
}

}  // namespace

TEST_CASE("wordpiece rules on a vocabulary written by hand", "[tokenizer][embed]") {
    const tok::tokenizer t(hand_vocab());
    using ids = std::vector<tok::token_id>;
    CHECK(t.encode("Hello, WORLD!") == ids{2, 4, 10, 5, 9, 3});     // lower case, punctuation apart, [CLS] [SEP]
    CHECK(t.encode("hello world", false) == ids{4, 5});              // no specials
    CHECK(t.encode("unaffable") == ids{2, 6, 7, 8, 3});             // greedy longest pieces
    CHECK(t.encode("unaffablex hello") == ids{2, 1, 4, 3});         // a part no piece matches: the word is [UNK]
    CHECK(t.encode("Caf\xC3\xA9") == ids{2, 11, 3});                // accent stripped (é -> e)
    CHECK(t.encode("cafe\xCC\x81") == ids{2, 11, 3});               // a combining accent dropped
    CHECK(t.encode("a\xE4\xB8\xAD" "b") == ids{2, 13, 12, 14, 3});  // a CJK ideograph is a word of its own
    CHECK(t.encode("  \t\n ", true) == ids{2, 3});                  // white space only
    CHECK(t.encode("a\x07" "b\xEF\xBF\xBD") == ids{2, 13, 15, 3});  // control char and U+FFFD dropped
    CHECK(t.encode(std::string(101, 'b'), false) == ids{1});        // longer than 100 characters: [UNK]
    CHECK(t.encode("[CLS]", false) == ids{1, 1, 1});                // specials in text are text: [ cls ]
    CHECK(t.decode(t.encode("hello unaffable", false)) == "hello unaffable");
    CHECK(t.decode(t.encode("hello world"), false, true) == "hello world");  // [CLS] dropped, [SEP] renders as nothing
}

TEST_CASE("wordpiece: a cased vocabulary keeps case and accents", "[tokenizer][embed]") {
    tok::vocab v = hand_vocab();
    v.tokens[4] = ws + "Hello";
    const tok::tokenizer t(v);
    using ids = std::vector<tok::token_id>;
    CHECK(t.encode("Hello", false) == ids{4});
    CHECK(t.encode("hello", false) == ids{1});
    CHECK(t.encode("caf\xC3\xA9", false) == ids{1});
}

TEST_CASE("wordpiece agrees with the reference on llama.cpp's BERT test vocabulary", "[tokenizer][embed]") {
    const std::string path = STRATA_SHARED_DIR "/vocab/ggml-vocab-bert-bge.gguf";
    if (!std::filesystem::exists(path)) {
        WARN("skipped: " << path << " is absent");
        return;
    }
    const auto file = strata::gguf::file::open(path);
    const tok::tokenizer t(tok::load_vocab(file));
    const std::string inp = slurp(path + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (std::size_t pos = 0; pos < inp.size();) {
        const std::size_t next = inp.find(sep, pos);
        texts.push_back(inp.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
        if (next == std::string::npos) break;
        pos = next + sep.size();
    }
    std::ifstream out(path + ".out");
    std::string line;
    std::size_t n = 0, same = 0;
    for (; std::getline(out, line); ++n) {
        REQUIRE(n < texts.size());
        std::vector<tok::token_id> want;
        std::istringstream in(line);
        for (int id; in >> id;) want.push_back(id);
        const auto got = t.encode(texts[n], false, false);
        if (got == want) ++same;
        else UNSCOPED_INFO("text " << n << " '" << texts[n] << "': got " << show(got) << " want " << show(want));
    }
    CHECK(same == n);
    CHECK(n == texts.size());
    CHECK(n >= 40);
}

TEST_CASE("wordpiece agrees with transformers on the all-MiniLM-L6-v2 vocabulary", "[tokenizer][embed]") {
    const std::string path = strata_test::minilm_path("f32");
    if (!strata_test::model_available(path)) {
        if (strata_test::in_ci()) FAIL("missing " << path << " (tools/models fetch)");
        WARN("skipped: " << path << " is absent (tools/models fetch)");
        return;
    }
    const auto file = strata::gguf::file::open(path);
    const tok::tokenizer t(tok::load_vocab(file));
    std::size_t n = 0, same = 0;
    for (const auto& g : strata_test::load_embed_goldens()) {
        ++n;
        const auto got = t.encode(g.text, true, true);  // transformers matches special tokens in text
        if (got == g.ids) ++same;
        else UNSCOPED_INFO("'" << g.text << "': got " << show(got) << " want " << show(g.ids));
    }
    CHECK(same == n);
    CHECK(n >= 60);
}
