// Mixture-of-experts blocks placed in halves: the attention half of a block on one device, its
// FFN half (norm, router, experts) on another, as a GPU runs an MoE model whose experts stay on
// the CPU. Without a GPU the other device is a `sim` (a second CPU backend with its own arena), so
// every crossing the GPU hybrid makes is made here too. Every placement must give the all-CPU
// run's logits bit for bit, and each device must hold exactly its halves' tensors. The model is
// the synthetic Mixtral-layout llama of tests/support/synthetic_models.hpp (4 experts, 2 per
// token), whose logits the fidelity tests compare with llama.cpp's.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "strata/engine/engine.hpp"
#include "strata/plan/planner.hpp"
#include "support/greedy.hpp"
#include "support/synthetic_models.hpp"

namespace {

namespace syn = strata_test::synthetic;

constexpr std::size_t sim_memory = std::size_t(64) << 20;

// A 10-token prompt in batches of 4 (so prefill runs batched and ragged), then greedy steps;
// every step's logits.
std::vector<std::vector<float>> run(const strata::cpu_engine& e, int steps) {
    const std::vector<std::int32_t> prompt = {1, 40, 7, 299, 120, 3, 64, 201, 18, 77};
    return strata_test::greedy_logits(e, prompt, steps, 64, 4);
}

// The host and one sim; layer il's attention half on attn[il], its FFN half on ffn[il].
strata::placement halves(const std::vector<int>& attn, const std::vector<int>& ffn, int output) {
    strata::placement p = strata::placement::split(syn::n_layer, syn::n_layer, sim_memory, output == 1);
    p.layer_device = attn;
    p.ffn_device = ffn;
    return p;
}

std::string show(const std::vector<int>& v) {
    std::string s;
    for (int d : v) s += std::to_string(d);
    return s;
}

}  // namespace

TEST_CASE("moe: every placement of the attention and FFN halves equals the all-CPU run bit for bit", "[engine][moe]") {
    for (const char* name : {"llama-moe-f32", "llama-moe-q8_0"}) {
        const syn::temp_model file(syn::find_variant(name));
        const auto host = strata::cpu_engine::load(file.path, {.n_threads = 2, .prefault = false});
        REQUIRE(host.hparams().n_expert == syn::n_expert);
        REQUIRE(host.hparams().n_expert_used == syn::n_expert_used);
        const auto want = run(host, 5);
        // every assignment of the 3 layers' 6 halves to {host, sim}, the head on either
        for (int bits = 0; bits < 64; ++bits) {
            std::vector<int> attn(syn::n_layer), ffn(syn::n_layer);
            for (std::uint32_t il = 0; il < syn::n_layer; ++il) {
                attn[il] = (bits >> (2 * il)) & 1;
                ffn[il] = (bits >> (2 * il + 1)) & 1;
            }
            const int output = bits % 2;
            INFO(name << ": attention halves on " << show(attn) << ", FFN halves on " << show(ffn) << ", head on " << output);
            const auto e = strata::cpu_engine::load(file.path, {.n_threads = 2, .prefault = false, .placement = halves(attn, ffn, output)});
            CHECK(run(e, 5) == want);
        }
    }
}

