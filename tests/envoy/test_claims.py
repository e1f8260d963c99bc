"""Registered claims: typ, iss, exp/nbf/iat, aud, scope (SPEC.md §1, §2; HOSTILE.md "Claims")."""

import pytest

import jwtkit
import scenario
from checks import assert_allowed, assert_forbidden, assert_invalid_token, still_serving
from scenario import ISS


@pytest.fixture(scope="module")
def at_jwt(start_envoy):
    env = start_envoy(scenario.seed_config(issuers=[scenario.seed_issuer(token_type="at+jwt")]))
    env.good_token = lambda: scenario.token(hdr={"typ": "at+jwt"})
    return env


@pytest.fixture(scope="module")
def plain_jwt(start_envoy):
    return start_envoy(scenario.seed_config(issuers=[scenario.seed_issuer(token_type="jwt")]))


@pytest.fixture(scope="module")
def no_lifetime(start_envoy):
    return start_envoy(scenario.seed_config(issuers=[scenario.seed_issuer(max_lifetime_seconds=...)]))


def tok(**claims):
    return scenario.token(**claims)


def denied_401(envoy, t, counter=None):
    before = envoy.counter(counter) if counter else 0
    r = envoy.request("GET", "/orders", token=t)
    assert_invalid_token(r)
    if counter:
        assert envoy.counter(counter) == before + 1, f"{counter} did not move"
    still_serving(envoy)


def ok(envoy, t):
    assert_allowed(envoy.request("GET", "/orders", token=t))


def now():
    return jwtkit.now()


# ------------------------------------------------------------------ typ
@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+JWT"])
def test_at_jwt_typ_accepted(at_jwt, typ):
    ok(at_jwt, scenario.token(hdr={"typ": typ}))


@pytest.mark.parametrize(
    "typ", ["JWT", ..., "jwt+at", "at+jwt ", "application/jwt", 1, None, ""],
    ids=["JWT", "missing", "reversed", "trailing-space", "app-jwt", "number", "null", "empty"],
)
def test_wrong_typ_with_token_type_at_jwt_is_401(at_jwt, typ):
    denied_401(at_jwt, scenario.token(hdr={"typ": typ}), "requests_denied_invalid_token")


@pytest.mark.parametrize("typ", [..., "JWT", "application/jwt"], ids=["missing", "JWT", "app-jwt"])
def test_token_type_jwt_accepts_jwt_or_absent(plain_jwt, typ):
    ok(plain_jwt, scenario.token(hdr={"typ": typ}))


def test_token_type_jwt_rejects_at_jwt(plain_jwt):
    denied_401(plain_jwt, scenario.token(hdr={"typ": "at+jwt"}))


@pytest.mark.parametrize("typ", ["JWT", ..., "at+jwt", "JOSE", "whatever", "dpop+jwt"],
                         ids=["JWT", "missing", "at+jwt", "JOSE", "whatever", "dpop+jwt"])
def test_token_type_any_ignores_typ(seed, typ):
    ok(seed, scenario.token(hdr={"typ": typ}))


# ------------------------------------------------------------------ iss
@pytest.mark.parametrize(
    "iss",
    [
        "https://IDP.example.com/", "https://idp.example.com", "https://idp.example.com//",
        "https://idp.example.com/ ", " https://idp.example.com/", "https://\u0456dp.example.com/",
        "https://idp.example.com/\u200b", "https://idp.example.com/x", "http://idp.example.com/",
    ],
    ids=["case", "no-trailing-slash", "double-slash", "trailing-space", "leading-space", "cyrillic-i",
         "zero-width-space", "longer", "http"],
)
def test_issuer_look_alike_is_unknown_issuer(seed, iss):
    denied_401(seed, tok(iss=iss), "requests_denied_unknown_issuer")


