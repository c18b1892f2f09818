#!/usr/bin/env bash
# Benchmark: measurement fidelity. llama-bench on the Gemma model run directly and through
# `bakeoff run`, interleaved (direct, bakeoff, direct, bakeoff, …), same arguments. Prints the
# mean t/s of each test both ways and the ratio bakeoff/direct. Goal: within 0.97–1.03.
# Usage: scripts/bench-fidelity.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6}
source scripts/llama-project.sh
args=(-t 2 -p 64 -n 32 -r 3 --repack 0)
cat > "$work/experiments/fidelity.kdl" <<KDL
model "gemma" { file "$(basename "$GEMMA_MODEL")" }
experiment "fidelity" {
    matrix { model "gemma" }
    bench { args $(printf '"%s" ' "${args[@]}") }
}
KDL
export BAKEOFF_CACHE_DIR="$work/cache"
for round in $(seq 1 "$rounds"); do
    llama-bench -m "$GEMMA_MODEL" "${args[@]}" -o jsonl 2>/dev/null > "$work/direct-$round.jsonl"
    target/release/bakeoff -C "$work" --models "$(dirname "$GEMMA_MODEL")" run --force --no-progress >/dev/null 2>&1
    cp "$(find "$work/results/cells" -name '*.json')" "$work/bakeoff-$round.json"
done
python3 - "$work" "$rounds" <<'PY'
import json, sys, glob, statistics
work, rounds = sys.argv[1], int(sys.argv[2])
direct, through = {}, {}
for round in range(1, rounds + 1):
    for line in open(f"{work}/direct-{round}.jsonl"):
        record = json.loads(line)
        name = f"pp{record['n_prompt']}" if record["n_gen"] == 0 else f"tg{record['n_gen']}"
        direct.setdefault(name, []).append(record["avg_ts"])
    for name, metric in json.load(open(f"{work}/bakeoff-{round}.json"))["metrics"].items():
        through.setdefault(name, []).append(metric["mean"])
for name in sorted(direct):
    d, b = statistics.mean(direct[name]), statistics.mean(through[name])
    print(f"{name}: direct {d:.2f} t/s (sd {statistics.stdev(direct[name]):.2f}), "
          f"bakeoff {b:.2f} t/s (sd {statistics.stdev(through[name]):.2f}), ratio {b / d:.3f} over {rounds} rounds")
PY
