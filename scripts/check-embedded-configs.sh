#!/usr/bin/env bash
# scripts/check-embedded-configs.sh — every audience-guard plugin configuration shipped in
# the repository passes `audience-guard check-config`, the same parser the filter's
# on_configure uses:
#   * Envoy configs under envoy/: the wasm filter's StringValue `value`;
#   * Kubernetes manifests under envoy/: WasmPlugin / TrafficExtension `pluginConfig`,
#     EnvoyExtensionPolicy `wasm[].config`;
#   * README.md and docs/**/*.md: ```json code blocks that contain "issuers" (none is fine).
# Objects with the same metadata.name (one deployment written as WasmPlugin,
# TrafficExtension and EnvoyExtensionPolicy) must also carry identical configurations.
# Extraction: scripts/embedded_configs.py.
#
# Environment: AUDIENCE_GUARD (the CLI binary; default: `cargo build --bin audience-guard`
# and target/debug/audience-guard), PYTHON (default .venv/bin/python; needs PyYAML).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AG_ROOT"

PYTHON="${PYTHON:-$AG_ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || ag_die "no Python at $PYTHON ('make venv')"
"$PYTHON" -c 'import yaml' 2>/dev/null || ag_die "$PYTHON lacks PyYAML ('make venv')"
if [[ -z "${AUDIENCE_GUARD:-}" ]]; then
  cargo build --quiet --bin audience-guard
  AUDIENCE_GUARD="$AG_ROOT/target/debug/audience-guard"
fi
[[ -x "$AUDIENCE_GUARD" ]] || ag_die "no audience-guard binary at $AUDIENCE_GUARD"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ag-configs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

list_rc=0
"$PYTHON" scripts/embedded_configs.py "$tmp/configs" >"$tmp/list" || list_rc=$?

ok=0
failed=0
while IFS=$'\t' read -r file label; do
  case "$file" in
    SAME) echo "same    $label"; continue ;;
    MISMATCH) echo "FAILED  $label"; failed=$((failed + 1)); continue ;;
  esac
  if "$AUDIENCE_GUARD" check-config "$file" >"$tmp/out" 2>&1; then
    echo "ok      $label"
    ok=$((ok + 1))
  else
    echo "FAILED  $label"
    sed 's/^/        /' "$tmp/out"
    failed=$((failed + 1))
  fi
done <"$tmp/list"

if ((list_rc != 0 && failed == 0)); then
  ag_die "extracting the configurations failed (scripts/embedded_configs.py exit $list_rc)"
fi
((ok + failed > 0)) || ag_die "no plugin configuration found (expected at least envoy/envoy.yaml's)"
echo "check-embedded-configs: $ok passed, $failed failed"
((failed == 0))
