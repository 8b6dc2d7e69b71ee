// strata/chat/template.hpp — chat formats: detected from the model's tokenizer.chat_template
// and rendered as llama.cpp's built-in templates render them (llama_chat_apply_template), so a
// conversation tokenizes to the same ids. The rendered text is tokenized with special-token
// parsing on; BOS comes from the tokenizer (add_bos), not from the template.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace chat {

enum class format { chatml, gemma, llama3, phi3, llama2 };

constexpr std::string_view to_string(format f) noexcept {
    switch (f) {
        case format::chatml: return "chatml";
        case format::gemma: return "gemma";
        case format::llama3: return "llama3";
        case format::phi3: return "phi3";
        case format::llama2: return "llama2";
    }
    return "unknown";
}

struct message {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
};

namespace detail {
inline bool has(std::string_view text, std::string_view needle) { return text.find(needle) != text.npos; }

// llama.cpp trims the content of gemma and llama 3 turns (leading/trailing ASCII whitespace).
inline std::string_view trim(std::string_view s) {
    constexpr std::string_view ws = " \t\n\r\f\v";
    const auto b = s.find_first_not_of(ws);
    if (b == s.npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}
}  // namespace detail

// The format a Jinja chat template implements, recognised by its marker tokens (the same
// markers llama.cpp's template detection keys on). errc::unsupported for anything else.
inline format detect(std::string_view jinja) {
    using detail::has;
    if (has(jinja, "<|im_start|>")) return format::chatml;
    if (has(jinja, "<start_of_turn>")) return format::gemma;
    if (has(jinja, "<|start_header_id|>") && has(jinja, "<|end_header_id|>")) return format::llama3;
    if (has(jinja, "<|assistant|>") && has(jinja, "<|end|>")) return format::phi3;
    if (has(jinja, "[INST]")) return format::llama2;
    STRATA_THROW(errc::unsupported, "tokenizer.chat_template: unrecognised chat format (known: chatml, gemma, "
                                    "llama3, phi3, llama2); use a raw prompt");
}

inline format parse_format(std::string_view name) {
    for (auto f : {format::chatml, format::gemma, format::llama3, format::phi3, format::llama2})
        if (name == to_string(f)) return f;
    STRATA_THROW(errc::argument, "unknown chat format '" + std::string(name) + "'");
}

namespace detail {
inline void render_chatml(const std::vector<message>& msgs, bool gen, std::string& out) {
    for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (gen) out += "<|im_start|>assistant\n";
}

// Gemma has no system role: the system text opens the first user turn, followed by a blank line.
inline void render_gemma(const std::vector<message>& msgs, bool gen, std::string& out) {
    std::string system;
    for (const auto& m : msgs) {
        if (m.role == "system") {
            system = std::string(trim(m.content)) + "\n\n";
            continue;
        }
        out += "<start_of_turn>";
        out += m.role == "assistant" ? "model" : m.role;
        out += "\n";
        if (!system.empty() && m.role == "user") {
            out += system;
            system.clear();
        }
        out += std::string(trim(m.content)) + "<end_of_turn>\n";
    }
    if (gen) out += "<start_of_turn>model\n";
}

inline void render_llama3(const std::vector<message>& msgs, bool gen, std::string& out) {
    for (const auto& m : msgs)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + std::string(trim(m.content)) + "<|eot_id|>";
    if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
}

inline void render_phi3(const std::vector<message>& msgs, bool gen, std::string& out) {
    for (const auto& m : msgs) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
    if (gen) out += "<|assistant|>\n";
}

// Llama 2 [INST] style (llama.cpp's "llama2"): system text and user text share the
// instruction, a new [INST] opens only after an assistant turn closed with </s>.
inline void render_llama2(const std::vector<message>& msgs, bool, std::string& out) {
    bool inside_turn = true;
    out += "[INST] ";
    for (const auto& m : msgs) {
        if (!inside_turn && m.role != "assistant") {
            out += "[INST] ";
            inside_turn = true;
        }
        if (m.role == "system") {
            out += m.content + "\n";
        } else if (m.role == "user") {
            out += m.content + " [/INST]";
        } else {
            out += m.content + "</s>";
            inside_turn = false;
        }
    }
}
}  // namespace detail

// The prompt text for a conversation; with add_generation_prompt the assistant's turn is opened.
inline std::string render(format f, const std::vector<message>& msgs, bool add_generation_prompt = true) {
    for (const auto& m : msgs)
        if (m.role != "system" && m.role != "user" && m.role != "assistant")
            STRATA_THROW(errc::argument, "chat message role '" + m.role + "' (expected system, user or assistant)");
    std::string out;
    switch (f) {
        case format::chatml: detail::render_chatml(msgs, add_generation_prompt, out); break;
        case format::gemma: detail::render_gemma(msgs, add_generation_prompt, out); break;
        case format::llama3: detail::render_llama3(msgs, add_generation_prompt, out); break;
        case format::phi3: detail::render_phi3(msgs, add_generation_prompt, out); break;
        case format::llama2: detail::render_llama2(msgs, add_generation_prompt, out); break;
    }
    return out;
}

// The text that ends an assistant turn in each format (besides the tokenizer's EOG tokens):
// generation stops when it appears.
inline std::vector<std::string> stop_strings(format f) {
    switch (f) {
        case format::chatml: return {"<|im_end|>"};
        case format::gemma: return {"<end_of_turn>"};
        case format::llama3: return {"<|eot_id|>"};
        case format::phi3: return {"<|end|>"};
        case format::llama2: return {"</s>"};
    }
    return {};
}

}  // namespace chat
STRATA_NAMESPACE_END
