#!/usr/bin/env python3
"""strata-plan as a user runs it: the real Gemma 3 270M file on a simulated 200 MiB device and on
a stated GPU (table and --json: memory per device, layers, predicted tok/s, candidates), num_gpu,
the prefill stream to a GPU too small for the model, -ot, the ollama-0.11.3 estimator's fields, and bad input (exit 1, one stderr line naming it).
With STRATA_CHAT: `strata-chat --plan FILE.json` runs the plan (the split gives the greedy text
of the all-CPU run, the devices hold what the plan says) and refuses a plan of another model.
Usage: plan_test.py STRATA_PLAN TOOLS_MODELS [STRATA_CHAT]"""
import json
import os
import subprocess
import sys

plan, models = sys.argv[1:3]
chat = sys.argv[3] if len(sys.argv) > 3 else None
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what)


def run(*args):
    return subprocess.run([plan, *args], capture_output=True, text=True)


path = subprocess.run([sys.executable, models, "path", "gemma3-270m-q4_k_m"], capture_output=True, text=True).stdout.strip()
if not path or not os.path.exists(path):
    if os.environ.get("CI"):
        sys.exit("gemma3 model missing in CI: tools/models fetch should have run")
    print("gemma3 model not fetched (tools/models fetch): real-model checks skipped")
else:
    r = run(path, "--sim", "200MiB", "--ram", "8GiB", "--num-thread", "2")
    check(r.returncode == 0, f"--sim: exit {r.returncode}: {r.stderr}")
    out = r.stdout
    for needle in ["model", "layers", "on GPU", "memory needed", "GPU used", "RAM used", "state", "SIM0", "predicted",
                   "decode", "prefill", "candidates", "layers-only", "cpu-only", "token_embd.weight"]:
        check(needle in out, f"--sim text lacks {needle!r}")
    first = out.splitlines()[1]
    check(first.startswith("Gemma 3 270m") and first[len("Gemma 3 270m"):].split()[0] == "19",
          f"gemma3 has 18 blocks + the head: {first}")

    r = run(path, "--sim", "200MiB", "--ram", "8GiB", "--num-thread", "2", "--json")
    check(r.returncode == 0, f"--sim --json: exit {r.returncode}: {r.stderr}")
    j = json.loads(r.stdout)
    check(j["layers_total"] == 19, "layers_total")
    check(0 < j["layers_gpu"] <= 19, f"layers_gpu {j['layers_gpu']}")
    check([d["kind"] for d in j["devices"]] == ["cpu", "sim"], "devices")
    sim = j["devices"][1]
    for k in ["weights_bytes", "kv_bytes", "compute_bytes", "overhead_bytes", "total_bytes"]:
        check(isinstance(sim.get(k), int), f"device lacks {k}")
    check(sim["total_bytes"] == sim["weights_bytes"] + sim["kv_bytes"] + sim["compute_bytes"] + sim["overhead_bytes"], "total")
    check(sim["total_bytes"] <= 200 * 2**20, f"sim over its cap: {sim['total_bytes']}")
    check(j["predicted"]["decode_tps"] > 0 and j["predicted"]["prefill_tps"] > 0, "predicted")
    labels = [c["label"] for c in j["candidates"]]
    check("layers-only" in labels and "cpu-only" in labels, f"candidates {labels}")
    check(j["candidates"][0]["predicted"] == j["predicted"], "the chosen candidate comes first")
    check(all(t["device"] == 0 for t in j["tensors"] if t["name"] == "token_embd.weight"), "token_embd on the CPU")

    r = run(path, "--gpu", "16GiB", "--ram", "8GiB", "--num-gpu", "5", "--json")
    j = json.loads(r.stdout)
    check(j["layers_gpu"] == 5, f"--num-gpu 5 gave {j['layers_gpu']}")

    # a GPU too small for all 18 blocks: at 550 MiB, prompt batches of 512 stream the CPU's blocks to it
    # (a chat turn is shorter with 4 blocks resident and the stream than with 10 resident and none)
    r = run(path, "--gpu", "550MiB", "--ram", "8GiB", "--num-batch", "512")
    check(r.returncode == 0, f"--gpu 550MiB: {r.stderr}")
    check("prefill stream: batches of >= " in r.stdout and "on CUDA0" in r.stdout, f"no stream line: {r.stdout[:600]}")
    j = json.loads(run(path, "--gpu", "550MiB", "--ram", "8GiB", "--num-batch", "512", "--json").stdout)
    s = j["prefill_stream"]
    check(s["device"] == 1 and s["min_batch"] >= 32 and s["bytes"] > 32 * 2**20, f"prefill_stream {s}")
    check(s["predicted"]["prefill_tps"] > j["predicted"]["prefill_tps"], f"stream prediction {s}")
    # at 600 MiB the stream's buffers would cost 6 resident blocks, and the turn is shorter without it
    r = run(path, "--gpu", "600MiB", "--ram", "8GiB", "--num-batch", "512")
    check(r.returncode == 0 and "prefill stream:" not in r.stdout
          and "no stream: its buffers would leave blocks to the CPU" in r.stdout, f"--gpu 600MiB: {r.stdout[:900]}")
    j = json.loads(run(path, "--gpu", "550MiB", "--ram", "8GiB", "--num-batch", "512", "--no-stream-prefill", "--json").stdout)
    check(j["prefill_stream"]["device"] == -1, "--no-stream-prefill")

    r = run(path, "--gpu", "16GiB", "--ram", "8GiB", "-ot", r"blk\.1[0-7]\.ffn_.*=CPU", "--json")
    check(r.returncode == 0, f"-ot: {r.stderr}")
    j = json.loads(r.stdout)
    # tied embeddings: the head (token_embd, output_norm) stays on the CPU anyway
    moved = [t["name"] for t in j["tensors"] if t["device"] == 0 and t["name"] not in ("token_embd.weight", "output_norm.weight")]
    check(moved and all(n.startswith("blk.1") and ".ffn_" in n for n in moved), f"-ot moved {moved[:5]}")

    r = run(path, "--gpu", "16GiB", "--ram", "8GiB", "--estimator", "ollama-0.11.3", "--json")
    check(r.returncode == 0, f"ollama: {r.stderr}")
    j = json.loads(r.stdout)
    for k in ["layers.model", "layers.offload", "memory.required.full", "memory.required.partial", "memory.required.kv",
              "memory.weights.total", "memory.weights.repeating", "memory.weights.nonrepeating", "memory.graph.full",
              "memory.graph.partial"]:
        check(isinstance(j.get(k), int), f"ollama JSON lacks {k}")
    check(j["layers.model"] == 19, "layers.model")

