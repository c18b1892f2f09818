#!/usr/bin/env bash
# Makes the models experiments/gemma-quality.kdl compares: requantizations of the small Gemma
# model that scripts/provision.sh installs (Q4_K_M), with llama.cpp's own llama-quantize:
#   gemma-3-270m-q8_0.gguf  gemma-3-270m-q4_0.gguf  gemma-3-270m-q2_k.gguf
# and a link to the original, gemma-3-270m-q4_k_m.gguf, so the folder alone is a model root:
#   scripts/requantize-gemma.sh [DIR]          # DIR defaults to models/ (gitignored)
#   bakeoff --models models plan gemma-quality
# Requantizing from Q4_K_M cannot win back what Q4_K_M lost: Q8_0 here is Q4_K_M's weights
# stored in 8 bits, close to the reference by construction, which makes it a useful check.
# Files already there are kept. LLAMA_BIN_DIR and GEMMA_MODEL, when both are set, are used as
# they are (provision.sh prints them); otherwise provision.sh is run to find them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-models}

if [ -z "${LLAMA_BIN_DIR:-}" ] || [ -z "${GEMMA_MODEL:-}" ]; then
    assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
    eval "$assignments"
fi
quantize=$LLAMA_BIN_DIR/llama-quantize
[ -x "$quantize" ] || { echo "requantize-gemma: no llama-quantize in $LLAMA_BIN_DIR" >&2; exit 1; }
[ -s "$GEMMA_MODEL" ] || { echo "requantize-gemma: the Gemma model is missing at $GEMMA_MODEL" >&2; exit 1; }

mkdir -p "$out"
log=$(mktemp)
partial=
# An interrupted run leaves neither its log nor a half-written model that the next would keep.
trap 'rm -f "$log" ${partial:+"$partial"}' EXIT
original=$out/gemma-3-270m-q4_k_m.gguf
if [ -e "$original" ]; then
    echo "requantize-gemma: $original is there, kept" >&2
else
    ln -s "$(realpath "$GEMMA_MODEL")" "$original"
    echo "requantize-gemma: $original -> $(realpath "$GEMMA_MODEL")" >&2
fi

for type in Q8_0 Q4_0 Q2_K; do
    target=$out/gemma-3-270m-${type,,}.gguf
    if [ -s "$target" ]; then
        echo "requantize-gemma: $target is there, kept" >&2
        continue
    fi
    echo "requantize-gemma: $target ($type, from Q4_K_M)" >&2
    # Written under a temporary name and renamed when whole.
    partial=$target.partial
    if ! "$quantize" --allow-requantize "$GEMMA_MODEL" "$partial" "$type" >"$log" 2>&1; then
        tail -20 "$log" >&2
        echo "requantize-gemma: llama-quantize failed for $type (its last lines are above)" >&2
        exit 1
    fi
    mv "$partial" "$target"
    partial=
done
ls -lL "$out"/gemma-3-270m-*.gguf >&2
