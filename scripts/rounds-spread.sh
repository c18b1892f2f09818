#!/usr/bin/env bash
# Measurement: how much a cell varies between interleaved rounds against how much llama-bench's
# repetitions vary within one run (the spread a single run shows). Runs a 2×3 threads × depth
# matrix on the Gemma model with `rounds N` and prints, per cell and test, the coefficient of
# variation between rounds, the mean one within a round, and the 95% CI bakeoff reports.
# Usage: scripts/rounds-spread.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
source scripts/llama-project.sh
cat > "$work/experiments/spread.kdl" <<KDL
model "gemma" { file "$(basename "$GEMMA_MODEL")" }
experiment "spread" {
    matrix {
        model "gemma"
        threads 1 2
        depth 0 256 512
    }
    bench { args "-t" "{threads}" "-d" "{depth}" "-p" 32 "-n" 16 "-r" 3 "--repack" 0 }
    rounds $rounds
}
KDL
export BAKEOFF_CACHE_DIR="$work/cache"
target/release/bakeoff -C "$work" --models "$(dirname "$GEMMA_MODEL")" run --no-progress >/dev/null 2>&1
python3 - "$work" <<'PY'
import json, sys, glob, statistics
rows = []
for path in glob.glob(f"{sys.argv[1]}/results/cells/*/*.json"):
    record = json.load(open(path))
    for name in ("pp32", "tg16"):
        metric = record["metrics"][name]
        within = [statistics.stdev(r["metrics"][name]["samples"]) / r["metrics"][name]["mean"] for r in record["rounds"]]
        low, high = metric["rounds"]["ci95"]
        rows.append((int(record["axes"]["threads"]), int(record["axes"]["depth"]), name, metric["rounds"]["cv"],
                     statistics.mean(within), low, high, metric["rounds"].get("outliers", [])))
for threads, depth, name, between, within, low, high, outliers in sorted(rows):
    print(f"threads={threads} depth={depth} {name}: between rounds CV {between:.1%}, within a round CV {within:.1%}, "
          f"95% CI {low:.1f}..{high:.1f}, outlier rounds {outliers or 'none'}")
ratios = [row[3] / row[4] for row in rows if row[4] > 0]
print(f"between/within CV: median {statistics.median(ratios):.2f}, max {max(ratios):.2f} over {len(rows)} metrics")
PY
