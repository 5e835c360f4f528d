#!/usr/bin/env python3
"""Writes the GGUF fixtures in tests/data/gguf/ with the `gguf` package.

dequant.gguf: for every ggml type the C++ dequantizer supports, a tensor
"<TYPE>" of shape (8, 512) with its quantized blocks, and an F32 tensor
"<TYPE>.expected" holding gguf.quants.dequantize of those blocks: the C++
test compares the two bit for bit. Types that gguf can quantize are made with
gguf.quants.quantize from random data; the k-quants (which gguf can only
dequantize) get random raw blocks whose fp16 scales are random finite values,
including subnormals and negatives, so every code and scale path is covered.

tiny-llama.gguf: a 2-layer llama (hidden 32, 4 heads, 2 KV heads) with a
byte-level BPE tokenizer cut from GPT-2's (the first 400 tokens, the merges
among them, and <|endoftext|> as a CONTROL token), tensors in F32, Q8_0, Q4_0
and Q4_1, q/k rows permuted with llama.cpp's converter formula; its layer-0
q_proj/k_proj in HF row order are in tiny-llama.hf-qk.safetensors, so the
importer's un-permutation is checked against the converter's permutation.

metadata.gguf: one key of every metadata value type (incl. a nested array
and an empty string), general.alignment = 64 and two small tensors, for the
reader's round-trip test.

Run: .venv/bin/python tests/python/gen_gguf_fixtures.py [OUT_DIR]
(deterministic: seeded; re-running rewrites identical files).
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

ROWS, COLS = 8, 512

QUANTIZABLE = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]
RAW_ONLY = [T.Q4_K, T.Q5_K, T.Q6_K]


def random_f16(rng, n):
    """Finite fp16 values of both signs over a wide range, some subnormal."""
    mags = 10.0 ** rng.uniform(-6.5, 0.5, size=n)  # 1e-6.5 is below fp16's normal range
    signs = np.where(rng.random(n) < 0.3, -1.0, 1.0)
    h = (mags * signs).astype(np.float16)
    assert np.all(np.isfinite(h))
    return h


def raw_k_blocks(rng, qtype, n_blocks):
    """Random bytes for every field, then finite fp16 values in the scale fields."""
    _, type_size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if qtype in (T.Q4_K, T.Q5_K):  # d and dmin lead the block
        blocks[:, 0:2] = random_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
        blocks[:, 2:4] = random_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    elif qtype == T.Q6_K:  # d ends the block
        blocks[:, type_size - 2:] = random_f16(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return blocks


def write_dequant(path, rng):
    w = gguf.GGUFWriter(path, arch="fixture")
    for qtype in QUANTIZABLE + RAW_ONLY:
        block_size, type_size = GGML_QUANT_SIZES[qtype]
        if qtype in QUANTIZABLE:
            data = (rng.standard_normal((ROWS, COLS)) * rng.uniform(0.01, 2.0, size=(ROWS, 1))).astype(np.float32)
            data[0, :block_size] = 0.0  # an all-zero block (scale 0)
            raw = gguf.quants.quantize(data, qtype)
        else:
            raw = raw_k_blocks(rng, qtype, ROWS * COLS // block_size).reshape(ROWS, COLS // block_size * type_size)
        expected = gguf.quants.dequantize(raw, qtype).astype(np.float32, copy=False)
        assert expected.shape == (ROWS, COLS) and np.all(np.isfinite(expected)), qtype.name
        if qtype in QUANTIZABLE and qtype not in (T.F32, T.F16, T.BF16):
            w.add_tensor(qtype.name, raw.view(np.uint8), raw_dtype=qtype)
        elif qtype in (T.F32, T.F16):
            w.add_tensor(qtype.name, raw)
        else:
            w.add_tensor(qtype.name, np.ascontiguousarray(raw).view(np.uint8), raw_dtype=qtype)
        w.add_tensor(qtype.name + ".expected", np.ascontiguousarray(expected))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_metadata(path):
    V = gguf.GGUFValueType
    w = gguf.GGUFWriter(path, arch="fixture")
    w.data_alignment = 64
    w.add_uint32("general.alignment", 64)
    w.add_key_value("test.u8", 200, V.UINT8)
    w.add_key_value("test.i8", -100, V.INT8)
    w.add_key_value("test.u16", 60000, V.UINT16)
    w.add_key_value("test.i16", -30000, V.INT16)
    w.add_key_value("test.u32", 4000000000, V.UINT32)
    w.add_key_value("test.i32", -2000000000, V.INT32)
    w.add_key_value("test.u64", 18000000000000000000, V.UINT64)
    w.add_key_value("test.i64", -9000000000000000000, V.INT64)
    w.add_key_value("test.f32", 0.1, V.FLOAT32)
    w.add_key_value("test.f64", 0.1, V.FLOAT64)
    w.add_key_value("test.bool_true", True, V.BOOL)
    w.add_key_value("test.bool_false", False, V.BOOL)
    w.add_key_value("test.string", "héllo GGUF ✓", V.STRING)
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_key_value("test.array_i32", [1, -2, 3], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.array_string", ["a", "", "ccc"], V.ARRAY, sub_type=V.STRING)
    w.add_key_value("test.array_nested", [[1, 2], [3]], V.ARRAY)
    w.add_tensor("small.f32", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.add_tensor("small.f16", np.array([1.5, -2.0, 65504.0, 6.1e-5], dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_cpp_permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute, verbatim in numpy."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def write_tiny_llama(path, hf_qk_path, gpt2_tokenizer_json, rng):
    import json
    from safetensors.numpy import save_file

    hidden, ffn, heads, kv_heads, layers = 32, 64, 4, 2, 2
    head_dim = hidden // heads
    tok = json.load(open(gpt2_tokenizer_json, encoding="utf-8"))
    by_id = {i: t for t, i in tok["model"]["vocab"].items()}
    n_normal = 400
    tokens = [by_id[i] for i in range(n_normal)] + ["<|endoftext|>"]
    in_vocab = set(tokens)
    merges = []
    for m in tok["model"]["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        if a in in_vocab and b in in_vocab and a + b in in_vocab:
            merges.append(f"{a} {b}")
    vocab = len(tokens)

    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name("tiny-llama fixture")
    w.add_block_count(layers)
    w.add_context_length(256)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([1] * n_normal + [3])
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab - 1)
    w.add_eos_token_id(vocab - 1)
    w.add_add_bos_token(False)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")

    def tensor(name, shape, qtype):
        data = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        if qtype == T.F32:
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    tensor("token_embd.weight", (vocab, hidden), T.Q8_0)
    hf_qk = {}
    for l in range(layers):
        blk = f"blk.{l}."
        tensor(blk + "attn_norm.weight", (hidden,), T.F32)
        for name, rows, n_kv in (("attn_q", heads * head_dim, heads), ("attn_k", kv_heads * head_dim, kv_heads)):
            hf = (rng.standard_normal((rows, hidden)) * 0.1).astype(np.float32)
            if l == 0:
                hf_qk[f"model.layers.0.self_attn.{'q' if name == 'attn_q' else 'k'}_proj.weight"] = hf
            w.add_tensor(blk + name + ".weight", np.ascontiguousarray(llama_cpp_permute(hf, heads, n_kv if name == "attn_k" else heads)))
        tensor(blk + "attn_v.weight", (kv_heads * head_dim, hidden), T.Q4_1)
        tensor(blk + "attn_output.weight", (hidden, hidden), T.Q8_0)
        tensor(blk + "ffn_norm.weight", (hidden,), T.F32)
        tensor(blk + "ffn_gate.weight", (ffn, hidden), T.Q4_0)
        tensor(blk + "ffn_up.weight", (ffn, hidden), T.Q4_1)
        tensor(blk + "ffn_down.weight", (hidden, ffn), T.Q4_0)
    tensor("output_norm.weight", (hidden,), T.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    save_file(hf_qk, hf_qk_path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "gguf")
    os.makedirs(out, exist_ok=True)
    write_dequant(os.path.join(out, "dequant.gguf"), np.random.default_rng(20261123))
    write_metadata(os.path.join(out, "metadata.gguf"))
    shared = os.environ.get("GLQ_SHARED_DATA", os.path.join(here, "..", "..", "..", "shared", "data"))
    write_tiny_llama(os.path.join(out, "tiny-llama.gguf"), os.path.join(out, "tiny-llama.hf-qk.safetensors"),
                     os.path.join(shared, "tokenizers", "gpt2", "tokenizer.json"), np.random.default_rng(7))


if __name__ == "__main__":
    main()
