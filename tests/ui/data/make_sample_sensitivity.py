#!/usr/bin/env python3
"""Build a sample sensitivity table (ui/sensitivity_table.h's JSON format) for
a small HF model with the reference `glq` package, so the workbench's plots
and bpw editor can be shown and tested on real numbers before our own
profiling pass exists.

For every linear layer: capture its input Hessian H = sum(x^T x)/n on a few
calibration sequences of the *original* model (no error propagation, unlike
a sequential profiling pass), then quantize the layer with glq's E8 shell +
RHT + LDLQ at 2..8 bpw and record glq's proxy loss tr(dW H dW^T)/m.

  make_sample_sensitivity.py MODEL_DIR CALIBRATION_TXT OUT_JSON [--nsamples 8] [--seqlen 128]
                             [--bpw 2,3,4,5,6,7,8] [--threads N]

The table is rewritten (atomically) after every layer, so an interrupted run
leaves a valid table of the layers it finished. `--bpw 2` measures what the
reference's own profiling pass measures; the workbench predicts the rest.
"""
import argparse
import json
import os
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from glq.codebook import E8ShellCodebook
from glq.quantize_model import quantize_layer_e8_shell_rht

LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--nsamples", type=int, default=8)
    ap.add_argument("--seqlen", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bpw", default="2,3,4,5,6,7,8", help="comma-separated rates to measure (2..8)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    a = ap.parse_args()
    rates = sorted({int(b) for b in a.bpw.split(",")})
    if not rates or rates[0] < 2 or rates[-1] > 8:
        sys.exit(f"--bpw {a.bpw}: rates must be integers in 2..8")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32).eval()
    with open(a.text, encoding="utf-8", errors="replace") as f:
        ids = tok(f.read()[: a.nsamples * a.seqlen * 8], return_tensors="pt").input_ids[0]
    if ids.numel() < a.nsamples * a.seqlen:
        sys.exit(f"{a.text}: too little text for {a.nsamples} x {a.seqlen} tokens")

    hessians, counts, hooks = {}, {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.split(".")[-1] in LINEARS:
            def hook(m, inp, out, name=name):
                x = inp[0].reshape(-1, inp[0].shape[-1]).double()
                hessians[name] = hessians.get(name, 0) + x.T @ x
                counts[name] = counts.get(name, 0) + x.shape[0]
            hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        for i in range(a.nsamples):
            model(ids[i * a.seqlen:(i + 1) * a.seqlen][None])
    for h in hooks:
        h.remove()

    cb = E8ShellCodebook(device="cpu", verbose=False)
    layers = []
    modules = dict(model.named_modules())
    for name in hessians:
        W = modules[name].weight.detach().float()
        H = (hessians[name] / counts[name]).float()
        losses = {}
        for bpw in rates:
            _, _, metrics = quantize_layer_e8_shell_rht(W.clone(), H.clone(), cb, bpw=bpw)
            losses[str(bpw)] = float(metrics["proxy_loss"])
        layers.append({"name": name, "rows": W.shape[0], "cols": W.shape[1], "proxy_loss": losses})
        print(name, {k: f"{v:.3g}" for k, v in losses.items()}, flush=True)
        write_table(a, layers)


def write_table(a, layers):
    import glq
    doc = {"format": "glq-sensitivity", "version": 1, "model": os.path.basename(os.path.normpath(a.model)),
           "source": f"glq {getattr(glq, '__version__', '?')} E8 shell + RHT + LDLQ at bpw {a.bpw}, "
                     f"{a.nsamples}x{a.seqlen} tokens of {os.path.basename(a.text)}, seed {a.seed}",
           "layers": layers}
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.out)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
