// One of two TUs that include the whole umbrella: inline/template definitions must not clash.
#include "strata/strata.hpp"

float odr_b_dequantize_first();

float odr_a_dequantize_first() {
    strata::q8_0::block b{};
    b.d = strata::to_fp16(0.5f);
    b.qs[0] = 3;
    float y[32];
    strata::q8_0::dequantize(b, y);
    return y[0];
}

int main() { return odr_a_dequantize_first() == 1.5f && odr_b_dequantize_first() == 1.5f ? 0 : 1; }
