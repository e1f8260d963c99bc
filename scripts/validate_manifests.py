"""Offline validation of the Kubernetes manifests under envoy/istio/ and envoy/gateway/.

Run by scripts/validate-manifests.sh (which picks the Python and the Envoy); see there.

Every YAML document of every *.yaml / *.yml file there is checked:
  * kinds with a CRD in envoy/crds/: against the served CRD version's openAPIV3Schema with
    `jsonschema`, made as strict as the API server's field validation: an object schema
    that lists `properties` and neither `additionalProperties` nor
    `x-kubernetes-preserve-unknown-fields` rejects unknown fields (a typo in a field name
    fails here instead of being dropped by the cluster); `nullable` is honoured. The CEL
    rules (`x-kubernetes-validations`) are not evaluated by jsonschema; the few that
    concern these manifests are checked by hand below (`cel_like_checks`);
  * HTTPRoute and EnvoyPatchPolicy (no CRD shipped): shape checks written here, and the
    Envoy cluster an EnvoyPatchPolicy adds goes through `envoy --mode validate`;
  * any other kind: an error (ship its CRD in envoy/crds/ first).
Then cross-checks: every `outbound|PORT||HOST` cluster a plugin configuration names in
envoy/istio/ has a ServiceEntry for HOST:PORT and a DestinationRule originating TLS for
HOST; every cluster named in envoy/gateway/ is added by an EnvoyPatchPolicy there.
"""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

from embedded_configs import manifest_configs  # same folder: one copy of the extraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRD_DIR = os.path.join(ROOT, "envoy", "crds")
SHARED_CRD_DIR = os.path.normpath(os.path.join(ROOT, "..", "shared", "crds"))
MANIFEST_DIRS = [os.path.join(ROOT, "envoy", "istio"), os.path.join(ROOT, "envoy", "gateway")]
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
ISTIO_CLUSTER = re.compile(r"^outbound\|(\d+)\|([^|]*)\|(.+)$")

errors = []
notes = []


def rel(path):
    return os.path.relpath(path, ROOT)


def fail(where, message):
    errors.append(f"{where}: {message}")


