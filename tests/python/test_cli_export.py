"""`glqw quantize` and `glqw export` through the job session, the use-case
layer the workbench calls too (core/session/job_session.h), on the tiny model
(stories260K with its MLP widened, test_glq_interop.make_tiny_model):

1. `glqw quantize --bpw 4 --calib FILE ...` leaves the job record
   (glq_workbench_job.json) in the checkpoint: the calibration text, windows,
   seed, device, layer streaming and how the rates were chosen.
2. `glqw export CKPT --out DIR --ppl-text ... --ppl-source` copies the
   checkpoint and writes the model card, which names the calibration text
   (not "not recorded"), the windows and both perplexities; an existing DIR
   needs --force; without --out the card goes into the checkpoint itself.
3. `glqw quantize --contiguous --bpw-map map.json`: the record and the card
   say the windows were taken in order and the rates came from that map.
4. Bad input: export of a folder that is no GLQ checkpoint (exit 1, naming
   it), --ppl-source without --ppl-text (usage, exit 2).

Run by CTest (env GLQW, GLQ_SHARED_DATA); exit 0 = pass, 1 = fail, 77 = skipped.
"""
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

FAILURES = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        FAILURES.append(what)


def glqw(*args):
    started = time.monotonic()
    run = subprocess.run([os.environ["GLQW"], *map(str, args)], capture_output=True, text=True, timeout=600)
    print(f"$ glqw {' '.join(map(str, args))}  -> exit {run.returncode}, {time.monotonic() - started:.1f} s")
    return run


def main():
    glqw_bin = os.environ.get("GLQW")
    if not glqw_bin or not Path(glqw_bin).is_file():
        return unavailable("GLQW (the glqw binary) is not set")
    try:
        import torch  # noqa: F401  (make_tiny_model)
    except ImportError as e:
        return unavailable(f"torch not importable ({e})")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tiny = tmp / "tiny"
        make_tiny_model(tiny)
        calib = tmp / "calib.txt"
        calib.write_text((shared_data() / "tinyshakespeare" / "input.txt").read_text()[:60000])
        wiki = shared_data() / "wikitext-2-raw" / "wiki.test.raw"
        windows = ["--calib", calib, "--nsamples", 4, "--seqlen", 64, "--cache-dir", tmp / "cache"]

        # 1. quantize writes its record.
        ckpt = tmp / "q4"
        run = glqw("quantize", tiny, "--bpw", 4, "--seed", 3, "--out", ckpt, *windows)
        check(run.returncode == 0, f"quantize --bpw 4 succeeds ({run.stderr.strip()[-300:]})")
        record_file = ckpt / "glq_workbench_job.json"
        check(record_file.is_file(), "the checkpoint holds the job record")
        if record_file.is_file():
            r = json.loads(record_file.read_text())
            c = r.get("calibration", {})
            check(r.get("format") == "glq-workbench-job" and r.get("version") == 2, "record format and version 2")
            check(c.get("files") == [str(calib)], f"the record names the calibration text: {c.get('files')}")
            check((c.get("nsamples"), c.get("seqlen"), c.get("seed"), c.get("contiguous")) == (4, 64, 3, False),
                  f"the record's windows: {c}")
            check(r.get("device") == "cpu" and r.get("layer_streaming") == "auto" and r.get("streamed") is False,
                  f"the record's device and streaming: {r.get('device')}, {r.get('layer_streaming')}, {r.get('streamed')}")
            check(r.get("rates") == "uniform 4 bpw", f"the record's rates: {r.get('rates')}")
            check(len(r.get("layers", [])) == 35, "the record lists the 35 linears")
            check(r.get("source_model") == str(tiny), "the record names the source model")

        # 2. export with perplexity of both.
        out = tmp / "q4-hf"
        run = glqw("export", ckpt, "--out", out, "--ppl-text", wiki, "--ppl-seqlen", 64, "--ppl-windows", 2,
                   "--ppl-source", "--name", "tiny-glq-4bpw")
        check(run.returncode == 0, f"export succeeds ({run.stderr.strip()[-300:]})")
        card = (out / "README.md").read_text() if (out / "README.md").is_file() else ""
        check(bool(card), "the export holds README.md")
        check(all((out / f).is_file() for f in ["config.json", "model.safetensors", "tokenizer.json",
                                                   "glq_workbench_job.json"]), "the export holds the checkpoint's files")
        check(f"| text | `{calib}` |" in card, "the card names the calibration text")
        check("not recorded" not in card, "nothing on the card is 'not recorded'")
        check("| windows | 4 x 64 tokens (seed 3) |" in card, "the card gives the windows and the seed")
        check("| this checkpoint | " in card and "| source (unquantized) | " in card and "| 2 x 64 |" in card,
              "the card gives both perplexities on 2 x 64 tokens")
        check("# tiny-glq-4bpw" in card, "--name titles the card")
        check("perplexity (this checkpoint):" in run.stdout and "perplexity (source):" in run.stdout,
              f"export prints both perplexities: {run.stdout.strip()}")
        again = glqw("export", ckpt, "--out", out)
        check(again.returncode == 1 and "already exists" in again.stderr, f"an existing --out needs --force: {again.stderr.strip()}")
        forced = glqw("export", ckpt, "--out", out, "--force")
        check(forced.returncode == 0 and "Not measured." in (out / "README.md").read_text(),
              "--force replaces it (this time without perplexity)")
        in_place = glqw("export", ckpt)
        check(in_place.returncode == 0 and (ckpt / "README.md").is_file(), "without --out the card goes into the checkpoint")

        # 3. in order, from a map file.
        plan = tmp / "map.json"
        plan.write_text(json.dumps({"default": 3, "model.layers.0.mlp.down_proj": 5}))
        ckpt2 = tmp / "qmap"
        run = glqw("quantize", tiny, "--bpw-map", plan, "--contiguous", "--out", ckpt2, *windows)
        check(run.returncode == 0, f"quantize --bpw-map --contiguous succeeds ({run.stderr.strip()[-300:]})")
        if (ckpt2 / "glq_workbench_job.json").is_file():
            r = json.loads((ckpt2 / "glq_workbench_job.json").read_text())
            check(r["calibration"]["contiguous"] is True, "the record says the windows were in order")
            check(r.get("rates") == "per-layer bpw map (map.json)" and r.get("bpw_map_file") == str(plan),
                  f"the record names the map: {r.get('rates')}, {r.get('bpw_map_file')}")
            bpw = {l["name"]: l["bpw"] for l in r["layers"]}
            check(bpw.get("model.layers.0.mlp.down_proj") == 5 and bpw.get("model.layers.1.mlp.up_proj") == 3,
                  "the map's rates and its default were applied")
        run = glqw("export", ckpt2)
        card2 = (ckpt2 / "README.md").read_text() if (ckpt2 / "README.md").is_file() else ""
        check("| windows | the first 4 x 64 tokens, in order |" in card2, "the card says the windows were in order")
        check("| rates | per-layer bpw map (map.json) |" in card2, "the card says where the rates came from")

        # 4. bad input.
        run = glqw("export", tiny, "--out", tmp / "nope")
        check(run.returncode == 1 and str(tiny) in run.stderr and "not a GLQ checkpoint" in run.stderr,
              f"export of a plain model names it: {run.stderr.strip()}")
        check(not (tmp / "nope").exists(), "and writes nothing")
        run = glqw("export", ckpt, "--ppl-source")
        check(run.returncode == 2 and "--ppl-text" in run.stderr, f"--ppl-source needs --ppl-text: {run.stderr.strip()}")

    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
