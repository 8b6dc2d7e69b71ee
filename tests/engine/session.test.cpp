// The engine and session API on the real gemma3 270M model: load errors, prefill in batches
// equals token by token, rewind and reset replay exactly, the context bound is a clear error,
// generation stops where asked, and a conversation reuses its cached prefix.
#include <catch2/catch.hpp>

#include <algorithm>

#include "strata/engine/conversation.hpp"
#include "strata/engine/engine.hpp"
#include "strata/engine/generate.hpp"
#include "strata/gguf/writer.hpp"
#include "support/models.hpp"

namespace {

const strata::cpu_engine* engine() {
    static std::unique_ptr<strata::cpu_engine> e;
    if (!e && strata_test::model_available(strata_test::gemma3_path()))
        e = std::make_unique<strata::cpu_engine>(strata::cpu_engine::load(strata_test::gemma3_path(), {.n_threads = 2, .prefault = false}));
    return e.get();
}

bool skip_without_model() {
    if (engine()) return false;
    if (strata_test::in_ci()) FAIL("gemma3 model missing in CI: run tools/models fetch");
    WARN("gemma3 model not fetched (tools/models fetch): skipped");
    return true;
}

std::int32_t argmax(std::span<const float> l) { return std::int32_t(std::max_element(l.begin(), l.end()) - l.begin()); }

const std::vector<std::int32_t> prompt = {2, 818, 5279, 529, 7001, 563};  // "<bos>The capital of France is"

}  // namespace

TEST_CASE("engine: hyperparameters and weights of the real gemma3 file", "[engine]") {
    if (skip_without_model()) return;
    const auto& h = engine()->hparams();
    CHECK(h.arch == strata::model::arch::gemma3);
    CHECK(h.n_layer == 18);
    CHECK(h.n_embd == 640);
    CHECK(h.n_head == 4);
    CHECK(h.n_head_kv == 1);
    CHECK(h.head_dim_k == 256);
    CHECK(h.n_swa == 512);
    CHECK(h.is_swa(0));
    CHECK_FALSE(h.is_swa(5));   // every sixth layer attends globally
    CHECK(h.layer_rope_theta(5) == 1e6f);
    CHECK(h.layer_rope_theta(4) == 1e4f);
    CHECK(engine()->weights().output.info == engine()->weights().token_embd.info);  // tied
    CHECK(engine()->chat_format() == strata::chat::format::gemma);
}

TEST_CASE("engine: a tensor type outside the compiled-in formats is refused at load", "[engine]") {
    if (skip_without_model()) return;
    using small = strata::basic_engine<strata::formats<strata::f32, strata::q8_0, strata::q8_k>>;
    try {
        small::load(strata_test::gemma3_path(), {.n_threads = 1, .prefault = false});
        FAIL("loaded");
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::unsupported);
        CHECK_THAT(std::string(e.what()), Catch::Contains("q5_0") || Catch::Contains("q4_K") || Catch::Contains("q6_K"));
    }
}

TEST_CASE("engine: missing or misshapen tensors are refused with their names", "[engine]") {
    if (skip_without_model()) return;
    // a copy of the real metadata with one tensor of the wrong shape and one missing
    const auto& f = engine()->file();
    strata::gguf::writer w;
    for (const auto& m : f.metadata()) w.set(std::string(m.key), strata::gguf::metadata_value::from(m.value));
    for (const auto& t : f.tensors()) {
        if (t.name == "blk.3.ffn_up.weight") continue;  // missing
        std::vector<std::uint64_t> dims(t.ne.begin(), t.ne.begin() + t.n_dims);
        if (t.name == "blk.2.attn_q.weight") dims[1] /= 2;  // misshapen
        w.add_tensor_hole(std::string(t.name), t.type, dims);
    }
    const auto path = std::string(STRATA_BINARY_DIR) + "/engine-bad-shapes.gguf";
    w.write(path);
    try {
        strata::cpu_engine::load(path, {.n_threads = 1, .prefault = false});
        FAIL("loaded");
    } catch (const strata::error& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("blk.2.attn_q.weight") && Catch::Contains("expected [640, 1024]"));
    }
}

TEST_CASE("session: prefill in batches equals token by token; rewind and reset replay", "[engine]") {
    if (skip_without_model()) return;
    auto a = engine()->new_session({.n_ctx = 64, .n_batch = 4});  // the prompt in two batches
    a.prefill(prompt);
    const std::vector<float> batched(a.logits().begin(), a.logits().end());
    auto b = engine()->new_session({.n_ctx = 64, .n_batch = 1});
    for (auto t : prompt) b.decode(t);
    CHECK(std::equal(batched.begin(), batched.end(), b.logits().begin()));
    CHECK(argmax(batched) == 506);  // " the", as llama.cpp's greedy continuation starts

    a.decode(506);
    a.rewind(3);
    CHECK(a.position() == 3);
    CHECK_THROWS_AS(a.logits(), strata::error);
    a.prefill(std::span(prompt).subspan(3));
    CHECK(std::equal(batched.begin(), batched.end(), a.logits().begin()));
    a.reset();
    CHECK(a.position() == 0);
    a.prefill(prompt);
    CHECK(std::equal(batched.begin(), batched.end(), a.logits().begin()));
}

