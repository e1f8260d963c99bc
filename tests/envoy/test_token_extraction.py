"""Finding the one token (SPEC.md §1 token.sources; HOSTILE.md "Finding the token")."""

import pytest

import scenario
from checks import (
    assert_allowed,
    assert_invalid_request,
    assert_invalid_token,
    assert_missing_token,
    assert_no_identity,
    still_serving,
)

SOURCES = [
    {"header": "authorization", "prefix": "Bearer"},
    {"query": "access_token"},
    {"cookie": "at"},
]


@pytest.fixture(scope="module")
def multi_source(start_envoy):
    return start_envoy(scenario.seed_config(token={"sources": SOURCES, "max_bytes": 1024}))


# ------------------------------------------------------------------ scheme grammar
@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(seed, scheme):
    r = seed.request("GET", "/orders", [("Authorization", f"{scheme} {scenario.token()}")])
    assert_allowed(r)


@pytest.mark.parametrize("spaces", [2, 5])
def test_several_spaces_after_bearer_are_accepted(seed, spaces):
    r = seed.request("GET", "/orders", [("Authorization", "Bearer" + " " * spaces + scenario.token())])
    assert_allowed(r)


def test_prefix_written_with_its_space_names_the_scheme(start_envoy):
    # `"Bearer "`, as jwt_authn's value_prefix is written (README, token.sources)
    sources = [{"header": "authorization", "prefix": "Bearer "}]
    e = start_envoy(scenario.seed_config(token={"sources": sources}))
    for value in (f"Bearer {scenario.token()}", f"bearer   {scenario.token()}"):
        assert_allowed(e.request("GET", "/orders", [("Authorization", value)]))
    assert_missing_token(e.request("GET", "/orders", [("Authorization", "Basic dTpw")]))


def test_basic_scheme_is_missing_token(seed):
    r = seed.request("GET", "/orders", [("Authorization", "Basic dXNlcjpwYXNzd29yZA==")])
    assert_missing_token(r)
    still_serving(seed)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Bearer", id="bearer-alone"),
        pytest.param("Bearer ", id="bearer-space"),
        pytest.param("Bearer     ", id="bearer-only-spaces"),
        pytest.param("Bearer\t", id="bearer-tab"),
    ],
)
def test_bearer_with_nothing_is_invalid_token(seed, value):
    r = seed.request("GET", "/orders", [("Authorization", value)])
    assert_invalid_token(r)
    still_serving(seed)


def test_bearer_tab_token_is_invalid_token(seed):
    r = seed.request("GET", "/orders", [("Authorization", "Bearer\t" + scenario.token())])
    assert_invalid_token(r)
    still_serving(seed)


def test_trailing_garbage_after_token_is_invalid_token(seed):
    r = seed.request("GET", "/orders", [("Authorization", f"Bearer {scenario.token()} garbage")])
    assert_invalid_token(r)
    still_serving(seed)


def test_second_word_token_is_invalid_token(seed):
    r = seed.request("GET", "/orders", [("Authorization", f"Bearer {scenario.token()} {scenario.token()}")])
    assert_invalid_token(r)
    still_serving(seed)


def test_token_glued_to_bearer_is_not_accepted(seed):
    r = seed.request("GET", "/orders", [("Authorization", "Bearer" + scenario.token())])
    assert r.status == 401 and r.upstream is None, r
    still_serving(seed)


# ------------------------------------------------------------------ more than one token
def test_two_authorization_headers_is_400(seed):
    before = seed.counter("requests_denied_multiple_tokens")
    r = seed.request(
        "GET", "/orders",
        [("Authorization", f"Bearer {scenario.token()}"), ("Authorization", f"Bearer {scenario.token()}")],
    )
    assert_invalid_request(r)
    assert seed.counter("requests_denied_multiple_tokens") == before + 1
    still_serving(seed)


def test_same_token_twice_is_still_400(seed):
    t = scenario.token()
    r = seed.request("GET", "/orders", [("Authorization", f"Bearer {t}"), ("Authorization", f"Bearer {t}")])
    assert_invalid_request(r)


