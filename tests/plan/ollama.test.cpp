// The Ollama 0.11.3 estimator against the figures Ollama's formulas give for the seed models.
//
// Every file is a sparse, shape-exact GGUF from tests/support/seed_models.hpp (tensor types and
// their sources are stated there). "A 16 GiB card" is one CUDA GPU with 16 GiB free. Unless a
// test says otherwise: num_ctx 4096 (Ollama 0.11.3's default, OLLAMA_CONTEXT_LENGTH), num_batch
// 512, num_parallel 1, f16 cache, flash attention off, no GPU overhead. The expected values were
// derived by hand from the 0.11.3 formulas (and checked with an independent script); the
// comments give the derivation, the assertions the bytes.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "strata/plan/ollama.hpp"
#include "support/seed_models.hpp"

using namespace strata;
namespace ol = strata::plan::ollama;
namespace seed = strata_test::seed;

namespace {

constexpr std::uint64_t cuda_minimum = 457 * mib;

ol::gpu_info card(std::uint64_t free, std::string id = "GPU-0", std::string library = "cuda") {
    return {std::move(id), free, free, std::move(library), {}};
}

ol::options on_16gib(std::int64_t num_ctx = 4096) {
    ol::options o;
    o.num_ctx = num_ctx;
    o.gpus = {card(16 * gib)};
    return o;
}

// GiB with two decimals, the precision the issue quotes ("11.75 GiB").
std::string gib2(std::uint64_t b) {
    char s[32];
    std::snprintf(s, sizeof s, "%.2f GiB", static_cast<double>(b) / static_cast<double>(gib));
    return s;
}

seed::files& seed_files() { return seed::shared_files(); }

ol::estimate estimate_for(const std::string& path, const ol::options& o) { return ol::estimate_gpu_layers(gguf::file::open(path), o); }

// gpt-oss:20b facts (seed_models.hpp): one block's tensors, the output layer, the KV per layer.
constexpr std::uint64_t oss_experts = 3 * (2880ull * 2880 * 32 / 32 * 17);          // MXFP4 gate, up, down
constexpr std::uint64_t oss_block = oss_experts + 3 * 2880 * 32 * 4                 // expert biases, f32
                                    + 2 * (2880ull * 4096 * 2) + 2 * (2880ull * 512 * 2)  // q, out, k, v: bf16
                                    + (4096 + 512 + 512 + 2880) * 4                 // their biases
                                    + 64 * 4 + 2 * 2880 * 4                         // sinks, two norms
                                    + 2880 * 32 * 2 + 32 * 4;                       // router, bf16 + bias
constexpr std::uint64_t oss_output = 2880ull * 201088 * 2 + 2880 * 4;              // output bf16 + output_norm
constexpr std::uint64_t oss_kv_token = (64 + 64) * 8 * 2;                           // K+V, 8 heads, f16
constexpr std::uint64_t oss_kv_even = oss_kv_token * (4096 + 128);                  // sliding layers at batch 128
constexpr std::uint64_t oss_kv_odd = oss_kv_token * 8192;                           // full-context layers

// llama3.1:8b blk.0: norms, q/k/o/gate/up Q4_K, v and down Q6_K (use_more_bits(0, 32)), plus its KV
constexpr std::uint64_t q4k(std::uint64_t n) { return n / 256 * 144; }
constexpr std::uint64_t q6k(std::uint64_t n) { return n / 256 * 210; }
constexpr std::uint64_t llama31_layer0 = 2 * 4096 * 4 + 2 * q4k(4096ull * 4096) + q4k(4096ull * 1024) + q6k(4096ull * 1024) +
                                         2 * q4k(4096ull * 14336) + q6k(14336ull * 4096) + 4096ull * 256 * 8 * 2;

ol::options gpt_oss_options() {
    ol::options o;
    o.num_ctx = 8192;
    o.num_batch = 128;
    o.gpus = {card(16 * gib)};
    return o;
}

}  // namespace

// ---- formatting and grouping --------------------------------------------------------------

