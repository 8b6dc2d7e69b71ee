// The native planner: its accounting against the engine's own memory functions, its search
// (monotone in the device size, experts leave the device first, num_gpu and -ot obeyed), the
// pattern matcher, the JSON round trip, and bad input.
//
// Models: the shape-exact sparse seed files (tests/support/seed_models.hpp: gpt-oss:20b is a
// 13.8 GB file of holes, planned from its tensor infos alone) and, where fetched, the real
// gemma3 270M.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "strata/engine/placement.hpp"
#include "strata/plan/cuda_devices.hpp"
#include "strata/plan/planner.hpp"
#include "support/models.hpp"
#include "support/seed_models.hpp"

using namespace strata;
namespace seed = strata_test::seed;
using plan::gib;
using plan::mib;

namespace {

seed::files& seeds() { return seed::shared_files(); }

plan::config with_gpu(std::uint64_t bytes, std::int64_t num_ctx = 4096) {
    plan::config c;
    c.num_ctx = num_ctx;
    c.n_threads = 4;
    c.ram = 64 * gib;
    c.detect = false;
    if (bytes) c.gpus.push_back(plan::parse_gpu(std::to_string(bytes), 0));
    return c;
}

bool is_expert(std::string_view name) { return name.find("_exps") != std::string_view::npos; }

int layer_of(std::string_view name) {
    if (name.substr(0, 4) != "blk.") return -1;
    return std::stoi(std::string(name.substr(4)));
}

std::uint64_t align256(std::uint64_t b) { return (b + 255) / 256 * 256; }

}  // namespace

TEST_CASE("memory: a CPU-only plan holds exactly the tensors, the engine's KV and its workspace", "[plan]") {
    const auto f = gguf::file::open(seeds().llama32());
    plan::config c = with_gpu(0);
    const plan::plan p = plan::make(f, c);
    const model::hparams hp = model::load_hparams(f);
    const model::weights w = model::bind_weights(f, hp);
    REQUIRE(p.devices.size() == 1);
    CHECK(p.usage[0].weights_bytes == f.total_tensor_bytes());
    CHECK(p.usage[0].kv_bytes == model::kv_layer_bytes(hp, 4096, ggml_type::f16) * hp.n_layer);
    CHECK(p.usage[0].compute_bytes == model::workspace_bytes(hp, w, 512, 4096, 4));
    CHECK(p.usage[0].overhead_bytes == 0);
    CHECK(p.usage[0].total_bytes == f.total_tensor_bytes() + model::kv_cache_bytes(hp, 4096) + model::workspace_bytes(hp, w, 512, 4096, 4));
    CHECK(p.layers_total == 29);
    CHECK(p.layers_gpu == 0);
    CHECK(p.tensors.size() == f.tensors().size());

    SECTION("q8_0 cache and two sequences") {
        c.kv_type = ggml_type::q8_0;
        c.num_parallel = 2;
        const plan::plan q = plan::make(f, c);
        CHECK(q.usage[0].kv_bytes == 2 * model::kv_layer_bytes(hp, 4096, ggml_type::q8_0) * hp.n_layer);
        CHECK(q.usage[0].compute_bytes == 2 * model::workspace_bytes(hp, w, 512, 4096, 4));
    }
    SECTION("num_batch is clamped to num_ctx as the session does") {
        c.num_ctx = 256;
        const plan::plan q = plan::make(f, c);
        CHECK(q.num_batch == 256);
        CHECK(q.usage[0].compute_bytes == model::workspace_bytes(hp, w, 256, 256, 4));
    }
}

