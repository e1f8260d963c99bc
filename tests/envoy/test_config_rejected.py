"""Configurations Envoy must refuse (SPEC.md §1: "Any error makes on_configure return
false, with one log line naming the JSON path and the problem"; HOSTILE.md "The VM and
the configuration")."""

import base64
import os
import json

import pytest

import jwtkit
import scenario
from conftest import check_rejected, start_outcome


def cfg_with(mutate):
    cfg = scenario.seed_config()
    mutate(cfg)
    return cfg


def _set(path, value):
    def m(cfg):
        obj = cfg
        for p in path[:-1]:
            obj = obj[p]
        if value is ...:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value
    return m


def _private_jwks(cfg):
    cfg["issuers"][0]["jwks"] = {"keys": [scenario.keys().rsa.private_jwk()]}


def _oct_jwks(cfg):
    cfg["issuers"][0]["jwks"] = {"keys": [scenario.keys().rsa.jwk(),
                                          {"kty": "oct", "kid": "h", "k": jwtkit.b64url(b"s" * 32)}]}


def _no_audience(cfg):
    del cfg["audiences"]


def _no_keys(cfg):
    del cfg["issuers"][0]["jwks"]


CASES = {
    # name: (mutation, text that the filter's log line must contain)
    "unknown-top-level-field": (_set(["audience"], ["x"]), "audience"),
    "unknown-issuer-field": (_set(["issuers", 0, "isuer"], "x"), "issuers[0]"),
    "unknown-rule-field": (_set(["rules", 1, "scope"], ["x"]), "rules[1]"),
    "unknown-match-field": (_set(["rules", 1, "match", "prefixx"], "/x"), "rules[1].match"),
    "unknown-forward-field": (_set(["forward", "keep_tokens"], True), "forward"),
    "unknown-token-source-field": (_set(["token", "sources"], [{"header": "authorization", "prefixx": "Bearer"}]),
                                   "token.sources[0]"),
    "missing-issuers": (_set(["issuers"], ...), "issuers"),
    "empty-issuers": (_set(["issuers"], []), "issuers"),
    "issuer-without-keys": (_no_keys, "issuers[0]"),
    "issuer-without-issuer": (_set(["issuers", 0, "issuer"], ...), "issuers[0].issuer"),
    "rule-without-audience": (_no_audience, "audiences: rules[1] is protected"),
    "rule-with-empty-audiences": (_set(["rules", 2, "audiences"], []), "rules[2].audiences"),
    # serde would read an array as the section's fields by position ([false] as
    # require_azp: false): every section must be an object.
    "multiple-audiences-as-array": (_set(["multiple_audiences"], [False]), "multiple_audiences"),
    "match-as-array": (_set(["rules", 1, "match"], ["/orders"]), "rules[1].match"),
    "forward-as-array": (_set(["forward"], [{"sub": "x-jwt-sub"}]), "forward"),
    "leeway-over-300": (_set(["issuers", 0, "leeway_seconds"], 301), "issuers[0].leeway_seconds"),
    "leeway-negative": (_set(["issuers", 0, "leeway_seconds"], -1), "issuers[0].leeway_seconds"),
    "leeway-string": (_set(["issuers", 0, "leeway_seconds"], "60"), "issuers[0].leeway_seconds"),
    "unknown-algorithm": (_set(["issuers", 0, "algorithms"], ["RS256", "RS257"]), "issuers[0].algorithms"),
    "algorithm-none": (_set(["issuers", 0, "algorithms"], ["none"]), "issuers[0].algorithms"),
    "jwks-private-member": (_private_jwks, "issuers[0].jwks"),
    "jwks-oct-key": (_oct_jwks, "issuers[0].jwks"),
    "jwks-bad-modulus": (_set(["issuers", 0, "jwks"], {"keys": [{"kty": "RSA", "kid": "x", "n": "!!", "e": "AQAB"}]}),
                         "issuers[0].jwks"),
    "jwks-not-an-object": (_set(["issuers", 0, "jwks"], [1, 2]), "issuers[0].jwks"),
    "bad-pem": (lambda c: (c["issuers"][0].pop("jwks"), c["issuers"][0].update(pem=["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"])),
                "issuers[0].pem"),
    "scopes-not-array": (_set(["rules", 2, "scopes"], "orders:write"), "rules[2].scopes"),
    "scopes-array-of-numbers": (_set(["rules", 2, "scopes"], [1]), "rules[2].scopes"),
    "bad-mode": (_set(["rules", 3, "mode"], "audit"), "rules[3].mode"),
    "bad-unmatched": (_set(["unmatched"], "maybe"), "unmatched"),
    # A name given as a one-member object, which serde's derived enums would also read.
    "unmatched-as-object": (_set(["unmatched"], {"allow": None}), "unmatched"),
    "mode-as-object": (_set(["rules", 3, "mode"], {"dry_run": None}), "rules[3].mode"),
    "bad-missing-audience": (_set(["missing_audience"], "maybe"), "missing_audience"),
    "bad-token-type": (_set(["issuers", 0, "token_type"], "at-jwt"), "issuers[0].token_type"),
    # An empty YAML key arrives as null: refused, not read as "absent" (which would
    # drop the requirement), whether the field is a list, an enum or a string.
    "any-scopes-null": (_set(["rules", 2, "any_scopes"], None), "rules[2].any_scopes"),
    "rule-clients-null": (_set(["rules", 2, "clients"], None), "rules[2].clients"),
    "mode-null": (_set(["rules", 3, "mode"], None), "rules[3].mode"),
    "trusted-null": (_set(["multiple_audiences", "trusted"], None), "multiple_audiences.trusted"),
    "claims-condition-two-operators": (_set(["rules", 3, "claims"], {"groups": {"equals": "a", "present": True}}),
                                       "rules[3].claims"),
    "claims-condition-unknown-operator": (_set(["rules", 3, "claims"], {"groups": {"contains": ["a"]}}),
                                          "rules[3].claims"),
    "max-bytes-string": (_set(["token", "max_bytes"], "8192"), "token.max_bytes"),
    "claims-empty-list": (_set(["rules", 3, "claims"], {"groups": []}), "rules[3].claims.groups"),
    # A null claim counts as absent, so a null condition could never hold (an empty YAML
    # key or list item arrives as null).
    "claims-condition-null": (_set(["rules", 3, "claims"], {"groups": None}), "rules[3].claims.groups"),
    "claims-list-with-null": (_set(["rules", 3, "claims"], {"groups": ["hr-staff", None]}),
                              "rules[3].claims.groups[1]"),
    "source-listed-twice": (_set(["token"], {"sources": [{"header": "authorization", "prefix": "Bearer"},
                                                         {"header": "authorization", "prefix": "bearer"}]}),
                            "token.sources[1]"),
    "prefix-not-one-word": (_set(["token"], {"sources": [{"header": "authorization", "prefix": "Bearer,"}]}),
                            "token.sources[0].prefix"),
    "rule-prefix-with-semicolon": (_set(["rules", 1, "match", "prefix"], "/orders;v=1"), "rules[1].match.prefix"),
    # A required scope goes into the WWW-Authenticate challenge: CR/LF would add a
    # header to the response, a quote break the challenge; a space could never match.
    "scope-with-crlf": (_set(["rules", 2, "scopes"], ["orders:x\r\nx-evil: 1"]), "rules[2].scopes[0]"),
    "scope-with-quote": (_set(["rules", 2, "scopes"], ['orders:"x']), "rules[2].scopes[0]"),
    "any-scope-with-space": (_set(["rules", 2, "any_scopes"], ["orders:read", "a b"]), "rules[2].any_scopes[1]"),
    "client-scope-with-backslash": (_set(["clients", "customer-portal", "orders-api"], ["orders\\read"]),
                                    "clients.customer-portal.orders-api[0]"),
    "remote-min-refetch-zero": (lambda c: (c["issuers"][0].pop("jwks"),
                                           c["issuers"][0].update(remote={"cluster": "idp", "uri": "http://idp/jwks",
                                                                          "min_refetch_seconds": 0})),
                                "issuers[0].remote.min_refetch_seconds"),
    # Output headers that would overwrite each other; a kept token that is stripped.
    "forward-claim-on-the-scopes-header": (_set(["forward", "claims"], {"scope": "x-jwt-scopes"}),
                                           "forward.claims.scope"),
    "keep-token-under-strip-prefix": (lambda c: (c.update(token={"sources": [{"header": "x-jwt-token"}]}),
                                                 c["forward"].update(keep_token=True)),
                                      "forward.keep_token"),
    # Output headers naming the host or framing the request (empty match lists:
    # test_policy_edges.py).
    "forward-claim-on-host": (_set(["forward", "claims"], {"tenant": "host"}), "forward.claims.tenant"),
    "strip-prefix-reaching-transfer-encoding": (_set(["forward", "strip_prefix"], "tr"), "forward.strip_prefix"),
    # ... or one Envoy sets and routes on: without x-forwarded-proto every request is 404.
    "strip-prefix-reaching-x-forwarded-proto": (_set(["forward", "strip_prefix"], "x-"), "forward.strip_prefix"),
    "forward-claim-on-xfcc": (_set(["forward", "claims"], {"sub": "x-forwarded-client-cert"}),
                              "forward.claims.sub"),
    # Rule paths that could never apply: a query (matched without it), or a twin of an
    # earlier rule's path that differs only by case (paths are also compared ignoring case)...
    "rule-path-with-query": (_set(["rules", 1, "match"], {"path": "/orders?x=1"}), "rules[1].match.path"),
    "rule-prefix-case-twin": (_set(["rules", 2, "match"], {"prefix": "/Orders"}), "rules[2].match.prefix"),
    # ... or one under an earlier rule's prefix (on the path alone) only when case is ignored.
    "rule-under-prefix-ignoring-case": (_set(["rules", 3, "match"], {"prefix": "/ORDERS/x"}),
                                        "rules[3].match.prefix"),
    # Two outputs one CGI upstream reads as the same header (`_` is `-` to it).
    "outputs-differing-by-underscore": (lambda c: c["forward"].update(client_header="x-jwt-a",
                                                                      claims={"sub": "x_jwt_a"}),
                                        "forward.claims.sub"),
    # Host patterns that could never match as written.
    "host-with-port": (_set(["rules", 1, "match", "hosts"], ["api.example.com:443"]), "rules[1].match.hosts[0]"),
    "host-star-inside": (_set(["rules", 1, "match", "hosts"], ["*.example.com", "api.*.com"]), "rules[1].match.hosts[1]"),
    "host-star-without-dot": (_set(["rules", 1, "match", "hosts"], ["*example.com"]), "rules[1].match.hosts[0]"),
}


