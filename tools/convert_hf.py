#!/usr/bin/env python3
"""Converts a Hugging Face BERT encoder (config.json, model.safetensors, vocab.txt) to GGUF.

  tools/convert_hf.py MODEL_DIR OUT.gguf --outtype f32|f16|q8_0 [--name NAME]

Needs the PyPI packages gguf, safetensors and numpy (tools/models runs it from a venv of its
own). Writes what llama.cpp's loader reads for the `bert` architecture, key for key and tensor
for tensor (names from gguf-py's constants), so that the same file runs in both engines:

  bert.context_length, embedding_length, feed_forward_length, block_count,
  attention.head_count, attention.layer_norm_epsilon, attention.causal = false, pooling_type
  tokenizer.ggml.model = "bert", the vocabulary in "phantom space" form (a word-initial piece
  gets U+2581 in front, a continuation piece loses its "##", [bracketed] specials stay as they
  are), the special ids ([CLS] as bos), token_type_count
  token_embd, position_embd, token_types, token_embd_norm, blk.N.attn_{q,k,v,output},
  blk.N.attn_output_norm, blk.N.ffn_{up,down}, blk.N.layer_output_norm (weights and biases)

Matrices take the output type (f16, or q8_0 through gguf-py's reference quantizer); vectors
(norms, biases) stay f32, and so do the two small embedding tables of positions and token
types. The pooling comes from the sentence-transformers 1_Pooling/config.json when there is
one (mean, cls, last), else mean.
"""
import argparse
import json
import pathlib
import sys

import numpy as np
from safetensors.numpy import load_file

import gguf

POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3}


def read_pooling(model_dir: pathlib.Path) -> int:
    cfg = model_dir / "1_Pooling" / "config.json"
    if not cfg.is_file():
        return POOLING["mean"]
    p = json.loads(cfg.read_text())
    if p.get("pooling_mode_mean_tokens"):
        return POOLING["mean"]
    if p.get("pooling_mode_cls_token"):
        return POOLING["cls"]
    if p.get("pooling_mode_lasttoken"):
        return POOLING["last"]
    raise SystemExit(f"{cfg}: no pooling mode that GGUF can say (mean, cls, last)")


def phantom(tok: str) -> str:
    if tok.startswith("[") and tok.endswith("]"):
        return tok
    if tok.startswith("##"):
        return tok[2:]
    return "\u2581" + tok


def read_vocab(model_dir: pathlib.Path):
    tokens = (model_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    specials = {}
    stm = model_dir / "special_tokens_map.json"
    if stm.is_file():
        for k, v in json.loads(stm.read_text()).items():
            specials[k] = v["content"] if isinstance(v, dict) else v
    for k, default in (("unk_token", "[UNK]"), ("cls_token", "[CLS]"), ("sep_token", "[SEP]"),
                       ("pad_token", "[PAD]"), ("mask_token", "[MASK]")):
        specials.setdefault(k, default)
    index = {t: i for i, t in enumerate(tokens)}
    ids = {}
    for k, text in specials.items():
        if text not in index:
            raise SystemExit(f"{model_dir}/vocab.txt: special token {text!r} ({k}) is not in the vocabulary")
        ids[k] = index[text]
    control = set(ids.values())
    types = [gguf.TokenType.CONTROL if i in control else gguf.TokenType.NORMAL for i in range(len(tokens))]
    return [phantom(t) for t in tokens], types, ids


def bert_tensors(st: dict, n_layer: int):
    """(gguf name, array) for every tensor the bert architecture needs, from HF names."""
    def get(name):
        for prefix in ("", "bert."):
            if prefix + name in st:
                return st[prefix + name]
        raise SystemExit(f"model.safetensors: tensor {name!r} is missing")

    yield "token_embd.weight", get("embeddings.word_embeddings.weight")
    yield "position_embd.weight", get("embeddings.position_embeddings.weight")
    yield "token_types.weight", get("embeddings.token_type_embeddings.weight")
    yield "token_embd_norm.weight", get("embeddings.LayerNorm.weight")
    yield "token_embd_norm.bias", get("embeddings.LayerNorm.bias")
    parts = {
        "attn_q": "attention.self.query", "attn_k": "attention.self.key", "attn_v": "attention.self.value",
        "attn_output": "attention.output.dense", "attn_output_norm": "attention.output.LayerNorm",
        "ffn_up": "intermediate.dense", "ffn_down": "output.dense", "layer_output_norm": "output.LayerNorm",
    }
    for il in range(n_layer):
        for ours, theirs in parts.items():
            for w in ("weight", "bias"):
                yield f"blk.{il}.{ours}.{w}", get(f"encoder.layer.{il}.{theirs}.{w}")


# Tables looked up by row, not multiplied: small, kept exact.
KEEP_F32 = {"position_embd.weight", "token_types.weight"}


def convert(model_dir: pathlib.Path, out: pathlib.Path, outtype: str, name: str) -> None:
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("model_type") != "bert" or cfg.get("position_embedding_type", "absolute") != "absolute":
        raise SystemExit(f"{model_dir}/config.json: only model_type 'bert' with absolute positions is converted")
    if cfg.get("hidden_act", "gelu") != "gelu":
        raise SystemExit(f"{model_dir}/config.json: hidden_act {cfg.get('hidden_act')!r} is not gelu")
    st = load_file(str(model_dir / "model.safetensors"))
    n_layer = int(cfg["num_hidden_layers"])
    tokens, types, ids = read_vocab(model_dir)
    if len(tokens) != int(cfg["vocab_size"]):
        raise SystemExit(f"{model_dir}: vocab.txt has {len(tokens)} tokens, config.json says {cfg['vocab_size']}")

    arch = "bert"
    w = gguf.GGUFWriter(str(out), arch)
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
    w.add_name(name)
    w.add_file_type(ftype)
    w.add_context_length(int(cfg["max_position_embeddings"]))
    w.add_embedding_length(int(cfg["hidden_size"]))
    w.add_feed_forward_length(int(cfg["intermediate_size"]))
    w.add_block_count(n_layer)
    w.add_head_count(int(cfg["num_attention_heads"]))
    w.add_layer_norm_eps(float(cfg.get("layer_norm_eps", 1e-12)))
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType(read_pooling(model_dir)))
    w.add_tokenizer_model("bert")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_type_count(int(cfg.get("type_vocab_size", 2)))
    w.add_unk_token_id(ids["unk_token"])
    w.add_sep_token_id(ids["sep_token"])
    w.add_pad_token_id(ids["pad_token"])
    w.add_bos_token_id(ids["cls_token"])  # gguf-py has no cls key any more: [CLS] is the bos
    w.add_mask_token_id(ids["mask_token"])

    for tname, arr in bert_tensors(st, n_layer):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.ndim == 1 or tname in KEEP_F32 or outtype == "f32":
            w.add_tensor(tname, arr)
        elif outtype == "f16":
            w.add_tensor(tname, arr.astype(np.float16))
        else:
            q = gguf.quants.quantize(arr, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(tname, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=pathlib.Path)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--outtype", choices=["f32", "f16", "q8_0"], default="f32")
    ap.add_argument("--name", default=None)
    args = ap.parse_args()
    convert(args.model_dir, args.out, args.outtype, args.name or args.model_dir.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
