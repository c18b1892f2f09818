#!/usr/bin/env bash
# llama-bench load groups, measured: a 2×4 bench matrix on Gemma (threads 1 2 × depth 0 64 128
# 256) run with load groups (one llama-bench process) and with --no-load-groups (a process per
# cell), in interleaved rounds. Prints each mode's median wall time of `bakeoff run --force`
# and its model loads (llama-bench processes given a model, counted by a wrapper on PATH that
# then runs the real llama-bench), and the ratio.
# Usage: scripts/bench-load-groups.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
source scripts/llama-project.sh
bakeoff=$(pwd)/target/release/bakeoff
models=$(dirname "$GEMMA_MODEL")
cat > "$work/experiments/depths.kdl" <<'EOF'
model "gemma" { file "gemma-3-270m-q4_k_m.gguf" }
experiment "depths" {
    matrix {
        model "gemma"
        threads 1 2
        depth 0 64 128 256
    }
    bench { args "-t" "{threads}" "-d" "{depth}" "-p" 32 "-n" 8 "-r" 2 "--repack" 0 }
}
EOF
mkdir -p "$work/shim"
cat > "$work/shim/llama-bench" <<EOF
#!/bin/sh
case " \$* " in *" -m "*) echo load >> "$work/loads" ;; esac
exec "$LLAMA_BIN_DIR/llama-bench" "\$@"
EOF
chmod +x "$work/shim/llama-bench"
export PATH="$work/shim:$PATH"
"$bakeoff" -C "$work" --models "$models" run --no-progress >/dev/null 2>&1
for round in $(seq 1 "$rounds"); do
    for mode in grouped alone; do
        flag=$([ "$mode" = alone ] && echo --no-load-groups || true)
        : > "$work/loads"
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$bakeoff" -C "$work" --models "$models" run --force --no-progress $flag >/dev/null 2>&1
        end=$(date +%s.%N)
        echo "$mode $(echo "$end - $start" | bc) $(wc -l < "$work/loads")" >> "$work/times"
    done
    echo "round $round of $rounds done" >&2
done
python3 - "$work/times" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
wall = {mode: statistics.median(float(w) for m, w, _ in rows if m == mode) for mode in ("grouped", "alone")}
loads = {mode: statistics.median(int(l) for m, _, l in rows if m == mode) for mode in ("grouped", "alone")}
for mode in ("alone", "grouped"):
    print(f"{mode:<8} wall {wall[mode]:6.2f} s (median of {sum(1 for m, *_ in rows if m == mode)})  model loads {loads[mode]}")
print(f"grouped / alone: wall {wall['grouped'] / wall['alone']:.2f}x, loads {loads['grouped']}/{loads['alone']}")
PY
