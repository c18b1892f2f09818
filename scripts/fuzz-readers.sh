#!/usr/bin/env bash
# Every reader of files and streams on random input (src/fuzzing.rs: host facts, records and
# their head, the lock, the stat cache, llama-bench JSON lines, llama-server events and their
# metrics, GGUF headers): arbitrary bytes and mutations of valid samples, each reader on every
# input. Usage: scripts/fuzz-readers.sh [CASES_PER_STRATEGY]   (two strategies; default 500000,
# a million inputs in all)
set -euo pipefail
cd "$(dirname "$0")/.."
PROPTEST_CASES=${1:-500000} cargo test --release --locked --lib fuzzing -- --nocapture
