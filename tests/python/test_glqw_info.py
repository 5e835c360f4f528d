"""`glqw info` on real folders: text and --json agree with the files.

- stories260K: every line of the summary, the per-tensor table (one row per
  tensor with dtype, shape, parameters and bytes equal to safetensors'
  safe_open), --summary leaving the table out.
- a GLQ checkpoint (stories260K with a quantization_config as the reference
  `glq` package writes it): codebook, bpw and the per-layer bpw table.
- bad inputs: a missing folder and a truncated weights file give one error
  line naming the file, and exit code 1.

Run by CTest (env GLQW = path of glqw); exit 0 = pass, 1 = fail.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from safetensors import safe_open

FAILURES = []


def check(cond, message):
    if not cond:
        FAILURES.append(message)
        print("FAIL:", message)


def glqw(*args):
    return subprocess.run([os.environ["GLQW"], *map(str, args)], capture_output=True, text=True)


def main() -> int:
    if not os.environ.get("GLQW") or not pathlib.Path(os.environ["GLQW"]).exists():
        print("GLQW does not name the built glqw binary; run through CTest")
        return 1
    stories = pathlib.Path(os.environ.get("GLQ_SHARED_DATA", "../shared/data")) / "models" / "stories260K"
    with safe_open(str(stories / "model.safetensors"), "np") as f:
        ref = {k: f.get_slice(k) for k in f.keys()}
        shapes = {k: list(s.get_shape()) for k, s in ref.items()}

    r = glqw("info", stories)
    check(r.returncode == 0, f"glqw info failed: {r.stderr}")
    out = r.stdout
    for line in ["architecture  LlamaForCausalLM (model_type llama)", "layers        5",
                 "heads         8 (kv heads 4, head_dim 8)", "hidden        64", "intermediate  172",
                 "vocab         512", "context       512", "parameters    260.0K (260032), tied embeddings",
                 "dtype         float32"]:
        check(line in out, f"summary lacks {line!r}")
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(model\.\S+)\s+(\w+)\s+(\[[\d, ]*\])\s+(\d+)\s+(\d+)$", line)
        if m:
            rows[m.group(1)] = (m.group(2), json.loads(m.group(3)), int(m.group(4)), int(m.group(5)))
    check(set(rows) == set(shapes), f"table rows {len(rows)} != {len(shapes)} tensors")
    for name, (dtype, shape, params, nbytes) in rows.items():
        n = 1
        for d in shapes[name]:
            n *= d
        check(dtype == "F32" and shape == shapes[name] and params == n and nbytes == 4 * n, f"row {name}")
    summary = glqw("info", stories, "--summary").stdout
    check("model.layers.0.mlp.up_proj.weight" not in summary and "parameters" in summary, "--summary still has the table")

    with tempfile.TemporaryDirectory(prefix="glq-info-") as tmp:
        glq_dir = pathlib.Path(tmp) / "stories-glq"
        shutil.copytree(stories, glq_dir, ignore=shutil.ignore_patterns("llama2c", "reference"))
        for p in glq_dir.iterdir():
            p.chmod(0o644)
        config = json.loads((glq_dir / "config.json").read_text())
        layer_bpw = {f"model.layers.{i}.{m}": (3 if m == "mlp.down_proj" else 2)
                     for i in range(5) for m in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                 "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]}
        config["quantization_config"] = {"quant_method": "glq", "codebook": "e8_shell", "block_diagonal": True,
                                         "codesz": 8, "bpw": 2.14, "layer_bpw": layer_bpw}
        (glq_dir / "config.json").write_text(json.dumps(config))
        r = glqw("info", glq_dir, "--summary")
        check(r.returncode == 0, f"glqw info on GLQ folder failed: {r.stderr}")
        check("quantization  glq, codebook e8_shell, 2.14 bpw, 35 quantized layers" in r.stdout, r.stdout)
        check("bpw histogram  2 bpw: 30  3 bpw: 5" in r.stdout, "histogram line")
        check("model.layers.4: mlp.down_proj=3 mlp.gate_proj=2" in r.stdout, "per-layer line")
        j = json.loads(glqw("info", glq_dir, "--json", "--summary").stdout)
        check(j["quantization"]["codebook"] == "e8_shell" and j["quantization"]["layer_bpw"] == layer_bpw,
              "json quantization block")
        check("tensors" not in j, "--summary --json still lists tensors")

        r = glqw("info", pathlib.Path(tmp) / "absent")
        check(r.returncode == 1 and "absent: model folder does not exist" in r.stderr and r.stderr.count("\n") == 1,
              f"missing folder: {r.returncode} {r.stderr!r}")
        with open(glq_dir / "model.safetensors", "r+b") as f:
            f.truncate(100)
        r = glqw("info", glq_dir)
        check(r.returncode == 1 and "model.safetensors: header length 4920 exceeds the file size of 100 bytes" in r.stderr,
              f"truncated weights: {r.returncode} {r.stderr!r}")

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("glqw info: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
