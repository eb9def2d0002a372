#!/usr/bin/env bash
# Checks what can be checked of the container and the manifests without a Docker engine:
#  1. the Dockerfile's Native AOT publish (deploy/publish.sh) for linux-x64 and linux-arm64, from
#     a copy of the build context, with `file` confirming the executable's and librdkafka's
#     architectures (the other architecture is cross-compiled, as in the image build);
#  2. on an x64 host, the x64 publish runs: ready on the embedded demo broker, metrics on the
#     management port and 404 on the public one, JSON logs, and a SIGTERM exits 0 within the
#     shutdown budget;
#  3. hadolint on the Dockerfile, when installed;
#  4. `kubectl kustomize` renders the base and the replicas example with the expected objects.
# Run from anywhere: deploy/verify.sh   (needs dotnet, clang, file, kubectl, curl, and the other
# architecture's gcc cross toolchain and zlib1g-dev; .ci/run installs them on Debian)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
app_pid=""
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then kill -KILL "$app_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "verify: FAIL: $*" >&2; exit 1; }
step() { echo "verify: $*"; }

# --- 1. publish both architectures from a copy of the Docker build context ----------------
# The copy holds exactly what the Dockerfile COPYs, so a file missing from it fails here too,
# and the publishes' obj/ folders stay out of the working tree.
ctx="$work/context"
mkdir -p "$ctx/src" "$ctx/deploy"
cp "$root"/global.json "$root"/Directory.Build.props "$root"/Directory.Packages.props "$root"/.editorconfig "$ctx/"
# As .dockerignore: no build output, no npm packages, no restored dashboard library (the publish
# restores it from client/package-lock.json, as the image build does).
tar -C "$root/src" --exclude=bin --exclude=obj --exclude=node_modules --exclude=EnergyWs/wwwroot/lib -cf - EnergyWs | tar -C "$ctx/src" -xf -
[ ! -e "$ctx/src/EnergyWs/wwwroot/lib" ] || fail "the build context copy still holds wwwroot/lib"
cp "$root/deploy/publish.sh" "$root/deploy/aot-cross-toolchain.sh" "$ctx/deploy/"

check_arch() { # <file> <pattern>
  local desc
  desc="$(file -b "$1")"
  echo "$desc" | grep -Eq "$2" || fail "$(basename "$1"): expected /$2/, got: $desc"
  step "  $(basename "$1"): ${desc%%,*}, $(echo "$desc" | cut -d, -f2 | xargs)"
}

for arch in amd64 arm64; do
  out="$work/publish-$arch"
  step "publish linux/$arch"
  case "$arch" in
    amd64) machine='x86-64'; lib=centos8-librdkafka.so; triple=x86_64-linux-gnu; cross=gcc-x86-64-linux-gnu ;;
    arm64) machine='ARM aarch64'; lib=librdkafka.so; triple=aarch64-linux-gnu; cross=gcc-aarch64-linux-gnu ;;
  esac
  if [ "$(dpkg --print-architecture 2>/dev/null || true)" != "$arch" ]; then
    command -v "$triple-gcc" >/dev/null 2>&1 && [ -e "/usr/lib/$triple/libz.so" ] ||
      fail "cross-compiling for $arch needs $triple-gcc and zlib1g-dev:$arch (Debian: dpkg --add-architecture $arch; apt-get install clang $cross zlib1g-dev:$arch)"
  fi
  bash "$ctx/deploy/publish.sh" "$arch" "$out"
  [ ! -e "$out/energy-ws.dll" ] || fail "the $arch publish is not Native AOT (energy-ws.dll present)"
  [ -z "$(find "$out" -name '*.dbg')" ] || fail "symbol files left in the $arch publish"
  [ -f "$out/wwwroot/lib/uPlot.iife.min.js" ] || fail "the dashboard's chart library is missing from the $arch publish"
  check_arch "$out/energy-ws" "ELF 64-bit LSB .*executable, $machine"
  check_arch "$out/$lib" "ELF 64-bit LSB shared object, $machine"
  others="$(find "$out" -name '*librdkafka*' ! -name "$lib")"
  [ -z "$others" ] || fail "other librdkafka builds left in the $arch publish: $others"
  step "  $(du -sh "$out" | cut -f1) published, only $lib kept"
done

