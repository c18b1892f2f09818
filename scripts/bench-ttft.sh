#!/usr/bin/env bash
# Benchmark: our TTFT measurement overhead and server starts. One llama-server (Gemma, CPU)
# answers 20 short streamed requests on each of the OpenAI and native APIs; for each request
# the client's time to first token is compared with the server's own prompt_ms: the
# difference is HTTP, tokenisation and our reading of the stream (goal: < 2 ms median on
# loopback). It also counts server starts for 8 cells sharing 2 server configurations. Then
# one server with 4 slots gets 40 /completion requests one at a time and 40 with 4 in flight:
# median and p99 of the same difference (goal at 4 in flight: < 2 ms median, < 5 ms p99), which
# then also holds the server batching the other slots' work into the step that makes a token.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/llama-project.sh
cat > "$work/experiments/ttft.kdl" <<KDL
model "gemma" { file "$(basename "$GEMMA_MODEL")" }
experiment "ttft" {
    matrix {
        model "gemma"
        ctx 2048 4096
    }
    server { args "-nr" "-t" 2 "--ctx-size" "{ctx}" }
    workload "openai" {
        request api="openai-chat" max-tokens=2 prompt="Name a colour."
        repeat 20
    }
    workload "native" {
        request api="completion" max-tokens=2 prompt="Name a colour."
        repeat 20
    }
    workload "openai-b" {
        request api="openai-chat" max-tokens=2 prompt="Name a fruit."
        repeat 2
    }
    workload "native-b" {
        request api="completion" max-tokens=2 prompt="Name a fruit."
        repeat 2
    }
}
KDL
export BAKEOFF_CACHE_DIR="$work/cache"
target/release/bakeoff -C "$work" --models "$(dirname "$GEMMA_MODEL")" run --no-progress 2> "$work/stderr" >/dev/null
echo "server starts for 8 cells over 2 server configurations: $(grep -c 'llama-server ready' "$work/stderr")"
# The model is declared in ttft.kdl, beside it.
cat > "$work/experiments/load.kdl" <<KDL
experiment "load" {
    matrix { model "gemma" }
    server { args "-nr" "-t" 2 "--ctx-size" 4096 "-np" 4 }
    workload "one-in-flight" {
        request api="completion" max-tokens=2 prompt="Name a colour."
        repeat 40
    }
    workload "four-in-flight" {
        request api="completion" max-tokens=2 prompt="Name a colour."
        repeat 40
        concurrency 4
    }
}
KDL
target/release/bakeoff -C "$work" --models "$(dirname "$GEMMA_MODEL")" run load --no-progress 2>> "$work/stderr" >/dev/null || { tail -5 "$work/stderr" >&2; exit 1; }
python3 - "$work" <<'PY'
import json, glob, statistics, sys
def percentile(values, rank):
    values = sorted(values)
    position = rank * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)
gaps = {}
for path in glob.glob(f"{sys.argv[1]}/results/cells/*/*.json"):
    record = json.load(open(path))
    if record["workload"] not in ("openai", "native", "one-in-flight", "four-in-flight"):
        continue
    for request in record["raw"][1:]:  # the first request of each cell pays the cold prompt
        if request["ttft_ms"] is not None and request["timings"]:
            gaps.setdefault(record["workload"], []).append(request["ttft_ms"] - request["timings"]["prompt_ms"])
for workload, values in sorted(gaps.items()):
    print(f"{workload}: client TTFT − server prompt_ms over {len(values)} requests: median {statistics.median(values):.2f} ms, "
          f"p99 {percentile(values, 0.99):.2f}, min {min(values):.2f}, max {max(values):.2f}")
PY
