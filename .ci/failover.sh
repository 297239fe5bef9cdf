#!/usr/bin/env bash
# PostgreSQL high availability on a real engine (issue 19.5): a pg_auto_failover formation on
# this machine (a monitor, a primary and a synchronous secondary, each on its own port), the
# service on its multi-host URL with target_session_attrs=read-write, and the primary killed
# during FulfillOrder load (services/server/tests/failover.rs checks what callers saw and that
# every acknowledged call is on the new primary). Everything it starts is stopped on exit.
#
# Needs Debian's postgresql-15-auto-failover (installed here through apt-get when missing) and
# root (the nodes run as the postgres user, as PostgreSQL refuses root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pg_autoctl >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "failover: pg_autoctl is missing; install it with: apt-get install postgresql-15-auto-failover" >&2
    exit 1
  fi
  echo "installing postgresql-15-auto-failover from Debian's packages (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-auto-failover >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "failover: run as root (the formation's nodes run as the postgres user)" >&2
  exit 1
fi
PGBIN="$(ls -d /usr/lib/postgresql/15/bin)"
export PATH="$PGBIN:$PATH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MON_PORT=$(free_port); P1=$(free_port); P2=$(free_port)
D="$(mktemp -d /tmp/fulfillment-failover.XXXXXX)"
chown postgres:postgres "$D"
# pg_autoctl keeps its state under the postgres user's XDG folders, keyed by PGDATA; a private
# HOME keeps this run's apart from any other.
export XDG_CONFIG_HOME="$D/xdg-config" XDG_DATA_HOME="$D/xdg-data"
as_pg() { runuser -u postgres -- env PATH="$PATH" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_DATA_HOME="$XDG_DATA_HOME" "$@"; }

pids=()
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
  for node in node1 node2 monitor; do
    [ -f "$D/$node/postmaster.pid" ] && as_pg pg_ctl -D "$D/$node" -m immediate stop >/dev/null 2>&1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  rm -rf "$D"
}
trap cleanup EXIT

# Each pg_autoctl runs in its own session, so its whole process group can be killed at once.
start() { # name, log, args...
  local name="$1"; shift
  setsid runuser -u postgres -- env PATH="$PATH" XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_DATA_HOME="$XDG_DATA_HOME" \
    pg_autoctl "$@" >"$D/$name.log" 2>&1 &
  pids+=($!)
  eval "PID_$name=$!"
}

# Waits (with a deadline) until the monitor reports `want` for every listed node.
wait_states() { # seconds, "node1=primary node2=secondary"
  local deadline=$((SECONDS + $1)) want="$2" have
  while :; do
    have="$(as_pg pg_autoctl show state --pgdata "$D/monitor" --json 2>/dev/null \
      | python3 -c 'import json,sys; print(" ".join(sorted(n["nodename"] + "=" + n["current_group_state"] for n in json.load(sys.stdin))))' 2>/dev/null || true)"
    [ "$have" = "$want" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "failover: the formation never reached '$want' (last: '$have')" >&2
      tail -n 20 "$D"/*.log >&2
      return 1
    fi
    sleep 0.5
  done
}

echo "-- monitor on $MON_PORT, nodes on $P1 and $P2 ($D)"
start monitor create monitor --pgdata "$D/monitor" --pgport "$MON_PORT" --hostname 127.0.0.1 \
  --auth trust --no-ssl --run
deadline=$((SECONDS + 60))
until as_pg psql -h 127.0.0.1 -p "$MON_PORT" -U autoctl_node -d pg_auto_failover -Atc 'SELECT 1' >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { tail -n 20 "$D/monitor.log" >&2; exit 1; }
  sleep 0.2
done
# Notice a dead node in seconds, not the defaults' half minute (the same knobs in production:
# docs/operations.md).
settings=(
  "pgautofailover.health_check_period = 1000"
  "pgautofailover.health_check_timeout = 1000"
  "pgautofailover.health_check_max_retries = 1"
  "pgautofailover.health_check_retry_delay = 500"
  "pgautofailover.node_considered_unhealthy_timeout = 3000"
)
for setting in "${settings[@]}"; do
  as_pg psql -q -h 127.0.0.1 -p "$MON_PORT" -d pg_auto_failover -c "ALTER SYSTEM SET $setting" >/dev/null
done
as_pg psql -q -h 127.0.0.1 -p "$MON_PORT" -d pg_auto_failover -c "SELECT pg_reload_conf()" >/dev/null
MONITOR="postgres://autoctl_node@127.0.0.1:$MON_PORT/pg_auto_failover?sslmode=disable"

node() { # n, port
  start "node$1" create postgres --pgdata "$D/node$1" --pgport "$2" --hostname 127.0.0.1 \
    --auth trust --no-ssl --dbname fulfillment --monitor "$MONITOR" --name "node$1" --run
}
node 1 "$P1"
wait_states 90 "node1=single"
node 2 "$P2"
# pg_basebackup waits for a checkpoint; ask for it now rather than wait for a spread one.
deadline=$((SECONDS + 120))
until wait_states 2 "node1=primary node2=secondary" 2>/dev/null; do
  as_pg psql -q -h 127.0.0.1 -p "$P1" -d postgres -c CHECKPOINT >/dev/null 2>&1 || true
  [ $SECONDS -lt $deadline ] || { wait_states 1 "node1=primary node2=secondary"; exit 1; }
done
echo "-- formation: node1 primary, node2 synchronous secondary ($(as_pg psql -h 127.0.0.1 -p "$P1" -d fulfillment -Atc 'SHOW synchronous_standby_names'))"

export FAILOVER_URL="postgres://postgres@127.0.0.1:$P1,127.0.0.1:$P2/fulfillment?target_session_attrs=read-write&connect_timeout=2"
export FAILOVER_SECONDARY_URL="postgres://postgres@127.0.0.1:$P2/fulfillment"
# The primary dies whole: its keeper (which would restart it) and its PostgreSQL.
export FAILOVER_KILL="kill -9 -$PID_node1; runuser -u postgres -- $PGBIN/pg_ctl -D $D/node1 -m immediate stop >/dev/null 2>&1 || true"

echo "-- FulfillOrder load, then the primary killed"
cargo test -p fulfillment-server --test failover --locked -- --ignored --nocapture
echo "-- after: $(as_pg pg_autoctl show state --pgdata "$D/monitor" 2>/dev/null | tail -n 2 | tr -s ' ' | tr '\n' ';')"
echo "failover OK"
