"""HTTP edge cases on a real Envoy: request bodies (large, chunked, `Expect:
100-continue`), HEAD, absolute-form targets, CONNECT, WebSocket upgrades, cookies over
HTTP/2, the upstream being down, and what Envoy's access log keeps of a denied request.

The rule throughout: a rejected request never reaches the upstream (nor does its body),
an allowed one reaches it intact, with exactly the right headers."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import pytest

import harness
import parity
import scenario
from checks import (
    assert_allowed,
    assert_forbidden,
    assert_invalid_request,
    assert_missing_token,
    parse_challenge,
    still_serving,
)
from harness import TEST_ID_HEADER, raw_exchange as raw


def status_of(response: bytes) -> list:
    """The status codes of every response in ``response`` (a 100 Continue, then the final)."""
    return [int(line.split()[1]) for line in response.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def seen(upstream, tid: str):
    with upstream.lock:
        return upstream.by_id.pop(tid, None)


# ------------------------------------------------------------------ bodies
BIG = bytes(range(256)) * 4096  # 1 MiB, every byte value


def test_large_body_of_an_allowed_post_arrives_intact(seed):
    r = seed.request("POST", "/orders", token=scenario.backoffice_token(), body=BIG)
    assert_allowed(r)
    assert r.upstream.body == BIG
    assert r.upstream.get("x-jwt-client") == "backoffice"


def test_large_body_of_a_denied_post_never_reaches_the_upstream(seed, upstream):
    before = len(upstream.seen)
    assert_missing_token(seed.request("POST", "/orders", body=BIG))
    assert_forbidden(seed.request("POST", "/orders", token=scenario.token(), body=BIG), scope="orders:write")
    assert len(upstream.seen) == before
    still_serving(seed)


def _chunked(path: str, tid: str, token, chunks: list, expect: bool = False) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: api.example.com", "Transfer-Encoding: chunked",
            f"{TEST_ID_HEADER}: {tid}", "Connection: close"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if expect:
        head.append("Expect: 100-continue")
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_chunked_body_of_an_allowed_post_arrives_intact(seed, upstream):
    tid = uuid.uuid4().hex
    chunks = [b"a" * 10, BIG[:70000], b"z"]
    out = raw(seed, _chunked("/orders", tid, scenario.backoffice_token(), chunks))
    assert status_of(out) == [200], out[:300]
    got = seen(upstream, tid)
    assert got is not None and got.body == b"".join(chunks)
    assert not got.has("authorization")


def test_chunked_body_of_a_denied_post_never_reaches_the_upstream(seed, upstream):
    tid = uuid.uuid4().hex
    out = raw(seed, _chunked("/orders", tid, scenario.token(), [b"x" * 5000] * 20))
    assert status_of(out) == [403], out[:300]
    assert seen(upstream, tid) is None
    still_serving(seed)


def test_expect_100_continue_denied_is_answered_without_the_upstream(seed, upstream):
    # Envoy (proxy_100_continue off) answers 100 itself; the filter's 401 follows and the
    # body goes nowhere.
    tid = uuid.uuid4().hex
    head = (f"POST /orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5\r\n"
            f"Expect: 100-continue\r\n{TEST_ID_HEADER}: {tid}\r\n\r\n").encode()
    out = raw(seed, head + b"hello")
    assert status_of(out)[-1] == 401, out[:300]
    assert b'www-authenticate: Bearer realm="orders"' in out
    assert seen(upstream, tid) is None


def test_expect_100_continue_allowed_arrives_intact(seed, upstream):
    tid = uuid.uuid4().hex
    out = raw(seed, _chunked("/orders", tid, scenario.backoffice_token(), [b"payload"], expect=True))
    assert status_of(out)[-1] == 200, out[:300]
    got = seen(upstream, tid)
    assert got is not None and got.body == b"payload"
    assert not got.has("expect")  # Envoy answered it


# ------------------------------------------------------------------ the local reply
def test_head_denied_gets_the_challenge_and_no_body(seed):
    r = seed.request("HEAD", "/orders/1")
    assert r.status == 401 and r.upstream is None, r
    assert r.body == b""
    assert r.header_all("www-authenticate") == ['Bearer realm="orders"']
    assert r.header("content-type") == "application/json"
    # the same over a raw socket: nothing after the header block
    out = raw(seed, b"HEAD /orders/1 HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n")
    assert out.endswith(b"\r\n\r\n") and status_of(out) == [401], out


def test_local_reply_has_one_challenge_json_body_and_no_token(seed):
    t = scenario.token()
    r = seed.request("DELETE", "/orders/1", token=t)
    assert_forbidden(r, scope="orders:write")
    assert r.header_all("content-type") == ["application/json"]
    assert int(r.header("content-length")) == len(r.body)
    everything = json.dumps(r.headers) + r.body.decode()
    assert t not in everything and t.rsplit(".", 1)[-1] not in everything


def test_h2_local_reply_has_one_challenge(seed):
    r = seed.request_h2("POST", "/orders", [("Authorization", f"Bearer {scenario.token()}")])
    assert_forbidden(r, scope="orders:write")


# ------------------------------------------------------------------ request targets
def test_absolute_form_target_is_decided_on_its_path(seed, upstream):
    tid = uuid.uuid4().hex
    t = scenario.token()
    req = (f"GET http://api.example.com/orders/1 HTTP/1.1\r\nHost: api.example.com\r\n"
           f"Authorization: Bearer {t}\r\n{TEST_ID_HEADER}: {tid}\r\nConnection: close\r\n\r\n").encode()
    assert status_of(raw(seed, req)) == [200]
    got = seen(upstream, tid)
    assert got is not None and got.path == "/orders/1" and got.get("x-jwt-sub") == "user-1"
    tid = uuid.uuid4().hex
    req = (f"POST http://api.example.com/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n"
           f"Authorization: Bearer {t}\r\n{TEST_ID_HEADER}: {tid}\r\nConnection: close\r\n\r\n").encode()
    assert status_of(raw(seed, req)) == [403]
    assert seen(upstream, tid) is None


def test_connect_never_reaches_the_upstream(seed, upstream):
    # CONNECT has no :path; the filter cannot match it to a rule and refuses it (400).
    before = len(upstream.seen)
    for token in (None, scenario.token()):
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        out = raw(seed, f"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n{auth}\r\n".encode())
        assert status_of(out) == [400], out[:300]
    assert len(upstream.seen) == before
    still_serving(seed)


# ------------------------------------------------------------------ upgrades
@pytest.fixture(scope="module")
def ws(start_envoy):
    return start_envoy(scenario.seed_config(), hcm_extra={"upgrade_configs": [{"upgrade_type": "websocket"}]})


WS_HEADERS = [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
              ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]


def test_websocket_upgrade_without_token_is_denied_by_the_filter(ws):
    r = ws.request("GET", "/orders/1", WS_HEADERS)
    assert_missing_token(r)


def test_websocket_upgrade_with_token_reaches_the_upstream_with_identity(ws):
    r = ws.request("GET", "/orders/1", WS_HEADERS + [("x-jwt-sub", "admin")], token=scenario.token())
    assert r.upstream is not None, r
    assert r.upstream.get("upgrade") == "websocket"
    assert r.upstream.all("x-jwt-sub") == ["user-1"]
    assert not r.upstream.has("authorization")


# ------------------------------------------------------------------ cookies over HTTP/2
def _curl_has_http2():
    curl = shutil.which("curl")
    return bool(curl) and "HTTP2" in subprocess.run([curl, "--version"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def cookie_envoy(start_envoy):
    return start_envoy(scenario.seed_config(token={"sources": [{"cookie": "at"}]}))


@pytest.mark.skipif(not _curl_has_http2(), reason="curl with HTTP/2 support not available")
def test_h2_token_in_one_of_several_cookie_headers(cookie_envoy):
    r = cookie_envoy.request_h2("GET", "/orders/1", [("cookie", "a=1"), ("cookie", f"at={scenario.token()}"),
                                                     ("cookie", "b=2")])
    assert_allowed(r)
    assert r.upstream.get("x-jwt-sub") == "user-1"
    cookies = "; ".join(r.upstream.all("cookie"))
    assert "at=" not in cookies and "a=1" in cookies and "b=2" in cookies, cookies


@pytest.mark.skipif(not _curl_has_http2(), reason="curl with HTTP/2 support not available")
def test_h2_token_cookie_in_two_cookie_headers_is_400(cookie_envoy):
    t = scenario.token()
    r = cookie_envoy.request_h2("GET", "/orders/1", [("cookie", f"at={t}"), ("cookie", f"at={t}")])
    assert_invalid_request(r)


# ------------------------------------------------------------------ upstream down
class _Nowhere:
    """Stands in for the echo upstream: a port nothing listens on."""

    def __init__(self) -> None:
        self.port = harness.free_port()
        self.by_id: dict = {}
        import threading
        self.lock = threading.Lock()


def test_upstream_down_is_envoys_503_not_ours():
    e = harness.Envoy(scenario.seed_config(), _Nowhere())
    try:
        before = e.counters()
        r = e.request("GET", "/orders/1", token=scenario.token())
        assert r.status == 503, r
        assert r.header("www-authenticate") is None
        assert b"temporarily_unavailable" not in r.body
        assert e.counter("requests_allowed") == before.get("requests_allowed", 0) + 1
        assert_missing_token(e.request("GET", "/orders/1"))
    finally:
        e.stop()


# ------------------------------------------------------------------ access log
@pytest.fixture(scope="module")
def logged(start_envoy, tmp_path_factory):
    """Envoy with a plain access log writing the path (query included), Authorization
    and Cookie, as an operator's custom format might; every token source enabled."""
    cfg = scenario.seed_config(token={"sources": [{"header": "authorization", "prefix": "Bearer"},
                                                  {"query": "access_token"}, {"cookie": "at"}]})
    path = tmp_path_factory.mktemp("access") / "plain.log"
    e = start_envoy(cfg, hcm_extra={"access_log": [{
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": str(path),
            "log_format": {"text_format_source": {"inline_string":
                "%REQ(X-LOG-ID)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% auth=%REQ(AUTHORIZATION)% cookie=%REQ(COOKIE)% %RESPONSE_CODE%\n"}},
        },
    }]})
    e.plain_log = path
    return e


