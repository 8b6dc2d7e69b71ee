// tests/quant/golden.hpp — reads the golden files tools/reference/quant_goldens.py writes
// (the layout is documented at the top of that script).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef STRATA_TEST_DATA_DIR
#error "STRATA_TEST_DATA_DIR must name tests/data"
#endif

namespace strata_test {

struct quant_golden {
    std::uint32_t type = 0, n_rows = 0, n_per_row = 0, n_rand_blocks = 0, references = 0;
    std::vector<float> input;              // n_rows * n_per_row
    std::vector<std::uint8_t> quantized;   // reference quantizer output for input
    std::vector<float> dequantized;        // reference dequantization of quantized
    std::vector<double> sq_error;          // per row: sum (dequantized - input)^2
    std::vector<std::uint8_t> rand_blocks; // random bytes, float fields finite
    std::vector<float> rand_dequantized;   // reference dequantization of rand_blocks

    std::size_t n() const { return std::size_t(n_rows) * n_per_row; }
};

inline quant_golden load_quant_golden(const std::string& name, std::uint32_t block_elems,
                                      std::uint32_t block_bytes) {
    const std::string path = std::string(STRATA_TEST_DATA_DIR) + "/quant/" + name + ".golden";
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    char magic[4];
    f.read(magic, 4);
    if (std::memcmp(magic, "STQG", 4) != 0) throw std::runtime_error(path + ": bad magic");
    std::uint32_t h[6];
    f.read(reinterpret_cast<char*>(h), sizeof h);
    if (h[0] != 1) throw std::runtime_error(path + ": unknown version");
    quant_golden g;
    g.type = h[1]; g.n_rows = h[2]; g.n_per_row = h[3]; g.n_rand_blocks = h[4]; g.references = h[5];
    auto rd = [&](auto& v, std::size_t count) {
        v.resize(count);
        f.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(v[0])));
    };
    rd(g.input, g.n());
    rd(g.quantized, g.n() / block_elems * block_bytes);
    rd(g.dequantized, g.n());
    rd(g.sq_error, g.n_rows);
    rd(g.rand_blocks, std::size_t(g.n_rand_blocks) * block_bytes);
    rd(g.rand_dequantized, std::size_t(g.n_rand_blocks) * block_elems);
    if (!f || f.peek() != EOF) throw std::runtime_error(path + ": truncated or too long");
    return g;
}

}  // namespace strata_test
