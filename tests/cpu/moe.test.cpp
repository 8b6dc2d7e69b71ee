// The routing of an MoE FFN (backend/cpu/moe.hpp), which the CPU stage runs and a GPU stage
// runs on the host around its kernels (kernels/moe.cuh): top-k by softmax probability with
// renormalised weights, the slots grouped by expert in the order the CPU gathers them, and the
// scatter and rank-order sum back.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "strata/backend/cpu/moe.hpp"
#include "support/random.hpp"

namespace cpu = strata::cpu;

TEST_CASE("moe routing: the most probable experts, best first, weights renormalised", "[cpu][moe]") {
    // two tokens over 4 experts
    const std::vector<float> logits = {0.0f, 2.0f, 1.0f, -1.0f,   // token 0: experts 1, 2
                                       3.0f, 3.0f, -5.0f, 0.5f};  // token 1: a tie, the lower id first
    std::vector<std::int32_t> ids(4), order(4);
    std::vector<float> w(4), probs(4);
    cpu::route_top_k(logits.data(), 2, 4, 2, ids.data(), w.data(), probs.data(), order.data());
    CHECK(ids == std::vector<std::int32_t>{1, 2, 0, 1});
    // renormalised over the chosen two: softmax of (2, 1), of (3, 3)
    CHECK(w[0] == Approx(1.0 / (1.0 + std::exp(-1.0))).epsilon(1e-6));
    CHECK(w[1] == Approx(1.0 / (1.0 + std::exp(1.0))).epsilon(1e-6));
    CHECK(w[0] + w[1] == Approx(1.0f).epsilon(1e-6));
    CHECK(w[2] == 0.5f);
    CHECK(w[3] == 0.5f);
}

TEST_CASE("moe routing: the slots grouped by expert are the CPU's gather order, and scatter and sum invert it", "[cpu][moe]") {
    const int n_expert = 8, n_used = 3;
    const std::int64_t n = 13, len = 5;
    const auto logits = strata_test::random_normal(std::size_t(n * n_expert), 7);
    std::vector<std::int32_t> ids(std::size_t(n * n_used)), order(n_expert), offsets(n_expert + 1), grouped(ids.size());
    std::vector<float> w(ids.size()), probs(n_expert);
    cpu::route_top_k(logits.data(), n, n_expert, n_used, ids.data(), w.data(), probs.data(), order.data());
    for (std::int64_t t = 0; t < n; ++t)  // three different experts per token
        CHECK((ids[t * 3] != ids[t * 3 + 1] && ids[t * 3] != ids[t * 3 + 2] && ids[t * 3 + 1] != ids[t * 3 + 2]));
    cpu::group_slots_by_expert(ids.data(), n, n_used, n_expert, offsets.data(), grouped.data());
    CHECK(offsets.front() == 0);
    CHECK(offsets.back() == n * n_used);

    const auto x = strata_test::random_normal(std::size_t(n * len), 8);
    std::vector<float> xe(std::size_t(n * len)), ye(std::size_t(n * n_used * len), -1.0f);
    std::vector<std::int32_t> slots(static_cast<std::size_t>(n));
    for (int e = 0; e < n_expert; ++e) {
        const std::int64_t m = cpu::gather_expert_rows(e, ids.data(), n, n_used, x.data(), len, slots.data(), xe.data());
        INFO("expert " << e);
        REQUIRE(m == offsets[std::size_t(e) + 1] - offsets[std::size_t(e)]);
        for (std::int64_t j = 0; j < m; ++j) {
            CHECK(slots[std::size_t(j)] == grouped[std::size_t(offsets[std::size_t(e)] + j)]);
            CHECK(ids[std::size_t(slots[std::size_t(j)])] == e);
            for (std::int64_t i = 0; i < len; ++i) CHECK(xe[std::size_t(j * len + i)] == x[std::size_t(slots[std::size_t(j)] / n_used * len + i)]);
        }
        // an "expert" that doubles its rows
        for (std::int64_t j = 0; j < m * len; ++j) xe[std::size_t(j)] *= 2.0f;
        cpu::scatter_expert_rows(xe.data(), m, slots.data(), w.data(), len, ye.data());
    }
    std::vector<float> out(std::size_t(n * len));
    cpu::sum_slots(ye.data(), n, n_used, len, out.data());
    for (std::int64_t t = 0; t < n; ++t)
        for (std::int64_t i = 0; i < len; ++i) {
            // every slot written once, weighted; the weights sum to 1, so out = 2 x
            const float xi = x[std::size_t(t * len + i)];
            const float want = ((2.0f * xi) * w[std::size_t(t * 3)] + (2.0f * xi) * w[std::size_t(t * 3 + 1)]) + (2.0f * xi) * w[std::size_t(t * 3 + 2)];
            CHECK(out[std::size_t(t * len + i)] == want);
            CHECK(out[std::size_t(t * len + i)] == Approx(2.0f * xi).epsilon(1e-5));
        }
}
