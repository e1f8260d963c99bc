"""Reconfiguration through LDS, as a control plane (Istio, Envoy Gateway) does it: the
listener is replaced by one whose filter carries a new plugin configuration. The new
configuration decides every request from then on, and nothing learned under the old one
— verified tokens, tokens refused after parsing, forged tokens — decides a request under
the new one (each VM's caches belong to one compiled configuration). A broken
configuration in an update is refused, and the listener keeps its old one (never a
listener without a policy)."""

import pytest

import jwtkit
import parity
import scenario
from checks import assert_allowed, assert_denied, assert_forbidden, assert_invalid_token, assert_missing_token
from harness import Envoy

WORKERS = 2


@pytest.fixture(autouse=True)
def _no_parity():
    """explain replays a request against an Envoy's configuration at the end of the
    session: here the configuration changes under the requests."""
    with parity.not_collected():
        yield


@pytest.fixture
def lds_envoy(upstream):
    e = Envoy(scenario.seed_config(), upstream, dynamic_listener=True, concurrency=WORKERS)
    yield e
    e.stop()


def send_everywhere(env: Envoy, token: str, path: str = "/orders/1", times: int = 6) -> list:
    """The same request on fresh connections, so that every worker sees it."""
    return [env.request("GET", path, token=token) for _ in range(times)]


def test_a_new_configuration_takes_effect_and_can_be_undone(lds_envoy):
    t = scenario.token()
    for r in send_everywhere(lds_envoy, t):
        assert_allowed(r)
    stricter = scenario.seed_config()
    stricter["rules"][1]["scopes"] = ["orders:admin"]
    stricter["clients"]["customer-portal"]["orders-api"] = ["orders:read", "orders:admin"]
    assert lds_envoy.reconfigure(stricter)
    for r in send_everywhere(lds_envoy, t):
        assert_forbidden(r, scope="orders:admin")
    assert lds_envoy.reconfigure(scenario.seed_config())
    for r in send_everywhere(lds_envoy, t):
        assert_allowed(r)


def test_a_key_removed_by_reconfiguration_verifies_no_cached_token(lds_envoy):
    t = scenario.token()
    for r in send_everywhere(lds_envoy, t):
        assert_allowed(r)  # now in every worker's verified-token cache
    rotated = scenario.seed_config()
    rotated["issuers"][0]["jwks"] = jwtkit.jwks(scenario.keys().ec)
    rotated["issuers"][0]["algorithms"] = ["ES256"]
    assert lds_envoy.reconfigure(rotated)
    for r in send_everywhere(lds_envoy, t):
        assert_invalid_token(r)
    assert_allowed(lds_envoy.request("GET", "/orders/1", token=scenario.token(key=scenario.keys().ec)))


def test_tokens_refused_under_the_old_configuration_are_judged_by_the_new_one(lds_envoy):
    k = scenario.keys()
    foreign = scenario.token(key=k.ec, aud="billing-api")  # its key stays
    new_key = jwtkit.rsa_key(k.rsa.kid, "RS256")  # a kid the old set has, another key
    forged_then = jwtkit.mint(new_key, scenario.payload())
    for _ in range(2):
        for r in send_everywhere(lds_envoy, foreign, times=3):
            assert_denied(r, 401, "invalid_token")  # kept: the parse of a refused token
        for r in send_everywhere(lds_envoy, forged_then, times=3):
            assert_invalid_token(r)  # kept: a forged token (negative cache)
    widened = scenario.seed_config()
    widened["audiences"] = ["orders-api", "billing-api"]
    widened["clients"]["customer-portal"]["billing-api"] = ["orders:read"]
    widened["multiple_audiences"]["trusted"].append("billing-api")
    widened["issuers"][0]["jwks"] = jwtkit.jwks(new_key, k.ec)
    assert lds_envoy.reconfigure(widened)
    for r in send_everywhere(lds_envoy, foreign):
        assert_allowed(r)
        assert r.upstream.get("x-jwt-audience") == "billing-api"
    for r in send_everywhere(lds_envoy, forged_then):
        assert_allowed(r)
    # and the token of the key that left the set is refused, cached or not
    for r in send_everywhere(lds_envoy, scenario.token()):
        assert_invalid_token(r)


def test_a_broken_configuration_in_an_update_is_refused_and_the_old_one_stays(lds_envoy):
    t = scenario.token()
    assert_allowed(lds_envoy.request("GET", "/orders/1", token=t))
    mark = lds_envoy.log_size()
    broken = scenario.seed_config()
    broken["issuers"][0]["leeway_seconds"] = 301
    assert lds_envoy.reconfigure(broken) is False, "Envoy took a listener whose plugin configuration is invalid"
    log = lds_envoy.wait_log(mark, lambda text: "leeway_seconds" in text)
    assert "issuers[0].leeway_seconds" in log, log[-2000:]
    for r in send_everywhere(lds_envoy, t):
        assert_allowed(r)
    assert_missing_token(lds_envoy.request("GET", "/orders/1"))
    assert_forbidden(lds_envoy.request("POST", "/orders", token=t), scope="orders:write")