def _log_line(envoy, tid: str) -> str:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            for line in envoy.plain_log.read_text().splitlines():
                if line.startswith(tid + " "):
                    return line
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for {tid}")


def _with_token(path, where, token, tid):
    """`path` and headers carrying `token` in `where` (and the log id `tid`)."""
    headers = [("x-log-id", tid)]
    if where == "query":
        return f"{path}?x=1&access_token={token}", headers
    if where == "header":
        return path, headers + [("Authorization", f"Bearer {token}")]
    return path, headers + [("Cookie", f"a=1; at={token}")]


@pytest.mark.parametrize("where", ["query", "header", "cookie"])
def test_denied_request_leaves_no_token_in_the_access_log(logged, where):
    # A valid token on a request it does not authorize (403): the token is good
    # elsewhere, so it must not be kept in the request Envoy logs.
    t = scenario.token()
    tid = uuid.uuid4().hex
    path, headers = _with_token("/orders", where, t, tid)
    r = logged.request("POST", path, headers, body=b"x")
    assert_forbidden(r, scope="orders:write")
    line = _log_line(logged, tid)
    assert t not in line and t.rsplit(".", 1)[-1] not in line, line
    assert " 403" in line


@pytest.mark.parametrize("where", ["query", "header", "cookie"])
def test_allowed_request_leaves_no_token_in_the_access_log(logged, where):
    t = scenario.token()
    tid = uuid.uuid4().hex
    path, headers = _with_token("/orders/1", where, t, tid)
    assert_allowed(logged.request("GET", path, headers))
    line = _log_line(logged, tid)
    assert t not in line, line


