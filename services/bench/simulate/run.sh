#!/usr/bin/env bash
# SimulatePolicy on this machine (issue 24), against release builds:
#   1. a scratch database seeded like the pipeline benchmark (services/bench/pipeline/seed.sql:
#      N orders released and shipped, 5% of the trackings cancelled: 50,000 at 1,000,000);
#   2. the real workers decide the cancellations (cancellation-detector, re-release-decider,
#      aplus-reset), so the recorded history is the one production writes;
#   3. a server on it; `fulfillment-bench simulate` runs SimulatePolicy with the version in force
#      (which must reproduce every recorded decision: the run fails otherwise), then with a
#      30-day re-release window; the server's peak RSS (VmHWM) before and after.
# N (1000000), MERCHANTS (2000) vary it; SKIP_BUILD=1 uses the existing binaries, PROFILE=debug
# the debug ones; SKIP_SEED=1 reuses the database of a previous KEEP_DB=1 run. Loopback
# PostgreSQL at 127.0.0.1:5432, user postgres. One { } block: bash reads it all before running it.
{
. "$(dirname "$0")/../lib.sh"
defaults N=1000000 MERCHANTS=2000 DB=fulfillment_bench_simulate
URL="$PGURL/$DB"
cleanup() { if [ "${KEEP_DB:-0}" != 1 ]; then drop_db "$DB"; fi; }

build -p fulfillment-server -p fulfillment-workers -p fulfillment-bench
if [ "${SKIP_SEED:-0}" != 1 ]; then
  drop_db "$DB"
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
echo "server peak RSS before: $(peak_rss_mib) MiB ($(uptime | sed 's/.*load/load/'))"
"$BIN/fulfillment-bench" simulate --addr "http://$ADDR" --rerelease-window-days 30
echo "server peak RSS after: $(peak_rss_mib) MiB"
}