def test_comma_joined_credentials_is_400(seed):
    r = seed.request("GET", "/orders", [("Authorization", f"Bearer {scenario.token()},Bearer {scenario.token()}")])
    assert_invalid_request(r)
    still_serving(seed)


def test_second_header_with_other_scheme_is_400(seed):
    r = seed.request(
        "GET", "/orders", [("Authorization", f"Bearer {scenario.token()}"), ("Authorization", "Basic Zm9vOmJhcg==")]
    )
    assert r.status in (400, 401) and r.upstream is None, r
    still_serving(seed)


def test_token_in_header_and_query_is_400(multi_source):
    t = scenario.token()
    r = multi_source.request("GET", f"/orders?access_token={t}", token=scenario.token())
    assert_invalid_request(r)
    still_serving(multi_source)


def test_rfc_6750_query_token_beside_the_header_is_400_even_unconfigured(seed):
    # The seed config reads only the Authorization header; a client that also puts a
    # token in `access_token` (RFC 6750 §2.3) sends two credentials all the same.
    r = seed.request("GET", f"/orders?access_token={scenario.token()}", token=scenario.token())
    assert_invalid_request(r)
    # Alone it is not a source here: no token.
    r = seed.request("GET", f"/orders?access_token={scenario.token()}")
    assert r.status == 401 and r.upstream is None, r


def test_token_in_header_and_cookie_is_400(multi_source):
    r = multi_source.request("GET", "/orders", [("Cookie", f"at={scenario.token()}")], token=scenario.token())
    assert_invalid_request(r)


def test_token_in_query_and_cookie_is_400(multi_source):
    r = multi_source.request("GET", f"/orders?access_token={scenario.token()}", [("Cookie", f"at={scenario.token()}")])
    assert_invalid_request(r)


# ------------------------------------------------------------------ query / cookie sources
def test_query_token_is_allowed_and_removed(multi_source):
    t = scenario.token()
    r = multi_source.request("GET", f"/orders/7?x=1&access_token={t}&y=2")
    assert_allowed(r)
    assert r.upstream.get("x-jwt-sub") == "user-1"
    assert t not in r.upstream.path, f"keep_token=false must remove the query token: {r.upstream.path}"
    assert r.upstream.path.startswith("/orders/7")
    assert "x=1" in r.upstream.path and "y=2" in r.upstream.path


def test_cookie_token_is_allowed_and_removed(multi_source):
    t = scenario.token()
    r = multi_source.request("GET", "/orders", [("Cookie", f"theme=dark; at={t}; lang=en")])
    assert_allowed(r)
    assert r.upstream.get("x-jwt-client") == "customer-portal"
    assert all(t not in v for _, v in r.upstream.headers), "keep_token=false must remove the cookie token"


def test_query_token_invalid_is_401(multi_source):
    r = multi_source.request("GET", "/orders?access_token=not.a.token")
    assert_invalid_token(r)
    still_serving(multi_source)


def test_other_cookie_only_is_missing_token(multi_source):
    r = multi_source.request("GET", "/orders", [("Cookie", "theme=dark; atx=1")])
    assert_missing_token(r)


# ------------------------------------------------------------------ size cap
def test_token_over_max_bytes_is_invalid_token(multi_source):
    t = scenario.token(pad="x" * 1200)
    assert len(t) > 1024
    r = multi_source.request("GET", "/orders", token=t)
    assert_invalid_token(r)
    still_serving(multi_source)


def test_token_under_max_bytes_is_allowed(multi_source):
    t = scenario.token(scenario.keys().ec)
    assert len(t) < 1024
    assert_allowed(multi_source.request("GET", "/orders", token=t))


def test_default_max_bytes_8192(seed):
    t = scenario.token(pad="x" * 9000)
    r = seed.request("GET", "/orders", token=t)
    assert_invalid_token(r)
    t = scenario.token(pad="x" * 5000)
    assert len(t) < 8192
    assert_allowed(seed.request("GET", "/orders", token=t))


