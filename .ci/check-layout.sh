#!/usr/bin/env bash
# Issue 23: the layout docs/architecture.md describes.
#  1. The arrows: each crate may depend (normal dependencies) only on the crates listed below,
#     so no arrow points up and only the server and the load generator use fulfillment-proto.
#  2. No Rust file over 600 lines outside generated code and `schema.rs`. Functions over 80
#     lines are clippy's `too_many_lines` (on in the workspace lints, threshold in clippy.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import sys, tomllib
allowed = {
    "services/policy": set(),
    "services/proto": set(),
    "services/core": set(),
    "services/carriers": {"fulfillment-policy"},
    "services/fulfillment": {"fulfillment-core", "fulfillment-policy"},
    "services/tracking": {"fulfillment-core", "fulfillment-policy"},
    "services/dispatch": {"fulfillment-core", "fulfillment-policy", "fulfillment-orders",
                          "fulfillment-carriers"},
    "workers": {"fulfillment-core", "fulfillment-policy", "fulfillment-orders",
                "fulfillment-tracking", "fulfillment-carriers"},
    "services/server": {"fulfillment-core", "fulfillment-policy", "fulfillment-orders",
                        "fulfillment-tracking", "fulfillment-dispatch", "fulfillment-carriers",
                        "fulfillment-proto"},
    "services/bench": {"fulfillment-proto"},
}
members = tomllib.load(open("Cargo.toml", "rb"))["workspace"]["members"]
bad = []
for member in members:
    if member not in allowed:
        bad.append(f"{member}: a crate the layout does not know; add it to .ci/check-layout.sh")
        continue
    deps = tomllib.load(open(f"{member}/Cargo.toml", "rb")).get("dependencies", {})
    ours = {d for d in deps if d.startswith("fulfillment-")}
    for d in sorted(ours - allowed[member]):
        bad.append(f"{member} depends on {d}, against the arrows of docs/architecture.md")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
print(f"layout: the arrows of {len(members)} crates point one way")
PY
MAX=${MAX_FILE_LINES:-600}
over=$(git ls-files '*.rs' | grep -v -e '/schema\.rs$' -e '/generated/' |
  while read -r f; do n=$(wc -l <"$f"); [ "$n" -gt "$MAX" ] && echo "$n $f"; done || true)
if [ -z "$over" ]; then
  echo "layout: every Rust file within $MAX lines"
else
  echo "layout: files over $MAX lines (split them by what they do; a test file becomes a folder" >&2
  echo "        tests/<name>/main.rs with modules):" >&2
  echo "$over" | sort -rn >&2
  exit 1
fi
