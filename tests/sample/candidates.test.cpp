// The data the stages share: the candidate set's order bookkeeping, the history ring buffer,
// and the parameter defaults and checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "helpers.hpp"
#include "strata/core/error.hpp"

using namespace sample_test;

TEST_CASE("candidates: assign is id order, empty and NaN logits are refused", "[sample]") {
    auto c = make({0.5f, -1.0f, 2.0f});
    CHECK(c.size() == 3);
    CHECK(c.in_id_order());
    CHECK_FALSE(c.sorted());
    CHECK_FALSE(c.has_selection());
    CHECK(ids(c) == std::vector<std::int32_t>{0, 1, 2});
    s::candidates d;
    CHECK_THROWS_AS(d.assign({}), strata::error);
    const std::vector<float> nan = {0.0f, std::numeric_limits<float>::quiet_NaN()};
    CHECK_THROWS_AS(d.assign(nan), strata::error);
}

TEST_CASE("candidates: growing a sorted prefix equals one full sort", "[sample]") {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> small(-20, 20);  // many equal logits: the tie-break counts
    std::vector<float> l(3000);
    for (auto& v : l) v = float(small(rng));
    auto full = make(l);
    full.sort();
    CHECK(full.sorted());
    CHECK(std::is_sorted(full.items().begin(), full.items().end(), s::ranks_before));
    auto grown = make(l);
    for (std::size_t k : {1u, 7u, 100u, 101u, 2500u, 3000u}) {
        grown.sort_prefix(k);
        CHECK(grown.sorted_prefix() == k);
    }
    CHECK(ids(grown) == ids(full));
}

TEST_CASE("candidates: keep_if is stable, truncate keeps a sorted prefix sorted", "[sample]") {
    auto c = make({5, 1, 4, 2, 3});
    c.keep_if([](const s::candidate& x) { return x.logit >= 3; });
    CHECK(ids(c) == std::vector<std::int32_t>{0, 2, 4});
    CHECK_FALSE(c.in_id_order());
    auto d = make({5, 1, 4, 2, 3});
    d.sort();
    d.truncate(2);
    CHECK(d.sorted());
    CHECK(ids(d) == std::vector<std::int32_t>{0, 2});
}

TEST_CASE("candidates: softmax", "[sample]") {
    auto c = make({5, 4, 3});
    c.softmax();
    CHECK(c[0].p == Approx(0.6652409557748218));
    CHECK(c[1].p == Approx(0.24472847105479764));
    CHECK(c[2].p == Approx(0.09003057317038046));
}

TEST_CASE("history: a ring of the newest tokens", "[sample]") {
    s::history h(3);
    CHECK(h.empty());
    for (std::int32_t t : {10, 11, 12, 13, 14}) h.push(t);
    CHECK(h.size() == 3);
    CHECK(h.capacity() == 3);
    CHECK(h.recent(0) == 14);
    CHECK(h.recent(2) == 12);
    CHECK(h.at(0) == 12);
    CHECK(h.at(2) == 14);
    h.resize(2);  // keeps the newest
    CHECK(h.size() == 2);
    CHECK(h.recent(0) == 14);
    CHECK(h.recent(1) == 13);
    h.resize(5);
    h.push(15);
    CHECK(h.size() == 3);
    CHECK(h.at(0) == 13);
    h.clear();
    CHECK(h.empty());
    s::history none(0);  // penalties off: nothing is kept
    none.push(1);
    CHECK(none.empty());
}

TEST_CASE("params: Ollama's defaults, neutral, with_context, validate", "[sample]") {
    constexpr auto d = s::ollama_defaults();
    static_assert(d == s::params{});
    CHECK(d.temperature == 0.8f);
    CHECK(d.top_k == 40);
    CHECK(d.top_p == 0.9f);
    CHECK(d.min_p == 0.0f);
    CHECK(d.typical_p == 1.0f);
    CHECK(d.repeat_penalty == 1.1f);
    CHECK(d.repeat_last_n == 64);
    CHECK(d.presence_penalty == 0.0f);
    CHECK(d.frequency_penalty == 0.0f);
    CHECK(d.seed == 0xFFFFFFFFu);
    CHECK(std::uint32_t(std::int32_t(-1)) == s::random_seed);  // Ollama's seed -1
    for (auto p : {s::neutral()}) {
        CHECK_FALSE(s::penalties::enabled(p));
        CHECK_FALSE(s::top_k::enabled(p));
        CHECK_FALSE(s::top_p::enabled(p));
        CHECK_FALSE(s::min_p::enabled(p));
        CHECK_FALSE(s::typical_p::enabled(p));
        CHECK_FALSE(s::temperature::enabled(p));
    }
    auto whole = d;
    whole.repeat_last_n = -1;
    CHECK_THROWS_AS(s::validate(whole), strata::error);
    CHECK(s::with_context(whole, 4096).repeat_last_n == 4096);
    CHECK_NOTHROW(s::validate(s::with_context(whole, 4096)));
    auto bad = d;
    bad.temperature = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(s::validate(bad), strata::error);
    bad = d;
    bad.min_keep = -1;
    CHECK_THROWS_AS(s::validate(bad), strata::error);
    bad = d;
    bad.repeat_penalty = 0;
    CHECK_THROWS_AS(s::validate(bad), strata::error);
    try {
        s::validate(whole);
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::argument);
    }
}
