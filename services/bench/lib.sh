# Sourced first by every benchmark script (. "$(dirname "$0")/../lib.sh"), so that what they all
# need is written once (issue 23): strict mode, the repository's root as working directory,
# start_server/stop_server (start_server.sh) and:
#   PG, PGURL          psql's flags and the URL prefix of a loopback database (user postgres)
#   WORK               a scratch directory; on exit the script's own cleanup (if it defines one)
#                      runs, then the server is stopped and WORK removed
#   PROFILE, BIN       release (default) or debug, and where its binaries are (target/$PROFILE
#                      unless BIN is given)
#   defaults N=V ...   each variable N keeps the value the environment gave it, else gets V
#   build -p PKG ...   builds the packages' binaries at PROFILE, unless SKIP_BUILD=1 or BIN is
#                      somewhere else
#   drop_db DB ...     drops the databases if they exist (errors ignored: the next step says)
#   now, calc EXPR     the time in seconds; EXPR evaluated by python3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. services/bench/start_server.sh
PG="-h 127.0.0.1 -U postgres"
PGURL="postgres://postgres@127.0.0.1:5432"
WORK=$(mktemp -d)
on_exit() {
  if declare -F cleanup >/dev/null; then cleanup; fi
  stop_server
  rm -rf "$WORK"
}
trap on_exit EXIT

defaults() {
  local assignment name
  for assignment in "$@"; do
    name=${assignment%%=*}
    if [ -z "${!name:-}" ]; then printf -v "$name" %s "${assignment#*=}"; fi
  done
}
defaults PROFILE=release
defaults BIN="target/$PROFILE"

build() {
  if [ "${SKIP_BUILD:-0}" = 1 ] || [ "$BIN" != "target/$PROFILE" ]; then return 0; fi
  if [ "$PROFILE" = release ]; then
    cargo build --release --locked -q "$@"
  else
    cargo build --locked -q "$@"
  fi
}

drop_db() {
  local db
  for db in "$@"; do
    psql $PG -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres >/dev/null 2>&1 || true
  done
}
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }
