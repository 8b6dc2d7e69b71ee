// Each truncation / scaling / selecting stage on small logit vectors computed by hand:
// the exact kept set, its order, and the probabilities after renormalisation.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "helpers.hpp"

using namespace sample_test;
using ids_t = std::vector<std::int32_t>;

namespace {
const std::vector<double> five = {0.5, 0.2, 0.15, 0.1, 0.05};  // token i has probability five[i]

std::vector<float> renormalised(s::candidates c) {
    c.softmax();
    std::vector<float> v;
    for (const auto& x : c.items()) v.push_back(x.p);
    return v;
}
}  // namespace

TEST_CASE("top_k keeps the k best, sorted, k <= 0 is off", "[sample]") {
    const std::vector<float> l = {1, 3, 2, 5, 4};
    auto p = s::neutral();
    SECTION("k = 3") {
        auto c = make(l);
        p.top_k = 3;
        run<s::top_k>(c, p);
        CHECK(ids(c) == ids_t{3, 4, 1});
        CHECK(logits(c) == std::vector<float>{5, 4, 3});
        CHECK(c.sorted());
        const auto pr = renormalised(c);  // exp(0, -1, -2) / sum
        CHECK(pr[0] == Approx(0.6652409557748218));
        CHECK(pr[1] == Approx(0.24472847105479764));
        CHECK(pr[2] == Approx(0.09003057317038046));
    }
    SECTION("k = 0 and k < 0 leave the set as it is") {
        for (int k : {0, -1}) {
            auto c = make(l);
            p.top_k = k;
            run<s::top_k>(c, p);
            CHECK(ids(c) == ids_t{0, 1, 2, 3, 4});
            CHECK_FALSE(c.sorted());
            CHECK(c.in_id_order());
        }
    }
    SECTION("k >= n keeps all, sorted (as llama.cpp)") {
        auto c = make(l);
        p.top_k = 10;
        run<s::top_k>(c, p);
        CHECK(ids(c) == ids_t{3, 4, 1, 2, 0});
        CHECK(c.sorted());
    }
    SECTION("ties at the cut go to the lower id") {
        auto c = make({2, 7, 7, 7, 1});
        p.top_k = 2;
        run<s::top_k>(c, p);
        CHECK(ids(c) == ids_t{1, 2});
    }
}

TEST_CASE("top_p keeps the smallest best-first prefix reaching the mass", "[sample]") {
    auto p = s::neutral();
    SECTION("0.8: 0.5 + 0.2 + 0.15 = 0.85 is the first cumsum >= 0.8") {
        auto c = make(logits_of(five));
        p.top_p = 0.8f;
        run<s::top_p>(c, p);
        CHECK(ids(c) == ids_t{0, 1, 2});
        CHECK(c.sorted());
        const auto pr = renormalised(c);
        CHECK(pr[0] == Approx(0.5 / 0.85));
        CHECK(pr[1] == Approx(0.2 / 0.85));
        CHECK(pr[2] == Approx(0.15 / 0.85));
    }
    SECTION("order of the input does not matter") {
        auto c = make(logits_of({0.1, 0.5, 0.05, 0.2, 0.15}));
        p.top_p = 0.8f;
        run<s::top_p>(c, p);
        CHECK(ids(c) == ids_t{1, 3, 4});
    }
    SECTION("min_keep holds more than the mass needs") {
        auto c = make(logits_of(five));
        p.top_p = 0.8f;
        p.min_keep = 4;
        run<s::top_p>(c, p);
        CHECK(ids(c) == ids_t{0, 1, 2, 3});
    }
    SECTION("0 keeps only the best; 1 is off") {
        auto c = make(logits_of(five));
        p.top_p = 0.0f;
        run<s::top_p>(c, p);
        CHECK(ids(c) == ids_t{0});
        auto d = make(logits_of(five));
        p.top_p = 1.0f;
        run<s::top_p>(d, p);
        CHECK(d.size() == 5);
        CHECK(d.in_id_order());
    }
}

