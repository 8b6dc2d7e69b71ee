// strata-plan — which tensors go on which device, how much memory each needs, and the speed to
// expect, from the model file alone (no weights are read: a 13 GB file plans in milliseconds).
//
//   strata-plan MODEL.gguf --gpu 16GiB --ram 27GiB                 # what-if: a 16 GiB card
//   strata-plan MODEL.gguf --sim 200MiB                            # a simulated device (CI)
//   strata-plan MODEL.gguf --gpu 16GiB -ot "blk\.(1[0-9])\.ffn_.*_exps=CPU" --json
//   strata-plan MODEL.gguf --gpu 16GiB --estimator ollama-0.11.3   # what Ollama 0.11.3 would do
//   strata-plan MODEL.gguf --gpu 4GiB --no-stream-prefill          # prefill of CPU blocks on the CPU
//   strata-plan MODEL.gguf --gpu 16GiB --cpu-moe                   # MoE: experts on the CPU, attention on the GPU
//
// All the logic is in strata/plan/; this file parses options and prints.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "strata/gguf/gguf.hpp"
#include "strata/plan/cuda_devices.hpp"
#include "strata/plan/planner.hpp"

namespace plan = strata::plan;

namespace {

std::string gib(std::uint64_t b) { return fmt::format("{:.2f} GiB", double(b) / double(plan::gib)); }

std::string size(std::uint64_t b) {
    if (b >= plan::gib) return gib(b);
    return fmt::format("{:.1f} MiB", double(b) / double(plan::mib));
}

void print_text(const plan::plan& p) {
    std::uint64_t needed = p.total_bytes(), gpu = p.accelerator_bytes(), ram = p.usage.empty() ? 0 : p.usage[0].total_bytes;
    int on_gpu = p.layers_gpu;
    if (p.ollama) {  // Ollama's own figures: what the GPUs are charged, the rest in RAM
        needed = p.ollama->required_full;
        gpu = p.ollama->required_partial;
        ram = needed - gpu;
        on_gpu = static_cast<int>(p.ollama->layers_offload);
    }
    const bool any_acc = p.devices.size() > 1;
    const char* state = !any_acc || (on_gpu == 0 && p.layers_split == 0) ? "cpu"
                        : on_gpu == p.layers_total                        ? "gpu"
                                                                          : "hybrid";
    std::string on = fmt::format("{} ({}%)", on_gpu, p.layers_total ? 100 * on_gpu / p.layers_total : 0);
    if (p.layers_split > 0) on += fmt::format(" +{} split", p.layers_split);
    const std::size_t w = std::max<std::size_t>(15, p.model.size() + 2);
    fmt::print("{:<{}}{:<9}{:<18}{:<16}{:<14}{:<13}{}\n", "model", w, "layers", "on GPU", "memory needed", "GPU used", "RAM used",
               "state");
    fmt::print("{:<{}}{:<9}{:<18}{:<16}{:<14}{:<13}{}\n", p.model, w, p.layers_total, on, size(needed), size(gpu), size(ram), state);

    fmt::print("\n{:<7}{:<6}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}{:>11}\n", "device", "kind", "weights", "KV", "compute",
               "overhead", "total", "free", "GB/s");
    for (std::size_t d = 0; d < p.devices.size(); ++d) {
        const plan::device_spec& s = p.devices[d];
        const plan::device_usage& u = p.usage[d];
        fmt::print("{:<7}{:<6}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}{:>11.0f}\n", s.name, to_string(s.kind), size(u.weights_bytes),
                   size(u.kv_bytes), size(u.compute_bytes), size(u.overhead_bytes), size(u.total_bytes), size(s.free_bytes),
                   s.bandwidth / 1e9);
    }
    fmt::print("\npredicted ({}): decode {:.1f} tok/s, prefill {:.1f} tok/s{}\n", p.estimator, p.predicted.decode_tps,
               p.predicted.prefill_tps, p.fits ? "" : "  (DOES NOT FIT)");
    if (p.stream.device > 0 && std::size_t(p.stream.device) < p.devices.size())
        fmt::print("prefill stream: batches of >= {} tokens compute the CPU blocks on {} ({} of buffers there): prefill {:.1f} "
                   "tok/s predicted; decode stays on the CPU\n",
                   p.stream.min_batch, p.devices[std::size_t(p.stream.device)].name, size(p.stream.bytes), p.stream.predicted.prefill_tps);
    if (p.ollama) {
        const plan::ollama_fields& o = *p.ollama;
        fmt::print("\nollama 0.11.3: layers.model={} layers.offload={} memory.required.full={} memory.required.partial={} "
                   "memory.required.kv={} memory.weights.total={} memory.weights.repeating={} memory.weights.nonrepeating={} "
                   "memory.graph.full={} memory.graph.partial={} (num_ctx {})\n",
                   o.layers_model, o.layers_offload, plan::ollama::human_bytes2(o.required_full),
                   plan::ollama::human_bytes2(o.required_partial), plan::ollama::human_bytes2(o.required_kv),
                   plan::ollama::human_bytes2(o.weights_total), plan::ollama::human_bytes2(o.weights_repeating),
                   plan::ollama::human_bytes2(o.weights_nonrepeating), plan::ollama::human_bytes2(o.graph_full),
                   plan::ollama::human_bytes2(o.graph_partial), o.num_ctx);
    }
    fmt::print("\ncandidates (chosen first):\n");
    for (const plan::candidate& c : p.candidates)
        fmt::print("  {:<16}decode {:>8.1f} tok/s  prefill {:>9.1f} tok/s  layers {:>3}/{:<3} {:<9}{}\n", c.label,
                   c.predicted.decode_tps, c.predicted.prefill_tps, c.layers_gpu, p.layers_total, c.fits ? "fits" : "too big",
                   c.summary);
    fmt::print("\nreasons:\n");
    for (const std::string& r : p.reasons) fmt::print("  - {}\n", r);
}

}  // namespace

