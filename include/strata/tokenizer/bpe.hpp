// strata/tokenizer/bpe.hpp — byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp's
// llm_tokenizer_bpe_session does it.
//
// The text is cut into words by the model's pre-tokenizer; each word is spelled in the GPT-2 byte
// alphabet and its characters are merged pairwise, always the adjacent pair whose merge has the
// lowest rank (leftmost on ties), until no adjacent pair has a merge. A resulting piece that is
// not a token falls back to one token per byte where the vocabulary has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/tokenizer/pre_tokenizer.hpp"
#include "strata/tokenizer/unicode.hpp"
#include "strata/tokenizer/vocab.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer::detail {

// std::string keys looked up by std::string_view without a temporary string.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

using token_map = string_map<token_id>;  // token text -> id
using rank_map = string_map<std::int32_t>;  // "left right" -> merge rank

inline token_id find_token(const token_map& ids, std::string_view text) {
    const auto it = ids.find(text);
    return it == ids.end() ? null_token : it->second;
}

// One piece of the word being merged: bytes [offset, offset + size) of it, in a linked list.
struct bpe_symbol {
    int prev;
    int next;
    std::size_t offset;
    std::size_t size;  // 0 once merged into its left neighbour
};

struct bpe_pair {
    int left;
    int right;
    std::int32_t rank;
    std::size_t size;  // bytes of left + right when queued: a later mismatch means it is stale
};

// Top of the queue: lowest rank, then leftmost.
struct bpe_pair_after {
    bool operator()(const bpe_pair& a, const bpe_pair& b) const noexcept {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

class bpe_merger {
public:
    bpe_merger(std::string_view word, const rank_map& ranks) : word_(word), ranks_(ranks) {
        std::size_t off = 0;
        for (int i = 0; off < word.size(); ++i) {
            const std::size_t n = std::min(utf8_len(word[off]), word.size() - off);
            symbols_.push_back({i - 1, -1, off, n});
            off += n;
            if (off < word.size()) symbols_.back().next = i + 1;
        }
    }

    // Merges until no adjacent pair has a rank; returns the pieces left, in order.
    std::vector<std::string_view> run() {
        for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) push_pair(i - 1, i);
        while (!queue_.empty()) {
            const bpe_pair p = queue_.top();
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
        std::vector<std::string_view> out;
        for (int i = symbols_.empty() ? -1 : 0; i >= 0; i = symbols_[static_cast<std::size_t>(i)].next)
            out.push_back(text(i));
        return out;
    }

private:
    std::string_view text(int i) const {
        const bpe_symbol& s = symbols_[static_cast<std::size_t>(i)];
        return word_.substr(s.offset, s.size);
    }

    void push_pair(int left, int right) {
        if (left < 0 || right < 0) return;
        key_.assign(text(left));
        key_ += ' ';
        key_ += text(right);
        const auto it = ranks_.find(std::string_view(key_));
        if (it == ranks_.end()) return;
        queue_.push({left, right, it->second, key_.size() - 1});
    }

    std::string_view word_;
    const rank_map& ranks_;
    std::vector<bpe_symbol> symbols_;
    std::priority_queue<bpe_pair, std::vector<bpe_pair>, bpe_pair_after> queue_;
    std::string key_;
};

// Ranks from "left right" merge lines; the first of duplicate lines keeps its rank. A line with
// no space after its first byte can never match and is kept only to hold its rank number.
inline rank_map build_ranks(const std::vector<std::string>& merges) {
    rank_map ranks;
    ranks.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i)
        ranks.try_emplace(merges[i], static_cast<std::int32_t>(i));
    return ranks;
}

// Tokens of one pre-tokenizer word (raw UTF-8).
inline void bpe_encode_word(std::string_view word, bool ignore_merges, const token_map& ids, const rank_map& ranks,
                            std::vector<token_id>& out) {
    std::string spelled;
    spelled.reserve(word.size() * 2);
    append_byte_encoded(spelled, word);
    if (ignore_merges) {
        if (const token_id id = find_token(ids, spelled); id != null_token) {
            out.push_back(id);
            return;
        }
    }
    for (std::string_view piece : bpe_merger(spelled, ranks).run()) {
        if (const token_id id = find_token(ids, piece); id != null_token) {
            out.push_back(id);
            continue;
        }
        // Not a token: one token per byte of the spelling, where one exists (only the ASCII-range
        // bytes can be single-byte tokens), as llama.cpp does.
        for (char c : piece)
            if (const token_id id = find_token(ids, std::string_view(&c, 1)); id != null_token) out.push_back(id);
    }
}

// Tokens of a text fragment with no special tokens in it.
inline void bpe_encode(std::string_view text, pre_kind kind, bool ignore_merges, const token_map& ids,
                       const rank_map& ranks, std::vector<token_id>& out) {
    for (const std::string& word : pre_tokenize(text, kind)) bpe_encode_word(word, ignore_merges, ids, ranks, out);
}

// The bytes a token's text spells in the byte alphabet; a character outside the alphabet is
// written "[UNK_BYTE_0x<its utf-8 in hex><the whole token text>]", as llama.cpp writes it.
inline std::string bpe_decode_text(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::uint32_t cp = decode_utf8(text, pos);
        if (const int b = cpt_to_byte(cp); b >= 0) {
            out += static_cast<char>(b);
            continue;
        }
        std::string utf8;
        append_utf8(utf8, cp);
        out += "[UNK_BYTE_0x";
        for (char c : utf8) {
            out += hex[static_cast<std::uint8_t>(c) >> 4];
            out += hex[static_cast<std::uint8_t>(c) & 15];
        }
        out += text;
        out += ']';
    }
    return out;
}

}  // namespace tokenizer::detail
STRATA_NAMESPACE_END
