#!/usr/bin/env python3
"""strata-embed as a user runs it, on the real all-MiniLM-L6-v2 (F32 and Q8_0, tools/models
fetch): Ollama's /api/embed JSON shape, texts from arguments and from stdin, vectors equal to
the transformers goldens, --similarity, and bad input (exit 1, one line on stderr).
Usage: embed_test.py STRATA_EMBED TOOLS_MODELS GOLDENS"""
import json
import math
import os
import subprocess
import sys

embed, models, goldens = sys.argv[1:4]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what)


def path_of(name):
    return subprocess.run([sys.executable, models, "path", name], capture_output=True, text=True).stdout.strip()


f32, q8 = path_of("all-minilm-l6-v2-f32"), path_of("all-minilm-l6-v2-q8_0")
if not f32 or not q8:
    if os.environ.get("CI"):
        sys.exit("all-MiniLM-L6-v2 missing in CI: tools/models fetch should have run")
    print("all-MiniLM-L6-v2 not fetched (tools/models fetch): skipped")
    sys.exit(0)

refs = []
with open(goldens, encoding="utf-8") as f:
    for line in f:
        parts = line.rstrip("\n").split(" | ")
        head = parts[0].split()
        if head[0] == "embed" and head[1] == "text":
            refs.append((bytes.fromhex(head[2]).decode("utf-8"), [float(x) for x in parts[2].split()]))
# single-line texts only: stdin carries one text per line
refs = [r for r in refs if "\n" not in r[0] and "\r" not in r[0] and r[0].strip() == r[0]][:8]


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


r = subprocess.run([embed, "-m", f32, *[t for t, _ in refs]], capture_output=True, text=True)
check(r.returncode == 0, f"exit {r.returncode}: {r.stderr}")
j = json.loads(r.stdout)
check(j.get("model") == f32, "model field")
check(isinstance(j.get("prompt_eval_count"), int) and j["prompt_eval_count"] > len(refs), "prompt_eval_count")
vecs = j.get("embeddings", [])
check(len(vecs) == len(refs), f"{len(vecs)} embeddings for {len(refs)} texts")
worst = min(cos(v, e) for v, (_, e) in zip(vecs, refs))
check(worst >= 0.9999, f"f32 worst cosine vs transformers {worst}")
check(all(len(v) == 384 and abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vecs), "384 dims, unit norm")
print(f"arguments: {len(vecs)} texts, worst cosine {worst:.7f}")

stdin = "\n".join(t for t, _ in refs) + "\n\n"
r = subprocess.run([embed, "-m", q8], input=stdin, capture_output=True, text=True)
check(r.returncode == 0, f"stdin: exit {r.returncode}: {r.stderr}")
vq = json.loads(r.stdout)["embeddings"]
check(len(vq) == len(refs), "stdin: one embedding per non-empty line")
worst_q = min(cos(v, e) for v, (_, e) in zip(vq, refs))
check(worst_q >= 0.99, f"q8_0 worst cosine {worst_q}")
print(f"stdin: {len(vq)} texts, q8_0 worst cosine {worst_q:.5f}")

r = subprocess.run([embed, "-m", q8, "--similarity", "A man is eating food.", "A man is eating a piece of bread.",
                    "The girl is carrying a baby."], capture_output=True, text=True)
check(r.returncode == 0, "--similarity failed")
rows = r.stdout.splitlines()
check(len(rows) == 4, f"--similarity printed {len(rows)} lines")
if len(rows) == 4:
    m = [[float(x) for x in row.split()[1:4]] for row in rows[1:]]
    check(all(abs(m[i][i] - 1) < 1e-3 for i in range(3)), "diagonal is 1")
    check(m[0][1] > 0.6 and m[0][2] < 0.2, f"food/bread similar, food/baby not: {m[0]}")

for args, needle in [(["-m", f32, "--num-ctx", "4", "--no-truncate", "one two three four"], "num_ctx 4"),
                     (["-m", "/nonexistent.gguf", "x"], "nonexistent"),
                     (["-m", f32, "--num-batch", "0", "x"], "num_batch")]:
    r = subprocess.run([embed, *args], capture_output=True, text=True)
    check(r.returncode == 1 and needle in r.stderr and len(r.stderr.splitlines()) == 1,
          f"{args}: exit {r.returncode}, stderr {r.stderr!r}")
r = subprocess.run([embed, "-m", f32, "--num-ctx", "4", "one two three four"], capture_output=True, text=True)
check(r.returncode == 0 and len(json.loads(r.stdout)["embeddings"]) == 1, "truncation is the default")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
