"""HTTP/2 clients (h2c, prior knowledge, via curl): a repeated header is several entries
in Envoy's header map rather than one comma-joined value, so reading only the first
entry would let a second credential or a second spoofed header slip through."""

import shutil
import subprocess

import pytest

import scenario
from checks import assert_allowed, assert_invalid_request, assert_missing_token, still_serving


def _curl_has_http2():
    curl = shutil.which("curl")
    if not curl:
        return False
    out = subprocess.run([curl, "--version"], capture_output=True, text=True)
    return "HTTP2" in out.stdout


pytestmark = pytest.mark.skipif(not _curl_has_http2(), reason="curl with HTTP/2 support not available")


def auth(t):
    return ("Authorization", f"Bearer {t}")


def test_h2_valid_token_is_allowed(seed):
    r = seed.request_h2("GET", "/orders/1", [auth(scenario.token())])
    assert_allowed(r)
    assert r.upstream.get("x-jwt-sub") == "user-1"
    assert not r.upstream.has("authorization")


def test_h2_missing_token_is_401(seed):
    assert_missing_token(seed.request_h2("GET", "/orders"))


def test_h2_two_authorization_entries_is_400(seed):
    r = seed.request_h2("GET", "/orders", [auth(scenario.token()), auth(scenario.token())])
    assert_invalid_request(r)


def test_h2_valid_first_entry_then_garbage_is_not_allowed(seed):
    r = seed.request_h2("GET", "/orders", [auth(scenario.token()), ("Authorization", "Bearer x.y.z")])
    assert r.status in (400, 401) and r.upstream is None, r
    still_serving(seed)


def test_h2_garbage_first_entry_then_valid_is_not_allowed(seed):
    r = seed.request_h2("GET", "/orders", [("Authorization", "Basic Zm9vOmJhcg=="), auth(scenario.token())])
    assert r.status in (400, 401) and r.upstream is None, r


def test_h2_repeated_spoofed_headers_are_all_removed(seed):
    spoof = [("x-jwt-sub", "admin"), ("x-jwt-sub", "root"), ("x-jwt-client", "backoffice"),
             ("x-jwt-client", "ops"), ("x-jwt-extra", "a"), ("x-jwt-extra", "b")]
    r = seed.request_h2("GET", "/orders", spoof + [auth(scenario.token())])
    assert_allowed(r)
    assert r.upstream.all("x-jwt-sub") == ["user-1"]
    assert r.upstream.all("x-jwt-client") == ["customer-portal"]
    assert not r.upstream.has("x-jwt-extra")
    r = seed.request_h2("GET", "/healthz", spoof)
    assert_allowed(r)
    assert not [k for k in r.upstream.names() if k.startswith("x-jwt-")]


@pytest.fixture(scope="module")
def delete_needs_admin(start_envoy):
    return start_envoy(scenario.seed_config(rules=[
        {"name": "delete-admin", "match": {"prefix": "/orders", "methods": ["DELETE"]}, "scopes": ["orders:admin"]},
        {"name": "orders", "match": {"prefix": "/orders"}, "scopes": ["orders:read"]},
    ]))


@pytest.mark.parametrize("method", ["DELETE", "delete", "Delete"])
def test_h2_lower_case_method_cannot_skip_a_method_rule(delete_needs_admin, method):
    # HTTP/2 lets a client send a lower-case method (HTTP/1 clients cannot: Envoy
    # refuses them); an upstream that upper-cases it would run a DELETE, so the DELETE
    # rule must match it.
    r = delete_needs_admin.request_h2(method, "/orders/1", [auth(scenario.token())])
    assert r.status == 403 and r.upstream is None, r
    assert 'scope="orders:admin"' in (r.header("www-authenticate") or ""), r


def test_h2_path_tricks_are_not_a_bypass(seed):
    r = seed.request_h2("GET", "/orders%2F..%2Fhr", [auth(scenario.token())])
    assert_invalid_request(r)
