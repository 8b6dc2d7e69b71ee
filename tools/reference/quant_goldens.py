#!/usr/bin/env python3
"""Writes the golden blocks the quantization tests compare against.

References (never copied, only called):
  * ggml's own C reference functions (quantize_row_*_ref, ggml_quantize_chunk, dequantize_row_*)
    in the libggml-base that PyPI's llama-cpp-python builds, called through ctypes;
  * the `gguf` PyPI package's numpy (de)quantizers, where it has the format: the script checks
    that both references agree bit for bit and records which ones did.

Run:  $(tools/reference/setup.sh) tools/reference/quant_goldens.py [--out tests/data/quant]

Each tests/data/quant/<name>.golden (little endian):
  char[4] "STQG"; u32 version=1; u32 ggml type id; u32 n_rows; u32 n_per_row; u32 n_rand_blocks;
  u32 references (bit 0: ggml C quantize, 1: ggml C dequantize, 2: gguf-py quantize agrees,
                  3: gguf-py dequantize agrees)
  f32 input[n_rows * n_per_row]          random rows of several distributions
  u8  quantized[n_rows * row_bytes]      the reference quantizer's output for input
  f32 dequantized[n_rows * n_per_row]    the reference dequantization of `quantized`
  f64 sq_error[n_rows]                   sum over the row of (dequantized - input)^2, in f64
  u8  rand_blocks[n_rand_blocks * block_bytes]  random bytes (float fields made finite)
  f32 rand_dequantized[n_rand_blocks * block_elems]
"""
import argparse
import ctypes
import os
import pathlib
import struct
import sys

import numpy as np

# name: (ggml type id, block elems, block bytes, byte offsets of fp16 fields, f32 fields)
FORMATS = {
    "f32":    (0, 1, 4, [], [0]),
    "f16":    (1, 1, 2, [0], []),
    "bf16":   (30, 1, 2, [], []),  # bf16 bits: made finite separately
    "q4_0":   (2, 32, 18, [0], []),
    "q4_1":   (3, 32, 20, [0, 2], []),
    "q5_0":   (6, 32, 22, [0], []),
    "q5_1":   (7, 32, 24, [0, 2], []),
    "q8_0":   (8, 32, 34, [0], []),
    "q8_1":   (9, 32, 36, [0, 2], []),
    "q2_K":   (10, 256, 84, [80, 82], []),
    "q3_K":   (11, 256, 110, [108], []),
    "q4_K":   (12, 256, 144, [0, 2], []),
    "q5_K":   (13, 256, 176, [0, 2], []),
    "q6_K":   (14, 256, 210, [208], []),
    "q8_K":   (15, 256, 292, [], [0]),
    "iq4_nl": (20, 32, 18, [0], []),
    "iq4_xs": (23, 256, 136, [0], []),
    "mxfp4":  (39, 32, 17, [], []),
}
N_ROWS, N_PER_ROW, N_RAND_BLOCKS_ELEMS = 32, 512, 8192

def find_ggml():
    import llama_cpp
    lib = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    return ctypes.CDLL(str(lib))

def make_input(rng):
    """Rows of the shapes weights and activations really have, and the corner cases."""
    rows = []
    for r in range(N_ROWS):
        kind = r % 8
        if kind == 0:   x = rng.standard_normal(N_PER_ROW)
        elif kind == 1: x = rng.uniform(-1, 1, N_PER_ROW) * 0.02          # small weights
        elif kind == 2: x = rng.standard_t(3, N_PER_ROW)                  # heavy tails
        elif kind == 3:                                                   # outliers
            x = rng.standard_normal(N_PER_ROW) * 0.1
            x[rng.integers(0, N_PER_ROW, 8)] *= 100
        elif kind == 4: x = np.abs(rng.standard_normal(N_PER_ROW))        # one-signed
        elif kind == 5: x = -np.abs(rng.standard_normal(N_PER_ROW)) * 3
        elif kind == 6:                                                   # zero / constant blocks
            x = rng.standard_normal(N_PER_ROW)
            x[:64] = 0.0
            x[64:128] = 0.75
            x[128:160] = -2.5
        else:           x = rng.standard_normal(N_PER_ROW) * 1e3          # large values
        rows.append(x)
    return np.ascontiguousarray(np.stack(rows).astype(np.float32))

def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)

