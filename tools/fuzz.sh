#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [TARGET...]
#
# Builds the sanitized, torch-free fuzz configuration (tests/fuzz with clang:
# libFuzzer + ASan + UBSan) and runs each parser's harness: first every
# checked-in reproducer (tests/fuzz/regressions/<target>/), then SECONDS of
# fuzzing (default 30) from the seed corpus (tests/fuzz/corpus/<target>/).
# New inputs go to $OUT/corpus/<target> (not the checked-in seeds), crashes,
# leaks, timeouts and out-of-memory inputs to $OUT/crash-<target>-*; the
# figures of each run (executions, coverage cov/ft, findings) to
# $OUT/summary.txt. Exits 1 when any harness found something.
#
# Environment: GLQ_FUZZ_BUILD (build folder, default build-fuzz),
# GLQ_FUZZ_OUT (default $GLQ_FUZZ_BUILD/fuzz-out), GLQ_FUZZ_WORKERS
# (processes per target sharing its corpus, default 1), GLQ_FUZZ_PARALLEL
# (targets at once, default 1), GLQ_FUZZ_NO_BUILD=1 (use the binaries as they are),
# GLQ_FUZZ_BIN (one binary for every target, e.g. build-fuzz/fuzz_all, which
# reads the target from $GLQ_FUZZ_TARGET), GLQ_FUZZ_SEEDS (a folder with a
# corpus/<target> of an earlier run to start from as well).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-30}"
shift || true
ALL=(safetensors gguf hf_config tokenizer chat_template generation_config bpw_map sensitivity)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
BUILD="${GLQ_FUZZ_BUILD:-$ROOT/build-fuzz}"
OUT="${GLQ_FUZZ_OUT:-$BUILD/fuzz-out}"
WORKERS="${GLQ_FUZZ_WORKERS:-1}"
PARALLEL="${GLQ_FUZZ_PARALLEL:-1}"

if [ "${GLQ_FUZZ_NO_BUILD:-0}" != 1 ] && [ -z "${GLQ_FUZZ_BIN:-}" ]; then
  command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (installer/setup.sh --test installs clang)" >&2; exit 2; }
  if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S "$ROOT/tests/fuzz" -B "$BUILD" -G Ninja ${GLQ_FUZZ_CMAKE_ARGS:-} >/dev/null
  fi
  cmake --build "$BUILD" -j "${GLQ_JOBS:-$(nproc)}" $(printf -- '--target fuzz_%s ' "${TARGETS[@]}")
fi
mkdir -p "$OUT"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# A finding: a crash, UB, a leak, one input past 25 s, or past 2 GiB.
FLAGS=(-timeout=25 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1)

run_target() {
  local t="$1" bin="${GLQ_FUZZ_BIN:-$BUILD/fuzz_$1}" status=0
  local seeds=("$ROOT/tests/fuzz/corpus/$t")
  [ -n "${GLQ_FUZZ_SEEDS:-}" ] && [ -d "$GLQ_FUZZ_SEEDS/corpus/$t" ] && seeds+=("$GLQ_FUZZ_SEEDS/corpus/$t")
  [ -x "$bin" ] || { echo "fuzz.sh: $bin is missing" >&2; return 2; }
  local regs=("$ROOT/tests/fuzz/regressions/$t"/*)
  # 1. The reproducers: each runs once and must not crash.
  if [ -e "${regs[0]}" ]; then
    GLQ_FUZZ_TARGET="$t" "$bin" "${FLAGS[@]}" -artifact_prefix="$OUT/crash-$t-regression-" "${regs[@]}" > "$OUT/$t.regressions.log" 2>&1 ||
      { echo "fuzz.sh: $t: a checked-in reproducer fails again (see $OUT/$t.regressions.log)" >&2; status=1; }
  fi
  # 2. Fuzzing from the seeds, WORKERS processes sharing one corpus.
  mkdir -p "$OUT/corpus/$t"
  local pids=() w
  for ((w = 0; w < WORKERS; w++)); do
    GLQ_FUZZ_TARGET="$t" "$bin" "${FLAGS[@]}" -max_total_time="$SECONDS_EACH" -seed=$((1000 + w)) \
      -artifact_prefix="$OUT/crash-$t-" "$OUT/corpus/$t" "${seeds[@]}" > "$OUT/$t.$w.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  return $status
}

summary() {
  local t="$1" execs=0 cov=0 ft=0 n w log
  for ((w = 0; w < WORKERS; w++)); do
    log="$OUT/$t.$w.log"
    [ -f "$log" ] || continue
    n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
    execs=$((execs + ${n:-0}))
    n=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    if [ -n "$n" ]; then
      [ "$(echo "$n" | awk '{print $2}')" -gt "$cov" ] && cov=$(echo "$n" | awk '{print $2}')
      [ "$(echo "$n" | awk '{print $4}')" -gt "$ft" ] && ft=$(echo "$n" | awk '{print $4}')
    fi
  done
  local findings
  findings=$(find "$OUT" -maxdepth 1 -name "crash-$t-*" -newer "$OUT/.started" | wc -l)
  printf '%-18s %8ss x%s %12s execs  cov %6s  ft %7s  findings %s\n' "$t" "$SECONDS_EACH" "$WORKERS" "$execs" "$cov" "$ft" "$findings"
}

touch "$OUT/.started"
failed=0
running=0
for t in "${TARGETS[@]}"; do
  if [ "$PARALLEL" -le 1 ]; then
    echo "fuzz.sh: $t for ${SECONDS_EACH} s x $WORKERS"
    run_target "$t" || failed=1
  else
    run_target "$t" & running=$((running + 1))
    if [ "$running" -ge "$PARALLEL" ]; then wait -n || failed=1; running=$((running - 1)); fi
  fi
done
while [ "$running" -gt 0 ]; do wait -n || failed=1; running=$((running - 1)); done

{
  echo "# tools/fuzz.sh $SECONDS_EACH ${TARGETS[*]} (workers $WORKERS, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  for t in "${TARGETS[@]}"; do summary "$t"; done
} | tee "$OUT/summary.txt"
if [ "$failed" != 0 ]; then
  echo "fuzz.sh: FINDINGS: see $OUT/crash-* and the logs in $OUT" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
