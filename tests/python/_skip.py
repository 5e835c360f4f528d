"""The skip rule of the python tests that need a part outside the C++ build
(the reference `glq` package, torch, the glqw binary, a C++ test binary).

Outside CI a missing part skips the test (exit 77, CTest's SKIP_RETURN_CODE):
a developer without .venv-glq still gets a clean run. Under CI (CI set in the
environment; .ci/run sets it) a missing part fails the test, so an interop
check cannot vanish from CI without a trace: installer/setup.sh makes every
environment these tests need.

Not named test_*.py, so CTest does not collect it as a test.
"""

import os

SKIP = 77


def unavailable(why):
    """The exit status for a missing part: 77 (skipped), or 1 under CI."""
    if os.environ.get("CI"):
        print(f"FAILED: {why} (CI must run this test: installer/setup.sh makes its environment)")
        return 1
    print(f"skipped: {why}")
    return SKIP
