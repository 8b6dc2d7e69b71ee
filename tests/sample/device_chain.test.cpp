// The GPU sampler's arithmetic on the CPU: strata/sample/device_chain.hpp (the STRATA_HD pieces
// the kernels run) and the CUDA-free part of backend/cuda/sampler.hpp (paths, window
// compaction, device_supports), composed as the device composes them and compared with
// sample::default_chain token by token, with the same uniform numbers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "helpers.hpp"
#include "strata/backend/cuda/sampler.hpp"
#include "strata/sample/device_chain.hpp"

using namespace sample_test;
namespace dc = strata::sample::device_chain;
namespace cu = strata::cuda;

namespace {

// Logits as a model gives them: normal, or rounded to 0.25 so that many are equal (ties).
std::vector<float> random_logits(std::size_t n, std::mt19937& rng, bool ties) {
    std::normal_distribution<float> nd(0.0f, 3.0f);
    std::vector<float> l(n);
    for (auto& v : l) v = ties ? std::round(nd(rng) * 4.0f) / 4.0f : nd(rng);
    return l;
}

// What the device does, on the host: penalties through the compacted window, then the path's
// CUB step (a stable descending sort, or the arg-max) and the finishing scans, serially.
cu::sample_result device_reference(std::vector<float> keys, const s::params& p, const s::history& h, double u,
                                   bool exact_draws) {
    const auto n = std::int64_t(keys.size());
    if (s::penalties::enabled(p)) {
        std::vector<std::int32_t> scratch, ids(keys.size()), counts(keys.size());
        const std::size_t k = cu::compact_window(h, p.repeat_last_n, n, scratch, ids.data(), counts.data());
        for (std::size_t i = 0; i < k; ++i)
            keys[std::size_t(ids[i])] =
                dc::penalised(keys[std::size_t(ids[i])], counts[i], p.repeat_penalty, p.frequency_penalty,
                              p.presence_penalty);
    }
    const auto best = std::size_t(std::max_element(keys.begin(), keys.end()) - keys.begin());  // first max
    const dc::finish_args f = cu::finish_args_of(p, u);
    std::vector<float> e(keys.size());
    switch (cu::path_of(p, exact_draws)) {
        case cu::sample_path::greedy: return {std::int32_t(best), n > 1 && p.top_k != 1};
        case cu::sample_path::id_order: {
            const dc::pick r = dc::finish_id_order(keys.data(), keys.size(), keys[best], best, f, e.data());
            return {std::int32_t(r.index), r.drew};
        }
        case cu::sample_path::sorted: break;
    }
    std::vector<std::int32_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
        return keys[std::size_t(a)] > keys[std::size_t(b)];
    });
    const auto m = std::size_t(cu::sorted_prefix(p, n));
    std::vector<float> l(m);
    for (std::size_t i = 0; i < m; ++i) l[i] = keys[std::size_t(order[i])];
    const dc::pick r = dc::finish_sorted(l.data(), m, f, e.data());
    return {order[r.index], r.drew};
}

struct agreement {
    int tokens = 0, same = 0, same_draw = 0;
};

// `steps` tokens from the CPU chain, each checked against the reference with the uniform number
// the chain's dist is about to use; the chain's tokens go into its history (the penalties').
agreement compare(const s::params& p, std::size_t n_vocab, int steps, std::uint32_t seed, bool ties,
                  const std::vector<std::int32_t>& prompt, bool exact_draws) {
    s::default_chain chain(p);
    for (auto t : prompt) chain.accept(t);
    std::mt19937 rng(seed);
    agreement a;
    for (int step = 0; step < steps; ++step) {
        const auto logits = random_logits(n_vocab, rng, ties);
        const double u = chain.get<s::dist>().peek_uniform();
        const cu::sample_result want = device_reference(logits, p, chain.last_tokens(), u, exact_draws);
        const std::int32_t got = chain.sample(logits);
        const bool drew = chain.get<s::dist>().peek_uniform() != u;
        ++a.tokens;
        a.same += got == want.id;
        a.same_draw += drew == want.drew;
        chain.accept(got);
    }
    return a;
}

s::params seeded(s::params p, std::uint32_t seed) {
    p.seed = seed;
    return p;
}

}  // namespace

TEST_CASE("device_chain: exp_rounded is the CPU's std::exp(float) to one ulp", "[sample][device]") {
    // glibc's expf is not correctly rounded everywhere (its polynomial errs by up to ~0.502
    // ulp), the rounded exp of the double nearly is: about 6 in 10000 results are one ulp apart,
    // which moves a cumulative boundary of the draw by ~1e-7 of the mass, no more.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> ud(-40.0f, 0.0f);
    int differ = 0, far = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        const float x = ud(rng), a = dc::exp_rounded(x), b = std::exp(x);
        differ += a != b;
        far += a != b && std::nextafter(a, b) != b;
    }
    INFO(differ << " of " << n << " differ");
    CHECK(differ <= n / 1000);
    CHECK(far == 0);
    CHECK(dc::exp_rounded(0.0f) == 1.0f);
    CHECK(dc::exp_rounded(-INFINITY) == 0.0f);
}

