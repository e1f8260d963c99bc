#!/usr/bin/env bash
# scripts/image.sh — `make image`: the filter as an OCI image for Istio and Envoy Gateway.
#
# Builds envoy/image/Dockerfile (FROM scratch, one COPY: the release build as
# /plugin.wasm — the "compat" Wasm image layout both Istio's and Envoy Gateway's
# fetchers accept) with the local Docker engine, tagged IMAGE, then checks what was
# built rather than trusting the Dockerfile: `docker save`, and the saved image must
# have exactly one layer, holding exactly one entry, a regular file `plugin.wasm`,
# whose SHA-256 is that of the release build.
#
# Without a usable Docker it prints "docker not available: skipping image build" and
# exits 0 — unless CI is set, where that is a failure.
#
# Environment: IMAGE (tag, default audience-guard:<Cargo.toml version>), WASM (default
# target/wasm32-wasip1/release/audience_guard.wasm), DOCKERFILE (default
# envoy/image/Dockerfile; another one is how the checks are tested), PUSH=1 (after the checks, `docker
# push` IMAGE — a registry name like ghcr.io/acme/audience-guard:0.1.0 — and print the
# manifest digest that goes into the manifests' `sha256`).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AG_ROOT"

say() { echo "image: $*"; }

version="$(awk -F'"' '/^version *=/ { print $2; exit }' Cargo.toml)"
IMAGE="${IMAGE:-audience-guard:${version:-0.0.0}}"
WASM="$(readlink -f "${WASM:-$AG_WASM_DEFAULT}")"
DOCKERFILE="${DOCKERFILE:-envoy/image/Dockerfile}"
ag_require_wasm "$WASM"

skip_or_fail() {
  if [[ -n "${CI:-}" ]]; then
    echo "docker not available: image cannot be built and CI is set: FAIL ($1)" >&2
    exit 1
  fi
  echo "docker not available: skipping image build ($1)"
  exit 0
}
command -v docker >/dev/null 2>&1 || skip_or_fail "no docker command"
docker info >/dev/null 2>&1 || skip_or_fail "docker daemon not reachable"

want_sha="$(sha256sum "$WASM" | cut -d' ' -f1)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ag-image.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# The build context holds the module and nothing else.
mkdir -p "$tmp/ctx"
cp "$WASM" "$tmp/ctx/audience_guard.wasm"
chmod 0644 "$tmp/ctx/audience_guard.wasm"
cp "$DOCKERFILE" "$tmp/ctx/Dockerfile"
say "building $IMAGE from $WASM (sha256 $want_sha)"
if ! docker build -q --build-arg "VERSION=$version" -t "$IMAGE" "$tmp/ctx" >"$tmp/build.log" 2>&1; then
  sed 's/^/    /' "$tmp/build.log" >&2
  ag_die "FAIL: docker build of $IMAGE failed"
fi

# ---------------------------------------------------------------- check the saved image
docker save -o "$tmp/image.tar" "$IMAGE"
mkdir -p "$tmp/saved"
tar -xf "$tmp/image.tar" -C "$tmp/saved"
# manifest.json (written by `docker save` in both its legacy and its OCI-layout form)
# lists the image's layers in order. Each is a tar, possibly compressed.
if ! python3 - "$tmp/saved" "$want_sha" >"$tmp/check.out" 2>&1 <<'PY'; then
import hashlib, json, os, sys, tarfile

root, want = sys.argv[1], sys.argv[2]
with open(os.path.join(root, "manifest.json")) as f:
    manifest = json.load(f)
problems = []
if len(manifest) != 1:
    problems.append(f"expected one image in the archive, found {len(manifest)}")
layers = manifest[0]["Layers"]
if len(layers) != 1:
    problems.append(f"expected exactly one layer, found {len(layers)}")
for layer in layers:
    with tarfile.open(os.path.join(root, layer), "r:*") as t:
        entries = t.getmembers()
        names = [e.name for e in entries]
        # Entries are stored relative to the image root; "./plugin.wasm" is the same file.
        norm = [n[2:] if n.startswith("./") else n for n in names]
        if norm != ["plugin.wasm"]:
            problems.append(f"layer {layer}: expected exactly [plugin.wasm], found {names}")
        for e in entries:
            if (e.name[2:] if e.name.startswith("./") else e.name) == "plugin.wasm":
                if not e.isreg():
                    problems.append(f"layer {layer}: plugin.wasm is not a regular file")
                    continue
                got = hashlib.sha256(t.extractfile(e).read()).hexdigest()
                if got != want:
                    problems.append(f"plugin.wasm sha256 {got} != release build {want}")
                else:
                    print(f"layer {layer}: plugin.wasm, {e.size} bytes, mode {e.mode & 0o7777:o}, sha256 {got}")
with open(os.path.join(root, manifest[0]["Config"])) as f:
    config = json.load(f)
print(f"config: os={config.get('os')} architecture={config.get('architecture')} "
      f"labels={sorted((config.get('config') or {}).get('Labels') or {})}")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
  sed 's/^/    /' "$tmp/check.out"
  say "FAIL: $IMAGE is not a single-layer image holding exactly plugin.wasm of the release build"
  exit 1
fi
sed 's/^/    /' "$tmp/check.out"
image_id="$(docker image inspect -f '{{ .Id }}' "$IMAGE")"
say "PASS: $IMAGE ($image_id): one layer, exactly plugin.wasm, sha256 $want_sha"

if [[ "${PUSH:-}" == 1 ]]; then
  say "pushing $IMAGE"
  docker push "$IMAGE"
  # The registry's manifest digest: what Istio's `sha256` (and Envoy Gateway's
  # `image.sha256`) is compared against for an oci:// / Image source.
  digest="$(docker image inspect -f '{{ range .RepoDigests }}{{ println . }}{{ end }}' "$IMAGE" | awk -F@ -v repo="${IMAGE%:*}" '$1 == repo { print $2; exit }')"
  [[ -n "$digest" ]] || ag_die "pushed, but no repo digest for $IMAGE was recorded"
  say "pushed: ${IMAGE%:*}@$digest"
  say "manifests: sha256: ${digest#sha256:}"
else
  cat <<EOT
image: next: docker tag $IMAGE REGISTRY/audience-guard:$version && docker push REGISTRY/audience-guard:$version
image:       (or PUSH=1 IMAGE=REGISTRY/audience-guard:$version scripts/image.sh), then put the pushed
image:       manifest digest (hex, without "sha256:") into the manifests' sha256 — docs/deploy.md.
EOT
fi