@pytest.mark.parametrize("iss", [..., 1, None, [ISS], {"iss": ISS}, True], ids=["missing", "number", "null", "array", "object", "bool"])
def test_issuer_missing_or_not_a_string_is_401(seed, iss):
    denied_401(seed, tok(iss=iss))


def test_token_of_another_configured_issuer_signed_with_seed_key_is_401(start_envoy):
    env = start_envoy(scenario.multi_issuer_config())
    denied_401(env, tok(iss=scenario.ISS_MULTI))


# ------------------------------------------------------------------ exp / nbf / iat
def test_expired_token_is_401(seed):
    denied_401(seed, tok(exp=now() - 3600, iat=now() - 7200, nbf=now() - 7200), "requests_denied_expired")


def test_expired_beyond_leeway_is_401(seed):
    denied_401(seed, tok(exp=now() - 75, iat=now() - 600, nbf=now() - 600), "requests_denied_expired")


def test_expired_within_leeway_is_allowed(seed):
    ok(seed, tok(exp=now() - 45, iat=now() - 600, nbf=now() - 600))


def test_exp_leeway_edge_minus_and_plus_two_seconds(seed):
    t = now()
    ok(seed, tok(exp=t - 58, iat=t - 600, nbf=t - 600))
    denied_401(seed, tok(exp=t - 63, iat=t - 600, nbf=t - 600), "requests_denied_expired")


def test_nbf_leeway_edge_minus_and_plus_two_seconds(seed):
    t = now()
    ok(seed, tok(nbf=t + 58))
    denied_401(seed, tok(nbf=t + 63), "requests_denied_not_yet_valid")


def test_not_yet_valid_is_401(seed):
    denied_401(seed, tok(nbf=now() + 3600), "requests_denied_not_yet_valid")


def test_nbf_beyond_leeway_is_401(seed):
    denied_401(seed, tok(nbf=now() + 75), "requests_denied_not_yet_valid")


def test_nbf_within_leeway_is_allowed(seed):
    ok(seed, tok(nbf=now() + 45))


def test_iat_in_the_future_beyond_leeway_is_401(seed):
    denied_401(seed, tok(iat=now() + 600))


def test_iat_within_leeway_is_allowed(seed):
    ok(seed, tok(iat=now() + 45))


def test_lifetime_too_long_is_401(seed):
    denied_401(seed, tok(iat=now() - 10, exp=now() + 86400))


def test_lifetime_at_limit_is_allowed(seed):
    t = now()
    ok(seed, tok(iat=t - 10, exp=t - 10 + 86400))


def test_missing_iat_with_max_lifetime_is_401(seed):
    denied_401(seed, tok(iat=...))


def test_missing_iat_without_max_lifetime_is_allowed(no_lifetime):
    ok(no_lifetime, tok(iat=...))


def test_missing_exp_is_401(seed):
    denied_401(seed, tok(exp=...), "requests_denied_invalid_token")
    denied_401(seed, tok(exp=..., iat=...))


@pytest.mark.parametrize(
    "exp",
    ["9999999999", None, -1, -(10**10), 1e308, 253402300800, 10**20, True, [9999999999], {"v": 1}, ""],
    ids=["string", "null", "negative", "very-negative", "1e308", "year-10000", "1e20", "bool", "array",
         "object", "empty-string"],
)
def test_exp_not_a_valid_number_is_401(no_lifetime, exp):
    denied_401(no_lifetime, tok(exp=exp))


def test_exp_at_year_9999_is_allowed(no_lifetime):
    ok(no_lifetime, tok(exp=253402300799))


def test_exp_fractional_is_truncated_and_allowed(seed):
    ok(seed, tok(exp=now() + 300.75))


def test_exp_fractional_in_the_past_is_expired(seed):
    denied_401(seed, tok(exp=now() - 3600.5, iat=now() - 7200, nbf=now() - 7200))


