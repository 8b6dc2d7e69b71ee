// Chat formats: detection from real templates' marker tokens, and rendering exactly as
// llama.cpp's built-in templates do: the expected strings are what llama_chat_apply_template
// printed for these conversations (tools/reference/chat_templates.py).
#include <catch2/catch.hpp>

#include "strata/chat/template.hpp"

using namespace strata;
using chat::format;

namespace {
const std::vector<chat::message> conversation = {
    {"system", "You are terse."},
    {"user", "  Hi there \n"},
    {"assistant", "Hello."},
    {"user", "2+2?"},
};
}

TEST_CASE("chat format is detected from the Jinja template", "[chat]") {
    CHECK(chat::detect("{% for m in messages %}<|im_start|>{{ m.role }}\n") == format::chatml);
    CHECK(chat::detect("{{ bos_token }}{% if messages[0]['role'] == 'system' %}<start_of_turn>user") == format::gemma);
    CHECK(chat::detect("<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n") == format::llama3);
    CHECK(chat::detect("{{'<|user|>' + '\n' + message['content'] + '<|end|>'}}<|assistant|>") == format::phi3);
    CHECK(chat::detect("{{ '[INST] ' + content + ' [/INST]' }}") == format::llama2);
    CHECK_THROWS_AS(chat::detect("{{ messages }}"), error);
    CHECK(chat::parse_format("gemma") == format::gemma);
    CHECK_THROWS_AS(chat::parse_format("vicuna"), error);
}

TEST_CASE("gemma: system text opens the first user turn, contents trimmed, model role", "[chat]") {
    CHECK(chat::render(format::gemma, conversation) ==
          "<start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n"
          "<start_of_turn>model\nHello.<end_of_turn>\n"
          "<start_of_turn>user\n2+2?<end_of_turn>\n"
          "<start_of_turn>model\n");
    CHECK(chat::render(format::gemma, {{"user", "x"}}, false) == "<start_of_turn>user\nx<end_of_turn>\n");
}

TEST_CASE("chatml, llama3 and phi3 render every turn", "[chat]") {
    CHECK(chat::render(format::chatml, {{"system", "S"}, {"user", "U"}}) ==
          "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
    CHECK(chat::render(format::llama3, {{"system", "S "}, {"user", " U"}}) ==
          "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(chat::render(format::phi3, {{"user", "U"}, {"assistant", "A"}}, false) ==
          "<|user|>\nU<|end|>\n<|assistant|>\nA<|end|>\n");
    CHECK(chat::render(format::llama2, {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}}) ==
          "[INST] S\nU [/INST]A</s>[INST] V [/INST]");
    CHECK(chat::render(format::llama2, conversation) ==
          "[INST] You are terse.\n  Hi there \n [/INST]Hello.</s>[INST] 2+2? [/INST]");
    CHECK(chat::render(format::llama3, conversation) ==
          "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
          "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK(chat::render(format::phi3, conversation) ==
          "<|system|>\nYou are terse.<|end|>\n<|user|>\n  Hi there \n<|end|>\n<|assistant|>\nHello.<|end|>\n"
          "<|user|>\n2+2?<|end|>\n<|assistant|>\n");
}

TEST_CASE("bad roles are refused, and each format has its stop strings", "[chat]") {
    CHECK_THROWS_AS(chat::render(format::chatml, {{"tool", "x"}}), error);
    CHECK(chat::stop_strings(format::gemma) == std::vector<std::string>{"<end_of_turn>"});
    CHECK(chat::stop_strings(format::llama3) == std::vector<std::string>{"<|eot_id|>"});
}
