"""Envoy's log level set at run time reaches the filter: an operator turns the
per-request allow lines on and off with Envoy's admin `/logging`, without a reload."""

import time
import urllib.request

import scenario
from checks import assert_allowed


def set_wasm_log_level(envoy, level: str) -> None:
    url = f"http://127.0.0.1:{envoy.admin_port}/logging?wasm={level}"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as r:
        assert r.status == 200


def allow_lines(envoy) -> int:
    return sum("audience-guard: allow" in line for line in envoy.log().splitlines())


def allowed_request(envoy) -> None:
    assert_allowed(envoy.request("GET", "/orders", token=scenario.token()))


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_admin_log_level_change_reaches_the_filter(start_envoy):
    # local keys only: no fetcher tick, the VM's own 1 s refresh must do it
    e = start_envoy(scenario.seed_config())
    allowed_request(e)
    time.sleep(0.3)
    assert allow_lines(e) == 0, "allow lines are debug: none at info"

    set_wasm_log_level(e, "debug")
    time.sleep(1.5)  # one refresh period and a margin
    allowed_request(e)
    assert wait_for(lambda: allow_lines(e) >= 1), "no allow line after /logging?wasm=debug"

    set_wasm_log_level(e, "info")
    time.sleep(1.5)
    before = allow_lines(e)
    allowed_request(e)
    time.sleep(0.3)
    assert allow_lines(e) == before, "allow lines kept coming after /logging?wasm=info"