TEST_CASE("human_bytes2 prints as Ollama's format.HumanBytes2 does", "[plan][ollama]") {
    CHECK(ol::human_bytes2(0) == "0 B");
    CHECK(ol::human_bytes2(1023) == "1023 B");
    CHECK(ol::human_bytes2(1024) == "1.0 KiB");
    CHECK(ol::human_bytes2(1536) == "1.5 KiB");
    CHECK(ol::human_bytes2(457 * mib) == "457.0 MiB");
    CHECK(ol::human_bytes2(305135616) == "291.0 MiB");
    CHECK(ol::human_bytes2(2 * gib) == "2.0 GiB");
    CHECK(ol::human_bytes2(gib - 1) == "1024.0 MiB");  // rounds, never switches unit
    CHECK(ol::human_bytes2(12616939776) == "11.8 GiB");
    CHECK(ol::human_bytes2(16034853248) == "14.9 GiB");
}

TEST_CASE("tensors are grouped into layers as Ollama groups them", "[plan][ollama]") {
    CHECK(ol::layer_of("blk.12.attn_q.weight") == "blk.12");
    CHECK(ol::layer_of("blk.0.attn_sinks") == "blk.0");
    CHECK(ol::layer_of("output.weight") == "output");
    CHECK(ol::layer_of("output_norm.weight") == "output_norm");
    CHECK(ol::layer_of("token_embd_norm.bias") == "token_embd_norm");
    CHECK(ol::layer_of("v.blk.3.ffn_up.weight") == "v.blk.3");
    CHECK(ol::layer_of("mm.0.weight") == "mm.0");
    CHECK(ol::layer_of("blk.7") == "blk");  // nothing after the number: not joined
    CHECK(ol::layer_of("rope_freqs.weight") == "rope_freqs");
}

// ---- gpt-oss:20b, the user's case -----------------------------------------------------------

TEST_CASE("gpt-oss:20b at num_ctx 8192 / num_batch 128 fits a 16 GiB card whole", "[plan][ollama]") {
    const auto f = gguf::file::open(seed_files().gpt_oss());
    CHECK(f.total_tensor_bytes() == 13775206656);  // the 13.8 GB blob, less its metadata
    const ol::estimate e = ol::estimate_gpu_layers(f, gpt_oss_options());

    CHECK(e.num_ctx == 8192);
    CHECK(e.layers_model == 25);
    CHECK(e.layers_offload == 25);
    CHECK(e.kv_per_layer[0] == oss_kv_even);
    CHECK(e.kv_per_layer[1] == oss_kv_odd);
    // weights: 24 blocks + output (token_embd stays on the CPU and is in no figure)
    CHECK(oss_block == 477444224);
    CHECK(e.weights_repeating == 24 * oss_block);
    CHECK(e.weights_nonrepeating == oss_output);
    CHECK(e.weights_total == 12616939776);
    CHECK(gib2(e.weights_total) == "11.75 GiB");
    // KV: 12 sliding layers of 4096 + 128 tokens, 12 of 8192
    CHECK(e.required_kv == 12 * oss_kv_even + 12 * oss_kv_odd);
    CHECK(e.required_kv == 305135616);
    // graph: 4 × 64 / 8 × (24 layers × 8192 tokens × 2 KiB) / 6 = 2 GiB, partial = full
    CHECK(e.graph_full == 2 * gib);
    CHECK(e.graph_partial == 2 * gib);
    // full: minimum + one-layer buffer (blk.0 + its KV) + every layer + output + full graph
    const std::uint64_t full = cuda_minimum + (oss_block + oss_kv_even) + e.weights_repeating + e.required_kv + oss_output + 2 * gib;
    CHECK(e.required_full == full);
    CHECK(e.required_full == 16034853248);
    CHECK(gib2(e.required_full) == "14.93 GiB");
    CHECK(e.required_partial == e.required_full);
    CHECK(e.memory_per_gpu == std::vector<std::uint64_t>{full});
    CHECK(e.gpu_of_layer == std::vector<int>(25, 0));

    // Ollama's log line, as it prints it
    const std::string line = ol::log_line(e);
    CHECK(line.find("layers.model=25 layers.offload=25") != std::string::npos);
    CHECK(line.find("memory.required.full=\"14.9 GiB\"") != std::string::npos);
    CHECK(line.find("memory.required.kv=\"291.0 MiB\"") != std::string::npos);
    CHECK(line.find("memory.weights.total=\"11.8 GiB\"") != std::string::npos);
    CHECK(line.find("memory.weights.repeating=\"10.7 GiB\"") != std::string::npos);
    CHECK(line.find("memory.weights.nonrepeating=\"1.1 GiB\"") != std::string::npos);
    CHECK(line.find("memory.graph.full=\"2.0 GiB\" memory.graph.partial=\"2.0 GiB\"") != std::string::npos);
}

