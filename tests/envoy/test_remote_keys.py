"""Keys fetched at run time through an Envoy cluster (SPEC.md §1 remote/discovery, §2 503
row; HOSTILE.md "Keys fetched at run time"). A stand-in IdP on loopback serves the JWKS."""

import itertools
import json
import time

import pytest

import jwtkit
import scenario
from checks import (
    assert_allowed,
    assert_invalid_token,
    assert_missing_token,
    assert_unavailable,
    assert_vm_healthy,
)

_n = itertools.count()


@pytest.fixture
def launch(start_envoy, idp):
    """launch(body, status=200, delay=0, warm=True, **remote) -> (envoy, path).

    A fresh IdP path per Envoy. ``warm`` waits until the first fetch finished (ok or
    failed), so the test is not about the first-fetch wait.
    """

    def go(body, status=200, delay=0.0, kind="remote", warm=True, cut=False, **over):
        path = f"/t{next(_n)}/jwks.json"
        idp.set(path, body, status, delay, cut)
        env = start_envoy(scenario.remote_config(path, kind, **over), extra_clusters={"idp": idp.port})
        if warm:
            wait_first_fetch(env)
        return env, path

    return go


def wait_first_fetch(env, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if env.fetches_finished() >= 1:
            return
        time.sleep(0.05)
    raise AssertionError("no JWKS fetch finished within 5 s of start")


def K():
    return scenario.keys()


def test_remote_jwks_token_is_allowed_and_fetched_once(launch, idp):
    env, path = launch(jwtkit.jwks(K().rsa, K().ec))
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    assert_allowed(env.request("GET", "/orders", token=scenario.token(K().ec)))
    fetched = idp.count(path)
    assert 1 <= fetched <= 3, f"{fetched} fetches at start (one per process, one duplicate tolerated)"
    for i in range(20):
        assert_allowed(env.request("GET", "/orders", token=scenario.token(sub=f"u{i}")))
    assert idp.count(path) == fetched, "requests must not trigger fetches"
    assert env.counter("jwks_fetch_ok") >= 1


def test_first_request_waits_for_a_slow_fetch(launch):
    env, _ = launch(jwtkit.jwks(K().rsa), delay=0.7, timeout_ms=4000, warm=False)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    # decided twice (before and after the keys came), counted once
    c = env.counters()
    assert c.get("verify_cache_hits", 0) + c.get("verify_cache_misses", 0) == 1, c


def test_first_request_right_after_start_waits_for_the_fetch(launch):
    env, _ = launch(jwtkit.jwks(K().rsa), timeout_ms=4000, warm=False)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))


def test_request_body_waits_with_its_headers_for_the_keys(launch):
    # A request waiting for keys must not pass when its body arrives: pausing the
    # headers holds the body too (Envoy turns a wasm Pause into StopAllIteration).
    env, _ = launch(jwtkit.jwks(K().rsa), delay=0.8, timeout_ms=4000, warm=False)
    impostor = jwtkit.rsa_key(K().rsa.kid, "RS256")  # right kid, wrong key
    body = b'{"order": 42}' * 500
    r = env.request("POST", "/orders", token=scenario.token(impostor), body=body)
    assert_invalid_token(r)
    assert r.upstream is None


def test_request_body_follows_once_the_keys_allow_it(launch):
    env, _ = launch(jwtkit.jwks(K().rsa), delay=0.8, timeout_ms=4000, warm=False)
    body = b'{"order": 42}' * 500
    r = env.request("POST", "/orders", token=scenario.backoffice_token(), body=body)
    assert_allowed(r)
    assert r.upstream.body == body
    assert r.upstream.get("x-jwt-client") == "backoffice"


def test_first_request_gets_503_when_the_fetch_is_slower_than_timeout(launch):
    env, _ = launch(jwtkit.jwks(K().rsa), delay=2.5, timeout_ms=500, warm=False)
    t0 = time.monotonic()
    assert_unavailable(env.request("GET", "/orders", token=scenario.token()))
    assert time.monotonic() - t0 < 2.4, "the wait must be bounded by timeout_ms"
    # Envoy answers a callout whose timeout ran out with its own 504: logged as what it is.
    wait_first_fetch(env)
    assert "failed: timed out (504)" in env.log(), env.log()[-2000:]


