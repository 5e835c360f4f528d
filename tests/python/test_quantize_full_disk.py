"""A full disk at export: `glqw quantize` fails with one clear message, leaves no
output folder and no temporary files, and the source model is untouched.

The disk is "filled" for real, but only for the child: RLIMIT_FSIZE caps the size
of any file it writes, and with SIGXFSZ ignored a write past the cap fails with
EFBIG, exactly where ENOSPC would on a full disk (a fwrite that comes back short).
The cap lets the small files of the run through (the resume folder's per-linear
files, settings, JSON) and stops the checkpoint's model.safetensors, the last and
largest thing the job writes. The finished layers stay in OUT.glq-resume (the
message says so): a rerun with --resume after freeing space redoes only the export,
which this test also checks.

Exit 77 (skipped) when the glqw binary or torch/safetensors are not available;
under CI a missing part fails instead (tests/python/_skip.py).
"""

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

LIMIT = 96 * 1024  # bytes per file; the tiny model's checkpoint needs ~300 KB


# The same widened stories260K as the interop test (172 -> 256: every dim a
# multiple of 8), built by that test's function.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_glq_interop import make_tiny_model, shared_data  # noqa: E402
from _skip import unavailable  # noqa: E402  (77, or a failure under CI)


def snapshot(folder):
    """Every file under `folder`: relative path -> (bytes, mtime_ns)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(folder))] = (p.read_bytes() if p.is_file() else None, st.st_mtime_ns)
    return out


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write() instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def main():
    glqw = os.environ.get("GLQW")
    if not glqw or not Path(glqw).is_file():
        return unavailable("GLQW (the glqw binary) is not set")
    try:
        import torch  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError as e:
        return unavailable(f"torch/safetensors not importable ({e})")

    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tiny = tmp / "tiny"
        make_tiny_model(tiny)
        calib = tmp / "calib.txt"
        calib.write_text((shared_data() / "tinyshakespeare" / "input.txt").read_text()[:30000])
        out = tmp / "out"
        before = snapshot(tiny)
        top_before = sorted(p.name for p in tmp.iterdir())

        cmd = [glqw, "quantize", str(tiny), "--bpw", "4", "--out", str(out), "--calib", str(calib),
               "--nsamples", "4", "--seqlen", "64", "--no-cache"]
        # restore_signals=False: Python would otherwise reset SIGXFSZ to its default
        # (terminate) in the child.
        run = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=limit_file_size,
                             restore_signals=False)
        print(f"exit {run.returncode}; stderr:\n{run.stderr}")
        check(run.returncode == 1, "glqw quantize exits with status 1 (an error, not a crash or a signal)")
        errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
        check(len(errors) == 1, "exactly one error line")
        message = errors[0] if errors else ""
        check(str(out / "model.safetensors") in message, "the message names the file that could not be written")
        check(re.search(r"size limit|disk is full", message) is not None, "the message says why (full disk / size limit)")
        check(".tmp-" not in message, "the message does not name a temporary file")
        check(not out.exists(), "no output folder")
        left = sorted(p.name for p in tmp.iterdir())
        extra = [n for n in left if n not in top_before]
        check(extra == ["out.glq-resume"], f"nothing left beside the resume folder (found {extra})")
        resume = tmp / "out.glq-resume"
        temps = [str(p) for p in tmp.rglob("*") if ".tmp-" in p.name]
        check(not temps, f"no temporary files anywhere ({temps})")
        check(resume.is_dir() and any(resume.glob("*.safetensors")), "the finished layers are kept for --resume")
        check(snapshot(tiny) == before, "the source model is byte-identical (and not rewritten)")

        # With room again, --resume finishes from the kept layers.
        run = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
        print(run.stdout[-400:])
        check(run.returncode == 0, "the rerun with --resume succeeds")
        check((out / "model.safetensors").is_file() and (out / "config.json").is_file(), "the rerun writes the checkpoint")
        check("35 resumed" in run.stdout, "the rerun reuses all 35 quantized linears")
        check(not resume.exists(), "the resume folder is removed after a complete export")
        check(snapshot(tiny) == before, "the source model is still byte-identical")

    print("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