TEST_CASE("memory: a full offload puts aligned tensors, all KV and a workspace on the GPU", "[plan]") {
    const auto f = gguf::file::open(seeds().llama31());
    const plan::plan p = plan::make(f, with_gpu(24 * gib));
    const model::hparams hp = model::load_hparams(f);
    const model::weights w = model::bind_weights(f, hp);
    REQUIRE(p.devices.size() == 2);
    CHECK(p.layers_gpu == p.layers_total);
    std::uint64_t gpu_weights = 0, cpu_weights = 0;
    for (const gguf::tensor_info& t : f.tensors()) {
        if (t.name == "token_embd.weight" || t.name == "rope_freqs.weight") cpu_weights += t.n_bytes;
        else gpu_weights += align256(t.n_bytes);
    }
    CHECK(p.usage[1].weights_bytes == gpu_weights);
    CHECK(p.usage[0].weights_bytes == cpu_weights);
    CHECK(p.usage[1].kv_bytes == model::kv_cache_bytes(hp, 4096));
    CHECK(p.usage[0].kv_bytes == 0);
    // the GPU's activations are the CUDA stage's pieces and, as it holds the head, the device
    // sampler's; the host's, the CPU workspace
    CHECK(p.output_device == 1);
    CHECK(p.usage[1].compute_bytes == model::cuda_workspace_bytes(hp, w, 512, 4096) + model::cuda_sampler_bytes(hp));
    CHECK(model::cuda_sampler_bytes(hp) >= 5 * 4 * std::size_t(hp.n_vocab));  // five vocabulary-sized buffers at least
    CHECK(p.usage[0].compute_bytes == model::workspace_bytes(hp, w, 512, 4096, 4));
    CHECK(p.usage[1].overhead_bytes == plan::cuda_fixed_overhead);
    CHECK(p.usage[1].total_bytes == gpu_weights + model::kv_cache_bytes(hp, 4096) + p.usage[1].compute_bytes + plan::cuda_fixed_overhead);
    CHECK(p.output_device == 1);
    for (int d : p.layer_device) CHECK(d == 1);
    // every tensor but the embedding table (and the tiny rope table) on the GPU
    for (const plan::tensor_place& t : p.tensors)
        CHECK(t.device == (t.name == "token_embd.weight" || t.name == "rope_freqs.weight" ? 0 : 1));
    CHECK(p.fits);
    // the GPU plan beats the CPU by far on decode (bandwidth 448 vs 60 GB/s)
    const auto cpu = std::find_if(p.candidates.begin(), p.candidates.end(), [](const plan::candidate& c) { return c.label == "cpu-only"; });
    REQUIRE(cpu != p.candidates.end());
    CHECK(p.predicted.decode_tps > 4 * cpu->predicted.decode_tps);
    CHECK(p.predicted.prefill_tps > cpu->predicted.prefill_tps);
}

TEST_CASE("search: a bigger GPU never gives fewer layers", "[plan]") {
    const auto f = gguf::file::open(seeds().llama31());
    int last = -1;
    double last_tps = 0;
    for (std::uint64_t g = 1 * gib; g <= 12 * gib; g += gib / 2) {
        const plan::plan p = plan::make(f, with_gpu(g));
        INFO(g / mib << " MiB: " << p.layers_gpu << " layers");
        CHECK(p.layers_gpu >= last);
        CHECK(p.predicted.decode_tps >= last_tps);
        CHECK(p.fits);
        CHECK(p.usage[1].total_bytes <= plan::budget(p.devices[1]));
        last = p.layers_gpu;
        last_tps = p.predicted.decode_tps;
    }
    CHECK(last == 33);  // 12 GiB holds all 32 blocks and the head of the 4.9 GB file
}

