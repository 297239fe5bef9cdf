#!/usr/bin/env bash
# The Helm chart (helm/fulfillment): lint it, render it with the default values and with every
# optional part switched on (ci/all-on-values.yaml), and validate every rendered object against
# the Kubernetes OpenAPI schemas (kubernetes-validate --strict: unknown fields are errors).
#
# What is NOT validated by schema: the ServiceMonitor and the PrometheusRule (monitoring.coreos.com/v1)
# are Prometheus Operator CRDs; the rule's groups are checked by promtool instead (check rules and
# the unit tests of ci/rules-test.yaml). The ServiceMonitor is a Prometheus
# Operator CRD, and kubernetes-validate ships only the built-in Kubernetes kinds (for an unknown
# kind it prints a WARN and passes). So the ServiceMonitor is taken out of the validated stream
# and only checked structurally below (its selector and port name match the Service); any other
# kind without a schema fails this script. Nothing here talks to a cluster: admission webhooks,
# quotas and the image itself are not exercised.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .tools/bin/helm ] || [ ! -x .tools/bin/kubernetes-validate ]; then
  WITH_BUF=0 bash .ci/install-tools.sh
fi
HELM="$PWD/.tools/bin/helm"
VALIDATE="$PWD/.tools/bin/kubernetes-validate"
CHART=helm/fulfillment
ALL_ON="$CHART/ci/all-on-values.yaml"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas known.
KUBE_VERSIONS=(-k 1.27.0 -k 1.37.0)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "-- helm lint (default values, all optional parts on)"
"$HELM" lint --strict --quiet "$CHART"
"$HELM" lint --strict --quiet "$CHART" -f "$ALL_ON"

echo "-- values.schema.json and the chart's own checks refuse bad values"
refuse() {
  local why="$1"
  shift
  if "$HELM" template t "$CHART" "$@" >/dev/null 2>"$out/refused.txt"; then
    echo "helm template accepted values it must refuse ($why): $*" >&2
    exit 1
  fi
}
refuse "unknown top-level key" --set unknownKey=1
refuse "unknown worker" --set workers.no-such-worker.enabled=true
refuse "negative replicas" --set server.replicas=-1
refuse "batch size not an integer" --set-string workers.deadline-enforcer.batchSize=many
refuse "empty existingSecret" --set existingSecret=
refuse "grace period shorter than the drain" --set server.terminationGracePeriodSeconds=20
refuse "carrier without url" --set workers.tracker-poller.carriers.inpost.rps=5
refuse "secret in values" --set workers.tracker-poller.carriers.inpost.url=https://x --set workers.tracker-poller.carriers.inpost.apiKey=secret

echo "-- helm template"
"$HELM" template fulfillment "$CHART" --namespace fulfillment >"$out/default.yaml"
"$HELM" template fulfillment "$CHART" --namespace fulfillment -f "$ALL_ON" >"$out/all-on.yaml"

echo "-- rendered objects: the chart's promises, then the ServiceMonitor set aside"
for rendered in default all-on; do
  PYTHONPATH="$PWD/.tools/python" python3 - "$out/$rendered.yaml" "$out/$rendered.k8s.yaml" <<'PY'
import sys, yaml

src, dst = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
kinds = [d["kind"] for d in docs]
problems = []

def need(cond, what):
    if not cond:
        problems.append(what)

def containers(pod):
    return pod["spec"]["containers"]

