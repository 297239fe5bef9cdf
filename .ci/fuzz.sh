#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with cargo-fuzz (issue 19.6, docs/security.md
# "Fuzzing"): the CSV upload, the Intelipost webhook body, the carriers' JSON/XML answers and
# tracking-number validation. The targets live in fuzz/ (a cargo project of its own).
#
#   bash .ci/fuzz.sh [SECONDS_PER_TARGET]     default 10; `bash .ci/fuzz.sh 600` for a long run
#
# Installs the pinned cargo-fuzz into .tools/cargo if it is missing, builds every target
# (release, with debug assertions and overflow checks, AddressSanitizer), runs each for the
# given seconds from its seeds (fuzz/seeds/<target>) plus the corpus kept from earlier runs
# (fuzz/corpus/<target>, ignored by git), and prints per target the executions libFuzzer
# reports and whether it crashed. Exits non-zero when a target crashed; the input that did it
# is in fuzz/artifacts/<target>/ and replays with `fuzz/target/<triple>/release/<target> FILE`.
#
# Only stable Rust is at hand: RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly flags.
# FUZZ_JOBS (default 1) caps the build's parallel jobs, so a fuzz build does not crowd out the
# rest of the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export RUSTC_BOOTSTRAP=1

seconds="${1:-10}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET]   (a positive whole number; default 10)" >&2
  exit 2
fi
# Pinned: what `cargo-fuzz --version` reports in a working .tools/cargo.
CARGO_FUZZ_VERSION=0.13.2
TARGETS=(csv_upload intelipost_push carrier_answers tracking_number)
cargo_fuzz=.tools/cargo/bin/cargo-fuzz

if [ "$("$cargo_fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo"
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root .tools/cargo
fi

echo "== cargo fuzz build -O -a"
CARGO_BUILD_JOBS="${FUZZ_JOBS:-1}" "$cargo_fuzz" build -O -a

triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="fuzz/target/$triple/release"
logs="fuzz/artifacts/logs"
mkdir -p "$logs"

crashed=0
summary=()
for target in "${TARGETS[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="$logs/$target.log"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzzing $target for ${seconds}s (log: $log)"
  status=0
  # -timeout: an input taking over 30 s is reported as a hang; -rss_limit_mb: as an OOM.
  "$bin_dir/$target" "$corpus" "fuzz/seeds/$target" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  artifact="$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)"
  if [ "$status" = 0 ]; then
    result="no crash"
  elif [[ "$artifact" == */timeout-* ]] &&
    "$bin_dir/$target" -timeout=10 -runs=3 "$artifact" >"$log.replay" 2>&1; then
    # A slow input on a busy machine (other builds, the symbolizer) is replayed alone: one that
    # then runs in time was a stall of the machine, not of the parser.
    result="no crash (one timeout under load; its input replays in time: $artifact)"
  else
    crashed=1
    result="CRASHED (exit $status${artifact:+, input $artifact})"
    grep -m1 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" | sed 's/^/    /' || true
  fi
  summary+=("$(printf '%-16s %12s  %s' "$target" "${executions:-?}" "$result")")
done

echo "== fuzz summary (${seconds}s per target)"
printf '%-16s %12s  %s\n' target executions result
printf '%s\n' "${summary[@]}"
if [ "$crashed" = 1 ]; then
  echo "fuzz: a target crashed; see its log and replay the input named above" >&2
  exit 1
fi
