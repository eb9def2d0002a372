#!/usr/bin/env bash
# Live latency for 1,000 WebSocket clients with and without one client hammering the history:
# GET /api/readings with an `until` before every reading held, so each request walks all
# History:MaxReadings (100,000) readings and returns none. The consumer must not wait for it.
#
#   bench/history-hammer.sh            # prints the load tool's JSON line for each run
#
# Fresh mock broker and Release server on 127.0.0.1; the history is filled by the load tool first.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/artifacts/bench}"
mkdir -p "$OUT"
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build bench/EnergyWs.Bench -c Release -v q -nologo >/dev/null
BENCH=(dotnet "$ROOT/bench/EnergyWs.Bench/bin/Release/net10.0/EnergyWs.Bench.dll")

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"${BENCH[@]}" broker --topic homelab.energy >"$OUT/hammer-broker.log" 2>&1 </dev/null &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^bootstrap=" "$OUT/hammer-broker.log" && break; sleep 0.1; done
BROKER=$(grep -m1 "^bootstrap=" "$OUT/hammer-broker.log" | cut -d= -f2)

dotnet "$ROOT/src/EnergyWs/bin/Release/net10.0/energy-ws.dll" --contentRoot "$ROOT/src/EnergyWs" \
  --urls http://127.0.0.1:0 --Kafka:BootstrapServers="$BROKER" --Auth:Enabled=false \
  --Streaming:ConnectAttemptsPerMinute=0 --Kafka:Consumer:fetch.wait.max.ms=10 >"$OUT/hammer-server.log" 2>&1 </dev/null &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
PORT=""
for _ in $(seq 300); do
  PORT=$(grep -m1 -oE "Now listening on: http://127.0.0.1:[0-9]+" "$OUT/hammer-server.log" | grep -oE "[0-9]+$" || true)
  [[ -n "$PORT" ]] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready" && break
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"

load() { "${BENCH[@]}" load --url "ws://127.0.0.1:$PORT/ws" --bootstrap "$BROKER" --topic homelab.energy --server-pid "$SERVER_PID" "$@" | tail -1; }

# Fill the history (100,000 readings), then let it settle.
load --clients 1 --rate 5500 --duration 20 --warmup 0 --label fill >/dev/null
echo "history: $(curl -s "$BASE/api/readings" | grep -o '"timestamp"' | wc -l) readings in one API page (capped)" >&2
BEFORE="2000-01-01T00:00:00Z"

echo "{\"run\":\"no hammer\",\"result\":$(load --clients 1000 --rate 10 --duration 20 --warmup 5 --label quiet)}"

# One client, back to back requests, bounded by time.
(end=$((SECONDS + 32)); n=0; while ((SECONDS < end)); do curl -s -o /dev/null "$BASE/api/readings?until=$BEFORE"; n=$((n + 1)); done; echo "hammer: $n full-history requests" >&2) &
HAMMER=$!
echo "{\"run\":\"hammer\",\"result\":$(load --clients 1000 --rate 10 --duration 20 --warmup 5 --label hammered)}"
wait "$HAMMER"
