#!/usr/bin/env bash
# Benchmark: results/index.html for a store of 10,000 cells (10×10×10×10, one host): the
# page's size, the time `bakeoff report` takes to write it (against writing the same
# experiment's markdown report alone, measured in the same run), and the time headless
# Chromium takes to build its default view (the page's own `data-render-ms`, from its script's
# start to the table and chart drawn).
# Usage: scripts/bench-page.sh   (Chromium from Debian's package: apt install chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "install chromium (Debian: apt-get install chromium)" >&2; exit 1; }
source scripts/seeded-project.sh
matrix_experiment big a b c d > "$work/experiments/big.kdl"
seed
"$bakeoff" -C "$work" --host-facts "$facts" report >/dev/null
page=$work/results/index.html
echo "page: $(stat -c %s "$page") bytes for $(find "$work/results/cells" -name '*.json' | wc -l) records"
hyperfine --warmup 1 --runs 5 -N \
    "$bakeoff -C $work --host-facts $facts report big --format json" \
    "$bakeoff -C $work --host-facts $facts report big"
for size in 1280,800 390,844; do
    times=()
    for _ in 1 2 3 4 5; do
        profile=$(mktemp -d)
        ms=$(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$profile" --window-size="$size" --dump-dom "file://$page" 2>/dev/null |
            grep -o 'data-render-ms="[0-9]*"' | grep -o '[0-9]*')
        rm -rf "$profile"
        times+=("$ms")
    done
    echo "chromium at $size: the page's script drew its view in ${times[*]} ms"
done