# ------------------------------------------------------------------ route cache
# Envoy clears its route cache when the filter changes request headers, and the router
# picks the route again: routes that match on an output header (routing on the verified
# identity) then see the header the filter set, not a copy the client sent. But a
# `match.route` rule is decided on `xds.route_name` as Envoy picked it *before* the
# filter's changes, and that property stays stale after them (checked on Envoy 1.40:
# read again after the header writes, it still names the old route; the route is only
# picked again when the router asks for it). Known limitation, documented in the
# README; these tests fail (strict xfail) until it is solved.
ROUTE_CACHE_LIMITATION = pytest.mark.xfail(strict=True, reason=(
    "match.route is decided on the route Envoy picked before the filter's header changes; "
    "Envoy re-routes afterwards and the filter cannot observe it (README: routes and match.route)"))
ROUTED_BY_CLIENT = {"name": "local", "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
    {"name": "backoffice-route",
     "match": {"prefix": "/orders", "headers": [{"name": "x-jwt-client", "string_match": {"exact": "backoffice"}}]},
     "route": {"cluster": "upstream"}, "request_headers_to_add": [{"header": {"key": "x-route", "value": "backoffice"}}]},
    {"name": "default-route", "match": {"prefix": "/"}, "route": {"cluster": "upstream"},
     "request_headers_to_add": [{"header": {"key": "x-route", "value": "default"}}]},
]}]}


