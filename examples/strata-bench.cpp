// strata-bench: prompt processing and generation speed, like llama-bench.
//
//   strata-bench -m model.gguf -p 512 -n 128 -t 2 -r 3
//   strata-bench --probe -t 8 [--json]       # host read bandwidth, the CPU rate strata-plan uses
//
// pp: a prompt of p tokens evaluated from an empty context (in num_batch batches);
// tg: n tokens generated one at a time after a one-token prompt. Each is repeated r times and
// the median is reported, with the weight bytes read per generated token and what that means
// in GB/s (decode streams every weight once per token).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "load_engine.hpp"
#include "strata/engine/embedder.hpp"
#include "strata/engine/plan_at_load.hpp"
#include "strata/plan/device.hpp"

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class Fn>
double seconds(Fn&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --embed: texts/s and tokens/s of an encoder for batches of 1, 8 and 64 texts, each batch one
// embed() call (packed into passes of num_batch tokens). bench/compare makes the same texts.
std::string embed_bench_text(int i) {
    std::string t = "The quick brown fox number " + std::to_string(i) + " jumps over the lazy dog";
    for (int k = 0; k < i % 4; ++k) t += ", and the engine measures how fast the sentences are embedded";
    return t + ".";
}

int run_embed_bench(const std::string& model, int threads, int reps, int batch, bool json) {
    auto emb = strata::cpu_embedder::load(model, {.n_threads = threads, .num_batch = batch});
    if (!json)
        fmt::print("model {} | threads {} | kernels {} | num_batch {}\n", model, emb.cpu().n_threads(),
                   strata::cpu::to_string(emb.cpu().level()), emb.num_batch());
    std::string out = "{\"model\":\"" + model + "\",\"threads\":" + std::to_string(emb.cpu().n_threads()) + ",\"embed\":[";
    for (const int n : {1, 8, 64}) {
        std::vector<std::string> texts;
        for (int i = 0; i < n; ++i) texts.push_back(embed_bench_text(i));
        (void)emb.embed(texts);  // warm up: page in the weights
        std::vector<double> t;
        for (int r = 0; r < reps; ++r) t.push_back(seconds([&] { (void)emb.embed(texts); }));
        const double sec = median(t);
        const auto tokens = emb.last_stats().n_tokens;
        if (json) {
            out += fmt::format("{}{{\"batch\":{},\"tokens\":{},\"texts_per_s\":{:.3f},\"tokens_per_s\":{:.3f}}}",
                               n == 1 ? "" : ",", n, tokens, n / sec, double(tokens) / sec);
        } else {
            fmt::print("embed batch {:<3} {:9.2f} texts/s {:10.1f} tokens/s ({} tokens, median of {})\n", n, n / sec,
                       double(tokens) / sec, tokens, reps);
        }
    }
    if (json) fmt::print("{}]}}\n", out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Strata speed benchmark (CPU)"};
    std::string model;
    int n_prompt = 512, n_gen = 128, threads = 0, reps = 3, batch = 512;
    bool json = false, embed = false, probe = false;
    app.add_option("-m,--model", model, "GGUF file (required unless --probe)");
    app.add_option("-p,--n-prompt", n_prompt, "prompt tokens (0: skip)")->capture_default_str();
    app.add_option("-n,--n-gen", n_gen, "generated tokens (0: skip)")->capture_default_str();
    app.add_option("-t,--threads", threads, "CPU threads (0: all)")->capture_default_str();
    app.add_option("-b,--batch", batch, "num_batch")->capture_default_str();
    app.add_option("-r,--repetitions", reps)->capture_default_str();
    int num_gpu = -1;
    app.add_option("--num-gpu", num_gpu, "layers on the GPUs of a build with CUDA (-1: as many as fit)")->capture_default_str();
    app.add_flag("--json", json, "one JSON line");
    app.add_flag("--embed", embed, "an encoder (bert, nomic-bert): texts/s for batches of 1, 8 and 64");
    app.add_flag("--probe", probe, "measure the host read bandwidth with -t threads (what strata-plan's CPU rate is)");
    CLI11_PARSE(app, argc, argv);
    try {
        if (probe) {  // no model: one buffer read by the threads, best of 5 passes
            const int n = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
            const double bw = strata::plan::probe_read_bandwidth(n);
            if (json) fmt::print("{{\"probe\":\"host_read\",\"threads\":{},\"bytes_per_s\":{:.0f}}}\n", n, bw);
            else fmt::print("host read bandwidth: {:.1f} GB/s with {} threads\n", bw / 1e9, n);
            return 0;
        }
        if (model.empty()) throw strata::error(strata::errc::argument, "-m/--model is required (unless --probe)");
        if (embed) return run_embed_bench(model, threads, reps, batch, json);
        const strata::session_options so{.n_ctx = std::max(n_prompt, n_gen + 1) + 1, .n_batch = batch};
        const auto eng = strata_examples::load_engine(model, {.n_threads = threads, .plan = strata::plan_at_load(strata::plan_config(so, threads, num_gpu))});
        auto sp = eng->new_session(so);
        auto& s = *sp;
        const auto n_vocab = static_cast<std::int32_t>(eng->hparams().n_vocab);
        std::vector<std::int32_t> prompt(static_cast<std::size_t>(n_prompt));
        for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = std::int32_t((i * 7919 + 13) % std::size_t(n_vocab));
        std::vector<double> pp, tg;
        for (int r = 0; r < reps; ++r) {
            if (n_prompt > 0) {
                s.reset();
                pp.push_back(n_prompt / seconds([&] { s.prefill(prompt); }));
            }
            if (n_gen > 0) {
                s.reset();
                s.decode(eng->tokenizer().bos() >= 0 ? eng->tokenizer().bos() : 0);
                tg.push_back(n_gen / seconds([&] {
                    for (int i = 0; i < n_gen; ++i) s.decode(std::int32_t((i * 31 + 7) % n_vocab));
                }));
            }
        }
        // weight bytes read per generated token (an MoE model's experts at their used share)
        const auto bytes = std::uint64_t(strata::model::decode_read_bytes(eng->weights(), eng->hparams().n_expert_used));
        const double pp_tps = pp.empty() ? 0 : median(pp), tg_tps = tg.empty() ? 0 : median(tg);
        if (json) {
            fmt::print("{{\"model\":\"{}\",\"threads\":{},\"pp\":{},\"pp_tps\":{:.3f},\"tg\":{},\"tg_tps\":{:.3f},\"bytes_per_token\":{}}}\n",
                       model, eng->cpu().n_threads(), n_prompt, pp_tps, n_gen, tg_tps, bytes);
            return 0;
        }
        std::uint32_t off_host = 0;
        for (std::uint32_t il = 0; il < eng->hparams().n_layer; ++il) off_host += eng->placement().device_of_layer(il) != 0;
        fmt::print("model {} | threads {} | kernels {} | layers off the CPU {}/{}\n", model, eng->cpu().n_threads(),
                   strata::cpu::to_string(eng->cpu().level()), off_host, eng->hparams().n_layer);
        if (!pp.empty()) fmt::print("pp{:<5} {:9.2f} tokens/s (median of {})\n", n_prompt, pp_tps, reps);
        if (const auto* st = s.prefill_stream(); st && st->calls() > 0)
            fmt::print("prefill stream: batches of >= {} tokens sent {} matmuls' weights, {:.1f} GB in all, to the GPU\n",
                       st->min_batch(), st->calls(), double(st->bytes_sent()) / 1e9);
        if (!tg.empty())
            fmt::print("tg{:<5} {:9.2f} tokens/s (median of {}), {:.1f} MB of weights per token = {:.2f} GB/s\n", n_gen,
                       tg_tps, reps, bytes / 1e6, tg_tps * double(bytes) / 1e9);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "strata-bench: {}\n", e.what());
        return 1;
    }
}
