// strata-bench-gpu — prompt processing (pp512) and generation (tg128) with the CUDA backend,
// all layers on the GPU and at three hybrid splits, on the realistic synthetic llama 3.2 1B shape
// (llama.cpp's Q4_K_M mix; written here, no download), with the bandwidth each decode achieves
// beside the device-to-device copy bandwidth the GPU measures.
//
//   strata-bench-gpu [--model FILE.gguf] [--dir DIR] [--reps N]
//
// Achieved bandwidth = the bytes a decode step reads on the GPU (its layers' weights, the head's
// when it is there, their KV rows) × tokens/s. Copy bandwidth counts read + written bytes (what a
// roofline of a read-mostly kernel compares with). Printed with printf: fmt stays out of .cu files.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/backend/cuda/bandwidth.hpp"
#include "strata/engine/engine.hpp"
#include "support/realistic_models.hpp"

namespace {

using bench_formats = strata::formats<strata::f32, strata::q4_k, strata::q5_0, strata::q6_k, strata::q8_0, strata::q8_k>;
using gpu_engine = strata::basic_engine<bench_formats, strata::backends<strata::cpu_device, strata::cuda_device>>;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct row {
    std::uint32_t first_gpu = 0;
    double pp = 0, tg = 0, gpu_bytes_per_token = 0;
};

// Bytes one decode step reads on the GPU: the weights placed there and the KV rows of its layers.
double gpu_read_bytes(const gpu_engine& e, std::int64_t n_kv) {
    const auto u = e.weights_usage();
    double b = u.size() > 1 ? double(u[1].weights_bytes) : 0.0;
    const auto& hp = e.hparams();
    for (std::uint32_t il = 0; il < hp.n_layer; ++il)
        if (e.placement().device_of_layer(il) == 1) b += double(strata::model::kv_layer_bytes(hp, n_kv));
    return b;
}

// STREAM: the CPU layers' matmuls of prompt batches (512 tokens) go to the GPU too (prefill streaming).
row measure(const std::string& path, std::uint32_t n_layer, std::uint32_t first, int reps, bool stream = false) {
    row r;
    r.first_gpu = first;
    auto place = strata::placement::offload(n_layer, first, true);
    if (stream) {
        place.stream_device = 1;
        place.stream_min_batch = 32;
    }
    const auto e = gpu_engine::load(path, {.placement = place});
    auto greedy = strata::sample::neutral();
    greedy.temperature = 0.0f;
    std::vector<std::int32_t> prompt(512);
    for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = std::int32_t(1 + (i * 7919) % (e.hparams().n_vocab - 1));
    std::vector<double> pp, tg;
    for (int rep = 0; rep < reps; ++rep) {
        auto s = e.new_session({.n_ctx = 1024, .n_batch = 512, .sampling = greedy});
        auto t0 = std::chrono::steady_clock::now();
        s.prefill(prompt);
        (void)s.sample();  // the prompt's last logits are ready (and sampled) here
        pp.push_back(512.0 / seconds_since(t0));
        auto s2 = e.new_session({.n_ctx = 1024, .n_batch = 512, .sampling = greedy});
        s2.prefill(std::span<const std::int32_t>(prompt).first(1));
        std::int32_t t = s2.sample();
        t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 128; ++i) {
            s2.decode(t);
            t = s2.sample();
        }
        tg.push_back(128.0 / seconds_since(t0));
    }
    std::sort(pp.begin(), pp.end());
    std::sort(tg.begin(), tg.end());
    r.pp = pp[pp.size() / 2];
    r.tg = tg[tg.size() / 2];
    r.gpu_bytes_per_token = gpu_read_bytes(e, 64);  // tg128 after one token: 65 keys on average
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model, dir = (std::filesystem::temp_directory_path() / "strata-bench-gpu").string();
    int reps = 3;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "strata-bench-gpu: %s needs a value\n", a.c_str());
                std::exit(1);
            }
            return argv[++i];
        };
        if (a == "--model") model = value();
        else if (a == "--dir") dir = value();
        else if (a == "--reps") reps = std::max(1, std::atoi(value().c_str()));
        else {
            std::fprintf(stderr, "strata-bench-gpu: unknown argument %s (--model FILE, --dir DIR, --reps N)\n", a.c_str());
            return 1;
        }
    }
    try {
        if (model.empty()) {
            std::filesystem::create_directories(dir);
            model = (std::filesystem::path(dir) / "llama-1b-shape.gguf").string();
            if (!std::filesystem::exists(model)) {
                const auto t0 = std::chrono::steady_clock::now();
                strata_test::realistic::write(strata_test::realistic::llama_1b_shape(), model);
                std::printf("wrote %s in %.1f s\n", model.c_str(), seconds_since(t0));
            }
        }
        const auto n_layer = strata::model::load_hparams(strata::gguf::file::open(model)).n_layer;
        const double d2d = strata::cuda::measure_d2d_bandwidth(0);
        const double h2d = strata::cuda::measure_h2d_bandwidth(0);
        const auto dev = strata::cuda::query_device(0);
        std::printf("gpu: %s, device-to-device copy %.0f GB/s (read + write), host-to-device %.1f GB/s\n", dev.name.c_str(), d2d, h2d);
        std::printf("%-26s %12s %12s %14s %12s\n", "placement", "pp512 tok/s", "tg128 tok/s", "tg GB/s read", "of d2d");
        double pp_half = 0;
        for (const std::uint32_t first : {0u, n_layer / 4, n_layer / 2, 3 * n_layer / 4}) {
            const row r = measure(model, n_layer, first, reps);
            if (first == n_layer / 2) pp_half = r.pp;
            const double gbs = r.gpu_bytes_per_token * r.tg / 1e9;
            const std::string where = first == 0 ? "all " + std::to_string(n_layer) + " layers on GPU"
                                                  : std::to_string(n_layer - first) + "/" + std::to_string(n_layer) + " layers on GPU";
            std::printf("%-26s %12.1f %12.1f %14.1f %11.0f%%\n", where.c_str(), r.pp, r.tg, gbs, 100.0 * gbs / d2d);
            std::printf("timing: bench %s: pp512 %.1f tok/s, tg128 %.1f tok/s, %.1f GB/s read on the GPU (%.0f%% of d2d)\n",
                        where.c_str(), r.pp, r.tg, gbs, 100.0 * gbs / d2d);
        }
        // the same half split with the CPU half's prefill matmuls streamed to the GPU
        const row s = measure(model, n_layer, n_layer / 2, reps, true);
        std::printf("%-26s %12.1f %12s   %.2fx the unstreamed split's pp512\n", "same + prefill stream", s.pp, "-", s.pp / pp_half);
        std::printf("timing: bench prefill stream (%u/%u layers on GPU): pp512 %.1f tok/s, %.2fx without\n", n_layer - n_layer / 2,
                    n_layer, s.pp, s.pp / pp_half);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "strata-bench-gpu: %s\n", ex.what());
        return 1;
    }
    return 0;
}
