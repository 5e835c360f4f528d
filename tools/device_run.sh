#!/usr/bin/env bash
# Everything the GPU session needs, in as few device calls as possible.
# Run on the device machine from the repository root; results go to $OUT.
#
#   tools/device_run.sh stash            keep a carried demo-GGUF part (.carry/demo-?/) in /tmp/glq-demo
#   tools/device_run.sh build            configure + build (no Qt; CUDA for sm_90)
#   tools/device_run.sh test             GPU + core tests (CTest labels gpu, core, io, python;
#                                        GLQ_TEST_LABELS and GLQ_TEST_REGEX narrow them)
#   tools/device_run.sh bench            engine benchmarks vs HF transformers; writes $OUT/*.json
#   tools/device_run.sh quant-smoke      glqw and the reference quantize the demo once at 4 bpw
#                                        (small calibration), both scored by glqw ppl
#   tools/device_run.sh quant-bench      the full side-by-side (tools/bench_quant_vs_reference.py,
#                                        arguments from GLQ_QUANT_BENCH_ARGS)
#   tools/device_run.sh quant-trellis    the reference's trellis at GLQ_TRELLIS_BPW (default 2), alone:
#                                        one rate per call (a run takes minutes; scored by the dense route)
#   tools/device_run.sh stream-ab        the demo at 4 bpw on GPU 0, layer streaming on and off in
#                                        turn, GLQ_AB_REPEATS (3) runs each: wall, peak RSS, peak GPU
#                                        memory, sha256 of each checkpoint (they must all agree)
#   tools/device_run.sh kernels          glqw bench-kernels: one GLQ linear vs cuBLAS bf16 ($OUT/kernels.json)
#   tools/device_run.sh ref-layer        the reference glq's e8_shell layer, same shapes ($OUT/reference_layer.json)
#   tools/device_run.sh engine-glq       bench-engine on random GLQ 1B/8B shapes and the demo at 4 bpw
#   tools/device_run.sh hf-8b            transformers' compiled bf16 on the random 8B shape
#   tools/device_run.sh demo             import the demo GGUF once its three parts are here (before
#                                        two benchmarks start at once on two GPUs)
#   tools/device_run.sh pristine         replace the source folders by the committed HEAD
#                                        (carry .carry/src with the call): teammates'
#                                        uncommitted work in the tree does not take part
#   tools/device_run.sh build test bench (stages run in order; stash always runs first)
#
# The demo GGUF (98 MB) is over the 64 MiB a call may carry, so it travels in
# three parts (.carry/demo-a, -b, -c), one per call, while the machine stays warm.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-/tmp/glq-out}"
mkdir -p "$OUT"
BUILD="$ROOT/build-device"
DEMO_STASH=/tmp/glq-demo
DEMO_GGUF="$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_DIR="$ROOT/models/SmolLM2-135M-Instruct"
PY=python3
status=0

log() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

stash() {
  mkdir -p "$DEMO_STASH"
  for part in .carry/demo-*/demo.part.*; do
    [ -f "$part" ] && cp --update=none "$part" "$DEMO_STASH/"
  done
  ls "$DEMO_STASH" 2>/dev/null | tr '\n' ' '; echo
  if [ ! -f "$DEMO_GGUF" ] && [ "$(ls "$DEMO_STASH"/demo.part.* 2>/dev/null | wc -l)" = 3 ]; then
    mkdir -p "$ROOT/models"
    cat "$DEMO_STASH"/demo.part.* > "$DEMO_GGUF"
    sha256sum "$DEMO_GGUF"
  fi
}

