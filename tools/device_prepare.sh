#!/usr/bin/env bash
# Fill the git-ignored .carry/ and .whl/ folders with what a device call takes
# along (the device machine has no network and does not see ../shared):
#   .carry/src          `git archive` of HEAD: the exact commit a device run builds
#   .carry/include      nlohmann/json.hpp (no Debian package there)
#   .carry/data         shared-data.tgz: the parts of ../shared/data that tests and
#                       benchmarks read (Brown, WikiText-2, tinyshakespeare, small
#                       models, tokenizers), 9 MB gzipped instead of 28 MB loose,
#                       so that it fits in one call beside a demo part
#   .carry/demo-{a,b,c} the demo GGUF in three parts (a call carries at most 64 MiB)
#   .whl                wheels for Python 3.12 the device lacks (glq, gguf)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SHARED="${GLQ_SHARED_DATA:-$ROOT/../shared/data}"
mkdir -p .carry/include .carry/data .whl
rm -rf .carry/src && mkdir -p .carry/src
git archive --format=tar.gz -o .carry/src/head.tar.gz HEAD
git rev-parse --short HEAD > .carry/src/commit.txt
cp -r /usr/include/nlohmann .carry/include/
rm -rf .carry/shared-data .carry/bench .carry/data && mkdir -p .carry/data
tar -czf .carry/data/shared-data.tgz -C "$SHARED" --transform 's,^,shared-data/,' \
  models tokenizers wikitext-2-raw brown tinyshakespeare
if [ ! -f .carry/demo-c/demo.part.02 ]; then
  for p in a b c; do mkdir -p ".carry/demo-$p"; done
  split -n 3 -d models/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/glq-demo.part.
  mv /tmp/glq-demo.part.00 .carry/demo-a/demo.part.00
  mv /tmp/glq-demo.part.01 .carry/demo-b/demo.part.01
  mv /tmp/glq-demo.part.02 .carry/demo-c/demo.part.02
fi
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  -d .whl "$(grep '^glq==' installer/requirements.txt)" "$(grep '^gguf==' installer/requirements.txt)"
du -sh .carry/* .whl