@pytest.fixture
def uncollected():
    """Requests explain parity cannot compare: the route-cache ones (parity takes the
    route name from the access log, the route taken in the end; the filter decided on
    the first one) and gRPC ones (Envoy answers a gRPC local reply with HTTP 200)."""
    with parity.not_collected():
        yield


@pytest.fixture(scope="module")
def routed(start_envoy):
    return start_envoy(scenario.seed_config(rules=[
        {"name": "backoffice-admin", "match": {"route": "backoffice-route"}, "scopes": ["orders:admin"]},
        {"name": "orders", "match": {"prefix": "/orders"}, "scopes": ["orders:read"]},
    ], clients={"customer-portal": {"orders-api": ["orders:read"]},
                "backoffice": {"orders-api": ["orders:read", "orders:admin"]}}),
        hcm_extra={"route_config": ROUTED_BY_CLIENT})


def test_spoofed_output_header_does_not_steer_routing(routed, uncollected):
    # Routing (finally) follows the identity the filter set, not the client's copy ...
    r = routed.request("GET", "/orders/1", [("x-jwt-client", "backoffice")],
                       token=scenario.backoffice_token(scope="orders:read orders:admin"))
    assert_allowed(r)
    assert r.upstream.all("x-route") == ["backoffice"]
    r = routed.request("GET", "/orders/1", [("x-jwt-client", "backoffice")], token=scenario.token())
    assert r.status == 200 or r.upstream is None, r  # (the decision: see the next test)
    if r.upstream is not None:
        assert r.upstream.all("x-route") == ["default"]
        assert r.upstream.all("x-jwt-client") == ["customer-portal"]


@ROUTE_CACHE_LIMITATION
def test_spoofed_output_header_does_not_steer_the_decision(routed, uncollected):
    # ... but the decision was taken for the route the spoofed header selected
    # (backoffice-route, needing orders:admin): a 403 for a request that goes to
    # default-route, where orders:read suffices. Fail closed, yet the wrong rule.
    r = routed.request("GET", "/orders/1", [("x-jwt-client", "backoffice")], token=scenario.token())
    assert_allowed(r)
    assert r.upstream.all("x-route") == ["default"]
    assert r.upstream.all("x-jwt-client") == ["customer-portal"]


