"""The mixed-precision plan through the CLI, end to end, on the tests' tiny model
(stories260K with its MLP widened to 256, test_glq_interop.make_tiny_model).

1. `glqw profile MODEL --out sens.json --bpws 2,3,4` -> `glqw allocate sens.json --target 3.5
   --min 2 --max 4 --out map.json` -> `glqw quantize MODEL --bpw-map map.json`:
   map.json is the reference's bpw_allocation.json (a flat object, one int
   rate per quantizable linear, keys exactly the checkpoint prefixes); the
   checkpoint's quantization_config.layer_bpw equals the map, each layer holds
   the Qidxs stages its rate needs, and the parameter-weighted average is
   <= 3.5 with at least two distinct rates (and equals the config's "bpw");
   the checkpoint runs in `glqw ppl` with a lower perplexity than a uniform
   2-bpw one.
2. `glqw quantize MODEL --bpw 3.5 --min-bpw 2 --max-bpw 4` (profile + allocate
   inside the job): the same checks, and the same plan as step 1, since the
   profile runs on the same calibration windows (same text, seed, sizes); its
   perplexity too is below uniform 2 bpw's.
3. Bad inputs: allocate with --target outside [--min, --max], a map naming a
   layer the model lacks, --bpw 9. Each exits 1 with ONE error line naming the
   option or file and the problem, and writes nothing (no map, no output or
   resume folder).
The source model folder is byte-identical afterwards (sha256 of every file).

Exit 77 (skipped) when the glqw binary or torch/safetensors are missing; under
CI a missing part fails instead (tests/python/_skip.py).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _skip import unavailable  # noqa: E402  (77, or a failure under CI)
from test_glq_interop import make_tiny_model, shared_data  # noqa: E402

TARGET = 3.5
# Small calibration: the tiny model's other CLI tests use 4-8 windows of 64.
CALIB = ["--nsamples", "4", "--seqlen", "64", "--no-cache"]
FAILURES = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        FAILURES.append(what)


def hashes(folder):
    """relative path -> sha256 of every file under `folder`."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def glqw(*args):
    started = time.monotonic()
    run = subprocess.run([os.environ["GLQW"], *map(str, args)], capture_output=True, text=True)
    print(f"$ glqw {' '.join(map(str, args))}  -> exit {run.returncode}, {time.monotonic() - started:.1f} s")
    return run


def linear_shapes(model_dir):
    """prefix -> (rows, cols) of every quantizable linear: the 2-D *_proj weights
    of the decoder layers (embedding and lm_head stay dense)."""
    from safetensors import safe_open

    out = {}
    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        for name in f.keys():
            if name.startswith("model.layers.") and name.endswith("_proj.weight"):
                out[name[: -len(".weight")]] = tuple(f.get_slice(name).get_shape())
    return out


def weighted_average(plan, shapes):
    params = {p: shapes[p][0] * shapes[p][1] for p in plan}
    return sum(plan[p] * params[p] for p in plan) / sum(params.values())


def check_plan(label, plan, shapes):
    """A plan covers every linear with a whole rate in [2, 4], averages at most
    the target by parameters, and really mixes rates."""
    check(set(plan) == set(shapes), f"{label}: names exactly the model's {len(shapes)} linears")
    check(all(isinstance(b, int) and not isinstance(b, bool) and 2 <= b <= 4 for b in plan.values()),
          f"{label}: every rate is an int in [2, 4] ({sorted(set(plan.values()))})")
    if set(plan) != set(shapes):
        return
    avg = weighted_average(plan, shapes)
    print(f"{label}: parameter-weighted average {avg:.4f} bpw, rates {sorted(set(plan.values()))}")
    check(avg <= TARGET + 1e-12, f"{label}: average {avg:.4f} <= {TARGET}")
    check(len(set(plan.values())) >= 2, f"{label}: at least two distinct rates")


