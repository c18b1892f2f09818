# Sourced by the benchmarks that need a project with a result for every cell
# (bench-plan.sh, bench-report.sh, bench-compare.sh): builds bakeoff and seed_store, makes "$work" with an
# experiments/ folder (removed on exit) and `values` (1 … 10 for a matrix axis); once the
# script has written its manifests, `seed` writes the records as strix-1 and sets
# "$bakeoff", "$facts" and a private hash cache.
cargo build --release --quiet --bin bakeoff --example seed_store
command -v hyperfine >/dev/null || { echo "install hyperfine (Debian: apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/experiments"
values() { seq -s ' ' 1 10; }
# `matrix_experiment NAME AXIS…`: an experiment of `true` commands over the axes, each valued
# 1 … 10; the text in "$inside" (a report block, say) goes inside it.
matrix_experiment() {
    local name=$1 axis
    shift
    echo "experiment \"$name\" {"
    echo "    matrix {"
    for axis in "$@"; do echo "        $axis $(values)"; done
    echo "    }"
    printf '    command {\n        args "true"'
    for axis in "$@"; do printf ' "-%s" "{%s}"' "$axis" "$axis"; done
    printf '\n    }\n'
    if [ -n "${inside:-}" ]; then echo "$inside"; fi
    echo "}"
}
seed() {
    facts=tests/fixtures/hosts/strix-1.json
    target/release/examples/seed_store "$work" "$facts"
    export BAKEOFF_CACHE_DIR="$work/cache"
    bakeoff=target/release/bakeoff
}
