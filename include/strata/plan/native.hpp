// strata/plan/native.hpp — Strata's own placement search.
//
// Units that move together: a whole block; inside an MoE block its FFN half (ffn_norm, the
// router ffn_gate_inp and the experts ffn_*_exps: what the engine runs where the experts are)
// apart from its attention half (the "core"); the output head (output.weight +
// output_norm). token_embd stays on the CPU: the embedding is a gather of one row per token, so
// a device copy would spend its memory for almost no bandwidth. Tensors pinned by -ot stay
// where the user put them in every candidate.
//
// Candidates, each the best prefix of a priority order filled greedily into the accelerators
// (the fastest with room takes the next unit; the prefix stops at the first unit that fits
// nowhere), every prefix length scored by the cost model:
//   layers-only     whole blocks and the head: head first then blocks from the last down, or
//                   blocks first then the head; the better of the two
//   experts-on-cpu  (MoE) the head and every block's core first, then expert tensors from the
//                   last block down: experts are read at expert_used_count / expert_count per
//                   token, so per byte of device memory they buy the least speed and are the
//                   first to stay on the CPU when the device is short
//   cpu-only        nothing offloaded
// The chosen plan is the fitting candidate with the highest predicted decode tokens/s.
// num_gpu (Ollama's semantics: blocks from the last down, the head as the last "layer") forces
// the count whether or not it fits.
#pragma once

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "strata/core/config.hpp"
#include "strata/core/error.hpp"
#include "strata/core/units.hpp"
#include "strata/gguf/file.hpp"
#include "strata/plan/cost.hpp"
#include "strata/plan/device.hpp"
#include "strata/plan/memory.hpp"
#include "strata/plan/pattern.hpp"
#include "strata/plan/plan.hpp"

STRATA_NAMESPACE_BEGIN
namespace plan {

// A placement with its accounting and its predicted speed.
struct placement {
    std::string label;
    std::vector<int> where;  // per tensor
    accounting acc;
    cost_breakdown cost;
};

namespace detail {

inline std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

// The device an -ot rule names: "CPU", "CUDA0" (or "GPU0"), "SIM0", case-insensitive.
inline int resolve_device(const std::vector<device_spec>& devs, const std::string& name) {
    std::string want = lower(name);
    if (want.substr(0, 3) == "gpu") want = "cuda" + want.substr(3);
    if (want == "cuda") want = "cuda0";
    if (want == "sim") want = "sim0";
    for (std::size_t d = 0; d < devs.size(); ++d)
        if (lower(devs[d].name) == want) return static_cast<int>(d);
    std::string names;
    for (const device_spec& d : devs) names += (names.empty() ? "" : ", ") + d.name;
    STRATA_THROW(errc::argument, "tensor override names device '" + name + "', which this plan does not have (devices: " + names + ")");
}

// "0-8, 12, 14-23"
inline std::string ranges(const std::vector<int>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
        if (!s.empty()) s += ", ";
        s += std::to_string(v[i]);
        if (j > i) {  // two appends: g++ 12 -O3 warns (-Wrestrict, a known false positive) on "-" + string
            s += '-';
            s += std::to_string(v[j]);
        }
        i = j + 1;
    }
    return s;
}

inline std::string tps_string(double t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", t);
    return buf;
}

class searcher {
public:
    // EXPERTS_ON_CPU (an MoE model): the FFN half of every block is pinned to the CPU, after the
    // user's overrides.
    searcher(const model_info& m, const std::vector<device_spec>& devs, const std::vector<tensor_override>& ots,
             bool experts_on_cpu = false)
        : m_(m), devs_(devs), base_(m.tensors.size(), 0), pinned_(m.tensors.size(), false) {
        pin_counts_.assign(ots.size(), 0);
        for (std::size_t i = 0; i < m.tensors.size(); ++i) {
            for (std::size_t r = 0; r < ots.size(); ++r)
                if (ots[r].match.search(m.tensors[i].name)) {
                    base_[i] = resolve_device(devs, ots[r].device);
                    pinned_[i] = true;
                    ++pin_counts_[r];
                    break;  // the first matching rule wins
                }
            if (experts_on_cpu && m.moe() && !pinned_[i] && ffn_half(m.tensors[i])) pinned_[i] = true;  // base_ is the CPU
        }
        for (const tensor_override& o : ots) (void)resolve_device(devs, o.device);  // rules that match nothing still name a device
        // the fastest accelerator takes units first (stated order among equals)
        for (std::size_t d = 1; d < devs.size(); ++d) accelerators_.push_back(d);
        std::stable_sort(accelerators_.begin(), accelerators_.end(),
                         [&](std::size_t a, std::size_t b) { return devs[a].bandwidth > devs[b].bandwidth; });
    }

