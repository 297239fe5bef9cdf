#!/usr/bin/env bash
# FulfillOrder through the service vs PostgreSQL alone, on this machine, at 32 clients:
#   1. pgbench -N (the built-in simple-update transaction),
#   2. pgbench with fulfill.sql (the very SQL of one FulfillOrder),
#   3. fulfillment-bench against a release build of the server.
# Loopback only; scratch databases are dropped and the server stopped at the end. PROFILE=debug
# runs the debug build (figures meaningless), SKIP_BUILD=1 the one already built.
. "$(dirname "$0")/../lib.sh"
defaults CLIENTS=32 SECONDS_PER_RUN=20
DBS="fulfillment_bench_pgbench fulfillment_bench_sql fulfillment_bench_service"
cleanup() { drop_db $DBS; }

build -p fulfillment-server -p fulfillment-bench
drop_db $DBS

psql $PG -qc "CREATE DATABASE fulfillment_bench_pgbench" postgres
pgbench $PG -q -i -s 10 fulfillment_bench_pgbench >/dev/null 2>&1
N_TPS=$(pgbench $PG -N -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" fulfillment_bench_pgbench 2>/dev/null | awk '/^tps/ {print int($3)}')
echo "pgbench -N: $N_TPS tps"

psql $PG -qc "CREATE DATABASE fulfillment_bench_sql" postgres
for up in $(ls -d migrations/*/ | sort); do psql $PG -q -v ON_ERROR_STOP=1 -f "$up/up.sql" fulfillment_bench_sql >/dev/null; done
psql $PG -qc "INSERT INTO merchants (id, name, country) VALUES ('pgbench', 'pgbench', 'US')" fulfillment_bench_sql
SQL_TPS=$(pgbench $PG -n -f services/bench/pgbench/fulfill.sql -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" fulfillment_bench_sql 2>/dev/null | awk '/^tps/ {print int($3)}')
echo "pgbench fulfill.sql: $SQL_TPS tps"

psql $PG -qc "CREATE DATABASE fulfillment_bench_service" postgres
DATABASE_URL="$PGURL/fulfillment_bench_service" RUST_LOG=warn start_server "$BIN/fulfillment-server" "$WORK"
LAST=$("$BIN/fulfillment-bench" fulfill --addr "http://$ADDR" --concurrency "$CLIENTS" --duration "${SECONDS_PER_RUN}s" | tee /dev/stderr | tail -n 1)
RPS=$(echo "$LAST" | awk '{print int($2)}')
echo "FulfillOrder / pgbench -N:     $(calc "f'{$RPS/$N_TPS:.2f}'")"
echo "FulfillOrder / fulfill.sql:    $(calc "f'{$RPS/$SQL_TPS:.2f}'")"