TEST_CASE("moe: each device holds exactly the tensors of its halves, measured from the allocations", "[engine][moe]") {
    const syn::temp_model file(syn::find_variant("llama-moe-q8_0"));
    // the GPU hybrid's shape: every attention half on the sim, every FFN half (router, experts) on the host
    const std::vector<int> attn(syn::n_layer, 1), ffn(syn::n_layer, 0);
    const auto e = strata::cpu_engine::load(file.path, {.n_threads = 2, .prefault = false, .placement = halves(attn, ffn, 1)});
    const auto& w = e.weights();
    std::size_t sim = strata::arena::padded(strata::model::tensor_bytes(w.output_norm)) +
                      strata::arena::padded(strata::model::tensor_bytes(w.output));
    std::size_t cpu = strata::model::tensor_bytes(w.token_embd) + strata::model::tensor_bytes(w.rope_freqs), experts = 0;
    for (const auto& L : w.layers) {
        for (const auto* t : strata::model::attention_tensors_of(L))
            if (*t) sim += strata::arena::padded(strata::model::tensor_bytes(*t));
        for (const auto* t : strata::model::ffn_tensors_of(L))
            if (*t) cpu += strata::model::tensor_bytes(*t);
        experts += strata::model::tensor_bytes(L.ffn_gate_exps) + strata::model::tensor_bytes(L.ffn_up_exps) +
                   strata::model::tensor_bytes(L.ffn_down_exps);
    }
    // 4 experts x (gate, up: 128 rows of 64; down: 64 rows of 128) in Q8_0 (34 bytes per 32), 3 layers
    CHECK(experts == 3u * 4u * 3u * (128u * 64u / 32u * 34u));
    const auto u = e.weights_usage();
    REQUIRE(u.size() == 2);
    CHECK(u[1].weights_bytes == sim);
    CHECK(u[0].weights_bytes == cpu);
    // the sim's layers keep their KV cache there; its activations have no expert buffers to spare
    auto s = e.new_session({.n_ctx = 64, .n_batch = 4});
    const auto su = s.usage();
    CHECK(su[0].kv_bytes == 0);
    CHECK(su[1].kv_bytes == s.kv_bytes());
}

TEST_CASE("moe: the planner's halves run as planned, within 3% of the measured memory", "[engine][moe][plan]") {
    const syn::temp_model file(syn::find_variant("llama-moe-f32"));
    const auto f = strata::gguf::file::open(file.path);
    strata::plan::config c;
    c.num_ctx = 64;
    c.num_batch = 4;
    c.n_threads = 2;
    c.ram = std::uint64_t(8) << 30;
    c.detect = false;
    c.sims = {std::uint64_t(64) << 20};
    c.experts_on_cpu = true;  // as plan_at_load asks for a CUDA engine
    // a sim is no faster than the host, and each half crossing costs: the cost model keeps this
    // tiny model on the CPU unless told (num_gpu: the 3 blocks and the head)
    c.num_gpu = 4;
    const auto p = strata::plan::make(f, c);
    REQUIRE(p.fits);
    CHECK(p.layers_split == int(syn::n_layer));
    for (int d : p.layer_device) CHECK(d == 1);
    const auto q = strata::plan::from_json(strata::plan::to_json(p));
    const auto x = strata::placement::from_plan(q);
    REQUIRE(x.ffn_device.size() == syn::n_layer);
    for (int d : x.ffn_device) CHECK(d == 0);
    const auto e = strata::cpu_engine::load(file.path, {.n_threads = 2, .prefault = false, .placement = x});
    auto s = e.new_session({.n_ctx = c.num_ctx, .n_batch = c.num_batch});
    const auto u = s.usage();
    REQUIRE(u.size() == p.usage.size());
    for (std::size_t d = 0; d < u.size(); ++d) {
        // the overhead the plan adds (fixed per device) is large against this tiny model: compare the parts
        INFO("device " << u[d].name);
        CHECK(u[d].weights_bytes == p.usage[d].weights_bytes);
        CHECK(u[d].kv_bytes == p.usage[d].kv_bytes);
        CHECK(u[d].compute_bytes == p.usage[d].compute_bytes);
    }
    const auto host = strata::cpu_engine::load(file.path, {.n_threads = 2, .prefault = false});
    CHECK(run(e, 3) == run(host, 3));
}