TEST_CASE("gpt-oss:20b with num_gpu 15 is the user's 15/25 hybrid at 9.75 GiB", "[plan][ollama]") {
    ol::options o = gpt_oss_options();
    o.num_gpu = 15;
    const ol::estimate e = estimate_for(seed_files().gpt_oss(), o);
    CHECK(e.layers_offload == 15);
    CHECK(e.layers_requested == 15);
    // last block first: blk.23 .. blk.9 on the GPU (8 odd, 7 even), blk.0..8 and the output on the CPU
    std::vector<int> where(25, -1);
    for (int i = 9; i <= 23; ++i) where[static_cast<std::size_t>(i)] = 0;
    CHECK(e.gpu_of_layer == where);
    const std::uint64_t partial =
        cuda_minimum + (oss_block + oss_kv_even) + 15 * oss_block + 8 * oss_kv_odd + 7 * oss_kv_even + 2 * gib;
    CHECK(e.required_partial == partial);
    CHECK(e.required_partial == 10469214208);
    CHECK(gib2(e.required_partial) == "9.75 GiB");
    CHECK(ol::human_bytes2(e.required_partial) == "9.8 GiB");
    CHECK(e.required_full == 16034853248);  // what is not placed is overflow: the total is unchanged
    CHECK(e.layers_per_gpu == std::vector<int>{15});
}

TEST_CASE("gpt-oss:20b num_ctx is raised to 8192 and never lowered", "[plan][ollama]") {
    ol::options o = gpt_oss_options();
    o.num_ctx = 2048;
    const ol::estimate low = estimate_for(seed_files().gpt_oss(), o);
    CHECK(low.num_ctx == 8192);
    CHECK(low.required_full == 16034853248);
    o.num_ctx = 16384;
    const ol::estimate high = estimate_for(seed_files().gpt_oss(), o);
    CHECK(high.num_ctx == 16384);
    CHECK(high.required_kv == 12 * oss_kv_even + 12 * oss_kv_token * 16384);
    CHECK(high.graph_full == 4 * gib);  // kv_total doubles
}

TEST_CASE("gpt-oss:20b in auto mode goes hybrid exactly when free memory runs out", "[plan][ollama]") {
    // After 15 layers the GPU is charged 10469214208 - 2 GiB; blk.8 (an even layer) needs
    // free > that + the 2 GiB graph reservation + blk.8 with its KV.
    const std::uint64_t charged15 = 10469214208 - 2 * gib;
    const std::uint64_t edge = charged15 + 2 * gib + oss_block + oss_kv_even;
    CHECK(edge == 10955309184);
    ol::options o = gpt_oss_options();
    o.gpus = {card(edge)};
    const ol::estimate at = estimate_for(seed_files().gpt_oss(), o);
    CHECK(at.layers_offload == 15);
    CHECK(at.required_partial == 10469214208);  // the same as num_gpu 15
    o.gpus = {card(edge + 1)};
    CHECK(estimate_for(seed_files().gpt_oss(), o).layers_offload == 16);
    o.gpus = {card(10 * gib)};  // a 16 GB card with 6 GiB already in use
    CHECK(estimate_for(seed_files().gpt_oss(), o).layers_offload == 15);
}