def check_checkpoint(label, out, plan, shapes):
    """The checkpoint records `plan` and holds the stages each rate needs."""
    from safetensors import safe_open

    if not (out / "config.json").is_file() or not (out / "model.safetensors").is_file():
        check(False, f"{label}: {out} has config.json and model.safetensors")
        return
    qcfg = json.loads((out / "config.json").read_text()).get("quantization_config", {})
    check(qcfg.get("quant_method") == "glq", f"{label}: quantization_config.quant_method is glq")
    check(qcfg.get("layer_bpw") == plan, f"{label}: quantization_config.layer_bpw equals the plan")
    if set(plan) == set(shapes):
        avg = round(weighted_average(plan, shapes), 2)
        check(qcfg.get("bpw") == avg, f"{label}: quantization_config.bpw {qcfg.get('bpw')} is the average {avg}")
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    # 2 bpw: one 16-bit E8 stage; each stage after adds 1 bpw (8-bit) or 2 (16-bit).
    wrong = [p for p, b in plan.items()
             if sum(f"{p}.Qidxs{'' if s == 1 else s}" in keys for s in (1, 2, 3, 4)) != (b + 1) // 2
             or f"{p}.weight" in keys]
    check(not wrong, f"{label}: every linear holds the Qidxs stages of its rate and no dense weight {wrong[:3]}")


def perplexity(model_dir, text_file):
    """`glqw ppl` on the first 6 windows of 64 tokens (NaN if it fails)."""
    import re

    run = glqw("ppl", model_dir, "--text", text_file, "--seqlen", 64, "--max-windows", 6, "--device", "cpu")
    found = re.search(r"perplexity ([0-9.]+|nan|inf)", run.stdout)
    if run.returncode != 0 or not found:
        print(f"glqw ppl {model_dir} failed: {run.stderr.strip()[-300:]}")
        return float("nan")
    return float(found.group(1))


def check_error(label, run, must_name, problem_words, nothing_written):
    """Exit 1, one error line naming `must_name` and the problem, no output."""
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    print(f"{label}: stderr {run.stderr.strip()!r}")
    check(run.returncode == 1, f"{label}: exits 1 (got {run.returncode})")
    check(len(errors) == 1, f"{label}: exactly one error line (got {len(errors)})")
    line = errors[0] if errors else ""
    check(must_name in line, f"{label}: the error names {must_name}")
    check(all(w in line for w in problem_words), f"{label}: the error says {problem_words}")
    for p in nothing_written:
        check(not p.exists(), f"{label}: {p.name} is not written")