TEST_CASE("search: MoE experts go to the CPU first when the GPU is short", "[plan]") {
    const auto f = gguf::file::open(seeds().gpt_oss());
    const plan::plan p = plan::make(f, with_gpu(8 * gib, 8192));
    REQUIRE(p.fits);
    CHECK(p.candidates.front().label == "experts-on-cpu");
    CHECK(p.layers_split > 0);
    // every block's attention (and KV) on the GPU; where a block's experts are on the CPU, its
    // whole FFN half is (router and experts: what the engine runs there), and only it
    for (int d : p.layer_device) CHECK(d == 1);
    int blocks_with_cpu_experts = 0;
    std::vector<int> ffn_device(24, -1);
    for (const plan::tensor_place& t : p.tensors) {
        const int l = layer_of(t.name);
        if (l < 0) continue;
        const bool ffn_half = t.name.find(".ffn_") != std::string::npos;
        if (!ffn_half) {
            CHECK(t.device == 1);
            continue;
        }
        INFO(t.name);
        if (ffn_device[std::size_t(l)] < 0) ffn_device[std::size_t(l)] = t.device;
        CHECK(t.device == ffn_device[std::size_t(l)]);
    }
    for (int d : ffn_device) blocks_with_cpu_experts += d == 0;
    CHECK(blocks_with_cpu_experts == p.layers_split);
    // the engine reads the same halves back from the plan
    const strata::placement x = strata::placement::from_plan(p);
    REQUIRE(x.ffn_device.size() == 24);
    for (std::size_t l = 0; l < 24; ++l) CHECK(x.ffn_device[l] == ffn_device[l]);
    // the layers-only plan is there, and slower
    const auto lo = std::find_if(p.candidates.begin(), p.candidates.end(), [](const plan::candidate& c) { return c.label == "layers-only"; });
    REQUIRE(lo != p.candidates.end());
    CHECK(lo->predicted.decode_tps < p.predicted.decode_tps);
    CHECK(lo->layers_gpu < 25);
    // only 4/32 of the expert bytes are read per token: all on a GPU big enough, it predicts faster
    const plan::plan all = plan::make(f, with_gpu(24 * gib, 8192));
    CHECK(all.layers_gpu == 25);
    CHECK(all.predicted.decode_tps > p.predicted.decode_tps);
}

TEST_CASE("search: the layers-only candidate is present and whole-layer", "[plan]") {
    const auto f = gguf::file::open(seeds().llama31());
    const plan::plan p = plan::make(f, with_gpu(3 * gib));
    const auto lo = std::find_if(p.candidates.begin(), p.candidates.end(), [](const plan::candidate& c) { return c.label == "layers-only"; });
    REQUIRE(lo != p.candidates.end());
    CHECK(p.candidates.front().label == "layers-only");  // dense: the best plan is whole layers
    CHECK(p.layers_split == 0);
    CHECK(p.layers_gpu > 0);
    CHECK(p.layers_gpu < p.layers_total);
    CHECK(p.candidates.front().predicted.decode_tps == p.predicted.decode_tps);
}

TEST_CASE("search: num_gpu forces the layer count, Ollama's way", "[plan]") {
    const auto f = gguf::file::open(seeds().llama31());
    for (int n : {0, 5, 32, 33, 40}) {
        plan::config c = with_gpu(24 * gib);
        c.num_gpu = n;
        const plan::plan p = plan::make(f, c);
        INFO("num_gpu " << n);
        CHECK(p.layers_gpu == std::min(n, 33));
        for (int l = 0; l < 32; ++l) CHECK(p.layer_device[std::size_t(l)] == (l >= 32 - std::min(n, 32) ? 1 : 0));
        CHECK(p.output_device == (n > 32 ? 1 : 0));
    }
    SECTION("even where it does not fit") {
        plan::config c = with_gpu(2 * gib);
        c.num_gpu = 20;
        const plan::plan p = plan::make(f, c);
        CHECK(p.layers_gpu == 20);
        CHECK_FALSE(p.fits);
    }
}

TEST_CASE("experts_on_cpu: every MoE block's FFN half on the CPU, its attention on the GPU", "[plan]") {
    const auto f = gguf::file::open(seeds().gpt_oss());
    plan::config c = with_gpu(24 * gib, 8192);
    c.experts_on_cpu = true;
    const plan::plan p = plan::make(f, c);
    REQUIRE(p.fits);
    for (const plan::tensor_place& t : p.tensors) {
        INFO(t.name);
        if (layer_of(t.name) >= 0) CHECK(t.device == (t.name.find(".ffn_") != std::string::npos ? 0 : 1));
    }
    CHECK(p.layers_split == 24);
    CHECK(std::any_of(p.reasons.begin(), p.reasons.end(), [](const std::string& r) { return r.rfind("experts_on_cpu", 0) == 0; }));
    const strata::placement x = strata::placement::from_plan(p);
    REQUIRE(x.ffn_device.size() == 24);
    for (std::size_t l = 0; l < 24; ++l) {
        CHECK(x.device_of_layer(std::uint32_t(l)) == 1);
        CHECK(x.device_of_ffn(std::uint32_t(l)) == 0);
    }
    CHECK_NOTHROW(x.check(24, true));
    // a dense model is unaffected: its blocks move whole
    const auto dense = gguf::file::open(seeds().llama31());
    plan::config d = with_gpu(24 * gib);
    d.experts_on_cpu = true;
    const plan::plan q = plan::make(dense, d);
    CHECK(q.layers_gpu == 33);
    CHECK(q.layers_split == 0);
    CHECK(strata::placement::from_plan(q).ffn_device.empty());
}