# ------------------------------------------------------------------ CRD schemas
def strict(schema):
    """A copy of an OpenAPI v3 (structural) schema that JSON Schema validates like the API
    server with strict field validation: closed objects, `nullable` honoured."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: strict(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = strict(value) if isinstance(value, (dict, list)) else value
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def load_crds():
    crds = {}  # (group, version, kind) -> validator
    files = sorted(f for f in os.listdir(CRD_DIR) if f.endswith((".yaml", ".yml")))
    for name in files:
        with open(os.path.join(CRD_DIR, name)) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    if not version.get("served"):
                        continue
                    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                    props = schema.setdefault("properties", {})
                    # The API server supplies these for every object; CRDs may omit them.
                    props.setdefault("apiVersion", {"type": "string"})
                    props.setdefault("kind", {"type": "string"})
                    props.setdefault("metadata", {"type": "object"})
                    schema = strict(schema)
                    jsonschema.Draft7Validator.check_schema(schema)
                    key = (spec["group"], version["name"], spec["names"]["kind"])
                    crds[key] = (jsonschema.Draft7Validator(schema), name)
    return crds, files


def compare_with_shared(files):
    if not os.path.isdir(SHARED_CRD_DIR):
        notes.append(f"no {SHARED_CRD_DIR}: using the in-repo copies in {rel(CRD_DIR)}/ only")
        return
    for name in files:
        theirs = os.path.join(SHARED_CRD_DIR, name)
        if not os.path.exists(theirs):
            continue
        with open(theirs, "rb") as a, open(os.path.join(CRD_DIR, name), "rb") as b:
            same = a.read() == b.read()
        notes.append(f"{rel(CRD_DIR)}/{name}: "
                     + ("identical to the shared copy" if same else
                        f"DIFFERS from {theirs} (copy the newer one in)"))


# ------------------------------------------------------------------ hand checks
def path_str(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out.lstrip(".") or "(root)"


def cel_like_checks(where, obj):
    """The CEL rules (x-kubernetes-validations) of these CRDs that the shipped manifests
    could trip, written out in Python."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind in ("WasmPlugin", "TrafficExtension"):
        if sum(k in spec for k in ("selector", "targetRef", "targetRefs")) > 1:
            fail(where, "spec: only one of targetRefs or selector can be set")
        wasm = spec.get("wasm", {}) if kind == "TrafficExtension" else spec
        if kind == "TrafficExtension" and ("wasm" in spec) == ("lua" in spec):
            fail(where, "spec: exactly one of wasm or lua must be set")
        url = wasm.get("url", "")
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in ("", "http", "https", "file", "oci"):
            fail(where, f"url: scheme {scheme!r} is not one of http, https, file, oci")
        for i, ref in enumerate(spec.get("targetRefs") or []):
            if ref.get("namespace"):
                fail(where, f"spec.targetRefs[{i}].namespace: cross namespace referencing is not supported")
        for key in (spec.get("selector") or {}).get("matchLabels") or {}:
            value = spec["selector"]["matchLabels"][key]
            if not key or "*" in key or "*" in str(value):
                fail(where, f"spec.selector.matchLabels: empty key or wildcard ({key}: {value})")
    if kind == "EnvoyExtensionPolicy":
        has_ref, has_refs = "targetRef" in spec, "targetRefs" in spec
        if not ((has_ref != has_refs) or spec.get("targetSelectors")):
            fail(where, "spec: either targetRef or targetRefs must be used")
        refs = ([spec["targetRef"]] if has_ref else []) + list(spec.get("targetRefs") or [])
        for ref in refs:
            if ref.get("group") != "gateway.networking.k8s.io":
                fail(where, "spec.targetRefs: group must be gateway.networking.k8s.io")
            if ref.get("kind") not in ("Gateway", "ListenerSet", "HTTPRoute", "GRPCRoute",
                                       "TCPRoute", "UDPRoute", "TLSRoute"):
                fail(where, f"spec.targetRefs: kind {ref.get('kind')!r} cannot be targeted")
        for i, ext in enumerate(spec.get("wasm") or []):
            code = ext.get("code") or {}
            for t, field in (("HTTP", "http"), ("Image", "image")):
                if (code.get("type") == t) != (field in code):
                    fail(where, f"spec.wasm[{i}].code: {field} must be set exactly when type is {t}")
            secret = (code.get("image") or {}).get("pullSecretRef")
            if secret and secret.get("kind", "Secret") != "Secret":
                fail(where, f"spec.wasm[{i}].code.image.pullSecretRef: only Secret is supported")
            for field in ("image", "http"):
                sha = (code.get(field) or {}).get("sha256")
                if sha is not None and not re.fullmatch(r"[a-f0-9]{64}", sha):
                    fail(where, f"spec.wasm[{i}].code.{field}.sha256: expected 64 lowercase hex digits")


def check_httproute(where, obj):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return fail(where, "spec: expected an object")
    allowed = {"parentRefs", "hostnames", "rules"}
    for key in spec:
        if key not in allowed:
            fail(where, f"spec.{key}: unknown field")
    for i, ref in enumerate(spec.get("parentRefs") or []):
        if not isinstance(ref, dict) or not ref.get("name"):
            fail(where, f"spec.parentRefs[{i}].name: required")
    rules = spec.get("rules")
    if not isinstance(rules, list) or not rules:
        return fail(where, "spec.rules: expected a non-empty list")
    for i, rule in enumerate(rules):
        for j, match in enumerate(rule.get("matches") or []):
            path = match.get("path") or {}
            if path.get("type", "PathPrefix") not in ("Exact", "PathPrefix", "RegularExpression"):
                fail(where, f"spec.rules[{i}].matches[{j}].path.type: {path.get('type')!r}")
            if "value" in path and not str(path["value"]).startswith("/"):
                fail(where, f"spec.rules[{i}].matches[{j}].path.value: must start with /")
        for j, backend in enumerate(rule.get("backendRefs") or []):
            if not backend.get("name"):
                fail(where, f"spec.rules[{i}].backendRefs[{j}].name: required")
            if backend.get("kind", "Service") == "Service" and not isinstance(backend.get("port"), int):
                fail(where, f"spec.rules[{i}].backendRefs[{j}].port: required for a Service")


