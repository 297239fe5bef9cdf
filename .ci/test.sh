#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests on real PostgreSQL (one fresh database per
# test) and the grpcurl end-to-end test. PostgreSQL: DATABASE_URL's server if set, else one on
# 127.0.0.1:5432, else a private cluster started from the installed binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BUF=0 bash .ci/install-tools.sh
export GRPCURL="$PWD/.tools/bin/grpcurl"
exec cargo test --workspace --locked "$@"
