#!/usr/bin/env bash
# Benchmark: orchestration overhead per cell. 200 `command` cells that run `true`, from an
# empty store, against the reference of a shell loop starting `true` 200 times in the same
# run; (bakeoff − loop) / 200 is what bakeoff adds per cell. Goal: under 20 ms per cell.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
command -v hyperfine >/dev/null || { echo "install hyperfine (Debian: apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/experiments"
cat > "$work/experiments/overhead.kdl" <<KDL
experiment "overhead" {
    matrix { n $(seq -s ' ' 1 200) }
    command { args "true" "{n}" }
}
KDL
export BAKEOFF_CACHE_DIR="$work/cache"
bakeoff="$(pwd)/target/release/bakeoff"
hyperfine --warmup 1 --runs 5 --export-json "$work/times.json" \
    --prepare "rm -rf $work/results" \
    "$bakeoff -C $work --host-facts tests/fixtures/hosts/strix-1.json run --no-progress" \
    "sh -c 'for n in \$(seq 1 200); do true \$n; done'" \
    "sh -c 'for n in \$(seq 1 200); do /bin/true \$n; done'"
python3 - "$work/times.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
bakeoff, _builtin, spawn = (result["mean"] for result in results)
print(f"bakeoff: {bakeoff / 200 * 1000:.2f} ms per cell; spawning /bin/true from sh: {spawn / 200 * 1000:.2f} ms; "
      f"overhead beyond the spawn: {(bakeoff - spawn) / 200 * 1000:.2f} ms per cell")
PY
