#!/usr/bin/env python3
"""Writes the model-fidelity goldens from llama.cpp (PyPI llama-cpp-python, see setup.sh):
token ids of test strings, greedy continuations with and without the chat template, and the
top-20 logits at several positions.

  $(tools/reference/setup.sh) tools/reference/model_goldens.py MODEL.gguf OUT.json [--chat gemma]

Writes OUT.json (for people) and OUT.txt (the same, for the C++ tests).

Conventions, chosen to be the ones Strata's tests and tools use:
  * tokenization: llama_tokenize with add_special=True; once with parse_special=False (plain
    text, `strata-tokenize`'s default) and once with parse_special=True (`--parse-special`);
  * prompts: tokenized with add_special=True, parse_special=True (as llama-cli does);
  * greedy: argmax of the logits, prompt evaluated in one batch, then one token at a time;
  * every step records the gap between the two best logits, so a test may accept a
    divergence only where llama.cpp itself was close to a tie;
  * llama.cpp's portable CPU kernels: weight repacking for AMX ("extra buffer types") is off.
    On a CPU with AMX llama.cpp's two paths differ from each other by up to 1.3 in the logits
    of gemma3 270M (tiny float differences are amplified where activations are re-quantized to
    Q8 before each matrix product), so the goldens name the path they come from.
"""
import argparse
import json
import sys

import numpy as np
from llama_cpp import Llama

STRINGS = [
    "Hello world", " Hello world", "Hello World!", "hello, world.", "", " ", "  ", "   ", "\t", "\n",
    "\n\n", "\n\n\n", " \n \n", "a  b   c    d", "trailing spaces   ", "   leading spaces",
    "The quick brown fox jumps over the lazy dog.", "I'm sure it's 42, isn't it?", "don't DON'T Don't",
    "3.14159 + 2.71828 = 5.85987", "1234567890 12 345 6789", "$100,000.00 and 50%",
    "def add(a, b):\n    return a + b\n", "for (int i = 0; i < n; ++i) { sum += x[i]; }",
    "<html><body class=\"x\">text</body></html>", "SELECT * FROM users WHERE id = 7;",
    "日本語のテキストです。", "こんにちは、世界！", "東京タワーは333メートルです", "中文测试，你好",
    "Привет, мир!", "Ελληνικά κείμενα", "עברית", "مرحبا بالعالم", "🙂😀👍🏽", "emoji 🚀 in text ✨",
    "naïve café résumé", "Zürich straße", "<start_of_turn>user\nhi<end_of_turn>",
    "<bos>text<eos>", "<|im_start|>system", "[INST] hi [/INST]", "e\u0301", "\u00a0non-breaking",
    "tabs\tand\tnewlines\nmixed \t\n end", "UPPER lower MiXeD", "a" * 60, "ab" * 30,
    "https://example.com/path?q=1&r=2#frag", "user@example.com",
]

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):",
    "Water boils at a temperature of",
    "日本の首都は",
    "List three colors:\n1.",
]
CHAT = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain what a CPU does in one sentence.",
    "Translate 'good morning' into Japanese.",
    "What is 12 times 7?",
    "Name three planets.",
]

def render_chat(fmt, user):
    if fmt == "gemma":
        return f"<start_of_turn>user\n{user.strip()}<end_of_turn>\n<start_of_turn>model\n"
    if fmt == "chatml":
        return f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    if fmt == "llama3":
        return f"<|start_header_id|>user<|end_header_id|>\n\n{user.strip()}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    raise SystemExit(f"unknown chat format {fmt}")

def top(logits, k=20):
    idx = np.argsort(-logits, kind="stable")[:k]
    return [[int(i), float(logits[i])] for i in idx]

def greedy(llm, prompt_tokens, n_predict, record_at):
    llm.reset()
    llm.eval(prompt_tokens)
    out, gaps, tops = [], [], {}
    for step in range(n_predict):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        order = np.argsort(-logits, kind="stable")
        tok = int(order[0])
        gaps.append(float(logits[order[0]] - logits[order[1]]))
        if step in record_at:
            tops[str(step)] = top(logits)
        out.append(tok)
        if llm.token_eos() == tok or tok in (106,):  # stop at EOS / gemma end_of_turn
            break
        llm.eval([tok])
    return out, gaps, tops

def portable_kernels():
    """Turns off llama.cpp's weight repacking into extra buffer types (AMX and the like)."""
    from llama_cpp import llama_cpp as L
    default = L.llama_model_default_params
    def params():
        p = default()
        p.use_extra_bufts = False
        return p
    L.llama_model_default_params = params

def main():
    portable_kernels()
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--chat", default="gemma")
    ap.add_argument("--n-predict", type=int, default=64)
    args = ap.parse_args()
    llm = Llama(model_path=args.model, n_ctx=2048, n_batch=512, n_threads=1, logits_all=True,
                verbose=False, flash_attn=False)
    result = {"model": args.model.split("/")[-1], "llama_cpp_python": __import__("llama_cpp").__version__,
              "kernels": "portable (use_extra_bufts=False)",
              "n_ctx": 2048, "tokenize": [], "greedy": []}
    for s in STRINGS:
        b = s.encode("utf-8")
        result["tokenize"].append({"text": s,
                                   "ids": llm.tokenize(b, add_bos=True, special=False),
                                   "ids_parse_special": llm.tokenize(b, add_bos=True, special=True)})
    record_at = {0, 1, 8, 16, 32, 63}
    for kind, prompts in (("raw", PROMPTS), ("chat", CHAT)):
        for p in prompts:
            text = p if kind == "raw" else render_chat(args.chat, p)
            toks = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
            out, gaps, tops = greedy(llm, toks, args.n_predict, record_at)
            result["greedy"].append({"kind": kind, "prompt": p, "text": text, "prompt_ids": toks,
                                     "ids": out, "top2_gap": gaps, "top20": tops,
                                     "completion": llm.detokenize(out).decode("utf-8", "replace")})
            print(f"{kind}: {p!r} -> {result['greedy'][-1]['completion'][:60]!r}", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
    write_text(result, args.out.rsplit(".", 1)[0] + ".txt")
    return 0

def write_text(result, path):
    """The same goldens as lines a C++ test reads without a JSON parser; texts are hex bytes.
      tokenize HEX | IDS | IDS_PARSE_SPECIAL
      greedy KIND HEX | PROMPT_IDS | IDS | TOP2_GAPS
      top20 GREEDY_INDEX STEP | ID LOGIT ID LOGIT ...
    """
    ints = lambda xs: " ".join(str(x) for x in xs)
    with open(path, "w", encoding="ascii") as f:
        for t in result["tokenize"]:
            f.write(f"tokenize {t['text'].encode('utf-8').hex() or '-'} | {ints(t['ids'])} | {ints(t['ids_parse_special'])}\n")
        for i, g in enumerate(result["greedy"]):
            gaps = " ".join(f"{x:.6g}" for x in g["top2_gap"])
            f.write(f"greedy {g['kind']} {g['text'].encode('utf-8').hex()} | {ints(g['prompt_ids'])} | {ints(g['ids'])} | {gaps}\n")
            for step, top in sorted(g["top20"].items(), key=lambda kv: int(kv[0])):
                f.write(f"top20 {i} {step} | " + " ".join(f"{a} {b:.7g}" for a, b in top) + "\n")

if __name__ == "__main__":
    sys.exit(main())
