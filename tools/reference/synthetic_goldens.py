#!/usr/bin/env python3
"""Goldens for the architectures no small real model is available for (llama, gemma2): tiny
synthetic GGUF files with deterministic weights, run through llama.cpp.

  $(tools/reference/setup.sh) tools/reference/synthetic_goldens.py [OUT_DIR]

OUT_DIR defaults to tests/data/models. Writes synthetic-llama.txt, synthetic-llama-moe.txt (llama
with 4 experts, 2 per token: Mixtral's layout) and synthetic-gemma2.txt.

The files are described here and, identically, in tests/support/synthetic_models.hpp: the C++
test writes the same bytes with strata::gguf::writer and checks the sha256 recorded here, so
the two descriptions cannot drift apart. Keep them in step: same metadata keys, value types and
order; same tensors, order, types and values.

Weights (no numpy RNG): each tensor has its own splitmix64 stream seeded with
fnv1a64("<arch>:<tensor name>"); element i (row-major over (rows, cols)) takes the next draw z,
u = (z >> 40) * 2^-24, v = 2u - 1 in [-1, 1), all in double arithmetic, and is stored as
  matrices, embeddings:  f32(v * amp)
  norm gains:            f32(base + v * amp)
  rope_freqs:            f32(2.5 + 1.5 v)         (llama 3-style divisors in [1, 4))
Q8_0 matrices are drawn in the quantized domain, so no quantizer is involved: per block of 32,
one draw gives d = amp * (64 + z % 64) / 16384 (exact in fp16), then 32 draws give
q = (z % 255) - 127.

Output format (one line each; floats as %.9g, which round-trips f32):
  variant NAME | ARCH | SHA256 | BYTES
  tokens NAME | ID ...
  batch NAME POS | LOGIT x n_vocab        (all tokens in one llama_decode)
  step NAME POS | LOGIT x n_vocab         (one llama_decode per token)
"""
import hashlib
import os
import struct
import sys
import tempfile

import numpy as np
import gguf
from llama_cpp import Llama

MASK = (1 << 64) - 1

