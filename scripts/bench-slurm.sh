#!/usr/bin/env bash
# What the Slurm executor costs per cell, against the local executor on the same cells, and
# how fast it submits. Starts its own single-node Slurm (scripts/slurm.sh, as root) and stops
# it at the end.
#
#   scripts/bench-slurm.sh [ROUNDS] [CELLS]    (default 5 rounds of 20 cells)
#
# Each round runs the same CELLS `command` cells (/bin/true, so the cell itself costs ~1 ms)
# with --force, once with `--executor local` and once with `--executor slurm`, the order
# alternating between rounds. Per cell = the run's wall time / CELLS; the Slurm run's
# submission rate is from its own "submitted N Slurm job(s) in S s" line.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cells=${2:-20}
cargo build --release --quiet
bakeoff=$PWD/target/release/bakeoff

work=$(mktemp -d)
chmod 755 "$work"   # munged (its own user) must reach its socket under it
slurm_dir=$work/slurm
trap 'scripts/slurm.sh stop "$slurm_dir"; rm -rf "$work"' EXIT
assignments=$(scripts/slurm.sh start "$slurm_dir") # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
export SLURM_CONF

project=$work/project
mkdir -p "$project/experiments"
values=$(seq -f '"%g"' 1 "$cells" | tr '\n' ' ')
cat > "$project/experiments/overhead.kdl" <<EOF
experiment "overhead" {
    matrix { n $values }
    command { args "true" "{n}" }
}
EOF

now() { date +%s%N; }
declare -a local_ms slurm_ms rates
for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then order="local slurm"; else order="slurm local"; fi
    for executor in $order; do
        start=$(now)
        "$bakeoff" -C "$project" run --no-progress --force --executor "$executor" >/dev/null 2>"$work/stderr"
        elapsed=$(( ($(now) - start) / 1000000 ))
        if [ "$executor" = local ]; then
            local_ms+=("$elapsed")
        else
            slurm_ms+=("$elapsed")
            rates+=("$(sed -n 's/.*submitted [0-9]* Slurm job(s) in .* s (\(.*\) per second)/\1/p' "$work/stderr")")
        fi
    done
done
python3 - "$cells" "${local_ms[*]}" "${slurm_ms[*]}" "${rates[*]}" <<'EOF'
import statistics, sys
cells = int(sys.argv[1])
local = [int(value) / cells for value in sys.argv[2].split()]
slurm = [int(value) / cells for value in sys.argv[3].split()]
rates = [float(value) for value in sys.argv[4].split()]
median = statistics.median
print(f"per cell, median of {len(local)} interleaved rounds of {cells} cells:")
print(f"  local executor  {median(local):8.1f} ms   (rounds: {', '.join(f'{v:.1f}' for v in local)})")
print(f"  slurm executor  {median(slurm):8.1f} ms   (rounds: {', '.join(f'{v:.1f}' for v in slurm)})")
print(f"  slurm / local   {median(slurm) / median(local):8.1f}x; Slurm adds {median(slurm) - median(local):.0f} ms per cell")
print(f"submissions per second (sbatch, one per job): median {median(rates):.0f} (rounds: {', '.join(f'{v:.0f}' for v in rates)})")
EOF
