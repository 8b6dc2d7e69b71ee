// strata/engine/placement.hpp — where each layer of a model runs: the devices of one engine
// and, per layer and for the output head, the device that holds its weights and KV cache and
// computes it. A planner's plan becomes one of these; the engine runs it as given.
//
// Device 0 is always the host CPU (token embeddings stay there: a row gather needs no device).
// A `sim` device is a second CPU backend with a memory cap of its own, standing in for a GPU
// so that split execution is tested where there is none: its layers' weights are copied into
// its arena as an upload would, their KV cache and its activations live there too, and
// activations cross at each boundary between devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/error.hpp"
#include "strata/plan/memory.hpp"
#include "strata/plan/plan.hpp"

STRATA_NAMESPACE_BEGIN

struct placement {
    struct device {
        std::string name;
        plan::device_kind kind = plan::device_kind::cpu;
        std::size_t memory_bytes = 0;  // sim: its capacity; cuda: what the plan lets it use (0: no cap)
        int n_threads = 0;             // sim: its own pool (0: as the host's)
        int index = 0;                 // cuda: the device ordinal
    };

    std::vector<device> devices{{"cpu", plan::device_kind::cpu, 0, 0}};
    std::vector<int> layer_device;  // per layer; empty: every layer on the host
    // per layer, the device of its FFN half (an MoE block's norm, router and experts may stay on
    // the host while its attention is on a GPU); empty: each with its layer
    std::vector<int> ffn_device;
    int output_device = 0;          // output norm + head
    // Prefill streaming (model/prefill_stream.hpp): batches of at least stream_min_batch tokens
    // compute the matmuls of the layers on the host on device stream_device (a GPU, or a sim),
    // their weights sent there per batch. -1: off.
    int stream_device = -1;
    std::int64_t stream_min_batch = 0;

    // Layers [first, n_layer) and the output head on one sim device of `memory_bytes`.
    static placement split(std::uint32_t n_layer, std::uint32_t first, std::size_t memory_bytes, bool output_on_sim = true) {
        placement p;
        p.devices.push_back({"sim0", plan::device_kind::sim, memory_bytes, 0});
        p.layer_device.assign(n_layer, 0);
        for (std::uint32_t il = first; il < n_layer; ++il) p.layer_device[il] = 1;
        p.output_device = output_on_sim ? 1 : 0;
        return p;
    }

    // Layers [first, n_layer) and, if asked, the output head on CUDA device `index`; the rest
    // on the host (an engine built with the CUDA backend runs it).
    static placement offload(std::uint32_t n_layer, std::uint32_t first, bool output_on_gpu = true, int index = 0) {
        placement p;
        p.devices.push_back({"CUDA" + std::to_string(index), plan::device_kind::cuda, 0, 0, index});
        p.layer_device.assign(n_layer, 0);
        for (std::uint32_t il = first; il < n_layer; ++il) p.layer_device[il] = 1;
        p.output_device = output_on_gpu ? 1 : 0;
        return p;
    }

