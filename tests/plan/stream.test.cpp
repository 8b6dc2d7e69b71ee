// Prefill streaming in the plan: when it is on (a GPU too small for the model, batches of at
// least min_batch), what it costs (model::stream_shape_for's bytes on the GPU), what it predicts,
// when it is off, and that the JSON and the engine's placement keep it.
//
// Model: the shape-exact sparse llama3.1 8B seed file (tests/support/seed_models.hpp, 4.9 GB of
// holes, Q4_K / Q6_K), planned from its tensor infos alone.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "strata/engine/placement.hpp"
#include "strata/plan/planner.hpp"
#include "support/seed_models.hpp"

using namespace strata;
namespace seed = strata_test::seed;
using plan::gib;
using plan::mib;

namespace {

// As native.test.cpp's: a stated GPU of BYTES (none for 0), 64 GiB of RAM, 4 threads.
plan::config with_gpu(std::uint64_t bytes) {
    plan::config c;
    c.num_ctx = 4096;
    c.n_threads = 4;
    c.ram = 64 * gib;
    c.detect = false;
    if (bytes) c.gpus.push_back(plan::parse_gpu(std::to_string(bytes), 0));
    return c;
}

const std::string& llama31() { return seed::shared_files().llama31(); }

std::uint64_t stream_bytes(const gguf::file& f, std::int64_t n_batch) {
    const model::hparams hp = model::load_hparams(f);
    const model::weights w = model::bind_weights(f, hp);
    return model::stream_shape_for(w, n_batch, model::stream_target::cuda, model::cublas_workspace_bytes).bytes();
}

// The GPU's compute without a stream: the stage's pieces and, with the head there, the sampler's.
std::uint64_t cuda_workspace(const gguf::file& f, std::int64_t n_batch) {
    const model::hparams hp = model::load_hparams(f);
    return model::cuda_workspace_bytes(hp, model::bind_weights(f, hp), n_batch, 4096) + model::cuda_sampler_bytes(hp);
}

std::uint64_t block_bytes(const gguf::file& f, int layer) {
    std::uint64_t b = 0;
    const std::string prefix = "blk." + std::to_string(layer) + ".";
    for (const gguf::tensor_info& t : f.tensors())
        if (t.name.substr(0, prefix.size()) == prefix) b += t.n_bytes;
    return b;
}

// The break-even batch, computed here from the file: the bytes and elements of the block
// matrices the plan left on the CPU.
double break_even(const gguf::file& f, const plan::plan& p) {
    double bytes = 0, flops = 0;
    for (std::size_t i = 0; i < p.tensors.size(); ++i) {
        const gguf::tensor_info& t = f.tensors()[i];
        if (p.tensors[i].device != 0 || t.name.substr(0, 4) != "blk." || t.ne[1] <= 1) continue;
        bytes += double(t.n_bytes);
        flops += 2.0 * double(t.n_elements);
    }
    const double cpu = p.devices[0].flops, gpu = p.devices[1].flops;
    return bytes / (plan::stream_link_bandwidth * flops * (1 / cpu - 1 / gpu));
}

bool says(const plan::plan& p, const std::string& what) {
    return std::any_of(p.reasons.begin(), p.reasons.end(), [&](const std::string& r) { return r.find(what) != std::string::npos; });
}

}  // namespace

