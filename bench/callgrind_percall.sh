#!/usr/bin/env bash
# Instructions per call under callgrind (repeatable on a busy machine), for the binaries in
# $BIN/<build>/ (as bench/callpath.sh leaves them). Prints one JSON line.
#
#   bash bench/callgrind_percall.sh old server   # bench_server under callgrind, driven natively by `bench rpc --raw` 2x100
#   bash bench/callgrind_percall.sh new client   # `bench rpc` (typed proxy, 2x100) under callgrind against a native bench_server
#
# server: counters are zeroed (callgrind_control -z) after a 1 s warm-up run and dumped
# (-d) after the measured run, so start-up is excluded. client: two runs of SHORT and LONG
# seconds; (Ir(LONG) - Ir(SHORT)) / (calls(LONG) - calls(SHORT)) cancels start-up and report.
# Calls are the client's in-window count (a closed loop's last in-flight calls are not
# counted: under 1 % here). CLIENT_ARGS="--raw" (or "--raw --task-per-call") measures another
# client mode. KEEP=1 keeps the callgrind files for callgrind_annotate.
set -u
BUILD=${1:?old|new}; SIDE=${2:?server|client}
BIN=${BIN:-/tmp/callpath-bin}
PORT=${PORT:-48999}
SECS=${SECS:-3}
DIR=$(mktemp -d /tmp/cg-XXXX)
OBJ="TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p $PORT"
SERVER_ARGS=(--endpoint "tcp -h 127.0.0.1 -p $PORT -t 600000" --push-endpoint "tcp -h 127.0.0.1 -p $((PORT + 1)) -t 600000")
calls() { sed -n 's/.*"calls":\([0-9]*\).*/\1/p' | tail -1; }
summary() { grep -h '^summary:' "$1" | awk '{print $2}'; }
wait_listening() { for _ in $(seq 200); do grep -q listening "$1" && return 0; sleep 0.5; done; return 1; }

if [ "$SIDE" = server ]; then
  valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.%p" "$BIN/$BUILD/bench_server" "${SERVER_ARGS[@]}" >"$DIR/out" 2>&1 &
  P=$!
  wait_listening "$DIR/out"
  "$BIN/new/bench" rpc "$OBJ" --raw --connections 2 --in-flight 100 --seconds 1 --warmup 0 --json >/dev/null 2>&1
  callgrind_control -z "$P" >/dev/null 2>&1
  N=$("$BIN/new/bench" rpc "$OBJ" --raw --connections 2 --in-flight 100 --seconds "$SECS" --warmup 0 --json 2>/dev/null | calls)
  callgrind_control -d "$P" >/dev/null 2>&1
  sleep 1
  IR=$(summary "$DIR/cg.$P.1")
  kill -TERM "$P"; wait "$P" 2>/dev/null
  echo "{\"build\":\"$BUILD\",\"side\":\"server\",\"calls\":$N,\"ir\":$IR,\"ir_per_call\":$((IR / N))}"
else
  "$BIN/new/bench_server" "${SERVER_ARGS[@]}" >"$DIR/out" 2>&1 &
  P=$!
  wait_listening "$DIR/out"
  one() {
    local n
    n=$(valgrind --tool=callgrind --callgrind-out-file="$DIR/client.$1" "$BIN/$BUILD/bench" rpc "$OBJ" --connections 2 --in-flight 100 --seconds "$1" --warmup 0 --json ${CLIENT_ARGS:-} 2>/dev/null | calls)
    echo "$n $(summary "$DIR/client.$1")"
  }
  read -r N1 I1 < <(one "${SHORT:-1}")
  read -r N2 I2 < <(one "${LONG:-6}")
  kill -TERM "$P"; wait "$P" 2>/dev/null
  echo "{\"build\":\"$BUILD\",\"side\":\"client\",\"calls\":[$N1,$N2],\"ir\":[$I1,$I2],\"ir_per_call\":$(((I2 - I1) / (N2 - N1)))}"
fi
[ "${KEEP:-0}" = 1 ] && echo "kept $DIR" >&2 || rm -rf "$DIR"
