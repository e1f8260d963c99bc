"""Runs a WASI command module (a `cargo test --target wasm32-wasip1` binary) with
wasmtime: cargo's runner for the wasm build of ag-math's tests (`make test-wasm`), so
the SIMD code Envoy runs is tested as wasm, not only through its native twin."""

import sys

import wasmtime


def main() -> int:
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = sys.argv[1:]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    module = wasmtime.Module.from_file(engine, sys.argv[1])
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit_trap:
        return exit_trap.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
