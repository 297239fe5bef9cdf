# Sourced by lib.sh: start_server BIN LOGDIR [server flags...]
# Starts fulfillment-server on 127.0.0.1:0 (gRPC and webhook: no port picked beforehand that
# another process could take meanwhile), waits up to 60 s for the address it prints once bound,
# and sets SERVER_PID and ADDR (host:port). The caller's environment (DATABASE_URL, RUST_LOG)
# reaches the server. Its stdout and stderr stay in LOGDIR/server.{out,log}.
# stop_server stops it (if one runs); peak_rss_mib is its peak RSS so far (VmHWM), in MiB.
SERVER_PID=""
start_server() {
  local bin=$1 logdir=$2
  shift 2
  mkdir -p "$logdir"
  "$bin" --listen 127.0.0.1:0 --webhook-listen 127.0.0.1:0 "$@" \
    >"$logdir/server.out" 2>"$logdir/server.log" &
  SERVER_PID=$!
  local deadline=$((SECONDS + 60))
  ADDR=""
  while [ -z "$ADDR" ]; do
    ADDR=$(sed -n 's/^fulfillment-server is listening on \([^ ]*\)\. Try:$/\1/p' "$logdir/server.out")
    [ -n "$ADDR" ] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "fulfillment-server did not report the address it listens on:" >&2
      cat "$logdir/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status"; }