def check_pod(name, pod):
    ctx = pod["spec"].get("securityContext", {})
    need(ctx.get("runAsNonRoot") is True, f"{name}: pod runAsNonRoot")
    need(isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0, f"{name}: numeric runAsUser")
    need(ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp")
    for c in containers(pod):
        sc = c.get("securityContext", {})
        need(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
        need(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation")
        need(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities drop ALL")
        need(sc.get("runAsNonRoot") is True, f"{name}: container runAsNonRoot")
        need("resources" in c and c["resources"].get("requests"), f"{name}: resources")
        for env in c.get("env", []):
            # Secrets only by reference: a literal value must not look like one.
            if env["name"] in ("DATABASE_URL", "FULFILLMENT_AUTH_TOKENS", "FULFILLMENT_ENCRYPTION_KEYS") \
                    or env["name"].endswith(("_API_KEY", "_PASSWORD", "_USERNAME")):
                need("secretKeyRef" in env.get("valueFrom", {}), f"{name}: {env['name']} from a Secret")

by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)

deployments = by_kind.get("Deployment", [])
need(len(deployments) == 1, "one Deployment")
for dep in deployments:
    pod = dep["spec"]["template"]
    check_pod("Deployment", pod)
    c = containers(pod)[0]
    need(c["command"] == ["fulfillment-server"], "server command")
    for probe in ("readinessProbe", "livenessProbe"):
        need("grpc" in c.get(probe, {}), f"server {probe} is a native gRPC probe")
    env = {e["name"]: e for e in c["env"]}
    need(env["FULFILLMENT_LISTEN"]["value"].startswith("0.0.0.0:"), "server listens on 0.0.0.0")
    need("FULFILLMENT_AUTH_TOKENS_FILE" in env, "server gets the auth tokens file (protected mode)")
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    timeout = int(env["FULFILLMENT_REQUEST_TIMEOUT_SECS"]["value"])
    need(grace > timeout, "terminationGracePeriodSeconds exceeds the drain")

cronjobs = by_kind.get("CronJob", [])
need(len(cronjobs) == 6, f"six CronJobs, got {len(cronjobs)}")
for cj in cronjobs:
    name = cj["metadata"]["name"]
    spec = cj["spec"]
    need(spec.get("concurrencyPolicy") == "Forbid", f"{name}: concurrencyPolicy Forbid")
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        need(key in spec, f"{name}: {key}")
    need(len(name) <= 52, f"{name}: CronJob name longer than 52")
    job = spec["jobTemplate"]["spec"]
    need("activeDeadlineSeconds" in job, f"{name}: activeDeadlineSeconds")
    check_pod(name, job["template"])
    args = containers(job["template"])[0].get("args", [])
    need("--schedule" not in args, f"{name}: a CronJob run is one-shot (no --schedule)")

hooks = [j for j in by_kind.get("Job", [])
         if j["metadata"].get("annotations", {}).get("helm.sh/hook") == "pre-install,pre-upgrade"]
need(len(hooks) == 1, "one pre-install,pre-upgrade migration Job")
for job in hooks:
    check_pod("migration Job", job["spec"]["template"])
    c = containers(job["spec"]["template"])[0]
    need(c["command"] + c.get("args", []) == ["fulfillment-server", "migrate"], "migration command")

services = by_kind.get("Service", [])
need(len(services) == 1, "one Service")
port_names = {p["name"] for s in services for p in s["spec"]["ports"]}
need({"grpc", "webhook"} <= port_names, "Service ports grpc and webhook")

for sm in by_kind.get("ServiceMonitor", []):
    need(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion")
    labels = services[0]["metadata"]["labels"] if services else {}
    selector = sm["spec"]["selector"]["matchLabels"]
    need(all(labels.get(k) == v for k, v in selector.items()), "ServiceMonitor selects the Service")
    for ep in sm["spec"]["endpoints"]:
        need(ep["port"] in port_names, "ServiceMonitor port is a Service port name")
        need(str(ep.get("path", "")).startswith("/"), "ServiceMonitor path")

for cm in by_kind.get("ConfigMap", []):
    if "grafana_dashboard" in cm["metadata"].get("labels", {}):
        import json
        for key, text in cm["data"].items():
            try:
                dash = json.loads(text)
                need(dash.get("panels"), f"dashboard {key}: panels")
            except ValueError as e:
                need(False, f"dashboard {key} is not JSON: {e}")

if problems:
    sys.exit(f"{src}:\n  " + "\n  ".join(problems))
with open(dst, "w") as f:
    yaml.safe_dump_all([d for d in docs if d["kind"] not in ("ServiceMonitor", "PrometheusRule")], f, sort_keys=False)
# The PrometheusRule's groups, as a rules file for promtool (check and unit tests below).
rules = [d for d in docs if d["kind"] == "PrometheusRule"]
if rules:
    with open(dst.rsplit("/", 1)[0] + "/rules.yaml", "w") as f:
        yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, f, sort_keys=False)
print(f"{src.rsplit('/', 1)[-1]}: {len(docs)} objects ({', '.join(sorted(set(kinds)))})")
PY
done

echo "-- promtool: the PrometheusRule's rules are valid and its unit tests pass"
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing prometheus (for promtool) from Debian's packages (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "check-chart: promtool is missing; install it with: apt-get install prometheus" >&2
    exit 1
  fi
fi
[ -f "$out/rules.yaml" ] || { echo "the all-on rendering has no PrometheusRule" >&2; exit 1; }
promtool check rules "$out/rules.yaml"
cp "$CHART/ci/rules-test.yaml" "$out/rules-test.yaml"
promtool test rules "$out/rules-test.yaml"

echo "-- docs/operations.md's install example renders, and its own Secret has every key it refers to"
PYTHONPATH="$PWD/.tools/python" python3 - docs/operations.md "$out" <<'PY'
import re, sys
doc, out = open(sys.argv[1]).read(), sys.argv[2]
values = re.search(r"cat > fulfillment-values.yaml <<'EOF'\n(.*?)\nEOF\n", doc, re.S)
secret = re.search(r"create secret generic (\S+) \\\n(.*?)\n```", doc, re.S)
if not values or not secret:
    sys.exit("docs/operations.md: the values file or the Secret of the install example is gone")
open(f"{out}/docs-values.yaml", "w").write(values.group(1) + "\n")
keys = set(re.findall(r"--from-(?:literal|file)=([A-Za-z0-9._-]+)=", secret.group(2)))
open(f"{out}/docs-secret.txt", "w").write(secret.group(1) + "\n" + "\n".join(sorted(keys)) + "\n")
print(f"install example: Secret {secret.group(1)} with keys {', '.join(sorted(keys))}")
PY
"$HELM" template fulfillment "$CHART" --namespace fulfillment -f "$out/docs-values.yaml" >"$out/docs.yaml"
PYTHONPATH="$PWD/.tools/python" python3 - "$out/docs.yaml" "$out/docs-secret.txt" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
name, *keys = open(sys.argv[2]).read().split()
refs = []
def walk(node, where):
    if isinstance(node, dict):
        ref = node.get("secretKeyRef")
        if ref:
            refs.append((where, ref["name"], ref["key"], ref.get("optional", False)))
        secret = node.get("secret")
        if isinstance(secret, dict) and "secretName" in secret:
            for item in secret.get("items", []):
                refs.append((where, secret["secretName"], item["key"], secret.get("optional", False)))
        for v in node.values():
            walk(v, where)
    elif isinstance(node, list):
        for v in node:
            walk(v, where)
for d in docs:
    walk(d, f"{d['kind']}/{d['metadata']['name']}")
missing = [r for r in refs if not r[3] and (r[1] != name or r[2] not in keys)]
if not refs or missing:
    sys.exit("install example: references the Secret does not hold:\n  " +
             "\n  ".join(f"{w}: {n}/{k}" for w, n, k, _ in missing))
print(f"install example: {len(refs)} secret references, all in the Secret")
PY

echo "-- kubernetes-validate --strict (${KUBE_VERSIONS[*]})"
for rendered in default all-on; do
  if ! "$VALIDATE" --strict --quiet "${KUBE_VERSIONS[@]}" "$out/$rendered.k8s.yaml" >"$out/validate.txt" 2>&1; then
    cat "$out/validate.txt" >&2
    exit 1
  fi
  # A kind without a schema only warns; every kind left here must have one.
  if grep -q . "$out/validate.txt"; then
    cat "$out/validate.txt" >&2
    echo "kubernetes-validate could not check everything in the $rendered rendering" >&2
    exit 1
  fi
  echo "$rendered: valid"
done
echo "chart OK"
