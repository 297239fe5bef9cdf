#!/usr/bin/env bash
# The hot paths next to PostgreSQL doing the same work, in one run (issue 21):
#   FulfillOrder at 1, 8 and 32 callers next to `pgbench -N` at as many clients (throughput, p50,
#   p99), FulfillOrder with an idempotency key, ReleaseOrder next to release.sql, GetOrder and
#   BatchGetOrders (100 ids) next to get.sql / batch_get.sql, ListOrdersToFulfill page after page
#   over a merchant with LIST_ORDERS orders next to list.sql; then, unless INGEST=0,
#   IngestTrackingEvents next to COPY (services/bench/pgbench/ingest.sh).
# The pgbench scripts run in the service's own database on the rows the RPCs wrote. Loopback
# only; the scratch databases are dropped (unless KEEP_DB=1) and the server stopped.
#
#   SECONDS_PER_RUN (10)   each measurement
#   CALLERS (1,8,32)       FulfillOrder's caller counts
#   LIST_ORDERS (100000)   the listed merchant's orders
#   POOL_SIZE (16)         the server's pool
#   DB                     an existing, migrated database to run in (kept), e.g. one seeded with
#                          seed_filler.sql (growth.sh); default: a scratch one
#   ONLY                   parts, e.g. fulfill,get (see `fulfillment-bench hot --help`)
#   SKIP_BUILD=1           use the binaries already built
#   PROFILE (release)      debug: the debug build (.ci/run's smoke run: figures meaningless);
#                          it and SKIP_BUILD reach pgbench/ingest.sh too
#   ORDERS (60000)         orders released first; they must outlast the FulfillOrder runs
#   CPU_LOG                a file: cpu_sample.py logs the CPU seconds of PostgreSQL, the server
#                          and the client there every half second, and each output line of the
#                          benchmark is prefixed with its unix time, so a phase's CPU per call
#                          can be read off (docs/benchmarks.md)
. "$(dirname "$0")/../lib.sh"
defaults SECONDS_PER_RUN=10 CALLERS=1,8,32 LIST_ORDERS=100000 POOL_SIZE=16 ORDERS=60000
PGBENCH_DB=fulfillment_bench_hot_pgbench_$$
SCRATCH=0
if [ -z "${DB:-}" ]; then DB=fulfillment_bench_hot_$$; SCRATCH=1; fi
SAMPLER_PID=""
cleanup() {
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
  if [ "${KEEP_DB:-0}" != 1 ]; then
    drop_db $PGBENCH_DB
    if [ "$SCRATCH" = 1 ]; then drop_db $DB; fi
  fi
}

build -p fulfillment-server -p fulfillment-bench
echo "load: $(uptime)"
if [ -n "${CPU_LOG:-}" ]; then
  python3 services/bench/hot_paths/cpu_sample.py "$CPU_LOG" &
  SAMPLER_PID=$!
fi
stamp() { if [ -n "${CPU_LOG:-}" ]; then while IFS= read -r l; do echo "$(date +%s.%N | cut -c1-13) $l"; done; else cat; fi; }

drop_db $PGBENCH_DB
psql $PG -qc "CREATE DATABASE $PGBENCH_DB" postgres
pgbench $PG -q -i -s "${PGBENCH_SCALE:-10}" "$PGBENCH_DB" >/dev/null 2>&1
if [ "$SCRATCH" = 1 ]; then
  drop_db $DB
  psql $PG -qc "CREATE DATABASE $DB" postgres
fi
DATABASE_URL="$PGURL/$DB" $BIN/fulfillment-server migrate >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; exit 1; }
LIST_MERCHANT="list-$LIST_ORDERS"
if [ "$(psql $PG -qAt -c "SELECT count(*) FROM merchants WHERE id = '$LIST_MERCHANT'" "$DB")" = 0 ]; then
  psql $PG -q -v ON_ERROR_STOP=1 -v n="$LIST_ORDERS" -v merchant="$LIST_MERCHANT" -v prefix=list- \
    -f services/bench/hot_paths/seed_list.sql "$DB"
fi
echo "orders in the database: $(psql $PG -qAt -c "SELECT count(*) FROM orders" "$DB")"

DATABASE_URL="$PGURL/$DB" RUST_LOG=warn start_server "$BIN/fulfillment-server" "$WORK" \
  --pool-size "$POOL_SIZE"
if ! $BIN/fulfillment-bench hot --addr "http://$ADDR" --service-db "$PGURL/$DB" \
  --pgbench-db "$PGURL/$PGBENCH_DB" --duration "${SECONDS_PER_RUN}s" --callers "$CALLERS" \
  --orders "$ORDERS" --list-merchant "$LIST_MERCHANT" ${ONLY:+--only "$ONLY"} | stamp; then
  cat "$WORK/server.log" >&2
  exit 1
fi
stop_server
echo "load: $(uptime)"
if [ "${INGEST:-1}" = 1 ]; then
  echo "== IngestTrackingEvents next to COPY"
  bash services/bench/pgbench/ingest.sh
fi
