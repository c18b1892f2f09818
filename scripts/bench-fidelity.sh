#!/usr/bin/env bash
# Benchmark: measurement fidelity. llama-bench on the Gemma model run directly and through
# `bakeoff run`, interleaved (direct, bakeoff, direct, bakeoff, …), same arguments, for a short
# cell (-p 32 -n 8 -r 2) and a long one (-p 512 -n 128 -r 3). Prints, per cell and test, the
# median over rounds of each round's ratio bakeoff/direct, and bakeoff's peak_rss_bytes against
# the kernel's ru_maxrss of the direct run. Goal: every median within 0.98–1.02.
# Usage: scripts/bench-fidelity.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
source scripts/llama-project.sh
short=(-t 2 -p 32 -n 8 -r 2 --repack 0)
long=(-t 2 -p 512 -n 128 -r 3 --repack 0)
cat > "$work/experiments/fidelity.kdl" <<KDL
model "gemma" { file "$(basename "$GEMMA_MODEL")" }
experiment "short" {
    matrix { model "gemma" }
    bench { args $(printf '"%s" ' "${short[@]}") }
}
experiment "long" {
    matrix { model "gemma" }
    bench { args $(printf '"%s" ' "${long[@]}") }
}
KDL
export BAKEOFF_CACHE_DIR="$work/cache"
# llama-bench alone, its stdout kept and the kernel's high-water mark of its resident set
# (ru_maxrss, KiB) written after it.
direct() { # OUT ARGS...
    local out=$1; shift
    python3 - "$out" "$@" <<'PY'
import resource, subprocess, sys
out, argv = sys.argv[1], sys.argv[2:]
with open(out, "w") as file:
    subprocess.run(argv, stdout=file, stderr=subprocess.DEVNULL, check=True)
with open(out + ".maxrss", "w") as file:
    file.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}
for round in $(seq 1 "$rounds"); do
    for cell in short long; do
        declare -n args=$cell
        direct "$work/direct-$cell-$round.jsonl" llama-bench -m "$GEMMA_MODEL" "${args[@]}" -o jsonl
        target/release/bakeoff -C "$work" --models "$(dirname "$GEMMA_MODEL")" run "$cell" --force --no-progress \
            >/dev/null 2>&1
        record=$(grep -l "\"experiment\": \"$cell\"" $(find "$work/results/cells" -name '*.json'))
        cp "$record" "$work/bakeoff-$cell-$round.json"
    done
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
for cell in ("short", "long"):
    ratios, rss = {}, []
    for round in range(1, rounds + 1):
        direct = {}
        for line in open(f"{work}/direct-{cell}-{round}.jsonl"):
            record = json.loads(line)
            name = f"pp{record['n_prompt']}" if record["n_gen"] == 0 else f"tg{record['n_gen']}"
            direct[name] = record["avg_ts"]
        metrics = json.load(open(f"{work}/bakeoff-{cell}-{round}.json"))["metrics"]
        for name, value in direct.items():
            ratios.setdefault(name, []).append(metrics[name]["mean"] / value)
        maxrss = int(open(f"{work}/direct-{cell}-{round}.jsonl.maxrss").read()) * 1024
        rss.append(metrics["peak_rss_bytes"]["mean"] / maxrss)
    for name, values in sorted(ratios.items()):
        print(f"{cell} {name}: bakeoff/direct median {statistics.median(values):.3f} "
              f"(rounds {', '.join(f'{v:.3f}' for v in values)})")
    print(f"{cell} peak_rss_bytes / ru_maxrss: median {statistics.median(rss):.3f} "
          f"(rounds {', '.join(f'{v:.3f}' for v in rss)})")
PY
