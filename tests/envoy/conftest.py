"""Fixtures for the real-Envoy layer.

Run: `make test-envoy`, or
`WASM=$PWD/target/wasm32-wasip1/release/audience_guard.wasm ENVOY=$PWD/.venv/bin/envoy
.venv/bin/pytest -q tests/envoy` (both default to those paths). KEEP_ENVOY_LOGS=1 keeps
each Envoy's directory (envoy.yaml, envoy.log) under $TMPDIR/ag-envoy-*.

Layout: jwtkit.py mints tokens (keys generated at run time); harness.py runs the echo
upstream, a stand-in IdP and Envoy itself; scenario.py holds the seed scenario and token
factories; checks.py the SPEC §2 assertions; parity.py replays every request through
`audience-guard explain` (checked by test_zzz_explain_parity.py). Each Envoy start costs ~1 s (V8 compiles the
module), so instances are shared: `seed` for the whole session, others per module.
Tests compare counters before/after, never absolute values.
"""

from __future__ import annotations

import os
import shutil
from typing import Callable, Union

import pytest

from harness import EchoUpstream, Envoy, EnvoyStartError, envoy_path, wasm_path  # noqa: F401
import scenario
import harness
import parity

ALL_ENVOYS: list = []  # every instance started this session (for the log scan at the end)

# explain parity (parity.py, checked by test_zzz_explain_parity.py): on unless
# EXPLAIN_PARITY=0. Every request sent through Envoy is recorded; each Envoy writes an
# access log telling what the filter saw.
PARITY: "parity.Collector | None" = None
if os.environ.get("EXPLAIN_PARITY", "1") != "0":
    PARITY = parity.Collector()
    harness.REQUEST_HOOKS.append(PARITY.record)
    harness.ACCESS_LOG = True


def pytest_configure(config: pytest.Config) -> None:
    problems = []
    if not os.path.isfile(wasm_path()):
        problems.append(f"WASM not found: {wasm_path()} (run `make build`)")
    if not os.access(envoy_path(), os.X_OK):
        problems.append(f"ENVOY not executable: {envoy_path()} (run `make venv`)")
    if problems:
        raise pytest.UsageError("; ".join(problems))


@pytest.fixture(scope="session", autouse=True)
def _cleanup_work_dirs():
    """Remove the Envoys' temporary directories at the end (KEEP_ENVOY_LOGS=1 keeps them)."""
    yield
    if os.environ.get("KEEP_ENVOY_LOGS"):
        return
    import harness
    for d in harness.WORK_DIRS:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def upstream():
    up = EchoUpstream()
    yield up
    up.stop()


@pytest.fixture(scope="session")
def keys() -> scenario.Keys:
    return scenario.keys()


@pytest.fixture(scope="module")
def idp() -> harness.KeyServer:
    """A stand-in identity provider serving key sets (remote-keys tests)."""
    s = harness.KeyServer()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def start_envoy(upstream) -> Callable[..., Envoy]:
    """Factory: start_envoy(plugin_config, **opts) -> Envoy, stopped at module end."""
    started: list = []

    def start(plugin_config: Union[dict, str], **opts) -> Envoy:
        e = Envoy(plugin_config, upstream, **opts)
        started.append(e)
        ALL_ENVOYS.append(e)
        return e

    yield start
    for e in started:
        e.stop()


@pytest.fixture(scope="session")
def seed(upstream) -> Envoy:
    """Envoy running the seed scenario of SPEC.md §1, shared by the whole session
    (tests compare counters before/after, never absolute values)."""
    e = Envoy(scenario.seed_config(), upstream)
    ALL_ENVOYS.append(e)
    yield e
    e.stop()


def start_outcome(plugin_config: Union[dict, str], upstream: EchoUpstream) -> tuple:
    """Try to start Envoy with the config: (accepted, returncode, log). Never raises."""
    try:
        e = Envoy(plugin_config, upstream, start_timeout=20)
    except EnvoyStartError as err:
        return False, err.returncode, err.log
    log = e.log()
    e.stop()
    return True, 0, log


def check_rejected(outcome: tuple, json_path: str) -> str:
    """Envoy refused the config and the filter logged a line naming json_path; returns it."""
    accepted, rc, log = outcome
    assert not accepted, f"Envoy accepted a config that must be rejected ({json_path}):\n{log[-1500:]}"
    assert rc not in (None, 0), f"envoy did not exit with an error:\n{log[-2000:]}"
    wasm_lines = [l for l in log.splitlines() if "wasm log" in l]
    naming = [l for l in wasm_lines if json_path in l]
    assert naming, f"no filter log line names {json_path!r}; filter lines were:\n" + "\n".join(wasm_lines[-10:])
    assert len(wasm_lines) == 1, "SPEC: one log line naming the JSON path; got:\n" + "\n".join(wasm_lines)
    return naming[0]


@pytest.fixture
def reject_config(upstream) -> Callable[..., str]:
    """reject_config(cfg, path) asserts Envoy refuses the plugin config and logs the JSON path.

    Returns the filter's log line(s) naming it.
    """

    def check(plugin_config: Union[dict, str], json_path: str) -> str:
        return check_rejected(start_outcome(plugin_config, upstream), json_path)

    return check


def pytest_report_header(config: pytest.Config) -> str:
    return f"audience-guard envoy tests: WASM={wasm_path()} ENVOY={envoy_path()}"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    summary = getattr(config, "_explain_parity_summary", None)
    if summary:
        terminalreporter.write_line(summary)
