// Shared by the sampler tests: build a candidate set, read back what a stage left.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "strata/sample/sample.hpp"

namespace sample_test {

namespace s = strata::sample;

inline s::candidates make(const std::vector<float>& logits) {
    s::candidates c;
    c.assign(logits);
    return c;
}

// Logits whose softmax is exactly the given probabilities (up to float rounding).
inline std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> l;
    for (double p : probs) l.push_back(float(std::log(p)));
    return l;
}

inline std::vector<std::int32_t> ids(const s::candidates& c) {
    std::vector<std::int32_t> v;
    for (const auto& x : c.items()) v.push_back(x.id);
    return v;
}

inline std::vector<float> logits(const s::candidates& c) {
    std::vector<float> v;
    for (const auto& x : c.items()) v.push_back(x.logit);
    return v;
}

inline s::history history_of(const std::vector<std::int32_t>& tokens, std::size_t capacity = 64) {
    s::history h(capacity);
    for (auto t : tokens) h.push(t);
    return h;
}

template <class Stage>
void run(s::candidates& c, const s::params& p, const s::history& h = {}) {
    Stage st;
    st.apply(c, p, h);
}

}  // namespace sample_test