TEST_CASE("device_chain: penalised is the penalties stage", "[sample][device]") {
    s::params p = s::ollama_defaults();
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.37f;
    p.presence_penalty = 0.51f;
    std::mt19937 rng(3);
    const auto logits = random_logits(500, rng, false);
    std::vector<std::int32_t> tokens;
    for (int i = 0; i < 64; ++i) tokens.push_back(std::int32_t(rng() % 40));  // repeats
    const auto h = history_of(tokens, 64);
    auto c = make(logits);
    run<s::penalties>(c, p, h);
    std::vector<std::int32_t> scratch, ids(64), counts(64);
    const std::size_t k = cu::compact_window(h, p.repeat_last_n, 500, scratch, ids.data(), counts.data());
    REQUIRE(k > 0);
    std::vector<float> want = logits;
    for (std::size_t i = 0; i < k; ++i)
        want[std::size_t(ids[i])] = dc::penalised(want[std::size_t(ids[i])], counts[i], p.repeat_penalty,
                                                  p.frequency_penalty, p.presence_penalty);
    for (std::size_t i = 0; i < 500; ++i) CHECK(c[i].logit == want[i]);
}

TEST_CASE("device_chain: min_p_keep and top_p_keep are the stages' loops", "[sample][device]") {
    std::mt19937 rng(11);
    for (int trial = 0; trial < 200; ++trial) {
        auto l = random_logits(300, rng, trial % 2 == 1);
        std::sort(l.begin(), l.end(), std::greater<>());
        const std::size_t min_keep = rng() % 5;
        const float log_min_p = std::log(0.01f + float(rng() % 100) / 200.0f);
        const float min_logit = l[0] + log_min_p;
        std::size_t i = 1;
        for (; i < l.size(); ++i)
            if (l[i] < min_logit && i >= min_keep) break;
        CHECK(dc::min_p_keep(l.data(), l.size(), log_min_p, min_keep) == i);
    }
    CHECK(dc::min_p_keep(std::vector<float>{1.0f}.data(), 1, -1.0f, 0) == 1);
    const std::vector<float> e = {4.0f, 3.0f, 2.0f, 1.0f};  // p = .4 .3 .2 .1
    CHECK(dc::top_p_keep(e.data(), 4, 10.0f, 0.5f, 0) == 2);
    CHECK(dc::top_p_keep(e.data(), 4, 10.0f, 0.5f, 3) == 3);
    CHECK(dc::top_p_keep(e.data(), 4, 10.0f, 0.4f, 0) == 1);
    CHECK(dc::top_p_keep(e.data(), 4, 10.0f, 1.5f, 0) == 4);
}

TEST_CASE("device_chain: compact_window counts the window's distinct in-vocabulary tokens", "[sample][device]") {
    // oldest first: 9 is outside the last 6; -1 and 50 are not ids of a 50-token vocabulary
    const auto h = history_of({9, 3, 7, 3, -1, 50, 3}, 16);
    std::vector<std::int32_t> scratch, ids(8, -7), counts(8, -7);
    const std::size_t k = cu::compact_window(h, 6, 50, scratch, ids.data(), counts.data());
    REQUIRE(k == 2);
    CHECK(ids[0] == 3);
    CHECK(counts[0] == 3);
    CHECK(ids[1] == 7);
    CHECK(counts[1] == 1);
    CHECK(ids[2] == -7);
    CHECK(cu::compact_window(h, 0, 50, scratch, ids.data(), counts.data()) == 0);
    CHECK(cu::compact_window(s::history(4), 64, 50, scratch, ids.data(), counts.data()) == 0);
    CHECK(cu::compact_window(h, 100, 50, scratch, ids.data(), counts.data()) == 3);  // 9 now counts
}

