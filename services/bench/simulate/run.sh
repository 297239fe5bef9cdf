#!/usr/bin/env bash
# SimulatePolicy on this machine (issue 24), against release builds:
#   1. a scratch database seeded like the pipeline benchmark (services/bench/pipeline/seed.sql:
#      N orders released and shipped, 5% of the trackings cancelled: 50,000 at 1,000,000);
#   2. the real workers decide the cancellations (cancellation-detector, re-release-decider,
#      aplus-reset), so the recorded history is the one production writes;
#   3. a server on it; `fulfillment-bench simulate` runs SimulatePolicy with the version in force
#      (which must reproduce every recorded decision: the run fails otherwise), then with a
#      30-day re-release window; the server's peak RSS (VmHWM) before and after.
# N (1000000), MERCHANTS (2000) vary it; SKIP_BUILD=1 uses the existing release binaries;
# SKIP_SEED=1 reuses the database of a previous KEEP_DB=1 run. Loopback PostgreSQL at
# 127.0.0.1:5432, user postgres. One { } block: bash reads it all before running it.
{
set -euo pipefail
cd "$(dirname "$0")/../../.."
. services/bench/start_server.sh
N=${N:-1000000}
MERCHANTS=${MERCHANTS:-2000}
BIN=target/release
PG="-h 127.0.0.1 -U postgres"
DB=${DB:-fulfillment_bench_simulate}
URL="postgres://postgres@127.0.0.1:5432/$DB"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  if [ "${KEEP_DB:-0}" != 1 ]; then
    psql $PG -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -q -p fulfillment-server -p fulfillment-workers -p fulfillment-bench
fi
if [ "${SKIP_SEED:-0}" != 1 ]; then
  psql $PG -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres
  psql $PG -qc "CREATE DATABASE $DB" postgres
  DATABASE_URL="$URL" RUST_LOG=warn "$BIN/fulfillment-server" migrate >/dev/null
  START=$(now)
  psql $PG -q -v ON_ERROR_STOP=1 -v n="$N" -v merchants="$MERCHANTS" \
    -f services/bench/pipeline/seed.sql "$DB" >/dev/null
  echo "seeded $N orders in $(calc "f'{$(now) - $START:.0f}'") s," \
    "$(psql $PG -qAtc "SELECT count(*) FROM trackings WHERE cancelled_at IS NOT NULL" "$DB") cancelled trackings"
  START=$(now)
  for step in cancellation-detector re-release-decider aplus-reset; do
    DATABASE_URL="$URL" RUST_LOG=warn "$BIN/$step" | tail -n 1
  done
  echo "workers decided in $(calc "f'{$(now) - $START:.0f}'") s"
  psql $PG -qc "VACUUM ANALYZE" "$DB"
fi
echo "decisions recorded: $(psql $PG -qAtc "SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM (SELECT kind, count(*) n FROM order_events GROUP BY kind) k" "$DB")"

DATABASE_URL="$URL" RUST_LOG=warn start_server "$BIN/fulfillment-server" "$WORK"
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status"; }
echo "server peak RSS before: $(peak_rss_mib) MiB ($(uptime | sed 's/.*load/load/'))"
"$BIN/fulfillment-bench" simulate --addr "http://$ADDR" --rerelease-window-days 30
echo "server peak RSS after: $(peak_rss_mib) MiB"
}
