"""Paths and rules under Envoy's normalization (HOSTILE.md "Paths and rules").

The harness HCM runs normalize_path: true, merge_slashes: true and
path_with_escaped_slashes_action: KEEP_UNCHANGED, so encoded slashes reach the filter,
which must refuse them itself (400 invalid_request, reason invalid_path).
"""

import pytest

import scenario
from checks import assert_allowed, assert_denied, assert_invalid_request, still_serving


def strict_config():
    cfg = scenario.seed_config()
    for rule in cfg["rules"]:
        rule.pop("mode", None)  # hr enforced
    return cfg


@pytest.fixture(scope="module")
def strict(start_envoy):
    return start_envoy(strict_config())


def orders_token():
    # a token good for everything under /orders (read and write)
    return scenario.backoffice_token()


def not_allowed(r):
    assert r.status in (400, 401, 403) and r.upstream is None, f"bypass: {r!r}"


@pytest.mark.parametrize(
    "path",
    ["/orders/../hr", "/orders/./../hr/x", "//hr", "/orders/..//hr", "/./hr", "/orders/%2E%2E/hr",
     "/orders/%2e%2e/hr", "/orders/.%2E/hr"],
)
def test_orders_token_cannot_reach_hr_via_path_tricks(strict, path):
    r = strict.request("GET", path, token=orders_token())
    not_allowed(r)
    still_serving(strict)


def test_dot_segments_are_resolved_before_matching(strict):
    # Envoy resolves /orders/../hr to /hr: the hr rule (audience hr-api) applies
    r = strict.request("GET", "/orders/../hr", token=orders_token())
    assert_denied(r, 401, "invalid_token")


def test_upper_case_path_is_not_the_lower_case_rule(strict):
    # Rules compare paths exactly: under `unmatched: deny` these match none (SPEC: 401
    # without a token, 403 with one that grants nothing here).
    for path in ("/HR", "/ORDERS/1"):
        assert_denied(strict.request("GET", path, token=orders_token()), 403, "insufficient_scope")
        assert_denied(strict.request("GET", path), 401, None)


def test_upper_case_path_is_400_even_when_unmatched_paths_pass(start_envoy):
    # With `unmatched: allow`, `/HR` would otherwise match no rule and reach an upstream
    # that may read it as `/hr`.
    cfg = strict_config()
    cfg["unmatched"] = "allow"
    envoy = start_envoy(cfg)
    for path in ["/HR", "/Hr/list", "/ORDERS/1"]:
        assert_invalid_request(envoy.request("GET", path, token=orders_token()))
        assert_invalid_request(envoy.request("GET", path))
    assert_allowed(envoy.request("GET", "/orders/ABC", token=orders_token()))
    assert_allowed(envoy.request("GET", "/Elsewhere"))


def test_merged_slashes_still_match(strict):
    r = strict.request("GET", "//orders///1", token=orders_token())
    assert_allowed(r)
    assert r.upstream.path == "/orders/1"


@pytest.mark.parametrize(
    "path",
    ["/orders%2F..%2Fhr", "/orders%2f1", "/hr%2Fx", "/orders/1%2F", "/orders%5C..%5Chr", "/orders/%5c1"],
)
def test_encoded_slash_or_backslash_is_400(strict, path):
    before = strict.counter("requests_denied_invalid_path")
    r = strict.request("GET", path, token=orders_token())
    assert_invalid_request(r)
    assert strict.counter("requests_denied_invalid_path") == before + 1
    still_serving(strict)


@pytest.mark.parametrize("path", ["/orders/%252e%252e/hr", "/orders%252Fhr", "/orders/%255c..%255chr", "/%2568r"])
def test_escapes_escaped_twice_are_400(strict, path):
    # `%25` is `%`: an upstream (or a proxy behind it) that decodes once more than the
    # rules reads `/orders/%252e%252e/hr` as `/orders/../hr`.
    before = strict.counter("requests_denied_invalid_path")
    assert_invalid_request(strict.request("GET", path, token=orders_token()))
    assert strict.counter("requests_denied_invalid_path") == before + 1


@pytest.mark.parametrize("path", ["/orders/%c0%ae%c0%ae/hr", "/orders%C0%AFhr", "/orders/%e0%80%ae%e0%80%ae/hr"])
def test_overlong_utf8_escapes_are_400(strict, path):
    # Never valid UTF-8, but a lenient decoder upstream reads `%c0%ae` as `.`.
    before = strict.counter("requests_denied_invalid_path")
    assert_invalid_request(strict.request("GET", path, token=orders_token()))
    assert strict.counter("requests_denied_invalid_path") == before + 1


@pytest.mark.parametrize("path", ["/hr/%C4%B1", "/orders/%E2%84%AA", "/orders/%c5%bf"])
def test_characters_that_fold_onto_ascii_are_400(strict, path):
    # Java's equalsIgnoreCase reads ı as I, K (Kelvin) as K, ſ as S.
    assert_invalid_request(strict.request("GET", path, token=orders_token()))