def main():
    glqw_bin = os.environ.get("GLQW")
    if not glqw_bin or not Path(glqw_bin).is_file():
        return unavailable("GLQW (the glqw binary) is not set")
    try:
        import torch  # noqa: F401  (make_tiny_model)
        import safetensors  # noqa: F401
    except ImportError as e:
        return unavailable(f"torch/safetensors not importable ({e})")

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tiny = tmp / "tiny"
        make_tiny_model(tiny)
        calib = tmp / "calib.txt"
        calib.write_text((shared_data() / "tinyshakespeare" / "input.txt").read_text()[:60000])
        calib_args = ["--calib", calib, *CALIB]
        before = hashes(tiny)
        shapes = linear_shapes(tiny)
        check(len(shapes) == 35, f"the tiny model has 35 linears (found {len(shapes)})")

        # 1. profile -> allocate -> quantize --bpw-map.
        sens, plan_file, out = tmp / "sens.json", tmp / "map.json", tmp / "out"
        # Rates 2..4 only: all the allocation below chooses from (the job's own
        # profile for --bpw 3.5 --min-bpw 2 --max-bpw 4 measures the same three);
        # the default 2..8 would more than double the profile's time.
        run = glqw("profile", tiny, "--out", sens, "--bpws", "2,3,4", *calib_args)
        check(run.returncode == 0 and sens.is_file(), f"glqw profile writes {sens.name} ({run.stderr[-300:]})")
        run = glqw("allocate", sens, "--target", TARGET, "--min", 2, "--max", 4, "--out", plan_file)
        print(run.stdout.strip())
        check(run.returncode == 0 and plan_file.is_file(), f"glqw allocate writes {plan_file.name} ({run.stderr})")
        plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {}
        check(isinstance(plan, dict), "map.json is a flat JSON object (bpw_allocation.json)")
        plan = plan if isinstance(plan, dict) else {}
        check("default" not in plan, "map.json names every layer itself (no \"default\" key)")
        check_plan("map.json", plan, shapes)
        run = glqw("quantize", tiny, "--bpw-map", plan_file, "--out", out, *calib_args)
        check(run.returncode == 0, f"glqw quantize --bpw-map succeeds ({run.stderr[-300:]})")
        check_checkpoint("--bpw-map checkpoint", out, plan, shapes)

        # 2. A fractional --bpw: profile and allocate inside the job.
        out2 = tmp / "out2"
        run = glqw("quantize", tiny, "--bpw", TARGET, "--min-bpw", 2, "--max-bpw", 4, "--out", out2, *calib_args)
        check(run.returncode == 0, f"glqw quantize --bpw {TARGET} succeeds ({run.stderr[-300:]})")
        plan2 = {}
        if (out2 / "config.json").is_file():
            plan2 = json.loads((out2 / "config.json").read_text()).get("quantization_config", {}).get("layer_bpw", {})
        check_plan(f"--bpw {TARGET} plan", plan2, shapes)
        check_checkpoint(f"--bpw {TARGET} checkpoint", out2, plan2, shapes)
        check(plan2 == plan, f"--bpw {TARGET} chooses the plan of profile + allocate on the same calibration")

        # Both mixed checkpoints run in our engine, and their ~3.5 bits buy a
        # lower perplexity than 2 bits everywhere (measured: source 100.5,
        # uniform 2 bpw 208.5, both mixed plans 140.5).
        out_2bpw = tmp / "out-2bpw"
        run = glqw("quantize", tiny, "--bpw", 2, "--out", out_2bpw, *calib_args)
        check(run.returncode == 0, f"glqw quantize --bpw 2 succeeds ({run.stderr[-300:]})")
        eval_file = tmp / "eval.txt"
        eval_file.write_text((shared_data() / "wikitext-2-raw" / "wiki.test.raw").read_text()[:40000])
        ppl = {name: perplexity(d, eval_file) for name, d in
               (("source", tiny), ("--bpw-map", out), (f"--bpw {TARGET}", out2), ("--bpw 2", out_2bpw))}
        print("perplexity: " + ", ".join(f"{k} {v:.3f}" for k, v in ppl.items()))
        for name in ("--bpw-map", f"--bpw {TARGET}"):
            check(ppl[name] < ppl["--bpw 2"], f"the {name} checkpoint's perplexity {ppl[name]:.3f} is below "
                  f"uniform 2 bpw's {ppl['--bpw 2']:.3f}")

        # 3. Bad inputs.
        bad_map = tmp / "bad-map.json"
        run = glqw("allocate", sens, "--target", 5, "--min", 2, "--max", 4, "--out", bad_map)
        check_error("allocate --target 5 --min 2 --max 4", run, "--target", ["5", "2", "4"], [bad_map])

        unknown = dict(plan)
        unknown["model.layers.9.mlp.gate_proj"] = 3
        bad_map.write_text(json.dumps(unknown))
        bad_out = tmp / "bad-out"
        run = glqw("quantize", tiny, "--bpw-map", bad_map, "--out", bad_out, *calib_args)
        check_error("a map naming model.layers.9.mlp.gate_proj", run, str(bad_map),
                    ["model.layers.9.mlp.gate_proj", "unknown"], [bad_out, Path(str(bad_out) + ".glq-resume")])

        run = glqw("quantize", tiny, "--bpw", 9, "--out", bad_out, *calib_args)
        check_error("--bpw 9", run, "--bpw", ["9", "2", "8"], [bad_out, Path(str(bad_out) + ".glq-resume")])

        check(hashes(tiny) == before, "the source model folder is byte-identical")

    print(f"{time.monotonic() - started:.1f} s in all")
    print("all checks passed" if not FAILURES else f"{len(FAILURES)} check(s) failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
