#!/usr/bin/env bash
# Issue 23: no Rust file over 600 lines outside generated code and `schema.rs` (functions over 80
# lines are clippy's `too_many_lines`, configured in clippy.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${MAX_FILE_LINES:-600}
over=$(git ls-files '*.rs' | grep -v -e '/schema\.rs$' -e '/generated/' |
  while read -r f; do n=$(wc -l <"$f"); [ "$n" -gt "$MAX" ] && echo "$n $f"; done || true)
if [ -n "$over" ]; then
  echo "files over $MAX lines:" >&2
  echo "$over" | sort -rn >&2
  exit 1
fi
echo "layout: every Rust file within $MAX lines"
