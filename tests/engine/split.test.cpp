// Split execution without a GPU: layers placed on a `sim` device (a second CPU backend with its
// own memory cap) run there, their weights copied into its arena, their KV cache and its
// activations in it, and the residual stream crosses at each boundary. Every split of the real
// models must give the all-CPU run's logits bit for bit (the same kernels compute every row the
// same way whatever the device), and what each device holds is measured from its allocations.
#include <catch2/catch.hpp>

#include <algorithm>

#include "strata/engine/engine.hpp"
#include "strata/plan/planner.hpp"
#include "support/greedy.hpp"
#include "support/models.hpp"

namespace {

struct model_case {
    const char* name;
    const char* file;
};
const model_case models[] = {{"gemma3-270m-q4_k_m", "gemma-3-270m-q4_k_m.gguf"},
                             {"smollm2-135m-instruct-q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf"}};

constexpr std::size_t sim_memory = std::size_t(400) << 20;

std::string path_of(const model_case& m) { return strata_test::model_path(m.name, m.file); }

bool skip(const model_case& m) {
    if (strata_test::model_available(path_of(m))) return false;
    if (strata_test::in_ci()) FAIL(m.name << " missing in CI: run tools/models fetch");
    WARN(m.name << " not fetched (tools/models fetch): skipped");
    return true;
}

// Greedy steps from a prompt; every step's logits.
std::vector<std::vector<float>> run(const strata::cpu_engine& e, const std::vector<std::int32_t>& prompt, int steps) {
    return strata_test::greedy_logits(e, prompt, steps, 64, 8);
}

}  // namespace

TEST_CASE("split: every layer split equals the all-CPU run bit for bit", "[engine][split]") {
    for (const auto& m : models) {
        if (skip(m)) continue;
        const auto host = strata::cpu_engine::load(path_of(m), {.n_threads = 2, .prefault = false});
        const auto prompt = host.tokenizer().encode("The capital of France is", true, true);  // 6 or so tokens: one batch of 8
        const auto want = run(host, prompt, 6);
        const std::uint32_t n_layer = host.hparams().n_layer;
        for (std::uint32_t first = 0; first <= n_layer; ++first) {
            for (bool output_on_sim : {true, false}) {
                if (first == n_layer && !output_on_sim) continue;  // that is the all-CPU run
                INFO(m.name << ": layers " << first << ".." << n_layer << " on sim, output on " << (output_on_sim ? "sim" : "cpu"));
                const auto e = strata::cpu_engine::load(
                    path_of(m), {.n_threads = 2, .prefault = false,
                                 .placement = strata::placement::split(n_layer, first, sim_memory, output_on_sim)});
                CHECK(run(e, prompt, 6) == want);
            }
        }
    }
}

TEST_CASE("split: each device holds what its layers need, measured from the allocations", "[engine][split]") {
    const auto& m = models[0];
    if (skip(m)) return;
    const std::uint32_t first = 10;
    const auto e = strata::cpu_engine::load(path_of(m), {.n_threads = 2, .prefault = false,
                                                         .placement = strata::placement::split(18, first, sim_memory)});
    const auto& w = e.weights();
    std::size_t sim_weights = strata::arena::padded(strata::model::tensor_bytes(w.output_norm)) +
                              strata::arena::padded(strata::model::tensor_bytes(w.output));
    for (std::uint32_t il = first; il < 18; ++il)
        for (const auto* t : strata::model::tensors_of(w.layers[il]))
            if (*t) sim_weights += strata::arena::padded(strata::model::tensor_bytes(*t));
    std::size_t host_weights = strata::model::tensor_bytes(w.token_embd);  // the mapped bytes, not padded
    for (std::uint32_t il = 0; il < first; ++il)
        for (const auto* t : strata::model::tensors_of(w.layers[il]))
            if (*t) host_weights += strata::model::tensor_bytes(*t);
    auto s = e.new_session({.n_ctx = 256, .n_batch = 32});
    const auto u = s.usage();
    REQUIRE(u.size() == 2);
    CHECK(u[1].name == "sim0");
    CHECK(u[1].weights_bytes == sim_weights);
    CHECK(u[0].weights_bytes == host_weights);
    CHECK(u[1].kv_bytes == strata::model::kv_layer_bytes(e.hparams(), 256) * (18 - first));
    CHECK(u[0].kv_bytes == strata::model::kv_layer_bytes(e.hparams(), 256) * first);
    CHECK(u[1].compute_bytes == strata::model::workspace_bytes(e.hparams(), e.weights(), 32, 256, 2));
    CHECK(u[0].kv_bytes + u[1].kv_bytes == s.kv_bytes());
}

