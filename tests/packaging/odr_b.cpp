// The second TU of the ODR check (see odr_a.cpp).
#include "strata/strata.hpp"

#include <vector>

float odr_b_dequantize_first() {
    std::vector<float> y(32);
    strata::q8_0::block b{};
    b.d = strata::to_fp16(0.25f);
    b.qs[0] = 6;
    strata::dequantize_row<strata::q8_0>(&b, y.data(), 32);
    return y[0];
}
