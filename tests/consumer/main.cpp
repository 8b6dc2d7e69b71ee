// A user's first program: the same source is built against add_subdirectory, an installed
// package and the copied single header (tests/packaging/consumer.cmake).
#include <strata/strata.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    // Quantize a row to Q8_0 through the run-time dispatch and read it back.
    std::vector<float> x(64);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.1f * float(i));
    std::vector<unsigned char> q(strata::row_bytes(strata::ggml_type::q8_0, x.size()));
    std::vector<float> y(x.size());
    strata::all_formats::dispatch(strata::ggml_type::q8_0, "consumer", [&](auto f) {
        using F = decltype(f);
        strata::quantize_row<F>(x.data(), q.data(), x.size());
        strata::dequantize_row<F>(q.data(), y.data(), x.size());
    });
    float worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::fmax(worst, std::fabs(x[i] - y[i]));
    // An unsupported type must be a strata::error, not a crash.
    bool refused = false;
    try {
        strata::formats<strata::q8_0>::dispatch(strata::ggml_type::q4_k, "blk.0.ffn_up.weight", [](auto) {});
    } catch (const strata::error& e) {
        refused = e.category() == strata::errc::unsupported;
    }
    std::printf("strata %d.%d.%d consumer: q8_0 max error %g, unsupported type refused: %s\n",
                STRATA_VERSION_MAJOR, STRATA_VERSION_MINOR, STRATA_VERSION_PATCH, double(worst),
                refused ? "yes" : "no");
    return worst < 0.01f && refused ? 0 : 1;
}