# Once per machine: benchmarks started at once on two GPUs each call this, and a
# second `pip install --upgrade --target` replacing the package under a running
# first one left it without `glq` (2026-11-30). A lock and a stamp of the wheels.
install_wheels() {
  ls .whl/*.whl >/dev/null 2>&1 || return 0
  (
    flock 9
    local wanted
    wanted="$(cd .whl && ls *.whl)"
    if [ "$(cat /tmp/site/.wheels 2>/dev/null)" != "$wanted" ]; then
      $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && echo "$wanted" > /tmp/site/.wheels
    fi
  ) 9>/tmp/site.lock
  [ -f /tmp/site/.wheels ] && export PYTHONPATH=/tmp/site
}

build() {
  log build
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$OUT/gpu.txt"
  local prefix
  prefix="$($PY -c 'import torch;print(torch.utils.cmake_prefix_path)')"
  cmake -S . -B "$BUILD" -G Ninja -DGLQ_BUILD_GUI=OFF -DGLQ_CUDA_ARCHITECTURES=90 \
        -DCMAKE_PREFIX_PATH="$prefix" -DGLQ_TEST_PYTHON="$(command -v $PY)" \
        -DGLQ_SHARED_DATA_DIR="$SHARED_DATA" > "$OUT/cmake.log" 2>&1 \
    || { tail -30 "$OUT/cmake.log"; return 1; }
  ninja -C "$BUILD" -k 0 -j 16 > "$OUT/build.log" 2>&1 || { grep -E "error|Error" -A3 "$OUT/build.log" | head -60; return 1; }
  echo "build ok"
  ensure_demo
}

# The demo model as an HF folder, once its GGUF is complete on this machine.
ensure_demo() {
  if [ -f "$DEMO_GGUF" ] && [ ! -f "$DEMO_DIR/model.safetensors" ] && [ -x "$BUILD/app/glqw" ]; then
    "$BUILD/app/glqw" import-gguf "$DEMO_GGUF" "$DEMO_DIR" 2>&1 | tail -3
  fi
}

run_tests() {
  log tests
  install_wheels
  # GLQ_TEST_REGEX narrows the run to some tests (a re-run after a fix).
  ctest --test-dir "$BUILD" -L "${GLQ_TEST_LABELS:-gpu|core|io|python}" ${GLQ_TEST_REGEX:+-R "$GLQ_TEST_REGEX"} \
    --output-on-failure -V -j 8 --timeout 400 > "$OUT/ctest.log" 2>&1
  local rc=$?
  grep -E "Test +#|tests passed|tests failed|Skipped|\*\*\*" "$OUT/ctest.log" | tail -60
  # A crashed test: keep its backtrace (tests/support prints one) and which
  # library each std:: symbol bound to, the suspect of earlier device crashes.
  local t
  # A plain failure's output is in ctest.log already: only crashes run again.
  for t in $(grep -E "\*\*\*Exception" "$OUT/ctest.log" | grep -oE "test_[a-z0-9_]+" | sort -u); do
    local exe
    exe="$(find "$BUILD/tests" -maxdepth 1 -type f -name "$t" | head -1)"
    [ -n "$exe" ] || continue
    { echo "== $t"; ldd "$exe" | head -40
      GLQ_SHARED_DATA="$SHARED_DATA" GLQ_TEST_DATA="$ROOT/tests/data" LD_DEBUG=bindings "$exe" 2>&1 \
        | grep -E "binding file .*(filesystem|_ZNSt10filesystem|_ZNKSt10filesystem)" | sort -u | head -40
      GLQ_SHARED_DATA="$SHARED_DATA" GLQ_TEST_DATA="$ROOT/tests/data" "$exe" 2>&1 | tail -40
    } > "$OUT/crash-$t.txt" 2>&1
  done
  return $rc
}

bench() {
  log bench
  install_wheels
  ensure_demo
  local glqw="$BUILD/app/glqw"
  "$glqw" bench-engine --random-llama-1b --device cuda --dtype bf16 --prompt-tokens 128 \
      --new-tokens 256 --repeats 5 --json "$OUT/engine_llama1b.json" 2>&1 | tail -5
  if [ -d "$DEMO_DIR" ]; then
    "$glqw" bench-engine "$DEMO_DIR" --device cuda --dtype bf16 --prompt-tokens 128 \
        --new-tokens 256 --repeats 5 --json "$OUT/engine_demo.json" 2>&1 | tail -5
    $PY tools/bench_hf_generate.py --model "$DEMO_DIR" --json "$OUT/hf_generate.json" 2>&1 | grep -v Warning | tail -8
  else
    $PY tools/bench_hf_generate.py --json "$OUT/hf_generate.json" 2>&1 | grep -v Warning | tail -8
  fi
}

# The compressed-inference tables (issue 11): one linear at a time against
# cuBLAS bf16 (glqw bench-kernels), the reference glq's e8_shell layer on the
# same shapes, then whole models: random GLQ 1B/8B shapes at 2/3/4 bpw beside
# bf16 and transformers' compiled bf16, and the demo dense vs quantized.
kernels() {
  log kernels
  local glqw="$BUILD/app/glqw"
  "$glqw" bench-kernels --shapes "${GLQ_KERNEL_SHAPES:-demo,1b,8b}" --bpw "${GLQ_KERNEL_BPW:-2,3,4}" ${GLQ_KERNEL_ARGS:-} \
      --batch "${GLQ_KERNEL_BATCH:-1,8,16,32}" --json "$OUT/kernels.json" 2>&1 | tail -120
}

ref_layer() {
  log ref-layer
  install_wheels
  local so
  for so in /tmp/site/glq/_C*.so; do [ -f "$so" ] && rm -f "$so" && echo "removed $so (ABI mismatch with torch 2.11)"; done
  timeout 560 $PY tools/bench_reference_layer.py --shapes "${GLQ_REF_SHAPES:-demo,8b}" --bpw 2,4 --batch 1,8,32 \
      --json "$OUT/reference_layer.json" 2>&1 | grep -v Warning | tail -60
}

engine_glq() {
  log engine-glq
  install_wheels
  ensure_demo
  local glqw="$BUILD/app/glqw"
  "$glqw" bench-engine --random-llama-1b --random-llama-8b --random-bpw "${GLQ_ENGINE_BPW:-0,2,3,4}" --batch 8 \
      --device cuda --dtype bf16 --prompt-tokens 128 --new-tokens 128 --repeats "${GLQ_ENGINE_REPEATS:-3}" \
      --json "$OUT/engine_random_glq.json" 2>&1 | grep -v "^\s*$" | tail -40
  if [ -d "$DEMO_DIR" ]; then
    [ -f /tmp/demo-glq4/config.json ] || "$glqw" quantize "$DEMO_DIR" --bpw 4 --nsamples 16 --seqlen 512 \
        --device cuda --calib "$SHARED_DATA/brown/brown.txt" --no-cache --out /tmp/demo-glq4 2>&1 | tail -2
    for m in "$DEMO_DIR" /tmp/demo-glq4; do
      "$glqw" bench-engine "$m" --batch 8 --device cuda --dtype bf16 --prompt-tokens 128 --new-tokens 256 \
          --repeats 5 --json "$OUT/engine_$(basename "$m").json" 2>&1 | tail -4
    done
  fi
}

hf_8b() {
  log hf-8b
  install_wheels
  timeout 500 $PY tools/bench_hf_generate.py --random-8b --skip-eager --new-tokens 128 --repeats 3 \
      --json "$OUT/hf_generate_8b.json" 2>&1 | grep -v Warning | tail -8
}

# The shared data (tests' fixtures, calibration and evaluation text), carried
# gzipped as .carry/data/shared-data.tgz and unpacked once to a place that
# survives between calls of a warm machine.
SHARED_DATA=/tmp/glq-shared-data
unpack_data() {
  if [ -f .carry/data/shared-data.tgz ] && [ ! -f "$SHARED_DATA/.complete" ]; then
    rm -rf "$SHARED_DATA" && mkdir -p "$SHARED_DATA"
    tar -xzf .carry/data/shared-data.tgz -C "$SHARED_DATA" --strip-components=1 && touch "$SHARED_DATA/.complete"
  fi
}

bench_text() {
  [ -f "$SHARED_DATA/brown/brown.txt" ] && { echo "$SHARED_DATA"; return; }
  echo "no calibration text (carry .carry/data once)" >&2; return 1
}

quant_bench() {  # $1 = smoke | full | trellis
  log "quant-$1"
  install_wheels
  ensure_demo
  [ -d "$DEMO_DIR" ] || { echo "no demo model"; return 1; }
  local data
  data="$(bench_text)" || return 1
  # A name per run, so that two runs on two GPUs of one machine (CUDA_VISIBLE_DEVICES)
  # keep apart: trellis takes its rate, a full bench GLQ_BENCH_NAME.
  local name="$1"
  [ "$1" = trellis ] && name="trellis${GLQ_TRELLIS_BPW:-2}"
  [ "$1" = full ] && name="${GLQ_BENCH_NAME:-full}"
  local work="/tmp/qbench-$name"
  mkdir -p "$work"
  local args=(--model "$DEMO_DIR" --glqw "$BUILD/app/glqw" --calib "$data/brown/brown.txt"
              --eval "$data/wikitext-2-raw/wiki.test.raw" --workdir "$work" --json "$OUT/quant_$name.json")
  if [ "$1" = smoke ]; then
    args+=(--bpw 4 --nsamples 16 --seqlen 512 --codebooks e8_shell --repeats 1 --eval-windows 40)
  elif [ "$1" = trellis ]; then
    args+=(--bpw "${GLQ_TRELLIS_BPW:-2}" --codebooks trellis --skip-ours --timing-bpw 0 --repeats 1
           --nsamples 128 --seqlen 512)
  else
    args+=(${GLQ_QUANT_BENCH_ARGS:-})
  fi
  # GLQ_BENCH_TIMEOUT_S stops the benchmark (and the runs it started) before the
  # call's own limit, so that its JSON and logs still come back.
  timeout "${GLQ_BENCH_TIMEOUT_S:-0}" $PY tools/bench_quant_vs_reference.py "${args[@]}" 2>&1 \
    | tee "$work/bench.log" | grep -vi warning | tail -40
  # At most 8 files come back from a call: the logs travel as one archive.
  tar -czf "$OUT/quant_${name}_logs.tgz" -C "$work" $(cd "$work" && ls *.log) 2>/dev/null || true
}

stream_ab() {
  log stream-ab
  ensure_demo
  [ -d "$DEMO_DIR" ] || { echo "no demo model"; return 1; }
  local data
  data="$(bench_text)" || return 1
  local work=/tmp/stream-ab mode run
  rm -rf "$work" && mkdir -p "$work"
  for run in $(seq "${GLQ_AB_REPEATS:-3}"); do
    for mode in on off; do
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 200 > "$work/gpu.txt" &
      local smi=$!
      $PY - "$BUILD/app/glqw" quantize "$DEMO_DIR" --bpw 4 --device cuda --stream-layers "$mode" --no-cache \
          --calib "$data/brown/brown.txt" --nsamples 128 --seqlen 512 --out "$work/$mode-$run" \
          > "$work/$mode-$run.txt" 2> "$work/$mode-$run.log" <<'PYEOF'
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:]).returncode
wall = time.perf_counter() - t
print(f"{wall:.2f} s, rss {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB, rc {rc}")
PYEOF
      kill $smi; wait $smi 2>/dev/null
      printf 'streaming %-3s run %s: %s, gpu %s MiB, %s\n' "$mode" "$run" "$(tail -1 "$work/$mode-$run.txt")" \
        "$(sort -n "$work/gpu.txt" | tail -1)" "$(grep -m1 '^layer streaming' "$work/$mode-$run.log")"
      sha256sum "$work/$mode-$run/model.safetensors" | cut -c1-16
      rm -rf "$work/$mode-$run"
    done
  done 2>&1 | tee "$OUT/stream_ab.txt"
}

# The device copy is the working tree, where teammates' unfinished edits
# (new files and changes to tracked ones) live beside the last commit. To
# build and measure exactly a commit, .carry/src/head.tar.gz (`git archive`
# of HEAD, written by tools/device_prepare.sh) replaces every source folder.
pristine() {
  [ -f .carry/src/head.tar.gz ] || { echo "pristine: no .carry/src/head.tar.gz (run tools/device_prepare.sh)"; return 1; }
  rm -rf app core kernels ui tests resources installer cmake CMakeLists.txt
  tar -xzf .carry/src/head.tar.gz --exclude=tools/device_run.sh
  echo "pristine: source tree is commit $(cat .carry/src/commit.txt)"
}

stash
unpack_data
for stage in "$@"; do
  case "$stage" in
    stash) ;;
    pristine) pristine ;;
    build) build || status=1 ;;
    demo) ensure_demo ;;
    stream-ab) stream_ab || status=1 ;;
    test) run_tests || status=1 ;;
    bench) bench || status=1 ;;
    quant-smoke) quant_bench smoke || status=1 ;;
    kernels) kernels || status=1 ;;
    ref-layer) ref_layer || status=1 ;;
    engine-glq) engine_glq || status=1 ;;
    hf-8b) hf_8b || status=1 ;;
    quant-bench) quant_bench full || status=1 ;;
    quant-trellis) quant_bench trellis || status=1 ;;
    *) echo "unknown stage $stage"; status=2 ;;
  esac
done
exit $status
