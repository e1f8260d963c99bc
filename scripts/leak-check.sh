#!/usr/bin/env bash
# scripts/leak-check.sh — after a soak run: no secret in Envoy's log or in the answers.
#
#   scripts/leak-check.sh [RUN_DIR]        # default .run/soak/latest (scripts/soak.py writes it)
#
# RUN_DIR holds what scripts/soak.py wrote:
#   envoy.log                      Envoy's whole output (info level, access log included)
#   responses-allowed-*.txt        full sampled answers that carried an identity (200)
#   responses-denied-*.txt         full sampled answers without one (denials, anonymous,
#                                  dry-run, Envoy's own 400s)
#   secrets/tokens.txt             every token sent, and its payload and signature segments
#   secrets/keys.txt               key material: the demo JWKS n/x/y values, every PEM body
#                                  line of envoy/demo/keys (public and private)
#   secrets/claims.txt             the `sub` values the tokens carried
#
# Tokens and key material must appear nowhere (log, any answer). `sub` values must not
# appear in the log or in answers without identity; answers that carried one may show
# the forwarded x-jwt-sub (the demo APIs echo what they received — that is the feature).
# A hit is reported by file, line number and kind, with the secret cut to 12 characters.
# Exit 0: clean; 1: a leak; 2: nothing to check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$ROOT/.run/soak/latest}"
[[ -d "$DIR/secrets" && -f "$DIR/envoy.log" ]] || {
  echo "leak-check: $DIR has no soak run (envoy.log, secrets/) — run 'make soak' first" >&2
  exit 2
}

shopt -s nullglob
allowed=("$DIR"/responses-allowed-*.txt)
denied=("$DIR"/responses-denied-*.txt)
leaks=0
checked=0

# check KIND PATTERN-FILE FILE...: grep -F for every pattern; report hits, redacted.
check() {
  local kind=$1 patterns=$2
  shift 2
  [[ -s "$patterns" ]] || return 0
  local n
  n=$(wc -l <"$patterns")
  for file in "$@"; do
    checked=$((checked + 1))
    local hits
    hits=$(LC_ALL=C grep -n -o -F -f "$patterns" "$file" | head -20 || true)
    if [[ -n "$hits" ]]; then
      leaks=$((leaks + $(wc -l <<<"$hits")))
      while IFS= read -r hit; do
        local line=${hit%%:*} secret=${hit#*:}
        echo "LEAK: $kind in $(basename "$file"):$line: ${secret:0:12}…" >&2
      done <<<"$hits"
    fi
  done
  echo "leak-check: $kind ($n patterns): $(($#)) files checked"
}

check "token/segment" "$DIR/secrets/tokens.txt" "$DIR/envoy.log" "${allowed[@]}" "${denied[@]}" >/dev/null
check "key material" "$DIR/secrets/keys.txt" "$DIR/envoy.log" "${allowed[@]}" "${denied[@]}" >/dev/null
check "claim value (sub)" "$DIR/secrets/claims.txt" "$DIR/envoy.log" "${denied[@]}" >/dev/null

log_lines=$(wc -l <"$DIR/envoy.log")
samples=$(cat "${allowed[@]}" "${denied[@]}" /dev/null | grep -c '^=== ' || true)
patterns=$(cat "$DIR"/secrets/*.txt | wc -l)
if [[ $leaks -gt 0 ]]; then
  echo "leak-check: $leaks leaks found ($patterns secrets; Envoy log $log_lines lines; $samples sampled answers)"
  exit 1
fi
echo "leak-check: clean — $patterns secrets (tokens and segments, key material, sub values) in none of Envoy's log ($log_lines lines) and $samples sampled answers"
