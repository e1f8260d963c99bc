"""Assertions on what a request got, per SPEC.md §2."""

from __future__ import annotations

import json
import re
from typing import Optional

from harness import Envoy, Response
import scenario

_PARAM = re.compile(r'([A-Za-z_]+)="((?:[^"\\]|\\.)*)"')


def parse_challenge(value: str) -> dict:
    """Parse `Bearer realm="x", error="y", ...` strictly; returns the params (ordered)."""
    assert value.startswith("Bearer "), f"challenge must start with 'Bearer ': {value!r}"
    rest = value[len("Bearer "):]
    params: dict = {}
    pos = 0
    while True:
        m = _PARAM.match(rest, pos)
        assert m, f"malformed challenge at {rest[pos:]!r} in {value!r}"
        assert m.group(1) not in params, f"duplicate param {m.group(1)} in {value!r}"
        params[m.group(1)] = m.group(2)
        pos = m.end()
        if pos == len(rest):
            break
        assert rest[pos:pos + 2] == ", ", f"params must be separated by ', ': {value!r}"
        pos += 2
    assert list(params)[0] == "realm", f"realm must come first: {value!r}"
    return params


def assert_denied(
    r: Response,
    status: int,
    error: Optional[str],
    *,
    scope: Optional[str] = None,
    realm: str = scenario.REALM,
    describe: bool = True,
    body_error: Optional[str] = None,
) -> None:
    """A local deny: status, exact challenge params, JSON body, upstream not reached.

    ``error`` None means a challenge with only the realm (missing token; body error
    ``missing_token``).
    """
    assert r.status == status, f"expected {status} {error}, got {r!r}"
    assert r.upstream is None, f"a denied request reached the upstream: {r!r}"
    assert r.header("x-from-upstream") is None
    challenges = r.header_all("www-authenticate")
    assert len(challenges) == 1, f"expected one WWW-Authenticate, got {challenges!r}"
    params = parse_challenge(challenges[0])
    expected = {"realm": realm}
    if error is not None:
        expected["error"] = error
    if scope is not None:
        expected["scope"] = scope
    got = {k: v for k, v in params.items() if k != "error_description"}
    assert got == expected, f"challenge {challenges[0]!r}: expected params {expected}"
    if error is None:
        assert "error_description" not in params, f"no error => no error_description: {challenges[0]!r}"
    elif describe:
        assert params.get("error_description"), f"error_description missing: {challenges[0]!r}"
    else:
        assert "error_description" not in params, f"describe_errors=false: {challenges[0]!r}"
    try:
        body = json.loads(r.body)
    except ValueError:
        raise AssertionError(f"deny body is not JSON: {r.body[:200]!r}")
    assert isinstance(body, dict), f"deny body is not an object: {body!r}"
    want_error = body_error or error or "missing_token"
    assert body.get("error") == want_error, f"body error: expected {want_error!r}, got {body!r}"
    if describe:
        assert set(body) == {"error", "error_description"}, f"body keys: {body!r}"
        assert isinstance(body["error_description"], str) and body["error_description"], body
    else:
        assert set(body) == {"error"}, f"describe_errors=false: body {body!r}"


def assert_missing_token(r: Response, **kw) -> None:
    assert_denied(r, 401, None, **kw)


def assert_invalid_token(r: Response, **kw) -> None:
    assert_denied(r, 401, "invalid_token", **kw)


def assert_invalid_request(r: Response, **kw) -> None:
    assert_denied(r, 400, "invalid_request", **kw)


def assert_forbidden(r: Response, scope: Optional[str] = None, **kw) -> None:
    assert_denied(r, 403, "insufficient_scope", scope=scope, **kw)


def assert_allowed(r: Response) -> None:
    assert r.status == 200, f"expected 200 from upstream, got {r!r}"
    assert r.upstream is not None, f"200 but the upstream never saw it: {r!r}"


def assert_no_identity(r: Response, prefix: str = "x-jwt-") -> None:
    assert r.upstream is not None
    leaked = [k for k in r.upstream.names() if k.startswith(prefix)]
    assert not leaked, f"identity headers reached the upstream: {leaked}"


def still_serving(envoy: Envoy) -> None:
    """The VM did not trap: the next valid request still gets 200."""
    good = getattr(envoy, "good_token", None) or scenario.token
    r = envoy.request("GET", "/orders/1", token=good())
    assert_allowed(r)


def assert_unavailable(r: Response) -> None:
    """503 keys_unavailable (SPEC §2), and the upstream never saw the request."""
    assert r.status == 503, f"expected 503 keys_unavailable, got {r!r}"
    assert r.upstream is None
    assert r.json().get("error") == "temporarily_unavailable", r


def assert_vm_healthy(envoy) -> None:
    """Envoy is up and its log shows no wasm panic or failed VM."""
    assert envoy.alive()
    bad = [l for l in envoy.log().splitlines() if "panicked" in l or "Wasm VM failed" in l]
    assert not bad, bad
