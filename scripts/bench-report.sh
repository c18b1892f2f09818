#!/usr/bin/env bash
# Benchmark: `bakeoff report` of a 1,000-cell experiment (10×10×10, two metrics, ratios
# against a baseline; its tables are too big for charts) and a 100-cell one (10×10, a line
# chart and a bar chart per metric), with a result for every cell, from the start of the
# process to the written README.md files and charts. Goal: under 1 s.
# The reference in the same run is `bakeoff check` on the same manifests (parse, validate,
# expand), so the ratio shows what reading the store and writing the report add.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/seeded-project.sh
inside='    report {
        baseline a=1
    }' matrix_experiment big a b c > "$work/experiments/big.kdl"
cat >> "$work/experiments/big.kdl" <<KDL
experiment "small" {
    matrix {
        a $(values)
        b $(seq -s ' ' -f 'x%g' 1 10)
    }
    command {
        args "true" "-a" "{a}" "-b" "{b}"
    }
    report {
        table rows="a" columns="b"
        table rows="b" columns="a"
    }
}
KDL
seed
"$bakeoff" -C "$work" report big small
ls "$work/results/big" "$work/results/small"
hyperfine --warmup 3 --runs 20 -N \
    "$bakeoff -C $work check" \
    "$bakeoff -C $work report big small"
