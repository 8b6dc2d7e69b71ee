#!/usr/bin/env python3
"""Writes the GGUF fuzzer's seed corpus: small valid files covering every section of the format.

  tools/make_fuzz_corpus.py [OUT_DIR]     (default: tests/fuzz/corpus/gguf)

A GGUF writer of its own, in standard-library Python, written from the format description (not
from Strata's writer), so the seeds double as an independent check: tests/gguf parses each of
them. Deterministic: the same files every run. Each file stays under 4 KB so that libFuzzer's
mutations stay cheap.
"""
import os
import struct
import sys

# gguf value type tags
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
              BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}

# ggml type id -> (name, block elements, block bytes): the current types
GGML = {0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
        6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34), 9: ("q8_1", 32, 36),
        10: ("q2_K", 256, 84), 11: ("q3_K", 256, 110), 12: ("q4_K", 256, 144),
        13: ("q5_K", 256, 176), 14: ("q6_K", 256, 210), 15: ("q8_K", 256, 292),
        16: ("iq2_xxs", 256, 66), 17: ("iq2_xs", 256, 74), 18: ("iq3_xxs", 256, 98),
        19: ("iq1_s", 256, 50), 20: ("iq4_nl", 32, 18), 21: ("iq3_s", 256, 110),
        22: ("iq2_s", 256, 82), 23: ("iq4_xs", 256, 136), 24: ("i8", 1, 1), 25: ("i16", 1, 2),
        26: ("i32", 1, 4), 27: ("i64", 1, 8), 28: ("f64", 1, 8), 29: ("iq1_m", 256, 56),
        30: ("bf16", 1, 2), 34: ("tq1_0", 256, 54), 35: ("tq2_0", 256, 66), 39: ("mxfp4", 32, 17)}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def scalar(t, v):
    return struct.pack(SCALAR_FMT[t], v)


def array(t, items):
    """The bytes after an ARRAY tag: element type, count, elements (an ARRAY element is an
    (element type, items) pair)."""
    out = struct.pack("<IQ", t, len(items))
    for x in items:
        if t == STRING:
            out += gstr(x)
        elif t == ARRAY:
            out += array(*x)
        else:
            out += scalar(t, x)
    return out


def encode(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        return array(*v)
    return scalar(t, v)


def gguf(kvs=(), tensors=(), version=3, alignment=32):
    """kvs: (key, type, value); tensors: (name, dims, ggml type id). Tensor data is a byte
    pattern, each tensor at the next aligned offset."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, t, v in kvs:
        out += gstr(key) + struct.pack("<I", t) + encode(t, v)
    blobs, offset = [], 0
    for name, dims, type_id in tensors:
        _, be, bb = GGML[type_id]
        n = 1
        for d in dims:
            n *= d
        size = n // be * bb
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", type_id, offset)
        blobs.append((offset, bytes((i * 31 + type_id) & 255 for i in range(size))))
        offset += (size + alignment - 1) // alignment * alignment
    out += b"\0" * (-len(out) % alignment)
    data = bytearray(offset)
    for off, blob in blobs:
        data[off:off + len(blob)] = blob
    return out + bytes(data)


def seeds():
    yield "empty-v3", gguf()
    yield "empty-v2", gguf(version=2)
    yield "scalars-v2", gguf([
        ("u8", U8, 200), ("i8", I8, -100), ("u16", U16, 60000), ("i16", I16, -30000),
        ("u32", U32, 4000000000), ("i32", I32, -2000000000), ("f32", F32, 1.5),
        ("bool", BOOL, 1), ("str", STRING, "hello"), ("u64", U64, 2**64 - 1),
        ("i64", I64, -2**63), ("f64", F64, -0.25), ("empty", STRING, "")], version=2)
    yield "arrays", gguf([
        ("a.u8", ARRAY, (U8, [1, 2, 3])), ("a.i16", ARRAY, (I16, [-1, 1])),
        ("a.u32", ARRAY, (U32, [7])), ("a.f32", ARRAY, (F32, [0.5, -0.5])),
        ("a.bool", ARRAY, (BOOL, [1, 0, 1])), ("a.u64", ARRAY, (U64, [1 << 40])),
        ("a.f64", ARRAY, (F64, [3.25])), ("a.str", ARRAY, (STRING, ["a", "", b"\xff\xfe"])),
        ("a.empty", ARRAY, (I32, [])),
        ("a.nested", ARRAY, (ARRAY, [(U16, [1, 2]), (STRING, ["x"]), (ARRAY, [(BOOL, [1])]), (F32, [])]))])
    yield "invalid-utf8", gguf([("s", STRING, b"caf\xc3\xa9 \xc0\xaf \xed\xa0\x80 \x00 end")])
    yield "tensors-align64", gguf(
        [("general.architecture", STRING, "llama"), ("general.alignment", U32, 64)],
        [("a", [8, 2], 0), ("b", [32], 8), ("c", [256], 12)], alignment=64)
    yield "tensors-align1", gguf([("general.alignment", U32, 1)], [("x", [3], 1), ("y", [5], 24)], alignment=1)
    yield "tiny-llama", gguf([
        ("general.architecture", STRING, "llama"), ("general.name", STRING, "tiny"),
        ("general.file_type", U32, 15), ("llama.context_length", U32, 2048),
        ("llama.embedding_length", U32, 256), ("llama.block_count", U32, 1),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<unk>", "<s>", "</s>", "\u2581a", "b"])),
        ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, 0.0, 0.0, -1.0, -2.0])),
        ("tokenizer.ggml.token_type", ARRAY, (I32, [2, 3, 3, 1, 1]))],
        [("token_embd.weight", [256, 1], 14), ("blk.0.attn_norm.weight", [8], 0),
         ("blk.0.attn_q.weight", [256, 1], 12), ("output_norm.weight", [4], 0)])
    # Every ggml type once (one block), in two files to keep each small.
    ids = sorted(GGML)
    for part, chunk in enumerate((ids[:16], ids[16:])):
        yield f"all-types-{part}", gguf([], [(GGML[i][0], [GGML[i][1]], i) for i in chunk])


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus", "gguf")
    os.makedirs(out_dir, exist_ok=True)
    for name, data in seeds():
        assert len(data) < 4096, (name, len(data))
        with open(os.path.join(out_dir, name + ".gguf"), "wb") as f:
            f.write(data)
        print(f"{name}.gguf {len(data)} bytes")


if __name__ == "__main__":
    main()
