"""What the upstream sees (SPEC.md §1 forward): identity headers, spoof removal on every
path, token removal, claim encoding and the values that are left out."""

import base64
import json

import pytest

import scenario
from checks import assert_allowed, assert_no_identity, still_serving

FWD = {
    "sub": "x-jwt-sub",
    "email": "x-user-email",
    "org.id": "x-jwt-org",
    "n": "x-jwt-n",
    "fl": "x-jwt-fl",
    "b": "x-jwt-b",
    "arr": "x-jwt-arr",
    "obj": "x-jwt-obj",
    "bad": "x-jwt-bad",
    "big": "x-jwt-big",
}


@pytest.fixture(scope="module")
def fwd(start_envoy):
    cfg = scenario.seed_config()
    cfg["forward"] = {"claims": FWD, "keep_token": True}
    cfg["token"] = {"max_bytes": 65536}
    return start_envoy(cfg, hcm_extra={"max_request_headers_kb": 512})


@pytest.fixture(scope="module")
def no_strip(start_envoy):
    cfg = scenario.seed_config()
    cfg["forward"] = {"claims": {"sub": "x-jwt-sub", "email": "x-user-email"}, "strip_prefix": ""}
    return start_envoy(cfg)


SPOOF = [
    ("x-jwt-sub", "admin"),
    ("x-jwt-client", "backoffice"),
    ("x-jwt-scopes", "orders:write"),
    ("x-jwt-audience", "hr-api"),
    ("x-jwt-anything", "evil"),
    ("X-JWT-Upper", "evil"),
]


# ------------------------------------------------------------------ spoofed headers, every path
def test_spoofed_headers_replaced_on_allow(seed):
    r = seed.request("GET", "/orders", SPOOF + [("x-jwt-sub", "second-copy")], token=scenario.token())
    assert_allowed(r)
    up = r.upstream
    assert up.all("x-jwt-sub") == ["user-1"]
    assert up.all("x-jwt-client") == ["customer-portal"]
    assert up.all("x-jwt-scopes") == ["orders:read"]
    assert up.all("x-jwt-audience") == ["orders-api"]
    assert not up.has("x-jwt-anything") and not up.has("x-jwt-upper")


def test_spoofed_headers_removed_on_anonymous(seed):
    r = seed.request("GET", "/healthz", SPOOF)
    assert_allowed(r)
    assert_no_identity(r)


def test_spoofed_headers_removed_on_dry_run_deny(seed):
    tok = scenario.token(azp="backoffice", aud="hr-api", scope="hr:read", groups=["eng"])
    r = seed.request("GET", "/hr", SPOOF, token=tok)
    assert_allowed(r)
    for name, value in SPOOF:
        assert value not in r.upstream.all(name.lower()), f"spoofed {name} reached the upstream on a dry-run deny"
    assert not r.upstream.has("x-jwt-anything")


def test_spoofed_headers_never_reach_upstream_on_deny(seed, upstream):
    n = len(upstream.seen)
    r = seed.request("GET", "/orders", SPOOF)
    assert r.status == 401 and r.upstream is None
    r = seed.request("GET", "/orders", SPOOF, token=scenario.token(azp="evil"))
    assert r.status == 403 and r.upstream is None
    assert len(upstream.seen) == n


def test_configured_output_outside_prefix_is_removed(fwd):
    # x-user-email is a configured output: the client's copy goes even when the claim is absent
    r = fwd.request("GET", "/orders", [("x-user-email", "ceo@example.com")], token=scenario.token())
    assert_allowed(r)
    assert not r.upstream.has("x-user-email")
    r = fwd.request("GET", "/healthz", [("x-user-email", "ceo@example.com")])
    assert_allowed(r)
    assert not r.upstream.has("x-user-email")


def test_strip_prefix_empty_keeps_other_x_jwt_headers(no_strip):
    r = no_strip.request("GET", "/orders", [("x-jwt-trace", "keep-me"), ("x-user-email", "spoof"), ("x-jwt-sub", "spoof")],
                         token=scenario.token())
    assert_allowed(r)
    up = r.upstream
    assert up.get("x-jwt-trace") == "keep-me"
    assert not up.has("x-user-email")
    assert up.all("x-jwt-sub") == ["user-1"]
    assert up.get("x-jwt-client") == "customer-portal"


# ------------------------------------------------------------------ keep_token
def test_keep_token_false_removes_authorization(seed):
    r = seed.request("GET", "/orders", token=scenario.token())
    assert_allowed(r)
    assert not r.upstream.has("authorization")


def test_keep_token_true_forwards_authorization(fwd):
    t = scenario.token()
    r = fwd.request("GET", "/orders", token=t)
    assert_allowed(r)
    assert r.upstream.get("authorization") == f"Bearer {t}"