TEST_CASE("split: a sim device too small, or a placement that does not fit the model, is a clear error", "[engine][split]") {
    const auto& m = models[0];
    if (skip(m)) return;
    try {
        (void)strata::cpu_engine::load(path_of(m), {.prefault = false, .placement = strata::placement::split(18, 0, std::size_t(20) << 20)});
        FAIL("a 20 MiB sim device took the whole model");
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::memory);
        CHECK_THAT(std::string(e.what()), Catch::Contains("sim0") && Catch::Contains("blk.") && Catch::Contains("bytes"));
    }
    auto p = strata::placement::split(18, 9, sim_memory);
    p.layer_device.pop_back();
    CHECK_THROWS_WITH(strata::cpu_engine::load(path_of(m), {.prefault = false, .placement = p}),
                      Catch::Contains("placement names 17 layers, the model has 18"));
    p = strata::placement::split(18, 9, sim_memory);
    p.output_device = 3;
    CHECK_THROWS_WITH(strata::cpu_engine::load(path_of(m), {.prefault = false, .placement = p}), Catch::Contains("output head on device 3"));
    // the session's KV cache must fit what the weights left
    const auto e = strata::cpu_engine::load(path_of(m), {.prefault = false, .placement = strata::placement::split(18, 0, std::size_t(240) << 20)});
    CHECK_THROWS_WITH(e.new_session({.n_ctx = 32768}), Catch::Contains("KV cache of layer"));
}

TEST_CASE("split: the engine runs the planner's plan, and each device holds what the plan said within 3%", "[engine][split][plan]") {
    for (const auto& m : models) {
        if (skip(m)) continue;
        const auto file = strata::gguf::file::open(path_of(m));
        strata::plan::config c;
        c.num_ctx = 512;
        c.num_batch = 64;
        c.n_threads = 2;
        c.ram = std::uint64_t(8) << 30;
        c.detect = false;
        c.sims = {std::uint64_t(120) << 20};  // too small for everything: a real split
        const auto p = strata::plan::make(file, c);
        INFO(m.name << ": " << p.layers_gpu << " of " << p.layers_total << " layers on the sim");
        REQUIRE(p.devices.size() == 2);
        CHECK(p.layers_gpu > 0);
        CHECK(p.layers_gpu < p.layers_total);
        // the plan round-trips through its JSON (strata-plan --json, strata-chat --plan)
        const auto q = strata::plan::from_json(strata::plan::to_json(p));
        strata::plan::check_matches(q, file);
        const auto e = strata::cpu_engine::load(path_of(m), {.n_threads = 2, .prefault = false,
                                                             .placement = strata::placement::from_plan(q)});
        auto s = e.new_session({.n_ctx = c.num_ctx, .n_batch = c.num_batch, .kv_type = c.kv_type});
        const auto u = s.usage();
        REQUIRE(u.size() == p.usage.size());
        for (std::size_t d = 0; d < u.size(); ++d) {
            const auto planned = double(p.usage[d].total_bytes), measured = double(u[d].total_bytes());
            WARN(m.name << " device " << u[d].name << ": planned " << planned << " bytes (weights " << p.usage[d].weights_bytes << ", KV "
                           << p.usage[d].kv_bytes << ", compute " << p.usage[d].compute_bytes << ", overhead "
                           << p.usage[d].overhead_bytes << "), measured " << measured << " (weights " << u[d].weights_bytes
                           << ", KV " << u[d].kv_bytes << ", compute " << u[d].compute_bytes << ")");
            CHECK(std::abs(measured - planned) <= 0.03 * planned);
            CHECK(u[d].kv_bytes == p.usage[d].kv_bytes);
        }
        // and computes what the all-CPU engine computes
        const auto host = strata::cpu_engine::load(path_of(m), {.n_threads = 2, .prefault = false});
        const auto prompt = host.tokenizer().encode("The capital of France is", true, true);
        CHECK(run(e, prompt, 4) == run(host, prompt, 4));
    }
}

