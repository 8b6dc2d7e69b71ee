// The CPU backend's thread pool: every part runs exactly once per run, runs are cheap enough
// to issue by the hundred thousand, exceptions reach the caller, idle pools shut down cleanly,
// and two pools do not interfere.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "strata/backend/cpu/thread_pool.hpp"

using strata::cpu::thread_pool;

TEST_CASE("every part of a run is called once, with its index and the count", "[cpu][pool]") {
    const int size = GENERATE(1, 2, 3, 4, 7);
    thread_pool pool(size);
    REQUIRE(pool.size() == size);
    for (int n = 0; n <= size + 2; ++n) {
        std::vector<std::atomic<int>> calls(static_cast<std::size_t>(size));
        std::atomic<int> bad_count{0};
        const int expect = n < 1 ? 1 : (n > size ? size : n);
        pool.run(n, [&](int i, int count) {
            calls[static_cast<std::size_t>(i)].fetch_add(1);
            if (count != expect) bad_count.fetch_add(1);
        });
        INFO("pool of " << size << ", run(" << n << ")");
        CHECK(bad_count.load() == 0);
        for (int i = 0; i < size; ++i) CHECK(calls[static_cast<std::size_t>(i)].load() == (i < expect ? 1 : 0));
    }
}

TEST_CASE("part 0 runs on the calling thread", "[cpu][pool]") {
    thread_pool pool(3);
    std::thread::id part0;
    pool.run(3, [&](int i, int) {
        if (i == 0) part0 = std::this_thread::get_id();
    });
    CHECK(part0 == std::this_thread::get_id());
}

TEST_CASE("many tiny runs: no part lost, and the per-run cost is small", "[cpu][pool]") {
    thread_pool pool(4);
    std::atomic<long> sum{0};
    const int runs = 100000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < runs; ++r) pool.run(1 + r % 4, [&](int i, int) { sum.fetch_add(i + 1, std::memory_order_relaxed); });
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / runs;
    long expect = 0;
    for (int r = 0; r < runs; ++r) {
        const int n = 1 + r % 4;
        expect += n * (n + 1) / 2;
    }
    CHECK(sum.load() == expect);
    // 4 threads may oversubscribe a small machine, so only a loose bound: a lost wake-up or a
    // syscall per run would show up as tens of microseconds and more.
    INFO("mean " << us << " us per run");
    CHECK(us < 200.0);
}

TEST_CASE("runs with a mix of thread counts reuse workers that skipped runs", "[cpu][pool]") {
    thread_pool pool(4);
    for (int r = 0; r < 2000; ++r) {
        const int n = (r * 7) % 5;  // 0..4, clamped to 1..4
        std::atomic<int> parts{0};
        pool.run(n, [&](int, int) { parts.fetch_add(1); });
        REQUIRE(parts.load() == (n < 1 ? 1 : n));
        if (r % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let workers fall asleep
    }
}

TEST_CASE("an exception from any part reaches the caller, after all parts finish", "[cpu][pool]") {
    thread_pool pool(4);
    const int thrower = GENERATE(0, 1, 3);
    std::atomic<int> finished{0};
    auto job = [&](int i, int) {
        if (i == thrower) throw std::runtime_error("part " + std::to_string(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        finished.fetch_add(1);
    };
    CHECK_THROWS_WITH(pool.run(4, job), "part " + std::to_string(thrower));
    CHECK(finished.load() == 3);
    // the pool is usable afterwards, and the exception is not reported twice
    std::atomic<int> parts{0};
    pool.run(4, [&](int, int) { parts.fetch_add(1); });
    CHECK(parts.load() == 4);
}

TEST_CASE("several parts throwing: the lowest index wins", "[cpu][pool]") {
    thread_pool pool(3);
    CHECK_THROWS_WITH(pool.run(3, [](int i, int) { if (i > 0) throw std::runtime_error(std::to_string(i)); }), "1");
}

TEST_CASE("destruction with idle and with sleeping workers", "[cpu][pool]") {
    for (int k = 0; k < 20; ++k) {
        thread_pool pool(4);  // never used: workers go from spinning to sleeping
        if (k % 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    thread_pool pool(3);
    pool.run(3, [](int, int) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin budget: asleep
    std::atomic<int> parts{0};
    pool.run(3, [&](int, int) { parts.fetch_add(1); });  // woken from sleep
    CHECK(parts.load() == 3);
}

TEST_CASE("two pools used from two threads at once do not interfere", "[cpu][pool]") {
    thread_pool a(2), b(3);
    std::atomic<long> sa{0}, sb{0};
    std::thread ta([&] { for (int r = 0; r < 20000; ++r) a.run(2, [&](int i, int) { sa.fetch_add(i + 1); }); });
    std::thread tb([&] { for (int r = 0; r < 20000; ++r) b.run(3, [&](int i, int) { sb.fetch_add(i + 1); }); });
    ta.join();
    tb.join();
    CHECK(sa.load() == 20000L * 3);
    CHECK(sb.load() == 20000L * 6);
}

TEST_CASE("a pool rejects a size below one", "[cpu][pool]") {
    CHECK_THROWS_AS(thread_pool(0), strata::error);
}
