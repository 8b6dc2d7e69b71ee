// tests/support/models.hpp — where the real test models are (tools/models fetches them into
// $STRATA_CACHE/models, default ~/.cache/strata/models) and the goldens llama.cpp wrote for them.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace strata_test {

inline std::string model_path(const std::string& name, const std::string& file) {
    std::string cache;
    if (const char* c = std::getenv("STRATA_CACHE")) {
        cache = c;
    } else if (const char* home = std::getenv("HOME")) {
        cache = std::string(home) + "/.cache/strata";
    }
    return cache + "/models/" + name + "/" + file;
}

inline std::string gemma3_path() { return model_path("gemma3-270m-q4_k_m", "gemma-3-270m-q4_k_m.gguf"); }

inline bool model_available(const std::string& path) { return std::filesystem::exists(path); }
// In CI a missing model is a failure (tools/test fetches it first); elsewhere the test skips.
inline bool in_ci() { return std::getenv("CI") != nullptr; }

// ---- goldens written by tools/reference/model_goldens.py (its OUT.txt format) ----------------

struct tokenize_golden {
    std::string text;
    std::vector<std::int32_t> ids, ids_parse_special;
};

struct greedy_golden {
    std::string kind, text;
    std::vector<std::int32_t> prompt, ids;
    std::vector<double> top2_gap;
    std::vector<std::pair<int, std::vector<std::pair<std::int32_t, float>>>> top20;  // (step, (id, logit))
};

struct model_goldens {
    std::vector<tokenize_golden> tokenize;
    std::vector<greedy_golden> greedy;
};

namespace detail {
inline std::string unhex(const std::string& h) {
    if (h == "-") return {};
    std::string s;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) s += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
    return s;
}
template <class T>
std::vector<T> numbers(const std::string& s) {
    std::istringstream in(s);
    std::vector<T> v;
    T x;
    while (in >> x) v.push_back(x);
    return v;
}
inline std::vector<std::string> split_bar(const std::string& line) {
    std::vector<std::string> parts;
    std::size_t at = 0;
    for (;;) {
        const auto bar = line.find(" | ", at);
        parts.push_back(line.substr(at, bar == std::string::npos ? std::string::npos : bar - at));
        if (bar == std::string::npos) break;
        at = bar + 3;
    }
    return parts;
}
}  // namespace detail

inline model_goldens load_model_goldens(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open " + path);
    model_goldens g;
    std::string line;
    while (std::getline(f, line)) {
        auto parts = detail::split_bar(line);
        std::istringstream head(parts[0]);
        std::string tag;
        head >> tag;
        if (tag == "tokenize") {
            std::string hex;
            head >> hex;
            g.tokenize.push_back({detail::unhex(hex), detail::numbers<std::int32_t>(parts.at(1)),
                                  detail::numbers<std::int32_t>(parts.at(2))});
        } else if (tag == "greedy") {
            greedy_golden gg;
            std::string hex;
            head >> gg.kind >> hex;
            gg.text = detail::unhex(hex);
            gg.prompt = detail::numbers<std::int32_t>(parts.at(1));
            gg.ids = detail::numbers<std::int32_t>(parts.at(2));
            gg.top2_gap = detail::numbers<double>(parts.at(3));
            g.greedy.push_back(std::move(gg));
        } else if (tag == "top20") {
            std::size_t index = 0;
            int step = 0;
            head >> index >> step;
            std::istringstream in(parts.at(1));
            std::vector<std::pair<std::int32_t, float>> top;
            std::int32_t id;
            float logit;
            while (in >> id >> logit) top.emplace_back(id, logit);
            g.greedy.at(index).top20.emplace_back(step, std::move(top));
        }
    }
    return g;
}

}  // namespace strata_test
