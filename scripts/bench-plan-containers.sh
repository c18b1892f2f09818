#!/usr/bin/env bash
# Benchmark: `bakeoff plan` of a project with two container toolboxes (a toolbox container and
# a podman toolbox on the CPU llama.cpp image; 4 cells) against the same matrix on the host
# toolbox only (2 cells), interleaved, ROUNDS times each; prints each median and their ratio.
# Goal: container plans at most 1.5× a host-only plan (toolbox inspection cached).
#
# Usage: scripts/bench-plan-containers.sh [BAKEOFF ...] [-- ROUNDS]
#   BAKEOFF: one or more bakeoff binaries to compare in the same run [default: a release build
#   of this checkout]. As root, after scripts/test.sh's set-up (podman, toolbox, the CPU image).
set -euo pipefail
cd "$(dirname "$0")/.."
binaries=()
rounds=15
while [ $# -gt 0 ]; do
    case "$1" in
        --) rounds=${2:?}; shift 2 ;;
        *) binaries+=("$(realpath "$1")"); shift ;;
    esac
done
if [ ${#binaries[@]} -eq 0 ]; then
    cargo build --release --locked -q
    binaries=("$(pwd)/target/release/bakeoff")
fi
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
export CONTAINERS_CONF=${CONTAINERS_CONF:-/var/lib/bakeoff-test/containers.conf}
image=localhost/bakeoff-llama:cpu
podman image exists "$image" || { echo "no $image: run scripts/containers.sh first" >&2; exit 1; }
pgrep -x dbus-daemon >/dev/null || { mkdir -p /run/dbus; dbus-daemon --system --fork; }

work=$(mktemp -d)
box=bakeoff-bench-box-$$
trap 'podman rm --force --time 0 "$box" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
models=$(dirname "$GEMMA_MODEL")
make_project() { # DIR TOOLBOXES...
    local dir=$1; shift
    mkdir -p "$dir/experiments"
    cat > "$dir/experiments/plan.kdl" <<EOF
toolbox "$box" {
    runner "toolbox"
    image "$image"
}
toolbox "bench-podman" {
    runner "podman"
    image "$image"
}
toolbox "bench-host" {
    runner "host"
    bin-dir "$LLAMA_BIN_DIR"
}
model "gemma" { file "$(basename "$GEMMA_MODEL")" }
experiment "plan" {
    matrix {
        model "gemma"
        toolbox $(printf '"%s" ' "$@")
        threads 1 2
    }
    bench { args "-t" "{threads}" "-p" 16 "-n" 4 }
}
EOF
}
make_project "$work/containers" "$box" bench-podman
make_project "$work/host" bench-host
"${binaries[0]}" -C "$work/containers" toolbox create "$box" >/dev/null

# Milliseconds of one plan.
time_plan() { # BAKEOFF DIR
    local start end
    start=$(date +%s%N)
    "$1" -C "$2" --models "$models" plan >/dev/null
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for bakeoff in "${binaries[@]}"; do
    export BAKEOFF_CACHE_DIR=$work/cache-$(echo "$bakeoff" | sha256sum | cut -c1-8)
    # Warm: the model's hash and (where the binary has one) the inspection cache.
    time_plan "$bakeoff" "$work/containers" >/dev/null
    time_plan "$bakeoff" "$work/host" >/dev/null
    : > "$work/containers.ms"; : > "$work/host.ms"
    for _ in $(seq "$rounds"); do
        time_plan "$bakeoff" "$work/containers" >> "$work/containers.ms"
        time_plan "$bakeoff" "$work/host" >> "$work/host.ms"
    done
    containers=$(median < "$work/containers.ms")
    host=$(median < "$work/host.ms")
    ratio=$(awk -v a="$containers" -v b="$host" 'BEGIN { printf "%.2f", a / b }')
    echo "$bakeoff: plan with a toolbox and a podman toolbox ${containers} ms, host only ${host} ms (medians of $rounds, interleaved): ${ratio}×"
done