def ggml_quantize(lib, name, x):
    tid, be, bb, _, _ = FORMATS[name]
    n = x.size
    out = np.zeros(n // be * bb, dtype=np.uint8)
    if name == "f32":
        out[:] = x.reshape(-1).view(np.uint8)
    elif name == "f16":
        lib.ggml_fp32_to_fp16_row(ptr(x), ptr(out), ctypes.c_int64(n))
    elif name == "bf16":
        lib.ggml_fp32_to_bf16_row_ref(ptr(x), ptr(out), ctypes.c_int64(n))
    elif name in ("q8_1", "q8_K"):  # activation formats: not in ggml_quantize_chunk
        getattr(lib, f"quantize_row_{name}_ref")(ptr(x), ptr(out), ctypes.c_int64(n))
    else:
        lib.ggml_quantize_init(ctypes.c_int(tid))
        lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        written = lib.ggml_quantize_chunk(ctypes.c_int(tid), ptr(x), ptr(out), ctypes.c_int64(0),
                                          ctypes.c_int64(x.shape[0]), ctypes.c_int64(x.shape[1]), None)
        assert written == out.size, (name, written, out.size)
    return out

def ggml_dequantize(lib, name, q, n):
    tid, be, bb, _, _ = FORMATS[name]
    y = np.zeros(n, dtype=np.float32)
    if name == "f32":
        y[:] = q.view(np.float32)
    elif name == "f16":
        lib.ggml_fp16_to_fp32_row(ptr(q), ptr(y), ctypes.c_int64(n))
    elif name == "bf16":
        lib.ggml_bf16_to_fp32_row(ptr(q), ptr(y), ctypes.c_int64(n))
    elif name == "q8_1":
        # ggml has no to_float for Q8_1 (it is only an activation format); its meaning is
        # qs * d, with s = d * sum(qs) a cached sum that dequantization does not use.
        blocks = q.reshape(-1, bb)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
        qs = blocks[:, 4:].view(np.int8).astype(np.float32)
        y[:] = (qs * d).reshape(-1)
    else:
        getattr(lib, f"dequantize_row_{name}")(ptr(q), ptr(y), ctypes.c_int64(n))
    return y

def gguf_py(name):
    try:
        import gguf
        qt = getattr(gguf.GGMLQuantizationType, name.upper())
        return gguf.quants, qt
    except Exception:
        return None, None

def random_blocks(rng, name):
    tid, be, bb, f16_offsets, f32_offsets = FORMATS[name]
    nb = max(N_RAND_BLOCKS_ELEMS // be, 64)
    raw = rng.integers(0, 256, size=(nb, bb), dtype=np.uint8)
    for off in f16_offsets:  # finite halves of moderate size, both signs
        h = (rng.standard_normal(nb) * 0.05).astype(np.float16)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(nb, 2)
    for off in f32_offsets:
        f = (rng.standard_normal(nb) * 2).astype(np.float32)
        raw[:, off:off + 4] = f.view(np.uint8).reshape(nb, 4)
    if name == "mxfp4":  # shared exponent 2^(e-127): keep e*12 finite, include subnormal e < 2
        raw[:, 0] = rng.integers(100, 160, nb, dtype=np.uint8)
        raw[:4, 0] = [0, 1, 2, 127]
    if name == "bf16":
        f = (rng.standard_normal(nb) * 10).astype(np.float32)
        raw[:, :] = (f.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(nb, 2)
    return np.ascontiguousarray(raw), nb

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parents[2] / "tests/data/quant"))
    ap.add_argument("--seed", type=int, default=20261201)
    args = ap.parse_args()
    lib = find_ggml()
    os.makedirs(args.out, exist_ok=True)
    for k, (name, (tid, be, bb, _, _)) in enumerate(FORMATS.items()):
        rng = np.random.default_rng(args.seed + k)
        x = make_input(rng)
        q = ggml_quantize(lib, name, x)
        y = ggml_dequantize(lib, name, q, x.size)
        refs = 0b11
        gq, qt = gguf_py(name)
        if gq is not None and name not in ("f32",):
            try:
                yq = gq.dequantize(q.reshape(N_ROWS, -1), qt).astype(np.float32).reshape(-1)
                assert np.array_equal(yq.view(np.uint32), y.view(np.uint32)), f"{name}: gguf-py dequantize differs from ggml"
                refs |= 0b1000
            except NotImplementedError:
                pass
            try:
                qq = np.ascontiguousarray(gq.quantize(x, qt)).reshape(-1).view(np.uint8)
                assert np.array_equal(qq, q), f"{name}: gguf-py quantize differs from ggml"
                refs |= 0b100
            except NotImplementedError:
                pass
        err = ((y.astype(np.float64) - x.astype(np.float64).reshape(-1)) ** 2).reshape(N_ROWS, -1).sum(axis=1)
        rb, nb = random_blocks(rng, name)
        ry = ggml_dequantize(lib, name, rb.reshape(-1), nb * be)
        assert np.all(np.isfinite(ry)), name
        path = pathlib.Path(args.out) / f"{name}.golden"
        with open(path, "wb") as f:
            f.write(b"STQG" + struct.pack("<6I", 1, tid, N_ROWS, N_PER_ROW, nb, refs))
            for a in (x, q, y, err, rb, ry):
                f.write(np.ascontiguousarray(a).tobytes())
        print(f"{name:7s} type {tid:2d}: {N_ROWS}x{N_PER_ROW} + {nb} random blocks, references 0b{refs:04b} -> {path.name}")

if __name__ == "__main__":
    sys.exit(main())