def test_unknown_kid_triggers_a_refetch_and_waits(launch, idp):
    env, path = launch(jwtkit.jwks(K().rsa), min_refetch_seconds=1)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    new = jwtkit.rsa_key("k2", "RS256")
    idp.set(path, jwtkit.jwks(K().rsa, new))
    before = idp.count(path)
    assert_allowed(env.request("GET", "/orders", token=scenario.token(new)))
    assert idp.count(path) == before + 1


def wait_for_fetch(idp, path, after, timeout=8.0):
    deadline = time.monotonic() + timeout
    while idp.count(path) <= after:
        assert time.monotonic() < deadline, "no fetch started"
        time.sleep(0.02)


def test_new_kid_during_a_slow_periodic_fetch_gets_its_own_refetch(launch, idp):
    # The periodic fetch under way began before the identity provider added the key:
    # its answer cannot hold it, so the request waits for a refetch of its own.
    old, new = jwtkit.rsa_key(f"o{next(_n)}", "RS256"), jwtkit.rsa_key(f"n{next(_n)}", "RS256")
    env, path = launch(jwtkit.jwks(old), refresh_seconds=2, min_refetch_seconds=1, timeout_ms=3000)
    idp.set(path, jwtkit.jwks(old), delay=1.2)
    wait_for_fetch(idp, path, idp.count(path))
    idp.set(path, jwtkit.jwks(old, new))
    assert_allowed(env.request("GET", "/orders", token=scenario.token(new, sub="first")))


def test_keys_refresh_every_refresh_seconds_even_with_a_long_timeout(launch, idp):
    # The fetch lease (held up to timeout_ms) ends with the fetch, not after timeout_ms.
    env, path = launch(jwtkit.jwks(K().rsa), refresh_seconds=1, timeout_ms=4000)
    start = idp.count(path)
    time.sleep(4.5)
    assert idp.count(path) - start >= 3, f"{idp.count(path) - start} fetches in 4.5 s with refresh_seconds 1"


def test_unknown_kid_flood_refetches_at_most_once_per_interval(launch, idp):
    env, path = launch(jwtkit.jwks(K().rsa), min_refetch_seconds=60)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    before = idp.count(path)
    for i in range(15):
        t = jwtkit.sign({"alg": "RS256", "kid": f"flood-{i}"}, scenario.payload(), K().rsa, "RS256")
        assert_invalid_token(env.request("GET", "/orders", token=t))
    assert idp.count(path) - before <= 1, f"{idp.count(path) - before} refetches for a flood of unknown kids"
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))


def test_keys_unavailable_is_503(launch):
    env, _ = launch("boom", status=500, timeout_ms=1000)
    before = env.counter("requests_denied_keys_unavailable")
    t0 = time.monotonic()
    r = env.request("GET", "/orders", token=scenario.token())
    assert_unavailable(r)
    assert r.www_authenticate is None or "error=" not in r.www_authenticate, r
    assert time.monotonic() - t0 < 5, "the wait must be bounded by timeout_ms"
    assert env.counter("requests_denied_keys_unavailable") == before + 1
    assert env.counter("jwks_fetch_failed") >= 1
    # no token: no keys needed
    assert_missing_token(env.request("GET", "/orders"))
    # The log says what the failure means here: there were never keys to keep.
    assert "no usable keys" in env.log() and "keeping the last good keys" not in env.log()


@pytest.mark.parametrize(
    "body",
    ["", "not json", '{"keys": 5}', "[]", '{"keys": [{"kty": "RSA"}]}', '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'],
    ids=["empty", "not-json", "keys-number", "array", "rsa-without-n", "only-oct"],
)
def test_unusable_jwks_body_is_503_without_trap(launch, body):
    env, _ = launch(body, timeout_ms=1000)
    r = env.request("GET", "/orders", token=scenario.token())
    assert r.status in (503, 401) and r.upstream is None, r
    assert env.alive()
    assert_missing_token(env.request("GET", "/orders"))


def test_jwks_over_one_mib_is_refused_without_trap(launch):
    # a valid key set padded past the 1 MiB cap: refused as a whole, never parsed
    body = dict(jwtkit.jwks(K().rsa), pad="x" * (1024 * 1024))
    env, _ = launch(body, timeout_ms=2000)
    assert_unavailable(env.request("GET", "/orders", token=scenario.token()))
    assert env.counter("jwks_fetch_failed") >= 1 and env.counter("jwks_fetch_ok") == 0
    assert env.alive()


