#!/usr/bin/env bash
# Push at scale, old vs new tars-rs (and TarsCpp's PushCallbackServer when /work/tarscpp/READY
# exists), interleaved, REPEATS rounds. Every result is one JSON line in $OUT, tagged with
# "variant", "row" and "repeat".
#
#   OLD=de9a157 NEW=push REPEATS=3 SECS=8 bench/push.sh
#
# Rows (per round, per variant):
#   demo1k   1,000-client broadcast spread: the variant's push_callback_server pushing once a
#            second (TarsCpp: its PushCallbackServer, also once a second), driven by the NEW
#            bench's `push --demo` (the same client for every server)
#   push10k  10,000 clients x 10 pushes/s: the variant's bench_server --push-rate 10, driven by
#            the NEW bench's `push --target` (timed pushes: delivery latency percentiles); the
#            server's own totals on exit are the push10k-server row (paced broadcast pushes/s
#            at 10,000 connections, server in its own process)
#   burst    broadcast pushes/s, in-process: the variant's own `bench push --burst` at 1,000
#            and 5,000 clients (paced and back to back)
#   conns    server RSS per idle connection and per registered push connection, 5,000
#            connections to the variant's bench_server (`bench conns`, NEW bench)
set -euo pipefail
REPO=${REPO:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}
OLD=${OLD:-de9a157}
NEW=${NEW:-HEAD}
REPEATS=${REPEATS:-3}
SECS=${SECS:-8}
BIN=${BIN:-/tmp/push-bench-bin}
OUT=${OUT:-/tmp/push-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
export CARGO_INCREMENTAL=0
ulimit -n "$(ulimit -Hn)" || true

build() { # build REV -> $BIN/REV/{bench,bench_server,push_callback_server}
  local rev=$1 src=/tmp/push-bench-src-$1
  [ -x "$BIN/$rev/bench" ] && [ "${REBUILD:-0}" != 1 ] && return
  rm -rf "$src"; git -C "$REPO" worktree prune
  git -C "$REPO" worktree add --detach "$src" "$rev" >/dev/null
  # Both revisions build in one target dir, where cargo tells sources apart by mtime only.
  find "$src" -name '*.rs' -exec touch {} +
  (cd "$src" && CARGO_TARGET_DIR="$REPO/target" cargo build --release -q \
      --example bench --example bench_server --example push_callback_server)
  mkdir -p "$BIN/$rev"
  cp "$REPO"/target/release/examples/{bench,bench_server,push_callback_server} "$BIN/$rev/"
  git -C "$REPO" worktree remove --force "$src"
}
build "$OLD"; build "$NEW"
CLIENT=$BIN/$NEW/bench

tag() { # tag VARIANT ROW REPEAT: adds the tags to every JSON line of stdin
  python3 -c 'import json,sys
for l in sys.stdin:
    l=l.strip()
    if l.startswith("{"):
        d=json.loads(l); d.update(variant=sys.argv[1], row=sys.argv[2], repeat=int(sys.argv[3])); print(json.dumps(d), flush=True)' "$@" | tee -a "$OUT"
}

. "$(dirname "$0")/lib.sh"
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# TarsCpp: TARSCPP_CMD starts its PushCallbackServer (exec'd, so its pid is the shell's) on
# TARSCPP_PORT; the defaults are the build /work/tarscpp/READY describes.
TARSCPP_PORT=${TARSCPP_PORT:-9300}
if [ -z "${TARSCPP_CMD:-}" ] && [ -f /work/tarscpp/READY ]; then
  TARSCPP_CMD="cd /work/tarscpp/run/PushCallbackServer && exec /work/tarscpp/build/bin/PushCallbackServer --config=/work/tarscpp/conf/PushCallbackServer.conf" # this machine's build
fi
VARIANTS="old new"; [ -n "${TARSCPP_CMD:-}" ] && VARIANTS="old new tarscpp"
echo "writing $OUT (variants: $VARIANTS)" >&2

for r in $(seq "$REPEATS"); do
  for v in $VARIANTS; do
    case $v in old) B=$BIN/$OLD ;; new) B=$BIN/$NEW ;; tarscpp) B= ;; esac
    # demo1k
    if [ "$v" = tarscpp ]; then
      bash -c "$TARSCPP_CMD" >/tmp/push-bench-tarscpp.log 2>&1 & pid=$!; port=$TARSCPP_PORT
    else
      port=29316
      "$B/push_callback_server" --endpoint "tcp -h 127.0.0.1 -p $port -t 600000" --interval-ms 1000 >/dev/null 2>&1 & pid=$!
    fi
    wait_port "$port"
    timeout 120 "$CLIENT" push --demo --clients 1000 --rate 1 --seconds "$SECS" --json \
      --target "TestApp.PushCallbackServer.PushObj@tcp -h 127.0.0.1 -p $port" 2>>"$OUT.err" | tag "$v" demo1k "$r" || true
    stop $pid
    [ "$v" = tarscpp ] && continue
    # push10k
    # (the server's own line, on its exit: pushes/s paced inside `broadcast` at 10,000)
    "$B/bench_server" --endpoint "tcp -h 127.0.0.1 -p 28999 -t 600000" \
      --push-endpoint "tcp -h 127.0.0.1 -p 29000 -t 600000" --push-rate 10 >/tmp/push-bench-server.out 2>&1 & pid=$!
    wait_port 29000
    timeout 180 "$CLIENT" push --clients 10000 --rate 10 --seconds "$SECS" --json \
      --target "TestApp.HelloServer.PushObj@tcp -h 127.0.0.1 -p 29000" 2>>"$OUT.err" | tag "$v" push10k "$r" || true
    stop $pid
    grep '^{' /tmp/push-bench-server.out | tag "$v" push10k-server "$r" || true
    # burst
    for k in 1000 5000; do
      timeout 180 "$B/bench" push --burst --clients $k --rate 10 --seconds "$SECS" --json 2>>"$OUT.err" | tag "$v" "burst$k" "$r" || true
    done
    # conns: idle, then after tars_ping (Hello) / registerPush (Push)
    "$B/bench_server" --endpoint "tcp -h 127.0.0.1 -p 28999 -t 600000" \
      --push-endpoint "tcp -h 127.0.0.1 -p 29000 -t 600000" >/dev/null 2>&1 & pid=$!
    wait_port 29000
    timeout 120 "$CLIENT" conns --count 5000 --pid $pid --target 127.0.0.1:29000 \
      --obj TestApp.HelloServer.PushObj --func registerPush --json 2>>"$OUT.err" | tag "$v" conns-push "$r" || true
    stop $pid
  done
done
echo "done: $OUT" >&2