TEST_CASE("session: bad arguments and a full context are clear errors", "[engine]") {
    if (skip_without_model()) return;
    CHECK_THROWS_AS(engine()->new_session({.n_ctx = 0}), strata::error);
    auto s = engine()->new_session({.n_ctx = 8, .n_batch = 8});
    const std::vector<std::int32_t> long_prompt(9, 818);
    try {
        s.prefill(long_prompt);
        FAIL("accepted");
    } catch (const strata::error& e) {
        CHECK(e.category() == strata::errc::argument);
        CHECK_THAT(std::string(e.what()), Catch::Contains("does not fit the context of 8"));
    }
    CHECK(s.position() == 0);  // nothing was evaluated
    const std::vector<std::int32_t> bad_id = {2, 999999};
    CHECK_THROWS_WITH(s.prefill(bad_id), Catch::Contains("outside the vocabulary"));
    CHECK_THROWS_AS(s.rewind(5), strata::error);
}

TEST_CASE("generate: num_predict, stop strings, a full context", "[engine]") {
    if (skip_without_model()) return;
    auto opt = strata::session_options{.n_ctx = 32};
    opt.sampling.temperature = 0;  // greedy (the penalty of the default chain still applies)
    opt.sampling.repeat_penalty = 1.0f;
    auto s = engine()->new_session(opt);
    std::string streamed;
    auto st = strata::generate(s, engine()->tokenizer(), prompt, {.num_predict = 8}, [&](std::string_view t) { streamed += t; });
    CHECK(st.generated_tokens == 8);
    CHECK(st.reason == strata::stop_reason::num_predict);
    CHECK(streamed == st.text);
    CHECK(streamed.rfind(" the capital of the country of France", 0) == 0);

    s.reset();
    st = strata::generate(s, engine()->tokenizer(), prompt, {.num_predict = 20, .stop = {"country"}}, [](std::string_view) {});
    CHECK(st.reason == strata::stop_reason::stop_string);
    CHECK(st.text == " the capital of the ");

    s.reset();
    st = strata::generate(s, engine()->tokenizer(), prompt, {}, [](std::string_view) {});
    CHECK(st.reason == strata::stop_reason::context_full);
    CHECK(s.position() == 32);
}

TEST_CASE("generate: streamed text never splits a UTF-8 character or shows a stop string", "[engine]") {
    using strata::detail::complete_utf8;
    using strata::detail::stop_prefix_tail;
    CHECK(complete_utf8("abc") == 3);
    CHECK(complete_utf8("a\xe6\x97") == 1);       // 日 missing its last byte
    CHECK(complete_utf8("a\xe6\x97\xa5") == 4);
    CHECK(complete_utf8("\xf0\x9f\x98") == 0);    // an emoji's first three bytes
    CHECK(stop_prefix_tail("hello <end", {"<end_of_turn>"}) == 4);
    CHECK(stop_prefix_tail("hello", {"<end_of_turn>"}) == 0);
}

TEST_CASE("conversation: turns reuse the cached prefix and /clear forgets", "[engine]") {
    if (skip_without_model()) return;
    auto opt = strata::session_options{.n_ctx = 256};
    opt.sampling.temperature = 0;
    auto s = engine()->new_session(opt);
    strata::conversation conv(s, engine()->tokenizer(), strata::chat::format::gemma);
    conv.say("Hi", {.num_predict = 4}, [](std::string_view) {});
    const auto after_first = s.position();
    CHECK(after_first > 4);
    conv.say("And then?", {.num_predict = 4}, [](std::string_view) {});
    CHECK(conv.messages().size() == 4);
    // the second prompt starts with the whole first exchange: it was not evaluated again
    const auto rendered = engine()->tokenizer().encode(strata::chat::render(strata::chat::format::gemma, conv.messages(), false), true, true);
    CHECK(std::equal(s.tokens().begin(), s.tokens().begin() + after_first - 1, rendered.begin()));
    conv.clear();
    CHECK(conv.messages().empty());
    CHECK(s.position() == 0);
}

