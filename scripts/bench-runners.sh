#!/usr/bin/env bash
# What each container runner costs per cell, against the host runner: a `command` cell that
# runs /bin/true, 5 cells per runner in each round, the runners' order rotating from round to
# round (interleaved, so drift spreads over all of them). A cell's time is its record's
# duration_ms: from spawning the runner to the command's exit, as bakeoff times every cell.
# Prints the median per runner and its difference from the host runner.
# Usage: scripts/bench-runners.sh [ROUNDS]   (as root: it sets up podman, toolbox, distrobox)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-6}
cargo build --release --quiet
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
assignments=$(scripts/containers.sh "$LLAMA_BIN_DIR") # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
export CONTAINERS_CONF
bakeoff=$(pwd)/target/release/bakeoff
work=$(mktemp -d)
chmod 755 "$work"
home=$(getent passwd "$BAKEOFF_TEST_USER" | cut -d: -f6)
as_user() {
    runuser -u "$BAKEOFF_TEST_USER" -- env HOME="$home" CONTAINERS_CONF="$CONTAINERS_CONF" USER="$BAKEOFF_TEST_USER" \
        PATH=/usr/local/bin:/usr/bin:/bin "$@"
}
cleanup() {
    podman rm --force --time 0 bench-runners-tb >/dev/null 2>&1 || true
    as_user podman rm --force --time 0 bench-runners-db >/dev/null 2>&1 || true
    rm -rf "$work"
    [ -z "$BAKEOFF_DBUS_PID" ] || kill "$BAKEOFF_DBUS_PID" 2>/dev/null || true
}
trap cleanup EXIT

experiment() { # NAME TOOLBOX
    cat <<EOF
experiment "$1" {
    matrix {
        toolbox "$2"
        n 1 2 3 4 5
    }
    command { args "/bin/true" }
}
EOF
}
mkdir -p "$work/root/experiments" "$work/user/experiments"
{
    printf 'toolbox "bench-runners-tb" {\n    runner "toolbox"\n    image "%s"\n}\n' "$BAKEOFF_TEST_IMAGE"
    printf 'toolbox "bench-runners-pm" {\n    runner "podman"\n    image "%s"\n}\n' "$BAKEOFF_TEST_IMAGE"
    experiment host host
    experiment toolbox bench-runners-tb
    experiment podman bench-runners-pm
} > "$work/root/experiments/runners.kdl"
{
    printf 'toolbox "bench-runners-db" {\n    runner "distrobox"\n    image "%s"\n}\n' "$BAKEOFF_TEST_IMAGE"
    experiment distrobox bench-runners-db
} > "$work/user/experiments/runners.kdl"
cp "$bakeoff" "$work/user/bakeoff"
chown -R "$BAKEOFF_TEST_USER:" "$work/user"
"$bakeoff" -C "$work/root" toolbox create >&2
(cd "$work/user" && as_user ./bakeoff -C "$work/user" toolbox create >&2)

runners=(host toolbox podman distrobox)
durations="$work/durations.tsv"
for round in $(seq 1 "$rounds"); do
    for index in 0 1 2 3; do
        runner=${runners[$(((index + round) % 4))]}
        if [ "$runner" = distrobox ]; then
            (cd "$work/user" && as_user ./bakeoff -C "$work/user" run --force --no-progress distrobox >/dev/null 2>&1)
            store="$work/user/results"
        else
            "$bakeoff" -C "$work/root" run --force --no-progress "$runner" >/dev/null 2>&1
            store="$work/root/results"
        fi
        python3 - "$store" "$runner" >> "$durations" <<'PY'
import json, pathlib, sys
store, runner = pathlib.Path(sys.argv[1]), sys.argv[2]
for path in store.glob("cells/*/*.json"):
    record = json.loads(path.read_text())
    if record["experiment"] == runner:
        print(f"{runner}\t{record['timings']['duration_ms']}")
PY
    done
    echo "round $round of $rounds done" >&2
done
python3 - "$durations" <<'PY'
import statistics, sys
by = {}
for line in open(sys.argv[1]):
    runner, ms = line.split()
    by.setdefault(runner, []).append(float(ms))
host = statistics.median(by["host"])
print(f"{'runner':<10} {'cells':>5} {'median ms':>10} {'p90 ms':>8} {'minus host':>11} {'× host':>8}")
for runner in ["host", "toolbox", "podman", "distrobox"]:
    values = sorted(by[runner])
    median = statistics.median(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    print(f"{runner:<10} {len(values):>5} {median:>10.1f} {p90:>8.1f} {median - host:>+11.1f} {median / host:>8.1f}")
PY
