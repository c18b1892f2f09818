#!/usr/bin/env bash
# Runs the manifest decoder on random input (proptest: arbitrary text, KDL-shaped text and
# mutations of a real manifest). Usage: scripts/fuzz-manifests.sh [CASES_PER_STRATEGY]
set -euo pipefail
cd "$(dirname "$0")/.."
PROPTEST_CASES=${1:-100000} cargo test --release --locked --lib manifest::fuzz -- --nocapture