def test_fetched_jwks_with_a_repeated_member_is_refused(launch):
    # Which of two "keys" counts would depend on the parser: refused whole, as a token is.
    good = json.dumps(jwtkit.jwks(K().rsa)["keys"])
    env, _ = launch('{"keys": [], "keys": %s}' % good, timeout_ms=1000)
    assert_unavailable(env.request("GET", "/orders", token=scenario.token()))
    assert env.counter("jwks_fetch_failed") >= 1 and env.counter("jwks_fetch_ok") == 0


def test_fetched_jwks_skips_private_and_oct_keys(launch):
    body = {"keys": [K().rsa.private_jwk(), {"kty": "oct", "kid": "h", "k": jwtkit.b64url(b"s" * 32)},
                     {"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"}, K().ec.jwk()]}
    env, _ = launch(body)
    assert_allowed(env.request("GET", "/orders", token=scenario.token(K().ec)))
    r = env.request("GET", "/orders", token=scenario.token())
    assert_invalid_token(r)
    hs = jwtkit.sign({"alg": "HS256", "kid": "h"}, scenario.payload(), b"s" * 32, "HS256")
    assert_invalid_token(env.request("GET", "/orders", token=hs))


@pytest.mark.parametrize("quirk", [
    '"kid": "q", "kid": "q2"',            # a member twice: which kid counts is unclear
    '"x5t_serial": 18446744073709551616',  # a number beyond I-JSON's range
    '"ext": ' + "[" * 40 + "]" * 40,       # nesting beyond the limit
    '"ext": ' + "[" * 200 + "]" * 200,     # beyond the JSON parser's own limit
    '"exp": 1e400',                        # beyond f64: the parser refuses it
    '"x5t": "\\ud800"',                   # a lone surrogate
], ids=["member-twice", "huge-number", "deep", "deeper", "beyond-f64", "lone-surrogate"])
def test_fetched_jwks_skips_one_key_that_is_not_strict_json(launch, quirk):
    # HOSTILE: one bad key among good ones — skip it, do not refuse the whole set (that
    # the bad key itself is skipped: src/remote.rs unit tests). A quirk outside `keys`
    # is not read at all.
    good = json.dumps(jwtkit.jwks(K().rsa)["keys"][0])
    bad = good[:-1] + ", " + quirk + "}"
    body = '{"keys": [%s, %s], "serial": 18446744073709551616}' % (bad, good)
    env, _ = launch(body)
    assert env.counter("jwks_fetch_ok") >= 1
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))


def test_idp_down_after_good_fetch_keeps_last_keys(launch, idp):
    env, path = launch(jwtkit.jwks(K().rsa), min_refetch_seconds=1, timeout_ms=1000)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    idp.set(path, "down", status=503)
    t = jwtkit.sign({"alg": "RS256", "kid": "rotated"}, scenario.payload(), K().rsa, "RS256")
    r = env.request("GET", "/orders", token=t)
    assert r.status == 401 and r.upstream is None, r
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))


def test_reset_in_the_middle_of_the_body_is_a_failed_fetch_not_a_trap(launch, idp):
    # Envoy reports a callout that failed after its headers with no response at all;
    # reading that response's headers then fails, and the SDK would panic on it.
    env, path = launch(jwtkit.jwks(K().rsa), refresh_seconds=1, timeout_ms=1000)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    failed = env.counter("jwks_fetch_failed")
    idp.set(path, jwtkit.jwks(K().rsa), cut=True)
    deadline = time.monotonic() + 6
    while env.counter("jwks_fetch_failed") < failed + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert env.counter("jwks_fetch_failed") >= failed + 2, "the cut responses were not counted as failed fetches"
    assert "keeping the last good keys" in env.log()
    assert_allowed(env.request("GET", "/orders", token=scenario.token(sub="after")))
    assert_vm_healthy(env)


def test_first_fetch_reset_mid_body_is_503_not_a_trap(launch):
    env, _ = launch(jwtkit.jwks(K().rsa), cut=True, timeout_ms=1000)
    assert_unavailable(env.request("GET", "/orders", token=scenario.token()))
    assert_vm_healthy(env)


