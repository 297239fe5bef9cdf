#!/usr/bin/env bash
# The spreadsheet RPCs on this machine (issue 8), against a release build of the server:
#   1. ExportOrders of 100,000 and of 1,000,000 orders: rows/s and the server's peak RSS (VmHWM,
#      a fresh server for each, so the peak is the export's);
#   2. StartBulkFulfillment of a 50,000-row CSV, followed to the end: rows/s;
#   3. FulfillOrder by the load generator on the same database: req/s, for the ratio.
# Loopback only; the scratch database is dropped and the server stopped at the end. PROFILE=debug
# runs the debug build (figures meaningless), SKIP_BUILD=1 the one already built.
. "$(dirname "$0")/../lib.sh"
defaults EXPORT_ORDERS=1000000 UPLOAD_ROWS=50000 FULFILL_SECONDS=20
DB=fulfillment_bench_bulk
URL="$PGURL/$DB"
cleanup() { drop_db $DB; }

serve() { DATABASE_URL="$URL" RUST_LOG=warn start_server "$BIN/fulfillment-server" "$WORK" "$@"; }

build -p fulfillment-server -p fulfillment-bench
drop_db $DB
psql $PG -qc "CREATE DATABASE $DB" postgres
DATABASE_URL="$URL" RUST_LOG=warn $BIN/fulfillment-server migrate
echo "seeding $EXPORT_ORDERS orders to export and $UPLOAD_ROWS to upload..."
psql $PG -q -v export_orders="$((EXPORT_ORDERS + 100000))" -v upload_orders="$UPLOAD_ROWS" \
  -f services/bench/bulk/seed.sql "$DB" >/dev/null
# 100,000 more of the same rows go to a second merchant, for the memory comparison.
psql $PG -q -v export_orders="$EXPORT_ORDERS" "$DB" >/dev/null <<'SQL'
INSERT INTO merchants (id, name, country) VALUES ('m-export-small', 'Export bench (small)', 'CN');
UPDATE orders SET merchant_id = 'm-export-small'
 WHERE merchant_id = 'm-export' AND substr(id, 4)::int > :export_orders;
ANALYZE orders;
SQL

for merchant in m-export-small m-export; do
  serve
  echo "$merchant: server peak RSS before the export: $(peak_rss_mib) MiB"
  $BIN/fulfillment-bench export --addr "http://$ADDR" --merchant "$merchant"
  echo "$merchant: server peak RSS after the export: $(peak_rss_mib) MiB"
  stop_server
done

serve
$BIN/fulfillment-bench upload --addr "http://$ADDR" --merchant m-upload --rows "$UPLOAD_ROWS" | tee /tmp/bulk-upload.txt
echo "server peak RSS after the upload: $(peak_rss_mib) MiB"
FULFILL=$($BIN/fulfillment-bench fulfill --addr "http://$ADDR" --duration "${FULFILL_SECONDS}s" | tee /dev/stderr | tail -n 1)
UP=$(awk '/^bulk:/ {print $(NF-1)}' /tmp/bulk-upload.txt)
RPS=$(echo "$FULFILL" | awk '{print int($2)}')
echo "bulk upload rows/s / FulfillOrder req/s: $(python3 -c "print(f'{$UP/$RPS:.2f}')")"
