#!/usr/bin/env bash
# Benchmark: two bakeoff builds side by side, their runs interleaved (old, new, old, new, …) so
# that a machine drifting during the benchmark weighs on both alike; shows a restructuring costs
# nothing:
#   plan      `plan` of a 10,000-cell matrix with every cell cached (as bench-plan.sh)
#   overhead  `run` of 200 `command` cells that run `true`, from an empty store, beside a shell
#             loop starting /bin/true 200 times (as bench-run-overhead.sh)
# Prints each build's median, the new/old ratio of medians, and each build's cost per cell
# beyond the spawn.
#
# Usage: scripts/bench-builds.sh OLD_BAKEOFF NEW_BAKEOFF [ROUNDS]
#   e.g. git worktree add /tmp/old REV && (cd /tmp/old && cargo build --release)
#        scripts/bench-builds.sh /tmp/old/target/release/bakeoff target/release/bakeoff
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "${1:?usage: scripts/bench-builds.sh OLD_BAKEOFF NEW_BAKEOFF [ROUNDS]}")
new=$(realpath "${2:?usage: scripts/bench-builds.sh OLD_BAKEOFF NEW_BAKEOFF [ROUNDS]}")
rounds=${3:-15}
source scripts/seeded-project.sh
facts=tests/fixtures/hosts/strix-1.json

# plan: one seeded store, both builds read it.
matrix_experiment big a b c d > "$work/experiments/big.kdl"
seed
"$old" -C "$work" --host-facts "$facts" plan | tail -1
"$new" -C "$work" --host-facts "$facts" plan | tail -1

# overhead: 200 cells of `true`, each run from an empty store.
runs=$(mktemp -d)
trap 'rm -rf "$work" "$runs"' EXIT
mkdir -p "$runs/experiments"
cat > "$runs/experiments/overhead.kdl" <<KDL
experiment "overhead" {
    matrix { n $(seq -s ' ' 1 200) }
    command { args "true" "{n}" }
}
KDL

python3 - "$old" "$new" "$work" "$runs" "$facts" "$rounds" <<'PY'
import shutil, statistics, subprocess, sys, time
old, new, work, runs, facts, rounds = sys.argv[1:6] + [int(sys.argv[6])]

def timed(argv, before=None):
    if before:
        before()
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started

def interleaved(commands, before=None):
    times = {name: [] for name in commands}
    for _ in range(2):  # warm-up
        for argv in commands.values():
            timed(argv, before)
    for _ in range(rounds):
        for name, argv in commands.items():
            times[name].append(timed(argv, before))
    return {name: statistics.median(values) for name, values in times.items()}

plan = interleaved({build: [path, "-C", work, "--host-facts", facts, "plan"] for build, path in (("old", old), ("new", new))})
clear = lambda: shutil.rmtree(f"{runs}/results", ignore_errors=True)
loop = ["sh", "-c", "for n in $(seq 1 200); do /bin/true $n; done"]
over = interleaved({"old": [old, "-C", runs, "--host-facts", facts, "run", "--no-progress"],
                    "new": [new, "-C", runs, "--host-facts", facts, "run", "--no-progress"],
                    "loop": loop}, clear)
ms = lambda seconds: f"{seconds * 1000:.1f} ms"
print(f"{rounds} interleaved rounds, medians")
print(f"plan of 10,000 cached cells: old {ms(plan['old'])}, new {ms(plan['new'])}, new/old {plan['new'] / plan['old']:.3f}")
print(f"run of 200 command cells: old {ms(over['old'])}, new {ms(over['new'])}, new/old {over['new'] / over['old']:.3f}")
for build in ("old", "new"):
    print(f"  {build}: {(over[build] - over['loop']) / 200 * 1000:.2f} ms per cell beyond spawning /bin/true")
PY
