#!/usr/bin/env bash
# Latency at half of peak: for the typed proxy and the raw client at 2 x 100, measure the peak
# (closed loop), then run open loop at half of it, and the baseline echo at the same rate.
# Uses the binaries bench/callpath.sh left in $BIN/new/. One JSON line per run in $OUT.
#
#   BIN=/tmp/callpath-bin ROUNDS=3 SECS=4 bash bench/halfpeak.sh
set -euo pipefail
BIN=${BIN:-/tmp/callpath-bin}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}
PAYLOAD=${PAYLOAD:-100}
PORT=${PORT:-38999}
OUT=${OUT:-/tmp/halfpeak-$(date -u +%Y%m%dT%H%M%S).jsonl}
OBJ="TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p $PORT"
. "$(dirname "$0")/lib.sh"
start_bench_server "$BIN/new" "$PORT"
stop_at_exit "$SERVER"
emit() { # row round json
  printf '{"row":"%s","round":%s,"result":%s}\n' "$1" "$2" "${3:-null}" | tee -a "$OUT"
}
rate_of() { sed -n 's/.*"calls_per_s":\([0-9.]*\).*/\1/p'; }
load=(--connections 2 --in-flight 100 --payload "$PAYLOAD" --seconds "$SECS" --json)
for round in $(seq "$ROUNDS"); do
  for client in proxy raw; do
    flag=(); [ "$client" = raw ] && flag=(--raw)
    peak=$("$BIN/new/bench" rpc "$OBJ" "${flag[@]}" "${load[@]}" 2>/dev/null | tail -1)
    emit "$client peak" "$round" "$peak"
    half=$(echo "$peak" | rate_of | awk '{printf "%d", $1 / 2}')
    emit "$client at half" "$round" "$("$BIN/new/bench" rpc "$OBJ" "${flag[@]}" "${load[@]}" --rate "$half" 2>/dev/null | tail -1)"
    emit "baseline at $client half" "$round" "$("$BIN/new/bench" baseline "${load[@]}" --rate "$half" 2>/dev/null | tail -1)"
  done
done