@pytest.fixture(scope="module")
def outcomes(upstream):
    """Start Envoy for every bad config at once (each start takes ~1 s)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(name):
        cfg = scenario.seed_config()
        CASES[name][0](cfg)
        return name, start_outcome(cfg, upstream)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(pool.map(run, sorted(CASES)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_is_rejected(outcomes, name):
    check_rejected(outcomes[name], CASES[name][1])


def _hmac_cfg(secret_b64):
    cfg = scenario.seed_config()
    cfg["issuers"] = [{"issuer": scenario.ISS_HMAC, "hmac_secret_base64": secret_b64, "algorithms": ["HS256"]}]
    return cfg


def test_hmac_secret_under_32_bytes_is_rejected_without_logging_it(reject_config):
    secret = base64.b64encode(b"Q7xv3u1p9s0Kd2Lr8mTzC4yWfHgJbN6").decode()  # 31 bytes
    lines = reject_config(_hmac_cfg(secret), "issuers[0].hmac_secret_base64")
    assert secret not in lines and "Q7xv3u1p9s0Kd2" not in lines


def test_private_key_pasted_as_a_string_is_not_logged(reject_config):
    # A string where a list of PEMs is due: the shape error must not quote it.
    cfg = scenario.seed_config()
    del cfg["issuers"][0]["jwks"]
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
    cfg["issuers"][0]["pem"] = pem
    lines = reject_config(cfg, "issuers[0].pem")
    assert "PRIVATE" not in lines and "MIIEvQ" not in lines


def test_a_key_pasted_as_a_name_is_not_logged(reject_config):
    # serde's "unknown variant" quotes the value; the line must not.
    cfg = scenario.seed_config()
    cfg["issuers"][0]["token_type"] = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    lines = reject_config(cfg, "issuers[0].token_type")
    assert "MIIEvQ" not in lines


def test_hmac_secret_not_base64_is_rejected(reject_config):
    reject_config(_hmac_cfg("not base64 !!!"), "issuers[0].hmac_secret_base64")


def test_private_jwk_is_not_logged(reject_config):
    priv = scenario.keys().rsa.private_jwk()
    cfg = scenario.seed_config()
    cfg["issuers"][0]["jwks"] = {"keys": [priv]}
    lines = reject_config(cfg, "issuers[0].jwks")
    assert priv["d"][:24] not in lines


@pytest.mark.parametrize("raw", ["{", "", "[]", "null", '{"issuers": [}', "not json at all", '"a string"'])
def test_not_a_json_object_is_rejected(upstream, raw):
    from harness import Envoy, EnvoyStartError
    try:
        e = Envoy(raw, upstream, start_timeout=20)
    except EnvoyStartError as err:
        assert err.returncode not in (None, 0)
        wasm = [l for l in err.log.splitlines() if "wasm log" in l]
        assert wasm, "the filter logged nothing about the bad configuration"
    else:
        e.stop()
        raise AssertionError(f"config {raw!r} was accepted")


def test_duplicate_keys_in_config_are_rejected_or_ignored_consistently(upstream):
    # a config with a duplicated key must not silently take the weaker value: either
    # refuse it, or we at least see which value won by behaviour. Refusing is expected.
    from harness import Envoy, EnvoyStartError
    raw = json.dumps(scenario.seed_config())[:-1] + ', "unmatched": "allow"}'
    try:
        e = Envoy(raw, upstream, start_timeout=20)
    except EnvoyStartError:
        return
    try:
        r = e.request("GET", "/not-configured")
        assert r.status == 401, f"duplicate 'unmatched' silently weakened the policy: {r!r}"
    finally:
        e.stop()


def test_remote_without_algorithms_is_rejected(reject_config):
    cfg = scenario.seed_config()
    iss = cfg["issuers"][0]
    del iss["jwks"], iss["algorithms"]
    iss["remote"] = {"cluster": "idp", "uri": "https://idp.example.com/jwks.json"}
    reject_config(cfg, "issuers[0]")


def test_two_key_sources_or_none_is_handled(upstream):
    # jwks + pem on one issuer is allowed or rejected, but never a trap
    from harness import Envoy, EnvoyStartError
    cfg = scenario.seed_config()
    cfg["issuers"][0]["pem"] = [scenario.keys().pem_rsa.spki_pem()]
    try:
        e = Envoy(cfg, upstream, start_timeout=20)
    except EnvoyStartError as err:
        assert "issuers[0]" in err.log
        return
    try:
        assert e.request("GET", "/orders", token=scenario.token()).status == 200
    finally:
        e.stop()


def _with_raw_member(cfg: dict, field: str, tail: str) -> str:
    """The config as JSON text, with ``tail`` (raw JSON members) appended inside the
    object ``cfg[field]``: a dict cannot hold a member twice."""
    inner = cfg.pop(field)
    return json.dumps(cfg)[:-1] + f', "{field}": ' + json.dumps(inner)[:-1] + ", " + tail + "}}"


# A member given twice in a map or a raw JSON value was taken silently, the last copy
# winning: the client table below gave customer-portal every scope at orders-api (its
# token with orders:write could POST /orders), the claims below dropped the condition.
DUPLICATE_MEMBERS = {
    "client-given-twice": ("clients", '"customer-portal": {"orders-api": "*"}', "customer-portal"),
}


@pytest.mark.parametrize("name", sorted(DUPLICATE_MEMBERS))
def test_a_member_given_twice_is_rejected(reject_config, name):
    field, tail, member = DUPLICATE_MEMBERS[name]
    raw = _with_raw_member(scenario.seed_config(), field, tail)
    line = reject_config(raw, field)
    assert member in line, line


def test_a_forwarded_claim_given_twice_is_rejected(reject_config):
    raw = json.dumps(scenario.seed_config()).replace(
        '"claims": {"sub": "x-jwt-sub"}', '"claims": {"sub": "x-jwt-sub", "sub": "x-jwt-user"}')
    assert raw.count('"sub"') == 2
    line = reject_config(raw, "forward.claims")
    assert "sub" in line, line


def test_a_claim_condition_given_twice_is_rejected(reject_config):
    cfg = scenario.seed_config()
    rule = cfg["rules"][3]
    rule["mode"] = "enforce"
    raw = json.dumps(cfg).replace(
        '"claims": {"groups": {"contains_any": ["hr-staff"]}}',
        '"claims": {"groups": {"contains_any": ["hr-staff"]}, "groups": {"present": true}}',
    )
    assert raw.count('"groups"') == 2
    line = reject_config(raw, "rules[3].claims")
    assert "groups" in line, line
