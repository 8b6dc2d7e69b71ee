#!/usr/bin/env python3
"""strata-inspect as a user runs it: the real Gemma 3 270M file prints its real type mix and
every tensor (text and --json, well under a second); bad files exit 1 with one stderr line.
Usage: inspect_test.py STRATA_INSPECT TOOLS_MODELS WORK_DIR"""
import json
import os
import subprocess
import sys
import time

inspect, models, work = sys.argv[1:4]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what)

path = subprocess.run([sys.executable, models, "path", "gemma3-270m-q4_k_m"], capture_output=True, text=True).stdout.strip()
if not path:
    if os.environ.get("CI"):
        sys.exit("gemma3 model missing in CI: tools/models fetch should have run")
    print("gemma3 model not fetched (tools/models fetch): real-model checks skipped")
else:
    t0 = time.monotonic()
    r = subprocess.run([inspect, path], capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
    out = r.stdout
    for needle in ["gemma3", "268.10M", "32768", "Q4_K_M", "llama", "262144", "token_embd.weight", "blk.17.ffn_down.weight",
                   "engine check        ok"]:
        check(needle in out, f"text output lacks {needle!r}")
    # the real type mix: tensors per type as the file has them
    for t, n in [("q8_0", 10), ("q5_0", 81), ("q4_K", 27), ("q6_K", 9), ("f32", 109)]:
        check(any(line.split()[:2] == [t, str(n)] for line in out.splitlines()), f"type mix lacks {t} x {n}")
    check(elapsed < 1.0, f"took {elapsed:.3f} s")
    print(f"text: {len(out.splitlines())} lines in {elapsed * 1000:.0f} ms")
    r = subprocess.run([inspect, path, "--json"], capture_output=True, text=True)
    check(r.returncode == 0, "--json failed")
    j = json.loads(r.stdout)
    tensors = j.get("tensors", [])
    check(len(tensors) == 236, f"--json lists {len(tensors)} tensors, expected 236")
    print("json:", ", ".join(f"{k}" for k in list(j)[:8]))

# bad input: exit 1, one line on stderr, no crash
os.makedirs(work, exist_ok=True)
bad = {
    "missing.gguf": None,
    "empty.gguf": b"",
    "not-gguf.gguf": b"hello, this is not a model\n",
    "truncated.gguf": b"GGUF\x03\x00\x00\x00\x01\x00\x00\x00",
}
for name, data in bad.items():
    p = os.path.join(work, name)
    if data is None:
        if os.path.exists(p):
            os.remove(p)
    else:
        with open(p, "wb") as f:
            f.write(data)
    r = subprocess.run([inspect, p], capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 1 and len(lines) == 1 and name in lines[0], f"{name}: exit {r.returncode}, stderr {r.stderr!r}")
    print(f"{name}: {r.stderr.strip()}")
r = subprocess.run([inspect, "--no-such-flag"], capture_output=True, text=True)
check(r.returncode != 0, "an unknown flag is refused")

print(f"{'all passed' if not failures else str(len(failures)) + ' failed'}")
sys.exit(1 if failures else 0)
