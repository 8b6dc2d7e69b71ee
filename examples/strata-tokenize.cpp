// strata-tokenize: a model's token ids for a text, as llama.cpp tokenizes it.
//
//   strata-tokenize -m model.gguf "Hello world"        ids on one line (BOS/EOS as the model says)
//   strata-tokenize -m model.gguf --pieces "Hello"      id and piece per line
//   strata-tokenize -m model.gguf --parse-special "<start_of_turn>user"
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "strata/gguf/file.hpp"
#include "strata/tokenizer/tokenizers.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Tokenize text with a GGUF model's tokenizer"};
    std::string model, text;
    bool pieces = false, parse_special = false, no_special = false;
    app.add_option("-m,--model", model, "GGUF file")->required();
    app.add_option("text", text, "the text")->required();
    app.add_flag("--pieces", pieces, "print id and piece per line");
    app.add_flag("--parse-special", parse_special, "treat special-token text as those tokens");
    app.add_flag("--no-special", no_special, "add no BOS/EOS");
    CLI11_PARSE(app, argc, argv);
    try {
        const auto file = strata::gguf::file::open(model);
        const strata::tokenizer::tokenizer tok(strata::tokenizer::load_vocab(file));
        const auto ids = tok.encode(text, !no_special, parse_special);
        if (pieces) {
            for (auto id : ids) fmt::print("{} '{}'\n", id, tok.piece(id, true));
        } else {
            for (std::size_t i = 0; i < ids.size(); ++i) fmt::print("{}{}", i ? " " : "", ids[i]);
            fmt::print("\n");
        }
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "strata-tokenize: {}\n", e.what());
        return 1;
    }
}