TEST_CASE("moe: a placement's FFN devices are checked like its layer devices", "[engine][moe]") {
    strata::placement p = strata::placement::offload(syn::n_layer, 0, true);
    CHECK_NOTHROW(p.check(syn::n_layer, true));  // whole MoE blocks on the GPU
    p.ffn_device.assign(syn::n_layer, 0);        // the hybrid: attention on the GPU, experts on the host
    CHECK_NOTHROW(p.check(syn::n_layer, true));
    CHECK(p.device_of_ffn(1) == 0);
    CHECK(p.device_of_layer(1) == 1);
    p.ffn_device.pop_back();
    CHECK_THROWS_WITH(p.check(syn::n_layer, true), Catch::Contains("FFN device of 2 layers, the model has 3"));
    p.ffn_device = {0, 0, 5};
    CHECK_THROWS_WITH(p.check(syn::n_layer, true), Catch::Contains("FFN half of layer 2 on device 5 of 2"));
}

TEST_CASE("moe: a bad expert count or a missing expert tensor is a clear error naming the key or tensor", "[engine][moe]") {
    const auto& v = syn::find_variant("llama-moe-q8_0");
    const auto path = (std::filesystem::temp_directory_path() / ("strata-moe-bad-" + std::to_string(::getpid()) + ".gguf")).string();
    auto load_error = [&](strata::gguf::writer& w) -> strata::error {
        w.write(path);
        try {
            (void)strata::cpu_engine::load(path, {.n_threads = 1, .prefault = false});
        } catch (const strata::error& e) {
            std::remove(path.c_str());
            return e;
        }
        std::remove(path.c_str());
        FAIL("loaded");
        return strata::error(strata::errc::internal, "unreachable");
    };
    {
        auto w = syn::make_writer(v);
        w.set("llama.expert_used_count", std::uint32_t(5));
        const auto e = load_error(w);
        CHECK(e.category() == strata::errc::format);
        CHECK_THAT(e.message(), Catch::Contains("expert_used_count 5 must be between 1 and expert_count 4"));
    }
    {
        auto w = syn::make_writer(v);
        w.remove("llama.expert_used_count");
        const auto e = load_error(w);
        CHECK(e.category() == strata::errc::missing);
        CHECK_THAT(e.message(), Catch::Contains("llama.expert_used_count"));
    }
    {
        // the file says 8 experts, its tensors stack 4
        auto w = syn::make_writer(v);
        w.set("llama.expert_count", std::uint32_t(8));
        const auto e = load_error(w);
        CHECK(e.category() == strata::errc::format);
        CHECK_THAT(e.message(), Catch::Contains("blk.0.ffn_gate_inp.weight") && Catch::Contains("expected [64, 8]"));
    }
}

TEST_CASE("moe: a decode step reads the experts at expert_used_count of expert_count", "[engine][moe]") {
    const syn::temp_model file(syn::find_variant("llama-moe-q8_0"));
    const auto e = strata::cpu_engine::load(file.path, {.n_threads = 1, .prefault = false});
    const auto& w = e.weights();
    double want = double(strata::model::tensor_bytes(w.output_norm) + strata::model::tensor_bytes(w.output) +
                         strata::model::tensor_bytes(w.rope_freqs));
    for (const auto& L : w.layers) {
        for (const auto* t : strata::model::attention_tensors_of(L))
            if (*t) want += double(strata::model::tensor_bytes(*t));
        want += double(strata::model::tensor_bytes(L.ffn_norm) + strata::model::tensor_bytes(L.ffn_gate_inp));
        // 2 of the 4 experts: half of each stacked tensor
        for (const auto* t : {&L.ffn_gate_exps, &L.ffn_up_exps, &L.ffn_down_exps}) want += 0.5 * double(strata::model::tensor_bytes(*t));
    }
    CHECK(strata::model::decode_read_bytes(w, e.hparams().n_expert_used) == want);
    // the whole file less the embedding table, were every expert read
    CHECK(strata::model::decode_read_bytes(w, syn::n_expert) ==
          double(e.file().total_tensor_bytes() - strata::model::tensor_bytes(w.token_embd)));
}
