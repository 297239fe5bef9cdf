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
# PROFILE=debug runs the debug build (figures meaningless), SKIP_BUILD=1 the one already built.
. "$(dirname "$0")/../lib.sh"
defaults CLIENTS=4 SECONDS_PER_RUN=20 BATCH=500 TRACKINGS=2000
DB=fulfillment_bench_ingest
COLUMNS="tracking_id, event_key, source, actor, occurred_at, status, carrier_status_code, carrier_status_text, location, raw_payload, received_at"
cleanup() { if [ "${KEEP_DB:-0}" != 1 ]; then drop_db $DB; fi; }
sql() { psql $PG -qAt -v ON_ERROR_STOP=1 "$@" "$DB"; }
# copy_run WHAT COMMAND...: COMMAND (which stores the $ROWS rows again) timed after a
# CHECKPOINT, its rows/s printed after WHAT and left in RPS.
copy_run() {
  local what=$1 start secs
  shift
  sql -c CHECKPOINT
  start=$(now)
  "$@"
  secs=$(calc "$(now) - $start")
  RPS=$(calc "int($ROWS / $secs)")
  echo "$what: $ROWS rows in $(calc "f'{$secs:.2f}'") s, $RPS rows/s"
}
copy_in() { sql -c "\\copy tracking_events ($COLUMNS) FROM '$1'"; }
copy_in_parallel() {
  local pids=() f pid
  for f in "$@"; do copy_in "$f" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid"; done
}

build -p fulfillment-server -p fulfillment-bench
drop_db $DB
psql $PG -qc "CREATE DATABASE $DB" postgres

DATABASE_URL="$PGURL/$DB" RUST_LOG=warn start_server "$BIN/fulfillment-server" "$WORK"
"$BIN/fulfillment-bench" ingest --addr "http://$ADDR" --concurrency "$CLIENTS" \
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

copy_run "COPY, one transaction" copy_in "$WORK/cp.copy"
COPY_RPS=$RPS

split -l "$BATCH" -a 6 -d "$WORK/ck.copy" "$WORK/chunk."
for f in "$WORK"/chunk.*; do echo "\\copy tracking_events ($COLUMNS) FROM '$f'"; done >"$WORK/chunks.sql"
copy_run "COPY in chunks of $BATCH rows, a transaction each" sql -f "$WORK/chunks.sql"
CHUNK_RPS=$RPS

split -n "l/$CLIENTS" -a 3 -d "$WORK/pc.copy" "$WORK/part."
copy_run "COPY, $CLIENTS sessions at once" copy_in_parallel "$WORK"/part.*
PAR_RPS=$RPS
if [ "$(sql -c "SELECT count(*) FROM tracking_events")" != $((4 * ROWS)) ]; then
  echo "error: the COPYs did not store every row" >&2
  exit 1
fi

echo "IngestTrackingEvents / COPY:            $(calc "f'{$EPS/$COPY_RPS:.2f}'") (goal: 0.25)"
echo "IngestTrackingEvents / COPY in chunks:  $(calc "f'{$EPS/$CHUNK_RPS:.2f}'")"
echo "IngestTrackingEvents / COPY, $CLIENTS sessions: $(calc "f'{$EPS/$PAR_RPS:.2f}'")"
