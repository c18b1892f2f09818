#!/usr/bin/env bash
# Benchmark: what `bakeoff capture`'s proxy adds to a client's time to first token. One
# llama-server (Gemma, CPU) and one `bakeoff capture` in front of it; the same short streamed
# OpenAI chat request is sent direct and through the proxy, interleaved (direct, proxy, direct,
# …) so that drift weighs on both alike, with `cache_prompt: false` so every request does the
# same work. Time to first token is measured by the client here (Python, no SDK) from sending
# to the first streamed text. Prints each side's median and p90 and the median of the paired
# differences (goal: within 2 ms).
#
# Usage: scripts/bench-capture.sh [PAIRS] [BAKEOFF]   (defaults: 30, target/release/bakeoff)
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-30}
bakeoff=$(realpath "${2:-target/release/bakeoff}")
[ -x "$bakeoff" ] || { echo "bench-capture: no $bakeoff (cargo build --release)" >&2; exit 1; }
assignments=$(scripts/provision.sh) # a failing set-up stops here; eval "$(…)" would not
eval "$assignments"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
server_port=$(free_port)
proxy_port=$(free_port)
"$LLAMA_BIN_DIR/llama-server" -m "$GEMMA_MODEL" --host 127.0.0.1 --port "$server_port" -t 2 --ctx-size 2048 \
    -np 1 >"$work/server.log" 2>&1 &
server=$!
"$bakeoff" capture --upstream "http://127.0.0.1:$server_port" --listen "127.0.0.1:$proxy_port" \
    --out "$work/trace.jsonl" >"$work/capture.out" 2>"$work/capture.err" &
proxy=$!
trap 'kill $proxy $server 2>/dev/null; wait $proxy $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$server_port/health" >/dev/null 2>&1 && break
    sleep 0.5
done
python3 - "$pairs" "$server_port" "$proxy_port" <<'PY'
import http.client, json, statistics, sys, time
pairs, direct, proxied = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = json.dumps({"messages": [{"role": "user", "content": "Count from one to ten in words."}],
                   "max_tokens": 8, "stream": True, "cache_prompt": False, "temperature": 0})
def ttft(port):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    connection.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    response = connection.getresponse()
    first = None
    for line in response:
        if line.startswith(b"data:") and first is None:
            event = line[5:].strip()
            if event != b"[DONE]":
                delta = json.loads(event)["choices"][0]["delta"]
                if delta.get("content"):
                    first = (time.perf_counter() - started) * 1000
    connection.close()
    return first
ttft(direct); ttft(proxied)  # warm-up: the model's pages, the proxy's connection
sides = {"direct": [], "proxy": []}
for _ in range(pairs):
    sides["direct"].append(ttft(direct))
    sides["proxy"].append(ttft(proxied))
for name, values in sides.items():
    values = sorted(values)
    print(f"{name:7} median {statistics.median(values):7.2f} ms  p90 {values[int(len(values) * 0.9) - 1]:7.2f} ms  (n={len(values)})")
differences = [p - d for p, d in zip(sides["proxy"], sides["direct"])]
print(f"proxy - direct, paired: median {statistics.median(differences):+.2f} ms, "
      f"ratio of medians {statistics.median(sides['proxy']) / statistics.median(sides['direct']):.3f}")
PY
echo "recorded $(wc -l < "$work/trace.jsonl") requests through the proxy"
