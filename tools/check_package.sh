#!/usr/bin/env bash
# Builds the Debian package in a build folder, inspects it, installs it with
# apt-get, runs the installed glqw and glq-workbench with a bare environment
# (no venv, no LD_LIBRARY_PATH, nothing from the build tree), and purges it.
#
#   tools/check_package.sh BUILD_DIR [MODEL_DIR]
#
# BUILD_DIR is a configured build folder (the script builds glqw and
# glq-workbench in it). MODEL_DIR is a small HF model folder; by default
# models/SmolLM2-135M-Instruct (installer/setup.sh imports it), and where that
# is missing the installed glqw imports it from the demo GGUF
# models/SmolLM2-135M-Instruct.Q4_1.gguf into a temporary folder. Needs root (or sudo) because it installs a
# package: without either it exits 77, which CTest reports as skipped. It is
# the CTest package_install (cmake -DGLQ_TEST_PACKAGE=ON; ctest -L package).
# A glq-workbench package that was installed before is left alone: the script
# refuses to run rather than replace it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:?usage: tools/check_package.sh BUILD_DIR [MODEL_DIR]}"
BUILD="$(cd "$BUILD" && pwd)"
MODEL="${2:-$ROOT/models/SmolLM2-135M-Instruct}"
GGUF="$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"
PKG=glq-workbench

