// After the first call, sampling allocates nothing: counted with a replaced global operator new
// (this test program only), and seen in the buffers' sizes.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "helpers.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
    ++allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
    ++allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
// every form that plain operator delete may release (Catch2 allocates with nothrow new)
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++allocations;
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    ++allocations;
    return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace sample_test;

TEST_CASE("chain: no allocation per token after the first call", "[sample]") {
    auto p = s::ollama_defaults();
    p.seed = 11;
    p.typical_p = 0.95f;  // the stage with the most scratch
    p.min_p = 0.05f;
    p.frequency_penalty = 0.1f;
    s::default_chain ch(p);
    std::vector<std::vector<float>> logits;
    std::mt19937 rng(4);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    for (int i = 0; i < 8; ++i) {
        logits.emplace_back(32000);
        for (auto& v : logits.back()) v = nd(rng);
    }
    ch.accept(ch.sample(logits[0]));  // the first call sizes the buffers
    const auto bytes = ch.reserved_bytes();
    const auto* data = ch.last_candidates().items().data();
    const long before = allocations.load();
    for (int i = 0; i < 200; ++i) ch.accept(ch.sample(logits[std::size_t(i % 8)]));
    const long after = allocations.load();
    CHECK(after - before == 0);
    CHECK(ch.reserved_bytes() == bytes);
    CHECK(ch.last_candidates().items().data() == data);
    CHECK(ch.last_tokens().size() == 64);
}
