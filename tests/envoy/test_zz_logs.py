"""Runs last: no token sent during the session appears in any Envoy log (SPEC.md §3
"never the token"). Response bodies are checked on every request by the harness."""

import conftest


def test_no_token_in_any_envoy_log():
    assert conftest.ALL_ENVOYS, "no Envoy ran"
    leaks = []
    for e in conftest.ALL_ENVOYS:
        log = e.log()
        for t in e.sent_tokens:
            parts = t.split(".")
            needles = [t] + [p for p in parts[1:] if len(p) >= 16]
            for n in needles:
                if n in log:
                    line = next(l for l in log.splitlines() if n in l)
                    leaks.append(f"{e.dir}: {line[:200]}")
                    break
    assert not leaks, "tokens in Envoy logs:\n" + "\n".join(leaks[:10])


TRAP_MARKERS = ["panicked at", "Uncaught", "wasm trap", "Wasm VM failed", "RuntimeError", "unreachable"]


def test_no_vm_trap_in_any_envoy_log():
    bad = []
    for e in conftest.ALL_ENVOYS:
        for line in e.log().splitlines():
            if any(m in line for m in TRAP_MARKERS):
                bad.append(f"{e.dir}: {line[:300]}")
    assert not bad, "VM trap/panic lines:\n" + "\n".join(bad[:10])
