"""tests/data/configs/expected.json is what transformers itself builds from each
config fixture (see make_expected.py); this re-derives it with the installed
transformers and fails if the checked-in file has gone stale, so the C++
expectations in tests/io/test_hf_config.cpp never drift from the reference."""
import os
import pathlib
import subprocess
import sys

root = pathlib.Path(os.environ.get("GLQ_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
script = root / "tests" / "data" / "configs" / "make_expected.py"
sys.exit(subprocess.run([sys.executable, str(script), "--check"]).returncode)
