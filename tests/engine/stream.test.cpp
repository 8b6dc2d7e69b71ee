// Prefill streaming without a GPU: the host's large-batch matmuls sent to a sim device (its
// memory, its own CPU backend), the data path a GPU's stream takes. The logits must be the
// all-CPU run's bit for bit, only batches of at least min_batch tokens may go, and the stream's
// buffers are what model::stream_shape_for says.
#include <catch2/catch.hpp>

#include <algorithm>

#include "strata/engine/engine.hpp"
#include "support/models.hpp"

namespace {

const char* const model_name = "smollm2-135m-instruct-q4_1";

std::string model() { return strata_test::model_path(model_name, "SmolLM2-135M-Instruct.Q4_1.gguf"); }

bool skip() {
    if (strata_test::model_available(model())) return false;
    if (strata_test::in_ci()) FAIL(model_name << " missing in CI: run tools/models fetch");
    WARN(model_name << " not fetched (tools/models fetch): skipped");
    return true;
}

// Layers [first, n) on a sim of 400 MiB with the head; the host's matmuls of batches of at least
// min_batch tokens streamed to it.
strata::placement streamed(std::uint32_t n_layer, std::uint32_t first, std::int64_t min_batch) {
    auto p = strata::placement::split(n_layer, first, std::size_t(400) << 20);
    p.stream_device = 1;
    p.stream_min_batch = min_batch;
    return p;
}

std::vector<std::int32_t> long_prompt(const strata::cpu_engine& e) {
    auto ids = e.tokenizer().encode("The history of the city of Paris begins in the third century BC, when a Celtic people "
                                    "called the Parisii settled on an island in the river Seine and built", true, true);
    REQUIRE(ids.size() >= 33);
    ids.resize(33);  // batches of 16, 16 and 1 at n_batch 16
    return ids;
}

}  // namespace

TEST_CASE("stream: the host's large batches stream to a sim and the logits are the all-CPU run's", "[engine][stream]") {
    if (skip()) return;
    const auto host = strata::cpu_engine::load(model(), {.n_threads = 2, .prefault = false});
    const std::uint32_t n_layer = host.hparams().n_layer, first = n_layer / 2;
    const auto e = strata::cpu_engine::load(model(), {.n_threads = 2, .prefault = false, .placement = streamed(n_layer, first, 12)});
    const strata::session_options so{.n_ctx = 64, .n_batch = 16};
    auto s = e.new_session(so);
    auto h = host.new_session(so);
    REQUIRE(s.prefill_stream() != nullptr);
    CHECK(s.prefill_stream()->min_batch() == 12);

    const auto prompt = long_prompt(host);
    s.prefill(prompt);
    h.prefill(prompt);
    const auto ls = s.logits(), lh = h.logits();
    CHECK(std::equal(ls.begin(), ls.end(), lh.begin(), lh.end()));

    // two batches of 16 streamed the 7 matmuls of every host layer; the last batch of 1 did not
    std::uint64_t host_bytes = 0;
    for (std::uint32_t il = 0; il < first; ++il) {
        const auto& L = e.weights().layers[il];
        for (const auto* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down}) host_bytes += strata::model::tensor_bytes(*t);
    }
    CHECK(s.prefill_stream()->calls() == 2 * 7 * std::int64_t(first));
    CHECK(s.prefill_stream()->bytes_sent() == 2 * host_bytes);

    // decode steps stay on the host
    for (int i = 0; i < 3; ++i) {
        const auto l = s.logits();
        const auto t = std::int32_t(std::max_element(l.begin(), l.end()) - l.begin());
        s.decode(t);
        h.decode(t);
    }
    CHECK(s.prefill_stream()->calls() == 2 * 7 * std::int64_t(first));
    const auto ds = s.logits(), dh = h.logits();
    CHECK(std::equal(ds.begin(), ds.end(), dh.begin(), dh.end()));

    // the sim holds its workspace and exactly the stream's pieces
    const auto u = s.usage();
    REQUIRE(u.size() == 2);
    const auto shape = strata::model::stream_shape_for(e.weights(), so.n_batch, strata::model::stream_target::sim);
    CHECK(u[1].compute_bytes ==
          strata::model::workspace_bytes(e.hparams(), e.weights(), so.n_batch, so.n_ctx, e.cpu().n_threads()) + shape.bytes());
    CHECK(shape.weight_bytes > 0);
    CHECK(shape.x_floats == std::size_t(so.n_batch) * e.hparams().n_ff);  // ffn_down's k is the widest
}

TEST_CASE("stream: a num_batch below min_batch makes no stream, and a bad stream device is refused", "[engine][stream]") {
    if (skip()) return;
    const auto f = strata::gguf::file::open(model());
    const auto n_layer = strata::model::load_hparams(f).n_layer;
    const auto e = strata::cpu_engine::load(model(), {.n_threads = 2, .prefault = false, .placement = streamed(n_layer, 10, 32)});
    auto s = e.new_session({.n_ctx = 64, .n_batch = 16});
    CHECK(s.prefill_stream() == nullptr);
    CHECK(s.usage()[1].compute_bytes == strata::model::workspace_bytes(e.hparams(), e.weights(), 16, 64, e.cpu().n_threads()));

    auto p = streamed(n_layer, 10, 32);
    p.stream_device = 0;
    CHECK_THROWS_WITH(strata::cpu_engine::load(model(), {.prefault = false, .placement = p}),
                      Catch::Contains("prefill stream to device 0"));
    p.stream_device = 2;
    CHECK_THROWS_WITH(strata::cpu_engine::load(model(), {.prefault = false, .placement = p}),
                      Catch::Contains("prefill stream to device 2 of 2"));
    p.stream_device = 1;
    p.stream_min_batch = 0;
    CHECK_THROWS_WITH(strata::cpu_engine::load(model(), {.prefault = false, .placement = p}),
                      Catch::Contains("batches of 0 tokens"));
}