TEST_CASE("top_p past the first sorted chunk equals a full sort and cumsum", "[sample]") {
    // a flat distribution: the nucleus spans far more than 256 entries
    std::vector<float> l(5000);
    std::uint32_t x = 12345;
    for (auto& v : l) {
        x = x * 1664525u + 1013904223u;
        v = float(x >> 8) / float(1 << 24) * 0.5f;
    }
    auto p = s::neutral();
    p.top_p = 0.7f;
    auto c = make(l);
    run<s::top_p>(c, p);
    // reference: sort everything, float softmax, float cumsum
    auto ref = make(l);
    ref.softmax();
    ref.sort();
    float cum = 0;
    std::size_t keep = ref.size();
    for (std::size_t i = 0; i < ref.size(); ++i) {
        cum += ref[i].p;
        if (cum >= 0.7f) { keep = i + 1; break; }
    }
    ref.truncate(keep);
    CHECK(keep > 2 * s::top_p::first_chunk);
    CHECK(ids(c) == ids(ref));
    SECTION("min_keep past the mass: the prefix grows by doubling") {
        auto q = p;
        q.top_p = 0.3f;
        q.min_keep = 4500;
        auto d = make(l);
        run<s::top_p>(d, q);
        auto r = make(l);
        r.sort();
        r.truncate(4500);
        CHECK(ids(d) == ids(r));
    }
}

TEST_CASE("min_p keeps p >= min_p * p_max", "[sample]") {
    auto p = s::neutral();
    SECTION("0.25: threshold 0.125, unsorted input keeps its order") {
        auto c = make(logits_of({0.1, 0.5, 0.05, 0.2, 0.15}));
        p.min_p = 0.25f;
        run<s::min_p>(c, p);
        CHECK(ids(c) == ids_t{1, 3, 4});
        CHECK_FALSE(c.sorted());
        const auto pr = renormalised(c);
        CHECK(pr[0] == Approx(0.5 / 0.85));
        CHECK(pr[1] == Approx(0.2 / 0.85));
        CHECK(pr[2] == Approx(0.15 / 0.85));
    }
    SECTION("0.35: threshold 0.175") {
        auto c = make(logits_of(five));
        p.min_p = 0.35f;
        run<s::min_p>(c, p);
        CHECK(ids(c) == ids_t{0, 1});
    }
    SECTION("min_keep beyond the passing count: sorted, best min_keep") {
        auto c = make(logits_of({0.1, 0.5, 0.05, 0.2, 0.15}));
        p.min_p = 0.35f;
        p.min_keep = 4;
        run<s::min_p>(c, p);
        CHECK(ids(c) == ids_t{1, 3, 4, 0});
        CHECK(c.sorted());
    }
    SECTION("a sorted input (after top_k) takes the sorted path") {
        auto c = make(logits_of({0.1, 0.5, 0.05, 0.2, 0.15}));
        p.top_k = 5;
        run<s::top_k>(c, p);
        p.min_p = 0.25f;
        run<s::min_p>(c, p);
        CHECK(ids(c) == ids_t{1, 3, 4});
        CHECK(c.sorted());
    }
    SECTION("0 is off") {
        auto c = make(logits_of(five));
        run<s::min_p>(c, p);
        CHECK(c.size() == 5);
    }
}

