#!/usr/bin/env bash
# scripts/validate-envoy-configs.sh ENVOY — `make validate`: `envoy --mode validate` on
# every Envoy bootstrap config shipped under envoy/ (docker-compose files, Kubernetes /
# Istio manifests and anything else that is not an Envoy bootstrap are skipped, and named).
#
# Validate mode does load the wasm module and runs the plugin's on_configure with the
# configuration string, so this checks the plugin JSON too — and it needs the built
# module: WASM (default target/wasm32-wasip1/release/audience_guard.wasm). The shipped
# configs name /etc/envoy/audience_guard.wasm (the docker compose mount); each is
# validated from a copy pointing at WASM instead.
#
# Also, when docker-compose (or the docker compose plugin) is installed, checks that
# every envoy/**/docker-compose*.yaml parses (`config -q`; no daemon needed).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENVOY="${1:-${ENVOY:-$AG_ROOT/.venv/bin/envoy}}"
WASM="$(readlink -f "${WASM:-$AG_WASM_DEFAULT}")"
[[ -x "$ENVOY" ]] || ag_die "usage: $0 ENVOY (no executable Envoy at '$ENVOY'; 'make venv' installs one)"
ag_require_wasm "$WASM"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ag-validate.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

is_bootstrap() { # top-level key that only an Envoy bootstrap has
  grep -Eq '^(static_resources|dynamic_resources|admin|node|layered_runtime|overload_manager|stats_sinks):' "$1"
}

ok=0
failed=0
skipped=()
compose_files=()
while IFS= read -r -d '' cfg; do
  rel="${cfg#"$AG_ROOT"/}"
  case "$(basename "$cfg")" in
    docker-compose*.y*ml | compose*.y*ml)
      compose_files+=("$cfg")
      continue
      ;;
  esac
  if ! is_bootstrap "$cfg"; then
    skipped+=("$rel")
    continue
  fi
  rendered="$tmp/$(echo "$rel" | tr '/' '_')"
  ag_render_config "$cfg" "$rendered" "$WASM"
  if "$ENVOY" --mode validate -c "$rendered" --log-level warn >"$tmp/out" 2>&1; then
    echo "ok      $rel"
    ok=$((ok + 1))
  else
    echo "FAILED  $rel"
    sed 's/^/        /' "$tmp/out" | tail -n 20
    failed=$((failed + 1))
  fi
done < <(find "$AG_ROOT/envoy" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 | sort -z)

if ((${#skipped[@]})); then
  echo "skipped (not an Envoy bootstrap): ${skipped[*]}"
fi

if ((${#compose_files[@]})); then
  compose=()
  if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
  elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
  fi
  for f in "${compose_files[@]}"; do
    rel="${f#"$AG_ROOT"/}"
    if ((${#compose[@]} == 0)); then
      echo "skipped $rel (no docker-compose to parse it)"
    elif AUDIENCE_GUARD_WASM="$WASM" "${compose[@]}" -f "$f" config -q >"$tmp/out" 2>&1; then
      echo "ok      $rel (compose file parses)"
    else
      echo "FAILED  $rel"
      sed 's/^/        /' "$tmp/out"
      failed=$((failed + 1))
    fi
  done
fi

if ((ok == 0 && failed == 0)); then
  ag_die "no Envoy bootstrap config found under envoy/"
fi
echo "validate: $ok Envoy config(s) valid, $failed failed"
((failed == 0))
