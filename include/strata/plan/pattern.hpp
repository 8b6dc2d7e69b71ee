// strata/plan/pattern.hpp — tensor overrides by name pattern ("-ot PATTERN=DEVICE"), and the
// small matcher they use.
//
// The pattern language is the subset of regular expressions that tensor names need: literals,
// `.` (any character), `\x` (x literally: `\.`), classes `[0-9a-f]` and `[^...]`, groups with
// alternatives `(a|b)`, the postfix operators `*`, `+`, `?`, and the anchors `^` and `$`. As with
// llama.cpp's -ot, a pattern matches when it matches anywhere in the name (search, not a full
// match); anchor it to pin both ends. Backtracking over names of a few dozen characters.
// Anything else (`{n}`, a dangling `)`, an unclosed `[`) is an errc::argument error naming the
// pattern and the position.
#pragma once

#include <bitset>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

class pattern {
public:
    pattern() = default;
    explicit pattern(std::string_view src) : src_(src) {
        std::size_t i = 0;
        root_ = parse_alternatives(i);
        if (i != src_.size()) fail(i, "unmatched ')'");
    }

    const std::string& source() const noexcept { return src_; }

    // True when the pattern matches somewhere in NAME.
    bool search(std::string_view name) const {
        for (std::size_t start = 0; start <= name.size(); ++start)
            if (match_alts(root_, name, start, [](std::size_t) { return true; })) return true;
        return false;
    }

private:
    struct alts;
    struct atom {
        enum kind_t { literal, any, set, group, bol, eol } kind = literal;
        char c = 0;
        std::bitset<256> chars;
        std::shared_ptr<alts> sub;
    };
    struct item {
        atom a;
        char quant = 0;  // 0, '*', '+', '?'
    };
    using sequence = std::vector<item>;
    struct alts {
        std::vector<sequence> options;
    };

    [[noreturn]] void fail(std::size_t at, const char* why) const {
        STRATA_THROW(errc::argument, "tensor pattern '" + src_ + "': " + why + " at position " + std::to_string(at));
    }

    alts parse_alternatives(std::size_t& i) {
        alts a;
        a.options.push_back(parse_sequence(i));
        while (i < src_.size() && src_[i] == '|') {
            ++i;
            a.options.push_back(parse_sequence(i));
        }
        return a;
    }

    sequence parse_sequence(std::size_t& i) {
        sequence s;
        while (i < src_.size() && src_[i] != '|' && src_[i] != ')') {
            item it;
            const char c = src_[i];
            if (c == '*' || c == '+' || c == '?') fail(i, "an operator with nothing to repeat");
            if (c == '{' || c == '}') fail(i, "counted repetition is not supported");
            if (c == '.') {
                it.a.kind = atom::any;
                ++i;
            } else if (c == '^' || c == '$') {
                it.a.kind = c == '^' ? atom::bol : atom::eol;
                ++i;
            } else if (c == '\\') {
                if (i + 1 >= src_.size()) fail(i, "a trailing backslash");
                it.a.c = src_[i + 1];
                i += 2;
            } else if (c == '[') {
                parse_set(i, it.a);
            } else if (c == '(') {
                const std::size_t open = i++;
                it.a.kind = atom::group;
                it.a.sub = std::make_shared<alts>(parse_alternatives(i));
                if (i >= src_.size() || src_[i] != ')') fail(open, "unclosed '('");
                ++i;
            } else {
                it.a.c = c;
                ++i;
            }
            if (i < src_.size() && (src_[i] == '*' || src_[i] == '+' || src_[i] == '?')) {
                if (it.a.kind == atom::bol || it.a.kind == atom::eol) fail(i, "an anchor cannot repeat");
                it.quant = src_[i++];
            }
            s.push_back(std::move(it));
        }
        return s;
    }