TEST_CASE("a GPU too small for the graph with its minimum and two layers takes nothing", "[plan][ollama]") {
    const std::uint64_t layer0 = oss_block + oss_kv_even;
    const std::uint64_t filter = 2 * gib + cuda_minimum + 2 * layer0;
    const std::uint64_t everything = 24 * oss_block + 305135616 + oss_output;
    ol::options o = gpt_oss_options();
    o.gpus = {card(filter - 1)};
    const ol::estimate out = estimate_for(seed_files().gpt_oss(), o);
    CHECK(out.layers_offload == 0);
    CHECK(out.required_partial == 0);
    CHECK(out.memory_per_gpu.empty());
    CHECK(out.required_full == everything);  // all overflow
    CHECK(out.gpu_of_layer == std::vector<int>(25, -1));

    // At the filter's edge the GPU is admitted and charged its minimum and the buffer, but blk.23
    // (odd, 16 MiB of KV) does not fit beside the graph: nothing offloads, and the charge stays
    // in required.full (Ollama's arithmetic).
    o.gpus = {card(filter)};
    const ol::estimate in = estimate_for(seed_files().gpt_oss(), o);
    CHECK(in.layers_offload == 0);
    CHECK(in.required_partial == 0);
    CHECK(in.allocations == std::vector<std::uint64_t>{cuda_minimum + layer0});
    CHECK(in.required_full == cuda_minimum + layer0 + everything);
}

// ---- the other seed models on a 16 GiB card -------------------------------------------------
//
// | model             | layers | full        | partial     | kv         | weights total / rep / nonrep       | graph full / partial  |
// | llama3.1:8b Q4_K_M| 33/33  | 6099560448  | 6099560448  | 536870912  | 4617396224 / 4186439680 / 430956544 | 310380544 / 710385664 |
// | llama3.2:3b Q4_K_M| 29/29  | 3310184448  | 3310184448  | 469762048  | 2011539456 / 1688322048 / 323217408 | 268959744 / 598456320 |
// | gemma2:27b Q4_0   | 42/47  | 19498559488 | 17122328576 | 1543503872 | 15622318080 / 14654619648 / 967698432 | 533725184 / 1501405184 |
// | phi3:mini Q4_0    | 33/33  | 4592336384  | 4592336384  | 1610612736 | 2120031744 / 2039218176 / 80813568  | 268435456 / 268435456 |
// | mxbai-embed-large | 25/25  | 1265508352  | 1265508352  | 25165824   | 667766784 / 605257728 / 62509056    | 67108864 / 67108864   |

TEST_CASE("llama3.1:8b Q4_K_M on a 16 GiB card", "[plan][ollama]") {
    const ol::estimate e = estimate_for(seed_files().llama31(), on_16gib());
    CHECK(e.layers_model == 33);
    CHECK(e.layers_offload == 33);
    // KV: 32 layers × 4096 × (128 + 128) × 8 heads × 2 bytes = 512 MiB
    CHECK(e.required_kv == 32ull * 4096 * 256 * 8 * 2);
    // graph (llama): batch 512, embedding 4096, vocab 128256, 32 heads, 8 kv heads, head 128
    constexpr std::uint64_t b = 512, n = 4096, ctx = 4096, v = 128256, h = 32, hkv = 8, hd = 128;
    CHECK(e.graph_full == std::max(4 * b * (1 + 4 * n + ctx * (1 + h)), 4 * b * (n + v)));
    CHECK(e.graph_full == 310380544);  // 296.0 MiB: the attention term wins at 4096
    CHECK(e.graph_partial == 4 * b * n + std::max(4 * b * (1 + n + std::max(ctx, n)) + n * n * 9 / 16 + 4 * ctx * (b * h + hd * hkv),
                                                  4 * b * (n + v) + n * v * 105 / 128));
    CHECK(e.graph_partial == 710385664);  // 677.5 MiB: the vocabulary term wins
    CHECK(e.weights_repeating == 4186439680);
    CHECK(e.weights_nonrepeating == 430956544);  // output Q6_K + output_norm ("411.0 MiB")
    CHECK(ol::human_bytes2(e.weights_nonrepeating) == "411.0 MiB");
    CHECK(e.weights_total == 4617396224);
    CHECK(e.required_full == 6099560448);
    CHECK(e.required_partial == 6099560448);
    CHECK(ol::human_bytes2(e.required_full) == "5.7 GiB");
}

