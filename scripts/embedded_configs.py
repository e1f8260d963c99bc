"""Finds every audience-guard plugin configuration shipped in the repository and writes
each to OUTDIR as its own JSON file, for scripts/check-embedded-configs.sh to run
`audience-guard check-config` on. Prints one line per configuration: FILE<TAB>LABEL.

Where configurations are found:
  * envoy/**/*.yaml (not envoy/crds/): in an Envoy config, the `configuration` of every
    envoy.filters.http.wasm filter (a google.protobuf.StringValue: its `value`, as is);
    in a Kubernetes manifest, WasmPlugin `spec.pluginConfig`, TrafficExtension
    `spec.wasm.pluginConfig`, EnvoyExtensionPolicy `spec.wasm[].config` (serialised as
    JSON, as Istio and Envoy Gateway do);
  * README.md and docs/**/*.md: every fenced code block marked ```json whose text
    contains "issuers".
Also: Kubernetes objects of the same metadata.name (the same deployment written for
Istio's WasmPlugin, TrafficExtension and Envoy Gateway) must carry the same
configuration; a difference is reported and exits 1.
"""

import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WASM_FILTER = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
FENCE_OPEN = re.compile(r"^(\s*)```json\s*$")
FENCE_CLOSE = re.compile(r"^\s*```\s*$")


def rel(path):
    return os.path.relpath(path, ROOT)


def envoy_wasm_configs(node, path=""):
    """(json path, configuration string) of each Wasm HTTP filter in an Envoy config."""
    if isinstance(node, dict):
        if node.get("@type") == WASM_FILTER:
            conf = (node.get("config") or {}).get("configuration")
            if isinstance(conf, dict) and conf.get("@type") == STRING_VALUE:
                yield f"{path}.config.configuration.value", conf.get("value", "")
            elif conf is not None:
                yield f"{path}.config.configuration", json.dumps(conf)
        for key, value in node.items():
            yield from envoy_wasm_configs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from envoy_wasm_configs(value, f"{path}[{i}]")


def manifest_configs(obj):
    """(JSON path, plugin configuration) of each config a Kubernetes object embeds."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "WasmPlugin" and "pluginConfig" in spec:
        yield "spec.pluginConfig", spec["pluginConfig"]
    elif kind == "TrafficExtension" and "pluginConfig" in (spec.get("wasm") or {}):
        yield "spec.wasm.pluginConfig", spec["wasm"]["pluginConfig"]
    elif kind == "EnvoyExtensionPolicy":
        for i, ext in enumerate(spec.get("wasm") or []):
            if "config" in ext:
                yield f"spec.wasm[{i}].config", ext["config"]


def markdown_blocks(path):
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not FENCE_CLOSE.match(lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        text = "\n".join(body)
        if '"issuers"' in text:
            yield start, text


def main():
    out = sys.argv[1]
    found = []  # (label, text)
    by_name = {}  # metadata.name -> [(label, canonical json)]
    for base, dirs, names in os.walk(os.path.join(ROOT, "envoy")):
        dirs[:] = sorted(d for d in dirs if os.path.join(base, d) != os.path.join(ROOT, "envoy", "crds"))
        for name in sorted(names):
            if not name.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(base, name)
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            for i, doc in enumerate(docs):
                if not isinstance(doc, dict):
                    continue
                doc_label = rel(path) + (f"#{i}" if len(docs) > 1 else "")
                for where, text in envoy_wasm_configs(doc):
                    found.append((f"{doc_label} {where}", text))
                for where, config in manifest_configs(doc):
                    meta = doc.get("metadata") or {}
                    label = f"{doc_label} {doc.get('kind')}/{meta.get('name')} {where}"
                    found.append((label, json.dumps(config, indent=2)))
                    by_name.setdefault(meta.get("name"), []).append(
                        (label, json.dumps(config, sort_keys=True)))
    docs = [os.path.join(ROOT, "README.md")]
    for base, dirs, names in os.walk(os.path.join(ROOT, "docs")):
        dirs.sort()
        docs += [os.path.join(base, n) for n in sorted(names) if n.endswith(".md")]
    for path in docs:
        if os.path.exists(path):
            for line, text in markdown_blocks(path):
                found.append((f"{rel(path)}:{line} ```json block", text))

    os.makedirs(out, exist_ok=True)
    for n, (label, text) in enumerate(found):
        file = os.path.join(out, f"config-{n:03d}.json")
        with open(file, "w") as f:
            f.write(text)
        print(f"{file}\t{label}")

    status = 0
    for name, items in sorted(by_name.items()):
        if len({c for _, c in items}) > 1:
            status = 1
            print(f"MISMATCH\tobjects named {name} carry different configurations: "
                  + "; ".join(label for label, _ in items))
        elif len(items) > 1:
            print(f"SAME\t{len(items)} objects named {name} carry one configuration")
    return status


if __name__ == "__main__":
    sys.exit(main())