TEST_CASE("device_chain: device_supports and the paths", "[sample][device]") {
    s::params p = s::ollama_defaults();
    CHECK(cu::device_supports(p));
    CHECK(cu::path_of(p) == cu::sample_path::sorted);
    CHECK(cu::sorted_prefix(p, 32000) == 40);
    CHECK(cu::sorted_prefix(p, 10) == 10);
    p.typical_p = 0.9f;
    CHECK_FALSE(cu::device_supports(p));
    p = s::ollama_defaults();
    p.top_k = 0;
    CHECK_FALSE(cu::device_supports(p));  // top_p's sum over the whole vocabulary
    p.top_k = int(dc::serial_max) + 1;
    CHECK_FALSE(cu::device_supports(p));
    p.top_k = int(dc::serial_max);
    CHECK(cu::device_supports(p));
    p.top_p = 1.0f;
    p.top_k = 0;
    CHECK(cu::device_supports(p));
    p = s::ollama_defaults();
    p.temperature = 0.0f;
    CHECK(cu::device_supports(p));
    CHECK(cu::path_of(p) == cu::sample_path::greedy);
    CHECK(cu::path_of(p, true) == cu::sample_path::sorted);
    p.top_k = 0;
    CHECK(cu::device_supports(p));  // the arg-max needs no sum
    CHECK_FALSE(cu::device_supports(p, true));
    p = s::neutral();
    CHECK(cu::device_supports(p));
    CHECK(cu::path_of(p) == cu::sample_path::id_order);
    CHECK(cu::sorted_prefix(p, 32000) == 32000);
    p.min_p = 0.05f;
    CHECK(cu::device_supports(p));
    p.min_keep = 2;
    CHECK_FALSE(cu::device_supports(p));  // the CPU's min_p may fall back to its sorted form
    p.min_keep = 1;
    p.min_p = 1.5f;
    CHECK_FALSE(cu::device_supports(p));
    p.top_k = 40;  // sorted: min_p > 1 keeps the best, as on the CPU
    CHECK(cu::device_supports(p));
    const auto f = cu::finish_args_of(s::ollama_defaults(), 0.25);
    CHECK(f.use_top_p);
    CHECK_FALSE(f.use_min_p);
    CHECK(f.u == 0.25);
    p.min_p = 0.05f;
    CHECK(cu::finish_args_of(p, 0.0).log_min_p == std::log(0.05f));
    CHECK(cu::sampler_buffer_bytes(1000) >= 7 * 4000);
}

TEST_CASE("device_chain: the device's composition draws the CPU chain's tokens", "[sample][device]") {
    const std::size_t n_vocab = GENERATE(std::size_t(1000), std::size_t(32000));
    const bool ties = GENERATE(false, true);
    const int steps = n_vocab == 1000 ? 150 : 20;
    std::vector<std::int32_t> prompt;
    for (int i = 0; i < 80; ++i) prompt.push_back(std::int32_t((i * 37) % 200));
    struct named {
        const char* name;
        s::params p;
    };
    s::params t0 = s::ollama_defaults(), no_k = s::ollama_defaults(), no_p = s::ollama_defaults(),
              min_p = s::ollama_defaults(), pen = s::ollama_defaults(), min_p_only = s::neutral(),
              hot = s::ollama_defaults();
    t0.temperature = 0.0f;
    no_k.top_k = 1000;  // top_k off with top_p on is the CPU's (device_supports)
    no_p.top_p = 1.0f;
    min_p.min_p = 0.05f;
    pen.repeat_penalty = 1.5f;
    pen.frequency_penalty = 0.3f;
    pen.presence_penalty = 0.6f;
    pen.repeat_last_n = 64;
    min_p_only.min_p = 0.05f;
    min_p_only.temperature = 0.7f;
    min_p_only.min_keep = 1;
    hot.temperature = 1.5f;
    hot.top_k = 200;
    hot.top_p = 0.97f;
    hot.min_keep = 3;
    s::params t0_cut = t0, t0_id = s::neutral();  // top_p leaves one token often; id order
    t0_cut.top_p = 0.3f;
    t0_cut.min_p = 0.2f;
    t0_id.temperature = 0.0f;
    t0_id.min_p = 0.5f;
    const named sets[] = {{"ollama defaults", s::ollama_defaults()},
                          {"temperature 0", t0},
                          {"top_k 1000", no_k},
                          {"top_p 1", no_p},
                          {"min_p 0.05", min_p},
                          {"penalties", pen},
                          {"neutral", s::neutral()},
                          {"min_p only", min_p_only},
                          {"hot, top_k 200, min_keep 3", hot},
                          {"temperature 0, top_p 0.3, min_p 0.2", t0_cut},
                          {"temperature 0, id order, min_p 0.5", t0_id}};
    std::uint32_t seed = 1000;
    for (const named& set : sets) {
        for (const bool exact_draws : {false, true}) {
            INFO(set.name << ", n_vocab " << n_vocab << ", ties " << ties << ", exact_draws " << exact_draws);
            REQUIRE(cu::device_supports(set.p, exact_draws));
            const agreement a = compare(seeded(set.p, seed), n_vocab, steps, seed + 1, ties, prompt, exact_draws);
            seed += 2;
            INFO(a.same << " of " << a.tokens << " tokens agree, " << a.same_draw << " draws");
            CHECK(a.same == a.tokens);
            // the arg-max path guesses whether dist drew (see sampler.hpp); elsewhere it knows
            if (cu::path_of(set.p, exact_draws) != cu::sample_path::greedy) CHECK(a.same_draw == a.tokens);
        }
    }
}
