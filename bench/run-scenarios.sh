#!/usr/bin/env bash
# Runs the load scenarios S1-S6 with their targets against energy-ws on this machine and writes the
# results table into docs/performance.md between <!-- bench:start --> and <!-- bench:end -->.
#
#   bench/run-scenarios.sh                      # JIT: S1-S6, AOT: S1 and S6 (publishes the AOT binary if missing)
#   JIT_SCENARIOS="S1 S2" AOT_SCENARIOS="" bench/run-scenarios.sh
#   PRINT_ONLY=1 bench/run-scenarios.sh          # print results only (docs/performance.md untouched)
#   SERVER_ARGS="--Streaming:MaxFrameAge=00:00:01" bench/run-scenarios.sh   # try a setting
#
# Each scenario gets a fresh librdkafka mock broker in a process of its own (`EnergyWs.Bench
# broker`) and a fresh server (Release build, or the Native AOT binary) consuming from it, so the
# server's RSS and CPU are its own, as in a deployment; the load tool produces numbered readings
# to that broker and reads them back through N WebSocket clients.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
JIT_SCENARIOS="${JIT_SCENARIOS-S1 S2 S3 S4 S5 S6}"
# Seconds of uncounted readings before each measured run (JIT tiering; see LoadSettings.Warmup).
WARMUP="${WARMUP-5}"
AOT_SCENARIOS="${AOT_SCENARIOS-S1 S6}"
OUT="${OUT:-$ROOT/artifacts/bench}"
RESULTS="$OUT/results.jsonl"
mkdir -p "$OUT"
: > "$RESULTS"

# 50k clients + 50k server sockets need ~50k descriptors in each process. Raise the soft limit to
# what the hard limit allows (a container without CAP_SYS_RESOURCE cannot go past it); S6 then
# holds as many idle connections as fit and says so.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)
S6_CLIENTS=$(( FD_LIMIT >= 51000 ? 50000 : FD_LIMIT - 1000 ))

[[ -n "${SKIP_BUILD:-}" ]] || dotnet build bench/EnergyWs.Bench -c Release -v q -nologo >/dev/null
JIT_SERVER=(dotnet "$ROOT/src/EnergyWs/bin/Release/net10.0/energy-ws.dll")
AOT_BINARY="$ROOT/artifacts/aot/energy-ws"
# Publish when there is no binary, or when the service's sources are newer than it.
if [[ -n "$AOT_SCENARIOS" ]] && { [[ ! -x "$AOT_BINARY" ]] || [[ -n "$(find src/EnergyWs -path '*/obj' -prune -o -path '*/bin' -prune -o -path '*/node_modules' -prune -o -type f -newer "$AOT_BINARY" -print -quit)" ]]; }; then
  dotnet publish src/EnergyWs -c Release -r linux-x64 -p:PublishAot=true -o "$ROOT/artifacts/aot" -v q -nologo >/dev/null
fi
LOAD=(dotnet "$ROOT/bench/EnergyWs.Bench/bin/Release/net10.0/EnergyWs.Bench.dll" load)
BROKER_CMD=(dotnet "$ROOT/bench/EnergyWs.Bench/bin/Release/net10.0/EnergyWs.Bench.dll" broker)

