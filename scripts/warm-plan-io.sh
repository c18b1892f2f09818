#!/usr/bin/env bash
# Shows that a warm plan reads no model bytes: the first plan hashes the Gemma model (253 MB),
# the second answers from the stat cache; strace lists the files each one opens and
# /proc/PID/io how many bytes each one read.
set -euo pipefail
cd "$(dirname "$0")/.."
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
cargo build --release --quiet
command -v strace >/dev/null || { echo "install strace" >&2; exit 1; }
models=$(dirname "$GEMMA_MODEL")
export BAKEOFF_CACHE_DIR
BAKEOFF_CACHE_DIR=$(mktemp -d)
# A file hashed within 2 s of its last change is not cached (racy-clean rule); the model is old.
plan() {
    strace -f -qq -e trace=openat -o "$1" target/release/bakeoff --models "$models" plan quickstart >/dev/null
}
read_bytes() {
    # rchar of a finished process is not visible, so run it under a shell that prints its own.
    bash -c 'target/release/bakeoff --models "$0" plan quickstart >/dev/null & pid=$!; while kill -0 $pid 2>/dev/null; do grep rchar /proc/$pid/io 2>/dev/null > "$1.io" || true; sleep 0.001; done' "$models" "$1"
    cat "$1.io"
}
cold=$(mktemp); warm=$(mktemp)
plan "$cold"
plan "$warm"
echo "cold plan: opened the model $(grep -c "$(basename "$GEMMA_MODEL")" "$cold") time(s)"
echo "warm plan: opened the model $(grep -c "$(basename "$GEMMA_MODEL")" "$warm") time(s)"
rm -rf "$BAKEOFF_CACHE_DIR"; mkdir -p "$BAKEOFF_CACHE_DIR"
echo "cold plan read: $(read_bytes "$cold")"
echo "warm plan read: $(read_bytes "$warm")"