int main(int argc, char** argv) {
    // llama.cpp spells the override option "-ot"; CLI11 takes one-letter short options only
    std::vector<std::string> args(argv, argv + argc);
    for (std::string& a : args)
        if (a == "-ot") a = "--override-tensor";
    std::vector<char*> argv2;
    for (std::string& a : args) argv2.push_back(a.data());

    CLI::App app{"Strata offload planner: devices, memory and predicted speed for a GGUF model"};
    std::string model, kv = "f16", estimator = "native", ram, reserve, cpu_bw;
    std::vector<std::string> gpus, sims, overrides;
    plan::config c;
    c.num_ctx = 4096;  // Ollama 0.11.3's default (OLLAMA_CONTEXT_LENGTH)
    bool json = false, probe = false, no_detect = false, no_stream = false;
    app.add_option("model", model, "GGUF file")->required();
    app.add_option("--num-ctx", c.num_ctx, "context length per sequence")->capture_default_str();
    app.add_option("--num-batch", c.num_batch, "prompt tokens per forward pass")->capture_default_str();
    app.add_option("--num-parallel", c.num_parallel, "sequences (each its own cache)")->capture_default_str();
    app.add_option("--num-thread", c.n_threads, "CPU threads (0: all)")->capture_default_str();
    app.add_option("--kv-type", kv, "KV cache type: f16, q8_0, q4_0")->capture_default_str();
    app.add_flag("--flash-attention", c.flash_attention, "flash attention on (Ollama's estimate depends on it)");
    app.add_option("--gpu", gpus, "a GPU for what-if planning: TOTAL[/FREE][:NAME|:RATE], e.g. 16GiB, 16GiB/11GiB, 24GiB:rtx4090, 16GiB:448GB/s (repeatable)");
    app.add_option("--sim", sims, "a simulated device (a CPU backend with its own memory cap), e.g. 200MiB (repeatable)");
    app.add_option("--ram", ram, "host memory to plan with (default: MemAvailable)");
    app.add_option("--cpu-bandwidth", cpu_bw, "host read bandwidth, e.g. 60GB/s (default: the table's generic CPU)");
    app.add_flag("--probe", probe, "measure the host read bandwidth first (as strata-bench --probe)");
    app.add_flag("--no-detect", no_detect, "plan without detected GPUs");
    app.add_option("--gpu-overhead", reserve, "memory to keep free on every accelerator (OLLAMA_GPU_OVERHEAD), e.g. 512MiB");
    app.add_option("--num-gpu", c.num_gpu, "layers on the GPU(s), Ollama's num_gpu (-1: as many as pay)")->capture_default_str();
    app.add_flag("--no-stream-prefill", no_stream, "never stream the CPU's blocks to a GPU for large prompt batches");
    app.add_flag("--cpu-moe", c.experts_on_cpu, "MoE: keep every block's FFN half (norm, router, experts) on the CPU, its attention where it fits (llama.cpp's --cpu-moe)");
    app.add_option("--override-tensor", overrides, "-ot PATTERN=DEVICE[,...]: pin matching tensors (CPU, CUDA0, SIM0) (repeatable)");
    app.add_option("--estimator", estimator, "native or ollama-0.11.3")->capture_default_str();
    app.add_flag("--json", json, "print the plan as JSON");
    try {
        app.parse(static_cast<int>(argv2.size()), argv2.data());
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        c.estimator = plan::estimator_from_name(estimator);
        if (kv == "f16") c.kv_type = strata::ggml_type::f16;
        else if (kv == "q8_0") c.kv_type = strata::ggml_type::q8_0;
        else if (kv == "q4_0") c.kv_type = strata::ggml_type::q4_0;
        else throw strata::error(strata::errc::argument, "--kv-type '" + kv + "': expected f16, q8_0 or q4_0");
        for (std::size_t i = 0; i < gpus.size(); ++i) c.gpus.push_back(plan::parse_gpu(gpus[i], static_cast<int>(i)));
        for (const std::string& s : sims) c.sims.push_back(plan::parse_bytes(s, "--sim"));
        if (!ram.empty()) c.ram = plan::parse_bytes(ram, "--ram");
        if (!reserve.empty()) c.reserve_bytes = plan::parse_bytes(reserve, "--gpu-overhead");
        if (!cpu_bw.empty()) c.cpu_bandwidth = plan::parse_rate(cpu_bw, "--cpu-bandwidth");
        if (probe) {
            c.cpu_bandwidth = plan::probe_read_bandwidth(c.n_threads);
            c.cpu_bandwidth_source = c.n_threads > 0 ? fmt::format("measured (--probe, {} threads)", c.n_threads)
                                                     : "measured (--probe, all threads)";
        }
        c.detect = !no_detect;
        if (c.detect && c.gpus.empty()) c.gpus = plan::detect_cuda_devices();  // none in a build without CUDA
        c.stream_prefill = !no_stream;
        for (const std::string& o : overrides)
            for (plan::tensor_override& t : plan::parse_overrides(o)) c.tensor_overrides.push_back(std::move(t));
        const auto f = strata::gguf::file::open(model);
        const plan::plan p = plan::make(f, c);
        if (json) fmt::print("{}", plan::to_json(p));
        else print_text(p);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "strata-plan: {}\n", e.what());
        return 1;
    }
}
