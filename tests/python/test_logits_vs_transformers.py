"""glqw's engine against transformers (fp32, CPU): logits on several prompts
(max relative error = max|a - b| / max|b| per position, bound 1e-4) and 64
greedy tokens (identical ids). stories260K always runs; the demo model
(GLQ_DEMO_MODEL) runs when its folder exists. Exit 77 = skipped."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GLQW = os.environ.get("GLQW")
SHARED = Path(os.environ.get("GLQ_SHARED_DATA", "../shared/data"))
DEMO = os.environ.get("GLQ_DEMO_MODEL", "")
PROMPTS = [
    "Once upon a time",
    "The capital of France is",
    "Lily and Tom went to the park. They saw a big dog and",
    "1, 2, 3, 4,",
]
BOUND = 1e-4


def glqw(*args):
    out = subprocess.run([GLQW, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"glqw {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def check_model(folder: Path) -> None:
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    vocab = model.config.vocab_size
    with tempfile.TemporaryDirectory() as tmp:
        for prompt in PROMPTS:
            ids = tok(prompt)["input_ids"]
            out = Path(tmp) / "logits.bin"
            glqw("logits", str(folder), "--ids", ",".join(map(str, ids)), "--out", str(out), "--all")
            ours = np.fromfile(out, dtype=np.float32).reshape(len(ids), vocab)
            with torch.no_grad():
                ref = model(torch.tensor([ids])).logits[0].float().numpy()
            rel = np.abs(ours - ref).max(axis=1) / np.abs(ref).max(axis=1)
            print(f"{folder.name}: {prompt!r} ({len(ids)} tokens): max relative error {rel.max():.3e}")
            if rel.max() > BOUND:
                raise SystemExit(f"FAIL: relative error {rel.max():.3e} > {BOUND} at position {rel.argmax()}")

        prompt = PROMPTS[0]
        ids = tok(prompt)["input_ids"]
        with torch.no_grad():
            ref = model.generate(torch.tensor([ids]), max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                 eos_token_id=None, pad_token_id=0)[0, len(ids):].tolist()
        # --raw: the prompt as plain text with the tokenizer's special tokens, the ids HF used.
        text = glqw("generate", str(folder), "--prompt", prompt, "--raw", "--temperature", "0",
                    "--max-tokens", "64", "--print-ids", "--repeat-penalty", "1")
        line = [l for l in text.splitlines() if l.startswith("ids:")][-1]
        ours = [int(x) for x in line[4:].strip().split(",")]
        n = len(ours)
        print(f"{folder.name}: greedy {n} tokens, first difference at "
              f"{next((i for i in range(min(n, len(ref))) if ours[i] != ref[i]), None)}")
        # glqw stops at eos; transformers was told not to: compare up to our stop.
        eos = model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if ours != ref[:n] or (n < 64 and ours[-1] not in eos):
            raise SystemExit(f"FAIL: greedy ids differ\n ours {ours}\n  ref {ref}")


def main() -> int:
    if not GLQW or not Path(GLQW).exists():
        print("GLQW (the glqw binary) is not set", file=sys.stderr)
        return 1
    check_model(SHARED / "models" / "stories260K")
    if DEMO and Path(DEMO).is_dir():
        check_model(Path(DEMO))
        return 0
    print(f"demo model folder {DEMO!r} is absent: only stories260K was checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