# bad input: one line on stderr naming what is wrong, exit 1
some = path if path and os.path.exists(path) else "/nonexistent.gguf"
for args, needle in [(["--gpu", "16XB"], "16XB"), (["--sim", "lots"], "--sim"), (["--kv-type", "q5_1"], "q5_1"),
                     (["--gpu", "8GiB", "-ot", "output=CUDA7"], "CUDA7"), (["--estimator", "vllm"], "vllm")]:
    r = run(some, *args)
    check(r.returncode == 1, f"{args}: exit {r.returncode}")
    check(needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, f"{args}: stderr {r.stderr!r}")
r = run("/nonexistent.gguf")
check(r.returncode == 1 and "/nonexistent.gguf" in r.stderr, f"missing file: {r.stderr!r}")

if chat and path and os.path.exists(path):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        pf = os.path.join(tmp, "plan.json")
        r = run(path, "--sim", "120MiB", "--ram", "8GiB", "--num-ctx", "256", "--json")
        check(r.returncode == 0, f"--json for --plan: {r.stderr!r}")
        open(pf, "w").write(r.stdout)
        doc = json.loads(r.stdout)
        greedy = ["--raw", "-p", "The capital of France is", "--num-predict", "6", "--temperature", "0",
                  "--repeat-penalty", "1", "--num-thread", "2"]
        r = subprocess.run([chat, "-m", path, "--plan", pf, "--verbose", *greedy], capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout == " the capital of the country of", f"chat --plan: {r.returncode} {r.stdout!r} {r.stderr[-300:]!r}")
        sim = doc["devices"][1]
        mib = sim["weights_bytes"] / 1048576.0
        check(f"device {sim['name']}: weights {mib:.1f} MiB" in r.stderr, f"chat --plan --verbose: {sim['name']} {mib:.1f} MiB not in {r.stderr!r}")
        doc["tensors"] = doc["tensors"][:-1]
        open(pf, "w").write(json.dumps(doc))
        r = subprocess.run([chat, "-m", path, "--plan", pf, *greedy], capture_output=True, text=True)
        check(r.returncode == 1 and "does not match the model" in r.stderr, f"chat with a wrong plan: {r.returncode} {r.stderr!r}")

if failures:
    sys.exit(f"{len(failures)} failures")
print("ok")