def test_utf8_escapes_are_fine(strict):
    assert_allowed(strict.request("GET", "/orders/caf%C3%A9/%F0%9F%98%80", token=orders_token()))


def test_an_escaped_percent_sign_is_fine(strict):
    r = strict.request("GET", "/orders/100%25", token=orders_token())
    assert_allowed(r)


def test_encoded_slash_is_400_even_on_anonymous_path(strict):
    assert_invalid_request(strict.request("GET", "/healthz%2F..%2Forders"))


def test_encoded_slash_is_400_even_without_token(strict):
    assert_invalid_request(strict.request("GET", "/orders%2Fx"))


@pytest.mark.parametrize("path", ["/orders/%00", "/orders%00/x"])
def test_nul_in_path_is_400(strict, path):
    r = strict.request("GET", path, token=orders_token())
    assert r.status == 400 and r.upstream is None, r
    still_serving(strict)


def test_query_that_looks_like_a_path_is_ignored(strict):
    r = strict.request("GET", "/hr?x=/orders", token=orders_token())
    not_allowed(r)
    r = strict.request("GET", "/orders?x=/../hr&y=%2F", token=orders_token())
    assert_allowed(r)


def test_fragment_like_and_semicolon_paths(strict):
    r = strict.request("GET", "/hr;/orders", token=orders_token())
    not_allowed(r)
    r = strict.request("GET", "/orders;x=1/../../hr", token=orders_token())
    not_allowed(r)
    # a servlet upstream reads `..;` as `..`: /orders/..;/hr would be /hr there (Envoy's
    # own normalization may already resolve it; either way the orders token gets nowhere)
    for path in ("/orders/..;/hr", "/orders/..;x=1/hr/list", "/orders/.;/1/../../hr"):
        not_allowed(strict.request("GET", path, token=orders_token()))
    # parameters that leave the rule choice alone pass; ones that change it are 400 —
    # here no rule matches the raw path and unmatched requests are denied: unmatched (403)
    assert_allowed(strict.request("GET", "/orders/1;v=2", token=orders_token()))
    r = strict.request("GET", "/orders;jsessionid=1/1", token=orders_token())
    assert_denied(r, 403, "insufficient_scope")
    still_serving(strict)


def test_parameters_that_change_the_rule_are_400_when_unmatched_paths_pass(start_envoy):
    cfg = strict_config()
    cfg["unmatched"] = "allow"
    envoy = start_envoy(cfg)
    for path in ("/orders;jsessionid=1/1", "/hr;x/list"):
        assert_invalid_request(envoy.request("GET", path, token=orders_token()))
        assert_invalid_request(envoy.request("GET", path))


def test_envoy_reject_request_setting(start_envoy):
    env = start_envoy(strict_config(), escaped_slashes="REJECT_REQUEST")
    r = env.request("GET", "/orders%2F..%2Fhr", token=orders_token())
    assert r.status == 400 and r.upstream is None, r
    still_serving(env)


def test_envoy_unescape_and_redirect_setting(start_envoy):
    env = start_envoy(strict_config(), escaped_slashes="UNESCAPE_AND_REDIRECT")
    r = env.request("GET", "/orders%2F1", token=orders_token())
    assert r.upstream is None, r
    assert r.status in (301, 302, 307, 308, 400), r
    still_serving(env)


def test_encoded_slash_is_400_on_dry_run_rule(seed):
    # the seed's hr rule is dry_run; an unsafe path is refused whatever the rules say
    assert_invalid_request(seed.request("GET", "/hr%2F..%2Forders"))


def test_encoded_slash_is_400_with_unmatched_allow(start_envoy):
    env = start_envoy(scenario.seed_config(unmatched="allow"))
    assert_invalid_request(env.request("GET", "/public%2F..%2Forders"))
    assert_allowed(env.request("GET", "/public/x"))


@pytest.mark.parametrize(
    "target",
    ["http://api.example.com/orders/../hr", "http://api.example.com/hr", "http://api.example.com//hr"],
)
def test_absolute_form_request_target_is_not_a_bypass(strict, target):
    r = strict.request("GET", target, token=orders_token())
    not_allowed(r)
    still_serving(strict)


def test_absolute_form_request_target_is_matched(strict):
    r = strict.request("GET", "http://api.example.com/orders/5", token=orders_token())
    assert_allowed(r)
    assert r.upstream.path == "/orders/5"


def test_fragment_is_not_a_bypass(strict):
    r = strict.request("GET", "/hr#/orders", token=orders_token())
    not_allowed(r)
    still_serving(strict)


def test_asterisk_form_does_not_trap(strict):
    r = strict.request("OPTIONS", "*")
    assert r.upstream is None, f"an unauthenticated OPTIONS * reached the service: {r!r}"
    still_serving(strict)


def test_very_long_path_does_not_trap(strict):
    r = strict.request("GET", "/orders/" + "a/" * 20000, token=orders_token())
    assert r.status in (200, 400, 404, 414, 431), r
    still_serving(strict)
