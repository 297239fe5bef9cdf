#!/usr/bin/env bash
# The reconciliation pipeline (issue 7, point 5) against hand-written set-based SQL:
#   1. a scratch database, migrated by `fulfillment-server migrate`, seeded with N orders
#      (seed.sql: every order shipped with a tracking, 5% of the trackings cancelled);
#   2. RUNS times: a copy of it (CREATE DATABASE ... TEMPLATE) on which the release binaries
#      cancellation-detector, re-release-decider and aplus-reset run once each, in order, with
#      their default batch size (wall time and peak RSS of each with /usr/bin/time), and another
#      copy on which setbased.sql does the same state changes, audit rows and outbox rows in
#      one transaction (psql);
#   3. the two end states compared with compare.sql (counts by state, flags, outcome, audit
#      kind/actor, outbox type, and checksums): DIFFERENT if they disagree;
#   4. the ratio pipeline / set-based.
# The pipeline's decisions are also checked against the seed's design (expected.sql).
# N (1000000), MERCHANTS (2000), RUNS (2) vary it; SKIP_BUILD=1 uses the existing binaries,
# PROFILE=debug the debug ones; BIN (target/$PROFILE) is where the binaries are (elsewhere: no
# build); KEEP_DB=1 keeps the databases; VERBOSE=1 prints the compared end state. Loopback
# PostgreSQL at 127.0.0.1:5432, user postgres.
# The whole script is one { } block, so bash reads it all before running it: editing the file
# during a run cannot change that run.
{
. "$(dirname "$0")/../lib.sh"
defaults N=1000000 MERCHANTS=2000 RUNS=2
SEED_DB=fulfillment_bench_pipeline_seed
PIPE_DB=fulfillment_bench_pipeline_workers
SQL_DB=fulfillment_bench_pipeline_setbased
HERE=services/bench/pipeline
STEPS="cancellation-detector re-release-decider aplus-reset"
cleanup() { if [ "${KEEP_DB:-0}" != 1 ]; then drop_db $SEED_DB $PIPE_DB $SQL_DB; fi; }
url() { echo "$PGURL/$1"; }
# Peak RSS of a command, in KiB, into $WORK/rss; its wall time in seconds into $WORK/wall.
measure() {
  local start rc=0
  start=$(now)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$WORK/rss" "$@" || rc=$?
  else
    python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)' "$WORK/rss" "$@" || rc=$?
  fi
  calc "$(now) - $start" >"$WORK/wall"
  return $rc
}

build -p fulfillment-server -p fulfillment-workers

echo "== seeding $N orders, $MERCHANTS merchants"
drop_db $SEED_DB
psql $PG -qc "CREATE DATABASE $SEED_DB" postgres
DATABASE_URL=$(url $SEED_DB) "$BIN/fulfillment-server" migrate >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; exit 1; }
START=$(now)
psql $PG -q -v ON_ERROR_STOP=1 -v n="$N" -v merchants="$MERCHANTS" -f $HERE/seed.sql $SEED_DB >/dev/null
echo "seeded in $(calc "f'{$(now) - $START:.1f}'") s: $(psql $PG -qAtc "SELECT pg_size_pretty(pg_database_size('$SEED_DB'))" postgres)," \
  "$(psql $PG -qAtc "SELECT count(*) FROM trackings WHERE cancelled_at IS NOT NULL" $SEED_DB) cancelled trackings"

STATUS=0
for run in $(seq "$RUNS"); do
  echo "== run $run of $RUNS ($(uptime | sed 's/.*load/load/'))"
  # The pipeline: each binary once, in order, default batch size.
  drop_db $PIPE_DB
  psql $PG -qc "CREATE DATABASE $PIPE_DB TEMPLATE $SEED_DB" postgres
  psql $PG -qc "CHECKPOINT" $PIPE_DB
  PIPE_TOTAL=0
  for step in $STEPS; do
    measure env DATABASE_URL="$(url $PIPE_DB)" RUST_LOG=info "$BIN/$step" \
      >"$WORK/$step.out" 2>"$WORK/$step.log" || { cat "$WORK/$step.log" >&2; exit 1; }
    printf '%-22s %8.2f s  peak RSS %6d KiB  %s\n' "$step" "$(cat "$WORK/wall")" \
      "$(cat "$WORK/rss")" "$(tail -n 1 "$WORK/$step.out")"
    PIPE_TOTAL=$(calc "$PIPE_TOTAL + $(cat "$WORK/wall")")
  done
  printf '%-22s %8.2f s\n' "pipeline total" "$PIPE_TOTAL"
  # The decisions against the seed's design (expected.sql), then the same on the set-based copy.
  psql $PG -q -v n="$N" -v merchants="$MERCHANTS" -f $HERE/expected.sql $PIPE_DB >"$WORK/expected.out"
  echo "pipeline decisions: $(grep -v '^orders decided\|^cancelled orders' "$WORK/expected.out" | sed 's/^expected //; s/|/=/' | paste -sd ' ')"
  if ! grep -qx 'orders decided otherwise than expected|0' "$WORK/expected.out" ||
     ! grep -qx 'cancelled orders not decided|0' "$WORK/expected.out"; then
    echo "pipeline decisions: NOT AS EXPECTED"; grep '^orders decided\|^cancelled orders' "$WORK/expected.out"
    STATUS=1
  fi

  # The same in set-based SQL, on a fresh copy.
  drop_db $SQL_DB
  psql $PG -qc "CREATE DATABASE $SQL_DB TEMPLATE $SEED_DB" postgres
  psql $PG -qc "CHECKPOINT" $SQL_DB
  measure psql $PG -q -v ON_ERROR_STOP=1 -c '\timing on' -f $HERE/setbased.sql $SQL_DB \
    >"$WORK/setbased.out" 2>&1 || { cat "$WORK/setbased.out" >&2; exit 1; }
  SQL_TOTAL=$(cat "$WORK/wall")
  echo "setbased.sql statements: $(grep -o 'Time: [0-9.]* ms' "$WORK/setbased.out" | awk '{printf "%s%.0f ms", sep, $2; sep=", "}')"
  printf '%-22s %8.2f s\n' "set-based total" "$SQL_TOTAL"

  psql $PG -q -f $HERE/compare.sql $PIPE_DB >"$WORK/pipeline.state"
  psql $PG -q -f $HERE/compare.sql $SQL_DB >"$WORK/setbased.state"
  if diff "$WORK/pipeline.state" "$WORK/setbased.state" >"$WORK/state.diff"; then
    echo "end states: SAME ($(wc -l <"$WORK/pipeline.state") lines compared)"
  else
    echo "end states: DIFFERENT (< pipeline, > set-based)"
    cat "$WORK/state.diff"
    STATUS=1
  fi
  if [ "${VERBOSE:-0}" = 1 ]; then cat "$WORK/pipeline.state"; fi
  echo "ratio pipeline / set-based: $(calc "f'{$PIPE_TOTAL / $SQL_TOTAL:.1f}'") (bar: at most 2, goal: 1.5)"
done
exit $STATUS
}
