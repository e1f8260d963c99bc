#!/usr/bin/env bash
# scripts/dist.sh — `make dist`: the release artefacts in dist/.
#
#   dist/audience_guard.wasm          a copy of the release build (make build)
#   dist/audience_guard.wasm.sha256   its SHA-256 in `sha256sum` format, so
#                                     `cd dist && sha256sum -c audience_guard.wasm.sha256` checks it
#
# The hex digest is what a manifest's `sha256` takes when the module is fetched over
# http(s) (Istio WasmPlugin/TrafficExtension `url: https://...`, Envoy Gateway
# `code.type: HTTP`). For an OCI image (`oci://...`, `code.type: Image`) the `sha256` is
# the image's manifest digest instead, known once the image is pushed — see
# scripts/image.sh and docs/deploy.md.
#
# Environment: WASM (default target/wasm32-wasip1/release/audience_guard.wasm),
# DIST (default dist/ in the checkout).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WASM="${WASM:-$AG_WASM_DEFAULT}"
DIST="${DIST:-$AG_ROOT/dist}"
ag_require_wasm "$WASM"
# A module starts with "\0asm"; anything else is not what Envoy can load.
[[ "$(head -c 4 "$WASM" | od -An -tx1 | tr -d ' \n')" == "0061736d" ]] || ag_die "$WASM is not a WebAssembly module"

mkdir -p "$DIST"
tmp="$(mktemp "$DIST/.audience_guard.wasm.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cp "$WASM" "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$DIST/audience_guard.wasm"
(cd "$DIST" && sha256sum audience_guard.wasm >audience_guard.wasm.sha256)
(cd "$DIST" && sha256sum -c --quiet audience_guard.wasm.sha256) || ag_die "checksum of $DIST/audience_guard.wasm does not verify"

sha="$(cut -d' ' -f1 "$DIST/audience_guard.wasm.sha256")"
size="$(wc -c <"$DIST/audience_guard.wasm" | tr -d ' ')"
echo "dist: $DIST/audience_guard.wasm ($size bytes)"
echo "dist: sha256 $sha ($DIST/audience_guard.wasm.sha256)"
