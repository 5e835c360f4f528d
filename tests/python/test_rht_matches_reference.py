"""Our RHT (`glqw rht`) against the reference `glq.rht.RHT`.

For power-of-two and block-diagonal sizes (576 = 512+64, 1536, 2688 =
2048+512+128, 9x64): the signs equal RHT(m, n).su / .sv (seed 42, SU drawn
first) and W~ equals RHT.transform_weights(W) to float32 rounding; the
reference's block decomposition and Sylvester-order FHT (glq.hadamard) agree
with an explicit Hadamard matrix, as ours does in tests/core/test_rht.cpp.

Run by CTest (env GLQW); exit 0 = pass, 1 = fail, 77 = glq not importable
(a failure instead under CI: tests/python/_skip.py).
"""
import os
import pathlib
import subprocess
import sys
import tempfile

from _skip import unavailable  # 77 (skipped), or a failure under CI


def main() -> int:
    try:
        import torch
        from glq.hadamard import _block_decompose
        from glq.rht import RHT
    except ImportError as e:
        return unavailable(f"reference package not importable ({e})")
    glqw = os.environ.get("GLQW")
    if not glqw or not pathlib.Path(glqw).exists():
        print("GLQW does not name the built glqw binary; run through CTest")
        return 1

    failures = []
    # The signs are plain torch draws: the reference's and Python's agree.
    g = torch.Generator().manual_seed(42)
    su = torch.randint(0, 2, (96,), generator=g).float() * 2 - 1
    sv = torch.randint(0, 2, (576,), generator=g).float() * 2 - 1
    r = RHT(96, 576)
    if not (torch.equal(r.su, su) and torch.equal(r.sv, sv)):
        failures.append("glq's RHT signs are not torch.Generator().manual_seed(42) draws, SU first")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for m, n in [(96, 576), (576, 1536), (2688, 576), (128, 9 * 64), (64, 4096)]:
            w = torch.randn(m, n, generator=torch.Generator().manual_seed(m * 7 + n))
            (tmp / "w.f32").write_bytes(w.numpy().tobytes())
            res = subprocess.run([glqw, "rht", "--rows", str(m), "--cols", str(n), "--input", str(tmp / "w.f32"),
                                  "--output", str(tmp / "wt.f32"), "--signs", str(tmp / "s.f32")],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                failures.append(f"{m}x{n}: glqw rht failed: {res.stderr.strip()}")
                continue
            ours = torch.frombuffer(bytearray((tmp / "wt.f32").read_bytes()), dtype=torch.float32).reshape(m, n)
            signs = torch.frombuffer(bytearray((tmp / "s.f32").read_bytes()), dtype=torch.float32)
            ref = RHT(m, n)
            if ref.blocks_n != _block_decompose(n) or sum(ref.blocks_n) != n:
                failures.append(f"{m}x{n}: unexpected reference blocks {ref.blocks_n}")
            if not torch.equal(signs[:m], ref.su) or not torch.equal(signs[m:], ref.sv):
                failures.append(f"{m}x{n}: signs differ from glq's RHT")
            want = ref.transform_weights(w.clone())
            err = (ours - want).abs().max().item()
            if not err < 1e-4:
                failures.append(f"{m}x{n}: W~ differs from glq's transform_weights by {err}")
            back = ref.inverse_transform_weights(ours.clone())
            err = (back - w).abs().max().item()
            if not err < 1e-4:
                failures.append(f"{m}x{n}: glq's inverse of our W~ is off by {err}")

    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