    const std::vector<std::size_t>& pin_counts() const noexcept { return pin_counts_; }
    const std::vector<int>& base() const noexcept { return base_; }

    placement evaluate(std::string label, std::vector<int> where) const {
        placement p;
        p.label = std::move(label);
        p.acc = account(m_, devs_, where);
        p.cost = predict(m_, devs_, where, p.acc);
        p.where = std::move(where);
        return p;
    }

    // A unit: the unpinned tensors of a block (or of its core or experts), or of the head.
    using unit = std::vector<std::size_t>;
    enum class unit_kind { block, core, experts, output };
    unit make_unit(unit_kind k, int layer) const {
        unit u;
        for (std::size_t i = 0; i < m_.tensors.size(); ++i) {
            const model_tensor& t = m_.tensors[i];
            if (pinned_[i]) continue;
            bool in = false;
            switch (k) {
                case unit_kind::block: in = t.layer == layer; break;
                case unit_kind::core: in = t.layer == layer && !ffn_half(t); break;
                case unit_kind::experts: in = t.layer == layer && ffn_half(t); break;
                case unit_kind::output: in = t.kind == part::output && !m_.tied; break;
            }
            if (in) u.push_back(i);
        }
        return u;
    }

    // Fills ORDER's units in turn into the accelerators; returns the plan after each prefix
    // (index 0: nothing moved). The first FORCE units are placed even where they do not fit
    // (on the accelerator with the most room left).
    std::vector<placement> fill(const std::string& label, const std::vector<unit>& order, std::size_t force = 0) const {
        std::vector<placement> out;
        std::vector<int> where = base_;
        out.push_back(evaluate(label, where));
        for (std::size_t k = 0; k < order.size(); ++k) {
            if (order[k].empty()) continue;
            int chosen = -1, roomiest = -1;
            std::int64_t most_room = INT64_MIN;
            for (const std::size_t d : accelerators_) {
                std::vector<int> w = where;
                for (std::size_t i : order[k]) w[i] = int(d);
                const accounting a = account(m_, devs_, w);
                if (a.fits[d]) { chosen = int(d); break; }
                const std::int64_t room = std::int64_t(budget(devs_[d])) - std::int64_t(a.usage[d].total_bytes);
                if (room > most_room) { most_room = room; roomiest = int(d); }
            }
            if (chosen < 0 && k < force) chosen = roomiest;
            if (chosen < 0) break;
            for (std::size_t i : order[k]) where[i] = chosen;
            out.push_back(evaluate(label, where));
        }
        return out;
    }

