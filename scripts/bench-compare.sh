#!/usr/bin/env bash
# Benchmark: `bakeoff compare` of a 1,000-cell experiment (10×10×10, two metrics) measured on
# two hosts (2,000 records), and `bakeoff gc --dry-run` over the same store, from the start
# of the process to the comparison printed / the list of what gc would remove.
# The reference in the same run is `bakeoff check` on the same manifests (parse, validate,
# expand), so the ratios show what reading the store and pairing the hosts add.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/seeded-project.sh
matrix_experiment big a b c > "$work/experiments/big.kdl"
seed
target/release/examples/seed_store "$work" tests/fixtures/hosts/strix-2.json
"$bakeoff" -C "$work" compare big --host strix-1 --host strix-2 | tail -n 3
hyperfine --warmup 3 --runs "${RUNS:-20}" -N \
    "$bakeoff -C $work check" \
    "$bakeoff -C $work compare big --host strix-1 --host strix-2" \
    "$bakeoff -C $work gc --dry-run"
