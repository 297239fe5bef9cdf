#!/usr/bin/env bash
# IngestTrackingEvents in batches vs PostgreSQL COPY of the same rows into the same table:
#   1. fulfillment-bench ingest against a release build of the server (CLIENTS callers sending
#      batches of BATCH new events over TRACKINGS shipped USPS trackings, SECONDS_PER_RUN s);
#   2. the rows it stored, exported and COPYed back in (with new event keys, so they are new
#      rows) into the same table of the same database, in one COPY;
#   3. the same again, COPY in chunks of BATCH rows, one transaction each (the batch shape);
#   4. the same again, in CLIENTS COPY sessions at once (one COPY uses one core; the service
#      uses them all).
# Loopback only; the scratch database is dropped (unless KEEP_DB=1) and the server stopped.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. services/bench/start_server.sh
CLIENTS=${CLIENTS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
BATCH=${BATCH:-500}
TRACKINGS=${TRACKINGS:-2000}
DB=fulfillment_bench_ingest
PG="-h 127.0.0.1 -U postgres"
COLUMNS="tracking_id, event_key, source, actor, occurred_at, status, carrier_status_code, carrier_status_text, location, raw_payload, received_at"
WORK=$(mktemp -d)
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  if [ "${KEEP_DB:-0}" != 1 ]; then
    psql $PG -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
sql() { psql $PG -qAt -v ON_ERROR_STOP=1 "$@" "$DB"; }
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

cargo build --release -q -p fulfillment-server -p fulfillment-bench
psql $PG -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres >/dev/null 2>&1
psql $PG -qc "CREATE DATABASE $DB" postgres

DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" RUST_LOG=warn \
  start_server target/release/fulfillment-server "$WORK"
target/release/fulfillment-bench ingest --addr "http://$ADDR" --concurrency "$CLIENTS" \
  --duration "${SECONDS_PER_RUN}s" --batch-size "$BATCH" --trackings "$TRACKINGS" | tee "$WORK/ingest.out" ||
  { cat "$WORK/server.log" >&2; exit 1; }
stop_server
EPS=$(awk '/^ingest:/ {print int($2)}' "$WORK/ingest.out")
if grep -q MISMATCH "$WORK/ingest.out"; then echo "warning: not every event was accepted" >&2; fi
ROWS=$(sql -c "SELECT count(*) FROM tracking_events")
echo "tracking_events: $ROWS rows, $(sql -c "SELECT round(avg(pg_column_size(e.*))) FROM tracking_events e") bytes a row on average"

# The stored rows with a new key prefix of the same length ('id:' -> 'cp:', 'ck:', 'pc:'): same
# trackings, same sizes, and new to the (tracking_id, event_key) index.
for prefix in cp ck pc; do
  sql -c "\\copy (SELECT tracking_id, '$prefix:' || substr(event_key, 4), source, actor, occurred_at, status, carrier_status_code, carrier_status_text, location, raw_payload, received_at FROM tracking_events WHERE event_key LIKE 'id:%' ORDER BY id) TO '$WORK/$prefix.copy'"
done

sql -c CHECKPOINT
START=$(now)
sql -c "\\copy tracking_events ($COLUMNS) FROM '$WORK/cp.copy'"
COPY_SECS=$(calc "$(now) - $START")
COPY_RPS=$(calc "int($ROWS / $COPY_SECS)")
echo "COPY, one transaction: $ROWS rows in $(calc "f'{$COPY_SECS:.2f}'") s, $COPY_RPS rows/s"

split -l "$BATCH" -a 6 -d "$WORK/ck.copy" "$WORK/chunk."
for f in "$WORK"/chunk.*; do echo "\\copy tracking_events ($COLUMNS) FROM '$f'"; done >"$WORK/chunks.sql"
sql -c CHECKPOINT
START=$(now)
sql -f "$WORK/chunks.sql"
CHUNK_SECS=$(calc "$(now) - $START")
CHUNK_RPS=$(calc "int($ROWS / $CHUNK_SECS)")
echo "COPY in chunks of $BATCH rows, a transaction each: $ROWS rows in $(calc "f'{$CHUNK_SECS:.2f}'") s, $CHUNK_RPS rows/s"

split -n "l/$CLIENTS" -a 3 -d "$WORK/pc.copy" "$WORK/part."
sql -c CHECKPOINT
START=$(now)
PIDS=()
for f in "$WORK"/part.*; do sql -c "\\copy tracking_events ($COLUMNS) FROM '$f'" & PIDS+=($!); done
for pid in "${PIDS[@]}"; do wait "$pid"; done
PAR_SECS=$(calc "$(now) - $START")
PAR_RPS=$(calc "int($ROWS / $PAR_SECS)")
echo "COPY, $CLIENTS sessions at once: $ROWS rows in $(calc "f'{$PAR_SECS:.2f}'") s, $PAR_RPS rows/s"
if [ "$(sql -c "SELECT count(*) FROM tracking_events")" != $((4 * ROWS)) ]; then
  echo "error: the COPYs did not store every row" >&2
  exit 1
fi

echo "IngestTrackingEvents / COPY:            $(calc "f'{$EPS/$COPY_RPS:.2f}'") (goal: 0.25)"
echo "IngestTrackingEvents / COPY in chunks:  $(calc "f'{$EPS/$CHUNK_RPS:.2f}'")"
echo "IngestTrackingEvents / COPY, $CLIENTS sessions: $(calc "f'{$EPS/$PAR_RPS:.2f}'")"