def splitmix64(state):
    """Returns (new_state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)

def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h

class Stream:
    def __init__(self, key):
        self.state = fnv1a64(key)
    def next(self):
        self.state, z = splitmix64(self.state)
        return z
    def uniform(self):  # in [-1, 1), exact in double
        return 2.0 * ((self.next() >> 40) * (1.0 / 16777216.0)) - 1.0

# ---- the models ---------------------------------------------------------------------------
N_VOCAB, N_EMBD, N_FF, N_LAYER, N_HEAD, N_HEAD_KV, HEAD_DIM, N_CTX = 300, 64, 128, 3, 4, 2, 16, 256
N_SWA = 8
SEQ_LEN = 24

N_EXPERT, N_EXPERT_USED = 4, 2

VARIANTS = [
    # name, arch, tied output, rope_freqs tensor, q8_0 matrices, experts (0: dense FFN)
    ("llama-f32", "llama", False, False, False, 0),
    ("llama-f32-tied-ropefreqs", "llama", True, True, False, 0),
    ("llama-q8_0", "llama", False, True, True, 0),
    ("gemma2-f32", "gemma2", True, False, False, 0),
    ("gemma2-q8_0", "gemma2", True, False, True, 0),
    ("llama-moe-f32", "llama", False, False, False, N_EXPERT),
    ("llama-moe-q8_0", "llama", False, True, True, N_EXPERT),
]

# amplitude of the matrices by tensor kind (exact binary fractions)
AMP = {"token_embd": 1.0, "output": 0.5, "attn_q": 0.5, "attn_k": 0.5, "attn_v": 0.25, "attn_output": 0.25,
       "ffn_gate": 0.25, "ffn_up": 0.25, "ffn_down": 0.125, "ffn_gate_inp": 0.5}
# norm gains: (base, amp); gemma2's output norm is large so the final soft-cap is well inside tanh's bend
NORM = {"attn_norm": (1.0, 0.25), "ffn_norm": (1.0, 0.25), "post_attention_norm": (1.0, 0.25),
        "post_ffw_norm": (1.0, 0.25), "output_norm": (1.0, 0.25)}
NORM_GEMMA2_OUTPUT = (2.0, 0.5)

def vocab():
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)
    pieces = ["\u2581" + chr(ord("a") + i) for i in range(26)] + \
             ["\u2581th", "\u2581he", "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of"]
    for i, p in enumerate(pieces):
        tokens.append(p)
        scores.append(float(-(i + 1)))
        types.append(1)
    assert len(tokens) == N_VOCAB
    return tokens, scores, types

def tensor_list(arch, tied, rope_freqs, experts=0):
    """(name, kind, rows, cols, mats); rows == 0: 1-D of cols; mats > 0: that many stacked
    (rows, cols) matrices (the experts), drawn in order."""
    t = [("token_embd.weight", "token_embd", N_VOCAB, N_EMBD, 0)]
    if rope_freqs:
        t.append(("rope_freqs.weight", "rope_freqs", 0, HEAD_DIM // 2, 0))
    t.append(("output_norm.weight", "output_norm", 0, N_EMBD, 0))
    if not tied:
        t.append(("output.weight", "output", N_VOCAB, N_EMBD, 0))
    nq, nkv = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    for il in range(N_LAYER):
        b = f"blk.{il}."
        t += [(b + "attn_norm.weight", "attn_norm", 0, N_EMBD, 0),
              (b + "attn_q.weight", "attn_q", nq, N_EMBD, 0),
              (b + "attn_k.weight", "attn_k", nkv, N_EMBD, 0),
              (b + "attn_v.weight", "attn_v", nkv, N_EMBD, 0),
              (b + "attn_output.weight", "attn_output", N_EMBD, nq, 0)]
        if arch == "gemma2":
            t.append((b + "post_attention_norm.weight", "post_attention_norm", 0, N_EMBD, 0))
        t.append((b + "ffn_norm.weight", "ffn_norm", 0, N_EMBD, 0))
        if experts:
            t += [(b + "ffn_gate_inp.weight", "ffn_gate_inp", experts, N_EMBD, 0),
                  (b + "ffn_gate_exps.weight", "ffn_gate", N_FF, N_EMBD, experts),
                  (b + "ffn_up_exps.weight", "ffn_up", N_FF, N_EMBD, experts),
                  (b + "ffn_down_exps.weight", "ffn_down", N_EMBD, N_FF, experts)]
        else:
            t += [(b + "ffn_gate.weight", "ffn_gate", N_FF, N_EMBD, 0),
                  (b + "ffn_up.weight", "ffn_up", N_FF, N_EMBD, 0),
                  (b + "ffn_down.weight", "ffn_down", N_EMBD, N_FF, 0)]
        if arch == "gemma2":
            t.append((b + "post_ffw_norm.weight", "post_ffw_norm", 0, N_EMBD, 0))
    return t

def f32_values(arch, name, kind, n):
    s = Stream(f"{arch}:{name}")
    if kind == "rope_freqs":
        return np.array([2.5 + 1.5 * s.uniform() for _ in range(n)], dtype=np.float32)
    if kind in NORM:
        base, amp = NORM_GEMMA2_OUTPUT if (arch == "gemma2" and kind == "output_norm") else NORM[kind]
        return np.array([base + s.uniform() * amp for _ in range(n)], dtype=np.float32)
    amp = AMP[kind]
    return np.array([s.uniform() * amp for _ in range(n)], dtype=np.float32)

def q8_0_bytes(arch, name, kind, rows, cols):
    s = Stream(f"{arch}:{name}")
    amp = AMP[kind]
    out = bytearray()
    for _ in range(rows * cols // 32):
        d = amp * float(64 + s.next() % 64) / 16384.0
        out += np.float16(d).tobytes()
        out += bytes(((s.next() % 255) - 127) & 0xFF for _ in range(32))
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(rows, cols // 32 * 34)

def write_gguf(path, arch, tied, rope_freqs, q8, experts):
    w = gguf.GGUFWriter(path, arch)  # general.architecture first
    w.add_string("general.name", f"strata-synthetic-{arch}")
    w.add_uint32(f"{arch}.context_length", N_CTX)
    w.add_uint32(f"{arch}.embedding_length", N_EMBD)
    w.add_uint32(f"{arch}.block_count", N_LAYER)
    w.add_uint32(f"{arch}.feed_forward_length", N_FF)
    w.add_uint32(f"{arch}.attention.head_count", N_HEAD)
    w.add_uint32(f"{arch}.attention.head_count_kv", N_HEAD_KV)
    w.add_uint32(f"{arch}.attention.key_length", HEAD_DIM)
    w.add_uint32(f"{arch}.attention.value_length", HEAD_DIM)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5 if arch == "llama" else 1e-6)
    w.add_uint32(f"{arch}.rope.dimension_count", HEAD_DIM)
    w.add_float32(f"{arch}.rope.freq_base", 10000.0)
    if experts:
        w.add_uint32(f"{arch}.expert_count", experts)
        w.add_uint32(f"{arch}.expert_used_count", N_EXPERT_USED)
    if arch == "gemma2":
        w.add_uint32("gemma2.attention.sliding_window", N_SWA)
        w.add_float32("gemma2.attn_logit_softcapping", 50.0)
        w.add_float32("gemma2.final_logit_softcapping", 30.0)
    tokens, scores, types = vocab()
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_array("tokenizer.ggml.scores", scores)
    w.add_array("tokenizer.ggml.token_type", types)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    w.add_uint32("tokenizer.ggml.unknown_token_id", 0)
    for name, kind, rows, cols, mats in tensor_list(arch, tied, rope_freqs, experts):
        shape = (mats, rows, cols) if mats else (rows, cols)
        n = max(mats, 1) * rows
        if rows == 0:
            w.add_tensor(name, f32_values(arch, name, kind, cols))
        elif q8 and kind != "ffn_gate_inp":  # the router stays f32, as llama-quantize leaves it
            b = q8_0_bytes(arch, name, kind, n, cols)
            w.add_tensor(name, b.reshape(shape[:-1] + (b.shape[-1],)), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, f32_values(arch, name, kind, n * cols).reshape(shape))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

def sequence(arch):
    s = Stream(f"{arch}:tokens")
    return [1] + [3 + int(s.next() % (N_VOCAB - 3)) for _ in range(SEQ_LEN - 1)]

def run_llama_cpp(path, tokens):
    llm = Llama(model_path=path, n_ctx=N_CTX, n_batch=512, n_ubatch=512, n_threads=1, n_threads_batch=1,
                logits_all=True, flash_attn=False, swa_full=True, verbose=False)
    assert llm.n_vocab() == N_VOCAB
    llm.reset()
    llm.eval(tokens)
    batch = np.array(llm.scores[:len(tokens)], dtype=np.float32).copy()
    llm.reset()
    for t in tokens:
        llm.eval([t])
    step = np.array(llm.scores[:len(tokens)], dtype=np.float32).copy()
    del llm
    return batch, step

def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "models")
    lines = {"llama": [], "llama-moe": [], "gemma2": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, tied, rope_freqs, q8, experts in VARIANTS:
            path = os.path.join(tmp, name + ".gguf")
            write_gguf(path, arch, tied, rope_freqs, q8, experts)
            data = open(path, "rb").read()
            sha = hashlib.sha256(data).hexdigest()
            tokens = sequence(arch)
            batch, step = run_llama_cpp(path, tokens)
            L = lines[arch + ("-moe" if experts else "")]
            L.append(f"variant {name} | {arch} | {sha} | {len(data)}")
            L.append(f"tokens {name} | " + " ".join(str(t) for t in tokens))
            for kind, logits in (("batch", batch), ("step", step)):
                for pos in range(len(tokens)):
                    L.append(f"{kind} {name} {pos} | " + " ".join(f"{x:.9g}" for x in logits[pos]))
            d = np.abs(batch - step).max()
            print(f"{name}: {len(data)} bytes sha256 {sha[:16]}; logit range [{batch.min():.3f}, {batch.max():.3f}]; "
                  f"llama.cpp batch vs step max |diff| {d:.3g}; argmax {list(batch.argmax(axis=1))}", file=sys.stderr)
    for arch, L in lines.items():
        with open(os.path.join(out_dir, f"synthetic-{arch}.txt"), "w", encoding="ascii") as f:
            f.write(f"# synthetic {arch} goldens from llama.cpp (llama-cpp-python {__import__('llama_cpp').__version__}, "
                    f"gguf-py {gguf.__version__ if hasattr(gguf, '__version__') else '?'}); written by "
                    "tools/reference/synthetic_goldens.py\n")
            f.write("\n".join(L) + "\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
