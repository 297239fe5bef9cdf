#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests on real PostgreSQL (one fresh database per
# test) and the grpcurl end-to-end test. PostgreSQL: DATABASE_URL's server if set, else one on
# 127.0.0.1:5432, else a private cluster started from the installed binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the tests need: grpcurl (e2e), helm + kubernetes-validate (chart test), PostgreSQL.
bash .ci/install-tools.sh test
export GRPCURL="$PWD/.tools/bin/grpcurl"

# Test processes share the private cluster (the first one starts it); stop it when the suite
# ends, whatever the outcome, so no PostgreSQL is left running behind the tests.
stop_private_cluster() {
  local bindir data
  bindir="$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  for data in "${FULFILLMENT_PG_DIR:-target/pg-embedded}/data" /tmp/fulfillment-pg-*/data; do
    [ -f "$data/postmaster.pid" ] || continue
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    else
      "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
}
trap stop_private_cluster EXIT

cargo test --workspace --locked "$@"
