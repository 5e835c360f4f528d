"""Writes expected.json: how transformers itself reads each config here.

For every *.json config in this folder (except expected.json) and the two
real configs in ../shared/data (stories260K, SmolLM2-135M), builds the
model with transformers on the meta device (no memory, no weights) and
records what its modules actually are: parameter count, head_dim, kv heads,
biases, q/k norm, RoPE theta/type, NoPE layers, sliding-window layers.
tests/io/test_hf_config.cpp checks our parser against this file, and
tests/python/test_hf_config_reference.py re-runs this and checks the file is
current, so the expectations come from transformers, not from us.

    .venv/bin/python tests/data/configs/make_expected.py [--check]
"""
import json
import os
import pathlib
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM

HERE = pathlib.Path(__file__).resolve().parent
SHARED = pathlib.Path(os.environ.get("GLQ_SHARED_DATA", HERE.parents[3] / "shared" / "data"))
# Real configs in the shared data folder, keyed "shared:<path inside it>".
SHARED_CONFIGS = ["models/stories260K/config.json", "tokenizers/smollm2/config.json"]


def describe(path: pathlib.Path) -> dict:
    raw = json.loads(path.read_text())
    cfg = AutoConfig.for_model(**raw)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    layers = model.model.layers
    attn = layers[0].self_attn
    rope = cfg.rope_parameters or {}
    sliding = []
    for layer in layers:
        a = layer.self_attn
        if hasattr(a, "sliding_window"):
            sliding.append(a.sliding_window is not None)
        elif cfg.model_type == "mistral":  # MistralAttention reads config.sliding_window for every layer
            sliding.append(getattr(cfg, "sliding_window", None) is not None)
        else:
            sliding.append(False)
    eos = cfg.eos_token_id
    return {
        "model_type": cfg.model_type,
        "architecture": (raw.get("architectures") or [""])[0],
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": attn.head_dim,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": float(rope.get("rope_theta")),
        "rope_type": rope.get("rope_type", "default"),
        "rope_factor": float(rope.get("factor", 1.0)),
        "tie_word_embeddings": bool(cfg.tie_word_embeddings),
        "attention_bias": attn.q_proj.bias is not None,
        "attention_out_bias": attn.o_proj.bias is not None,
        "mlp_bias": layers[0].mlp.gate_proj.bias is not None,
        "qk_norm": hasattr(attn, "q_norm"),
        "use_rope": [bool(x) for x in getattr(cfg, "no_rope_layers", [1] * cfg.num_hidden_layers)][: cfg.num_hidden_layers],
        "sliding_layers": sliding,
        "sliding_window": cfg.sliding_window if any(sliding) else None,
        "dtype": str(cfg.dtype).replace("torch.", "") if cfg.dtype is not None else "float32",
        "bos_token_id": cfg.bos_token_id,
        "eos_token_ids": [] if eos is None else (eos if isinstance(eos, list) else [eos]),
    }


def main() -> int:
    configs = sorted(p for p in HERE.glob("*.json") if p.name != "expected.json")
    expected = {p.name: describe(p) for p in configs}
    for rel in SHARED_CONFIGS:
        expected["shared:" + rel] = describe(SHARED / rel)
    text = json.dumps(expected, indent=1, sort_keys=True) + "\n"
    target = HERE / "expected.json"
    if "--check" in sys.argv:
        if target.read_text() != text:
            print("tests/data/configs/expected.json is stale: re-run make_expected.py")
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
