#!/usr/bin/env bash
# scripts/validate-manifests.sh [ENVOY] — the Kubernetes manifests under envoy/istio/ and
# envoy/gateway/, checked offline (no cluster): each object against its CRD's
# openAPIV3Schema from envoy/crds/ (strict: unknown fields are errors), HTTPRoute and
# EnvoyPatchPolicy (no CRD shipped) for shape, the Envoy cluster an EnvoyPatchPolicy adds
# with `envoy --mode validate`, and the IdP clusters the plugin configurations name
# against the ServiceEntry/DestinationRule/EnvoyPatchPolicy that create them. Details:
# scripts/validate_manifests.py. The plugin configurations inside are checked by
# scripts/check-embedded-configs.sh.
#
# Needs Python with PyYAML and jsonschema: PYTHON (default .venv/bin/python, from `make
# venv`, whose tests/envoy/requirements.txt lists both). ENVOY (first argument or
# environment, default .venv/bin/envoy): when missing, the cluster check is skipped and
# said so.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AG_ROOT"

PYTHON="${PYTHON:-$AG_ROOT/.venv/bin/python}"
ENVOY="${1:-${ENVOY:-$AG_ROOT/.venv/bin/envoy}}"
[[ -x "$PYTHON" ]] || ag_die "no Python at $PYTHON ('make venv')"
"$PYTHON" -c 'import yaml, jsonschema' 2>/dev/null ||
  ag_die "$PYTHON lacks PyYAML or jsonschema ('make venv' installs tests/envoy/requirements.txt)"
[[ -x "$ENVOY" ]] || ENVOY=""
exec "$PYTHON" scripts/validate_manifests.py "$ENVOY"