    bool has_accelerator() const noexcept { return devs_.size() > 1; }

private:
    const model_info& m_;
    const std::vector<device_spec>& devs_;
    std::vector<int> base_;
    std::vector<bool> pinned_;
    std::vector<std::size_t> pin_counts_;
    std::vector<std::size_t> accelerators_;  // device indices, fastest first
};

// Predictions closer than this are a tie: the cost model is not that precise. A tie goes to
// the plan with more bytes on accelerators, as Ollama offloads whatever fits (it frees host RAM
// and host bandwidth; on a sim, whose bandwidth is the host's, it is what exercises split
// execution).
inline constexpr double tie_tolerance = 0.02;

// (A prefill stream's reserved buffers are not the model's: a plan does not win a tie by them.)
inline std::uint64_t accelerator_total(const std::vector<device_spec>& devs, const placement& x) {
    std::uint64_t t = 0;
    for (std::size_t d = 1; d < devs.size(); ++d) t += x.acc.usage[d].total_bytes;
    return t - x.acc.stream_bytes;
}

// The index of the best plan of V: of those that fit, the fastest predicted decode, a tie
// within tie_tolerance of it going to the most bytes on accelerators; when none fits, the one
// with the most bytes on accelerators (it relieves the host most).
inline std::size_t choose(const std::vector<device_spec>& devs, const std::vector<placement>& v) {
    bool any_fit = false;
    double fastest = 0;
    for (const placement& x : v)
        if (x.acc.all_fit) {
            any_fit = true;
            fastest = std::max(fastest, x.cost.predicted.decode_tps);
        }
    std::size_t best = v.size();
    for (std::size_t k = 0; k < v.size(); ++k) {
        if (any_fit && (!v[k].acc.all_fit || v[k].cost.predicted.decode_tps < (1 - tie_tolerance) * fastest)) continue;
        if (best == v.size() || accelerator_total(devs, v[k]) > accelerator_total(devs, v[best])) best = k;
    }
    return best;
}

inline placement best_of(const std::vector<device_spec>& devs, std::vector<placement> v) {
    const std::size_t k = choose(devs, v);
    return std::move(v[k]);
}

struct layer_counts {
    int gpu = 0, split = 0;
};

inline layer_counts count_layers(const model_info& m, const std::vector<device_spec>& devs, const std::vector<int>& where) {
    const std::size_t nl = m.hp.n_layer;
    std::vector<int> on_acc(nl, 0), on_cpu(nl, 0);
    int out_acc = 0, out_cpu = 0;
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        const model_tensor& t = m.tensors[i];
        const bool acc = devs[static_cast<std::size_t>(where[i])].is_accelerator();
        if (t.layer >= 0) (acc ? on_acc : on_cpu)[static_cast<std::size_t>(t.layer)]++;
        else if (t.kind == part::output || (m.tied && t.kind == part::embed)) (acc ? out_acc : out_cpu)++;
    }
    layer_counts c;
    for (std::size_t l = 0; l < nl; ++l) {
        if (on_acc[l] && !on_cpu[l]) ++c.gpu;
        if (on_acc[l] && on_cpu[l]) ++c.split;
    }
    if (out_acc && !out_cpu) ++c.gpu;
    return c;
}

// What a placement puts where, one line: "CUDA0: blk 9-23, output; CPU: blk 0-8, token_embd".
inline std::string summarize(const model_info& m, const std::vector<device_spec>& devs, const std::vector<int>& where) {
    const std::size_t nl = m.hp.n_layer, nd = devs.size();
    // per device and block: 1 whole, 2 core only, 3 experts only, 4 some tensors
    std::vector<std::vector<int>> whole(nd), core(nd), experts(nd), some(nd);
    std::vector<bool> head(nd, false);
    for (std::size_t l = 0; l < nl; ++l) {
        for (std::size_t d = 0; d < nd; ++d) {
            bool all = true, any = false, all_core = true, any_core = false, all_exp = true, any_exp = false, has_exp = false;
            for (std::size_t i = 0; i < m.tensors.size(); ++i) {
                const model_tensor& t = m.tensors[i];
                if (t.layer != int(l)) continue;
                const bool here = where[i] == int(d);
                all = all && here;
                any = any || here;
                has_exp = has_exp || t.kind == part::experts;
                if (ffn_half(t)) { all_exp = all_exp && here; any_exp = any_exp || here; }
                else { all_core = all_core && here; any_core = any_core || here; }
            }
            if (all && any) whole[d].push_back(int(l));
            else if (has_exp && all_core && any_core && !any_exp) core[d].push_back(int(l));
            else if (has_exp && all_exp && any_exp && !any_core) experts[d].push_back(int(l));
            else if (any) some[d].push_back(int(l));
        }
    }
    for (std::size_t i = 0; i < m.tensors.size(); ++i)
        if (m.tensors[i].name == "output.weight") head[static_cast<std::size_t>(where[i])] = true;
    std::string s;
    for (std::size_t d = nd; d-- > 0;) {
        std::string part_s;
        auto add = [&](const std::string& x) { part_s += (part_s.empty() ? "" : ", ") + x; };
        if (!whole[d].empty()) add("blk " + ranges(whole[d]));
        if (!core[d].empty()) add("attention of blk " + ranges(core[d]));
        if (!experts[d].empty()) add("experts of blk " + ranges(experts[d]));
        if (!some[d].empty()) add("some tensors of blk " + ranges(some[d]));
        if (head[d]) add("output");
        if (d == 0) add("token_embd");
        if (!part_s.empty()) s += (s.empty() ? "" : "; ") + devs[d].name + ": " + part_s;
    }
    return s;
}

}  // namespace detail

