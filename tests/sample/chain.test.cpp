// The composed sampler: seeded determinism, the distribution of the draw, a chain against its
// stages run by hand, temperature 0 as greedy, and a 262144-entry vocabulary.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "helpers.hpp"
#include "support/random.hpp"

using namespace sample_test;

namespace {

std::vector<float> random_logits(std::size_t n, std::uint32_t seed, float scale = 4.0f) {
    return strata_test::random_normal(n, seed, scale);
}

s::params busy(std::uint32_t seed) {
    auto p = s::ollama_defaults();
    p.seed = seed;
    p.top_k = 50;
    p.typical_p = 0.97f;
    p.top_p = 0.9f;
    p.min_p = 0.02f;
    p.temperature = 0.7f;
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.3f;
    p.repeat_last_n = 16;
    return p;
}

template <class Chain>
std::vector<std::int32_t> generate(Chain& ch, std::size_t n, std::size_t vocab, std::uint32_t logit_seed) {
    std::vector<std::int32_t> out;
    for (std::size_t i = 0; i < n; ++i) {
        const auto l = random_logits(vocab, logit_seed + std::uint32_t(i));
        const auto t = ch.sample(l);
        ch.accept(t);
        out.push_back(t);
    }
    return out;
}

}  // namespace

static_assert(s::stage<s::top_k> && s::stage<s::dist> && s::stage<s::penalties>);
static_assert(!s::stage<int>);
static_assert(s::selecting_stage<s::dist> && s::selecting_stage<s::greedy>);
static_assert(!s::selecting_stage<s::top_p>);
static_assert(s::default_chain::names ==
              std::array<std::string_view, 7>{"penalties", "top_k", "typical_p", "top_p", "min_p", "temperature", "dist"});

TEST_CASE("chain: the same seed gives the same tokens, another seed others", "[sample]") {
    s::default_chain a(busy(42)), b(busy(42)), c(busy(43));
    const auto ta = generate(a, 200, 1000, 7);
    const auto tb = generate(b, 200, 1000, 7);
    const auto tc = generate(c, 200, 1000, 7);
    CHECK(ta == tb);
    CHECK(ta != tc);
    CHECK(a.seed() == 42u);
    SECTION("reset replays a fixed seed") {
        a.reset();
        CHECK(a.last_tokens().empty());
        CHECK(generate(a, 200, 1000, 7) == ta);
    }
    SECTION("random_seed draws a seed per chain") {
        auto p = busy(s::random_seed);
        p.temperature = 1.5f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = 0.0f;
        p.typical_p = 1.0f;
        s::default_chain r1(p), r2(p);
        CHECK(r1.seed() != r2.seed());  // two draws of 32 bits: equal once in 4e9
        CHECK(generate(r1, 100, 1000, 7) != generate(r2, 100, 1000, 7));
    }
}

TEST_CASE("chain: set_parameters reseeds on a new seed and resizes the window", "[sample]") {
    s::default_chain a(busy(1)), b(busy(2));
    auto p = busy(2);
    a.set_parameters(p);
    CHECK(generate(a, 50, 500, 3) == generate(b, 50, 500, 3));
    p.repeat_last_n = 4;
    a.set_parameters(p);
    CHECK(a.last_tokens().capacity() == 4);
    CHECK(a.last_tokens().size() == 4);
    p.repeat_last_n = -1;
    CHECK_THROWS_AS(a.set_parameters(p), strata::error);
}

TEST_CASE("chain: dist draws match softmax over 100k draws", "[sample]") {
    struct cfg {
        s::params p;
        std::vector<float> logits;
        std::vector<double> expected;
    };
    std::vector<cfg> cases;
    {
        auto p = s::neutral();
        p.seed = 2024;
        const std::vector<float> l = {0.0f, 1.0f, 2.0f, 0.5f, -1.0f};
        std::vector<double> e;
        double z = 0;
        for (float v : l) z += std::exp(double(v));
        for (float v : l) e.push_back(std::exp(double(v)) / z);
        cases.push_back({p, l, e});
    }
    {
        // top_k 3 then temperature 0.5: softmax of the 3 best logits * 2, zero elsewhere
        auto p = s::neutral();
        p.seed = 99;
        p.top_k = 3;
        p.temperature = 0.5f;
        const std::vector<float> l = {0.0f, 1.0f, 2.0f, 0.5f, -1.0f};
        const double z = std::exp(2.0) + std::exp(4.0) + std::exp(1.0);
        cases.push_back({p, l, {0.0, std::exp(2.0) / z, std::exp(4.0) / z, std::exp(1.0) / z, 0.0}});
    }
    for (std::size_t k = 0; k < cases.size(); ++k) {
        const auto& cs = cases[k];
        s::chain<s::top_k, s::temperature, s::dist> ch(cs.p);
        constexpr int n = 100000;
        std::vector<int> counts(cs.logits.size(), 0);
        for (int i = 0; i < n; ++i) ++counts[std::size_t(ch.sample(cs.logits))];
        double chi2 = 0;
        int bins = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
            const double e = n * cs.expected[i];
            if (cs.expected[i] == 0) {
                CHECK(counts[i] == 0);
                continue;
            }
            const double sigma = std::sqrt(e * (1 - cs.expected[i]));
            INFO("case " << k << " token " << i << ": " << counts[i] << " drawn, " << e << " expected");
            CHECK(std::abs(counts[i] - e) < 5 * sigma);
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
            ++bins;
        }
        // chi-square with bins - 1 degrees of freedom (4 or 2): 25 is past the 1e-4 tail of both
        INFO("case " << k << " chi2 " << chi2);
        CHECK(chi2 < 25.0);
    }
}

