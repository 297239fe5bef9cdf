#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests on real PostgreSQL (one fresh database per
# test) and the grpcurl end-to-end test. PostgreSQL: DATABASE_URL's server if set, else one on
# 127.0.0.1:5432, else a private cluster started from the installed binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the tests need: grpcurl (e2e), helm + kubernetes-validate (chart test), PostgreSQL.
bash .ci/install-tools.sh test
export GRPCURL="$PWD/.tools/bin/grpcurl"

# Test processes share the private cluster (the first one starts it); it stops by itself once
# the last of them has ended (services/core/src/pg_bootstrap/users.rs), so nothing to clean here.

cargo test --workspace --locked "$@"
