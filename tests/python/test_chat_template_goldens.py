#!/usr/bin/env python3
"""The committed chat template goldens must be what jinja2 and transformers
render today: a template, a conversation or a snippet edited without
re-running the generator, or a transformers release that renders
differently, fails here instead of silently testing stale expectations."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main():
    for module in ("jinja2", "transformers"):
        if importlib.util.find_spec(module) is None:
            print(f"skipped: {module} is not installed")
            return 77
    generator = ROOT / "tests" / "python" / "gen_chat_template_goldens.py"
    result = subprocess.run([sys.executable, str(generator), "--check"], cwd=ROOT)
    print("1 passed, 0 failed" if result.returncode == 0 else "0 passed, 1 failed")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