# --- 2. run the x64 publish ------------------------------------------------------------------
if [ "$(uname -m)" = "x86_64" ]; then
  step "run the linux-x64 publish (embedded demo broker), then SIGTERM"
  port=$(( 20000 + RANDOM % 20000 ))
  management=$(( port + 1 ))
  log="$work/app.log"
  (cd "$work/publish-amd64" && exec env ASPNETCORE_URLS="http://127.0.0.1:$port" Management__Port="$management" Demo__Enabled=true Auth__Enabled=false \
     Logging__Console__FormatterName=json Shutdown__Timeout=00:00:05 ./energy-ws) >"$log" 2>&1 &
  app_pid=$!
  ready=""
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$app_pid" 2>/dev/null || { cat "$log" >&2; fail "the app exited at start"; }
    sleep 0.25
  done
  [ -n "$ready" ] || { cat "$log" >&2; fail "/health/ready never answered 200"; }
  curl -fsS "http://127.0.0.1:$management/metrics" | grep -q '^energyws_kafka_consumer_lag{' || fail "/metrics on the management port has no consumer lag"
  for path in /metrics /METRICS /metrics/; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
    [ "$code" = 404 ] || fail "the public port answers $path with $code, not 404"
  done
  curl -fsS "http://127.0.0.1:$management/health/ready" | grep -q '"checks"' || fail "the management port's /health/ready has no checks"
  [ "$(curl -fsS "http://127.0.0.1:$port/health/ready")" = '{"status":"Healthy"}' ] || fail "the public /health/ready says more than its status"
  started=$(date +%s%N)
  kill -TERM "$app_pid"
  code=0
  wait "$app_pid" || code=$?
  app_pid=""
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  [ "$code" -eq 0 ] || { cat "$log" >&2; fail "exit code $code after SIGTERM"; }
  [ "$elapsed_ms" -lt 5000 ] || fail "SIGTERM to exit took ${elapsed_ms} ms (Shutdown:Timeout is 5 s)"
  grep -q 'Kafka consumer stopped' "$log" || fail "no 'Kafka consumer stopped' in the log"
  nonjson="$(grep -cv '^{.*}$' "$log" || true)"
  [ "$nonjson" -eq 0 ] || { cat "$log" >&2; fail "$nonjson log lines are not one JSON object per line"; }
  step "  ready, metrics on the management port only, JSON logs, exit 0 ${elapsed_ms} ms after SIGTERM"
else
  step "not an x64 host: skipping the run of the x64 publish"
fi

# --- 3. lint the Dockerfile ------------------------------------------------------------------
if command -v hadolint >/dev/null 2>&1; then
  step "hadolint deploy/Dockerfile"
  hadolint "$root/deploy/Dockerfile"
else
  step "hadolint not installed (no Debian or npm package provides it): Dockerfile lint skipped"
fi
# What the image promises, checked in the file itself.
df="$root/deploy/Dockerfile"
grep -q '^FROM --platform=\$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:' "$df" || fail "the build stage must run on \$BUILDPLATFORM"
grep -q 'deploy/publish.sh "\$TARGETARCH"' "$df" || fail "the Dockerfile must publish with deploy/publish.sh for \$TARGETARCH"
grep -q 'aot-cross-toolchain.sh "\$TARGETARCH"' "$df" || fail "the Dockerfile must install the cross toolchain for \$TARGETARCH"
grep -q '^FROM mcr.microsoft.com/dotnet/runtime-deps:' "$df" || fail "the runtime stage must be the runtime-deps image (the executable is Native AOT)"
grep -q '^USER \$APP_UID' "$df" || fail "the image must run as the non-root app user"
grep -q 'ASPNETCORE_HTTP_PORTS=8080' "$df" || fail "the image must listen on 8080"

# --- 4. render the manifests -----------------------------------------------------------------
step "kubectl kustomize deploy/k8s"
rendered="$(kubectl kustomize "$root/deploy/k8s")"
for kind in Namespace ConfigMap Deployment Service IngressRoute NetworkPolicy; do
  echo "$rendered" | grep -q "^kind: $kind\$" || fail "no $kind in the rendered manifests"
done
for expected in 'namespace: energy-ws' 'path: /health$' 'path: /health/ready' 'runAsNonRoot: true' \
  'readOnlyRootFilesystem: true' '- ALL' 'terminationGracePeriodSeconds: 30' 'cpu: 100m' 'memory: 128Mi' \
  'Kafka__BootstrapServers:' 'Logging__Console__FormatterName: json' 'energy-ws.k12n.com' 'secretName: energy-ws-tls' \
  'containerPort: 8081' 'prometheus.io/port: "8081"' 'Management__Port: "8081"' 'Management__Host:' 'Hosting__KnownNetworks__0:'; do
  echo "$rendered" | grep -q -- "$expected" || fail "the rendered manifests lack '$expected'"
done
# Probes and the scrape use the management port; the Service and the IngressRoute never do.
deployment="$(echo "$rendered" | awk '/^kind: Deployment$/,/^---$/')"
[ "$(echo "$deployment" | grep -c 'port: management$')" -eq 3 ] || fail "the three probes must use the management port"
svc="$(echo "$rendered" | awk '/^kind: Service$/,/^---$/')"
echo "$svc" | grep -q 'targetPort: http$' || fail "the Service must target the public port"
echo "$svc" | grep -q 'management\|8081' && fail "the Service exposes the management port"
route="$(echo "$rendered" | awk '/^kind: IngressRoute$/,/^---$/')"
echo "$route" | grep -q 'management\|8081' && fail "the IngressRoute routes to the management port"
# Each NetworkPolicy rule names its sources: a rule without 'from' admits anyone, outside the cluster too.
policy="$(echo "$rendered" | awk '/^kind: NetworkPolicy$/,/^---$/')"
[ "$(echo "$policy" | grep -c '^  - from:$')" -eq "$(echo "$policy" | grep -c '^    - port:')" ] || fail "a NetworkPolicy rule has no 'from'"
step "kubectl kustomize deploy/examples/replicas"
replicas="$(kubectl kustomize "$root/deploy/examples/replicas")"
echo "$replicas" | grep -q '^  replicas: 2$' || fail "the replicas example does not set 2 replicas"
echo "$replicas" | grep -q '^kind: PodDisruptionBudget$' || fail "the replicas example has no PodDisruptionBudget"
step "OK"
