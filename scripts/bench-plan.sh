#!/usr/bin/env bash
# Benchmark: `bakeoff plan` of a 10,000-cell matrix (10×10×10×10) with every cell cached,
# from the start of the process to the summary line. Goal: under 200 ms.
# The reference in the same run is `bakeoff check` on the same manifests (parse, validate,
# expand), so the ratio shows what fingerprinting and the store lookups add.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/seeded-project.sh
matrix_experiment big a b c d > "$work/experiments/big.kdl"
seed
"$bakeoff" -C "$work" --host-facts "$facts" plan | tail -1
hyperfine --warmup 3 --runs 20 -N \
    "$bakeoff -C $work --host-facts $facts check" \
    "$bakeoff -C $work --host-facts $facts plan"
