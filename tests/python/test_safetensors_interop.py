"""Our safetensors files and the Python `safetensors` package read each other.

1. Every dtype both sides know: the C++ writer's file (written by the
   `interop_with_python` case of the test_safetensors executable) loads in
   Python with identical bytes, dtypes, shapes and metadata; the file Python
   writes loads in ours with identical bytes (checked on the C++ side).
2. `glqw info --json --checksums` on a Python-written file reports the same
   tensors and the same byte checksums that Python computes.
3. `glqw info --json` on stories260K and on a sharded copy written by Python
   lists the same tensors as safetensors' safe_open.

Run by CTest (env GLQW = path of glqw); exit 0 = pass, 1 = fail.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

# Same order and rule as kAllDTypes / interop_bytes in tests/io/test_safetensors.cpp.
DTYPES = [
    ("BOOL", torch.bool), ("U8", torch.uint8), ("I8", torch.int8), ("U16", torch.uint16),
    ("I16", torch.int16), ("U32", torch.uint32), ("I32", torch.int32), ("U64", torch.uint64),
    ("I64", torch.int64), ("F16", torch.float16), ("BF16", torch.bfloat16), ("F32", torch.float32),
    ("F64", torch.float64), ("F8_E4M3", torch.float8_e4m3fn), ("F8_E5M2", torch.float8_e5m2),
]

FAILURES = []


def check(cond, message):
    if not cond:
        FAILURES.append(message)
        print("FAIL:", message)


def rule_bytes(k: int, name: str, itemsize: int) -> bytes:
    n = 2 * (k + 1) * 3 * itemsize
    data = bytes(((31 * i + 17 * k + 5) & 0xFF) for i in range(n))
    if name == "BOOL":
        data = bytes(b & 1 for b in data)
    return data


def rule_tensors() -> dict:
    out = {}
    for k, (name, dtype) in enumerate(DTYPES):
        itemsize = torch.empty((), dtype=dtype).element_size()
        raw = bytearray(rule_bytes(k, name, itemsize))
        out["t_" + name] = torch.frombuffer(raw, dtype=dtype).reshape(2, k + 1, 3).clone()
    return out


def tensor_bytes(t: torch.Tensor) -> bytes:
    return t.contiguous().view(torch.uint8).numpy().tobytes()


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def glqw_info(glqw: str, target, *flags) -> dict:
    r = subprocess.run([glqw, "info", str(target), "--json", *flags], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"glqw info {target} failed ({r.returncode}): {r.stderr}")
    return json.loads(r.stdout)


def main() -> int:
    glqw = os.environ.get("GLQW")
    if not glqw or not pathlib.Path(glqw).exists():
        print("GLQW does not name the built glqw binary; run through CTest")
        return 1
    # CTest builds test executables into <build>/tests next to <build>/app/glqw.
    test_exe = pathlib.Path(glqw).resolve().parents[1] / "tests" / "test_safetensors"
    if not test_exe.exists():
        print(f"{test_exe} not found: build the test_safetensors target")
        return 1
    shared = pathlib.Path(os.environ.get("GLQ_SHARED_DATA", "../shared/data"))

    expected = rule_tensors()
    with tempfile.TemporaryDirectory(prefix="glq-interop-") as tmp:
        tmp = pathlib.Path(tmp)
        # 1. Python writes theirs; the C++ case reads it and writes ours.
        save_file(expected, str(tmp / "theirs.safetensors"), metadata={"writer": "python"})
        r = subprocess.run([str(test_exe), "interop_with_python"], env={**os.environ, "GLQ_INTEROP_DIR": str(tmp)},
                           capture_output=True, text=True)
        print(r.stdout.strip())
        check(r.returncode == 0 and "1 passed" in r.stdout, f"C++ side failed reading Python's file:\n{r.stdout}{r.stderr}")

        ours = tmp / "ours.safetensors"
        check(ours.exists(), "C++ side wrote no ours.safetensors")
        if ours.exists():
            loaded = load_file(str(ours))
            check(sorted(loaded) == sorted(expected), f"tensor names differ: {sorted(loaded)}")
            for name, want in expected.items():
                got = loaded.get(name)
                if got is None:
                    continue
                check(got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}")
                check(tuple(got.shape) == tuple(want.shape), f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}")
                check(tensor_bytes(got) == tensor_bytes(want), f"{name}: bytes differ")
            with safe_open(str(ours), "pt") as f:
                check(f.metadata() == {"writer": "glq", "format": "pt"}, f"metadata {f.metadata()}")
            header_len = int.from_bytes(ours.read_bytes()[:8], "little")
            check(header_len % 8 == 0, f"header length {header_len} is not a multiple of 8")

        # 2. glqw info --checksums on Python's file.
        info = glqw_info(glqw, tmp / "theirs.safetensors", "--checksums")
        check(info["metadata"] == {"writer": "python"}, f"glqw info metadata {info['metadata']}")
        by_name = {t["name"]: t for t in info["tensors"]}
        for name, want in expected.items():
            t = by_name.get(name)
            check(t is not None, f"glqw info lacks {name}")
            if t is None:
                continue
            check(t["dtype"] == name[2:], f"{name}: glqw dtype {t['dtype']}")
            check(t["shape"] == list(want.shape), f"{name}: glqw shape {t['shape']}")
            check(t["fnv1a64"] == fnv1a64(tensor_bytes(want)), f"{name}: checksum differs")

        # 3. Model folders: stories260K as is, and a sharded bf16 copy written by Python.
        stories = shared / "models" / "stories260K"
        with safe_open(str(stories / "model.safetensors"), "pt") as f:
            ref = {k: f.get_slice(k) for k in f.keys()}
            ref_shapes = {k: list(s.get_shape()) for k, s in ref.items()}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        info = glqw_info(glqw, stories)
        check({t["name"]: t["shape"] for t in info["tensors"]} == ref_shapes, "stories260K tensors differ")
        check(info["num_parameters"] == sum(t.numel() for t in tensors.values()),
              f"num_parameters {info['num_parameters']} != tensor total (tied embeddings)")
        check(info["model_type"] == "llama" and info["num_hidden_layers"] == 5, "stories260K summary")

        copy = tmp / "sharded"
        copy.mkdir()
        for name in ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
            (copy / name).write_bytes((stories / name).read_bytes())
        names = sorted(tensors)
        halves = [names[: len(names) // 2], names[len(names) // 2:]]
        weight_map = {}
        for i, part in enumerate(halves):
            shard = f"model-{i + 1:05d}-of-00002.safetensors"
            save_file({k: tensors[k].to(torch.bfloat16) for k in part}, str(copy / shard), metadata={"format": "pt"})
            weight_map.update({k: shard for k in part})
        (copy / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
        info = glqw_info(glqw, copy, "--checksums")
        check(info["sharded"] and len(info["files"]) == 2, "sharded copy not seen as two shards")
        for t in info["tensors"]:
            check(t["dtype"] == "BF16", f"{t['name']}: {t['dtype']}")
            check(t["file"] == weight_map[t["name"]], f"{t['name']}: in {t['file']}")
            check(t["fnv1a64"] == fnv1a64(tensor_bytes(tensors[t["name"]].to(torch.bfloat16))), f"{t['name']}: checksum")
        check(len(info["tensors"]) == len(names), "sharded copy tensor count")

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("safetensors interop: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