TEST_CASE("stream: a GPU too small for the model streams the CPU blocks for batches of 512", "[plan][stream]") {
    const auto f = gguf::file::open(llama31());
    plan::config c = with_gpu(3 * gib);
    const plan::plan p = plan::make(f, c);
    c.stream_prefill = false;
    const plan::plan off = plan::make(f, c);
    REQUIRE(p.layers_gpu > 0);
    REQUIRE(p.layers_gpu < p.layers_total);
    CHECK(p.stream.device == 1);
    CHECK(p.stream.min_batch == std::max<std::int64_t>(32, std::int64_t(std::ceil(break_even(f, p)))));
    CHECK(p.stream.min_batch >= 32);
    CHECK(p.stream.bytes == stream_bytes(f, 512));
    CHECK(p.stream.bytes > 32 * mib);  // cuBLAS's workspace and more
    // the GPU's compute is its stage's workspace and exactly the stream's buffers, and it fits
    CHECK(p.usage[1].compute_bytes == cuda_workspace(f, 512) + p.stream.bytes);
    CHECK(off.usage[1].compute_bytes == cuda_workspace(f, 512));
    const plan::device_usage& u = p.usage[1];
    CHECK(u.total_bytes == u.weights_bytes + u.kv_bytes + u.compute_bytes + u.overhead_bytes);
    CHECK(p.candidates.front().device_total_bytes[1] == u.total_bytes);
    CHECK(u.total_bytes <= plan::budget(p.devices[1]));
    CHECK(p.fits);
    // the search left room for the buffers: the GPU gave up fewer weight bytes than the buffers
    // and one block (the fill is whole units; here the head and 13 blocks against 17 blocks)
    CHECK(off.usage[1].weights_bytes < p.usage[1].weights_bytes + p.stream.bytes + block_bytes(f, 0));
    // faster prefill, the same decode; the plan's own prediction is the one without the stream
    CHECK(p.stream.predicted.prefill_tps > p.predicted.prefill_tps);
    CHECK(p.stream.predicted.decode_tps == p.predicted.decode_tps);
    CHECK(says(p, "prefill: batches of >= " + std::to_string(p.stream.min_batch) + " tokens stream"));
    CHECK(off.stream.device == -1);
    CHECK(says(off, "--no-stream-prefill"));
    WARN("llama3.1 8B on 3 GiB: " << p.layers_gpu << " layers on the GPU (" << off.layers_gpu << " without the stream), min_batch "
         << p.stream.min_batch << " (break-even " << break_even(f, p) << "), " << p.stream.bytes << " bytes, prefill "
         << p.stream.predicted.prefill_tps << " tok/s against " << p.predicted.prefill_tps << ", decode " << p.predicted.decode_tps
         << " tok/s against " << off.predicted.decode_tps << " without the stream");

    SECTION("two sequences: a stream each") {
        c = with_gpu(3 * gib);
        c.num_parallel = 2;
        const plan::plan q = plan::make(f, c);
        REQUIRE(q.stream.device == 1);
        CHECK(q.stream.bytes == 2 * stream_bytes(f, 512));
    }
}

TEST_CASE("stream: off below min_batch, without a GPU, with nothing on the CPU, or when asked", "[plan][stream]") {
    const auto f = gguf::file::open(llama31());
    SECTION("batches of 16 tokens are below min_batch") {
        plan::config c = with_gpu(3 * gib);
        c.num_batch = 16;
        const plan::plan p = plan::make(f, c);
        CHECK(p.layers_gpu < p.layers_total);
        CHECK(p.stream.device == -1);
        CHECK(p.stream.bytes == 0);
        CHECK(says(p, "no stream: batches of 16 tokens"));
    }
    SECTION("num_gpu 0: the user asked for no GPU") {
        plan::config c = with_gpu(3 * gib);
        c.num_gpu = 0;
        const plan::plan p = plan::make(f, c);
        CHECK(p.stream.device == -1);
        CHECK_FALSE(says(p, "prefill:"));
    }
    SECTION("no GPU at all") {
        const plan::plan p = plan::make(f, with_gpu(0));
        CHECK(p.stream.device == -1);
        CHECK_FALSE(says(p, "prefill:"));
    }
    SECTION("everything fits on the GPU: no block on the CPU") {
        const plan::plan p = plan::make(f, with_gpu(24 * gib));
        REQUIRE(p.layers_gpu == p.layers_total);
        CHECK(p.stream.device == -1);
        CHECK_FALSE(says(p, "prefill:"));
    }
    SECTION("a GPU barely faster than the CPU raises min_batch above the floor") {
        plan::config c = with_gpu(3 * gib);
        c.gpus[0].flops = 1.0e12;  // the CPU's 0.77 TFLOP/s and a little more
        const plan::plan p = plan::make(f, c);
        REQUIRE(p.stream.device == 1);
        CHECK(p.stream.min_batch == std::int64_t(std::ceil(break_even(f, p))));
        CHECK(p.stream.min_batch > 32);
        // well below it (the break-even moves a little with the blocks a smaller workspace lets on the GPU)
        REQUIRE(p.stream.min_batch > 64);
        c.num_batch = 48;
        const plan::plan q = plan::make(f, c);
        CHECK(q.stream.device == -1);
        CHECK(says(q, "no stream: batches of " + std::to_string(c.num_batch) + " tokens"));
        // the buffers the search reserved are given back
        CHECK(q.usage[1].compute_bytes == cuda_workspace(f, c.num_batch));
        CHECK(q.candidates.front().device_total_bytes[1] == q.usage[1].total_bytes);
        INFO("a 1 TFLOP/s GPU: min_batch " << p.stream.min_batch);
    }
    SECTION("a GPU no faster than the CPU: sending weights never pays") {
        plan::config c = with_gpu(3 * gib);
        c.gpus[0].flops = 0.5e12;
        const plan::plan p = plan::make(f, c);
        CHECK(p.stream.device == -1);
        CHECK(says(p, "never pays"));
        CHECK(p.usage[1].compute_bytes == cuda_workspace(f, 512));
    }
    SECTION("the ollama estimator leaves it off") {
        plan::config c = with_gpu(3 * gib);
        c.estimator = plan::estimator::ollama_0_11_3;
        const plan::plan p = plan::make(f, c);
        CHECK(p.layers_gpu < p.layers_total);
        CHECK(p.stream.device == -1);
    }
}

