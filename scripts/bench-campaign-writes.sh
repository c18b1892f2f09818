#!/usr/bin/env bash
# Benchmark: what keeping the reports and the page current costs a campaign of 10,000 cells
# (10×10×10×10 `true` commands, one host) with a result for every cell but one, so that one
# cell runs and its record lands: the run's own time line, whose "writing reports and the page"
# part is the markdown report of the 10,000-cell experiment and results/index.html written after
# that cell and again at the end (unchanged files left alone), against the run's wall time. The
# reference in the same run is the same run with nothing to measure.
# Usage: scripts/bench-campaign-writes.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
source scripts/seeded-project.sh
matrix_experiment big a b c d > "$work/experiments/big.kdl"
seed
"$bakeoff" -C "$work" --host-facts "$facts" report >/dev/null
records=$(find "$work/results/cells" -name '*.json' | wc -l)
echo "store: $records records; page $(stat -c %s "$work/results/index.html") bytes"
for _ in $(seq 1 "$runs"); do
    victim=$(find "$work/results/cells" -name '*.json' | shuf -n 1)
    rm "$victim"
    "$bakeoff" -C "$work" --host-facts "$facts" run --no-progress 2>&1 | grep -E '^time:' | sed 's/^/one cell ran:  /'
done
for _ in $(seq 1 "$runs"); do
    "$bakeoff" -C "$work" --host-facts "$facts" run --no-progress 2>&1 | grep -E '^time:' | sed 's/^/nothing ran:   /'
done
