#!/usr/bin/env bash
# scripts/soak.sh — `make soak`: SOAK_SECONDS (default 60) of mixed valid and hostile
# traffic at full speed against the seed scenario on a real Envoy (--concurrency 2,
# loopback only), then checks statuses per request class, 5xx, VM failures, the filter's
# counters, RSS growth and leaks (scripts/leak-check.sh). Exits non-zero on any violation.
#
#   ENVOY=.venv/bin/envoy WASM=target/wasm32-wasip1/release/audience_guard.wasm scripts/soak.sh
#   SOAK_SECONDS=20 scripts/soak.sh
#
# Installs wrk with apt-get when missing. The work is done by scripts/soak.py (every knob
# is described there) with scripts/soak.lua as wrk's request/response hook; the run's
# files (rendered Envoy config, request pool, Envoy log, sampled answers, wrk output)
# stay in .run/soak/<time>/ (.run/soak/latest).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AG_ROOT"

ENVOY="${ENVOY:-$AG_ROOT/.venv/bin/envoy}"
PYTHON="${PYTHON:-$AG_ROOT/.venv/bin/python}"
WASM="$(readlink -f "${WASM:-$AG_WASM_DEFAULT}")"
[[ -x "$ENVOY" ]] || ag_die "no Envoy at $ENVOY ('make venv' installs one)"
[[ -x "$PYTHON" ]] || ag_die "no Python at $PYTHON ('make venv')"
ag_require_wasm "$WASM"
"$PYTHON" -c 'import cryptography, yaml' 2>/dev/null || ag_die "$PYTHON lacks cryptography/pyyaml ('make venv')"

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}
if ! command -v wrk >/dev/null; then
  command -v apt-get >/dev/null || ag_die "wrk is required (and apt-get is not available to install it)"
  echo "scripts/soak.sh: wrk not found; installing it with apt-get" >&2
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; then
    as_root apt-get update -q >/dev/null 2>&1 || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || true
  fi
  command -v wrk >/dev/null || ag_die "could not install wrk (apt-get install wrk)"
fi

ENVOY="$(ag_envoy_elf "$ENVOY")" WASM="$WASM" exec "$PYTHON" "$AG_ROOT/scripts/soak.py"
