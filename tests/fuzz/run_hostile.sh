#!/usr/bin/env bash
# tests/fuzz/run_hostile.sh GLQW DIR
#
# Runs the release glqw on every hostile input that `make_inputs.py hostile
# DIR` wrote (kept outside the project) and checks the bar of issue 12: a
# non-zero exit with one clear error line, no signal, under a minute (the
# 30-digit tensor name must instead succeed). Prints one line per run and
# exits 1 when any run misses the bar.
set -uo pipefail
GLQW="$1"; DIR="$2"
STORIES="${GLQ_SHARED_DATA:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data}/models/stories260K"
# glqw quantize checks the model's shapes before it reads --bpw-map; stories260K's
# 172-wide MLP is not a multiple of 8, so the maps go with the demo model when present.
QMODEL="${GLQ_DEMO_MODEL:-$(cd "$(dirname "$0")/../.." && pwd)/models/SmolLM2-135M-Instruct}"
[ -f "$QMODEL/config.json" ] || QMODEL="$STORIES"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
bad=0
check() {  # want(fail|ok) name cmd...
  local want="$1" name="$2"; shift 2
  local t0 t1 rc lines err
  t0=$(date +%s.%N)
  timeout -s KILL 70 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"; rc=$?
  t1=$(date +%s.%N)
  local secs; secs=$(echo "$t1 - $t0" | bc)
  lines=$(grep -c . "$TMP/err"); err=$(head -c 150 "$TMP/err" | head -1)
  local verdict=ok
  if [ "$rc" -gt 128 ]; then verdict="SIGNAL $((rc - 128))"
  elif [ "$(echo "$secs > 60" | bc)" = 1 ]; then verdict="SLOW"
  elif [ "$want" = fail ] && { [ "$rc" = 0 ] || [ "$lines" != 1 ]; }; then verdict="BAD (rc $rc, $lines stderr lines)"
  elif [ "$want" = ok ] && [ "$rc" != 0 ]; then verdict="BAD (rc $rc)"
  fi
  [ "$verdict" = ok ] || bad=1
  printf '%-5s %-34s %-9s rc=%-3s %6.2fs  %s\n' "$verdict" "$name" "${*:2:1}" "$rc" "$secs" "${err:-$(head -c 80 "$TMP/out" | head -1)}"
}
for d in "$DIR"/*/; do
  n="$(basename "$d")"
  want=fail; [ "$n" = 09-30-digit-name ] && want=ok
  case "$n" in
    01-*|03-*|04-*|06-*|08-tokenizer*|08-generation*)
      check fail "$n" "$GLQW" generate "$d" --prompt "Once upon a time" --max-tokens 4 --temperature 0 ;;
    *) check "$want" "$n" "$GLQW" info "$d" ;;
  esac
done
for f in "$DIR"/*-sensitivity-*.json; do
  check fail "$(basename "$f")" "$GLQW" allocate "$f" --target 3 --out "$TMP/map.json"
done
for f in "$DIR"/*-bpw-map-*.json; do
  check fail "$(basename "$f")" "$GLQW" quantize "$QMODEL" --bpw-map "$f" --out "$TMP/q" --force
done
check fail 10-zero-element.gguf "$GLQW" import-gguf "$DIR/10-zero-element.gguf" "$TMP/imported"
exit $bad
