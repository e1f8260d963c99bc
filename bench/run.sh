#!/usr/bin/env bash
# bench/run.sh — `make bench`: audience-guard side by side with Envoy's jwt_authn.
#
#   ENVOY=.venv/bin/envoy WASM=target/wasm32-wasip1/release/audience_guard.wasm bench/run.sh
#   DURATION=2 RUNS=1 bench/run.sh          # a quick look (numbers not worth quoting)
#
# Installs the load generator if missing (wrk from apt; else oha from crates.io), then
# runs bench/bench.py with the project's virtualenv Python (cryptography). The protocol,
# the listeners and every knob are described in bench/README.md and bench/bench.py.
# The table is printed at the end and written to bench/results.md (OUT=... elsewhere).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

die() {
  echo "bench/run.sh: $*" >&2
  exit 1
}

ENVOY="${ENVOY:-$ROOT/.venv/bin/envoy}"
WASM="${WASM:-$ROOT/target/wasm32-wasip1/release/audience_guard.wasm}"
[[ -x "$ENVOY" ]] || die "no Envoy at $ENVOY ('make venv' installs one)"
[[ -f "$WASM" ]] || die "no module at $WASM ('make build')"
if [[ -z "${PYTHON:-}" ]]; then
  PYTHON="$(dirname "$ENVOY")/python"
  [[ -x "$PYTHON" ]] || PYTHON="$ROOT/.venv/bin/python"
fi
[[ -x "$PYTHON" ]] || die "no Python at $PYTHON ('make venv')"
"$PYTHON" -c 'import cryptography' 2>/dev/null || die "$PYTHON lacks the 'cryptography' package ('make venv')"
command -v taskset >/dev/null || die "taskset (util-linux) is required"

# ---------------------------------------------------------------- load generator
as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

LOADGEN=""
if command -v wrk >/dev/null; then
  LOADGEN=wrk
elif command -v apt-get >/dev/null; then
  echo "bench/run.sh: wrk not found; installing it with apt-get" >&2
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; then
    as_root apt-get update -q >/dev/null 2>&1 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || true
  fi
  command -v wrk >/dev/null && LOADGEN=wrk
fi
# wrk only: the mixes need a different token on every request, which wrk's Lua hook
# (bench/rotate.lua) gives; oha sends fixed headers, so it could time only `hot`.
[[ "$LOADGEN" == wrk ]] || die "wrk is required and could not be installed (apt-get install wrk); oha cannot rotate a token per request"
echo "bench/run.sh: load generator: $(wrk --version 2>&1 | head -1 | cut -c1-60)"

# ---------------------------------------------------------------- run
# bench.py kills its Envoys and wrk on exit (and they die with it: PR_SET_PDEATHSIG);
# the trap covers Ctrl-C / TERM of this script while bench.py runs.
child=""
# shellcheck disable=SC2317  # invoked by the traps below
cleanup() {
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$child" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$child" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---------------------------------------------------------------- wasm-floor module
# The `wasm-floor` listener's no-op filter (bench/floor), unless FLOOR_WASM names one.
if [[ -z "${FLOOR_WASM:-}" ]]; then
  echo "bench/run.sh: building the wasm-floor module (bench/floor)"
  cargo build -q --release --target wasm32-wasip1 --manifest-path "$HERE/floor/Cargo.toml" \
    --target-dir "$HERE/floor/target"
  FLOOR_WASM="$HERE/floor/target/wasm32-wasip1/release/ag_bench_floor.wasm"
  # shrunk like the filter's module (make build), so the two differ only in what they do
  "$ROOT/scripts/optimize-wasm.sh" "$FLOOR_WASM"
fi

export ENVOY WASM FLOOR_WASM
"$PYTHON" "$HERE/bench.py" &
child=$!
rc=0
wait "$child" || rc=$?
child=""
exit "$rc"
