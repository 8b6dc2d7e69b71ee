// strata::any_engine: the engine behind virtual functions (what a program compiled apart from
// the nvcc translation unit that instantiates a CUDA engine talks to), and load_options::plan:
// the engine planning its own placement at load. Both must run exactly what the engine runs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "strata/engine/any_engine.hpp"
#include "strata/engine/generate.hpp"
#include "strata/engine/plan_at_load.hpp"
#include "support/models.hpp"

namespace {

const char* const model_name = "smollm2-135m-instruct-q4_1";
const char* const model_file = "SmolLM2-135M-Instruct.Q4_1.gguf";

std::string model() { return strata_test::model_path(model_name, model_file); }

bool skip() {
    if (strata_test::model_available(model())) return false;
    if (strata_test::in_ci()) FAIL(model_name << " missing in CI: run tools/models fetch");
    WARN(model_name << " not fetched (tools/models fetch): skipped");
    return true;
}

// Greedy continuation of a prompt, any session type.
template <class Session>
std::vector<std::int32_t> greedy(Session& s, const std::vector<std::int32_t>& prompt, int steps) {
    s.prefill(prompt);
    std::vector<std::int32_t> out;
    for (int i = 0; i < steps; ++i) {
        const auto l = s.logits();
        out.push_back(std::int32_t(std::max_element(l.begin(), l.end()) - l.begin()));
        s.decode(out.back());
    }
    return out;
}

}  // namespace

TEST_CASE("any_engine: the erased engine and session compute what basic_engine computes", "[engine][any_engine]") {
    if (skip()) return;
    const auto direct = strata::cpu_engine::load(model(), {.n_threads = 2, .prefault = false});
    const auto erased = strata::make_any_engine<strata::cpu_engine>(model(), {.n_threads = 2, .prefault = false});
    CHECK_FALSE(erased->with_cuda());
    CHECK(erased->planned() == nullptr);  // a placement was given (the default): no plan
    CHECK(erased->hparams().n_layer == direct.hparams().n_layer);
    CHECK(erased->chat_format() == direct.chat_format());
    const strata::session_options so{.n_ctx = 64, .n_batch = 5};
    auto d = direct.new_session(so);
    auto e = erased->new_session(so);
    const auto prompt = direct.tokenizer().encode("The capital of France is", true, true);
    CHECK(greedy(*e, prompt, 6) == greedy(d, prompt, 6));
    CHECK(e->position() == d.position());
    CHECK(e->tokens() == d.tokens());
    CHECK(e->kv_bytes() == d.kv_bytes());
    REQUIRE(e->usage().size() == 1);
    CHECK(e->usage()[0].total_bytes() == d.usage()[0].total_bytes());

    // the sampler's parameters go through, and sampling draws what the direct session draws
    auto p = e->sampling();
    p.top_k = 3;
    p.seed = 7;
    e->set_sampling(p);
    d.sampler().set_parameters(p);
    CHECK(e->sampling().top_k == 3);
    e->rewind(3);
    d.rewind(3);
    const std::vector<std::int32_t> more = {prompt[3]};
    e->prefill(more);
    d.prefill(more);
    for (int i = 0; i < 8; ++i) {
        const auto te = e->sample(), td = d.sample();
        REQUIRE(te == td);
        e->decode(te);
        d.decode(td);
    }
    // generate() takes the erased session like a basic_session, and streams the same text
    e->reset();
    d.reset();
    std::string text_e, text_d;
    const auto se = strata::generate(*e, erased->tokenizer(), prompt, {.num_predict = 6}, [&](std::string_view t) { text_e += t; });
    const auto sd = strata::generate(d, direct.tokenizer(), prompt, {.num_predict = 6}, [&](std::string_view t) { text_d += t; });
    CHECK(se.generated_tokens == sd.generated_tokens);
    CHECK(se.generated_tokens > 0);
    CHECK(text_e == text_d);
    CHECK_THROWS_WITH(e->rewind(99), Catch::Contains("rewind to 99"));
}

TEST_CASE("any_engine: load_options::plan makes the plan at load and the engine runs it", "[engine][any_engine][plan]") {
    if (skip()) return;
    const strata::session_options so{.n_ctx = 128, .n_batch = 16};
    // a CPU engine plans for the CPU alone, whatever GPUs the config states
    auto c = strata::plan_config(so, 2, -1);
    c.ram = std::uint64_t(8) << 30;
    strata::plan::device_spec gpu;
    gpu.kind = strata::plan::device_kind::cuda;
    gpu.total_bytes = gpu.free_bytes = std::uint64_t(16) << 30;
    gpu.bandwidth = 448e9;
    gpu.flops = 20e12;
    c.gpus = {gpu};
    const auto cpu_only = strata::make_any_engine<strata::cpu_engine>(model(), {.n_threads = 2, .prefault = false, .plan = strata::plan_at_load(c)});
    REQUIRE(cpu_only->planned() != nullptr);
    CHECK(cpu_only->planned()->devices.size() == 1);
    CHECK(cpu_only->planned()->num_ctx == so.n_ctx);
    CHECK(cpu_only->planned()->layers_gpu == 0);
    CHECK(cpu_only->placement().devices.size() == 1);

    // with a sim device too small for the whole model the plan splits, and the session holds
    // what the plan said (the split tests' 3%) and computes what the all-CPU engine computes
    c.gpus.clear();
    c.sims = {std::uint64_t(60) << 20};
    const auto split = strata::make_any_engine<strata::cpu_engine>(model(), {.n_threads = 2, .prefault = false, .plan = strata::plan_at_load(c)});
    const auto* p = split->planned();
    REQUIRE(p != nullptr);
    INFO(p->layers_gpu << " of " << p->layers_total << " layers on the sim");
    CHECK(p->layers_gpu > 0);
    CHECK(p->layers_gpu < p->layers_total);
    std::uint32_t on_sim = 0;
    for (std::uint32_t il = 0; il < split->hparams().n_layer; ++il) on_sim += split->placement().device_of_layer(il) == 1;
    CHECK(std::int64_t(on_sim) == p->layers_gpu);
    auto s = split->new_session(so);
    const auto u = s->usage();
    REQUIRE(u.size() == 2);
    CHECK(std::abs(double(u[1].total_bytes()) - double(p->usage[1].total_bytes)) <= 0.03 * double(p->usage[1].total_bytes));
    auto h = cpu_only->new_session(so);
    const auto prompt = split->tokenizer().encode("The capital of France is", true, true);
    CHECK(greedy(*s, prompt, 4) == greedy(*h, prompt, 4));

    // num_gpu 0: nothing leaves the CPU
    c.num_gpu = 0;
    const auto none = strata::make_any_engine<strata::cpu_engine>(model(), {.n_threads = 2, .prefault = false, .plan = strata::plan_at_load(c)});
    CHECK(none->planned()->layers_gpu == 0);
}
