// strata-write-realistic — writes one of the realistic synthetic models (tests/support/
// realistic_models.hpp: real models' shapes and llama.cpp's Q4_K_M type mix, deterministic
// weights) for the benchmarks, e.g. the MoE path beside llama.cpp:
//
//   strata-write-realistic moe /tmp/moe.gguf && bench/compare -m /tmp/moe.gguf
//
// Shapes: llama-1b (llama 3.2 1B), gemma3-270m, moe (a small Mixtral: 8 experts, 2 per token).
#include <cstdio>
#include <exception>
#include <string>

#include "support/realistic_models.hpp"

int main(int argc, char** argv) {
    namespace realistic = strata_test::realistic;
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s llama-1b|gemma3-270m|moe OUT.gguf\n", argv[0]);
        return 2;
    }
    const std::string shape = argv[1];
    realistic::spec s;
    if (shape == "llama-1b") s = realistic::llama_1b_shape();
    else if (shape == "gemma3-270m") s = realistic::gemma3_270m_shape();
    else if (shape == "moe") s = realistic::moe_shape();
    else {
        std::fprintf(stderr, "%s: unknown shape '%s' (llama-1b, gemma3-270m, moe)\n", argv[0], argv[1]);
        return 2;
    }
    try {
        realistic::write(s, argv[2]);
        std::printf("wrote %s (%s, %.1f MiB of weights)\n", argv[2], s.name.c_str(),
                    double(realistic::expected_weight_bytes(s)) / (1024.0 * 1024.0));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
        return 1;
    }
}