TEST_CASE("stream: the JSON keeps it and the engine's placement maps it", "[plan][stream]") {
    const auto f = gguf::file::open(llama31());
    const plan::plan p = plan::make(f, with_gpu(3 * gib));
    REQUIRE(p.stream.device == 1);
    const std::string j = plan::to_json(p);
    const plan::plan q = plan::from_json(j);
    CHECK(plan::to_json(q) == j);
    CHECK(q.stream.device == p.stream.device);
    CHECK(q.stream.min_batch == p.stream.min_batch);
    CHECK(q.stream.bytes == p.stream.bytes);
    CHECK(q.stream.predicted.prefill_tps == p.stream.predicted.prefill_tps);
    const placement x = placement::from_plan(q);
    CHECK(x.stream_device == 1);
    CHECK(x.stream_min_batch == p.stream.min_batch);
    CHECK_NOTHROW(x.check(static_cast<std::uint32_t>(q.layer_device.size()), true));

    SECTION("a file without it (an older strata-plan) reads as off") {
        std::string old = j;
        const std::size_t a = old.find("\"prefill_stream\""), b = old.find("\"candidates\"");
        REQUIRE(a < b);
        old.erase(a, b - a);
        const plan::plan o = plan::from_json(old);
        CHECK(o.stream.device == -1);
        CHECK(placement::from_plan(o).stream_device == -1);
    }
    SECTION("a stream to the CPU is refused") {
        std::string bad = j;
        const std::string key = "\"prefill_stream\": {\n    \"device\": 1";
        REQUIRE(bad.find(key) != std::string::npos);
        bad.replace(bad.find(key), key.size(), "\"prefill_stream\": {\n    \"device\": 0");
        CHECK_THROWS_WITH(plan::from_json(bad), Catch::Contains("prefill_stream.device"));
    }
}

TEST_CASE("stream: a model the engine does not run is priced from its generic weights", "[plan][stream]") {
    const auto f = gguf::file::open(seed::shared_files().gpt_oss());
    const plan::config c = with_gpu(8 * gib);
    const plan::model_info m = plan::read_model(f, c);
    REQUIRE_FALSE(m.engine_runs);
    const model::weights w = plan::detail::generic_weights(f, m.hp);
    CHECK(m.stream_cuda == model::stream_shape_for(w, 512, model::stream_target::cuda, model::cublas_workspace_bytes).bytes());
    CHECK(m.stream_cuda > model::cublas_workspace_bytes);
}

TEST_CASE("stream: the plan with the stream is kept only where a chat turn is shorter with it", "[plan][stream]") {
    // The stream's buffers take GPU memory a block could use. Over GPU sizes from a few blocks to
    // nearly the whole model, the planner must keep the stream exactly where its turn (a num_batch
    // prompt and turn_generated_tokens generated) beats the plan searched without it.
    const auto f = gguf::file::open(llama31());
    int kept = 0, declined = 0;
    for (std::uint64_t mb = 2048; mb <= 6144; mb += 256) {
        plan::config c = with_gpu(mb * mib);
        const plan::plan p = plan::make(f, c);
        c.stream_prefill = false;
        const plan::plan without = plan::make(f, c);
        INFO(mb << " MiB: " << p.layers_gpu << " layers with the plan, " << without.layers_gpu << " without the stream");
        const double n = double(p.num_batch);
        const double t_without = plan::detail::turn_seconds(without.predicted, n);
        if (p.stream.device >= 0) {
            ++kept;
            CHECK(plan::detail::turn_seconds(p.stream.predicted, n) < t_without);
            CHECK(says(p, "; a turn of 512 prompt and 128 generated tokens takes"));
        } else if (says(p, "no stream: its buffers would leave blocks to the CPU")) {
            ++declined;
            // the plan searched without the buffers, as it is
            CHECK(p.layers_gpu == without.layers_gpu);
            CHECK(p.usage[1].total_bytes == without.usage[1].total_bytes);
            CHECK(plan::detail::turn_seconds(p.predicted, n) == t_without);
        }
    }
    WARN("llama3.1 8B, GPUs of 2-6 GiB: the stream kept at " << kept << " sizes, declined for the turn at " << declined);
    CHECK(kept > 0);
    CHECK(declined > 0);
}