    void parse_set(std::size_t& i, atom& a) {
        const std::size_t open = i++;
        a.kind = atom::set;
        bool negate = false;
        if (i < src_.size() && src_[i] == '^') { negate = true; ++i; }
        bool first = true;
        while (i < src_.size() && (src_[i] != ']' || first)) {
            first = false;
            unsigned char lo = static_cast<unsigned char>(src_[i]);
            if (lo == '\\' && i + 1 < src_.size()) lo = static_cast<unsigned char>(src_[++i]);
            ++i;
            unsigned char hi = lo;
            if (i + 1 < src_.size() && src_[i] == '-' && src_[i + 1] != ']') {
                hi = static_cast<unsigned char>(src_[i + 1]);
                i += 2;
                if (hi < lo) fail(i, "a reversed range in '[...]'");
            }
            for (unsigned v = lo; v <= hi; ++v) a.chars.set(v);
        }
        if (i >= src_.size()) fail(open, "unclosed '['");
        ++i;
        if (negate) a.chars.flip();
    }

    // Continuation-passing backtracking: K receives each position where the rest may start.
    // Type-erased (a non-owning callable reference) so that nested groups do not instantiate
    // ever new continuation types.
    class cont {
    public:
        template <class F>
            requires(!std::is_same_v<std::remove_cvref_t<F>, cont>)
        cont(const F& f) noexcept  // NOLINT: implicit on purpose
            : obj_(&f), fn_([](const void* o, std::size_t p) { return (*static_cast<const F*>(o))(p); }) {}
        bool operator()(std::size_t p) const { return fn_(obj_, p); }

    private:
        const void* obj_;
        bool (*fn_)(const void*, std::size_t);
    };
    using K = cont;

    bool match_alts(const alts& a, std::string_view s, std::size_t pos, K k) const {
        for (const sequence& seq : a.options)
            if (match_seq(seq, 0, s, pos, k)) return true;
        return false;
    }

    bool match_seq(const sequence& seq, std::size_t idx, std::string_view s, std::size_t pos, K k) const {
        if (idx == seq.size()) return k(pos);
        const item& it = seq[idx];
        const auto next = [&](std::size_t p) { return match_seq(seq, idx + 1, s, p, k); };
        switch (it.quant) {
            case '?': return match_atom(it.a, s, pos, next) || next(pos);
            case '*': return match_star(it.a, s, pos, next);
            case '+': return match_atom(it.a, s, pos, [&](std::size_t p) { return match_star(it.a, s, p, next); });
            default: return match_atom(it.a, s, pos, next);
        }
    }

    // Greedy: as many repetitions as possible first; an empty repetition ends the loop.
    bool match_star(const atom& a, std::string_view s, std::size_t pos, K k) const {
        if (match_atom(a, s, pos, [&](std::size_t p) { return p != pos && match_star(a, s, p, k); })) return true;
        return k(pos);
    }

    bool match_atom(const atom& a, std::string_view s, std::size_t pos, K k) const {
        switch (a.kind) {
            case atom::bol: return pos == 0 && k(pos);
            case atom::eol: return pos == s.size() && k(pos);
            case atom::group: return match_alts(*a.sub, s, pos, k);
            case atom::any: return pos < s.size() && k(pos + 1);
            case atom::set: return pos < s.size() && a.chars.test(static_cast<unsigned char>(s[pos])) && k(pos + 1);
            case atom::literal: return pos < s.size() && s[pos] == a.c && k(pos + 1);
        }
        return false;
    }

    std::string src_;
    alts root_;
};

// One "-ot" rule: tensors whose name matches go to the device named (as device_spec::name,
// case-insensitive: "CPU", "CUDA0", "SIM0"; "GPU0" is CUDA0's other name).
struct tensor_override {
    pattern match;
    std::string device;
};

// "PATTERN=DEVICE[,PATTERN=DEVICE...]" as llama.cpp's -ot takes it.
inline std::vector<tensor_override> parse_overrides(std::string_view arg) {
    std::vector<tensor_override> out;
    while (!arg.empty()) {
        const std::size_t comma = arg.find(',');
        const std::string_view one = arg.substr(0, comma);
        const std::size_t eq = one.rfind('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == one.size())
            STRATA_THROW(errc::argument, "tensor override '" + std::string(one) + "': expected PATTERN=DEVICE");
        out.push_back({pattern(one.substr(0, eq)), std::string(one.substr(eq + 1))});
        if (comma == std::string_view::npos) break;
        arg.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace plan
STRATA_NAMESPACE_END
