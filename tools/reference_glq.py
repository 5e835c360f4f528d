#!/usr/bin/env python3
"""The reference `glq` package, driven the way our benchmarks need it.

  quantize  run glq.quantize_model.quantize on an HF folder. Its calibration
            loader calls datasets.load_dataset("Salesforce/wikitext", ...),
            which needs the network; a stand-in `datasets` module serves the
            text file given with --calib instead (the reference then joins,
            tokenizes once and takes the first nsamples x seqlen tokens, as it
            does with WikiText). --seed N > 0 rotates the text first, for a
            different calibration draw.
  dense     load a glq checkpoint (any codebook: e8_shell, trellis, ...) with
            the reference's own modules and codebooks, then write an ordinary
            dense HF folder whose linear weights are what the reference's
            layers compute: W = layer(I)^T. Every evaluator (ours, transformers)
            can then score the reference's quantization, including codebooks
            our engine does not read (trellis).

The reference's transformers integration (GLQQuantizer) is used only for its
codebook set-up; the modules are built directly so that the state dict loads
the same way on every transformers version.
"""

import argparse
import json
import sys
import time
import types
from pathlib import Path


def install_datasets_stand_in(calib_file, seed=0):
    """Seed 0 serves the text as it is (the reference's protocol: its first
    nsamples x seqlen tokens). Another seed starts the text at a line near a
    golden-ratio fraction of its length (and wraps around), so that repeated
    runs of the reference see different calibration draws, as ours do."""
    text = Path(calib_file).read_text(encoding="utf-8")
    if seed:
        start = text.find("\n", int(len(text) * ((seed * 0.6180339887498949) % 1.0))) + 1
        text = text[start:] + "\n\n" + text[:start]
    stand_in = types.ModuleType("datasets")
    stand_in.load_dataset = lambda *a, **k: {"text": [text]}
    sys.modules["datasets"] = stand_in


def cmd_quantize(a):
    import torch
    import glq.quantize_model

    install_datasets_stand_in(a.calib, a.seed)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    glq.quantize_model.quantize(a.model, a.out, bpw=a.bpw, nsamples=a.nsamples, seqlen=a.seqlen, device=a.device,
                                codebook_type=a.codebook, workers=a.workers, tune_iters=a.tune_iters)
    print(f"reference quantize: {time.perf_counter() - t0:.1f} s")


def load_reference_model(ckpt, device):
    """The checkpoint as a transformers model whose quantized linears are the
    reference's E8RHTLinear modules, codebooks attached."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    import glq.hf_integration as hi
    from glq.quantized_linear import E8RHTLinear

    ckpt = Path(ckpt)
    config = AutoConfig.from_pretrained(str(ckpt))
    qcfg = json.loads((ckpt / "config.json").read_text())["quantization_config"]
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    cb_type = qcfg.get("codebook", "e8_shell")
    block_diag = hi._detect_block_diagonal(str(ckpt)) if cb_type != "e8p" else False
    layers = hi._collect_quantized_layer_names(str(ckpt))
    replaced = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, torch.nn.Linear) and name in layers:
            model.set_submodule(name, E8RHTLinear(module.in_features, module.out_features,
                                                  bias=module.bias is not None, block_diagonal=block_diag,
                                                  codebook_type=cb_type))
            replaced += 1
    if replaced == 0:
        raise SystemExit(f"{ckpt}: no quantized linear layers found")
    state = {}
    for f in sorted(ckpt.glob("*.safetensors")):
        state.update(load_file(str(f)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied lm_head and the reference's optional per-layer buffers may be absent:
    # the shell's later stages, and trellis's second stage (5-8 bpw only) and
    # tlut (HYB only; 3INST, the default, has none). The modules register them
    # as zeros / empty tensors, which is what "absent" means to them.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    missing = [k for k in missing if not any(k.endswith(s) for s in
               ("Qidxs2", "Qidxs3", "Qidxs4", "inv_resid_scale", "inv_resid_scale2", "inv_resid_scale3",
                "trellis_packed2", "tlut"))]
    if missing:
        raise SystemExit(f"{ckpt}: tensors missing from the checkpoint: {missing[:8]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.config._name_or_path = str(ckpt)
    quantizer = hi.GLQQuantizer(hi.GLQConfig(**qcfg))
    quantizer._process_model_after_weight_loading(model)
    return model.to(device).eval(), unexpected


def cmd_dense(a):
    import os
    import shutil

    # The reference's fused CPU trellis op (glq._C_cpu) rejects a plain 2-D
    # CPU input on this torch ("x must be a CPU (B, in) tensor"); its own
    # switch sends the layers to the pure-torch decode, the reference's
    # reference path, which is what a faithful dense copy wants anyway.
    os.environ.setdefault("GLQ_FUSED_TRELLIS_CPU", "0")

    import torch
    from safetensors.torch import save_file

    from glq.quantized_linear import E8RHTLinear

    model, _ = load_reference_model(a.checkpoint, a.device)
    out = Path(a.out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, E8RHTLinear):
                eye = torch.eye(module.in_features, device=a.device, dtype=torch.float32)
                w = module(eye).float().t()          # x @ W^T with x = I
                if module.bias is not None:
                    w = w - module.bias.float().unsqueeze(1)
                tensors[name + ".weight"] = w.to(torch.bfloat16 if a.bf16 else torch.float32).cpu().contiguous()
                if module.bias is not None:
                    tensors[name + ".bias"] = module.bias.float().cpu().contiguous()
        for name, p in model.state_dict().items():
            base = name.rsplit(".", 1)[0]
            if isinstance(model.get_submodule(base), E8RHTLinear):
                continue
            if name == "lm_head.weight" and model.config.tie_word_embeddings:
                continue
            tensors[name] = p.float().cpu().contiguous()
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((Path(a.checkpoint) / "config.json").read_text())
    config.pop("quantization_config", None)
    config["torch_dtype"] = "float32"
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"):
        src = Path(a.checkpoint) / f
        if src.exists():
            shutil.copy(src, tmp / f)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"wrote {out} ({len(tensors)} tensors)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("model")
    q.add_argument("out")
    q.add_argument("--bpw", type=float, required=True)
    q.add_argument("--codebook", default="e8_shell")
    q.add_argument("--calib", required=True)
    q.add_argument("--nsamples", type=int, default=128)
    q.add_argument("--seqlen", type=int, default=2048)
    q.add_argument("--device", default="cuda")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--workers", type=int, default=1)
    q.add_argument("--tune-iters", type=int, default=0, help="the reference's LDLQ refinement passes (its default 0)")
    d = sub.add_parser("dense")
    d.add_argument("checkpoint")
    d.add_argument("out")
    d.add_argument("--device", default="cuda")
    d.add_argument("--bf16", action="store_true", help="store bf16 weights (default float32)")
    a = p.parse_args()
    if a.bpw if a.cmd == "quantize" else False:
        a.bpw = int(a.bpw) if float(a.bpw).is_integer() else a.bpw
    {"quantize": cmd_quantize, "dense": cmd_dense}[a.cmd](a)


if __name__ == "__main__":
    main()
