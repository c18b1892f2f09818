#!/usr/bin/env bash
# Benchmark: what a `search` and adaptive rounds save against the grid and the fixed rounds that
# give the same answers, on the real llama-bench with the Gemma model (CPU).
#  1. The deepest `-d` (0 to 1024, step 64: 17 values) at which pp64 keeps above THRESHOLD t/s:
#     as a search (cells measured, wall time), then as the full grid, whose boundary is read
#     from its 17 values; both answers are printed.
#  2. Batch 8 against 512 (the report's baseline) in adaptive rounds `min=2 max=8 until="pp64
#     ci < 1%"`, then in fixed `rounds 8`: rounds measured in each, and Welch's verdict of each.
#
# Usage: scripts/bench-search.sh [THRESHOLD] [BAKEOFF]   (defaults: 480, target/release/bakeoff)
set -euo pipefail
cd "$(dirname "$0")/.."
threshold=${1:-480}
bakeoff=$(realpath "${2:-target/release/bakeoff}")
[ -x "$bakeoff" ] || { echo "bench-search: no $bakeoff (cargo build --release)" >&2; exit 1; }
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
export PATH="$LLAMA_BIN_DIR:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
models=$(dirname "$GEMMA_MODEL")
bench='bench { args "-t" 2 "-p" 64 "-n" 0 "-d" "{depth}" "-r" 3 }'

# run NAME MANIFEST: a fresh project, one run; prints the wall seconds.
run() {
    mkdir -p "$work/$1/experiments"
    printf '%s\n' "$2" >"$work/$1/experiments/e.kdl"
    local started ended
    started=$(date +%s.%N)
    "$bakeoff" -C "$work/$1" --models "$models" run --no-progress >"$work/$1.log" 2>&1
    ended=$(date +%s.%N)
    python3 -c "print(f'{$ended - $started:.1f}')"
}
# records NAME: the project's records as JSON lines.
records() { find "$work/$1/results/cells" -name '*.json' -exec cat {} + | python3 -c '
import json, sys
text = sys.stdin.read()
decoder, at = json.JSONDecoder(), 0
while at < len(text):
    while at < len(text) and text[at].isspace(): at += 1
    if at >= len(text): break
    value, at = decoder.raw_decode(text, at)
    print(json.dumps(value))'; }

model='model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }'
search_time=$(run search "$model
experiment \"deepest\" {
    matrix { model \"gemma\" }
    $bench
    search \"depth\" from=0 to=1024 step=64 { keep \"pp64 >= $threshold\"; want \"largest\"; }
}")
grid_time=$(run grid "$model
experiment \"deepest\" {
    matrix {
        model \"gemma\"
        depth $(seq -s ' ' 0 64 1024)
    }
    $bench
}")
answer=$(grep -o "largest depth with pp64 ≥ $threshold: [0-9,]* ([^)]*)" "$work/search/results/deepest/README.md" || echo "no answer")
records grid | python3 -c "
import json, sys
values = sorted((int(r['axes']['depth']), r['metrics']['pp64']['mean']) for r in map(json.loads, sys.stdin))
keeps = [depth for depth, pp in values if pp >= $threshold]
deepest = max(keeps) if keeps else None
print(f'grid: {len(values)} cells in $grid_time s; deepest depth with pp64 >= $threshold: {deepest}')
print('      ' + ', '.join(f'{d}: {p:.0f}' for d, p in values))
"
probes=$(records search | wc -l)
echo "search: $probes cells in $search_time s; $answer"
python3 -c "print(f'search / grid: {$probes / 17:.2f} of the cells, {$search_time / $grid_time:.2f} of the time')"

pair="$model
experiment \"batch\" {
    matrix {
        model \"gemma\"
        batch 8 512
    }
    bench { args \"-t\" 2 \"-p\" 64 \"-n\" 0 \"-b\" \"{batch}\" \"-ub\" \"{batch}\" \"-r\" 2 }
    ROUNDS
    report { baseline batch=\"512\" }
}"
adaptive_time=$(run adaptive "${pair/ROUNDS/rounds min=2 max=8 until=\"pp64 ci < 1%\"}")
fixed_time=$(run fixed "${pair/ROUNDS/rounds 8}")
for name in adaptive fixed; do
    records "$name" | NAME=$name python3 -c "
import json, os, sys
from statistics import mean, stdev
from math import sqrt
cells = {r['axes']['batch']: r for r in map(json.loads, sys.stdin)}
a = [x['metrics']['pp64']['mean'] for x in cells['8']['rounds']]
b = [x['metrics']['pp64']['mean'] for x in cells['512']['rounds']]
t = (mean(b) - mean(a)) / sqrt(stdev(a) ** 2 / len(a) + stdev(b) ** 2 / len(b)) if stdev(a) + stdev(b) > 0 else float('inf')
print(f\"{os.environ['NAME']}: {len(a) + len(b)} rounds (batch 8: {len(a)}, 512: {len(b)}); pp64 {mean(a):.0f} against {mean(b):.0f}, Welch t = {t:.1f}\")
for batch, cell in sorted(cells.items()):
    if cell.get('rounds_stop'): print(f'  batch {batch}: ' + cell['rounds_stop'])
"
done
echo "time: adaptive $adaptive_time s, fixed $fixed_time s"