TEST_CASE("split: a placement on a GPU needs an engine built with the CUDA backend", "[engine][split]") {
    const auto& m = models[0];
    if (skip(m)) return;
    // what a plan for a GPU becomes: refused by the CPU-only engine, naming the device and the remedy
    const auto p = strata::placement::offload(18, 9, true);
    CHECK(p.devices.size() == 2);
    CHECK(p.devices[1].kind == strata::plan::device_kind::cuda);
    CHECK(p.devices[1].name == "CUDA0");
    CHECK(p.output_device == 1);
    CHECK(p.device_of_layer(8) == 0);
    CHECK(p.device_of_layer(9) == 1);
    try {
        (void)strata::cpu_engine::load(path_of(m), {.prefault = false, .placement = p});
        FAIL("the CPU-only engine accepted layers on CUDA0");
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::unsupported);
        CHECK_THAT(std::string(e.what()), Catch::Contains("CUDA0") && Catch::Contains("cuda_device"));
    }
    // the planner's plan for a stated GPU names it with its ordinal; a GPU the plan gives
    // nothing is left out of the placement (no arena, no workspace) without moving the ordinals
    const auto file = strata::gguf::file::open(path_of(m));
    strata::plan::config c;
    c.num_ctx = 512;
    c.detect = false;
    c.ram = std::uint64_t(8) << 30;
    strata::plan::device_spec gpu;
    gpu.kind = strata::plan::device_kind::cuda;
    gpu.name = "CUDA0";
    gpu.total_bytes = gpu.free_bytes = std::uint64_t(16) << 30;
    gpu.bandwidth = 448e9;
    gpu.flops = 20e12;
    c.gpus = {gpu, gpu};
    c.gpus[1].name = "CUDA1";
    const auto both = strata::plan::make(file, c);
    REQUIRE(both.devices.size() == 3);
    REQUIRE(both.usage[2].total_bytes == 0);  // the model fits CUDA0: CUDA1 holds nothing
    const auto q = strata::placement::from_plan(both);
    REQUIRE(q.devices.size() == 2);
    CHECK(q.devices[1].name == "CUDA0");
    CHECK(q.devices[1].index == 0);
    CHECK(q.devices[1].kind == strata::plan::device_kind::cuda);
    CHECK(q.output_device == both.output_device);
    // CUDA0 too small for anything (under its fixed overhead): the layers go to CUDA1, ordinal 1
    c.gpus[0].total_bytes = c.gpus[0].free_bytes = std::uint64_t(256) << 20;
    const auto second = strata::plan::make(file, c);
    REQUIRE(second.layers_gpu > 0);
    const auto r = strata::placement::from_plan(second);
    REQUIRE(r.devices.size() == 2);
    CHECK(r.devices[1].name == "CUDA1");
    CHECK(r.devices[1].index == 1);
    for (std::uint32_t il = 0; il < second.layer_device.size(); ++il)
        CHECK(r.device_of_layer(il) == (second.layer_device[il] == 2 ? 1 : second.layer_device[il]));
}