TEST_CASE("chain: dist is llama.cpp's draw (mt19937, uniform double, first cumsum >= r * sum)", "[sample]") {
    const auto l = random_logits(300, 5, 2.0f);
    auto p = s::neutral();
    p.seed = 1234;
    s::chain<s::dist> ch(p);
    std::mt19937 rng(1234);
    const float max_l = *std::max_element(l.begin(), l.end());
    std::vector<float> e(l.size());
    double sum = 0;
    for (std::size_t i = 0; i < l.size(); ++i) sum += (e[i] = std::exp(l[i] - max_l));
    for (int draw = 0; draw < 1000; ++draw) {
        const double target = sum * std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        double run = 0;
        std::int32_t want = std::int32_t(l.size()) - 1;
        for (std::size_t i = 0; i < l.size(); ++i)
            if ((run += e[i]) >= target) { want = std::int32_t(i); break; }
        REQUIRE(ch.sample(l) == want);
    }
}

TEST_CASE("chain: equals its stages applied in order by hand", "[sample]") {
    const auto p = busy(77);
    s::default_chain ch(p);
    s::candidates c;
    s::history h(std::size_t(p.repeat_last_n));
    s::penalties pen;
    s::top_k tk;
    s::typical_p ty;
    s::top_p tp;
    s::min_p mp;
    s::temperature te;
    s::dist d;
    d.reset(p);
    for (std::uint32_t step = 0; step < 100; ++step) {
        const auto l = random_logits(2000, 100 + step);
        c.assign(l);
        pen.apply(c, p, h);
        tk.apply(c, p, h);
        ty.apply(c, p, h);
        tp.apply(c, p, h);
        mp.apply(c, p, h);
        te.apply(c, p, h);
        d.apply(c, p, h);
        const auto by_hand = c.selected_id();
        const auto t = ch.sample(l);
        REQUIRE(t == by_hand);
        REQUIRE(ids(ch.last_candidates()) == ids(c));
        ch.accept(t);
        h.push(by_hand);
    }
}

TEST_CASE("chain: temperature 0 is greedy over the penalised logits, whatever the seed", "[sample]") {
    auto p = busy(s::random_seed);
    p.temperature = 0.0f;
    s::default_chain ch(p);
    auto q = p;
    q.top_k = 0;
    s::chain<s::penalties, s::greedy> greedy(q);
    for (std::uint32_t step = 0; step < 50; ++step) {
        const auto l = random_logits(3000, 500 + step);
        const auto t = ch.sample(l);
        REQUIRE(t == greedy.sample(l));
        ch.accept(t);
        greedy.accept(t);
    }
    // with no history the pick is the argmax of the logits, ties to the lowest id
    s::chain<s::temperature, s::dist> t0(p);
    CHECK(t0.sample(std::vector<float>{1, 9, 3, 9}) == 1);
    s::chain<s::greedy> g(p);
    CHECK(g.sample(std::vector<float>{1, 9, 3, 9}) == 1);
}

TEST_CASE("chain: an outside history replaces the chain's own", "[sample]") {
    auto p = s::neutral();
    p.repeat_last_n = 8;
    p.repeat_penalty = 100.0f;
    s::chain<s::penalties, s::greedy> ch(p);
    const std::vector<float> l = {1.0f, 3.0f, 2.0f};
    CHECK(ch.sample(l) == 1);
    CHECK(ch.sample(l, history_of({1})) == 2);  // token 1 penalised to 0.03
    ch.accept(1);
    CHECK(ch.sample(l) == 2);
    CHECK(ch.sample(l, s::history(8)) == 1);
}

TEST_CASE("chain: a 262144-entry vocabulary", "[sample]") {
    constexpr std::size_t vocab = 262144;
    const auto p = [] {
        auto q = s::ollama_defaults();
        q.seed = 3;
        return q;
    }();
    s::default_chain ch(p);
    for (std::uint32_t step = 0; step < 20; ++step) {
        const auto l = random_logits(vocab, 900 + step);
        // reference: penalise by hand, the token must be among the 40 best
        auto c = make(l);
        run<s::penalties>(c, p, ch.last_tokens());
        c.sort_prefix(40);
        std::set<std::int32_t> best;
        for (std::size_t i = 0; i < 40; ++i) best.insert(c[i].id);
        const auto t = ch.sample(l);
        REQUIRE(best.count(t) == 1);
        ch.accept(t);
    }
    SECTION("greedy and a full-vocabulary draw") {
        auto l = random_logits(vocab, 1);
        l[123456] = 100.0f;
        s::chain<s::greedy> g(s::neutral());
        CHECK(g.sample(l) == 123456);
        auto q = s::neutral();
        q.seed = 5;
        q.top_p = 0.95f;  // no top_k: the nucleus over the whole vocabulary
        s::chain<s::top_p, s::dist> full(q);
        const auto flat = random_logits(vocab, 2, 0.5f);
        const auto t = full.sample(flat);
        CHECK(t >= 0);
        CHECK(std::size_t(t) < vocab);
        CHECK(full.last_candidates().size() > 200000);
    }
}
