#!/usr/bin/env bash
# scripts/run.sh — `make run`: the seed scenario (envoy/envoy.yaml) on a real Envoy.
#
# Prints ready-to-paste curl commands with freshly minted DEMO tokens (valid for one
# day), writes the same commands with their expected statuses to .run/requests.sh, then
# runs Envoy in the foreground (Ctrl-C stops it).
#
#   gateway  http://127.0.0.1:10000   (listens on 0.0.0.0:10000)
#   admin    http://127.0.0.1:9901    (stats: /stats?filter=audience_guard)
#
# Environment: ENVOY (default .venv/bin/envoy), PYTHON (default .venv/bin/python),
# WASM (default target/wasm32-wasip1/release/audience_guard.wasm), ENVOY_ARGS (extra
# Envoy flags, e.g. "--log-level debug" or "--component-log-level wasm:debug").
#
# The module path: envoy/envoy.yaml names /etc/envoy/audience_guard.wasm (where docker
# compose mounts it); this script renders .run/envoy.yaml with the built module's
# absolute path instead and starts Envoy on that copy.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AG_ROOT"

ENVOY="${ENVOY:-$AG_ROOT/.venv/bin/envoy}"
PYTHON="${PYTHON:-$AG_ROOT/.venv/bin/python}"
WASM="$(readlink -f "${WASM:-$AG_WASM_DEFAULT}")"
GATEWAY="http://127.0.0.1:10000"
ADMIN="http://127.0.0.1:9901"

[[ -x "$ENVOY" ]] || ag_die "no Envoy at $ENVOY ('make venv' installs one)"
[[ -x "$PYTHON" ]] || ag_die "no Python at $PYTHON ('make venv')"
ag_require_wasm "$WASM"

mkdir -p .run
ag_render_config envoy/envoy.yaml .run/envoy.yaml "$WASM"

# mint ARGS...: a DEMO token valid for a day (the issuer's max_lifetime_seconds), so the
# printed commands keep working while someone plays with them.
mint() { "$PYTHON" envoy/demo/mint_token.py --ttl 86400 "$@"; }

portal_read=$(mint --client customer-portal --aud orders-api --scope "orders:read" --sub customer-42)
portal_rw=$(mint --client customer-portal --aud orders-api --scope "orders:read orders:write" --sub customer-42)
backoffice_orders=$(mint --client backoffice --aud orders-api --scope "orders:read orders:write" --sub clerk-7 --alg ES256)
backoffice_multi=$(mint --client backoffice --aud orders-api,hr-api --scope "orders:read hr:read" --sub clerk-7 --alg ES256)
backoffice_multi_no_azp=$(mint --client backoffice --aud orders-api,hr-api --scope "orders:read hr:read" --sub clerk-7 --alg ES256 --no-azp)
expired=$(mint --client customer-portal --aud orders-api --scope "orders:read" --sub customer-42 --expired)

# Each demo: expected status, short label, what it shows, the arguments of `curl -sSi`.
demos=(
  200 "GET /orders/42, customer-portal, orders:read"
  "customer portal reads an order: 200; the x-seen-* response headers and the JSON body are what the API received"
  "$GATEWAY/orders/42 -H 'Authorization: Bearer $portal_read'"

  401 "GET /orders/42, no token"
  "no token: 401, WWW-Authenticate: Bearer realm=\"orders\""
  "$GATEWAY/orders/42"

  403 "POST /orders, customer-portal, orders:read+orders:write"
  "customer-portal token carrying orders:read AND orders:write tries to write; the client may only use orders:read at orders-api: 403 error=\"insufficient_scope\", scope=\"orders:write\""
  "-X POST $GATEWAY/orders -H 'Authorization: Bearer $portal_rw'"

  200 "POST /orders, backoffice (ES256), orders:read+orders:write"
  "back-office app writes an order: 200, x-seen-scopes: orders:read orders:write"
  "-X POST $GATEWAY/orders -H 'Authorization: Bearer $backoffice_orders'"

  200 "GET /hr/employees/7, backoffice, aud [orders-api, hr-api] with azp"
  "back-office token for [orders-api, hr-api] (with azp) at /hr: matched audience hr-api; the hr rule is dry_run and the token has no hr-staff group, so the deny (claim_mismatch) is only logged and counted in requests_dry_run_denied: 200"
  "$GATEWAY/hr/employees/7 -H 'Authorization: Bearer $backoffice_multi'"

  200 "GET /orders/42, backoffice, aud [orders-api, hr-api] with azp"
  "the same token at /orders, an enforcing rule: 200, x-seen-audience: orders-api"
  "$GATEWAY/orders/42 -H 'Authorization: Bearer $backoffice_multi'"

  401 "GET /orders/42, same token without azp"
  "the same token without azp (the client is named by client_id only): several audiences require azp (OIDC Core 3.1.3.7): 401 error=\"invalid_token\" (at /hr, being dry_run, this too would only be logged)"
  "$GATEWAY/orders/42 -H 'Authorization: Bearer $backoffice_multi_no_azp'"

  401 "GET /orders/42, expired token"
  "an expired token: 401 error=\"invalid_token\""
  "$GATEWAY/orders/42 -H 'Authorization: Bearer $expired'"

  200 "GET /healthz, no token"
  "/healthz is anonymous: 200 without a token"
  "$GATEWAY/healthz"
)

{
  cat <<'HEAD'
#!/usr/bin/env bash
# Written by scripts/run.sh: the demo requests of `make run`, each with the status it
# should get. Run it from another terminal while Envoy runs.
passed=0 failed=0
check() { # check WANT LABEL CURL_ARGS...
  local want=$1 label=$2 got
  shift 2
  got=$("$@" -s -o /dev/null -w "%{http_code}")
  if [[ "$got" == "$want" ]]; then
    echo "ok    $got  $label"
    passed=$((passed + 1))
  else
    echo "FAIL  $got  $label (expected $want)"
    failed=$((failed + 1))
  fi
}
HEAD
  echo "# DEMO tokens, minted $(date -u '+%Y-%m-%d %H:%M UTC'), valid for one day."
  for ((i = 0; i < ${#demos[@]}; i += 4)); do
    echo "# ${demos[i + 2]}"
    echo "check ${demos[i]} '${demos[i + 1]}' curl ${demos[i + 3]}"
  done
  cat <<'TAIL'
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
TAIL
} >.run/requests.sh
chmod +x .run/requests.sh

cat <<EOF

audience-guard seed scenario (envoy/envoy.yaml, rendered to .run/envoy.yaml)
  gateway  $GATEWAY      Order Status API under /orders, HR API under /hr
  admin    $ADMIN       counters: curl -s '$ADMIN/stats?filter=audience_guard'
  module   $WASM

Try these (DEMO tokens, valid for one day; mint more with 'make token' or
envoy/demo/mint_token.py --help):

EOF
for ((i = 0; i < ${#demos[@]}; i += 4)); do
  printf '# expect %s — %s\ncurl -sSi %s\n\n' "${demos[i]}" "${demos[i + 2]}" "${demos[i + 3]}"
done
cat <<EOF
# all of the above with their expected statuses, from another terminal:
.run/requests.sh

Starting Envoy (Ctrl-C to stop) ...
EOF

# --disable-hot-restart: no shared-memory/domain-socket base id, so this Envoy does not
# collide with another one on the machine (e.g. the Envoy tests).
# shellcheck disable=SC2086
exec "$ENVOY" -c .run/envoy.yaml --disable-hot-restart --log-level info ${ENVOY_ARGS:-}