SERVER_PID=""
BROKER_PID=""
# stop PID: SIGTERM, up to 10 s to exit, then SIGKILL.
stop() {
  local pid=$1
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_server() {
  stop "$SERVER_PID"
  SERVER_PID=""
  stop "$BROKER_PID"
  BROKER_PID=""
}
trap stop_server EXIT

# start_server MODE LOGFILE: sets BROKER_PID, BROKER, SERVER_PID, WS_URL
start_server() {
  local mode=$1 log=$2
  local -a cmd
  local content
  # The broker prints its address, then runs until it is sent SIGTERM.
  "${BROKER_CMD[@]}" --topic homelab.energy >"$OUT/broker.log" 2>&1 </dev/null &
  BROKER_PID=$!
  for _ in $(seq 100); do
    grep -q "^bootstrap=" "$OUT/broker.log" && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$OUT/broker.log" >&2; return 1; }
    sleep 0.1
  done
  BROKER=$(grep -m1 "^bootstrap=" "$OUT/broker.log" | cut -d= -f2 || true)
  [[ -n "$BROKER" ]] || { echo "the broker did not start:" >&2; cat "$OUT/broker.log" >&2; return 1; }

  if [[ $mode == aot ]]; then cmd=("$AOT_BINARY"); else cmd=("${JIT_SERVER[@]}"); fi
  content=$(dirname "${cmd[-1]}")
  # The content root is the binary's folder so its appsettings.json (ASP.NET request logs at
  # Warning) applies exactly as in a deployment.
  ASPNETCORE_ENVIRONMENT=Production "${cmd[@]}" \
    --contentRoot "$content" \
    --urls http://127.0.0.1:0 \
    --Kafka:BootstrapServers="$BROKER" --Auth:Enabled=false --Streaming:ConnectAttemptsPerMinute=0 \
    --Streaming:MaxConnectionsPerUser=0 --Management:Port=0 \
    --Streaming:MaxConnections=60000 \
    --Kafka:Consumer:fetch.wait.max.ms=10 \
    ${SERVER_ARGS:-} \
    >"$log" 2>&1 &
  SERVER_PID=$!
  local port=""
  for _ in $(seq 300); do
    port=$(grep -m1 -oE "Now listening on: http://127.0.0.1:[0-9]+" "$log" | grep -oE "[0-9]+$" || true)
    [[ -n "$port" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  [[ -n "$port" ]] || { echo "the server did not start listening:" >&2; cat "$log" >&2; return 1; }
  # Ready: partitions assigned, history read back. The heap compaction after start follows
  # within 250 ms, so the server is measured as a client finds it.
  local ready=""
  for _ in $(seq 300); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready"; then ready=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.2
  done
  [[ -n "$ready" ]] || { echo "the server did not become ready:" >&2; cat "$log" >&2; return 1; }
  WS_URL="ws://127.0.0.1:$port/ws"
  sleep 1
}

scenario_args() {
  case $1 in
    S1) echo "--clients 100 --rate 2 --duration 20 --warmup $WARMUP" ;;
    S2) echo "--clients 1000 --rate 10 --duration 20 --warmup $WARMUP" ;;
    S3) echo "--clients 10000 --rate 4 --duration 15 --warmup $WARMUP" ;;
    S4) echo "--clients 10000 --rate 10 --duration 15 --warmup $WARMUP" ;;
    S5) echo "--clients 1000 --rate 1000 --duration 10 --settle 5 --warmup $WARMUP" ;;
    S6) echo "--clients $S6_CLIENTS --idle --duration 10 --connect-concurrency 256 --source-addresses 32" ;;
  esac
}

run() {
  local mode=$1 name=$2 log="$OUT/server-$1-$2.log"
  echo "== $name ($mode)" >&2
  start_server "$mode" "$log"
  # shellcheck disable=SC2046
  local line
  line=$("${LOAD[@]}" --url "$WS_URL" --bootstrap "$BROKER" --topic homelab.energy \
    --server-pid "$SERVER_PID" --label "$name" $(scenario_args "$name") | tail -1)
  echo "$line" >&2
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["runtime"]=sys.argv[2]; print(json.dumps(d))' "$line" "$mode" >>"$RESULTS"
  stop_server
}

for s in $JIT_SCENARIOS; do run jit "$s"; done
for s in $AOT_SCENARIOS; do run aot "$s"; done

[[ -n "${PRINT_ONLY:-}" ]] && exit 0
WARMUP="$WARMUP" python3 "$ROOT/bench/write-table.py" "$RESULTS" "$ROOT/docs/performance.md"
