// strata-chat: chat with a GGUF model, like `ollama run`: on the CPU, or with as many layers on
// the GPUs as fit in a build with CUDA.
//
//   strata-chat -m model.gguf                     interactive (/bye, /clear, /set parameter ...)
//   strata-chat -m model.gguf -p "Why is the sky blue?"
//   strata-chat -m model.gguf --raw -p "Once upon a time"   plain completion of the text
//   strata-chat -m model.gguf --num-gpu 0         everything on the CPU (a build with CUDA)
//
// Generated text goes to stdout, everything else to stderr.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <fstream>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include "load_engine.hpp"
#include "strata/engine/conversation.hpp"
#include "strata/engine/generate.hpp"
#include "strata/engine/plan_at_load.hpp"
#include "strata/plan/plan.hpp"
#include "strata/sample/set_parameter.hpp"

namespace {

void print_text(std::string_view t) {
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fflush(stdout);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw strata::error(strata::errc::io, "cannot open the plan", path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void progress_bar(double done) {
    const int width = 40, filled = int(done * width);
    fmt::print(stderr, "\rloading [{}{}] {:3.0f}%", std::string(std::size_t(filled), '#'),
               std::string(std::size_t(width - filled), ' '), done * 100);
    if (done >= 1.0) fmt::print(stderr, "\n");
}

void print_stats(const strata::generate_stats& st, double load_seconds) {
    fmt::print(stderr, "\nload duration:        {:.3f}s\n", load_seconds);
    fmt::print(stderr, "prompt eval count:    {} token(s)\n", st.prompt_tokens);
    fmt::print(stderr, "prompt eval duration: {:.3f}s\n", st.prompt_seconds);
    fmt::print(stderr, "prompt eval rate:     {:.2f} tokens/s\n", st.prompt_tokens / std::max(st.prompt_seconds, 1e-9));
    fmt::print(stderr, "eval count:           {} token(s)\n", st.generated_tokens);
    fmt::print(stderr, "eval duration:        {:.3f}s\n", st.generate_seconds);
    fmt::print(stderr, "eval rate:            {:.2f} tokens/s\n", st.generated_tokens / std::max(st.generate_seconds, 1e-9));
    fmt::print(stderr, "stopped by:           {}\n", strata::to_string(st.reason));
    // weights are mapped, not copied: the peak resident set is what the pages read plus the
    // KV cache and activations
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    fmt::print(stderr, "peak RSS:             {:.1f} MiB\n", double(ru.ru_maxrss) / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Chat with a GGUF model"};
    std::string model, prompt, system, chat_format;
    bool raw = false, verbose = false;
    strata::session_options so;
    strata::generate_options go;
    int num_thread = 0;
    auto& sp = so.sampling;
    app.add_option("-m,--model", model, "GGUF file")->required();
    app.add_option("-p,--prompt", prompt, "answer this once and exit");
    app.add_option("--system", system, "system prompt");
    app.add_flag("--raw", raw, "no chat template: continue the text");
    app.add_option("--chat-format", chat_format, "chatml, gemma, llama3, phi3, llama2 (default: from the model)");
    app.add_flag("--verbose", verbose, "timings like ollama run --verbose");
    auto* num_ctx = app.add_option("--num-ctx", so.n_ctx, "context length")->capture_default_str();
    auto* num_batch = app.add_option("--num-batch", so.n_batch, "prompt tokens per forward pass")->capture_default_str();
    std::string plan_file;
    app.add_option("--plan", plan_file, "run the placement of a plan (strata-plan --json > FILE)");
    app.add_option("--num-thread", num_thread, "CPU threads (0: all)")->capture_default_str();
    int num_gpu = -1;
    app.add_option("--num-gpu", num_gpu, "layers on the GPUs (-1: as many as fit, 0: none)")->capture_default_str();
    std::string kv_type = "f16";
    auto* kv = app.add_option("--kv-type", kv_type, "KV cache type: f16 or q8_0")->capture_default_str();
    auto* keep = app.add_option("--num-keep", so.num_keep,
                                "tokens kept when a full context shifts (without it a full context is an error)");
    app.add_option("--num-predict", go.num_predict, "tokens to generate at most (-1: no limit)")->capture_default_str();
    app.add_option("--temperature", sp.temperature)->capture_default_str();
    app.add_option("--top-k", sp.top_k)->capture_default_str();
    app.add_option("--top-p", sp.top_p)->capture_default_str();
    app.add_option("--min-p", sp.min_p)->capture_default_str();
    app.add_option("--typical-p", sp.typical_p)->capture_default_str();
    app.add_option("--repeat-penalty", sp.repeat_penalty)->capture_default_str();
    app.add_option("--repeat-last-n", sp.repeat_last_n)->capture_default_str();
    app.add_option("--presence-penalty", sp.presence_penalty)->capture_default_str();
    app.add_option("--frequency-penalty", sp.frequency_penalty)->capture_default_str();
    std::int64_t seed = -1;
    app.add_option("--seed", seed, "random seed (-1: random)")->capture_default_str();
    app.add_option("--stop", go.stop, "stop string (repeatable)");
    CLI11_PARSE(app, argc, argv);

    try {
        sp.seed = seed < 0 ? strata::sample::random_seed : static_cast<std::uint32_t>(seed);
        so.kv_type = strata::model::kv_type_from_name(kv_type);
        so.context_shift = keep->count() > 0;
        strata::sample::validate(sp);
        const auto t0 = std::chrono::steady_clock::now();
        strata::load_options lo{num_thread, true, isatty(2) ? progress_bar : std::function<void(double)>{}};
        if (!plan_file.empty()) {
            // the plan's run settings are what its memory figures assume; flags given override them
            const auto plan = strata::plan::from_json(read_file(plan_file));
            strata::plan::check_matches(plan, strata::gguf::file::open(model));
            lo.placement = strata::placement::from_plan(plan);
            if (!num_ctx->count()) so.n_ctx = plan.num_ctx;
            if (!num_batch->count()) so.n_batch = plan.num_batch;
            if (!kv->count()) so.kv_type = plan.kv_type;
        } else {
            lo.plan = strata::plan_at_load(strata::plan_config(so, num_thread, num_gpu));
        }
        const auto eng = strata_examples::load_engine(model, lo);
        const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto session_ptr = eng->new_session(so);
        auto& session = *session_ptr;
        if (verbose && eng->planned())
            for (const auto& r : eng->planned()->reasons) fmt::print(stderr, "plan: {}\n", r);
        if (verbose)
            for (const auto& u : session.usage())
                fmt::print(stderr, "device {}: weights {:.1f} MiB, KV {:.1f} MiB, compute {:.1f} MiB\n", u.name,
                           u.weights_bytes / 1048576.0, u.kv_bytes / 1048576.0, u.compute_bytes / 1048576.0);

        if (raw) {
            if (prompt.empty()) throw strata::error(strata::errc::argument, "--raw needs -p TEXT");
            const auto ids = eng->tokenizer().encode(prompt, true, true);
            const auto st = strata::generate(session, eng->tokenizer(), ids, go, print_text);
            if (verbose) print_stats(st, load_seconds);
            return 0;
        }
        const auto fmt = chat_format.empty() ? eng->chat_format() : std::optional(strata::chat::parse_format(chat_format));
        if (!fmt) throw strata::error(strata::errc::unsupported, model + ": no chat format known for this model; use --raw or --chat-format");
        strata::conversation conv(session, eng->tokenizer(), *fmt, system);
        if (!prompt.empty()) {
            const auto st = conv.say(prompt, go, print_text);
            print_text("\n");
            if (verbose) print_stats(st, load_seconds);
            return 0;
        }
        std::string line;
        for (;;) {
            fmt::print(stderr, ">>> ");
            if (!std::getline(std::cin, line) || line == "/bye") break;
            if (line.empty()) continue;
            if (line == "/clear") { conv.clear(); fmt::print(stderr, "Cleared session context\n"); continue; }
            if (line.rfind("/set parameter ", 0) == 0) {
                std::istringstream in(line.substr(15));
                std::string name, value;
                in >> name >> value;
                try {
                    if (name == "num_predict") go.num_predict = std::stoll(value);
                    else if (name == "stop") go.stop.push_back(value);
                    else {
                        auto p = session.sampling();
                        strata::sample::set_parameter(p, name, value);
                        session.set_sampling(p);
                    }
                    fmt::print(stderr, "Set parameter '{}' to '{}'\n", name, value);
                } catch (const std::exception& e) {
                    fmt::print(stderr, "error: {}\n", e.what());
                }
                continue;
            }
            if (line[0] == '/') { fmt::print(stderr, "Unknown command '{}' (/bye, /clear, /set parameter NAME VALUE)\n", line); continue; }
            const auto st = conv.say(line, go, print_text);
            print_text("\n\n");
            if (verbose) print_stats(st, load_seconds);
        }
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "strata-chat: {}\n", e.what());
        return 1;
    }
}