TEST_CASE("llama3.2:3b Q4_K_M (tied embeddings) on a 16 GiB card", "[plan][ollama]") {
    const ol::estimate e = estimate_for(seed_files().llama32(), on_16gib());
    CHECK(e.layers_model == 29);
    CHECK(e.layers_offload == 29);
    CHECK(e.required_kv == 28ull * 4096 * 256 * 8 * 2);
    // No output.weight: token_embd (Q6_K) is budgeted as the output layer.
    CHECK(e.weights_nonrepeating == 3072ull * 128256 / 256 * 210 + 3072 * 4);
    CHECK(e.weights_total == 2011539456);
    CHECK(e.weights_repeating == 1688322048);
    CHECK(e.graph_full == 268959744);
    CHECK(e.graph_partial == 598456320);
    CHECK(e.required_full == 3310184448);
    CHECK(e.required_partial == 3310184448);
}

TEST_CASE("gemma2:27b Q4_0 does not fit a 16 GiB card: 42 of 47 layers", "[plan][ollama]") {
    const ol::estimate e = estimate_for(seed_files().gemma2(), on_16gib());
    CHECK(e.layers_model == 47);
    CHECK(e.layers_offload == 42);
    // 0.11.3 budgets gemma2 without its sliding window: 46 full-context layers
    CHECK(e.required_kv == 46ull * 4096 * 256 * 16 * 2);
    CHECK(e.graph_full == 533725184);
    CHECK(e.graph_partial == 1501405184);
    CHECK(e.weights_total == 15622318080);
    CHECK(e.weights_repeating == 14654619648);
    CHECK(e.weights_nonrepeating == 967698432);
    CHECK(e.required_full == 19498559488);
    CHECK(e.required_partial == 17122328576);
    // the last 42 blocks on the GPU; blk.0-3 and the output on the CPU
    std::vector<int> where(47, 0);
    for (int i : {0, 1, 2, 3, 46}) where[static_cast<std::size_t>(i)] = -1;
    CHECK(e.gpu_of_layer == where);
    // partial = minimum + buffer + 42 layers + partial graph
    const std::uint64_t layer = 14654619648 / 46 + 4096ull * 256 * 16 * 2;
    CHECK(e.required_partial == cuda_minimum + layer + 42 * layer + 1501405184);
}

TEST_CASE("phi3:mini Q4_0 uses the fallback graph (no phi3 formula)", "[plan][ollama]") {
    const ol::estimate e = estimate_for(seed_files().phi3(), on_16gib());
    CHECK(e.layers_offload == 33);
    CHECK(e.required_kv == 32ull * 4096 * (96 + 96) * 32 * 2);  // 32 kv heads of 96
    // heads / kv heads = 1: graph = kv / 6, both sizes
    CHECK(e.graph_partial == e.required_kv / 6);
    CHECK(e.graph_full == e.graph_partial);
    CHECK(e.weights_total == 2120031744);
    CHECK(e.weights_nonrepeating == 80813568);
    CHECK(e.required_full == 4592336384);
}

TEST_CASE("mxbai-embed-large (bert F16) budgets one KV head and no flash attention", "[plan][ollama]") {
    ol::options o = on_16gib();
    o.flash_attention = true;
    o.kv_type = ggml_type::q8_0;
    const ol::estimate e = estimate_for(seed_files().mxbai(), o);
    CHECK(e.layers_model == 25);
    CHECK(e.layers_offload == 25);
    CHECK_FALSE(e.flash_attention);  // an embedding model (pooling_type)
    CHECK(e.kv_type == ggml_type::f16);
    CHECK(e.required_kv == 24ull * 4096 * (64 + 64) * 1 * 2);  // no head_count_kv key: one head
    CHECK(e.graph_full == 16 * e.required_kv / 6);
    CHECK(e.weights_nonrepeating == 1024ull * 30522 * 2);  // no output layer: token_embd
    CHECK(e.weights_total == 667766784);
    CHECK(e.required_full == 1265508352);
}

