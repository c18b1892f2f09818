#!/usr/bin/env bash
# Benchmark: two bakeoff builds side by side in one run, interleaved by hyperfine, so that a
# restructuring can be shown to cost nothing:
#   plan      `plan` of a 10,000-cell matrix with every cell cached (as bench-plan.sh)
#   overhead  `run` of 200 `command` cells that run `true`, from an empty store, with a shell
#             loop starting /bin/true 200 times as the reference (as bench-run-overhead.sh)
# Prints each build's mean and its ratio to the first build.
#
# Usage: scripts/bench-builds.sh OLD_BAKEOFF NEW_BAKEOFF
#   e.g. git worktree add /tmp/old REV && (cd /tmp/old && cargo build --release)
#        scripts/bench-builds.sh /tmp/old/target/release/bakeoff target/release/bakeoff
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "${1:?usage: scripts/bench-builds.sh OLD_BAKEOFF NEW_BAKEOFF}")
new=$(realpath "${2:?usage: scripts/bench-builds.sh OLD_BAKEOFF NEW_BAKEOFF}")
source scripts/seeded-project.sh
facts=tests/fixtures/hosts/strix-1.json

# plan: one seeded store, both builds read it.
matrix_experiment big a b c d > "$work/experiments/big.kdl"
seed
"$old" -C "$work" --host-facts "$facts" plan | tail -1
"$new" -C "$work" --host-facts "$facts" plan | tail -1
hyperfine --warmup 3 --runs 20 -N --export-json "$work/plan.json" \
    -n old "$old -C $work --host-facts $facts plan" \
    -n new "$new -C $work --host-facts $facts plan"

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
hyperfine --warmup 1 --runs 7 --export-json "$work/overhead.json" --prepare "rm -rf $runs/results" \
    -n old "$old -C $runs --host-facts $facts run --no-progress" \
    -n new "$new -C $runs --host-facts $facts run --no-progress" \
    -n loop "sh -c 'for n in \$(seq 1 200); do /bin/true \$n; done'"

python3 - "$work/plan.json" "$work/overhead.json" <<'PY'
import json, sys
plan = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
over = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
def line(name, results):
    old, new = results["old"], results["new"]
    return (f"{name}: old {old['mean'] * 1000:.1f} ± {old['stddev'] * 1000:.1f} ms, "
            f"new {new['mean'] * 1000:.1f} ± {new['stddev'] * 1000:.1f} ms, new/old {new['mean'] / old['mean']:.3f}")
print(line("plan of 10,000 cached cells", plan))
print(line("run of 200 command cells", over))
loop = over["loop"]["mean"]
for build in ("old", "new"):
    print(f"  {build}: {(over[build]['mean'] - loop) / 200 * 1000:.2f} ms per cell beyond spawning /bin/true")
PY