def test_anonymous_keeps_unrelated_authorization_scheme(seed):
    r = seed.request("GET", "/healthz", [("Authorization", "Basic dXNlcjpwYXNz")])
    # not a bearer token: no token was found, nothing to remove or validate
    assert_allowed(r)
    assert r.upstream.get("authorization") == "Basic dXNlcjpwYXNz"


# ------------------------------------------------------------------ claim encoding
def _b64_json(value):
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def test_claim_encodings(fwd):
    claims = dict(email="a@example.com", org={"id": "o-1", "tier": "gold"}, n=42, fl=1.5, b=True,
                  arr=["a", "b", 3], obj={"n": [1, 2], "k": "v"})
    r = fwd.request("GET", "/orders", token=scenario.token(**claims))
    assert_allowed(r)
    up = r.upstream
    assert up.get("x-jwt-sub") == "user-1"
    assert up.get("x-user-email") == "a@example.com"
    assert up.get("x-jwt-org") == "o-1"
    assert up.get("x-jwt-n") == "42"
    assert up.get("x-jwt-fl") == "1.5"
    assert up.get("x-jwt-b") == "true"
    assert up.get("x-jwt-arr") == "a,b,3"
    obj = up.get("x-jwt-obj")
    assert obj is not None and "{" not in obj and "=" not in obj, obj
    # compact JSON of the claim as issued: members in the issuer's order
    assert base64.urlsafe_b64decode(obj + "=" * (-len(obj) % 4)) == b'{"n":[1,2],"k":"v"}'
    assert _b64_json(obj) == {"k": "v", "n": [1, 2]}
    assert up.get("x-jwt-client") == "customer-portal"
    assert up.get("x-jwt-scopes") == "orders:read"
    assert up.get("x-jwt-audience") == "orders-api"


@pytest.mark.parametrize("arr", [["eng,admin", "x"], ["x", " admin"], ['"a', 'b"'], ["", "b"]],
                         ids=["comma", "padded", "quotes", "empty"])
def test_array_a_list_parser_would_misread_is_sent_as_json(fwd, arr):
    # joined, ["eng,admin", "x"] would reach the upstream as three groups, " admin" as admin
    r = fwd.request("GET", "/orders", token=scenario.token(arr=arr))
    assert_allowed(r)
    assert _b64_json(r.upstream.get("x-jwt-arr")) == arr


def test_absent_claim_sets_no_header(fwd):
    r = fwd.request("GET", "/orders", [("x-jwt-n", "spoof")], token=scenario.token())
    assert_allowed(r)
    assert not r.upstream.has("x-jwt-n") and not r.upstream.has("x-jwt-org")


@pytest.mark.parametrize(
    "value",
    ["line1\r\nx-injected: yes", "a\nb", "a\rb", "nul\u0000byte", "bell\u0007", "del\u007f"],
    ids=["crlf-injection", "lf", "cr", "nul", "bel", "del"],
)
def test_claim_with_control_characters_is_left_out(fwd, value):
    r = fwd.request("GET", "/orders", token=scenario.token(bad=value, email="ok@example.com"))
    assert_allowed(r)
    up = r.upstream
    assert not up.has("x-jwt-bad"), f"control characters forwarded: {up.all('x-jwt-bad')}"
    assert not up.has("x-injected")
    assert up.get("x-user-email") == "ok@example.com"
    still_serving(fwd)


def test_array_with_control_characters_is_left_out(fwd):
    r = fwd.request("GET", "/orders", token=scenario.token(arr=["a", "b\r\nx-injected: 1"]))
    assert_allowed(r)
    assert not r.upstream.has("x-jwt-arr") and not r.upstream.has("x-injected")


@pytest.mark.parametrize("size", [4097, 5000, 40 * 1024])
def test_claim_over_4kib_is_left_out(fwd, size):
    r = fwd.request("GET", "/orders", token=scenario.token(big="x" * size, email="ok@example.com"))
    assert_allowed(r)
    assert not r.upstream.has("x-jwt-big")
    assert r.upstream.get("x-user-email") == "ok@example.com"
    still_serving(fwd)


def test_claim_of_4kib_is_forwarded(fwd):
    r = fwd.request("GET", "/orders", token=scenario.token(big="y" * 4000))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-big") == "y" * 4000


def test_non_ascii_claim_is_forwarded_or_left_out_without_trap(fwd):
    r = fwd.request("GET", "/orders", token=scenario.token(email="J\u00fcrgen \u2603 \U0001f600"))
    assert_allowed(r)
    v = r.upstream.get("x-user-email")
    if v is not None:
        assert v.encode("latin-1").decode("utf-8") == "J\u00fcrgen \u2603 \U0001f600"
    still_serving(fwd)


def test_scopes_header_is_sorted_and_deduplicated(seed):
    r = seed.request("GET", "/orders", token=scenario.backoffice_token(scope="orders:write orders:read orders:write"))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "orders:read orders:write"
