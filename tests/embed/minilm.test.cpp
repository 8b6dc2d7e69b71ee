// all-MiniLM-L6-v2 (tools/models fetch: F32, F16 and Q8_0, converted by tools/convert_hf.py)
// against sentence embeddings from transformers + torch (tools/reference/embed_goldens.py):
// cosine bounds per type, the same nearest document for every query of the retrieval set, one
// packed batch equal to texts run alone, and num_ctx / truncate.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "embed/goldens.hpp"
#include "strata/engine/embedder.hpp"

namespace {

struct variant {
    const char* type;
    double min_cos;  // the bounds
};

bool have(const std::string& path) {
    if (strata_test::model_available(path)) return true;
    if (strata_test::in_ci()) FAIL("missing " << path << " (tools/models fetch)");
    WARN("skipped: " << path << " is absent (tools/models fetch)");
    return false;
}

double cos_d(const std::vector<float>& a, const std::vector<double>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += double(a[i]) * a[i], bb += b[i] * b[i];
    return ab / std::sqrt(aa * bb);
}

template <class V>
std::size_t nearest(const V& q, const std::vector<V>& docs) {
    std::size_t best = 0;
    double best_s = -2;
    for (std::size_t j = 0; j < docs.size(); ++j) {
        double s = 0;
        for (std::size_t i = 0; i < q.size(); ++i) s += double(q[i]) * double(docs[j][i]);
        if (s > best_s) best_s = s, best = j;
    }
    return best;
}

}  // namespace

TEST_CASE("all-MiniLM-L6-v2 embeddings agree with sentence-transformers", "[embed][model][slow]") {
    const variant v = GENERATE(variant{"f32", 0.9999}, variant{"f16", 0.999}, variant{"q8_0", 0.99});
    const std::string path = strata_test::minilm_path(v.type);
    if (!have(path)) return;
    auto emb = strata::cpu_embedder::load(path, {.num_batch = 256});
    const auto goldens = strata_test::load_embed_goldens();
    std::vector<std::string> texts;
    std::vector<const strata_test::embed_golden*> refs;
    for (const auto& g : goldens)
        if (!g.embedding.empty()) texts.push_back(g.text), refs.push_back(&g);
    REQUIRE(texts.size() >= 30);
    const auto got = emb.embed(texts);  // every text of a pass in one forward
    REQUIRE(got.size() == texts.size());
    CHECK(emb.last_stats().n_passes < std::int64_t(texts.size()) / 4);
    double min_cos = 1.0;
    std::size_t worst = 0, en = 0, ja = 0, code = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        REQUIRE(emb.tokenize(texts[i]) == refs[i]->ids);
        double norm = 0;
        for (float x : got[i]) norm += double(x) * x;
        CHECK(std::abs(norm - 1.0) < 1e-5);
        const double c = cos_d(got[i], refs[i]->embedding);
        if (c < min_cos) min_cos = c, worst = i;
        if (refs[i]->kind == "text") {
            const unsigned char c0 = static_cast<unsigned char>(texts[i][0]);
            if (c0 >= 0xE3) ++ja;  // kana / kanji lead bytes
            else if (texts[i].find_first_of("(){};=<") != std::string::npos) ++code;
            else ++en;
        }
    }
    INFO(v.type << ": min cosine " << min_cos << " on '" << texts[worst] << "'");
    CHECK(min_cos >= v.min_cos);
    CHECK(en >= 10);
    CHECK(ja >= 5);
    CHECK(code >= 5);
    WARN(v.type << ": 1 - min cosine = " << 1.0 - min_cos << " over " << texts.size() << " texts");

    std::vector<std::vector<float>> q, d;
    std::vector<std::vector<double>> rq, rd;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        if (refs[i]->kind == "query") q.push_back(got[i]), rq.push_back(refs[i]->embedding);
        if (refs[i]->kind == "doc") d.push_back(got[i]), rd.push_back(refs[i]->embedding);
    }
    REQUIRE(q.size() >= 5);
    REQUIRE(d.size() > q.size());
    for (std::size_t i = 0; i < q.size(); ++i) CHECK(nearest(q[i], d) == nearest(rq[i], rd));
}

TEST_CASE("a packed batch gives what each text gives alone", "[embed][model]") {
    const std::string path = strata_test::minilm_path("q8_0");
    if (!have(path)) return;
    auto emb = strata::cpu_embedder::load(path);
    const std::vector<std::string> texts = {"short", "a somewhat longer sentence with more tokens in it",
                                            "def f(x): return x * 2", "東京は日本の首都です。"};
    const auto batch = emb.embed(texts);
    CHECK(emb.last_stats().n_passes == 1);
    CHECK(emb.last_stats().n_texts == 4);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto alone = emb.embed(std::span<const std::string>(&texts[i], 1));
        // Q8_0 activations are quantized per row, so packing changes nothing but summation order
        CHECK(strata::cosine(alone[0], batch[i]) > 0.999999);
    }
    CHECK(strata::cosine(batch[0], batch[1]) < 0.9);
}

TEST_CASE("num_batch splits a request into passes; num_ctx truncates or refuses", "[embed][model]") {
    const std::string path = strata_test::minilm_path("q8_0");
    if (!have(path)) return;
    const std::string long_text = "one two three four five six seven eight nine ten eleven twelve";
    {
        auto emb = strata::cpu_embedder::load(path, {.num_ctx = 8, .num_batch = 8, .truncate = true});
        CHECK(emb.num_ctx() == 8);
        const auto ids = emb.tokenize(long_text);
        REQUIRE(ids.size() == 8);
        CHECK(ids.front() == 101);
        CHECK(ids.back() == 102);
        const auto v = emb.embed({long_text, "one two three four five six"});
        CHECK(emb.last_stats().n_passes == 2);  // 8 + 8 tokens at 8 per pass
        CHECK(emb.last_stats().n_truncated == 1);
        (void)emb.embed_tokens(std::vector<std::vector<std::int32_t>>{ids});
        CHECK(emb.last_stats().n_truncated == 0);  // the stats are the last call's, not carried over
        auto full = strata::cpu_embedder::load(path);
        const auto ref = full.embed_tokens(std::vector<std::vector<std::int32_t>>{ids});
        CHECK(strata::cosine(ref[0], v[0]) > 0.999999);
    }
    {
        auto emb = strata::cpu_embedder::load(path, {.num_ctx = 8, .truncate = false});
        try {
            (void)emb.embed({"fine", long_text});
            FAIL("a text longer than num_ctx was accepted");
        } catch (const strata::error& e) {
            CHECK(e.category() == strata::errc::argument);
            CHECK_THAT(std::string(e.what()), Catch::Contains("input 1") && Catch::Contains("num_ctx 8"));
        }
    }
    auto emb = strata::cpu_embedder::load(path, {.num_ctx = 100000});
    CHECK(emb.num_ctx() == 512);  // clamped to the model's context
}