fail() { echo "check_package: FAIL: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "check_package: skipped: installing a package needs root or password-less sudo"
  exit 77
fi
IMPORT=0
if [ ! -f "$MODEL/config.json" ]; then
  { [ $# -lt 2 ] && [ -f "$GGUF" ]; } || fail "$MODEL: no config.json (run installer/setup.sh, or pass a model folder)"
  IMPORT=1
fi
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; then
  fail "$PKG is already installed on this machine; remove it first (apt-get remove $PKG)"
fi

step "Build glqw (and glq-workbench) in $BUILD; cpack -G DEB"
# Brings the binaries and CPackConfig.cmake (written when CMake configures)
# up to date with the sources and installer/packaging.cmake.
targets=(glqw)
grep -q "^GLQ_BUILD_GUI:BOOL=ON" "$BUILD/CMakeCache.txt" && targets+=(glq-workbench)
cmake --build "$BUILD" -j "${JOBS:-2}" --target "${targets[@]}"
rm -f "$BUILD"/${PKG}_*.deb
(cd "$BUILD" && cpack -G DEB)
DEB="$(ls "$BUILD"/${PKG}_*.deb)"
ls -l "$DEB"

step "Package metadata (dpkg-deb -I)"
dpkg-deb -I "$DEB"
DEPENDS="$(dpkg-deb -f "$DEB" Depends)"
for dep in zlib1g libc6 libstdc++6; do
  grep -q "$dep" <<<"$DEPENDS" || fail "Depends lacks $dep: $DEPENDS"
done
if grep -qi "python\|torch" <<<"$DEPENDS"; then fail "Depends names the builder's Python/torch: $DEPENDS"; fi

step "Package contents (dpkg-deb -c)"
CONTENTS="$(dpkg-deb -c "$DEB" | awk '{print $6}')"
# A build without Qt (-DGLQ_BUILD_GUI=OFF) packages the CLI alone.
GUI=0
grep -qx ./usr/bin/glq-workbench <<<"$CONTENTS" && GUI=1
GUI_FILES=()
[ "$GUI" = 1 ] && GUI_FILES=(./usr/share/applications/glq-workbench.desktop
                             ./usr/share/icons/hicolor/scalable/apps/glq-workbench.svg)
for f in ./usr/bin/glqw "${GUI_FILES[@]}" ./usr/share/glq-workbench/calibration/brown.txt.gz \
         ./usr/lib/glq-workbench/libtorch_cpu.so ./usr/lib/glq-workbench/libc10.so \
         ./usr/lib/glq-workbench/libtorch_cuda_linalg.so; do
  grep -qx "$f" <<<"$CONTENTS" || fail "$DEB lacks $f"
done
if [ "$GUI" = 1 ]; then
  for dep in libqt6widgets6 libqt6core6 qt6-qpa-plugins; do
    grep -q "$dep" <<<"$DEPENDS" || fail "Depends lacks $dep: $DEPENDS"
  done
fi
echo "$(grep -c . <<<"$CONTENTS") entries; $(grep -c '^./usr/lib/glq-workbench/' <<<"$CONTENTS") in usr/lib/glq-workbench"

step "RPATHs inside the package point nowhere but the package"
X="$(mktemp -d)"
trap 'rm -rf "$X"' EXIT
dpkg-deb -x "$DEB" "$X/root"
while IFS= read -r -d '' f; do
  if file -b "$f" | grep -q '^ELF'; then
    rp="$(readelf -d "$f" | sed -n 's/.*R\(UN\)\?PATH.*\[\(.*\)\]/\2/p')"
    case "$rp" in
      ""|'$ORIGIN'|'$ORIGIN/../lib/glq-workbench') ;;
      *) fail "${f#$X/root} has RPATH '$rp'" ;;
    esac
  fi
done < <(find "$X/root" -type f -print0)
echo "ok"

step "apt-get install $DEB"
cleanup() {
  # purge, not remove: leave not even dpkg's record of the package behind.
  echo; echo "== apt-get purge $PKG"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y "$PKG" >/dev/null || true
  rm -rf "$X"
}
trap cleanup EXIT
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$DEB"

# A bare environment: nothing on PATH or in the loader's path leads to the venv.
H="$X/home"
mkdir -p "$H"
bare() { env -i PATH=/usr/bin:/bin HOME="$H" LANG=C.UTF-8 "$@"; }

step "Installed binaries resolve every library inside the system or the package"
BINS=(/usr/bin/glqw)
[ "$GUI" = 1 ] && BINS+=(/usr/bin/glq-workbench)
for b in "${BINS[@]}"; do
  ldd_out="$(bare ldd "$b")"
  if grep -q "not found" <<<"$ldd_out"; then fail "$b: $(grep 'not found' <<<"$ldd_out")"; fi
  # ldd prints the RUNPATH's spelling (/usr/bin/../lib/glq-workbench/...).
  paths="$(awk '$2 == "=>" {print $3}' <<<"$ldd_out" | xargs -r realpath)"
  outside="$(grep -v -E "^/(usr/)?lib/" <<<"$paths" || true)"
  [ -z "$outside" ] || fail "$b loads libraries from outside the system and the package:
$outside"
  grep -qx "/usr/lib/glq-workbench/libtorch_cpu.so" <<<"$paths" || fail "$b does not load the bundled LibTorch"
done
echo "ok"

step "glqw version"
bare glqw version

if [ "$IMPORT" = 1 ]; then
  step "glqw import-gguf $GGUF"
  MODEL="$X/SmolLM2-135M-Instruct"
  bare glqw import-gguf "$GGUF" "$MODEL"
fi

step "glqw info $MODEL"
bare glqw info "$MODEL" --summary

step "glqw generate (greedy)"
out="$(bare glqw generate "$MODEL" --raw --prompt "The capital of France is" --max-tokens 8 --temperature 0)"
echo "$out"
grep -q "Paris" <<<"$out" || fail "greedy continuation of 'The capital of France is' does not mention Paris"

step "glqw finds its bundled calibration text"
# A window longer than the whole Brown corpus: the command reads and tokenizes
# the bundled text, then stops with an error that names the file it found.
set +e
out="$(bare glqw quantize "$MODEL" --bpw 2 --nsamples 1 --seqlen 100000000 --no-cache --out "$X/q" 2>&1)"
set -e
echo "$out" | tail -3
grep -q "/usr/share/glq-workbench/calibration/brown.txt.gz: calibration text too short" <<<"$out" \
  || fail "the installed glqw did not read /usr/share/glq-workbench/calibration/brown.txt.gz"

if [ "$GUI" = 1 ]; then
step "glq-workbench (offscreen)"
bare QT_QPA_PLATFORM=offscreen glq-workbench --version
bare QT_QPA_PLATFORM=offscreen glq-workbench --help >/dev/null
# A real start: open the model, draw every view, save them, quit.
bare QT_QPA_PLATFORM=offscreen timeout 300 glq-workbench --screenshot "$X/shots" "$MODEL"
n="$(ls "$X/shots"/*.png 2>/dev/null | wc -l)"
[ "$n" -gt 0 ] || fail "glq-workbench --screenshot wrote no PNG"
echo "glq-workbench drew $n views"

step "Desktop entry and icon"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/glq-workbench.desktop
  echo "desktop-file-validate: ok"
else
  echo "desktop-file-validate not installed (Debian package desktop-file-utils): skipped"
fi
exec_cmd="$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' /usr/share/applications/glq-workbench.desktop)"
bare sh -c "command -v $exec_cmd" >/dev/null || fail "Exec=$exec_cmd is not on PATH"
icon="$(sed -n 's/^Icon=//p' /usr/share/applications/glq-workbench.desktop)"
ls /usr/share/icons/hicolor/*/apps/"$icon".* >/dev/null || fail "Icon=$icon is not in hicolor"
fi

cleanup
trap - EXIT
[ ! -e /usr/bin/glqw ] || fail "/usr/bin/glqw is still there after apt-get purge"
[ ! -e /usr/lib/glq-workbench ] || fail "/usr/lib/glq-workbench is still there after apt-get purge"
echo; echo "check_package: PASS ($DEB)"
