#!/usr/bin/env python3
"""End-to-end check of `glqw import-gguf` on the demo model (SmolLM2-135M-Instruct Q4_1).

1. Weights: every imported tensor equals gguf-py's dequantization of the GGUF
   tensor after the HF name mapping and the inverse of llama.cpp's Q/K
   permutation (f32 import, bit for bit), and the bf16 import is the
   round-to-nearest-even of the f32 one.
2. config.json agrees with SmolLM2-135M-Instruct's HF config on every
   architectural key.
3. Tokenizer: HF `tokenizers` gives the same ids with the imported
   tokenizer.json as with the original on thousands of lines of WikiText-2
   and on special-token strings.
4. transformers loads the imported directory (fp32, CPU) and greedily answers
   "What is the capital of France?" with Paris.

Before that, a SentencePiece llama built here the way llama.cpp's converter
builds one (stories260K from the shared data: HF weights permuted with the
converter's `permute`, tok512's pieces and scores, SentencePiece token
types) is imported: its weights must come back equal to the HF original, its
tokenizer must give the HF tokenizer's ids, and transformers must reproduce
the model's greedy golden output; and a llama with Qwen's byte-level vocab and
tokenizer.ggml.pre "qwen2" must tokenize as Qwen3's tokenizer.json and pass
llama.cpp's qwen2 test vectors.

Exit 77 (skip) only when the demo GGUF is missing (after those two checks).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SOURCE = os.environ.get("GLQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("GLQ_SHARED_DATA", os.path.join(SOURCE, "..", "shared", "data"))
GGUF_PATH = os.path.join(SOURCE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
GLQW = os.environ.get("GLQW", os.path.join(SOURCE, "build", "app", "glqw"))

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL:", message, flush=True)


# ---- independent re-statement of the importer's rules -----------------------

LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}


def hf_name(name):
    fixed = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if name in fixed:
        return fixed[name]
    _, layer, rest = name.split(".", 2)
    return f"model.layers.{layer}.{LAYER_NAMES[rest]}"


def llama_cpp_permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py LlamaModel.permute, verbatim."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def llama_cpp_unpermute(weights, n_head):
    return (weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def bf16_rne(f32):
    bits = f32.view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def run_import(out_dir, *extra, gguf=GGUF_PATH):
    cmd = [GLQW, "import-gguf", gguf, out_dir, *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    print(" ".join(cmd), "->", result.returncode, result.stdout.strip(), result.stderr.strip()[-500:], flush=True)
    if result.returncode != 0:
        print("import failed", file=sys.stderr)
        sys.exit(1)


def write_stories_gguf(path):
    """stories260K as llama.cpp's convert_hf_to_gguf.py would write it (F32 tensors, SentencePiece vocab)."""
    import struct
    import gguf
    from safetensors.numpy import load_file

    root = os.path.join(SHARED, "models", "stories260K")
    cfg = json.load(open(os.path.join(root, "config.json")))
    hf_tok = json.load(open(os.path.join(root, "tokenizer.json"), encoding="utf-8"))
    tokens = [t for t, _ in sorted(hf_tok["model"]["vocab"].items(), key=lambda kv: kv[1])]
    # tok512.bin (llama2.c): i32 max length, then per piece f32 score, i32 length, bytes.
    with open(os.path.join(root, "llama2c", "tok512.bin"), "rb") as f:
        raw = f.read()
    pos, scores = 4, []
    for i in range(len(tokens)):
        score, n = struct.unpack_from("<fi", raw, pos)
        piece = raw[pos + 8:pos + 8 + n].decode("utf-8")
        pos += 8 + n
        if i > 2:  # llama2.c writes spaces for the SentencePiece space and rewrites <s>/</s>
            assert piece.replace(" ", "\u2581") == tokens[i], (i, piece, tokens[i])
        scores.append(score)
    types = []
    for i, t in enumerate(tokens):
        if i == 0:
            types.append(gguf.TokenType.UNKNOWN)
        elif i in (1, 2):
            types.append(gguf.TokenType.CONTROL)
        elif t.startswith("<0x") and t.endswith(">") and len(t) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)

    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name("stories260K")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_rope_dimension_count(cfg["head_dim"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    reverse = {v: k for k, v in LAYER_NAMES.items()}
    for name, value in load_file(os.path.join(root, "model.safetensors")).items():
        if name == "model.embed_tokens.weight":
            gname = "token_embd.weight"
        elif name == "model.norm.weight":
            gname = "output_norm.weight"
        else:
            _, _, layer, rest = name.split(".", 3)
            gname = f"blk.{layer}.{reverse[rest]}"
        if name.endswith("q_proj.weight"):
            value = llama_cpp_permute(value, n_head, n_head)
        elif name.endswith("k_proj.weight"):
            value = llama_cpp_permute(value, n_head, n_kv)
        w.add_tensor(gname, np.ascontiguousarray(value))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return root


def check_sentencepiece_llama(tmp):
    import torch
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    gguf_path = os.path.join(tmp, "stories260K.gguf")
    root = write_stories_gguf(gguf_path)
    out = os.path.join(tmp, "stories")
    run_import(out, "--dtype", "f32", gguf=gguf_path)

    ours, ref = load_file(os.path.join(out, "model.safetensors")), load_file(os.path.join(root, "model.safetensors"))
    check(sorted(ours) == sorted(ref), "stories260K: tensor names differ from the HF original")
    same = [k for k in ref if k in ours and np.array_equal(ours[k], ref[k])]
    check(len(same) == len(ref), f"stories260K: only {len(same)}/{len(ref)} tensors equal the HF original "
                                 f"(differ: {sorted(set(ref) - set(same))[:4]})")

    cfg, ref_cfg = json.load(open(os.path.join(out, "config.json"))), json.load(open(os.path.join(root, "config.json")))
    for k in ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling",
              "tie_word_embeddings", "bos_token_id", "eos_token_id"]:
        check(cfg.get(k) == ref_cfg.get(k), f"stories260K config.json {k}: {cfg.get(k)!r} vs {ref_cfg.get(k)!r}")

    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    ref_tok = Tokenizer.from_file(os.path.join(root, "tokenizer.json"))
    ours_json = json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8"))
    ref_json = json.load(open(os.path.join(root, "tokenizer.json"), encoding="utf-8"))
    ref_merges = [m.split(" ") if isinstance(m, str) else m for m in ref_json["model"]["merges"]]
    check(ours_json["model"]["merges"] == ref_merges, "stories260K: merges differ from HF's SentencePiece conversion")
    with open(os.path.join(SHARED, "wikitext-2-raw", "wiki.test.raw"), encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n")[:1500] if l.strip()]
    lines += ["Once upon a time, there was a little girl named Lily.", "  two  spaces", "emoji \U0001F600 and \u00e9"]
    a = [e.ids for e in tok.encode_batch(lines)]
    b = [e.ids for e in ref_tok.encode_batch(lines)]
    bad = [i for i in range(len(lines)) if a[i] != b[i]]
    check(not bad, f"stories260K tokenizer: {len(bad)}/{len(lines)} lines differ, first {lines[bad[0]][:60]!r}: "
                   f"{a[bad[0]][:12]} vs {b[bad[0]][:12]}" if bad else "")
    check(all(x[0] == 1 for x in a), "stories260K tokenizer does not add BOS")
    check(tok.decode(a[-1][1:]) == ref_tok.decode(b[-1][1:]), "stories260K decode differs")

    golden = json.load(open(os.path.join(root, "reference", "greedy200_ids.json")))
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        gen = model.generate(torch.tensor([[1]]), max_new_tokens=len(golden) - 1, do_sample=False, min_new_tokens=len(golden) - 1)
    check(gen[0].tolist() == golden, "stories260K: greedy tokens differ from the golden output")
    print(f"stories260K (SentencePiece): weights exact, {len(lines)} lines tokenize identically, greedy golden reproduced",
          flush=True)


def check_qwen2_pre_tokenizer(tmp):
    """A byte-level vocab with tokenizer.ggml.pre "qwen2" (Qwen2/2.5/3's BPE, in a tiny llama so
    that it imports) must tokenize as Qwen3's HF tokenizer.json and pass llama.cpp's qwen2 vectors."""
    import gguf
    from tokenizers import Tokenizer

    ref_path = os.path.join(SHARED, "tokenizers", "qwen3", "tokenizer.json")
    ref_json = json.load(open(ref_path, encoding="utf-8"))
    by_id = {i: t for t, i in ref_json["model"]["vocab"].items()}
    types = {}
    for a in ref_json["added_tokens"]:
        by_id[a["id"]] = a["content"]
        types[a["id"]] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED
    n = max(by_id) + 1
    assert sorted(by_id) == list(range(n))
    merges = [" ".join(m) if isinstance(m, list) else m for m in ref_json["model"]["merges"]]

    path = os.path.join(tmp, "qwen-vocab-llama.gguf")
    hidden, heads, kv, ffn = 32, 4, 2, 64
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_context_length(4096)
    w.add_embedding_length(hidden)
    w.add_block_count(1)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list([by_id[i] for i in range(n)])
    w.add_token_types([types.get(i, gguf.TokenType.NORMAL) for i in range(n)])
    w.add_token_merges(merges)
    w.add_eos_token_id(151645)
    rng = np.random.default_rng(3)
    shapes = {"token_embd.weight": (n, hidden), "output_norm.weight": (hidden,), "blk.0.attn_norm.weight": (hidden,),
              "blk.0.ffn_norm.weight": (hidden,), "blk.0.attn_q.weight": (hidden, hidden),
              "blk.0.attn_k.weight": (hidden // heads * kv, hidden), "blk.0.attn_v.weight": (hidden // heads * kv, hidden),
              "blk.0.attn_output.weight": (hidden, hidden), "blk.0.ffn_gate.weight": (ffn, hidden),
              "blk.0.ffn_up.weight": (ffn, hidden), "blk.0.ffn_down.weight": (hidden, ffn)}
    for name, shape in shapes.items():
        w.add_tensor(name, rng.standard_normal(shape).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    out = os.path.join(tmp, "qwen-vocab")
    run_import(out, gguf=path)

    ours = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    ref = Tokenizer.from_file(ref_path)
    vectors = os.path.join(SHARED, "tokenizers", "llamacpp-vectors", "ggml-vocab-qwen2.gguf")
    with open(vectors + ".inp", encoding="utf-8") as f:
        inputs = f.read().split("\n__ggml_vocab_test__\n")
    with open(vectors + ".out", encoding="utf-8") as f:
        outputs = f.read().split("\n")
    inputs = inputs[:len(outputs)] if inputs[-1] == "" else inputs
    with open(os.path.join(SHARED, "wikitext-2-raw", "wiki.test.raw"), encoding="utf-8") as f:
        lines = f.read().split("\n")[:1500]
    texts = lines + inputs + ["<|im_start|>user\n<think>x</think><|im_end|>"]
    a = [e.ids for e in ours.encode_batch(texts, add_special_tokens=False)]
    b = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
    bad = [i for i in range(len(texts)) if a[i] != b[i]]
    check(not bad, f"qwen2 pre-tokenizer: {len(bad)}/{len(texts)} texts differ from Qwen3's tokenizer.json, "
                   f"first {texts[bad[0]][:60]!r}" if bad else "")
    vec_ok = sum(1 for i, text in enumerate(inputs)
                 if i < len(outputs) and ours.encode(text, add_special_tokens=False).ids == [int(x) for x in outputs[i].split()])
    check(vec_ok == len(inputs), f"qwen2 pre-tokenizer: {vec_ok}/{len(inputs)} llama.cpp vectors pass")
    print(f"qwen2 pre-tokenizer: {len(texts)} texts identical to Qwen3's tokenizer.json, "
          f"{vec_ok}/{len(inputs)} llama.cpp vectors", flush=True)


def check_weights(f32_dir, bf16_dir):
    import gguf
    import torch
    from safetensors.torch import load_file

    reader = gguf.GGUFReader(GGUF_PATH)
    n_head = int(reader.fields["llama.attention.head_count"].contents())
    n_head_kv = int(reader.fields["llama.attention.head_count_kv"].contents())
    f32 = load_file(os.path.join(f32_dir, "model.safetensors"))
    bf16 = load_file(os.path.join(bf16_dir, "model.safetensors"))
    check(len(f32) == len(reader.tensors) == 272, f"tensor count {len(f32)} vs GGUF {len(reader.tensors)}")
    check("lm_head.weight" not in f32, "tied model must not get an lm_head.weight")
    exact = 0
    for t in reader.tensors:
        name = hf_name(t.name)
        expected = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        expected = expected.reshape([int(d) for d in reversed(t.shape)])
        if t.name.endswith("attn_q.weight") or t.name.endswith("attn_k.weight"):
            heads = n_head if "attn_q" in t.name else n_head_kv
            hf = llama_cpp_unpermute(expected, heads)
            # The inverse really is one: the converter's permute gives the GGUF back.
            assert np.array_equal(llama_cpp_permute(hf, n_head, heads if heads != n_head else None), expected)
            expected = hf
        ours = f32.get(name)
        if ours is None:
            check(False, f"{name} missing")
            continue
        ours = ours.numpy()
        if ours.dtype != np.float32 or ours.shape != expected.shape:
            check(False, f"{name}: {ours.dtype} {ours.shape} vs float32 {expected.shape}")
            continue
        if not np.array_equal(ours.view(np.uint32), expected.view(np.uint32)):
            check(False, f"{name}: f32 import differs from gguf dequantization "
                         f"(max abs diff {np.abs(ours - expected).max()})")
            continue
        b = bf16[name]
        if b.dtype != torch.bfloat16 or not np.array_equal(b.view(torch.int16).numpy().view(np.uint16),
                                                            bf16_rne(expected)):
            check(False, f"{name}: bf16 import is not the RNE rounding of the f32 values")
            continue
        exact += 1
    print(f"weights: {exact}/{len(reader.tensors)} tensors bit-exact (f32) and RNE-exact (bf16)", flush=True)


def check_config(out_dir):
    ours = json.load(open(os.path.join(out_dir, "config.json")))
    ref = json.load(open(os.path.join(SHARED, "tokenizers", "smollm2", "config.json")))
    keys = ["architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "rope_theta",
            "rope_scaling", "vocab_size", "tie_word_embeddings", "hidden_act", "attention_bias", "mlp_bias",
            "bos_token_id", "eos_token_id", "pad_token_id"]
    for k in keys:
        check(ours.get(k) == ref.get(k), f"config.json {k}: {ours.get(k)!r} vs HF {ref.get(k)!r}")
    gen = json.load(open(os.path.join(out_dir, "generation_config.json")))
    check(gen.get("bos_token_id") == 1 and gen.get("eos_token_id") == 2, f"generation_config.json {gen}")
    print("config: architectural keys agree with the HF config", flush=True)


def check_tokenizer(out_dir):
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
    ref = Tokenizer.from_file(os.path.join(SHARED, "tokenizers", "smollm2", "tokenizer.json"))
    with open(os.path.join(SHARED, "wikitext-2-raw", "wiki.test.raw"), encoding="utf-8") as f:
        lines = f.read().split("\n")[:3000]
    specials = ["<|im_start|>user\nHi<|im_end|>\n", "<|endoftext|>", "a<repo_name>b<file_sep>c",
                "<jupyter_code>x = 1 2 3<empty_output>", "<|im_end|><|im_start|>assistant\n", "  <|im_end|>  "]
    texts = lines + specials + ["\n".join(lines[:200])]
    a = [e.ids for e in ours.encode_batch(texts)]
    b = [e.ids for e in ref.encode_batch(texts)]
    mismatched = [i for i in range(len(texts)) if a[i] != b[i]]
    check(not mismatched, f"tokenizer: {len(mismatched)} of {len(texts)} texts tokenize differently, "
                          f"first {texts[mismatched[0]][:80]!r}" if mismatched else "")
    n_tokens = sum(len(x) for x in a)
    check(n_tokens > 100000, f"only {n_tokens} tokens compared")
    decoded = ours.decode(a[5])
    check(decoded == ref.decode(b[5]), "decode differs")
    print(f"tokenizer: {len(texts)} texts, {n_tokens} tokens, identical ids", flush=True)


def check_transformers(out_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    model.eval()
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    check(prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n"),
          f"chat template rendered {prompt!r}")
    ids = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=24, do_sample=False)
    reply = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    print(f"transformers greedy reply: {reply!r}", flush=True)
    check("Paris" in reply, f"reply does not mention Paris: {reply!r}")


def main():
    if not os.path.exists(GLQW):
        print(f"GLQW={GLQW} does not exist", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="glq-gguf-import-") as tmp:
        check_sentencepiece_llama(tmp)
        check_qwen2_pre_tokenizer(tmp)
    if not os.path.exists(GGUF_PATH):
        if failures:
            return 1
        print(f"skipped: {GGUF_PATH} is missing")
        return 77
    with tempfile.TemporaryDirectory(prefix="glq-gguf-import-") as tmp:
        f32_dir = os.path.join(tmp, "f32")
        bf16_dir = os.path.join(tmp, "bf16")
        run_import(f32_dir, "--dtype", "f32")
        run_import(bf16_dir)
        # An existing output folder is refused without --force.
        again = subprocess.run([GLQW, "import-gguf", GGUF_PATH, bf16_dir], capture_output=True, text=True)
        check(again.returncode != 0 and "already exists" in again.stderr,
              f"second import into an existing folder: rc {again.returncode}, {again.stderr!r}")
        check_weights(f32_dir, bf16_dir)
        check_config(bf16_dir)
        check_tokenizer(bf16_dir)
        check_transformers(f32_dir)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
