"""Our compiled-in E8 codebook and nearest search against the reference `glq`.

- `glqw codebook --dump` equals torch.load(glq/e8_codebook.pt)["codebook"]
  exactly (every row, in order), and the bundled file has the sha256 our
  generator (tools/gen_e8_codebook.py) checked.
- `glqw codebook --nearest` gives, for random vectors, codewords at the same
  distance as an exhaustive search over the reference's table (the index
  itself must match wherever that nearest point is unique).
- a malformed vector file gets one error naming it, and no output.

Run by CTest (env GLQW); exit 0 = pass, 1 = fail, 77 = glq not importable
(a failure instead under CI: tests/python/_skip.py).
"""
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile

from _skip import unavailable  # 77 (skipped), or a failure under CI

FILE_SHA256 = "54f11121f001e0d787bb5ad96e6538a75f049989ab7aba9bfc703416e6d447d7"


def main() -> int:
    try:
        import glq  # noqa: F401
        import torch
    except ImportError as e:
        return unavailable(f"reference package not importable ({e})")
    glqw = os.environ.get("GLQW")
    if not glqw or not pathlib.Path(glqw).exists():
        print("GLQW does not name the built glqw binary; run through CTest")
        return 1

    ref_path = pathlib.Path(glq.__file__).parent / "e8_codebook.pt"
    failures = []
    digest = hashlib.sha256(ref_path.read_bytes()).hexdigest()
    if digest != FILE_SHA256:
        failures.append(f"{ref_path}: sha256 {digest} is not the one the table was generated from")
    ref = torch.load(ref_path, map_location="cpu", weights_only=True)["codebook"]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        r = subprocess.run([glqw, "codebook", "--dump", tmp / "cb.f32"], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            return 1
        ours = torch.frombuffer(bytearray((tmp / "cb.f32").read_bytes()), dtype=torch.float32).reshape(-1, 8)
        if ours.shape != ref.shape:
            failures.append(f"shape {tuple(ours.shape)} != reference {tuple(ref.shape)}")
        elif not torch.equal(ours, ref):
            bad = (ours != ref).any(1).nonzero().flatten()
            failures.append(f"{bad.numel()} rows differ from the reference, first {bad[:5].tolist()}")

        g = torch.Generator().manual_seed(1234)
        x = torch.randn(4096, 8, generator=g) * torch.tensor([0.5, 1.0, 1.5, 3.0]).repeat_interleave(1024)[:, None]
        (tmp / "x.f32").write_bytes(x.numpy().tobytes())
        for size in (65536, 256):
            r = subprocess.run([glqw, "codebook", "--nearest", tmp / "x.f32", "--out", tmp / "i.i64", "--size", str(size)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                failures.append(f"--nearest failed: {r.stderr.strip()}")
                continue
            idx = torch.frombuffer(bytearray((tmp / "i.i64").read_bytes()), dtype=torch.int64)
            cb = ref[:size].double()
            d = torch.cdist(x.double(), cb) ** 2
            best = d.min(1)
            got = d.gather(1, idx[:, None]).squeeze(1)
            if not torch.allclose(got, best.values, rtol=0, atol=1e-9):
                failures.append(f"size {size}: {(got - best.values > 1e-9).sum().item()} vectors got a farther codeword")
            unique = (d <= best.values[:, None] + 1e-9).sum(1) == 1
            if not torch.equal(idx[unique], best.indices[unique]):
                failures.append(f"size {size}: index differs where the nearest codeword is unique")

        # A file that is not a whole number of 8-float rows: one error naming it.
        (tmp / "bad.f32").write_bytes(b"\0" * 28)
        r = subprocess.run([glqw, "codebook", "--nearest", tmp / "bad.f32", "--out", tmp / "o.i64"],
                           capture_output=True, text=True)
        if r.returncode == 0 or "bad.f32" not in r.stderr or "whole number of rows" not in r.stderr:
            failures.append(f"truncated input: rc {r.returncode}, stderr {r.stderr.strip()!r}")
        if (tmp / "o.i64").exists():
            failures.append("truncated input: an output file was written")

    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
