// strata/tokenizer/tokenizer.hpp — text to token ids and back, exactly as llama.cpp does it.
//
// encode() is llama_tokenize: special tokens are cut out of the text first (longest first), then
// each stretch of plain text goes through the model's algorithm (spm.hpp, bpe.hpp, or for bert
// wordpiece.hpp, which follows Hugging Face's BertTokenizer; [SEP] ends the text). piece() is
// llama_token_to_piece and decode() llama_detokenize. A tokenizer is immutable once built: one
// can be shared by any number of threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/tokenizer/bpe.hpp"
#include "strata/tokenizer/pre_tokenizer.hpp"
#include "strata/tokenizer/spm.hpp"
#include "strata/tokenizer/vocab.hpp"
#include "strata/tokenizer/wordpiece.hpp"

STRATA_NAMESPACE_BEGIN
namespace tokenizer {

namespace detail {

// A piece of the text being encoded: a special token already recognised, or raw text.
struct fragment {
    token_id token;      // null_token for raw text
    std::size_t offset;  // raw text: bytes [offset, offset + length) of the input
    std::size_t length;
};

constexpr bool ascii_space(char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

// llama_detokenize's clean_up_tokenization_spaces, the three in-place passes it makes: drop the
// space before ? ! . , ; turn " ' " into "'"; drop the space before 's 'm 're 've.
inline void clean_spaces(std::string& t) {
    std::size_t n = t.size();
    std::size_t total = n ? 1 : 0;
    for (std::size_t i = 1; i < n; ++i) {
        const char x = t[i];
        if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
        t[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (std::size_t i = 1; i < n; ++i) {
        const char x = t[i];
        if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
            --total;
            t[++i] = '\0';  // the space after is skipped (and no longer reads as a space)
        }
        t[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (std::size_t i = 1; i < n; ++i) {
        const char x = t[i];
        if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            const char x1 = t[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --total;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
                const char x2 = t[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
            }
        }
        t[total++] = x;
    }
    t.resize(total);
}

// The byte of a <0xXX> token: the hex digits after "<0x", read like strtol (stops at a non-digit).
inline char byte_token_value(std::string_view text) {
    unsigned v = 0;
    for (std::size_t i = 3; i < text.size() && i < 5; ++i) {
        const char c = text[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
        else break;
        v = v * 16 + d;
    }
    return static_cast<char>(v);
}

}  // namespace detail

class tokenizer {
public:
    // Throws strata::error: errc::unsupported for a model or pre-tokenizer Strata does not
    // implement, errc::format for an inconsistent vocabulary (sizes, duplicate tokens, special
    // ids out of range, add_bos without bos), errc::argument for an empty one.
    explicit tokenizer(vocab v) : vocab_(std::move(v)) {
        validate();
        build_tables();
    }

    const vocab& vocabulary() const noexcept { return vocab_; }
    std::size_t size() const noexcept { return vocab_.tokens.size(); }
    token_id bos() const noexcept { return vocab_.bos; }
    token_id eos() const noexcept { return vocab_.eos; }
    token_id eot() const noexcept { return vocab_.eot; }

    // The id of the token whose text is exactly `text`, or null_token.
    token_id find(std::string_view text) const { return detail::find_token(ids_, text); }

    std::uint32_t attributes(token_id id) const noexcept {
        return vocab_.contains(id) ? attrs_[static_cast<std::size_t>(id)] : attr::undefined;
    }

    bool is_eog(token_id id) const noexcept { return std::binary_search(eog_.begin(), eog_.end(), id); }

    // llama_tokenize. add_special: BOS / EOS as the vocabulary asks (add_bos, add_eos).
    // parse_special: the text of control and unknown-type tokens becomes those tokens (user-defined
    // tokens are always recognised). Any bytes are accepted; nothing is thrown for bad UTF-8.
    std::vector<token_id> encode(std::string_view text, bool add_special = true, bool parse_special = false) const {
        std::vector<detail::fragment> frags;
        if (!text.empty()) frags.push_back({null_token, 0, text.size()});
        for (token_id id : specials_) split_on(text, id, parse_special, frags);

        std::vector<token_id> out;
        if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
        bool after_special = true;  // SentencePiece: a space prefix at the start and after a special
        for (const detail::fragment& f : frags) {
            if (f.token != null_token) {
                out.push_back(f.token);
                after_special = true;
                continue;
            }
            const std::string_view part = text.substr(f.offset, f.length);
            if (vocab_.model == model_kind::bert) {
                detail::wpm_encode(part, uncased_, ids_, vocab_.unk, out);
            } else if (vocab_.model == model_kind::llama) {
                detail::spm_encode(part, vocab_.add_space_prefix && after_special, vocab_, ids_, out);
            } else {
                detail::bpe_encode(part, pre_, vocab_.ignore_merges, ids_, ranks_, out);
            }
            after_special = false;
        }
        if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
        // BERT: [CLS] text [SEP] ([CLS] is the bos)
        if (add_special && vocab_.model == model_kind::bert && vocab_.sep != null_token) out.push_back(vocab_.sep);
        return out;
    }

    // llama_token_to_piece: the bytes a token stands for. Control and unknown-type tokens give ""
    // unless `special`; an id outside the vocabulary gives "".
    std::string piece(token_id id, bool special = false) const { return std::string(piece_view(id, special)); }

    // llama_detokenize: the pieces joined, minus the space that add_space_prefix put before the
    // first one, with clean_spaces applied where the vocabulary asks. remove_special drops a
    // leading BOS / trailing EOS that add_bos / add_eos would have added.
    std::string decode(std::span<const token_id> ids, bool special = false, bool remove_special = false) const {
        bool strip_space = vocab_.add_space_prefix || vocab_.model == model_kind::bert;
        if (remove_special && vocab_.add_bos && !ids.empty() && ids.front() == vocab_.bos) {
            strip_space = vocab_.model == model_kind::bert;  // BERT: the first word after [CLS]
            ids = ids.subspan(1);
        }
        if (remove_special && vocab_.add_eos && !ids.empty() && ids.back() == vocab_.eos) ids = ids.first(ids.size() - 1);
        std::string out;
        for (token_id id : ids) {
            const std::string_view p = piece_view(id, special);
            out.append(p, strip_space && !p.empty() && p.front() == ' ' ? 1 : 0);
            strip_space = false;
        }
        if (vocab_.clean_spaces) detail::clean_spaces(out);
        return out;
    }

private:
    // piece() without the copy: decode() runs it once per token.
    std::string_view piece_view(token_id id, bool special) const noexcept {
        if (!vocab_.contains(id)) return {};
        const auto i = static_cast<std::size_t>(id);
        if (!special && (attrs_[i] & (attr::unknown | attr::control))) return {};
        return pieces_[i];
    }

    void validate() const {
        const std::size_t n = vocab_.tokens.size();
        if (n == 0) STRATA_THROW(errc::argument, "tokenizer: the vocabulary has no tokens");
        const auto sized = [&](std::size_t m, const char* what) {
            if (m != 0 && m != n)
                STRATA_THROW(errc::format, "tokenizer: " + std::to_string(m) + " " + what + " for " + std::to_string(n) +
                                               " tokens");
        };
        sized(vocab_.scores.size(), "scores");
        sized(vocab_.types.size(), "token types");
        sized(vocab_.attrs.size(), "token attributes");
        const auto in_range = [&](token_id id, const char* what) {
            if (id != null_token && !vocab_.contains(id))
                STRATA_THROW(errc::format, std::string("tokenizer: ") + what + " id " + std::to_string(id) +
                                               " is outside the vocabulary of " + std::to_string(n));
        };
        for (const auto& [id, what] : special_ids()) in_range(id, what);
        for (token_id id : vocab_.eog) in_range(id, "end-of-generation");
        if (vocab_.add_bos && vocab_.bos == null_token)
            STRATA_THROW(errc::format, "tokenizer: add_bos is set but the vocabulary has no bos token");
        if (vocab_.add_eos && vocab_.eos == null_token)
            STRATA_THROW(errc::format, "tokenizer: add_eos is set but the vocabulary has no eos token");
        if (vocab_.model == model_kind::bert && vocab_.unk == null_token)
            STRATA_THROW(errc::format, "tokenizer: a WordPiece (bert) vocabulary needs an unknown token");
        if (vocab_.model == model_kind::gpt2 && !find_pre_tokenizer(vocab_.pre))
            STRATA_THROW(errc::unsupported, "tokenizer: pre-tokenizer '" + vocab_.pre + "' is not supported");
    }

    std::vector<std::pair<token_id, const char*>> special_ids() const {
        const vocab& v = vocab_;
        return {{v.bos, "bos"}, {v.eos, "eos"}, {v.eot, "eot"}, {v.eom, "eom"}, {v.unk, "unk"}, {v.pad, "pad"},
                {v.sep, "sep"}, {v.mask, "mask"}, {v.fim_pre, "fim_pre"}, {v.fim_suf, "fim_suf"},
                {v.fim_mid, "fim_mid"}, {v.fim_pad, "fim_pad"}, {v.fim_rep, "fim_rep"}, {v.fim_sep, "fim_sep"}};
    }

    void build_tables() {
        const std::size_t n = vocab_.tokens.size();
        // llama.cpp names empty tokens so that they can neither match nor collide.
        for (std::size_t i = 0; i < n; ++i)
            if (vocab_.tokens[i].empty()) vocab_.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
        ids_.reserve(n);
        attrs_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto id = static_cast<token_id>(i);
            const auto [it, fresh] = ids_.try_emplace(vocab_.tokens[i], id);
            if (!fresh)
                STRATA_THROW(errc::format, "tokenizer: duplicate token '" + vocab_.tokens[i] + "' (ids " +
                                               std::to_string(it->second) + " and " + std::to_string(i) + ")");
            attrs_[i] = vocab_.attributes(id);
            if (attrs_[i] & (attr::control | attr::user_defined | attr::unknown)) specials_.push_back(id);
        }
        // Longest first, so that a special token containing another is cut out whole.
        std::stable_sort(specials_.begin(), specials_.end(), [&](token_id a, token_id b) {
            return vocab_.tokens[static_cast<std::size_t>(a)].size() > vocab_.tokens[static_cast<std::size_t>(b)].size();
        });
        if (vocab_.model == model_kind::gpt2) {
            pre_ = find_pre_tokenizer(vocab_.pre)->kind;
            ranks_ = detail::build_ranks(vocab_.merges);
        }
        if (vocab_.model == model_kind::bert) uncased_ = detail::wpm_uncased(vocab_);
        pieces_.reserve(n);
        for (std::size_t i = 0; i < n; ++i) pieces_.push_back(make_piece(i));
        eog_ = vocab_.eog;
        for (token_id id : {vocab_.eos, vocab_.eot, vocab_.eom})
            if (id != null_token) eog_.push_back(id);
        std::sort(eog_.begin(), eog_.end());
        eog_.erase(std::unique(eog_.begin(), eog_.end()), eog_.end());
    }

    // The piece of token i with special tokens rendered.
    std::string make_piece(std::size_t i) const {
        const std::uint32_t a = attrs_[i];
        const std::string& text = vocab_.tokens[i];
        if (a & (attr::unknown | attr::control | attr::user_defined)) return text;
        if (a & attr::normal)
            return vocab_.model == model_kind::gpt2 ? detail::bpe_decode_text(text) : detail::spm_unescape(text);
        if (a & attr::byte) return std::string(1, detail::byte_token_value(text));
        return {};  // unused and undefined tokens render as nothing
    }

    // Cuts every occurrence of special token `id` out of the raw fragments.
    void split_on(std::string_view text, token_id id, bool parse_special, std::vector<detail::fragment>& frags) const {
        const std::uint32_t a = attrs_[static_cast<std::size_t>(id)];
        if (!parse_special && (a & (attr::control | attr::unknown))) return;
        const std::string_view tok = vocab_.tokens[static_cast<std::size_t>(id)];
        // Most special tokens occur nowhere: leave the fragments alone then.
        const auto occurs = [&](const detail::fragment& f) {
            return f.token == null_token && text.substr(f.offset, f.length).find(tok) != std::string_view::npos;
        };
        if (std::none_of(frags.begin(), frags.end(), occurs)) return;
        std::vector<detail::fragment> out;
        out.reserve(frags.size());
        for (const detail::fragment& f : frags) {
            if (f.token != null_token) {
                out.push_back(f);
                continue;
            }
            std::size_t base = f.offset, len = f.length;
            while (len > 0) {
                const std::size_t at = text.substr(0, base + len).find(tok, base);
                if (at == std::string_view::npos) {
                    out.push_back({null_token, base, len});
                    break;
                }
                std::size_t left = at - base;
                if (a & attr::lstrip)
                    while (left > 0 && detail::ascii_space(text[base + left - 1])) --left;
                if (left > 0) out.push_back({null_token, base, left});
                out.push_back({id, 0, 0});
                std::size_t right = at + tok.size();
                std::size_t right_len = base + len - right;
                if (a & attr::rstrip)
                    while (right_len > 0 && detail::ascii_space(text[right])) ++right, --right_len;
                base = right;
                len = right_len;
            }
        }
        frags = std::move(out);
    }

    vocab vocab_;
    detail::token_map ids_;
    detail::rank_map ranks_;
    pre_kind pre_ = pre_kind::default_bpe;
    std::vector<std::uint32_t> attrs_;
    std::vector<token_id> specials_;  // control, user-defined and unknown tokens, longest first
    std::vector<std::string> pieces_;
    std::vector<token_id> eog_;       // sorted
    bool uncased_ = false;            // bert: the vocabulary wants accents stripped and lower case
};

}  // namespace tokenizer
STRATA_NAMESPACE_END
