// strata/sample/history.hpp — the last tokens generated, for the repetition penalties.
//
// A fixed-capacity ring buffer: the capacity is the penalty window (params.repeat_last_n), set
// once, so recording a token never allocates. A full buffer drops its oldest token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "strata/core/config.hpp"

STRATA_NAMESPACE_BEGIN
namespace sample {

class history {
public:
    history() = default;
    explicit history(std::size_t capacity) : ring_(capacity) {}

    // Records a token; with capacity 0 (penalties off) it is not kept.
    void push(std::int32_t token) noexcept {
        if (ring_.empty()) return;
        ring_[head_] = token;
        head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
        if (size_ < ring_.size()) ++size_;
    }

    // The i-th most recent token: recent(0) is the newest. Requires i < size().
    std::int32_t recent(std::size_t i) const noexcept {
        const std::size_t cap = ring_.size();
        return ring_[(head_ + cap - 1 - i) % cap];
    }

    // The i-th oldest token: at(0) is the oldest kept. Requires i < size().
    std::int32_t at(std::size_t i) const noexcept { return recent(size_ - 1 - i); }

    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return ring_.size(); }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { size_ = 0; head_ = 0; }

    // A new window (on a parameter change, not per token): keeps the newest tokens that fit.
    void resize(std::size_t capacity) {
        history next(capacity);
        const std::size_t keep = size_ < capacity ? size_ : capacity;
        for (std::size_t i = keep; i-- > 0;) next.push(recent(i));
        *this = std::move(next);
    }

private:
    std::vector<std::int32_t> ring_;  // (capacity) tokens, the newest at head_ - 1
    std::size_t head_ = 0;            // where the next token goes
    std::size_t size_ = 0;            // tokens held, <= capacity
};

}  // namespace sample
STRATA_NAMESPACE_END
