#!/usr/bin/env bash
# Heavy variants of the resilience scenarios (tests/EnergyWs.Tests/Resilience): the sizes the
# reliability promises name, instead of the scaled-down ones the normal test command runs.
#   bench/soak.sh                       all scenarios (~5-10 min on 2 cores)
#   bench/soak.sh --filter Churn        extra arguments go to `dotnet test` (a later --filter wins)
# Figures are printed at the end and kept in $ENERGYWS_FIGURES (default /tmp/energyws-soak-figures.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

figures="${ENERGYWS_FIGURES:-${TMPDIR:-/tmp}/energyws-soak-figures.txt}"
: > "$figures"

status=0
ENERGYWS_SOAK=1 ENERGYWS_FIGURES="$figures" dotnet test tests/EnergyWs.Tests \
  --filter "FullyQualifiedName~EnergyWs.Tests.Resilience" "$@" || status=$?

echo
echo "== soak figures ($(nproc) cores, $(uname -m)) =="
cat "$figures"
exit "$status"