@ROUTE_CACHE_LIMITATION
def test_route_rule_holds_for_the_route_taken_after_the_filters_headers(routed, uncollected):
    # Decided on default-route (rule "orders"), the request then goes to
    # backoffice-route, whose rule needs orders:admin: it must not get there without it.
    r = routed.request("GET", "/orders/1", token=scenario.backoffice_token())
    assert r.upstream is None or r.upstream.all("x-route") != ["backoffice"], r
    assert_forbidden(r, scope="orders:admin")
    ok = routed.request("GET", "/orders/1", token=scenario.backoffice_token(scope="orders:read orders:admin"))
    assert_allowed(ok)
    assert ok.upstream.all("x-route") == ["backoffice"]


# ------------------------------------------------------------------ sizes near Envoy's limits
def test_many_and_long_headers_beside_the_token(seed):
    # 60 extra headers and a 40 KiB value (Envoy's default limits: 100 headers, 60 KiB):
    # the token is still found, every other header arrives as sent.
    extra = [(f"x-pad-{i}", "v" * 100) for i in range(60)] + [("x-long", "L" * 40960)]
    r = seed.request("GET", "/orders/1", extra, token=scenario.token())
    assert_allowed(r)
    assert r.upstream.get("x-long") == "L" * 40960
    assert all(r.upstream.get(f"x-pad-{i}") == "v" * 100 for i in range(60))
    assert r.upstream.get("x-jwt-sub") == "user-1" and not r.upstream.has("authorization")


def test_token_over_max_bytes_near_envoys_limit_is_invalid_token(seed):
    t = scenario.token(pad="p" * 20000)  # ~27 KB: over max_bytes (8192), under Envoy's 60 KiB
    r = seed.request("GET", "/orders/1", token=t)
    assert r.status == 401 and r.upstream is None, r
    assert 'error="invalid_token"' in r.www_authenticate
    still_serving(seed)


# ------------------------------------------------------------------ h2 bodies, dry run
@pytest.mark.skipif(not _curl_has_http2(), reason="curl with HTTP/2 support not available")
def test_h2_denied_post_body_never_reaches_the_upstream(seed, upstream):
    before = len(upstream.seen)
    r = seed.request_h2("POST", "/orders", [("Authorization", f"Bearer {scenario.token()}"),
                                            ("content-type", "text/plain"), ("te", "trailers")])
    assert_forbidden(r, scope="orders:write")
    assert len(upstream.seen) == before


def test_dry_run_deny_forwards_the_body_intact(seed):
    # /hr is a dry-run rule: the request goes on, body and all, without the token.
    r = seed.request("POST", "/hr/x", token=scenario.token(), body=BIG[:100000])
    assert_allowed(r)
    assert r.upstream.body == BIG[:100000]
    assert not r.upstream.has("authorization")


@pytest.mark.skipif(not _curl_has_http2(), reason="curl with HTTP/2 support not available")
def test_grpc_request_gets_a_grpc_status_and_the_challenge(seed, uncollected):
    # Envoy turns a local reply to a gRPC request into a trailers-only response:
    # UNAUTHENTICATED (16) for a 401, PERMISSION_DENIED (7) for a 403; the challenge stays.
    # (HTTP status 200: explain's status cannot match, so parity leaves these out.)
    grpc = [("content-type", "application/grpc"), ("te", "trailers")]
    r = seed.request_h2("POST", "/orders/Svc/Method", grpc)
    assert r.upstream is None and r.header("grpc-status") == "16", r
    assert r.header_all("www-authenticate") == ['Bearer realm="orders"']
    r = seed.request_h2("POST", "/orders/Svc/Method", grpc + [("authorization", f"Bearer {scenario.token()}")])
    assert r.upstream is None and r.header("grpc-status") == "7", r
    assert parse_challenge(r.www_authenticate)["scope"] == "orders:write"
