// strata/sample/candidates.hpp — the candidate set the stages transform.
//
// What llama.cpp calls llama_token_data_array: (id, logit, p) per surviving token, plus what is
// known about its order. The stages shrink it, reorder it, change logits, and the last stage
// selects one entry. The buffers are kept between calls: after the first call with a given
// vocabulary size, nothing here allocates (the 262k-entry vocabularies make this matter).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

struct candidate {
    std::int32_t id;  // token id
    float logit;
    float p;  // probability; valid only right after a stage computed it (softmax, dist)
};

// The order every sort uses: higher logit first, equal logits by lower id. llama.cpp sorts by
// logit alone with unstable sorts; the id tie-break makes our results independent of the
// sorting algorithm and is the "ties to the lowest id" rule of greedy.
constexpr bool ranks_before(const candidate& a, const candidate& b) noexcept {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

namespace detail {
// Work space some stages need, kept with the candidates so that it is allocated once.
struct scratch {
    std::vector<candidate> items;       // typical_p: the kept set in its new order
    std::vector<float> scores;          // typical_p: |-log p - entropy| per candidate
    std::vector<std::uint32_t> order;   // typical_p: positions ordered by score
    std::vector<std::int32_t> tokens;   // penalties: the window's tokens, sorted

    // The per-candidate buffers are sized for the whole vocabulary on first use, whatever the
    // set is then: the set a stage sees varies by call, and growing later would allocate.
    void reserve_for_set(std::size_t n_vocab) {
        items.reserve(n_vocab);
        scores.reserve(n_vocab);
        order.reserve(n_vocab);
    }
};
}  // namespace detail

class candidates {
public:
    static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

    // Starts a new call: every token of the vocabulary, in id order, nothing selected.
    void assign(std::span<const float> logits) {
        if (logits.empty()) STRATA_THROW(errc::argument, "sample: empty logits");
        if (logits.size() > std::size_t(std::numeric_limits<std::int32_t>::max()))
            STRATA_THROW(errc::argument, "sample: vocabulary larger than int32 ids");
        items_.resize(logits.size());
        bool nan = false;
        for (std::size_t i = 0; i < logits.size(); ++i) {
            items_[i] = {std::int32_t(i), logits[i], 0.0f};
            nan |= std::isnan(logits[i]);
        }
        if (nan) STRATA_THROW(errc::argument, "sample: a logit is NaN");
        size_ = vocab_ = logits.size();
        sorted_ = 0;
        id_order_ = true;
        selected_ = none;
    }

    std::size_t size() const noexcept { return size_; }
    // The number of logits given to assign(): the vocabulary, before any stage shrank the set.
    std::size_t vocabulary() const noexcept { return vocab_; }
    bool empty() const noexcept { return size_ == 0; }
    candidate& operator[](std::size_t i) noexcept { return items_[i]; }
    const candidate& operator[](std::size_t i) const noexcept { return items_[i]; }
    std::span<candidate> items() noexcept { return {items_.data(), size_}; }
    std::span<const candidate> items() const noexcept { return {items_.data(), size_}; }

    // ---- what is known about the order --------------------------------------------------------
    // sorted(): all of it in ranks_before order (llama.cpp's `sorted` flag).
    bool sorted() const noexcept { return sorted_ == size_; }
    // The first sorted_prefix() entries are the best ones, in order; the rest rank after them.
    std::size_t sorted_prefix() const noexcept { return sorted_; }
    // Entry i is token i (as assign() left it): a token is found by index, not by search.
    bool in_id_order() const noexcept { return id_order_; }

    // Makes the first k entries the k best, in order. Extends an already sorted prefix without
    // touching it, so a stage can sort lazily (top_p grows its prefix only as far as it reads).
    // For a few entries a heap (std::partial_sort) wins: most candidates cost one comparison
    // with the heap's top. Past that, nth_element + sort: O(n + k log k). Measured on 262144
    // normal logits: k = 40 takes 0.45 ms by heap and 3.1 ms by nth_element; they meet near
    // k = 4096.
    static constexpr std::size_t heap_select_max = 2048;
    void sort_prefix(std::size_t k) {
        k = std::min(k, size_);
        if (k <= sorted_) return;
        const auto first = items_.begin() + std::ptrdiff_t(sorted_);
        const auto last = items_.begin() + std::ptrdiff_t(size_);
        const auto mid = items_.begin() + std::ptrdiff_t(k);
        if (k - sorted_ <= heap_select_max && k < size_) {
            std::partial_sort(first, mid, last, ranks_before);
        } else {
            if (k < size_) std::nth_element(first, mid, last, ranks_before);
            std::sort(first, mid, ranks_before);
        }
        sorted_ = k;
        id_order_ = false;
    }
    void sort() { sort_prefix(size_); }

    // Keeps the first n entries (order facts hold for a prefix).
    void truncate(std::size_t n) noexcept {
        if (n >= size_) return;
        size_ = n;
        sorted_ = std::min(sorted_, n);
        if (selected_ != none && selected_ >= n) selected_ = none;
    }

    // Keeps the entries for which keep(c) holds, in their order, in place.
    template <class Keep>
    void keep_if(Keep keep) {
        std::size_t j = 0;
        for (std::size_t i = 0; i < size_; ++i)
            if (keep(items_[i])) items_[j++] = items_[i];
        if (j == size_) return;
        // a stable compaction of a sorted set stays sorted; of a partly sorted one, we don't know
        sorted_ = sorted() ? j : 0;
        size_ = j;
        id_order_ = false;
        selected_ = none;
    }

    // After a stage changed logits in a way that may change their order.
    void logits_changed() noexcept { sorted_ = 0; }
    // After a stage reordered entries itself.
    void reordered() noexcept { sorted_ = 0; id_order_ = false; }

    float max_logit() const noexcept {
        if (sorted_ > 0) return items_[0].logit;
        float m = -std::numeric_limits<float>::infinity();
        for (std::size_t i = 0; i < size_; ++i) m = std::max(m, items_[i].logit);
        return m;
    }

    // p = softmax(logits) over the current set, in float like llama_sampler_softmax_impl.
    void softmax() noexcept {
        if (size_ == 0) return;
        const float max_l = max_logit();
        float sum = 0.0f;
        for (std::size_t i = 0; i < size_; ++i) {
            const float e = std::exp(items_[i].logit - max_l);
            items_[i].p = e;
            sum += e;
        }
        for (std::size_t i = 0; i < size_; ++i) items_[i].p /= sum;
    }

    // ---- the selection (set by the last stage) ------------------------------------------------
    void select(std::size_t i) noexcept { selected_ = i; }
    std::size_t selected() const noexcept { return selected_; }
    bool has_selection() const noexcept { return selected_ != none; }
    std::int32_t selected_id() const {
        if (!has_selection()) STRATA_THROW(errc::internal, "sample: no stage selected a token");
        return items_[selected_].id;
    }

    detail::scratch& scratch() noexcept { return scratch_; }

    // Bytes held by all buffers: constant across calls once the first one has run.
    std::size_t reserved_bytes() const noexcept {
        return items_.capacity() * sizeof(candidate) + scratch_.items.capacity() * sizeof(candidate) +
               scratch_.scores.capacity() * sizeof(float) +
               scratch_.order.capacity() * sizeof(std::uint32_t) +
               scratch_.tokens.capacity() * sizeof(std::int32_t);
    }

private:
    std::vector<candidate> items_;  // (n_vocab) entries; the first size_ are live
    std::size_t size_ = 0;
    std::size_t vocab_ = 0;
    std::size_t sorted_ = 0;        // length of the sorted best-first prefix
    bool id_order_ = false;
    std::size_t selected_ = none;
    detail::scratch scratch_;
};

}  // namespace sample
STRATA_NAMESPACE_END
