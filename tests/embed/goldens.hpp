// tests/embed/goldens.hpp — the records tools/reference/embed_goldens.py writes
// (tests/data/embed/minilm_goldens.txt) and where the all-MiniLM-L6-v2 variants are.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/models.hpp"

namespace strata_test {

struct embed_golden {
    std::string kind;  // "tokenize", or for embed records: text, query, doc
    std::string text;
    std::vector<std::int32_t> ids;
    std::vector<double> embedding;  // empty for tokenize records
};

inline std::vector<embed_golden> load_embed_goldens() {
    const std::string path = STRATA_TEST_DATA_DIR "/embed/minilm_goldens.txt";
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::vector<embed_golden> out;
    std::string line;
    while (std::getline(f, line)) {
        const auto parts = detail::split_bar(line);
        std::istringstream head(parts.at(0));
        std::string tag, hex;
        embed_golden g;
        head >> tag;
        if (tag == "tokenize") {
            g.kind = tag;
        } else if (tag == "embed") {
            head >> g.kind;
            g.embedding = detail::numbers<double>(parts.at(2));
        } else {
            throw std::runtime_error(path + ": unknown record '" + tag + "'");
        }
        head >> hex;
        g.text = detail::unhex(hex);
        g.ids = detail::numbers<std::int32_t>(parts.at(1));
        out.push_back(std::move(g));
    }
    return out;
}

inline std::string minilm_path(const std::string& type) {
    return model_path("all-minilm-l6-v2", "all-MiniLM-L6-v2-" + type + ".gguf");
}

}  // namespace strata_test
