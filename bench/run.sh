#!/usr/bin/env bash
# The one benchmark command: builds Release (QueryStatus, the baseline, the driver), installs wrk from
# Debian packages if it is missing, then runs the driver (bench/QueryStatus.Bench), which starts both
# servers on 127.0.0.1, loads data through the API and runs interleaved wrk slices.
#
#   bench/run.sh            full run (~9 min): 10 s slices, 3 pairs, a 10,000,000-row result
#   bench/run.sh --quick    smoke run (~2 min): 2 s slices, 1 pair, a 200,000-row result
#   bench/run.sh --store postgres [--quick]
#                           the service on PostgreSQL against the service on the in-memory store, side by side, on a
#                           throwaway PostgreSQL cluster the run starts and removes (needs /usr/lib/postgresql/N/bin),
#                           vacuumed and checkpointed after the load as pgbench does;
#                           plus ingest and read-back against PostgreSQL's COPY, and round trips per status poll
#   bench/run.sh --soak 30  the soak (~33 min): sustained traffic, memory sampled every 10 s (bench/RESULTS.md);
#                           with --store postgres, the service on a throwaway PostgreSQL cluster
#   bench/run.sh --help     every option
#
# Exit code: 0 when every response was 2xx; 1 when any was not (or something else failed).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: installing the Debian package ..."
  apt-get update -qq && apt-get install -y -qq wrk
fi

# The soak reads the server's gauges and heap with the .NET diagnostic tools, installed here from NuGet.
if [[ " $* " == *" --soak "* ]]; then
  for tool in dotnet-counters dotnet-gcdump; do
    if [ ! -x "bench/.tools/$tool" ]; then
      echo "$tool not found: installing it into bench/.tools ..."
      dotnet tool install --tool-path bench/.tools "$tool" --version 10.0.750501 >/dev/null
    fi
  done
fi

for project in src/QueryStatus.Api bench/Baseline bench/QueryStatus.Bench; do
  dotnet build "$project" -c Release -nologo -clp:ErrorsOnly -v:q
done

exec dotnet bench/QueryStatus.Bench/bin/Release/net10.0/QueryStatus.Bench.dll "$@"