    // What a plan (plan::make, or strata-plan --json read back) decided, for this engine to run:
    // each device with the memory the plan gives it, each block's device, the head's. A device
    // the plan gives nothing (no block, not the head, no prefill stream: a GPU with num_gpu 0,
    // or one too small for a block) is left out, as the planner counts it: the engine would
    // give it a session arena and a workspace for no work.
    static placement from_plan(const plan::plan& p) {
        const std::size_t n = p.devices.size();
        auto in_range = [&](int d) { return d >= 0 && std::size_t(d) < n; };
        const std::vector<int> ffn = ffn_devices_of(p);
        std::vector<bool> holds(n, false);
        for (const auto* v : {&p.layer_device, &ffn})
            for (int d : *v)
                if (in_range(d)) holds[std::size_t(d)] = true;
        for (int d : {0, p.output_device, p.stream.device})
            if (in_range(d)) holds[std::size_t(d)] = true;
        placement x;
        x.devices.clear();
        std::vector<int> to(n, -1);  // plan device -> placement device
        int n_cuda = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto& d = p.devices[i];
            const int ordinal = d.kind == plan::device_kind::cuda ? n_cuda++ : 0;
            if (!holds[i]) continue;
            const std::size_t usable = std::size_t(d.free_bytes > d.reserve_bytes ? d.free_bytes - d.reserve_bytes : 0);
            to[i] = int(x.devices.size());
            x.devices.push_back({d.name, d.kind, usable, 0, ordinal});
        }
        auto map = [&](int d) { return in_range(d) ? to[std::size_t(d)] : d; };  // out of range: check() names it
        for (int d : p.layer_device) x.layer_device.push_back(map(d));
        if (ffn != p.layer_device)
            for (int d : ffn) x.ffn_device.push_back(map(d));
        x.output_device = map(p.output_device);
        x.stream_device = map(p.stream.device);
        x.stream_min_batch = p.stream.min_batch;
        return x;
    }

    // Per block, the device of its FFN half (its ffn_* tensors) in plan P; its attention's where it
    // has none. Tensors of one half on two devices are refused: the engine moves each half whole.
    static std::vector<int> ffn_devices_of(const plan::plan& p) {
        const std::size_t nl = p.layer_device.size();
        std::vector<int> half[2] = {std::vector<int>(nl, -1), std::vector<int>(nl, -1)};  // attention, FFN
        for (const plan::tensor_place& t : p.tensors) {
            std::string_view rest;
            const int l = plan::detail::block_of(t.name, &rest);
            if (l < 0 || std::size_t(l) >= nl) continue;
            const bool ffn = plan::detail::classify(t.name, l, rest) != plan::part::attention;  // the planner's halves
            int& d = half[ffn][std::size_t(l)];
            if (d >= 0 && d != t.device)
                STRATA_THROW(errc::unsupported, "the plan splits the " + std::string(ffn ? "FFN" : "attention") + " half of block " +
                                                    std::to_string(l) + " between devices (" + t.name +
                                                    "): the engine moves each half of a block whole");
            d = t.device;
        }
        for (std::size_t l = 0; l < nl; ++l)
            if (half[1][l] < 0) half[1][l] = p.layer_device[l];
        return half[1];
    }

    int device_of_layer(std::uint32_t il) const noexcept { return layer_device.empty() ? 0 : layer_device[il]; }
    int device_of_ffn(std::uint32_t il) const noexcept { return ffn_device.empty() ? device_of_layer(il) : ffn_device[il]; }

    // A placement that does not fit the model, or names a GPU an engine without the CUDA
    // backend cannot run, is refused, naming what is wrong.
    void check(std::uint32_t n_layer, bool with_cuda = false) const {
        if (devices.empty() || devices[0].kind != plan::device_kind::cpu)
            STRATA_THROW(errc::argument, "placement: device 0 must be the host cpu");
        for (std::size_t d = 1; d < devices.size(); ++d) {
            const auto k = devices[d].kind;
            if (k == plan::device_kind::cuda && !with_cuda)
                STRATA_THROW(errc::unsupported, "placement: layers on " + devices[d].name +
                                                    ": this engine has no CUDA backend (build it with nvcc and "
                                                    "backends<cpu_device, cuda_device>)");
            if (k != plan::device_kind::sim && k != plan::device_kind::cuda)
                STRATA_THROW(errc::unsupported, "placement: device " + devices[d].name + " is a " +
                                                    std::string(plan::to_string(k)) +
                                                    "; the engine runs the host cpu, sim and cuda devices");
        }
        if (!layer_device.empty() && layer_device.size() != n_layer)
            STRATA_THROW(errc::argument, "placement names " + std::to_string(layer_device.size()) + " layers, the model has " +
                                             std::to_string(n_layer));
        auto valid = [&](int d) { return d >= 0 && std::size_t(d) < devices.size(); };
        for (std::size_t il = 0; il < layer_device.size(); ++il)
            if (!valid(layer_device[il]))
                STRATA_THROW(errc::argument, "placement: layer " + std::to_string(il) + " on device " +
                                                 std::to_string(layer_device[il]) + " of " + std::to_string(devices.size()));
        if (!ffn_device.empty() && ffn_device.size() != n_layer)
            STRATA_THROW(errc::argument, "placement names the FFN device of " + std::to_string(ffn_device.size()) +
                                             " layers, the model has " + std::to_string(n_layer));
        for (std::size_t il = 0; il < ffn_device.size(); ++il)
            if (!valid(ffn_device[il]))
                STRATA_THROW(errc::argument, "placement: the FFN half of layer " + std::to_string(il) + " on device " +
                                                 std::to_string(ffn_device[il]) + " of " + std::to_string(devices.size()));
        if (!valid(output_device))
            STRATA_THROW(errc::argument, "placement: output head on device " + std::to_string(output_device) + " of " +
                                             std::to_string(devices.size()));
        if (stream_device != -1) {
            if (stream_device == 0 || !valid(stream_device))
                STRATA_THROW(errc::argument, "placement: prefill stream to device " + std::to_string(stream_device) + " of " +
                                                 std::to_string(devices.size()) + " (a GPU or sim, not the host)");
            if (stream_min_batch < 1)
                STRATA_THROW(errc::argument, "placement: prefill stream from batches of " + std::to_string(stream_min_batch) +
                                                 " tokens (at least 1)");
        }
    }
};

STRATA_NAMESPACE_END
