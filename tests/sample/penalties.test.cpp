// The repetition penalties on a known history, by hand:
//   logits  [2.0, -1.0, 0.5, 3.0, 0.0]    history (oldest first) [0, 1, 1, 3, 0, 0]
//   counts  token 0: 3, token 1: 2, token 3: 1
//   repeat 2, frequency 0.1, presence 0.5:
//     id 0:  2 / 2 = 1    - (3 * 0.1 + 0.5) = 0.2
//     id 1: -1 * 2 = -2   - (2 * 0.1 + 0.5) = -2.7
//     id 2:  not repeated                   = 0.5
//     id 3:  3 / 2 = 1.5  - (1 * 0.1 + 0.5) = 0.9
//     id 4:  not repeated                   = 0.0
#include <catch2/catch.hpp>

#include <vector>

#include "helpers.hpp"

using namespace sample_test;

namespace {
const std::vector<float> base = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
const std::vector<std::int32_t> past = {0, 1, 1, 3, 0, 0};

s::params penalised() {
    auto p = s::neutral();
    p.repeat_last_n = 64;
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.1f;
    p.presence_penalty = 0.5f;
    return p;
}

float logit_of(const s::candidates& c, std::int32_t id) {
    for (const auto& x : c.items())
        if (x.id == id) return x.logit;
    FAIL("id not in the set");
    return 0;
}
}  // namespace

TEST_CASE("penalties: repeat, frequency and presence on a known history", "[sample]") {
    const auto h = history_of(past);
    auto c = make(base);
    run<s::penalties>(c, penalised(), h);
    CHECK(logit_of(c, 0) == Approx(0.2f));
    CHECK(logit_of(c, 1) == Approx(-2.7f));
    CHECK(logit_of(c, 2) == 0.5f);
    CHECK(logit_of(c, 3) == Approx(0.9f));
    CHECK(logit_of(c, 4) == 0.0f);
    // bit for bit llama.cpp's expression
    CHECK(logit_of(c, 0) == 2.0f / 2.0f - (3.0f * 0.1f + 1.0f * 0.5f));
}

TEST_CASE("penalties: only the newest repeat_last_n tokens count", "[sample]") {
    const auto h = history_of(past);
    auto p = penalised();
    p.repeat_last_n = 2;  // the window is [0, 0]: token 0 twice
    auto c = make(base);
    run<s::penalties>(c, p, h);
    CHECK(logit_of(c, 0) == Approx(1.0f - (0.2f + 0.5f)));
    CHECK(logit_of(c, 1) == -1.0f);
    CHECK(logit_of(c, 3) == 3.0f);
    // a history that is itself the window: capacity 2 keeps the same two tokens
    auto d = make(base);
    run<s::penalties>(d, p, history_of(past, 2));
    CHECK(logits(d) == logits(c));
}

TEST_CASE("penalties: off values change nothing", "[sample]") {
    const auto h = history_of(past);
    for (int which = 0; which < 3; ++which) {
        auto p = s::neutral();
        if (which == 0) p.repeat_last_n = 64;                          // all factors neutral
        if (which == 1) { p.repeat_last_n = 0; p.repeat_penalty = 2; }  // window 0
        if (which == 2) { p.repeat_last_n = -1; p.repeat_penalty = 2; } // negative: clamped to 0
        auto c = make(base);
        run<s::penalties>(c, p, h);
        CHECK(logits(c) == base);
    }
    auto c = make(base);
    run<s::penalties>(c, penalised(), s::history(64));  // empty history
    CHECK(logits(c) == base);
}

TEST_CASE("penalties: the same values after the set was reordered", "[sample]") {
    const auto h = history_of(past);
    auto c = make(base);
    auto p = penalised();
    p.top_k = 4;
    run<s::top_k>(c, p, h);  // sorted: ids 3, 0, 2, 4 (id 1 dropped)
    REQUIRE_FALSE(c.in_id_order());
    run<s::penalties>(c, p, h);
    CHECK(logit_of(c, 0) == Approx(0.2f));
    CHECK(logit_of(c, 3) == Approx(0.9f));
    CHECK(logit_of(c, 2) == 0.5f);
    CHECK(logit_of(c, 4) == 0.0f);
    CHECK_FALSE(c.sorted());  // penalised logits may change the order
}

TEST_CASE("penalties: tokens outside the vocabulary in the history are ignored", "[sample]") {
    auto c = make(base);
    run<s::penalties>(c, penalised(), history_of({99, -5, 3}));
    CHECK(logit_of(c, 3) == Approx(0.9f));
    CHECK(logit_of(c, 0) == 2.0f);
}

TEST_CASE("the three penalties as separate stages", "[sample]") {
    const auto h = history_of(past);
    auto p = penalised();
    SECTION("repeat only: divide positive, multiply non-positive") {
        auto c = make(base);
        run<s::repeat_penalty>(c, p, h);
        CHECK(logits(c) == std::vector<float>{1.0f, -2.0f, 0.5f, 1.5f, 0.0f});
    }
    SECTION("frequency only: count * f") {
        auto c = make(base);
        run<s::frequency_penalty>(c, p, h);
        CHECK(logit_of(c, 0) == 2.0f - 3.0f * 0.1f);
        CHECK(logit_of(c, 1) == -1.0f - 2.0f * 0.1f);
        CHECK(logit_of(c, 3) == 3.0f - 0.1f);
    }
    SECTION("presence only: once per token") {
        auto c = make(base);
        run<s::presence_penalty>(c, p, h);
        CHECK(logits(c) == std::vector<float>{1.5f, -1.5f, 0.5f, 2.5f, 0.0f});
    }
    SECTION("in a row, they agree with the fused stage within rounding") {
        auto a = make(base);
        run<s::repeat_penalty>(a, p, h);
        run<s::frequency_penalty>(a, p, h);
        run<s::presence_penalty>(a, p, h);
        auto b = make(base);
        run<s::penalties>(b, p, h);
        for (std::size_t i = 0; i < base.size(); ++i) CHECK(a[i].logit == Approx(b[i].logit).margin(1e-6));
    }
}

TEST_CASE("a zero logit of a repeated token stays zero", "[sample]") {
    auto p = penalised();
    p.frequency_penalty = 0;
    p.presence_penalty = 0;
    auto c = make(base);
    run<s::penalties>(c, p, history_of({4}));
    CHECK(c[4].logit == 0.0f);
}