TEST_CASE("overrides: -ot moves exactly the matched tensors", "[plan]") {
    const auto f = gguf::file::open(seeds().gpt_oss());
    plan::config c = with_gpu(24 * gib, 8192);
    c.tensor_overrides = plan::parse_overrides(R"(blk\.(1[0-9])\.ffn_.*_exps=CPU)");
    const plan::plan p = plan::make(f, c);
    int moved = 0;
    for (const plan::tensor_place& t : p.tensors) {
        const int l = layer_of(t.name);
        const bool matched = l >= 10 && l <= 19 && is_expert(t.name);
        INFO(t.name);
        if (matched) {
            CHECK(t.device == 0);
            ++moved;
        } else {
            CHECK(t.device == (t.name == "token_embd.weight" ? 0 : 1));
        }
    }
    CHECK(moved == 10 * 6);  // gate, up, down: weight and bias each
    // the router stays on the GPU: those blocks' FFN halves are split, which the engine refuses
    try {
        (void)strata::placement::from_plan(p);
        FAIL("from_plan accepted a split FFN half");
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::unsupported);
        CHECK_THAT(e.message(), Catch::Contains("FFN half of block 10") && Catch::Contains("moves each half of a block whole"));
    }
    CHECK(p.layers_split == 10);
    SECTION("to a device the plan does not have") {
        c.tensor_overrides = plan::parse_overrides("output=CUDA3");
        CHECK_THROWS_WITH(plan::make(f, c), Catch::Contains("CUDA3") && Catch::Contains("devices: CPU, CUDA0"));
    }
}

TEST_CASE("pattern: the -ot subset of regular expressions", "[plan]") {
    const plan::pattern p(R"(blk\.(1[0-9])\.ffn_.*_exps)");
    CHECK(p.search("blk.12.ffn_up_exps.weight"));
    CHECK(p.search("blk.19.ffn_down_exps.bias"));
    CHECK_FALSE(p.search("blk.2.ffn_up_exps.weight"));
    CHECK_FALSE(p.search("blk.1x.ffn_up_exps.weight"));
    CHECK_FALSE(p.search("blk.12.attn_q.weight"));
    CHECK(plan::pattern("^output").search("output.weight"));
    CHECK_FALSE(plan::pattern("^output$").search("output.weight"));
    CHECK_FALSE(plan::pattern("^norm").search("output_norm.weight"));
    CHECK(plan::pattern("(attn|ffn)_(q|up)\\.").search("blk.0.ffn_up.weight"));
    CHECK(plan::pattern("blk\\.[0-9]+\\.attn_k?v").search("blk.31.attn_v.weight"));
    CHECK(plan::pattern("blk\\.[^0-4]\\.").search("blk.7.x"));
    CHECK_FALSE(plan::pattern("blk\\.[^0-4]\\.").search("blk.3.x"));
    CHECK(plan::pattern("a.*b.*c").search("xxaxxbxxcxx"));
    CHECK_THROWS_WITH(plan::pattern("blk.(1"), Catch::Contains("unclosed '('"));
    CHECK_THROWS_WITH(plan::pattern("[0-9"), Catch::Contains("unclosed '['"));
    CHECK_THROWS_WITH(plan::pattern("*x"), Catch::Contains("nothing to repeat"));
    CHECK_THROWS_WITH(plan::pattern("a{2}"), Catch::Contains("not supported"));
    CHECK_THROWS_WITH(plan::parse_overrides("noequals"), Catch::Contains("PATTERN=DEVICE"));
    const auto two = plan::parse_overrides("exps=CPU,output=CUDA0");
    REQUIRE(two.size() == 2);
    CHECK(two[1].device == "CUDA0");
}