// ---- sensitivity ------------------------------------------------------------------------------

TEST_CASE("num_ctx scales the cache and the context terms of the graph", "[plan][ollama]") {
    const ol::estimate a = estimate_for(seed_files().llama31(), on_16gib(4096));
    const ol::estimate b = estimate_for(seed_files().llama31(), on_16gib(8192));
    CHECK(b.required_kv == 2 * a.required_kv);
    CHECK(b.graph_full == 4 * 512ull * (1 + 4 * 4096 + 8192ull * 33));
    CHECK(b.required_full > a.required_full);
    CHECK(b.weights_total == a.weights_total);
    // a batch larger than the context is clamped to it
    ol::options o = on_16gib(256);
    const ol::estimate small = estimate_for(seed_files().llama31(), o);
    CHECK(small.batch == 256);
}

TEST_CASE("a quantized cache needs flash attention and only f16 q8_0 q4_0 are known", "[plan][ollama]") {
    ol::options o = on_16gib();
    o.kv_type = ggml_type::q8_0;
    const std::uint64_t f16 = 32ull * 4096 * 256 * 8 * 2;
    CHECK(estimate_for(seed_files().llama31(), o).required_kv == f16);  // no flash attention: ignored
    o.flash_attention = true;
    const ol::estimate q8 = estimate_for(seed_files().llama31(), o);
    CHECK(q8.flash_attention);
    CHECK(q8.kv_type == ggml_type::q8_0);
    CHECK(q8.required_kv == f16 / 2);
    o.kv_type = ggml_type::q4_0;
    CHECK(estimate_for(seed_files().llama31(), o).required_kv == f16 / 4);
    o.kv_type = ggml_type::bf16;
    CHECK(estimate_for(seed_files().llama31(), o).required_kv == f16);
    // gpt-oss: the per-layer windows keep their shape at one byte per element
    ol::options g = gpt_oss_options();
    g.flash_attention = true;
    g.kv_type = ggml_type::q8_0;
    const ol::estimate oss = estimate_for(seed_files().gpt_oss(), g);
    CHECK(oss.required_kv == 305135616 / 2);
    CHECK(oss.graph_full == gib);  // kv_total halves too
}

TEST_CASE("num_parallel multiplies the context and gpt-oss windows grow per sequence", "[plan][ollama]") {
    ol::options o = on_16gib();
    o.num_parallel = 2;
    const ol::estimate e = estimate_for(seed_files().llama31(), o);
    CHECK(e.context == 8192);
    CHECK(e.num_ctx == 4096);
    CHECK(e.required_kv == 32ull * 8192 * 256 * 8 * 2);
    ol::options g = gpt_oss_options();
    g.num_parallel = 2;
    const ol::estimate oss = estimate_for(seed_files().gpt_oss(), g);
    CHECK(oss.kv_per_layer[0] == oss_kv_token * (2 * 4096 + 128));
    CHECK(oss.kv_per_layer[1] == oss_kv_token * 2 * 8192);
}

TEST_CASE("num_gpu 0 offloads nothing and gpu_overhead costs layers", "[plan][ollama]") {
    ol::options o = on_16gib();
    o.num_gpu = 0;
    const ol::estimate none = estimate_for(seed_files().llama31(), o);
    CHECK(none.layers_offload == 0);
    CHECK(none.required_partial == 0);
    // the GPU is still admitted and charged minimum + buffer; everything else overflows
    CHECK(none.allocations == std::vector<std::uint64_t>{cuda_minimum + llama31_layer0});
    CHECK(none.required_full == cuda_minimum + llama31_layer0 + none.weights_total + none.required_kv);
    CHECK(none.gpu_of_layer == std::vector<int>(33, -1));

    ol::options g = gpt_oss_options();
    g.gpus = {card(10955309184 + 1)};  // 16 layers without overhead
    CHECK(estimate_for(seed_files().gpt_oss(), g).layers_offload == 16);
    g.gpu_overhead = 256 * mib;
    CHECK(estimate_for(seed_files().gpt_oss(), g).layers_offload == 15);
}

