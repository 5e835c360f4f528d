#!/usr/bin/env python3
"""The reference glq package's e8_shell layer on CUDA, timed as
`glqw bench-kernels` times ours: its whole HF module (`E8RHTLinear.forward`:
both Hadamard transforms, casts and its kernel) and cuBLAS bf16 (`F.linear`)
on the same shapes, each a CUDA graph of calls over rotated weight copies of at
least --rotate-mib MiB, median of --repeats replays. Random codes (the speed
does not depend on them). Writes JSON for docs/benchmarks.md.

On the device: install the glq wheel and delete glq/_C*.so first (its prebuilt
extension does not match torch 2.11); glq then JIT-builds its kernels.
"""
import argparse
import json
import math
import statistics
import sys
import time

SHAPES = {
    "demo": [("demo q/o", 576, 576), ("demo k/v", 192, 576), ("demo gate/up", 1536, 576), ("demo down", 576, 1536)],
    "1b": [("1B q/o", 2048, 2048), ("1B k/v", 512, 2048), ("1B gate/up", 8192, 2048), ("1B down", 2048, 8192)],
    "8b": [("8B q/o", 4096, 4096), ("8B k/v", 1024, 4096), ("8B gate/up", 14336, 4096), ("8B down", 4096, 14336),
           ("8192²", 8192, 8192)],
}


def time_calls(torch, calls, repeats):
    for c in calls:
        c()
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for c in calls:
            c()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for c in calls:
            c()
    g.replay()
    torch.cuda.synchronize()
    out = []
    for _ in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        out.append(1000.0 * a.elapsed_time(b) / len(calls))
    return statistics.median(out)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shapes", default="demo,1b,8b")
    p.add_argument("--bpw", default="2,4")
    p.add_argument("--batch", default="1,8,32")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--rotate-mib", type=float, default=512)
    p.add_argument("--max-copies", type=int, default=512)
    p.add_argument("--json", required=True)
    a = p.parse_args()

    import torch
    import torch.nn.functional as F
    t0 = time.time()
    from glq.codebook import E8ShellCodebook
    from glq.quantized_linear import E8RHTLinear
    dev = torch.device("cuda")
    cb = E8ShellCodebook.build(verbose=False)
    cb = cb.to(dev) if hasattr(cb, "to") else cb
    rows = []
    rotate = a.rotate_mib * 2**20
    for key in a.shapes.split(","):
        for name, m, n in SHAPES[key]:
            dense = [torch.randn(m, n, device=dev, dtype=torch.bfloat16) * 0.02
                     for _ in range(max(2, min(2048, math.ceil(rotate / (2 * m * n)))))]
            for bpw in [int(b) for b in a.bpw.split(",")]:
                stages = (bpw + 1) // 2
                stored = stages * m * (n // 8) * 2
                copies = max(2, min(a.max_copies, math.ceil(rotate / stored)))
                mods = []
                for c in range(copies):
                    mod = E8RHTLinear(n, m, bias=False, block_diagonal=True, codebook_type="e8_shell")
                    sd = {"Qidxs": torch.randint(-32768, 32767, (m, n // 8), dtype=torch.int16),
                          "SU": (torch.randint(0, 2, (m,)) * 2 - 1).half(),
                          "SV": (torch.randint(0, 2, (n,)) * 2 - 1).half(),
                          "Wscale": torch.tensor(0.013)}
                    for s in range(1, stages):
                        sd["Qidxs" + str(s + 1)] = torch.randint(-32768, 32767, (m, n // 8), dtype=torch.int16)
                        sd["inv_resid_scale" + ("" if s == 1 else str(s))] = torch.tensor(3.0 ** -s)
                    mod.load_state_dict(sd, strict=False)
                    mod = mod.to(dev)
                    mod.set_codebook(cb, cb)
                    mods.append(mod)
                for B in [int(b) for b in a.batch.split(",")]:
                    x = torch.randn(B, n, device=dev, dtype=torch.float16)
                    xb = x.to(torch.bfloat16)
                    with torch.no_grad():
                        t_ref = time_calls(torch, [lambda mm=mm: mm(x) for mm in mods], a.repeats)
                        t_bf16 = time_calls(torch, [lambda w=w: F.linear(xb, w) for w in dense], a.repeats)
                    rows.append({"shape": name, "m": m, "n": n, "bpw": bpw, "batch": B, "reference_us": t_ref,
                                 "bf16_us": t_bf16, "copies": copies})
                    print(f"{name:14s} {m}x{n} bpw {bpw} B {B}: reference {t_ref:8.2f} µs, bf16 {t_bf16:7.2f} µs, "
                          f"{t_bf16 / t_ref:.2f}x", flush=True)
                del mods
                torch.cuda.empty_cache()
    with open(a.json, "w") as f:
        json.dump({"rows": rows, "seconds": time.time() - t0}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
