// strata-inspect — what is in a GGUF model file, like `ollama show`, without loading weights.
//
//   strata-inspect MODEL.gguf [--json] [--no-tensors]
//
// All the logic is in strata/gguf/summary.hpp; this file only prints.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "strata/gguf/gguf.hpp"
#include "strata/model/weights.hpp"

namespace gguf = strata::gguf;

namespace {

template <class T>
std::string or_dash(const std::optional<T>& v) {
    return v ? fmt::to_string(*v) : "-";
}

void print_text(const gguf::summary& s, const gguf::file& f, bool tensors) {
    const auto row = [](std::string_view k, const std::string& v) { fmt::print("    {:<20}{}\n", k, v); };
    std::string quant = s.file_type ? std::string(gguf::file_type_name(*s.file_type)) : "-";
    if (s.file_type && quant.empty()) quant = fmt::format("unknown ({})", *s.file_type);

    fmt::print("  Model\n");
    row("architecture", s.architecture.empty() ? "-" : s.architecture);
    if (!s.name.empty()) row("name", s.name);
    row("parameters", gguf::human_count(s.parameters));
    row("context length", or_dash(s.context_length));
    row("embedding length", or_dash(s.embedding_length));
    row("block count", or_dash(s.block_count));
    row("quantization", quant);
    row("file", fmt::format("{} (GGUF v{}, {} tensors, {} metadata keys)", gguf::human_bytes(s.file_size), s.version,
                            s.tensor_count, f.metadata().size()));
    // the same hyperparameter and tensor-shape check the engine runs at load
    const std::string problem = strata::model::check(f);
    row("engine check", problem.empty() ? "ok: every tensor present with the shape the hyperparameters give" : problem);

    fmt::print("\n  Tokenizer\n");
    row("model", s.tokenizer_model.empty() ? "-" : s.tokenizer_model);
    row("vocab size", or_dash(s.vocab_size));

    fmt::print("\n  Types\n    {:<10}{:>8}{:>14}{:>8}\n", "type", "tensors", "bytes", "%");
    for (const gguf::type_share& t : s.types)
        fmt::print("    {:<10}{:>8}{:>14}{:>7.1f}%\n", strata::type_name(t.type), t.tensors, gguf::human_bytes(t.bytes),
                   s.tensor_bytes ? 100.0 * static_cast<double>(t.bytes) / static_cast<double>(s.tensor_bytes) : 0.0);

    if (!tensors) return;
    std::size_t name_width = 4, shape_width = 5;
    for (const gguf::tensor_info& t : f.tensors()) {
        name_width = std::max(name_width, t.name.size());
        shape_width = std::max(shape_width, gguf::shape_string(t).size());
    }
    fmt::print("\n  Tensors\n    {:<{}}  {:<{}}  {:<8}{:>12}\n", "name", name_width, "shape", shape_width, "type", "bytes");
    for (const gguf::tensor_info& t : f.tensors())
        fmt::print("    {:<{}}  {:<{}}  {:<8}{:>12}\n", t.name, name_width, gguf::shape_string(t), shape_width,
                   strata::type_name(t.type), gguf::human_bytes(t.n_bytes));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"strata-inspect: show what a GGUF model file holds (no weights are read)"};
    std::string path;
    bool json = false, no_tensors = false;
    app.add_option("model", path, "the .gguf file")->required();
    app.add_flag("--json", json, "print JSON (the summary, every metadata key and every tensor)");
    app.add_flag("--no-tensors", no_tensors, "leave out the tensor list");
    CLI11_PARSE(app, argc, argv);

    try {
        const gguf::file f = gguf::file::open(path);
        const gguf::summary s = gguf::summarize(f);
        if (json) fmt::print("{}", gguf::to_json(s, f, !no_tensors));
        else print_text(s, f, !no_tensors);
        std::fflush(stdout);
        return 0;
    } catch (const std::exception& e) {  // strata::error, and bad_alloc or an output error
        fmt::print(stderr, "strata-inspect: {}\n", e.what());
        return 1;
    }
}