def test_huge_authorization_header_does_not_trap(seed):
    r = seed.request("GET", "/orders", [("Authorization", "Bearer " + "A" * 50000)])
    assert r.status in (401, 431) and r.upstream is None, r
    still_serving(seed)


# ------------------------------------------------------------------ non-UTF-8 bytes
def test_non_utf8_authorization_is_invalid_token(seed):
    r = seed.request("GET", "/orders", [("Authorization", b"Bearer \xff\xfe.\xff.\xff")])
    assert_invalid_token(r)
    still_serving(seed)


def test_non_utf8_in_token_segment_is_invalid_token(seed):
    t = scenario.token().encode()
    r = seed.request("GET", "/orders", [("Authorization", b"Bearer " + t[:10] + b"\xff" + t[10:])])
    assert_invalid_token(r)
    still_serving(seed)


def test_non_utf8_in_unrelated_header_does_not_trap(seed):
    r = seed.request("GET", "/orders", [("X-Other", b"\xff\xfe\xfd"), ("User-Agent", b"caf\xe9")], token=scenario.token())
    assert_allowed(r)
    still_serving(seed)


def test_non_utf8_in_spoofed_identity_header_is_removed(seed):
    r = seed.request("GET", "/healthz", [("x-jwt-sub", b"\xff\xff"), ("x-jwt-client", b"\xc3\x28")])
    assert_allowed(r)
    assert_no_identity(r)
    still_serving(seed)


def test_non_utf8_cookie_and_query_do_not_trap(multi_source):
    r = multi_source.request("GET", "/orders?q=%FF%FE", [("Cookie", b"a=\xff; at=\xfe")])
    assert r.status in (400, 401) and r.upstream is None, r
    still_serving(multi_source)


def test_our_cookie_in_a_non_utf8_cookie_header_is_not_overlooked(multi_source):
    # a valid bearer token plus our cookie in a header with a non-UTF-8 byte: two
    # credentials, never "one token" with the cookie forwarded unseen
    t = scenario.token()
    r = multi_source.request("GET", "/orders", [("Authorization", f"Bearer {t}"),
                                                ("Cookie", b"at=abc.def.ghi; x=\xff")])
    assert_invalid_request(r)
    r = multi_source.request("GET", "/orders", [("Cookie", b"at=abc.def.ghi; x=\xff")])
    assert_invalid_token(r)
    # a non-UTF-8 cookie that is not ours changes nothing
    assert_allowed(multi_source.request("GET", "/orders", [("Authorization", f"Bearer {t}"),
                                                            ("Cookie", b"x=\xff")]))


def test_non_utf8_path_does_not_trap(seed):
    r = seed.request("GET", "/orders/%FF%FE", token=scenario.token())
    # either allowed (an opaque segment) or refused; never a trap
    assert r.status in (200, 400), r
    still_serving(seed)


def test_two_query_tokens_is_400(multi_source):
    r = multi_source.request("GET", f"/orders?access_token={scenario.token()}&access_token={scenario.token()}")
    assert_invalid_request(r)


def test_query_names_are_compared_percent_decoded(multi_source, seed):
    # `access%5Ftoken` is `access_token` to an upstream that decodes names: it is the
    # token (and removed), or a second one next to the plain name, never passed on unseen.
    t = scenario.token()
    r = multi_source.request("GET", f"/orders/7?x=1&access%5Ftoken={t}")
    assert_allowed(r)
    assert t not in r.upstream.path, r.upstream.path
    r = multi_source.request("GET", f"/orders?access_token={scenario.token()}&access%5ftoken={scenario.token()}")
    assert_invalid_request(r)
    r = seed.request("GET", f"/orders?access%5Ftoken={scenario.token()}", token=scenario.token())
    assert_invalid_request(r)


def test_two_cookie_tokens_is_400(multi_source):
    r = multi_source.request("GET", "/orders", [("Cookie", f"at={scenario.token()}; at={scenario.token()}")])
    assert_invalid_request(r)
    r = multi_source.request("GET", "/orders", [("Cookie", f"at={scenario.token()}"), ("Cookie", f"at={scenario.token()}")])
    assert_invalid_request(r)


