// strata/engine/conversation.hpp — a multi-turn chat on one session: the history is rendered
// with the model's chat format every turn, and only the tokens after the part the KV cache
// already holds are evaluated (the cache is rewound to the common prefix).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "strata/chat/template.hpp"
#include "strata/engine/generate.hpp"

STRATA_NAMESPACE_BEGIN

template <class Session, class Tokenizer>
class conversation {
public:
    conversation(Session& s, const Tokenizer& tok, chat::format fmt, std::string system = {})
        : s_(&s), tok_(&tok), fmt_(fmt), system_(std::move(system)) {
        clear();
    }

    // The user's turn; streams the assistant's answer and records it in the history.
    generate_stats say(const std::string& user, generate_options opt, const std::function<void(std::string_view)>& on_text) {
        messages_.push_back({"user", user});
        const auto prompt = tok_->encode(chat::render(fmt_, messages_, true), true, true);
        // reuse what the cache holds: rewind to the common prefix, keep one token to evaluate
        const auto& have = s_->tokens();
        std::size_t common = 0;
        while (common < have.size() && common < prompt.size() && have[common] == prompt[common]) ++common;
        common = std::min(common, prompt.size() - 1);
        s_->rewind(static_cast<std::int64_t>(common));
        for (const auto& x : chat::stop_strings(fmt_))
            if (std::find(opt.stop.begin(), opt.stop.end(), x) == opt.stop.end()) opt.stop.push_back(x);
        auto st = generate(*s_, *tok_, std::span<const std::int32_t>(prompt).subspan(common), opt, on_text);
        st.prompt_tokens = static_cast<std::int64_t>(prompt.size());
        messages_.push_back({"assistant", st.text});
        return st;
    }

    // Forgets the history (keeps the system prompt).
    void clear() {
        messages_.clear();
        if (!system_.empty()) messages_.push_back({"system", system_});
        s_->reset();
    }

    const std::vector<chat::message>& messages() const noexcept { return messages_; }
    chat::format format() const noexcept { return fmt_; }

private:
    Session* s_;
    const Tokenizer* tok_;
    chat::format fmt_;
    std::string system_;
    std::vector<chat::message> messages_;
};

STRATA_NAMESPACE_END
