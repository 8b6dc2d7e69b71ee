// The real Gemma 3 270M (Q4_K_M) against llama.cpp (its portable CPU path) on the same file:
// tokenization identical; greedy continuations token for token until a step where llama.cpp
// itself was near a tie; logits within bounds measured from llama.cpp's own spread (below).
// Goldens: tests/data/models/gemma3-270m-q4_k_m.txt, written by tools/reference/model_goldens.py.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "strata/engine/engine.hpp"
#include "support/models.hpp"

namespace {

// How close two correct implementations can be on this model is bounded by llama.cpp itself:
// activations are re-quantized to Q8 before every matrix product, so a last-bit difference in
// float summation order flips a rounding now and then and the flip grows over 18 layers. On
// this CPU llama.cpp's own two kernel paths (AMX weight repacking and the portable one) part in
// greedy decoding on 8 of these 12 prompts, at steps where the top-2 gap was up to 0.41, and
// their logits differ by a common shift of up to 0.77 and by up to 0.67 beyond it
// (tools/reference/self_agreement.py). The bounds are twice those figures.
constexpr float logit_shift_tolerance = 1.5f;     // |mean over the top-20 of (ours - llama.cpp)|
constexpr float logit_relative_tolerance = 1.5f;  // |(ours - llama.cpp) - that mean| per candidate
constexpr double tie_gap = 0.82;                  // a divergence only where llama.cpp's top-2 gap is below

const strata::cpu_engine* engine() {
    static std::unique_ptr<strata::cpu_engine> e;
    if (!e) {
        const auto path = strata_test::gemma3_path();
        if (!strata_test::model_available(path)) return nullptr;
        e = std::make_unique<strata::cpu_engine>(strata::cpu_engine::load(path, {.n_threads = 2, .prefault = false}));
    }
    return e.get();
}

const strata_test::model_goldens& goldens() {
    static const auto g = strata_test::load_model_goldens(std::string(STRATA_TEST_DATA_DIR) + "/models/gemma3-270m-q4_k_m.txt");
    return g;
}

bool skip_without_model() {
    if (engine()) return false;
    if (strata_test::in_ci()) FAIL("gemma3 model missing in CI: run tools/models fetch");
    WARN("gemma3 model not fetched (tools/models fetch): skipped");
    return true;
}

}  // namespace

TEST_CASE("gemma3: tokenization identical to llama.cpp on every golden string", "[fidelity]") {
    if (skip_without_model()) return;
    const auto& tok = engine()->tokenizer();
    REQUIRE(goldens().tokenize.size() >= 40);
    std::size_t ok = 0;
    for (const auto& g : goldens().tokenize) {
        INFO("text: '" << g.text << "'");
        CHECK(tok.encode(g.text, true, false) == g.ids);
        CHECK(tok.encode(g.text, true, true) == g.ids_parse_special);
        ok += tok.encode(g.text, true, false) == g.ids;
    }
    CHECK(ok == goldens().tokenize.size());
}

TEST_CASE("gemma3: greedy continuations and logits agree with llama.cpp", "[fidelity]") {
    if (skip_without_model()) return;
    const auto& eng = *engine();
    REQUIRE(goldens().greedy.size() >= 12);
    float worst_shift = 0.0f, worst_relative = 0.0f;
    for (const auto& g : goldens().greedy) {
        INFO(g.kind << " prompt: '" << g.text << "'");
        CHECK(eng.tokenizer().encode(g.text, true, true) == g.prompt);
        auto s = eng.new_session({.n_ctx = 512, .n_batch = 512});
        s.prefill(g.prompt);
        std::size_t diverged = g.ids.size();
        for (std::size_t step = 0; step < g.ids.size(); ++step) {
            const auto logits = s.logits();
            for (const auto& [at, top] : g.top20) {
                if (std::size_t(at) != step) continue;
                float shift = 0.0f;
                for (const auto& [id, ref] : top) shift += logits[std::size_t(id)] - ref;
                shift /= float(top.size());
                worst_shift = std::max(worst_shift, std::fabs(shift));
                INFO("step " << step << ": common shift " << shift);
                CHECK(std::fabs(shift) <= logit_shift_tolerance);
                for (const auto& [id, ref] : top) {
                    const float d = std::fabs(logits[std::size_t(id)] - ref - shift);
                    worst_relative = std::max(worst_relative, d);
                    INFO("step " << step << " token " << id << ": " << logits[std::size_t(id)] << " vs " << ref);
                    CHECK(d <= logit_relative_tolerance);
                }
            }
            const auto ours = std::int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
            if (ours != g.ids[step]) {
                diverged = step;
                break;
            }
            s.decode(ours);
        }
        if (diverged < g.ids.size()) {
            WARN(g.kind << " '" << g.text << "': diverged at step " << diverged << " where llama.cpp's top-2 gap was "
                        << g.top2_gap[diverged]);
            CHECK(g.top2_gap[diverged] < tie_gap);
        }
    }
    WARN("logits against llama.cpp over the recorded top-20s: largest common shift " << worst_shift << " (bound "
         << logit_shift_tolerance << "), largest difference beyond it " << worst_relative << " (bound "
         << logit_relative_tolerance << ")");
}
