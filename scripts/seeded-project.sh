# Sourced by the benchmarks that need a project with a result for every cell
# (bench-plan.sh, bench-report.sh): builds bakeoff and seed_store, makes "$work" with an
# experiments/ folder (removed on exit) and `values` (1 … 10 for a matrix axis); once the
# script has written its manifests, `seed` writes the records as strix-1 and sets
# "$bakeoff", "$facts" and a private hash cache.
cargo build --release --quiet --bin bakeoff --example seed_store
command -v hyperfine >/dev/null || { echo "install hyperfine (Debian: apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/experiments"
values() { seq -s ' ' 1 10; }
seed() {
    facts=tests/fixtures/hosts/strix-1.json
    target/release/examples/seed_store "$work" "$facts"
    export BAKEOFF_CACHE_DIR="$work/cache"
    bakeoff=target/release/bakeoff
}