TEST_CASE("several GPUs take the partial graph each and layers round-robin from the last", "[plan][ollama]") {
    ol::options o = on_16gib();
    o.gpus = {card(16 * gib, "GPU-0"), card(16 * gib, "GPU-1")};
    const ol::estimate e = estimate_for(seed_files().llama31(), o);
    CHECK(e.graph_full == e.graph_partial);  // multi-GPU uses the partial size for both
    CHECK(e.graph_partial == 710385664);
    CHECK(e.layers_offload == 33);
    // layer i on GPU i % 2; the output (placed as the 33rd) on GPU 32 % 2 = 0
    CHECK(e.layers_per_gpu == std::vector<int>{17, 16});
    CHECK(e.gpu_of_layer[31] == 1);
    CHECK(e.gpu_of_layer[30] == 0);
    CHECK(e.gpu_of_layer[32] == 0);
    CHECK(e.memory_per_gpu == e.allocations);
    // each GPU pays its own minimum, one-layer buffer and partial graph
    CHECK(e.required_partial == 2 * (cuda_minimum + llama31_layer0) + 4617396224 + 536870912 + 2 * 710385664);
    CHECK(e.required_full == e.required_partial);
}

TEST_CASE("Metal budgets the full graph for partial offloads too and the CPU library offloads nothing", "[plan][ollama]") {
    ol::options o = on_16gib();
    o.gpus = {card(16 * gib, "0", "metal")};
    const ol::estimate m = estimate_for(seed_files().llama31(), o);
    CHECK(m.graph_partial == m.graph_full);
    CHECK(m.graph_full == 310380544);
    // as on CUDA (fully loaded: the full graph), with Metal's 512 MiB minimum
    CHECK(m.required_full == 6099560448 - cuda_minimum + 512 * mib);

    o.gpus = {card(16 * gib, "cpu", "cpu")};
    const ol::estimate c = estimate_for(seed_files().llama31(), o);
    CHECK(c.layers_offload == 0);
    CHECK(c.required_partial == 0);
    CHECK(c.library == "cpu");
    o.gpus.clear();
    const ol::estimate none = estimate_for(seed_files().llama31(), o);
    CHECK(none.layers_offload == 0);
    CHECK(none.required_full == none.weights_total + none.required_kv);
}

TEST_CASE("gemma3 keeps every sixth layer global and the others a window", "[plan][ollama]") {
    seed::temp_dir dir;
    seed::builder b("gemma3", "tiny-gemma3");
    b.u32("block_count", 12).u32("embedding_length", 256).u32("attention.head_count", 4).u32("attention.head_count_kv", 1)
        .u32("attention.key_length", 64).u32("attention.value_length", 64).u32("attention.sliding_window", 512);
    b.vocab(1000, "llama");
    for (std::size_t i = 0; i < 12; ++i) b.blk(i, "attn_q.weight", ggml_type::f16, {256, 256});
    b.tensor("token_embd.weight", ggml_type::f16, {256, 1000});
    ol::options o = on_16gib(8192);
    o.num_batch = 512;
    const ol::estimate e = estimate_for(b.write(dir, "g3.gguf"), o);
    const std::uint64_t token = (64 + 64) * 1 * 2;
    for (std::size_t i = 0; i < 12; ++i) {
        INFO("layer " << i);
        CHECK(e.kv_per_layer[i] == token * ((i + 1) % 6 == 0 ? 8192 : 512 + 512));
    }
}

// ---- output and errors --------------------------------------------------------------------

