#!/usr/bin/env bash
# The one benchmark command: builds Release (QueryStatus, the baseline, the driver), installs wrk from
# Debian packages if it is missing, then runs the driver (bench/QueryStatus.Bench), which starts both
# servers on 127.0.0.1, loads data through the API and runs interleaved wrk slices.
#
#   bench/run.sh            full run (~9 min): 10 s slices, 3 pairs, a 10,000,000-row result
#   bench/run.sh --quick    smoke run (~2 min): 2 s slices, 1 pair, a 200,000-row result
#   bench/run.sh --help     every option
#
# Exit code: 0 when every response was 2xx; 1 when any was not (or something else failed).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: installing the Debian package ..."
  apt-get update -qq && apt-get install -y -qq wrk
fi

for project in src/QueryStatus.Api bench/Baseline bench/QueryStatus.Bench; do
  dotnet build "$project" -c Release -nologo -clp:ErrorsOnly -v:q
done

exec dotnet bench/QueryStatus.Bench/bin/Release/net10.0/QueryStatus.Bench.dll "$@"
