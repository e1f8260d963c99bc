"""The happy path of the seed scenario (SPEC.md §1/§2 "allowed") and the generated bootstrap."""

import json
import subprocess

import harness
import scenario
from checks import assert_allowed, assert_missing_token, assert_no_identity


def test_generated_bootstrap_passes_envoy_validate(tmp_path, upstream):
    cfg = harness.bootstrap(
        scenario.seed_config(), wasm=harness.wasm_path(), admin_port=harness.free_port(),
        listener_port=harness.free_port(), upstream_port=upstream.port,
    )
    path = tmp_path / "envoy.yaml"
    path.write_text(json.dumps(cfg))
    out = subprocess.run(
        [harness.envoy_path(), "--mode", "validate", "-c", str(path), "--disable-hot-restart", "-l", "error"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0 and "OK" in out.stdout + out.stderr, out.stdout + out.stderr


def test_valid_rs256_token_is_allowed_with_identity_headers(seed):
    tok = scenario.token()
    r = seed.request("GET", "/orders/42", token=tok)
    assert_allowed(r)
    up = r.upstream
    assert up.path == "/orders/42"
    assert up.get("x-jwt-sub") == "user-1"
    assert up.get("x-jwt-client") == "customer-portal"
    assert up.get("x-jwt-scopes") == "orders:read"
    assert up.get("x-jwt-audience") == "orders-api"
    assert not up.has("authorization"), "keep_token=false must remove the token"
    assert all(tok not in v for _, v in up.headers)


def test_valid_es256_token_is_allowed(seed, keys):
    r = seed.request("GET", "/orders", token=scenario.token(keys.ec))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-sub") == "user-1"


def test_head_is_a_read(seed):
    r = seed.request("HEAD", "/orders/1", token=scenario.token())
    assert r.status == 200 and r.upstream is not None, r


def test_backoffice_can_write(seed):
    r = seed.request("POST", "/orders", token=scenario.backoffice_token(), body=b"{}")
    assert_allowed(r)
    assert r.upstream.get("x-jwt-client") == "backoffice"
    assert r.upstream.get("x-jwt-scopes") == "orders:read orders:write"


def test_scope_as_scp_array_is_allowed(seed):
    r = seed.request("GET", "/orders", token=scenario.token(scope=..., scp=["orders:read"]))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "orders:read"


def test_client_id_used_when_azp_absent(seed):
    r = seed.request("GET", "/orders", token=scenario.token(azp=..., client_id="customer-portal"))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-client") == "customer-portal"


def test_health_is_anonymous_without_token(seed):
    r = seed.request("GET", "/healthz")
    assert_allowed(r)
    assert_no_identity(r)


def test_missing_token_is_401(seed):
    r = seed.request("GET", "/orders")
    assert_missing_token(r)
    assert r.www_authenticate == 'Bearer realm="orders"'


def test_many_allowed_requests_in_a_row(seed):
    toks = [scenario.token(sub=f"user-{i}") for i in range(20)]
    for i, t in enumerate(toks):
        r = seed.request("GET", f"/orders/{i}", token=t)
        assert_allowed(r)
        assert r.upstream.get("x-jwt-sub") == f"user-{i}"
    # the same token again (a verify cache, if any, must give the same answer)
    for t in toks[:3]:
        assert_allowed(seed.request("GET", "/orders", token=t))
