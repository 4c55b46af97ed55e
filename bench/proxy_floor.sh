#!/usr/bin/env bash
# The typed proxy against the raw client and the task-per-call floor, interleaved, at
# 2 x 100 against one bench_server (issue 16: "the typed proxy >= 0.8 of the raw client").
# Uses the binaries bench/callpath.sh left in $BIN/new/. One JSON line per run in $OUT.
#
#   BIN=/tmp/callpath-bin ROUNDS=5 SECS=4 bash bench/proxy_floor.sh
set -euo pipefail
BIN=${BIN:-/tmp/callpath-bin}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-4}
PORT=${PORT:-37999}
OUT=${OUT:-/tmp/proxy-floor-$(date -u +%Y%m%dT%H%M%S).jsonl}
BUILD=${BUILD:-new}   # a label for the binaries in $BIN/new/ (their commit)
OBJ="TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p $PORT"
. "$(dirname "$0")/lib.sh"
start_bench_server "$BIN/new" "$PORT"
stop_at_exit "$SERVER"
load=(--connections 2 --in-flight 100 --payload 100 --seconds "$SECS" --json)
for round in $(seq "$ROUNDS"); do
  for client in proxy tasks raw; do
    case $client in
      proxy) flag=() ;;
      tasks) flag=(--raw --task-per-call) ;;
      raw) flag=(--raw) ;;
    esac
    line=$("$BIN/new/bench" rpc "$OBJ" ${flag[@]+"${flag[@]}"} "${load[@]}" 2>/dev/null | tail -1)
    printf '{"build":"%s","row":"%s","round":%s,"result":%s}\n' "$BUILD" "$client" "$round" "${line:-null}" | tee -a "$OUT"
  done
done
