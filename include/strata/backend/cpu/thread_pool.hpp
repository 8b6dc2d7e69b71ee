// strata/backend/cpu/thread_pool.hpp — a persistent pool for the fork-join loops of the CPU ops.
//
// Decode runs a few hundred parallel ops per token, each a few to a few hundred microseconds, so
// what matters is the latency of one run(): no allocation, no lock, no syscall while the
// workers are awake. A run publishes the job, then bumps a "go" counter in each participating
// worker's own cache line; a worker spins on its counter for a short while (about 100 µs,
// longer than the gap between two ops of one token) and only then sleeps on it
// (std::atomic::wait, a futex on Linux). A per-worker sleeping flag lets run() skip the wake-up
// syscall for a worker that is spinning. The caller runs part 0 itself and then spins (then
// sleeps) until the last worker has finished. Workers a run does not use are not touched.
//
// Not re-entrant: one run at a time, and fn must not call run() on the same pool.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

namespace detail {
inline void cpu_relax() noexcept {
#if STRATA_X86_64 && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Spins until pred() or the budget runs out; true when pred() held. The first ~2 µs are pure
// pause loops (the common case: the other side is running on another core); after that each
// round also yields, so that a thread the spinner is waiting for gets the core when there are
// more threads than cores (measured: 4 threads on 2 cores took ~270 µs per run without the
// yield, as the spinners held the cores for their whole time slice).
template <class Pred>
bool spin_until(Pred pred, std::chrono::nanoseconds budget) noexcept {
    const auto start = std::chrono::steady_clock::now();
    for (int round = 0;; ++round) {
        for (int i = 0; i < 32; ++i) {
            if (pred()) return true;
            cpu_relax();
        }
        if (round < 2) continue;
        const auto now = std::chrono::steady_clock::now();
        if (now - start >= budget) return pred();
        if (now - start >= std::chrono::microseconds(2)) std::this_thread::yield();
    }
}
}  // namespace detail

class thread_pool {
public:
    // n_threads in total, the caller included: n_threads - 1 worker threads are started.
    explicit thread_pool(int n_threads) : slots_(static_cast<std::size_t>(n_threads > 1 ? n_threads : 1)) {
        if (n_threads < 1) STRATA_THROW(errc::argument, "thread_pool: n_threads must be at least 1");
        workers_.reserve(slots_.size() - 1);
        try {
            for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { work(i); });
        } catch (...) {
            shut_down();
            throw;
        }
    }

    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    ~thread_pool() { shut_down(); }

    int size() const noexcept { return static_cast<int>(slots_.size()); }

    // Calls fn(i, n) for i in 0..n-1, i == 0 on the calling thread, the others on workers, and
    // returns when all have returned. n is clamped to 1..size(). If any call throws, the first
    // exception (lowest i) is rethrown here after all have finished.
    template <class Fn>
    void run(int n, Fn&& fn) {
        n = n < 1 ? 1 : (n > size() ? size() : n);
        if (n == 1) {
            fn(0, 1);
            return;
        }
        if (busy_.exchange(true, std::memory_order_acquire))
            STRATA_THROW(errc::internal, "thread_pool::run: called again while a run is in progress");
        using F = std::remove_reference_t<Fn>;
        job_.call = [](void* ctx, int i, int count) { (*static_cast<F*>(ctx))(i, count); };
        job_.ctx = const_cast<void*>(static_cast<const void*>(std::addressof(fn)));
        job_.n = n;
        pending_.store(n - 1, std::memory_order_relaxed);
        for (int i = 1; i < n; ++i) start(slots_[static_cast<std::size_t>(i)]);
        invoke(0);
        finish();
        busy_.store(false, std::memory_order_release);
        rethrow_first();
    }

private:
    struct job {
        void (*call)(void*, int, int) = nullptr;
        void* ctx = nullptr;
        int n = 0;
    };
    // What one thread's part touches, on a cache line of its own so that threads never write
    // to a line another one polls.
    struct alignas(64) slot {
        std::atomic<std::uint32_t> go{0};   // bumped by run() for each job this worker takes part in
        std::atomic<bool> sleeping{false};  // the worker is (about to be) blocked in go.wait()
        std::exception_ptr error;           // what its part threw
    };

    // Spin budgets. Decode ops come every few to a few tens of microseconds, so 100 µs keeps
    // workers awake through a token; waking a sleeping worker costs a futex call (~5-10 µs).
    static constexpr std::chrono::microseconds worker_spin{100};
    static constexpr std::chrono::microseconds caller_spin{200};

    static void start(slot& s) noexcept {
        // seq_cst here and in wait_for_job is the Dekker handshake: either we see the sleeping
        // flag and wake the worker, or the worker sees the new go value before it blocks.
        s.go.fetch_add(1, std::memory_order_seq_cst);
        if (s.sleeping.load(std::memory_order_seq_cst)) s.go.notify_one();
    }

    void invoke(int i) noexcept {
        try {
            job_.call(job_.ctx, i, job_.n);
        } catch (...) {
            slots_[static_cast<std::size_t>(i)].error = std::current_exception();
        }
    }

    void finish() noexcept {
        const auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
        if (detail::spin_until(done, caller_spin)) return;
        caller_waiting_.store(true, std::memory_order_seq_cst);
        for (int p = pending_.load(std::memory_order_seq_cst); p != 0; p = pending_.load(std::memory_order_seq_cst))
            pending_.wait(p, std::memory_order_seq_cst);
        caller_waiting_.store(false, std::memory_order_relaxed);
    }

    void rethrow_first() {
        for (auto& s : slots_) {
            if (s.error) {
                std::exception_ptr e = std::move(s.error);
                for (auto& t : slots_) t.error = nullptr;
                std::rethrow_exception(e);
            }
        }
    }

    // The worker's loop: wait for its go counter to move, run its part, report done.
    void work(int i) noexcept {
        slot& s = slots_[static_cast<std::size_t>(i)];
        std::uint32_t seen = 0;
        for (;;) {
            seen = wait_for_job(s, seen);
            if (stop_.load(std::memory_order_acquire)) return;
            invoke(i);
            if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 && caller_waiting_.load(std::memory_order_seq_cst))
                pending_.notify_one();
        }
    }

    static std::uint32_t wait_for_job(slot& s, std::uint32_t seen) noexcept {
        const auto moved = [&] { return s.go.load(std::memory_order_acquire) != seen; };
        if (!detail::spin_until(moved, worker_spin)) {
            s.sleeping.store(true, std::memory_order_seq_cst);
            s.go.wait(seen, std::memory_order_seq_cst);
            s.sleeping.store(false, std::memory_order_relaxed);
        }
        return s.go.load(std::memory_order_acquire);
    }

    void shut_down() noexcept {
        stop_.store(true, std::memory_order_release);
        for (std::size_t i = 1; i < slots_.size() && i <= workers_.size(); ++i) {
            slots_[i].go.fetch_add(1, std::memory_order_seq_cst);
            slots_[i].go.notify_one();
        }
        for (auto& t : workers_) t.join();
        workers_.clear();
    }

    job job_;
    std::vector<slot> slots_;
    std::vector<std::thread> workers_;
    alignas(64) std::atomic<int> pending_{0};
    std::atomic<bool> caller_waiting_{false};
    std::atomic<bool> stop_{false};
    std::atomic<bool> busy_{false};
};

}  // namespace cpu
STRATA_NAMESPACE_END
