// ggml's CPU matmul, loaded at run time from a llama.cpp build (libggml-base.so +
// libggml-cpu.so), so strata-bench-matmul can print llama.cpp's speed on the same machine
// next to Strata's. Only the few C entry points used are declared here, by their ggml.h /
// ggml-cpu.h signatures; nothing is linked, and without the libraries the comparison is
// simply skipped.
#pragma once

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace ggml_ref {

struct init_params {
    std::size_t mem_size;
    void* mem_buffer;
    bool no_alloc;
};
struct cplan {
    std::size_t work_size;
    std::uint8_t* work_data;
    int n_threads;
    void* threadpool;
    bool (*abort_callback)(void*);
    void* abort_callback_data;
};
struct threadpool_params {
    bool cpumask[512];  // GGML_MAX_N_THREADS
    int n_threads;
    int prio;
    std::uint32_t poll;
    bool strict_cpu;
    bool paused;
};

class library {
public:
    // dir holds libggml-base.so and libggml-cpu.so (and their dependencies).
    explicit library(const std::string& dir) {
        // ggml-cpu runs its threads with OpenMP, whose threads spin-wait between parallel
        // regions by default: with the cores shared with other work, a 2-thread 640 x 2048 Q4_0
        // gemv took 12-24 ms instead of 0.08 ms (2 cores, load average 6). Let them sleep,
        // as Strata's pool does after its spin budget (libgomp reads this when it loads).
        setenv("OMP_WAIT_POLICY", "passive", 0);
        base_ = dlopen((dir + "/libggml-base.so").c_str(), RTLD_NOW | RTLD_GLOBAL);
        cpu_ = base_ ? dlopen((dir + "/libggml-cpu.so").c_str(), RTLD_NOW | RTLD_GLOBAL) : nullptr;
        if (!cpu_) return;
        ok_ = sym(base_, "ggml_init", init) && sym(base_, "ggml_free", free) &&
              sym(base_, "ggml_new_tensor_2d", new_tensor_2d) && sym(base_, "ggml_mul_mat", mul_mat) &&
              sym(base_, "ggml_new_graph", new_graph) && sym(base_, "ggml_build_forward_expand", build_forward_expand) &&
              sym(base_, "ggml_get_data", get_data) && sym(base_, "ggml_threadpool_params_default", threadpool_params_default) &&
              sym(cpu_, "ggml_cpu_init", cpu_init) && sym(cpu_, "ggml_graph_plan", graph_plan) &&
              sym(cpu_, "ggml_graph_compute", graph_compute) && sym(cpu_, "ggml_threadpool_new", threadpool_new) &&
              sym(cpu_, "ggml_threadpool_free", threadpool_free);
        if (ok_) cpu_init();
    }
    bool ok() const noexcept { return ok_; }

    void* (*init)(init_params) = nullptr;
    void (*free)(void*) = nullptr;
    void* (*new_tensor_2d)(void*, int, std::int64_t, std::int64_t) = nullptr;
    void* (*mul_mat)(void*, void*, void*) = nullptr;
    void* (*new_graph)(void*) = nullptr;
    void (*build_forward_expand)(void*, void*) = nullptr;
    void* (*get_data)(const void*) = nullptr;
    threadpool_params (*threadpool_params_default)(int) = nullptr;
    void (*cpu_init)() = nullptr;
    cplan (*graph_plan)(const void*, int, void*) = nullptr;
    int (*graph_compute)(void*, cplan*) = nullptr;
    void* (*threadpool_new)(threadpool_params*) = nullptr;
    void (*threadpool_free)(void*) = nullptr;

private:
    template <class Fn>
    static bool sym(void* lib, const char* name, Fn& fn) {
        fn = reinterpret_cast<Fn>(dlsym(lib, name));
        return fn != nullptr;
    }
    void* base_ = nullptr;
    void* cpu_ = nullptr;
    bool ok_ = false;
};

// One y = W x graph (ggml's mul_mat: W is ne0 = k by ne1 = rows, x is k by n_tokens) with its
// own persistent thread pool, as llama.cpp runs it.
class matmul {
public:
    matmul(const library& lib, int type, std::int64_t rows, std::int64_t k, std::int64_t n_tokens, const void* w,
           std::size_t w_bytes, const float* x, int n_threads)
        : lib_(lib) {
        const std::size_t bytes = w_bytes + std::size_t(k + rows) * std::size_t(n_tokens) * 4 + (std::size_t(16) << 20);
        ctx_ = lib.init({bytes, nullptr, false});
        void* wt = lib.new_tensor_2d(ctx_, type, k, rows);
        void* xt = lib.new_tensor_2d(ctx_, 0 /* f32 */, k, n_tokens);
        std::memcpy(lib.get_data(wt), w, w_bytes);
        std::memcpy(lib.get_data(xt), x, std::size_t(k) * std::size_t(n_tokens) * 4);
        y_ = lib.mul_mat(ctx_, wt, xt);
        graph_ = lib.new_graph(ctx_);
        lib.build_forward_expand(graph_, y_);
        auto params = lib.threadpool_params_default(n_threads);
        pool_ = lib.threadpool_new(&params);
        plan_ = lib.graph_plan(graph_, n_threads, pool_);
        work_.resize(plan_.work_size + 64);
        plan_.work_data = work_.data();
    }
    ~matmul() {
        lib_.threadpool_free(pool_);
        lib_.free(ctx_);
    }
    matmul(const matmul&) = delete;
    matmul& operator=(const matmul&) = delete;

    void run() { lib_.graph_compute(graph_, &plan_); }
    const float* y() const { return static_cast<const float*>(lib_.get_data(y_)); }

private:
    const library& lib_;
    void* ctx_ = nullptr;
    void* y_ = nullptr;
    void* graph_ = nullptr;
    void* pool_ = nullptr;
    cplan plan_{};
    std::vector<std::uint8_t> work_;
};

}  // namespace ggml_ref
