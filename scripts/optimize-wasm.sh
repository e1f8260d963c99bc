#!/usr/bin/env bash
# Shrinks the release module with binaryen: with EXPORTS.txt, drops every export not
# listed and the code only they reach (wasm-metadce); then wasm-opt -Oz. Smaller module,
# faster V8 compile at Envoy start, less memory per VM. Installs binaryen from Debian's packages
# when it is missing and we may (root with apt-get); otherwise leaves the module as
# cargo built it and says so — it is correct either way, only larger.
set -euo pipefail
wasm=${1:?usage: optimize-wasm.sh MODULE.wasm [EXPORTS.txt]}
exports=${2:-}

if ! command -v wasm-opt >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "optimize-wasm: installing binaryen (wasm-opt)"
    apt-get install -y -qq binaryen >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq binaryen >/dev/null 2>&1; } || true
  fi
fi
if ! command -v wasm-opt >/dev/null 2>&1; then
  echo "optimize-wasm: wasm-opt not available; keeping the unoptimised module ($(stat -c %s "$wasm") bytes)"
  exit 0
fi

before=$(stat -c %s "$wasm")
tmp=$(mktemp "${wasm}.XXXXXX")
trap 'rm -f "$tmp" "$tmp.graph.json" "$tmp.opt"' EXIT
flags=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals)
input=$wasm
if [ -n "$exports" ]; then
  # Keeps only the exports listed (one per line, `#` comments), and the code they reach:
  # binaryen's wasm-metadce with every listed export a root of the reachability graph.
  names=$(grep -v '^\s*\(#\|$\)' "$exports")
  { echo '[{"name": "host", "root": true, "reaches": ['
    printf '%s\n' "$names" | sed 's/.*/"e:&"/' | paste -sd, -
    echo ']}'
    printf '%s\n' "$names" | sed 's/.*/,{"name": "e:&", "export": "&"}/'
    echo ']'; } >"$tmp.graph.json"
  wasm-metadce "${flags[@]}" -f "$tmp.graph.json" "$wasm" -o "$tmp" >/dev/null
  missing=$(comm -23 <(printf '%s\n' "$names" | sort) \
    <(wasm-dis "$tmp" | sed -n 's/^ (export "\([^"]*\)".*/\1/p' | sort))
  if [ -n "$missing" ]; then
    echo "optimize-wasm: $exports names exports the module does not have:" $missing >&2
    exit 1
  fi
  input=$tmp
fi
# -ocimfs 100: inline a function that has one caller only when it is small. By default
# wasm-opt inlines every such function, which grew our largest function to 36 KB; V8
# compiles every function with TurboFan at start, and its scratch memory for such big
# functions stays in Envoy's allocator: measured 2026-11-30, Envoy RSS with the filter
# 10 MiB lower (+43 instead of +53 MiB over a bare Envoy), module 4 KB smaller, the
# same req/s (bench/README.md, "Memory").
# --enable-simd: RSA's inner loop is wasm SIMD (crates/ag-math/src/amm.rs).
wasm-opt -Oz -ocimfs 100 "${flags[@]}" --strip-debug --strip-producers "$input" -o "$tmp.opt"
chmod 644 "$tmp.opt"
mv "$tmp.opt" "$wasm"
echo "optimize-wasm: $before -> $(stat -c %s "$wasm") bytes"