PATCH_TYPES = {
    "type.googleapis.com/envoy.config.listener.v3.Listener",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
}


def check_envoypatchpolicy(where, obj, added_clusters):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return fail(where, "spec: expected an object")
    for key in spec:
        if key not in ("targetRef", "targetRefs", "type", "jsonPatches", "priority"):
            fail(where, f"spec.{key}: unknown field")
    ref = spec.get("targetRef") or {}
    if ref.get("group") != "gateway.networking.k8s.io" or ref.get("kind") not in ("Gateway", "GatewayClass") \
            or not ref.get("name"):
        fail(where, "spec.targetRef: expected group gateway.networking.k8s.io, kind Gateway or GatewayClass, a name")
    if spec.get("type") != "JSONPatch":
        fail(where, "spec.type: expected JSONPatch")
    for i, patch in enumerate(spec.get("jsonPatches") or []):
        at = f"spec.jsonPatches[{i}]"
        if patch.get("type") not in PATCH_TYPES:
            fail(where, f"{at}.type: {patch.get('type')!r} is not an xDS type EnvoyPatchPolicy patches")
        if not patch.get("name"):
            fail(where, f"{at}.name: required")
        op = patch.get("operation") or {}
        if op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
            fail(where, f"{at}.operation.op: {op.get('op')!r}")
        if "path" not in op and "jsonPath" not in op:
            fail(where, f"{at}.operation: path (or jsonPath) required")
        if patch.get("type", "").endswith("cluster.v3.Cluster") and op.get("op") == "add" \
                and op.get("path") == "":
            value = op.get("value")
            if not isinstance(value, dict) or value.get("name") != patch.get("name"):
                fail(where, f"{at}.operation.value: a complete Cluster whose name is {patch.get('name')!r}")
            else:
                added_clusters.append((where, value))


def envoy_validate_clusters(envoy, clusters):
    if not clusters:
        return
    if not envoy:
        notes.append("no Envoy given: clusters added by EnvoyPatchPolicy not run through envoy --mode validate")
        return
    for where, cluster in clusters:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"static_resources": {"clusters": [cluster]}}, f)
            name = f.name
        try:
            run = subprocess.run([envoy, "--mode", "validate", "-c", name, "--log-level", "warn",
                                  "--disable-hot-restart"], capture_output=True, text=True, timeout=120)
        finally:
            os.unlink(name)
        if run.returncode != 0:
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-8:])
            fail(where, f"cluster {cluster.get('name')!r} rejected by envoy --mode validate:\n{tail}")
        else:
            print(f"ok      {where}: cluster {cluster['name']} (envoy --mode validate)")


# ------------------------------------------------------------------ plugin configs
def remote_clusters(config):
    for issuer in (config or {}).get("issuers") or []:
        for source in ("remote", "discovery"):
            cluster = (issuer.get(source) or {}).get("cluster") if isinstance(issuer, dict) else None
            if cluster:
                yield cluster


