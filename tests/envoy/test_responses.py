"""Response shape (SPEC.md §1 responses, §2): realm, describe_errors, descriptions that
name the check and never a token, claim value or key."""

import json

import pytest

import jwtkit
import scenario
from checks import (
    assert_forbidden,
    assert_invalid_request,
    assert_invalid_token,
    assert_missing_token,
    parse_challenge,
)


@pytest.fixture(scope="module")
def terse(start_envoy):
    return start_envoy(scenario.seed_config(responses={"realm": "orders", "describe_errors": False}))


@pytest.fixture(scope="module")
def default_realm(start_envoy):
    return start_envoy(scenario.seed_config(responses=...))


def test_describe_errors_false_missing_token(terse):
    assert_missing_token(terse.request("GET", "/orders"), describe=False)


def test_describe_errors_false_invalid_token(terse):
    assert_invalid_token(terse.request("GET", "/orders", token="a.b.c"), describe=False)
    assert_invalid_token(terse.request("GET", "/orders", token=scenario.token(exp=1000, iat=..., nbf=...)), describe=False)


def test_describe_errors_false_insufficient_scope(terse):
    r = terse.request("POST", "/orders", token=scenario.token(), body=b"")
    assert_forbidden(r, scope="orders:write", describe=False)
    assert_forbidden(terse.request("GET", "/orders", token=scenario.token(azp="evil")), describe=False)


def test_describe_errors_false_invalid_request(terse):
    assert_invalid_request(terse.request("GET", "/orders%2Fx"), describe=False)
    r = terse.request("GET", "/orders", [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")])
    assert_invalid_request(r, describe=False)


def test_realm_defaults_to_first_audience(default_realm):
    assert_missing_token(default_realm.request("GET", "/orders"), realm="orders-api")
    assert_invalid_token(default_realm.request("GET", "/orders", token="x.y.z"), realm="orders-api")


def test_deny_body_is_json_with_content_type(seed):
    r = seed.request("GET", "/orders")
    ct = r.header("content-type") or ""
    assert "json" in ct, f"content-type of a JSON body: {ct!r}"
    json.loads(r.body)


MARK = "leakmarker7f3a"


@pytest.mark.parametrize(
    "claims",
    [
        dict(iss=f"https://{MARK}.example.com/"),
        dict(aud=f"{MARK}-api"),
        dict(azp=f"{MARK}-client"),
        dict(scope=f"{MARK}:scope"),
        dict(exp=1000, iat=..., nbf=..., sub=MARK),
        dict(nbf=jwtkit.now() + 7200, sub=MARK),
    ],
    ids=["iss", "aud", "azp", "scope", "expired-sub", "nbf-sub"],
)
def test_description_never_names_a_claim_value(seed, claims):
    r = seed.request("GET", "/orders", token=scenario.token(**claims))
    assert r.status in (401, 403) and r.upstream is None, r
    text = r.body.decode("latin-1") + (r.www_authenticate or "")
    assert MARK not in text, f"claim value echoed: {text}"


def test_description_never_names_the_kid(seed):
    r = seed.request("GET", "/orders", token=scenario.token(hdr={"kid": MARK}))
    assert_invalid_token(r)
    assert MARK not in r.body.decode() + r.www_authenticate


def test_challenge_is_well_formed_for_every_row(seed):
    cases = [
        seed.request("GET", "/orders"),
        seed.request("GET", "/orders", token="a.b.c"),
        seed.request("GET", "/orders%2F1"),
        seed.request("POST", "/orders", token=scenario.token(), body=b""),
        seed.request("GET", "/orders", token=scenario.token(azp="evil")),
    ]
    for r in cases:
        params = parse_challenge(r.www_authenticate)
        desc = params.get("error_description", "")
        assert all(0x20 <= ord(c) < 0x7F for c in desc), f"non-printable description: {desc!r}"