def test_unknown_cluster_is_503_not_a_trap(launch):
    env, _ = launch(jwtkit.jwks(K().rsa), cluster="no-such-cluster", timeout_ms=1000)
    r = env.request("GET", "/orders", token=scenario.token())
    assert_unavailable(r)
    assert env.alive()


@pytest.mark.parametrize("failure", ["unknown-cluster", "status-500"])
def test_no_fetch_under_way_means_503_at_once(launch, failure):
    # After a failed fetch the next one waits out a back-off: a request without keys has
    # nothing to wait for, so it is answered at once rather than after its timeout_ms.
    over = {"cluster": "no-such-cluster"} if failure == "unknown-cluster" else {"status": 500}
    env, _ = launch(jwtkit.jwks(K().rsa) if failure == "unknown-cluster" else "down", timeout_ms=5000, **over)
    for i in range(3):
        t0 = time.monotonic()
        assert_unavailable(env.request("GET", "/orders", token=scenario.token(sub=f"n{i}")))
        assert time.monotonic() - t0 < 1.0, f"held {time.monotonic() - t0:.2f} s with no fetch under way"


@pytest.mark.parametrize("names_issuer", [True, False], ids=["issuer", "no-issuer"])
def test_discovery_document_then_jwks(start_envoy, idp, names_issuer):
    # A minimal document without `issuer` is read for its jwks_uri (README, issuers).
    n = next(_n)
    jwks_path = f"/d{n}/jwks.json"
    disc_path = f"/d{n}/.well-known/openid-configuration"
    idp.set(jwks_path, jwtkit.jwks(K().rsa))
    document = {"jwks_uri": f"http://idp.example.com{jwks_path}"}
    if names_issuer:
        document["issuer"] = scenario.ISS
    idp.set(disc_path, document)
    env = start_envoy(scenario.remote_config(disc_path, "discovery"), extra_clusters={"idp": idp.port})
    wait_first_fetch(env)
    assert_allowed(env.request("GET", "/orders", token=scenario.token()))
    assert idp.count(jwks_path) >= 1


def test_discovery_with_wrong_issuer_is_not_trusted(start_envoy, idp):
    n = next(_n)
    jwks_path = f"/e{n}/jwks.json"
    disc_path = f"/e{n}/.well-known/openid-configuration"
    idp.set(jwks_path, jwtkit.jwks(K().rsa))
    idp.set(disc_path, {"issuer": "https://evil.example.com/", "jwks_uri": f"http://idp.example.com{jwks_path}"})
    env = start_envoy(scenario.remote_config(disc_path, "discovery", timeout_ms=1000), extra_clusters={"idp": idp.port})
    r = env.request("GET", "/orders", token=scenario.token())
    assert r.status in (503, 401) and r.upstream is None, r
    assert idp.count(jwks_path) == 0, "jwks_uri of a discovery document for another issuer was fetched"


@pytest.mark.parametrize("order", ["named-first", "other-first"])
def test_two_issuers_with_one_discovery_document_do_not_share_its_keys(start_envoy, idp, order):
    # The document names one issuer: only that issuer gets the keys it leads to. The
    # other issuer, configured with the same document, never trusts them (its tokens,
    # signed by the same key, get 503), and its failure does not hold up the first.
    n = next(_n)
    jwks_path = f"/s{n}/jwks.json"
    disc_path = f"/s{n}/.well-known/openid-configuration"
    idp.set(jwks_path, jwtkit.jwks(K().rsa))
    idp.set(disc_path, {"issuer": scenario.ISS, "jwks_uri": f"http://idp.example.com{jwks_path}"})
    cfg = scenario.remote_config(disc_path, "discovery", timeout_ms=1000)
    other_iss = "https://other.idp.example.com/"
    other = dict(cfg["issuers"][0], issuer=other_iss)
    cfg["issuers"] = [cfg["issuers"][0], other] if order == "named-first" else [other, cfg["issuers"][0]]
    env = start_envoy(cfg, extra_clusters={"idp": idp.port})
    wait_first_fetch(env)
    for _ in range(4):
        assert_allowed(env.request("GET", "/orders", token=scenario.token()))
        assert_unavailable(env.request("GET", "/orders", token=scenario.token(iss=other_iss)))
        time.sleep(0.3)