def main():
    envoy = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
    crds, crd_files = load_crds()
    compare_with_shared(crd_files)
    print(f"schemas: {len(crds)} CRD version(s) from {rel(CRD_DIR)}/ ("
          + ", ".join(sorted({f'{k}.{g}/{v}' for g, v, k in crds})) + ")")

    objects = []  # (where, obj)
    for directory in MANIFEST_DIRS:
        for base, _, names in sorted(os.walk(directory)):
            for name in sorted(names):
                if not name.endswith((".yaml", ".yml")):
                    continue
                path = os.path.join(base, name)
                try:
                    with open(path) as f:
                        docs = list(yaml.safe_load_all(f))
                except yaml.YAMLError as e:
                    fail(rel(path), f"not YAML: {e}")
                    continue
                for i, doc in enumerate(d for d in docs if d is not None):
                    where = f"{rel(path)}#{i}"
                    if isinstance(doc, dict):
                        where = f"{rel(path)}#{i} {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
                    objects.append((where, doc))
    if not objects:
        fail("envoy/istio, envoy/gateway", "no manifests found")

    added_clusters = []
    shape_only = set()
    for where, obj in objects:
        if not isinstance(obj, dict):
            fail(where, "expected a Kubernetes object (a mapping)")
            continue
        api, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
        if not isinstance(api, str) or not isinstance(kind, str) or not isinstance(meta, dict):
            fail(where, "apiVersion, kind and metadata are required")
            continue
        if not isinstance(meta.get("name"), str) or not DNS1123_SUBDOMAIN.match(meta["name"]) \
                or len(meta["name"]) > 253:
            fail(where, "metadata.name: must be a DNS-1123 subdomain")
        if "namespace" in meta and not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", str(meta["namespace"])):
            fail(where, "metadata.namespace: must be a DNS-1123 label")
        group, _, version = api.rpartition("/")
        before = len(errors)
        if (group, version, kind) in crds:
            validator, crd_file = crds[(group, version, kind)]
            for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                fail(where, f"{path_str(list(err.absolute_path))}: {err.message}")
            cel_like_checks(where, obj)
            how = f"schema {kind}.{group}/{version}"
        elif (group, kind) == ("gateway.networking.k8s.io", "HTTPRoute") and version in ("v1", "v1beta1"):
            check_httproute(where, obj)
            shape_only.add(kind)
            how = "shape only: no Gateway API CRD shipped"
        elif (group, version, kind) == ("gateway.envoyproxy.io", "v1alpha1", "EnvoyPatchPolicy"):
            check_envoypatchpolicy(where, obj, added_clusters)
            shape_only.add(kind)
            how = "shape only: no EnvoyPatchPolicy CRD shipped"
        else:
            fail(where, f"no schema for {kind} ({api}): add its CRD to {rel(CRD_DIR)}/")
            continue
        if len(errors) == before:
            print(f"ok      {where} ({how})")
        else:
            print(f"FAILED  {where} ({how})")

    envoy_validate_clusters(envoy, added_clusters)

    # Cross-checks between the plugin configurations and the resources giving them clusters.
    service_entries, tls_hosts, patched = set(), set(), {c["name"] for _, c in added_clusters}
    for where, obj in objects:
        if not isinstance(obj, dict):
            continue
        spec = obj.get("spec") or {}
        if obj.get("kind") == "ServiceEntry":
            for host in spec.get("hosts") or []:
                for port in spec.get("ports") or []:
                    service_entries.add((host, port.get("number")))
        if obj.get("kind") == "DestinationRule":
            tls = (spec.get("trafficPolicy") or {}).get("tls") or {}
            if tls.get("mode") in ("SIMPLE", "MUTUAL"):
                tls_hosts.add(spec.get("host"))
    for where, obj in objects:
        if not isinstance(obj, dict):
            continue
        for at, config in manifest_configs(obj):
            if not isinstance(config, dict):
                continue
            for cluster in remote_clusters(config):
                if where.startswith("envoy/istio/"):
                    m = ISTIO_CLUSTER.match(cluster)
                    if not m:
                        fail(where, f"{at}: cluster {cluster!r} is not an Istio outbound|PORT||HOST name")
                        continue
                    port, host = int(m.group(1)), m.group(3)
                    if (host, port) not in service_entries:
                        fail(where, f"{at}: cluster {cluster!r}: no ServiceEntry for {host}:{port} in envoy/istio/")
                    if host not in tls_hosts:
                        fail(where, f"{at}: cluster {cluster!r}: no DestinationRule originating TLS to {host}")
                elif cluster not in patched:
                    fail(where, f"{at}: cluster {cluster!r} is not added by an EnvoyPatchPolicy in envoy/gateway/")

    placeholders = [where for where, obj in objects if "0" * 64 in json.dumps(obj)]
    if placeholders:
        notes.append(f"{len(placeholders)} object(s) carry the all-zero sha256 placeholder: replace it with "
                     "the pushed image's digest before applying (docs/deploy.md)")
    for note in notes:
        print(f"note:   {note}")
    if shape_only:
        print(f"note:   {', '.join(sorted(shape_only))}: no CRD shipped, checked for shape only (skipped schema)")
    if errors:
        print()
        for e in errors:
            print(f"error:  {e}")
        print(f"validate-manifests: {len(objects)} object(s), {len(errors)} error(s): FAIL")
        return 1
    print(f"validate-manifests: {len(objects)} object(s) valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
