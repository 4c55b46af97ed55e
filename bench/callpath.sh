#!/usr/bin/env bash
# Call-path benchmark, old against new, side by side (issue 16, "The call path").
#
# Builds release `bench` and `bench_server` of two commits in detached worktrees (one shared
# target dir, so dependencies build once; each build recompiles the workspace crates), starts both servers beside each other, then runs the
# RPC rows of docs/benchmarks.md interleaved (old, new, new, old, ...), and writes one JSON line
# per run: {"build":..,"commit":..,"row":..,"round":..,"result":<bench --json line>}.
#
#   bash bench/callpath.sh                       # old=de9a157, new=HEAD, 3 rounds
#   OLD=de9a157 NEW=callpath ROUNDS=5 SECS=4 OUT=/tmp/callpath.jsonl bash bench/callpath.sh
#   PLAIN_ECHO=127.0.0.1:29999 ...                     # also drive an independent bare echo
#
# Every process it starts is stopped at the end; servers listen on loopback only.
set -euo pipefail
REPO=${REPO:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}
OLD=${OLD:-de9a157}
NEW=${NEW:-HEAD}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}
PAYLOAD=${PAYLOAD:-100}
OUT=${OUT:-/tmp/callpath-$(date -u +%Y%m%dT%H%M%S).jsonl}
TARGET=${TARGET:-$REPO/target}
BIN=${BIN:-/tmp/callpath-bin}
OLD_PORT=${OLD_PORT:-28999}
NEW_PORT=${NEW_PORT:-38999}
export CARGO_INCREMENTAL=0

build() { # name commit
  local name=$1 commit=$2 wt=/tmp/callpath-src-$1
  local sha; sha=$(git -C "$REPO" rev-parse --short "$commit")
  if [ -e "$wt" ]; then git -C "$wt" checkout -q --detach "$sha"; else git -C "$REPO" worktree add -q --detach "$wt" "$sha"; fi
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # Both builds share one target dir and cargo's fingerprints of path packages go by mtime:
    # touch the checkout so its own sources are what gets compiled.
    git -C "$wt" ls-files -z | (cd "$wt" && xargs -0 touch)
    cargo build -q --release --manifest-path "$wt/Cargo.toml" --target-dir "$TARGET" --example bench --example bench_server
    mkdir -p "$BIN/$name"
    cp "$TARGET/release/examples/bench" "$TARGET/release/examples/bench_server" "$BIN/$name/"
  fi
  echo "$sha"
}
OLD_SHA=$(build old "$OLD")
NEW_SHA=$(build new "$NEW")
echo "old $OLD_SHA, new $NEW_SHA; results in $OUT" >&2

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_server() { # name port
  "$BIN/$1/bench_server" --endpoint "tcp -h 127.0.0.1 -p $2 -t 600000" \
    --push-endpoint "tcp -h 127.0.0.1 -p $(($2 + 1)) -t 600000" >/dev/null 2>&1 &
  PIDS+=($!)
}
start_server old "$OLD_PORT"
start_server new "$NEW_PORT"
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$OLD_PORT) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$NEW_PORT) 2>/dev/null && break
  sleep 0.2
done

# row name | bench arguments (OBJ is filled in per server)
ROWS=(
  "raw 2x100|rpc OBJ --raw --connections 2 --in-flight 100"
  "raw 16x10|rpc OBJ --raw --connections 16 --in-flight 10"
  "raw 2x1|rpc OBJ --raw --connections 2 --in-flight 1"
  "proxy 2x100|rpc OBJ --connections 2 --in-flight 100"
  "proxy 1x100|rpc OBJ --connections 1 --in-flight 100"
  "proxy 2x100 +4 empty layers|rpc OBJ --connections 2 --in-flight 100 --empty-layers 4"
  "baseline 2x100|baseline --connections 2 --in-flight 100"
  "baseline 2x1|baseline --connections 2 --in-flight 1"
)
run() { # build sha port row args round
  local obj="TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p $3"
  local args=${5//OBJ/}
  local line
  if [[ $5 == rpc* ]]; then
    line=$("$BIN/$1/bench" rpc "$obj" ${args#rpc } --payload "$PAYLOAD" --seconds "$SECS" --json 2>/dev/null | tail -1)
  else
    line=$("$BIN/$1/bench" $args --payload "$PAYLOAD" --seconds "$SECS" --json 2>/dev/null | tail -1)
  fi
  printf '{"build":"%s","commit":"%s","row":"%s","round":%s,"result":%s}\n' "$1" "$2" "$4" "$6" "${line:-null}" | tee -a "$OUT"
}
for round in $(seq "$ROUNDS"); do
  for row in "${ROWS[@]}"; do
    name=${row%%|*}; args=${row#*|}
    # Alternate which build goes first, so neither always runs on a warmer machine.
    if (( round % 2 )); then order="old new"; else order="new old"; fi
    for b in $order; do
      if [ "$b" = old ]; then run old "$OLD_SHA" "$OLD_PORT" "$name" "$args" "$round"
      else run new "$NEW_SHA" "$NEW_PORT" "$name" "$args" "$round"; fi
    done
    if [ -n "${PLAIN_ECHO:-}" ] && [[ $name == baseline* ]]; then
      line=$("$BIN/new/bench" baseline --target "$PLAIN_ECHO" --connections 2 --in-flight 100 --payload "$PAYLOAD" --seconds "$SECS" --json 2>/dev/null | tail -1)
      printf '{"build":"plain-echo","commit":"-","row":"%s","round":%s,"result":%s}\n' "$name" "$round" "${line:-null}" | tee -a "$OUT"
    fi
  done
done
