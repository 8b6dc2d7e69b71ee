#!/usr/bin/env python3
"""strata-tokenize and strata-chat as a user runs them on the real gemma3 270M model:
token ids equal llama.cpp's (the committed goldens), `--raw -p` prints exactly the greedy
continuation on stdout, bad input exits 1 with one line on stderr.
Usage: chat_test.py STRATA_TOKENIZE STRATA_CHAT TOOLS_MODELS GOLDENS_JSON"""
import json
import os
import subprocess
import sys

tokenize, chat, models, goldens = sys.argv[1:5]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what)

path = subprocess.run([sys.executable, models, "path", "gemma3-270m-q4_k_m"], capture_output=True, text=True).stdout.strip()
if not path:
    if os.environ.get("CI"):
        sys.exit("gemma3 model missing in CI: tools/models fetch should have run")
    print("gemma3 model not fetched: skipped")
    sys.exit(0)
g = json.load(open(goldens, encoding="utf-8"))

for t in g["tokenize"][:12]:
    if not t["text"] or t["text"].startswith("-"):
        continue
    for flag, want in (([], t["ids"]), (["--parse-special"], t["ids_parse_special"])):
        r = subprocess.run([tokenize, "-m", path, *flag, "--", t["text"]], capture_output=True, text=True)
        got = [int(x) for x in r.stdout.split()]
        check(r.returncode == 0 and got == want, f"tokenize {t['text']!r} {flag}: {got} != {want}")
r = subprocess.run([tokenize, "-m", path, "--pieces", "Hello world"], capture_output=True, text=True)
check(r.stdout.splitlines()[:3] == ["2 '<bos>'", "9259 'Hello'", "1902 ' world'"], f"--pieces: {r.stdout!r}")

# --raw -p: stdout holds exactly the continuation; greedy (temperature 0, no penalty) follows
# llama.cpp's first tokens for this prompt (it agrees for 11 steps; 6 are asked for)
want = "".join(g["greedy"][0]["completion"])
r = subprocess.run([chat, "-m", path, "--raw", "-p", "The capital of France is", "--num-predict", "6",
                    "--temperature", "0", "--repeat-penalty", "1", "--num-thread", "2"], capture_output=True, text=True)
check(r.returncode == 0, f"chat --raw exit {r.returncode}: {r.stderr}")
check(r.stdout != "" and want.startswith(r.stdout), f"chat --raw stdout {r.stdout!r} is not a prefix of {want[:60]!r}")
check(r.stdout == " the capital of the country of", f"chat --raw stdout {r.stdout!r}")
print(f"chat --raw: {r.stdout!r}")

# one-shot chat through the model's chat format, with timings on stderr only
r = subprocess.run([chat, "-m", path, "-p", "Hi", "--num-predict", "4", "--seed", "1", "--verbose", "--num-thread", "2"],
                   capture_output=True, text=True)
check(r.returncode == 0 and "eval rate" in r.stderr and "eval rate" not in r.stdout, f"chat -p: {r.returncode} {r.stderr!r}")
# the engine plans its placement at load and --verbose says why and what each device holds;
# --num-gpu 0 keeps every layer on the CPU (also where a GPU is present)
r = subprocess.run([chat, "-m", path, "-p", "Hi", "--num-predict", "2", "--seed", "1", "--verbose", "--num-thread", "2"],
                   capture_output=True, text=True)
check(r.returncode == 0 and "plan: chose '" in r.stderr and "device CPU: weights" in r.stderr, f"chat --verbose: {r.returncode} {r.stderr!r}")
r = subprocess.run([chat, "-m", path, "-p", "Hi", "--num-predict", "2", "--seed", "1", "--verbose", "--num-thread", "2",
                    "--num-gpu", "0"], capture_output=True, text=True)
check(r.returncode == 0 and "plan: placement: CPU: blk 0-17, token_embd" in r.stderr and "device CPU: weights" in r.stderr
      and "device CUDA" not in r.stderr, f"chat --verbose --num-gpu 0: {r.returncode} {r.stderr!r}")

# interactive: commands, then a turn, then /bye
r = subprocess.run([chat, "-m", path, "--num-predict", "3", "--num-thread", "2"], input="/set parameter top_k 5\n/set parameter nope 1\nHello\n/clear\n/bye\n",
                   capture_output=True, text=True)
check(r.returncode == 0, f"interactive exit {r.returncode}")
for needle in ["Set parameter 'top_k' to '5'", "unknown sampling parameter 'nope'", "Cleared session context"]:
    check(needle in r.stderr, f"interactive stderr lacks {needle!r}")

# bad input: one line on stderr, exit 1
for args, needle in (([chat, "-m", "/nonexistent.gguf", "-p", "x"], "cannot open"),
                     ([chat, "-m", path, "--raw"], "--raw needs -p"),
                     ([chat, "-m", path, "--num-ctx", "4", "--raw", "-p", "a b c d e f g h i j"], "does not fit the context"),
                     ([tokenize, "-m", "/nonexistent.gguf", "x"], "cannot open")):
    r = subprocess.run(args, capture_output=True, text=True)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 1 and len(lines) >= 1 and needle in lines[-1], f"{args[1:]}: exit {r.returncode}, stderr {r.stderr!r}")

print("all passed" if not failures else f"{len(failures)} failed")
sys.exit(1 if failures else 0)
