# Sourced by the benchmarks that run the real llama.cpp (bench-fidelity.sh, bench-ttft.sh):
# builds bakeoff, provisions llama.cpp and the Gemma model (LLAMA_BIN_DIR, put first on PATH,
# and GEMMA_MODEL), and makes "$work" with an experiments/ folder, removed on exit.
cargo build --release --quiet
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
export PATH="$LLAMA_BIN_DIR:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/experiments"
