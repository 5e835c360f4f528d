"""Our e8_shell artifacts decode to the same weights in the reference's own code.

The C++ test `test_glq_checkpoint` (run with GLQ_INTEROP_OUT=<dir>) quantizes three
linears (3, 5 and 8 bpw; pow2 and block-diagonal shapes; one with a bias), writes a
checkpoint in the reference layout and our dequantized weights (w_hat.safetensors).
Here the installed `glq` package decodes that checkpoint two ways:

1. with its bundled codebook and its RHT class, by the §1.10 formula
   (W~ = Wscale * sum_s c_s * CB[uint16(Q_s)], W = RHT^-1(W~)), which must equal
   our W_hat to float32 rounding, and our SU/SV must be the reference's seed-42 signs;
2. through its HF module `glq.quantized_linear.E8RHTLinear` (load_state_dict +
   set_codebook + forward), which must match x @ W_hat^T + b to fp16 precision.

Exit 77 (skipped) when the glq package or the C++ test binary is not available;
under CI a missing part fails instead (tests/python/_skip.py).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _skip import unavailable  # 77 (skipped), or a failure under CI


def find_test_binary():
    explicit = os.environ.get("GLQ_CHECKPOINT_TEST_BIN")
    if explicit:
        return Path(explicit)
    glqw = os.environ.get("GLQW")
    if not glqw:
        return None
    for parent in Path(glqw).resolve().parents:
        candidate = parent / "tests" / "test_glq_checkpoint"
        if candidate.is_file():
            return candidate
    return None


def main():
    try:
        import torch
        from safetensors.torch import load_file
        from glq.codebook import E8ShellCodebook
        from glq.quantized_linear import E8RHTLinear
        from glq.rht import RHT
    except ImportError as e:
        return unavailable(f"the reference package is not importable ({e})")

    binary = find_test_binary()
    if binary is None:
        return unavailable("test_glq_checkpoint not found (set GLQ_CHECKPOINT_TEST_BIN or GLQW)")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ck"
        env = dict(os.environ, GLQ_INTEROP_OUT=str(out))
        run = subprocess.run([str(binary)], env=env, capture_output=True, text=True)
        if run.returncode != 0 or not (out / "model.safetensors").is_file():
            print(run.stdout[-4000:], run.stderr[-4000:])
            print(f"FAIL: {binary} did not produce the interop checkpoint (exit {run.returncode})")
            return 1

        config = json.loads((out / "config.json").read_text())
        qcfg = config["quantization_config"]
        sd = load_file(str(out / "model.safetensors"))
        ours = load_file(str(out / "w_hat.safetensors"))
        cb = E8ShellCodebook.build(verbose=False)
        table = cb.codebook.float()

        failures = []
        for prefix, bpw in sorted(qcfg["layer_bpw"].items()):
            q1 = sd[f"{prefix}.Qidxs"]
            m, n = q1.shape[0], q1.shape[1] * 8
            w_hat = ours[prefix]

            # 1. The §1.10 decode with the reference's codebook table and RHT.
            stages = [(q1, 1.0)]
            for k in (2, 3, 4):
                qk = sd.get(f"{prefix}.Qidxs{k}")
                if qk is None:
                    break
                scale_key = f"{prefix}.inv_resid_scale" + ("" if k == 2 else str(k - 1))
                stages.append((qk, float(sd[scale_key])))
            expected_stages = (bpw + 1) // 2
            if len(stages) != expected_stages:
                failures.append(f"{prefix}: {len(stages)} stages for {bpw} bpw (expected {expected_stages})")
            w_tilde = torch.zeros(m, n)
            for q, c in stages:
                idx = q.to(torch.int64) & 0xFFFF
                w_tilde += c * table[idx.reshape(-1)].reshape(m, n)
            w_tilde *= float(sd[f"{prefix}.Wscale"])
            rht = RHT(m, n, device="cpu", block_diagonal=True)
            su, sv = sd[f"{prefix}.SU"].float(), sd[f"{prefix}.SV"].float()
            if not (torch.equal(rht.su, su) and torch.equal(rht.sv, sv)):
                failures.append(f"{prefix}: SU/SV differ from the reference's seed-42 signs")
            rht.su, rht.sv = su, sv
            w_ref = rht.inverse_transform_weights(w_tilde)
            err = (w_ref - w_hat).abs().max().item() / w_hat.abs().max().item()
            print(f"{prefix}: {bpw} bpw, {len(stages)} stages, reference decode vs ours: max rel diff {err:.2e}")
            if err > 1e-5:
                failures.append(f"{prefix}: reference decode differs from our W_hat (max rel {err:.2e})")

            # 2. The reference's HF module, as transformers would load it.
            bias = sd.get(f"{prefix}.bias")
            mod = E8RHTLinear(n, m, bias=bias is not None, block_diagonal=True, codebook_type="e8_shell")
            module_sd = {k[len(prefix) + 1:]: v for k, v in sd.items() if k.startswith(prefix + ".")}
            missing, unexpected = mod.load_state_dict(module_sd, strict=False)
            if unexpected:
                failures.append(f"{prefix}: E8RHTLinear did not expect {unexpected}")
            mod.set_codebook(cb, cb)
            torch.manual_seed(0)
            x = torch.randn(4, n)
            with torch.no_grad():
                y = mod(x).float()
            y_ours = x @ w_hat.T + (bias.float() if bias is not None else 0)
            rel = ((y - y_ours).norm() / y_ours.norm()).item()
            print(f"{prefix}: E8RHTLinear forward vs x @ W_hat^T: rel {rel:.2e}")
            if rel > 5e-3:  # the module runs fp16 activations and a fp16 bias
                failures.append(f"{prefix}: E8RHTLinear forward differs (rel {rel:.2e})")

        if failures:
            print("FAIL:\n  " + "\n  ".join(failures))
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
