#!/usr/bin/env bash
# What the 2-byte transport write buffer (DirectSocketWrites, on by default) costs responses that
# are not WebSockets: GET /app.js, /lib/uPlot.iife.min.js, /api/readings (a full page from a filled
# history) and /metrics (management port). Two Release servers consume one mock broker, one with the
# default (2-byte buffer) and one with --Streaming:DirectSocketWrites=false (Kestrel's default
# buffer); wrk (Debian package `wrk`) alternates between them, so both see the same machine load.
#
#   bench/write-buffer.sh                       # CSV: one line per round, target and server
#   CONNS=8 ROUNDS=6 DUR=4 bench/write-buffer.sh
#
# cpu_ms_per_req is the server process's utime+stime over the run divided by its requests.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-$ROOT/artifacts/bench}"
mkdir -p "$OUT"
DUR="${DUR:-5}"; ROUNDS="${ROUNDS:-3}"; CONNS="${CONNS:-1}"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }
[[ -n "${SKIP_BUILD:-}" ]] || dotnet build bench/EnergyWs.Bench -c Release -v q -nologo >/dev/null
BENCH=(dotnet "$ROOT/bench/EnergyWs.Bench/bin/Release/net10.0/EnergyWs.Bench.dll")

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"${BENCH[@]}" broker --topic homelab.energy >"$OUT/wbuf-broker.log" 2>&1 </dev/null &
PIDS+=($!)
for _ in $(seq 300); do grep -q "^bootstrap=" "$OUT/wbuf-broker.log" && break; sleep 0.1; done
BROKER=$(grep -m1 "^bootstrap=" "$OUT/wbuf-broker.log" | cut -d= -f2)

declare -A PID PORT MPORT
start() { # name port management-port direct-socket-writes
  dotnet "$ROOT/src/EnergyWs/bin/Release/net10.0/energy-ws.dll" --contentRoot "$ROOT/src/EnergyWs" \
    --urls "http://127.0.0.1:$2" --Management:Port="$3" --Kafka:BootstrapServers="$BROKER" --Auth:Enabled=false \
    --Streaming:ConnectAttemptsPerMinute=0 --Streaming:ApiRequestsPerMinute=0 --Streaming:DirectSocketWrites="$4" \
    --Kafka:GroupId="wbuf-$1" --Logging:LogLevel:Default=Warning >"$OUT/wbuf-server-$1.log" 2>&1 </dev/null &
  PID[$1]=$!; PIDS+=($!); PORT[$1]=$2; MPORT[$1]=$3
}
start small "${PORT_SMALL:-18080}" "${MPORT_SMALL:-18081}" true
start default "${PORT_DEFAULT:-18090}" "${MPORT_DEFAULT:-18091}" false
for name in small default; do
  for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:${PORT[$name]}/health/ready" && break; sleep 0.1; done
done

# ~60,000 readings; /api/readings answers its cap (History:MaxApiReadings, 10,000: about 1 MB).
"${BENCH[@]}" load --url "ws://127.0.0.1:${PORT[small]}/ws" --bootstrap "$BROKER" --topic homelab.energy \
  --clients 1 --rate 5000 --duration 12 --warmup 0 --label fill >/dev/null
for name in small default; do
  echo "$name: /api/readings is $(curl -s "http://127.0.0.1:${PORT[$name]}/api/readings" | wc -c) bytes" >&2
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
url() { # name target
  case "$2" in
    app.js) echo "http://127.0.0.1:${PORT[$1]}/app.js" ;;
    uPlot) echo "http://127.0.0.1:${PORT[$1]}/lib/uPlot.iife.min.js" ;;
    api) echo "http://127.0.0.1:${PORT[$1]}/api/readings" ;;
    metrics) echo "http://127.0.0.1:${MPORT[$1]}/metrics" ;;
  esac
}
ms() { awk -v q="$1" '$1 == q { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; print v }'; }

echo "round,target,buffer,conns,requests,rps,p50_ms,p90_ms,p99_ms,cpu_ms_per_req"
for round in $(seq "$ROUNDS"); do
  for target in app.js uPlot api metrics; do
    for name in small default; do
      before=$(cpu "${PID[$name]}")
      result=$(wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$(url "$name" "$target")")
      after=$(cpu "${PID[$name]}")
      requests=$(awk '/requests in/ { print $1 }' <<<"$result")
      rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$result")
      cpu_ms=$(awk -v a="$before" -v b="$after" -v n="$requests" -v t="$TICKS" 'BEGIN { printf "%.4f", (b - a) * 1000 / t / n }')
      echo "$round,$target,$name,$CONNS,$requests,$rps,$(ms 50% <<<"$result"),$(ms 90% <<<"$result"),$(ms 99% <<<"$result"),$cpu_ms"
    done
  done
done
