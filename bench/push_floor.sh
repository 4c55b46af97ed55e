#!/usr/bin/env bash
# The push latency rows against the kernel's own floor on this machine, interleaved, ROUNDS
# rounds; one JSON line per result in $OUT, tagged with "row" and "repeat":
#   demo       1,000 clients (`push --demo`) of our push_callback_server pushing once a second
#   ideal1/2   `push --demo` (the same client) against `bench floorserver`, a PushCallbackDemo
#              server that only writes a pre-encoded frame with one / two blocking threads
#   floor1/2   `bench sendfloor`: 1,000 loopback sockets written by one / two threads while a
#              two-worker runtime reads them (no TARS code: the spread the kernel alone gives)
#   push10k    10,000 clients x 10 pushes/s of bench_server --push-rate 10 (BIG=0 skips it),
#              and push10k-server, the server's own totals on exit (paced broadcast pushes/s)
#   floor10k   `bench sendfloor` at 9,900 sockets (a process holds both ends), two threads
#   tarscpp    `push --demo` against TarsCpp's PushCallbackServer, when TARSCPP_CMD starts it
#              (exec'd) on TARSCPP_PORT (default 9300); TarsCpp is built outside this repository
#
#   BIN=/tmp/callpath-bin/new ROUNDS=3 SECS=8 bash bench/push_floor.sh
set -euo pipefail
BIN=${BIN:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)/target/release/examples}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
CLIENTS=${CLIENTS:-1000}
OUT=${OUT:-/tmp/push-floor-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
PORT=${PORT:-29316}
ulimit -n "$(ulimit -Hn)" || true
tag() { python3 -c 'import json,sys
for l in sys.stdin:
    l=l.strip()
    if l.startswith("{"):
        d=json.loads(l); d.update(row=sys.argv[1], repeat=int(sys.argv[2])); print(json.dumps(d), flush=True)' "$@" | tee -a "$OUT"; }
. "$(dirname "$0")/lib.sh"
echo "writing $OUT" >&2
for r in $(seq "$ROUNDS"); do
  "$BIN/push_callback_server" --endpoint "tcp -h 127.0.0.1 -p $PORT -t 600000" --interval-ms 1000 >/dev/null 2>&1 & pid=$!
  wait_port "$PORT"
  timeout 120 "$BIN/bench" push --demo --clients "$CLIENTS" --rate 1 --seconds "$SECS" --json \
    --target "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p $PORT" 2>/dev/null | tag demo "$r" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ -n "${TARSCPP_CMD:-}" ]; then
    bash -c "$TARSCPP_CMD" >/dev/null 2>&1 & pid=$!
    wait_port "${TARSCPP_PORT:-9300}"
    timeout 120 "$BIN/bench" push --demo --clients "$CLIENTS" --rate 1 --seconds "$SECS" --json \
      --target "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p ${TARSCPP_PORT:-9300}" 2>/dev/null | tag tarscpp "$r" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
  fi
  for t in 1 2; do
    "$BIN/bench" floorserver --listen "127.0.0.1:$((PORT + 1))" --threads "$t" >/dev/null 2>&1 & pid=$!
    wait_port "$((PORT + 1))"
    timeout 120 "$BIN/bench" push --demo --clients "$CLIENTS" --rate 1 --seconds "$SECS" --json \
      --target "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p $((PORT + 1))" 2>/dev/null | tag "ideal$t" "$r" || true
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  for t in 1 2; do
    "$BIN/bench" sendfloor --sockets "$CLIENTS" --threads "$t" --rounds 20 --readers --json 2>/dev/null | tag "floor$t" "$r"
  done
  [ "${BIG:-1}" = 1 ] || continue
  "$BIN/bench_server" --endpoint "tcp -h 127.0.0.1 -p 28999 -t 600000" \
    --push-endpoint "tcp -h 127.0.0.1 -p 29000 -t 600000" --push-rate 10 >/tmp/push-floor-server.out 2>&1 & pid=$!
  wait_port 29000
  timeout 180 "$BIN/bench" push --clients 10000 --rate 10 --seconds "$SECS" --json \
    --target "TestApp.HelloServer.PushObj@tcp -h 127.0.0.1 -p 29000" 2>/dev/null | tag push10k "$r" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  grep '^{' /tmp/push-floor-server.out | tag push10k-server "$r" || true
  "$BIN/bench" sendfloor --sockets 9900 --threads 2 --rounds 10 --readers --json 2>/dev/null | tag floor10k "$r"
done
