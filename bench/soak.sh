#!/usr/bin/env bash
# Heavy variants of the resilience scenarios (tests/EnergyWs.Tests/Resilience): the sizes the
# reliability promises name, instead of the scaled-down ones the normal test command runs.
#   bench/soak.sh                       all scenarios (~3 min on 2 cores, plus the build)
#   bench/soak.sh Churn --no-build      only scenarios whose test name contains "Churn"; further
#                                       arguments go to `dotnet test`
# Figures are printed at the end and kept in $ENERGYWS_FIGURES (default /tmp/energyws-soak-figures.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

figures="${ENERGYWS_FIGURES:-${TMPDIR:-/tmp}/energyws-soak-figures.txt}"
: > "$figures"

filter="FullyQualifiedName~EnergyWs.Tests.Resilience"
if [[ $# -gt 0 && $1 != -* ]]; then
  filter="$filter&FullyQualifiedName~$1"
  shift
fi

status=0
ENERGYWS_SOAK=1 ENERGYWS_FIGURES="$figures" dotnet test tests/EnergyWs.Tests --filter "$filter" "$@" || status=$?

echo
echo "== soak figures ($(nproc) cores, $(uname -m)) =="
cat "$figures"
exit "$status"
