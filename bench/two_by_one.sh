#!/usr/bin/env bash
# 2 x 1 round trips (issue 16: "at 2 x 1: >= 0.9 of the baseline"), interleaved: the raw
# client against bench_server, the bare echo in its own process (`bench echo --listen`) and
# the in-process baseline echo, with the same client. Uses the binaries in $BIN/new/; one
# JSON line per run in $OUT.
#
#   BIN=/tmp/callpath-bin ROUNDS=5 SECS=3 bash bench/two_by_one.sh
set -euo pipefail
BIN=${BIN:-/tmp/callpath-bin}
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-3}
PORT=${PORT:-36999}
ECHO_PORT=${ECHO_PORT:-36990}
OUT=${OUT:-/tmp/2x1-$(date -u +%Y%m%dT%H%M%S).jsonl}
OBJ="TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p $PORT"
. "$(dirname "$0")/lib.sh"
start_bench_server "$BIN/new" "$PORT"
"$BIN/new/bench" echo --listen "127.0.0.1:$ECHO_PORT" >/dev/null 2>&1 &
ECHO=$!
stop_at_exit "$SERVER" "$ECHO"
wait_port "$ECHO_PORT"
load=(--connections 2 --in-flight 1 --payload 100 --seconds "$SECS" --json)
emit() { printf '{"row":"%s","round":%s,"result":%s}\n' "$1" "$2" "${3:-null}" | tee -a "$OUT"; }
for round in $(seq "$ROUNDS"); do
  emit "raw 2x1" "$round" "$("$BIN/new/bench" rpc "$OBJ" --raw "${load[@]}" 2>/dev/null | tail -1)"
  emit "echo-process 2x1" "$round" "$("$BIN/new/bench" baseline --target "127.0.0.1:$ECHO_PORT" "${load[@]}" 2>/dev/null | tail -1)"
  emit "baseline 2x1" "$round" "$("$BIN/new/bench" baseline "${load[@]}" 2>/dev/null | tail -1)"
done