TEST_CASE("the JSON carries the log line's fields in bytes", "[plan][ollama]") {
    const ol::estimate e = estimate_for(seed_files().gpt_oss(), gpt_oss_options());
    const std::string j = ol::to_json(e);
    for (const char* want :
         {"\"layers.model\":25", "\"layers.offload\":25", "\"memory.required.full\":16034853248",
          "\"memory.required.partial\":16034853248", "\"memory.required.kv\":305135616", "\"memory.weights.total\":12616939776",
          "\"memory.weights.repeating\":11458661376", "\"memory.weights.nonrepeating\":1158278400",
          "\"memory.graph.full\":2147483648", "\"memory.graph.partial\":2147483648", "\"num_ctx\":8192"}) {
        INFO(want);
        CHECK(j.find(want) != std::string::npos);
    }
}

namespace {
template <class F>
strata::error error_of(F&& f) {
    try {
        f();
    } catch (const strata::error& e) {
        return e;
    }
    FAIL("no error thrown");
    return strata::error(errc::internal, "unreachable");
}

seed::builder minimal(const char* arch) {
    seed::builder b(arch, "m");
    b.vocab(64, "llama");
    b.tensor("blk.0.attn_q.weight", ggml_type::f32, {64, 64});
    return b;
}
}  // namespace

TEST_CASE("bad inputs fail with the key or option named", "[plan][ollama]") {
    seed::temp_dir dir;
    const ol::options o = on_16gib();

    seed::builder no_blocks = minimal("llama");
    auto e = error_of([&] { estimate_for(no_blocks.write(dir, "a.gguf"), o); });
    CHECK(e.category() == errc::missing);
    CHECK(e.message().find("llama.block_count") != std::string::npos);

    seed::builder zero = minimal("llama");
    zero.u32("block_count", 0);
    e = error_of([&] { estimate_for(zero.write(dir, "b.gguf"), o); });
    CHECK(e.category() == errc::format);
    CHECK(e.message().find("llama.block_count") != std::string::npos);

    seed::builder huge = minimal("llama");
    huge.u32("block_count", 4000000000u);
    e = error_of([&] { estimate_for(huge.write(dir, "b2.gguf"), o); });
    CHECK(e.category() == errc::format);

    seed::builder wrong = minimal("llama");
    wrong.writer().set("llama.block_count", "32");
    e = error_of([&] { estimate_for(wrong.write(dir, "c.gguf"), o); });
    CHECK(e.category() == errc::type);
    CHECK(e.message().find("llama.block_count") != std::string::npos);

    seed::builder no_tokens("llama", "m");
    no_tokens.u32("block_count", 1).tensor("blk.0.attn_q.weight", ggml_type::f32, {64, 64});
    e = error_of([&] { estimate_for(no_tokens.write(dir, "d.gguf"), o); });
    CHECK(e.category() == errc::missing);
    CHECK(e.message().find("tokenizer.ggml.tokens") != std::string::npos);

    strata::gguf::writer no_arch;
    no_arch.set("llama.block_count", std::uint32_t{1});
    no_arch.add_tensor_hole("blk.0.attn_q.weight", ggml_type::f32, {64, 64});
    no_arch.write(dir.file("e.gguf"));
    e = error_of([&] { estimate_for(dir.file("e.gguf"), o); });
    CHECK(e.category() == errc::missing);
    CHECK(e.message().find("general.architecture") != std::string::npos);

    seed::builder ok = minimal("llama");
    ok.u32("block_count", 1);
    const std::string path = ok.write(dir, "f.gguf");
    ol::options bad = o;
    bad.num_ctx = 0;
    e = error_of([&] { estimate_for(path, bad); });
    CHECK(e.category() == errc::argument);
    CHECK(e.message().find("num_ctx") != std::string::npos);
    bad = o;
    bad.gpus = {card(gib, "a", "cuda"), card(gib, "b", "rocm")};
    e = error_of([&] { estimate_for(path, bad); });
    CHECK(e.category() == errc::argument);
    // the minimal model itself plans: its one block offloads; it has no output layer to place
    const ol::estimate fine = estimate_for(path, o);
    CHECK(fine.layers_model == 2);
    CHECK(fine.layers_offload == 1);
}
