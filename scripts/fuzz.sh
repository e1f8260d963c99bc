#!/usr/bin/env bash
# scripts/fuzz.sh — `make fuzz`: every cargo-fuzz target of fuzz/ for a bounded time.
#
#   scripts/fuzz.sh                          # each target FUZZ_SECONDS (default 60)
#   FUZZ_SECONDS=30 FUZZ_TARGETS="token_verify" scripts/fuzz.sh
#
# Targets (fuzz/fuzz_targets/, oracles in fuzz/src/lib.rs):
#   decide_request  `decide` on arbitrary method/path/headers/token against the seed policy
#   token_verify    arbitrary bearer tokens, and arbitrary header/payload JSON signed HS256
#   config_parse    arbitrary plugin configuration JSON → Policy::from_json (+ a few decisions)
#
# Installs what it needs: the nightly toolchain (rustup) and cargo-fuzz (crates.io) when
# missing. The working corpus is fuzz/corpus/<target> (git-ignored), seeded from the
# committed fuzz/seeds/<target>; crashes land in fuzz/artifacts/<target>/. Prints the
# executions per target; exits non-zero if any target crashed (with the command that
# replays the input), so every crash can become a regression test in tests/.
#
# Environment: FUZZ_SECONDS (per target, default 60), FUZZ_TARGETS (space-separated,
# default all three), FUZZ_SANITIZER (none|address, default none: the crate has no
# unsafe code, and without ASan libFuzzer runs ~2x more inputs; overflow checks and
# debug assertions stay on), FUZZ_TOOLCHAIN (default nightly), FUZZ_TOLERATE (known,
# reported filter bugs the oracles overlook so a run can find others, e.g.
# "tab-before-bearer"; default none — see fuzz/src/lib.rs `tolerated`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-decide_request token_verify config_parse}"
SANITIZER="${FUZZ_SANITIZER:-none}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"

die() {
  echo "scripts/fuzz.sh: $*" >&2
  exit 1
}

[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ && "$SECONDS_PER_TARGET" -gt 0 ]] || die "FUZZ_SECONDS must be a positive integer"
command -v rustup >/dev/null || die "rustup is required (https://rustup.rs)"
if ! rustup toolchain list | grep -q "^${TOOLCHAIN}"; then
  echo "scripts/fuzz.sh: installing the $TOOLCHAIN toolchain (cargo fuzz needs it)" >&2
  rustup toolchain install "$TOOLCHAIN" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "scripts/fuzz.sh: installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --locked
fi

declare -A LIMITS=([decide_request]=16384 [token_verify]=16384 [config_parse]=32768)
declare -A DICTS=([decide_request]=fuzz/dicts/token.dict [token_verify]=fuzz/dicts/token.dict [config_parse]=fuzz/dicts/config.dict)

echo "scripts/fuzz.sh: building the targets (cargo +$TOOLCHAIN fuzz build, sanitizer $SANITIZER)"
LOGDIR="fuzz/logs"
mkdir -p "$LOGDIR"
if ! cargo "+$TOOLCHAIN" fuzz build --sanitizer "$SANITIZER" >"$LOGDIR/build.log" 2>&1; then
  tail -40 "$LOGDIR/build.log" >&2
  die "build failed (log: $LOGDIR/build.log)"
fi
declare -A EXECS STATUS
failed=0
for target in $TARGETS; do
  [[ -f "fuzz/fuzz_targets/$target.rs" ]] || die "unknown target $target"
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  log="$LOGDIR/$target.log"
  echo "scripts/fuzz.sh: $target for ${SECONDS_PER_TARGET}s (log: $log)"
  rc=0
  # The committed seeds are a second, read-only corpus directory: libFuzzer reads both
  # and writes new inputs only into the first.
  cargo "+$TOOLCHAIN" fuzz run --sanitizer "$SANITIZER" "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="${LIMITS[$target]}" \
    -dict="${DICTS[$target]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -1)
  if [[ -z "$runs" ]]; then
    # Stopped early (a crash): the last status line `#N ...` has the count so far.
    runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  fi
  EXECS[$target]="${runs:-0}"
  if [[ $rc -ne 0 ]]; then
    STATUS[$target]="CRASH"
    failed=1
    echo "---- $target failed (exit $rc); the end of its log:" >&2
    tail -40 "$log" >&2
    artifact=$(grep -oE 'fuzz/artifacts/[^ ]+' "$log" | tail -1 || true)
    if [[ -n "$artifact" ]]; then
      echo "---- replay: cargo +$TOOLCHAIN fuzz run --sanitizer $SANITIZER $target $artifact" >&2
    fi
  else
    STATUS[$target]="ok"
  fi
done

echo
printf '%-16s %-6s %14s %10s\n' target result executions exec/s
for target in $TARGETS; do
  printf '%-16s %-6s %14s %10s\n' "$target" "${STATUS[$target]}" "${EXECS[$target]}" \
    "$(( ${EXECS[$target]} / SECONDS_PER_TARGET ))"
done
if [[ $failed -ne 0 ]]; then
  echo "scripts/fuzz.sh: a target crashed — turn the input into a test in tests/fuzz_regressions.rs" >&2
  exit 1
fi
