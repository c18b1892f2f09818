#!/usr/bin/env bash
# The main job on a fresh machine: build bakeoff, provision CPU llama.cpp and the Gemma
# model, then validate the manifests, pin the model and plan the quickstart on this host.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
eval "$(scripts/provision.sh)"
models=$(dirname "$GEMMA_MODEL")
export PATH="$LLAMA_BIN_DIR:$PATH"
bakeoff=target/release/bakeoff
echo "== llama.cpp: $("$LLAMA_BIN_DIR/llama-bench" --version 2>&1 | head -1)" >&2
echo "== bakeoff check" >&2
"$bakeoff" check
echo "== bakeoff host" >&2
"$bakeoff" host
echo "== bakeoff lock (verifies the Gemma model against bakeoff.lock; the other models are not on this machine)" >&2
"$bakeoff" --models "$models" lock
echo "== bakeoff plan quickstart" >&2
"$bakeoff" --models "$models" plan quickstart
echo "results go to $(pwd)/results (running cells, \`bakeoff run\`, is the next issue)" >&2
