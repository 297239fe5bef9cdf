#!/usr/bin/env bash
# Cost growth (issue 21): the same hot-path run (FulfillOrder at 32 callers, GetOrder,
# BatchGetOrders, ListOrdersToFulfill) in a database holding SMALL and one holding LARGE shipped
# orders of other merchants (seed_filler.sql: each with its tracking, link, two audit rows and an
# outbox row), then the figures side by side and the plans of the hot queries (explain.sql).
# Long: seeding 5,000,000 orders takes about half an hour on the 2-core machine; the seeded
# databases are kept (fulfillment_bench_<n>) and reused by the next run. Not for CI.
. "$(dirname "$0")/../lib.sh"
defaults SMALL=100000 LARGE=5000000
build -p fulfillment-server -p fulfillment-bench
name() { case $1 in 100000) echo 100k ;; 5000000) echo 5m ;; *) echo "$1" ;; esac; }
for n in "$SMALL" "$LARGE"; do
  db=fulfillment_bench_$(name "$n")
  if [ -z "$(psql $PG -qAt -c "SELECT 1 FROM pg_database WHERE datname = '$db'" postgres)" ]; then
    psql $PG -qc "CREATE DATABASE $db" postgres
    DATABASE_URL="$PGURL/$db" "$BIN/fulfillment-server" migrate >/dev/null
    for ((from = 0; from < n; from += 1000000)); do
      chunk=$(( n - from < 1000000 ? n - from : 1000000 ))
      echo "seeding $db: orders $from to $((from + chunk))"
      psql $PG -q -v ON_ERROR_STOP=1 -v n="$chunk" -v from="$from" -f services/bench/hot_paths/seed_filler.sql "$db"
    done
  fi
done
for n in "$SMALL" "$LARGE"; do
  db=fulfillment_bench_$(name "$n")
  echo "== $db: $(psql $PG -qAt -c "SELECT count(*) FROM orders" "$db") orders, $(psql $PG -qAt -c "SELECT pg_size_pretty(pg_database_size('$db'))" postgres)"
  DB=$db SKIP_BUILD=1 INGEST=0 CALLERS=32 ORDERS=${ORDERS:-15000} ONLY=${ONLY:-fulfill,get,batch-get,list} \
    bash services/bench/hot_paths/run.sh | tee "/tmp/growth-$n.out"
  psql $PG -q -v merchant=list-100000 -f services/bench/hot_paths/explain.sql "$db" >"/tmp/growth-$n.plans"
done
echo "== $LARGE / $SMALL"
python3 - "$SMALL" "$LARGE" <<'PY'
import re, sys
def figures(n):
    out = {}
    for line in open(f"/tmp/growth-{n}.out"):
        m = re.match(r"^(\w[^:]*): (\d+) req/s", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out
small, large = figures(sys.argv[1]), figures(sys.argv[2])
for what in small:
    if what in large and small[what]:
        print(f"{what}: {small[what]:.0f} -> {large[what]:.0f} req/s ({large[what] / small[what] - 1:+.0%})")
PY
echo "plans: /tmp/growth-$SMALL.plans /tmp/growth-$LARGE.plans"