struct native_result {
    placement chosen;
    std::vector<placement> candidates;  // the chosen one first
    std::vector<std::size_t> pin_counts;
};

// Searches the placements of model M on DEVS under C's num_gpu and overrides.
inline native_result search(const model_info& m, const std::vector<device_spec>& devs, const config& c) {
    using detail::searcher;
    const searcher s(m, devs, c.tensor_overrides, c.experts_on_cpu);
    using U = searcher::unit_kind;
    const int nl = static_cast<int>(m.hp.n_layer);
    const searcher::unit head = s.make_unit(U::output, -1);
    std::vector<placement> cands;
    cands.push_back(s.evaluate("cpu-only", s.base()));
    if (s.has_accelerator()) {
        if (c.num_gpu >= 0) {
            std::vector<searcher::unit> order;
            for (int l = nl - 1; l >= 0; --l) order.push_back(s.make_unit(U::block, l));
            order.push_back(head);
            const auto n = static_cast<std::size_t>(std::min(c.num_gpu, nl + 1));
            order.resize(n);
            auto v = s.fill("layers-only", order, n);
            cands.push_back(std::move(v.back()));
        } else {
            std::vector<searcher::unit> head_first{head}, blocks_first;
            for (int l = nl - 1; l >= 0; --l) {
                head_first.push_back(s.make_unit(U::block, l));
                blocks_first.push_back(head_first.back());
            }
            blocks_first.push_back(head);
            placement a = detail::best_of(devs, s.fill("layers-only", head_first));
            placement b = detail::best_of(devs, s.fill("layers-only", blocks_first));
            std::vector<placement> both;
            both.push_back(std::move(a));
            both.push_back(std::move(b));
            cands.push_back(detail::best_of(devs, std::move(both)));
            if (m.moe()) {
                std::vector<searcher::unit> order{head};
                for (int l = nl - 1; l >= 0; --l) order.push_back(s.make_unit(U::core, l));
                for (int l = nl - 1; l >= 0; --l) order.push_back(s.make_unit(U::experts, l));
                placement e = detail::best_of(devs, s.fill("experts-on-cpu", order));
                if (e.where != cands.back().where) cands.push_back(std::move(e));  // else the same as layers-only
            }
        }
    }
    // chosen first (under num_gpu the forced plan), the others by fit and decode rate
    std::size_t chosen = detail::choose(devs, cands);
    if (c.num_gpu >= 0)
        for (std::size_t k = 0; k < cands.size(); ++k)
            if (cands[k].label == "layers-only") chosen = k;
    std::rotate(cands.begin(), cands.begin() + std::ptrdiff_t(chosen), cands.begin() + std::ptrdiff_t(chosen) + 1);
    std::stable_sort(cands.begin() + 1, cands.end(), [](const placement& x, const placement& y) {
        if (x.acc.all_fit != y.acc.all_fit) return x.acc.all_fit;
        return x.cost.predicted.decode_tps > y.cost.predicted.decode_tps;
    });
    native_result r;
    r.chosen = cands.front();
    r.candidates = std::move(cands);
    r.pin_counts = s.pin_counts();
    return r;
}

}  // namespace plan
STRATA_NAMESPACE_END