TEST_CASE("typical_p keeps the tokens whose surprise is nearest the entropy", "[sample]") {
    // H = 1.33307; |-ln p - H| = 0.640, 0.276, 0.564, 0.970, 1.663: order 1, 2, 0, 3, 4
    auto p = s::neutral();
    SECTION("0.5: cumsum 0.2, 0.35, 0.85 > 0.5") {
        auto c = make(logits_of(five));
        p.typical_p = 0.5f;
        run<s::typical_p>(c, p);
        CHECK(ids(c) == ids_t{1, 2, 0});
        CHECK_FALSE(c.sorted());
    }
    SECTION("0.3: cumsum 0.2, 0.35 > 0.3, renormalised 4/7 and 3/7") {
        auto c = make(logits_of(five));
        p.typical_p = 0.3f;
        run<s::typical_p>(c, p);
        CHECK(ids(c) == ids_t{1, 2});
        const auto pr = renormalised(c);
        CHECK(pr[0] == Approx(0.2 / 0.35));
        CHECK(pr[1] == Approx(0.15 / 0.35));
    }
    SECTION("0.1 keeps one; min_keep 3 keeps three") {
        auto c = make(logits_of(five));
        p.typical_p = 0.1f;
        run<s::typical_p>(c, p);
        CHECK(ids(c) == ids_t{1});
        auto d = make(logits_of(five));
        p.min_keep = 3;
        run<s::typical_p>(d, p);
        CHECK(ids(d) == ids_t{1, 2, 0});
    }
    SECTION("1 is off") {
        auto c = make(logits_of(five));
        p.typical_p = 1.0f;
        run<s::typical_p>(c, p);
        CHECK(ids(c) == ids_t{0, 1, 2, 3, 4});
    }
    SECTION("a probability that underflows to 0 does not poison the entropy") {
        auto c = make({0.0f, -1.0f, -200.0f, -0.5f});
        p.typical_p = 0.9f;
        run<s::typical_p>(c, p);
        // p = 0.507, 0.307, 0.186 for ids 0, 3, 1 and 0 for id 2; H = 1.020; scores 0.340,
        // 0.160, 0.660, inf: order 3, 0, 1 (a NaN H would leave the best-first order 0, 3, 1)
        CHECK(ids(c) == ids_t{3, 0, 1});
    }
}

TEST_CASE("temperature divides the logits, <= 0 leaves only the best", "[sample]") {
    auto p = s::neutral();
    SECTION("0.5 and 2") {
        auto c = make({1, 2, 4});
        p.temperature = 0.5f;
        run<s::temperature>(c, p);
        CHECK(logits(c) == std::vector<float>{2, 4, 8});
        auto d = make({1, 2, 4});
        p.temperature = 2.0f;
        run<s::temperature>(d, p);
        CHECK(logits(d) == std::vector<float>{0.5f, 1, 2});
    }
    SECTION("a sorted set stays sorted") {
        auto c = make({1, 2, 4});
        p.top_k = 3;
        run<s::top_k>(c, p);
        p.temperature = 0.7f;
        run<s::temperature>(c, p);
        CHECK(c.sorted());
    }
    SECTION("0 and below: the best (lowest id among ties), all others -inf, size kept") {
        for (float t : {0.0f, -1.0f}) {
            auto c = make({3, 5, 5, 1});
            p.temperature = t;
            run<s::temperature>(c, p);
            const float inf = std::numeric_limits<float>::infinity();
            CHECK(logits(c) == std::vector<float>{-inf, 5, -inf, -inf});
        }
    }
}

TEST_CASE("greedy is argmax with ties to the lowest id", "[sample]") {
    const auto p = s::neutral();
    auto c = make({3, 5, 1, 5, -2});
    run<s::greedy>(c, p);
    CHECK(c.selected_id() == 1);
    // the same after a reordering stage
    auto d = make({3, 5, 1, 5, -2});
    auto q = p;
    q.typical_p = 0.99f;
    run<s::typical_p>(d, q);
    run<s::greedy>(d, p);
    CHECK(d.selected_id() == 1);
}

TEST_CASE("dist: a single candidate has p 1, probabilities are the softmax", "[sample]") {
    auto p = s::neutral();
    p.seed = 7;
    s::dist d;
    d.reset(p);
    auto one = make({-3.0f});
    d.apply(one, p, {});
    CHECK(one.selected_id() == 0);
    CHECK(one[0].p == 1.0f);
    auto c = make(logits_of(five));
    d.apply(c, p, {});
    for (std::size_t i = 0; i < 5; ++i) CHECK(c[i].p == Approx(five[i]).epsilon(1e-6));
    CHECK(c.selected() < 5);
    // masked (-inf) entries are never drawn
    auto p0 = p;
    p0.temperature = 0.0f;
    for (int i = 0; i < 200; ++i) {
        auto m = make({1, 4, 2, 3});
        run<s::temperature>(m, p0);
        d.apply(m, p0, {});
        REQUIRE(m.selected_id() == 1);
    }
}
