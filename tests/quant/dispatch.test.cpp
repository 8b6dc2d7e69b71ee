// The one run-time -> compile-time switch: a type id from a file reaches exactly its policy;
// a type outside the compiled-in list is a clear error naming the tensor and the type.
#include <catch2/catch.hpp>

#include <string>

#include "strata/quant/formats.hpp"

using namespace strata;

TEST_CASE("every format in all_formats is reached by its own type id", "[quant]") {
    const ggml_type types[] = {ggml_type::f32,  ggml_type::f16,  ggml_type::bf16,   ggml_type::q4_0,
                               ggml_type::q4_1, ggml_type::q5_0, ggml_type::q5_1,   ggml_type::q8_0,
                               ggml_type::q8_1, ggml_type::q2_k, ggml_type::q3_k,   ggml_type::q4_k,
                               ggml_type::q5_k, ggml_type::q6_k, ggml_type::q8_k,   ggml_type::iq4_nl,
                               ggml_type::iq4_xs, ggml_type::mxfp4};
    STATIC_REQUIRE(all_formats::size == std::size(types));
    for (auto t : types) {
        CAPTURE(type_name(t));
        const auto reached = all_formats::dispatch(t, "t", [](auto f) { return decltype(f)::type; });
        CHECK(reached == t);
        const auto bytes = all_formats::dispatch(t, "t", [](auto f) { return decltype(f)::block_bytes; });
        CHECK(bytes == info(t).block_bytes);
    }
}

TEST_CASE("a type that is not compiled in is refused with the tensor and type named", "[quant]") {
    using small = formats<q4_k, q6_k, q8_k, f32>;
    STATIC_REQUIRE(small::contains(ggml_type::q4_k));
    STATIC_REQUIRE(!small::contains(ggml_type::q4_0));
    int calls = 0;
    try {
        small::dispatch(ggml_type::q4_0, "blk.3.attn_q.weight", [&](auto) { ++calls; });
        FAIL("no error");
    } catch (const error& e) {
        CHECK(e.category() == errc::unsupported);
        const std::string what = e.what();
        CHECK_THAT(what, Catch::Contains("blk.3.attn_q.weight"));
        CHECK_THAT(what, Catch::Contains("q4_0"));
        CHECK_THAT(what, Catch::Contains("q4_K, q6_K, q8_K, f32"));
    }
    CHECK(calls == 0);
    // a known ggml type Strata has no policy for at all
    try {
        all_formats::dispatch(ggml_type::iq2_xxs, "token_embd.weight", [](auto) {});
        FAIL("no error");
    } catch (const error& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("iq2_xxs"));
    }
}

TEST_CASE("the type table agrees with GGUF's sizes and names", "[quant]") {
    CHECK(row_bytes(ggml_type::q4_k, 4096) == 4096 / 256 * 144);
    CHECK(row_bytes(ggml_type::mxfp4, 2880) == 2880 / 32 * 17);
    CHECK(type_from_name("Q4_K") == ggml_type::q4_k);
    CHECK(type_from_name("bf16") == ggml_type::bf16);
    CHECK_FALSE(type_from_name("q4_2").has_value());
    CHECK_FALSE(find_type_info(4).has_value());    // removed Q4_2
    CHECK_FALSE(find_type_info(40).has_value());   // past the table
    CHECK(find_type_info(39)->block_bytes == 17);  // MXFP4
}
