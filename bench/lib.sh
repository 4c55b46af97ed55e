# Sourced by the bench scripts: waiting for a loopback port, and the bench_server that
# halfpeak.sh, proxy_floor.sh and two_by_one.sh drive.

# wait_port PORT: waits up to 10 s for 127.0.0.1:PORT to accept a connection.
wait_port() {
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done
  echo "port $1 not open" >&2
}

# start_bench_server DIR PORT: starts DIR/bench_server (Hello on PORT, Push on PORT + 1) and
# waits until it listens; its pid is $SERVER. The caller stops it (see stop_at_exit).
start_bench_server() {
  "$1/bench_server" --endpoint "tcp -h 127.0.0.1 -p $2 -t 600000" \
    --push-endpoint "tcp -h 127.0.0.1 -p $(($2 + 1)) -t 600000" >/dev/null 2>&1 &
  SERVER=$!
  wait_port "$2"
}

# stop_at_exit PID...: kills and reaps these processes when the script exits.
stop_at_exit() {
  # shellcheck disable=SC2064 # the pids are meant to be expanded now
  trap "kill $* 2>/dev/null || true; wait $* 2>/dev/null || true" EXIT
}