@pytest.mark.parametrize("junk", ["%0A", "%0D%0A", "%20", "%09", "%00"], ids=["lf", "crlf", "space", "tab", "nul"])
def test_query_token_with_encoded_whitespace_inside_is_invalid_token(multi_source, junk):
    h, p, s = scenario.token().split(".")
    r = multi_source.request("GET", f"/orders?access_token={h}.{p[:10]}{junk}{p[10:]}.{s}")
    assert r.status in (400, 401) and r.upstream is None, r
    if r.status == 401:
        assert_invalid_token(r)
    still_serving(multi_source)


def test_many_spoofed_identity_headers_are_all_removed(seed):
    spoof = [(f"x-jwt-h{i}", "evil") for i in range(60)] + [("x-jwt-sub", "evil")] * 20
    r = seed.request("GET", "/orders", spoof, token=scenario.token())
    assert_allowed(r)
    assert [k for k in r.upstream.names() if k.startswith("x-jwt-")] and not any(
        k.startswith("x-jwt-h") for k in r.upstream.names()
    )
    assert r.upstream.all("x-jwt-sub") == ["user-1"]


def test_custom_header_source_without_prefix(start_envoy):
    env = start_envoy(scenario.seed_config(token={"sources": [{"header": "x-token"}]}))
    t = scenario.token()
    r = env.request("GET", "/orders", [("X-Token", t)])
    assert_allowed(r)
    assert not r.upstream.has("x-token"), "keep_token=false must remove the token header"
    # Authorization is not a source here
    assert_missing_token(env.request("GET", "/orders", token=t))
    assert_invalid_request(env.request("GET", "/orders", [("X-Token", t), ("X-Token", t)]))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Bearer {t}, Bearer {t}", id="comma-space"),
        pytest.param(",Bearer {t}", id="leading-comma"),
        pytest.param("Bearer {t}, Basic Zm9v", id="bearer-then-basic"),
        pytest.param("Bearer {t},", id="trailing-comma"),
    ],
)
def test_joined_credential_variants_are_never_allowed(seed, value):
    r = seed.request("GET", "/orders", [("Authorization", value.format(t=scenario.token()))])
    assert r.status in (400, 401) and r.upstream is None, r
    if "Basic" in value or value.count("Bearer") == 2:
        assert_invalid_request(r)
    still_serving(seed)


@pytest.fixture(scope="module")
def no_authorization_source(start_envoy):
    sources = [{"header": "x-token"}, {"cookie": "at"}, {"query": "t"}]
    return start_envoy(scenario.seed_config(token={"sources": sources}))


@pytest.mark.parametrize("where", ["header", "cookie", "query"])
def test_a_bearer_authorization_beside_a_token_from_another_source_is_400(no_authorization_source, where):
    # RFC 6750 §2: a client sends its token one way per request. A Bearer credential in
    # Authorization beside the token found elsewhere is a second one even when
    # Authorization is not a configured source: it would otherwise reach the upstream
    # next to the token that was checked (as RFC 6750's access_token query does, 2f3129f).
    env, t = no_authorization_source, scenario.token()
    other = scenario.token(sub="someone-else", azp="backoffice", scope="orders:read orders:write")
    path, headers = "/orders", [("Authorization", f"Bearer {other}")]
    if where == "header":
        headers.append(("X-Token", t))
    elif where == "cookie":
        headers.append(("Cookie", f"at={t}"))
    else:
        path = f"/orders?t={t}"
    assert_invalid_request(env.request("GET", path, headers))
    # another scheme's credential is not ours: it stays for the upstream
    r = env.request("GET", "/orders", [("X-Token", t), ("Authorization", "Basic Zm9vOmJhcg==")])
    assert_allowed(r)
    assert r.upstream.get("authorization") == "Basic Zm9vOmJhcg=="
    # alone, a Bearer in Authorization is not a source here: no token
    assert_missing_token(env.request("GET", "/orders", token=t))