TEST_CASE("devices: sizes, rates and stated GPUs", "[plan]") {
    CHECK(plan::parse_bytes("16GiB") == 16 * gib);
    CHECK(plan::parse_bytes("200MiB") == 200 * mib);
    CHECK(plan::parse_bytes("27GB") == 27000000000ull);
    CHECK(plan::parse_bytes("1.5GiB") == 3 * gib / 2);
    CHECK(plan::parse_bytes("4096") == 4096);
    CHECK_THROWS_WITH(plan::parse_bytes("16XB", "--gpu"), Catch::Contains("--gpu '16XB'") && Catch::Contains("unknown unit"));
    CHECK_THROWS_WITH(plan::parse_bytes("GiB", "--ram"), Catch::Contains("--ram"));
    CHECK_THROWS_WITH(plan::parse_bytes("99999999999TiB"), Catch::Contains("too large"));
    CHECK(plan::parse_rate("448GB/s") == 448e9);
    const plan::device_spec a = plan::parse_gpu("16GiB", 0);
    CHECK(a.bandwidth == 448e9);  // the 16 GiB entry of the table: RTX 5060 Ti
    CHECK(a.name == "CUDA0");
    CHECK(plan::parse_gpu("24GiB:rtx4090", 1).bandwidth == 1008e9);
    CHECK(plan::parse_gpu("141GB", 0).bandwidth == 4.8e12);
    CHECK(plan::parse_gpu("10GiB:300GB/s", 0).bandwidth == 300e9);
    CHECK_THROWS_WITH(plan::parse_gpu("16GiB:gtx9999", 0), Catch::Contains("unknown GPU"));
    const plan::host_memory m = plan::detect_host_memory();
    CHECK(m.total > 0);
    CHECK(m.available <= m.total);
    CHECK(plan::detect_cuda_devices().empty());  // the CUDA hook without CUDA
}

TEST_CASE("json: a plan reads back as written and is checked against its model", "[plan]") {
    const auto f = gguf::file::open(seeds().gpt_oss());
    plan::config c = with_gpu(8 * gib, 8192);
    c.sims.push_back(300 * mib);
    const plan::plan p = plan::make(f, c);
    const std::string j = plan::to_json(p);
    const plan::plan q = plan::from_json(j);
    CHECK(plan::to_json(q) == j);
    CHECK(q.layer_device == p.layer_device);
    CHECK(q.tensors.size() == p.tensors.size());
    CHECK(q.devices.size() == 3);
    CHECK(q.devices[2].kind == plan::device_kind::sim);
    CHECK(q.usage[1].total_bytes == p.usage[1].total_bytes);
    CHECK(q.predicted.decode_tps == p.predicted.decode_tps);
    CHECK_NOTHROW(plan::check_matches(q, f));
    const auto other = gguf::file::open(seeds().llama32());
    CHECK_THROWS_WITH(plan::check_matches(q, other), Catch::Contains("does not match the model"));
    CHECK_THROWS_WITH(plan::from_json("{\"model\": 3}"), Catch::Contains("model"));
    CHECK_THROWS_WITH(plan::from_json("{\"model\": \"x\""), Catch::Contains("offset"));
    std::string bad = j;
    bad.replace(bad.find("\"output_device\": "), 18, "\"output_device\": 9");
    CHECK_THROWS_WITH(plan::from_json(bad), Catch::Contains("output_device"));
}

TEST_CASE("sim: a simulated device is planned like a GPU within its cap", "[plan]") {
    const auto f = gguf::file::open(seeds().llama32());
    plan::config c = with_gpu(0);
    c.sims.push_back(600 * mib);
    const plan::plan p = plan::make(f, c);
    REQUIRE(p.devices.size() == 2);
    CHECK(p.devices[1].kind == plan::device_kind::sim);
    CHECK(p.devices[1].bandwidth == p.devices[0].bandwidth);
    CHECK(p.usage[1].total_bytes <= plan::budget(p.devices[1]));
    CHECK(p.usage[1].overhead_bytes == plan::sim_fixed_overhead);
    CHECK(p.layers_gpu > 0);
    CHECK(p.layers_gpu < p.layers_total);
    CHECK(p.fits);
}

