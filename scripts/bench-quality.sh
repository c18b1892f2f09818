#!/usr/bin/env bash
# Benchmark: a quality cell through bakeoff against llama-perplexity alone on the same inputs,
# interleaved (bakeoff, direct, bakeoff, direct, …) so that a machine drifting during the
# benchmark weighs on both alike. The Gemma model (Q4_K_M) is the reference and its Q8_0
# requantization the candidate, over experiments/corpus/prose.txt with `-c 128 --chunks 8`.
#   base       the reference's pass, writing the base logits: `bakeoff run --force --only
#              model=ref` (plan, inspection, the pass, the record, the report) against
#              `llama-perplexity … --kl-divergence-base FILE`; the base's size
#   candidate  the candidate's pass against that base: `bakeoff run --force --only model=q8`
#              against `llama-perplexity … --kl-divergence-base FILE --kl-divergence`
# Prints each side's median wall time (the whole command), the cell's own time as the record
# has it, and the ratio bakeoff/direct.
#
# Usage: scripts/bench-quality.sh [ROUNDS] [BAKEOFF]   (defaults: 3, target/release/bakeoff)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bakeoff=$(realpath "${2:-target/release/bakeoff}")
[ -x "$bakeoff" ] || { echo "bench-quality: no $bakeoff (cargo build --release)" >&2; exit 1; }
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scripts/requantize-gemma.sh "$work/models" >/dev/null 2>&1
mkdir -p "$work/project/experiments/corpus"
cp experiments/corpus/prose.txt "$work/project/experiments/corpus/"
cat > "$work/project/experiments/q.kdl" <<'EOF'
model "ref" { file "gemma-3-270m-q4_k_m.gguf" }
model "q8" { file "gemma-3-270m-q8_0.gguf" }
experiment "q" {
    matrix {
        model "ref" "q8"
        toolbox "host"
    }
    quality {
        corpus "corpus/prose.txt"
        reference model="ref"
        args "-t" 2 "-c" 128 "--chunks" 8 "-nr"
    }
    timeout 600
}
EOF
export PATH="$LLAMA_BIN_DIR:$PATH" BAKEOFF_BUSY_THRESHOLD=off
run() { "$bakeoff" -C "$work/project" --models "$work/models" run q --force --no-progress "$@" >/dev/null 2>&1; }
direct() {
    llama-perplexity -m "$work/models/$1" -f "$work/project/experiments/corpus/prose.txt" -t 2 -c 128 --chunks 8 -nr \
        --kl-divergence-base "$2" "${@:3}" >/dev/null 2>&1
}
seconds() { date +%s.%N; }
# The cell's own time, as its record has it (the newest quality record of `model`).
cell_ms() {
    python3 - "$work/project/results/cells" "$1" <<'EOF'
import json, pathlib, sys
records = [json.loads(p.read_text()) for p in pathlib.Path(sys.argv[1]).rglob("*.json")]
mine = [r for r in records if r["workload"] == "quality" and r["axes"]["model"] == sys.argv[2]]
print(max(mine, key=lambda r: r["timings"]["started_unix_ms"])["timings"]["duration_ms"])
EOF
}
run  # warm: the first plan inspects the toolbox and hashes the models
declare -a base_b base_d base_c cand_b cand_d cand_c
for round in $(seq "$rounds"); do
    start=$(seconds); run --only model=ref; base_b+=("$(echo "$(seconds) - $start" | bc)")
    base_c+=("$(cell_ms ref)")
    start=$(seconds); direct gemma-3-270m-q4_k_m.gguf "$work/direct.kld"; base_d+=("$(echo "$(seconds) - $start" | bc)")
    start=$(seconds); run --only model=q8; cand_b+=("$(echo "$(seconds) - $start" | bc)")
    cand_c+=("$(cell_ms q8)")
    start=$(seconds); direct gemma-3-270m-q8_0.gguf "$work/direct.kld" --kl-divergence; cand_d+=("$(echo "$(seconds) - $start" | bc)")
    echo "round $round: base ${base_b[-1]} s vs ${base_d[-1]} s, candidate ${cand_b[-1]} s vs ${cand_d[-1]} s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base_size=$(stat -c %s "$work"/project/results/bases/*.kld)
direct_size=$(stat -c %s "$work/direct.kld")
printf 'base logits: %s bytes through bakeoff, %s bytes by llama-perplexity alone\n' "$base_size" "$direct_size"
for side in base cand; do
    b="${side}_b[@]"; d="${side}_d[@]"; c="${side}_c[@]"
    mb=$(median "${!b}"); md=$(median "${!d}"); mc=$(median "${!c}")
    printf '%-9s bakeoff %.2f s (cell %.2f s), llama-perplexity alone %.2f s: ratio %.3f\n' \
        "$([ $side = base ] && echo base || echo candidate)" "$mb" "$(echo "$mc / 1000" | bc -l)" "$md" "$(echo "$mb / $md" | bc -l)"
done
