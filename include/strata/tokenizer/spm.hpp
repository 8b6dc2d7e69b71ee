// strata/tokenizer/spm.hpp — SentencePiece BPE (tokenizer.ggml.model = "llama"), as llama.cpp's
// llm_tokenizer_spm_session does it (Llama 1/2, Mistral, Phi-3, Gemma).
//
// Spaces are written U+2581 ("▁") before tokenizing. The text starts as one symbol per UTF-8
// character; the adjacent pair whose concatenation is the token with the highest score is merged
// (leftmost on ties), again and again. A symbol left that is no token is spelled with the <0xXX>
// byte tokens ("byte fallback").
#pragma once

#include <algorithm>
#include <cstddef>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/tokenizer/bpe.hpp"
#include "strata/tokenizer/unicode.hpp"
#include "strata/tokenizer/vocab.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer::detail {

inline constexpr std::string_view spm_space = "\xE2\x96\x81";  // U+2581

// Every ' ' written as U+2581.
inline std::string spm_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    for (char c : text) {
        if (c == ' ') out += spm_space;
        else out += c;
    }
    return out;
}

// Every U+2581 written as ' '.
inline std::string spm_unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (text.substr(i, spm_space.size()) == spm_space) {
            out += ' ';
            i += spm_space.size();
        } else {
            out += text[i++];
        }
    }
    return out;
}

// The token for a raw byte: <0xXX>, else the byte itself as a token; null when neither exists.
inline token_id spm_byte_token(const token_map& ids, unsigned char byte) {
    static constexpr char hex[] = "0123456789ABCDEF";
    const char name[6] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>'};
    if (const token_id id = find_token(ids, std::string_view(name, 6)); id != null_token) return id;
    const char c = static_cast<char>(byte);
    return find_token(ids, std::string_view(&c, 1));
}

struct spm_pair {
    int left;
    int right;
    float score;
    std::size_t size;  // bytes of left + right when queued
};

// Top of the queue: highest score, then leftmost.
struct spm_pair_before {
    bool operator()(const spm_pair& a, const spm_pair& b) const noexcept {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

class spm_merger {
public:
    spm_merger(std::string_view text, const vocab& v, const token_map& ids) : text_(text), vocab_(v), ids_(ids) {
        std::size_t off = 0;
        for (int i = 0; off < text.size(); ++i) {
            const std::size_t n = std::min(utf8_len(text[off]), text.size() - off);
            symbols_.push_back({i - 1, -1, off, n});
            off += n;
            if (off < text.size()) symbols_.back().next = i + 1;
        }
    }

    // `unk` stands in for a byte that has no token (llama.cpp would throw there).
    void run(token_id unk, std::vector<token_id>& out) {
        for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) push_pair(i - 1, i);
        while (!queue_.empty()) {
            const spm_pair p = queue_.top();
            queue_.pop();
            bpe_symbol& l = symbols_[static_cast<std::size_t>(p.left)];
            bpe_symbol& r = symbols_[static_cast<std::size_t>(p.right)];
            if (l.size == 0 || r.size == 0 || l.size + r.size != p.size) continue;
            l.size += r.size;
            r.size = 0;
            l.next = r.next;
            if (r.next >= 0) symbols_[static_cast<std::size_t>(r.next)].prev = p.left;
            push_pair(l.prev, p.left);
            push_pair(p.left, l.next);
        }
        for (int i = symbols_.empty() ? -1 : 0; i >= 0; i = symbols_[static_cast<std::size_t>(i)].next) emit(i, unk, out);
    }

private:
    std::string_view span(int left, int right) const {
        const bpe_symbol& l = symbols_[static_cast<std::size_t>(left)];
        const std::size_t n = l.size + (right >= 0 ? symbols_[static_cast<std::size_t>(right)].size : 0);
        return text_.substr(l.offset, n);
    }

    void push_pair(int left, int right) {
        if (left < 0 || right < 0) return;
        const std::string_view s = span(left, right);
        const token_id id = find_token(ids_, s);
        if (id == null_token) return;
        queue_.push({left, right, vocab_.score(id), s.size()});
    }

    // A merged symbol is always a token; a single character may not be: then its bytes.
    void emit(int i, token_id unk, std::vector<token_id>& out) const {
        const std::string_view s = span(i, -1);
        if (const token_id id = find_token(ids_, s); id != null_token) {
            out.push_back(id);
            return;
        }
        for (char c : s) {
            const token_id id = spm_byte_token(ids_, static_cast<unsigned char>(c));
            if (id != null_token) out.push_back(id);
            else if (unk != null_token) out.push_back(unk);
        }
    }

    std::string_view text_;
    const vocab& vocab_;
    const token_map& ids_;
    std::vector<bpe_symbol> symbols_;
    std::priority_queue<spm_pair, std::vector<spm_pair>, spm_pair_before> queue_;
};

// Tokens of a text fragment with no special tokens in it; `space_prefix` puts a space before it.
inline void spm_encode(std::string_view text, bool space_prefix, const vocab& v, const token_map& ids,
                       std::vector<token_id>& out) {
    std::string s = space_prefix ? std::string(" ") : std::string();
    s += text;
    const std::string escaped = spm_escape(s);
    spm_merger(escaped, v, ids).run(v.unk, out);
}

}  // namespace tokenizer::detail
STRATA_NAMESPACE_END