TEST_CASE("real model: gemma3 270M on a 200 MiB sim", "[plan][model]") {
    const std::string path = strata_test::gemma3_path();
    if (!strata_test::model_available(path)) {
        if (strata_test::in_ci()) FAIL("gemma3 model missing in CI");
        WARN("gemma3 model not fetched: skipped");
        return;
    }
    const auto f = gguf::file::open(path);
    plan::config c = with_gpu(0);
    c.sims.push_back(200 * mib);
    const plan::plan p = plan::make(f, c);
    const model::hparams hp = model::load_hparams(f);
    CHECK(p.layers_total == int(hp.n_layer) + 1);
    CHECK(p.usage[1].total_bytes <= plan::budget(p.devices[1]));
    std::uint64_t kv = 0;
    for (const plan::device_usage& u : p.usage) kv += u.kv_bytes;
    CHECK(kv == model::kv_cache_bytes(hp, 4096));
    std::uint64_t weights = 0;
    for (const plan::tensor_place& t : p.tensors) weights += t.bytes;
    CHECK(weights == f.total_tensor_bytes());
    CHECK(p.layers_gpu > 0);
}

TEST_CASE("ollama estimator: the plan carries the offload line's fields", "[plan]") {
    const auto f = gguf::file::open(seeds().gpt_oss());
    plan::config c = with_gpu(16 * gib, 4096);
    c.estimator = plan::estimator::ollama_0_11_3;
    const plan::plan p = plan::make(f, c);
    plan::ollama::options o;
    o.num_ctx = 4096;
    o.gpus = {{"CUDA0", 16 * gib, 16 * gib, "cuda", {}}};
    const plan::ollama::estimate e = plan::ollama::estimate_gpu_layers(f, o);
    REQUIRE(p.ollama);
    CHECK(p.ollama->layers_model == e.layers_model);
    CHECK(p.ollama->layers_offload == e.layers_offload);
    CHECK(p.ollama->required_full == e.required_full);
    CHECK(p.ollama->required_partial == e.required_partial);
    CHECK(p.ollama->graph_partial == e.graph_partial);
    CHECK(p.layers_gpu == e.layers_offload);
    CHECK(p.estimator == "ollama-0.11.3");
    const std::string j = plan::to_json(p);
    CHECK(j.find("\"memory.required.full\": " + std::to_string(e.required_full)) != std::string::npos);
    CHECK(plan::from_json(j).ollama->weights_repeating == e.weights_repeating);
    SECTION("sims are native only") {
        c.sims.push_back(gib);
        CHECK_THROWS_WITH(plan::make(f, c), Catch::Contains("CUDA GPUs only"));
    }
}

TEST_CASE("speed of planning: a 13.8 GB file of holes plans from its tensor infos alone", "[plan]") {
    // gpt-oss:20b as a sparse file (gguf::writer::add_tensor_hole): no tensor data exists to
    // read, so the plan can only come from the infos and metadata (planning takes milliseconds;
    // speed is checked by benchmarks, not timed tests)
    const auto f = gguf::file::open(seeds().gpt_oss());
    CHECK(f.total_tensor_bytes() > 13'000'000'000ull);
    plan::config c = with_gpu(16 * gib, 8192);
    c.sims.push_back(gib);
    const plan::plan p = plan::make(f, c);
    CHECK(p.tensors.size() == f.tensors().size());
}

TEST_CASE("search: two GPUs, the faster one takes units first", "[plan]") {
    const auto f = gguf::file::open(seeds().llama31());
    plan::config c = with_gpu(0);
    c.gpus = {plan::parse_gpu("3GiB:300GB/s", 0), plan::parse_gpu("3GiB:rtx4090", 1)};
    const plan::plan p = plan::make(f, c);
    REQUIRE(p.devices.size() == 3);
    CHECK(p.output_device == 2);                  // the head, first in priority, on the 1008 GB/s card
    CHECK(p.layer_device.back() == 2);            // and the last blocks
    CHECK(p.usage[1].total_bytes > 0);            // the slower card still takes blocks
    CHECK(p.usage[1].total_bytes <= plan::budget(p.devices[1]));
    CHECK(p.usage[2].total_bytes <= plan::budget(p.devices[2]));
    CHECK(p.fits);
}
