// strata-embed: sentence embeddings from an encoder GGUF (bert, nomic-bert), printed as
// Ollama's /api/embed answers them.
//
//   strata-embed -m all-MiniLM-L6-v2-q8_0.gguf "first text" "second text"
//   some-command | strata-embed -m model.gguf           one text per non-empty line of stdin
//   strata-embed -m model.gguf --similarity a b c       the cosine matrix as a table
//   --num-ctx N, --num-batch N, --num-thread N, --no-truncate (refuse texts longer than num_ctx)
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "strata/core/json.hpp"
#include "strata/engine/embedder.hpp"

namespace {

std::int64_t ns_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}

void print_similarity(const std::vector<std::string>& texts, const std::vector<std::vector<float>>& v) {
    fmt::print("{:>4}", "");
    for (std::size_t j = 0; j < v.size(); ++j) fmt::print(" {:>7}", j);
    fmt::print("\n");
    for (std::size_t i = 0; i < v.size(); ++i) {
        fmt::print("{:>4}", i);
        for (std::size_t j = 0; j < v.size(); ++j) fmt::print(" {:>7.4f}", strata::cosine(v[i], v[j]));
        std::string t = texts[i].substr(0, 60);
        for (char& c : t)
            if (c == '\n' || c == '\t' || c == '\r') c = ' ';
        fmt::print("  {}\n", t);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Embed texts with an encoder GGUF model; prints Ollama's /api/embed JSON"};
    std::string model;
    std::vector<std::string> texts;
    strata::embed_options opt;
    bool similarity = false, verbose = false;
    app.add_option("-m,--model", model, "GGUF file (bert or nomic-bert)")->required();
    app.add_option("text", texts, "texts to embed (default: one per non-empty line of stdin)");
    app.add_option("--num-ctx", opt.num_ctx, "longest input in tokens (default: the model's context)");
    app.add_option("--num-batch", opt.num_batch, "tokens per forward pass (default 512)");
    app.add_option("--num-thread", opt.n_threads, "threads (default: one per hardware thread)");
    app.add_flag("--truncate,!--no-truncate", opt.truncate, "cut inputs longer than num_ctx (default) or refuse them");
    app.add_flag("--similarity", similarity, "print the cosine similarity matrix as a table instead of JSON");
    app.add_flag("--verbose", verbose, "timings on stderr");
    CLI11_PARSE(app, argc, argv);
    try {
        const auto t0 = std::chrono::steady_clock::now();
        if (texts.empty()) {
            for (std::string line; std::getline(std::cin, line);) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                if (!line.empty()) texts.push_back(line);
            }
        }
        if (texts.empty()) throw strata::error(strata::errc::argument, "no texts (give them as arguments or on stdin)");
        auto emb = strata::cpu_embedder::load(model, opt);
        const std::int64_t load_ns = ns_since(t0);
        const auto t1 = std::chrono::steady_clock::now();
        const auto vectors = emb.embed(texts);
        const std::int64_t embed_ns = ns_since(t1);
        const auto& st = emb.last_stats();
        if (verbose)
            fmt::print(stderr, "{} texts, {} tokens, {} passes, {} truncated: {:.1f} ms ({:.1f} texts/s, {:.0f} tokens/s)\n",
                       st.n_texts, st.n_tokens, st.n_passes, st.n_truncated, embed_ns / 1e6,
                       st.n_texts / (embed_ns / 1e9), st.n_tokens / (embed_ns / 1e9));
        if (similarity) {
            print_similarity(texts, vectors);
            return 0;
        }
        std::string out = "{\"model\":";
        strata::append_json_string(out, model);
        out += ",\"embeddings\":[";
        for (std::size_t i = 0; i < vectors.size(); ++i) {
            out += i ? ",[" : "[";
            for (std::size_t d = 0; d < vectors[i].size(); ++d) {
                if (d) out += ',';
                out += fmt::format("{}", vectors[i][d]);
            }
            out += "]";
        }
        out += fmt::format("],\"total_duration\":{},\"load_duration\":{},\"prompt_eval_count\":{}}}\n", ns_since(t0),
                           load_ns, st.n_tokens);
        std::fputs(out.c_str(), stdout);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "strata-embed: {}\n", e.what());
        return 1;
    }
}