TEST_CASE("session: a Q8_0 KV cache takes 34/64 of the F16 bytes and keeps the logits close", "[engine]") {
    if (skip_without_model()) return;
    auto f16 = engine()->new_session({.n_ctx = 64});
    auto q8 = engine()->new_session({.n_ctx = 64, .kv_type = strata::ggml_type::q8_0});
    CHECK(q8.kv_type() == strata::ggml_type::q8_0);
    CHECK(f16.kv_bytes() == strata::model::kv_cache_bytes(engine()->hparams(), 64));
    CHECK(q8.kv_bytes() == strata::model::kv_cache_bytes(engine()->hparams(), 64, strata::ggml_type::q8_0));
    CHECK(q8.kv_bytes() * 64 == f16.kv_bytes() * 34);  // a 32-value block: 34 bytes instead of 64
    const std::vector<std::int32_t> text = {2, 818, 5279, 529, 7001, 563, 506, 5279, 529, 506, 2891, 529, 7001, 236761};
    f16.prefill(text);
    q8.prefill(text);
    // Q8_0 keeps 8 bits per value with one scale per 32. Measured on gemma3 after this 14-token
    // text: the logits move by a common shift of ~0.4 (no effect on sampling) and beyond it by a
    // mean of ~0.1 and at most ~1, while the best candidate holds.
    const std::size_t n = f16.logits().size();
    double shift = 0.0;
    for (std::size_t i = 0; i < n; ++i) shift += double(q8.logits()[i]) - double(f16.logits()[i]);
    shift /= double(n);
    double sum_rel = 0.0, max_rel = 0.0, max_abs = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = std::abs(double(q8.logits()[i]) - double(f16.logits()[i]) - shift);
        sum_rel += d;
        max_rel = std::max(max_rel, d);
        max_abs = std::max(max_abs, double(std::abs(f16.logits()[i])));
    }
    const double mean_rel = sum_rel / double(n);
    WARN("Q8_0 KV against F16 KV: common shift " << shift << ", beyond it mean " << mean_rel << " and max " << max_rel
                                                 << ", of max |logit| " << max_abs);
    CHECK(max_rel > 0.0);                  // the cache really is quantized
    CHECK(std::abs(shift) < 0.05 * max_abs);
    CHECK(mean_rel < 0.02 * max_abs);      // and stays close
    CHECK(max_rel < 0.1 * max_abs);
    CHECK(argmax(f16.logits()) == argmax(q8.logits()));
    CHECK_THROWS_WITH(strata::model::kv_type_from_name("q4_0"), Catch::Contains("expected f16 or q8_0"));
    CHECK_THROWS_WITH(engine()->new_session({.kv_type = strata::ggml_type::q4_0}), Catch::Contains("the engine runs f16 and q8_0"));
}

TEST_CASE("session: a full context shifts when asked, keeping num_keep and a leading BOS", "[engine]") {
    if (skip_without_model()) return;
    auto opt = strata::session_options{.n_ctx = 16, .n_batch = 8, .context_shift = true, .num_keep = 2};
    opt.sampling.temperature = 0;
    auto s = engine()->new_session(opt);
    const auto st = strata::generate(s, engine()->tokenizer(), prompt, {.num_predict = 40}, [](std::string_view) {});
    CHECK(st.generated_tokens == 40);
    CHECK(st.reason == strata::stop_reason::num_predict);
    CHECK(s.shifts() >= 3);
    CHECK(s.position() <= 16);
    // BOS and the two kept tokens survive every shift
    REQUIRE(s.tokens().size() >= 3);
    CHECK(std::equal(prompt.begin(), prompt.begin() + 3, s.tokens().begin()));
    // the shifted cache is exactly what a fresh prefill of the window computes
    auto fresh = engine()->new_session({.n_ctx = 16, .n_batch = 8});
    fresh.prefill(s.tokens());
    CHECK(std::equal(fresh.logits().begin(), fresh.logits().end(), s.logits().begin()));

    // a prompt longer than the context: shifts instead of failing, and ends with its last tokens
    std::vector<std::int32_t> long_prompt = {2};
    for (int i = 0; i < 40; ++i) long_prompt.push_back(818 + i);
    s.reset();
    s.prefill(long_prompt);
    CHECK(s.position() <= 16);
    CHECK(s.tokens().back() == long_prompt.back());
    CHECK(std::equal(long_prompt.begin(), long_prompt.begin() + 3, s.tokens().begin()));

    // num_keep that leaves no room for a batch is a clear error
    auto tight = engine()->new_session({.n_ctx = 16, .n_batch = 8, .context_shift = true, .num_keep = 12});
    CHECK_THROWS_WITH(tight.prefill(long_prompt), Catch::Contains("leaves no room"));
    CHECK_THROWS_WITH(engine()->new_session({.context_shift = true, .num_keep = -1}), Catch::Contains("num_keep"));
}
