// strata/backend/cpu/backend.hpp — the CPU backend object: its thread pool and kernel level.
//
// The first argument of every CPU op (`cpu::matmul(be, ...)`). It owns the pool, so two
// backends in one process are independent; the kernel level is fixed at construction (from the
// options, else STRATA_CPU_ISA, else the best the machine runs) so every op of one backend
// computes with the same kernels.
#pragma once

#include <optional>
#include <thread>

#include "strata/backend/cpu/features.hpp"
#include "strata/backend/cpu/thread_pool.hpp"
#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace cpu {

struct backend_options {
    int n_threads = 0;             // 0: one per hardware thread
    std::optional<isa> level;      // unset: STRATA_CPU_ISA, else the best detected
};

class backend {
public:
    explicit backend(backend_options opt = {})
        : level_(choose_isa(opt.level)), pool_(opt.n_threads > 0 ? opt.n_threads : default_threads()) {}

    isa level() const noexcept { return level_; }
    int n_threads() const noexcept { return pool_.size(); }

    // Ops run their parallel loops here; the pool is not const-correct state of the backend
    // (running a job changes nothing a caller can observe), hence mutable.
    thread_pool& pool() const noexcept { return pool_; }

private:
    static int default_threads() noexcept {
        const unsigned n = std::thread::hardware_concurrency();
        return n > 0 ? static_cast<int>(n) : 1;
    }

    isa level_;
    mutable thread_pool pool_;
};

}  // namespace cpu
STRATA_NAMESPACE_END
