#!/usr/bin/env bash
# Benchmark: the client's time to first token under concurrency 4 against the server's own
# prompt_ms. One llama-server (Gemma, CPU, 4 slots) gets 40 short streamed /completion requests,
# 4 in flight; for each, client TTFT − prompt_ms is HTTP, our reading of the stream, and the
# server's batching of the other slots' work in between. Prints median and p99 (goal: < 2 ms
# median, < 5 ms p99) beside the same for one request at a time, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/llama-project.sh
cat > "$work/experiments/load.kdl" <<KDL
model "gemma" { file "$(basename "$GEMMA_MODEL")" }
experiment "load" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 4096 "-np" 4 }
    workload "one" {
        request api="completion" max-tokens=2 prompt="Name a colour."
        repeat 40
    }
    workload "four" {
        request api="completion" max-tokens=2 prompt="Name a colour."
        repeat 40
        concurrency 4
    }
}
KDL
export BAKEOFF_CACHE_DIR="$work/cache"
target/release/bakeoff -C "$work" --models "$(dirname "$GEMMA_MODEL")" run --no-progress 2> "$work/stderr" >/dev/null
python3 - "$work" <<'PY'
import json, glob, statistics, sys
def percentile(values, rank):
    values = sorted(values)
    position = rank * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)
for path in sorted(glob.glob(f"{sys.argv[1]}/results/cells/*/*.json")):
    record = json.load(open(path))
    gaps = [r["ttft_ms"] - r["timings"]["prompt_ms"] for r in record["raw"][1:] if r["ttft_ms"] is not None and r["timings"]]
    print(f"{record['workload']:>4} in flight: client TTFT − server prompt_ms over {len(gaps)} requests: "
          f"median {statistics.median(gaps):.2f} ms, p99 {percentile(gaps, 0.99):.2f} ms, max {max(gaps):.2f}")
PY