@pytest.mark.parametrize("claim", ["nbf", "iat"])
@pytest.mark.parametrize("value", ["0", None, -5, 1e308, [1]], ids=["string", "null", "negative", "1e308", "array"])
def test_nbf_iat_not_a_valid_number_is_401(no_lifetime, claim, value):
    denied_401(no_lifetime, tok(**{claim: value}))


def test_exp_zero_is_expired(no_lifetime):
    denied_401(no_lifetime, tok(exp=0, iat=..., nbf=...))


# ------------------------------------------------------------------ aud
@pytest.mark.parametrize(
    "aud",
    [..., [], "", "Orders-api", "orders-api/", " orders-api", ["Orders-api"], ["hr-api"], "hr-api", "orders"],
    ids=["missing", "empty-array", "empty-string", "case", "trailing-slash", "leading-space", "array-case",
         "other-trusted", "other-string", "prefix"],
)
def test_audience_not_accepted_is_401(seed, aud):
    denied_401(seed, tok(aud=aud), "requests_denied_audience_not_allowed")


@pytest.mark.parametrize("aud", [123, None, {"aud": "orders-api"}, [1], [["orders-api"]]],
                         ids=["number", "null", "object", "array-of-number", "nested-array"])
def test_audience_of_wrong_type_is_401(seed, aud):
    denied_401(seed, tok(aud=aud))


def test_audience_as_single_element_array_is_allowed(seed):
    r = seed.request("GET", "/orders", token=tok(aud=["orders-api"]))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-audience") == "orders-api"


def test_several_audiences_with_azp_are_allowed(seed):
    r = seed.request("GET", "/orders", token=tok(aud=["hr-api", "orders-api"]))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-audience") == "orders-api"


def test_several_audiences_without_azp_is_401(seed):
    denied_401(seed, tok(aud=["orders-api", "hr-api"], azp=..., client_id="customer-portal"),
               "requests_denied_audience_not_allowed")


def test_untrusted_extra_audience_is_401(seed):
    denied_401(seed, tok(aud=["orders-api", "evil-api"]), "requests_denied_audience_not_allowed")


# ------------------------------------------------------------------ scope
def test_scope_prefix_is_not_a_match(seed):
    r = seed.request("GET", "/orders", token=tok(scope="orders:readwrite"))
    assert_forbidden(r, scope="orders:read")
    r = seed.request("GET", "/orders", token=tok(scope="orders:rea"))
    assert_forbidden(r, scope="orders:read")
    still_serving(seed)


def test_scope_case_differs_is_403(seed):
    assert_forbidden(seed.request("GET", "/orders", token=tok(scope="ORDERS:READ")), scope="orders:read")


def test_scope_with_repeated_spaces_is_allowed(seed):
    r = seed.request("GET", "/orders", token=tok(scope="  profile   orders:read    email "))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "orders:read"


def test_no_scope_is_403_with_required_scope(seed):
    before = seed.counter("requests_denied_insufficient_scope")
    assert_forbidden(seed.request("GET", "/orders", token=tok(scope=...)), scope="orders:read")
    assert seed.counter("requests_denied_insufficient_scope") == before + 1


@pytest.mark.parametrize("scope", [42, None, {"orders:read": True}, True], ids=["number", "null", "object", "bool"])
def test_scope_of_wrong_type_is_denied(seed, scope):
    r = seed.request("GET", "/orders", token=tok(scope=scope))
    assert r.status in (401, 403) and r.upstream is None, r
    if r.status == 403:
        assert_forbidden(r, scope="orders:read")
    else:
        assert_invalid_token(r)
    still_serving(seed)


def test_scp_array_is_allowed(seed):
    r = seed.request("GET", "/orders", token=tok(scope=..., scp=["profile", "orders:read"]))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "orders:read"


def test_scp_array_with_non_string_does_not_trap(seed):
    r = seed.request("GET", "/orders", token=tok(scope=..., scp=["orders:read", 1, None, {"a": 1}]))
    assert r.status in (200, 401, 403), r
    still_serving(seed)
