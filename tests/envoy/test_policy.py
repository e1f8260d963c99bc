"""Rules, clients, audiences, scopes, claim conditions, dry run, unmatched
(SPEC.md §1 rules/clients/multiple_audiences/missing_audience; §2 403 rows)."""

import pytest

import scenario
from checks import (
    assert_allowed,
    assert_invalid_request,
    assert_forbidden,
    assert_invalid_token,
    assert_missing_token,
    assert_no_identity,
    parse_challenge,
    still_serving,
)


def policy_config():
    cfg = scenario.seed_config()
    cfg["clients"]["hr-tool"] = {"hr-api": ["hr:read"]}
    cfg["clients"]["ops"] = {"orders-api": ["*"]}
    cfg["rules"] = [
        {"name": "health", "match": {"path": "/healthz"}, "anonymous": True},
        {"name": "internal", "match": {"route": "internal-route"}, "scopes": ["internal:admin"]},
        {"name": "host-admin", "match": {"prefix": "/admin", "hosts": ["admin.example.com", "*.ops.example.com"]},
         "clients": ["backoffice"]},
        {"name": "reports", "match": {"prefix": "/reports"}, "any_scopes": ["reports:read", "reports:all"]},
        {"name": "multi", "match": {"prefix": "/multi"}, "scopes": ["m:one", "m:two"]},
        {"name": "c-equals", "match": {"prefix": "/claims/equals"}, "claims": {"tenant": "acme"}},
        {"name": "c-list", "match": {"prefix": "/claims/list"}, "claims": {"tenant": ["acme", "globex"]}},
        {"name": "c-any", "match": {"prefix": "/claims/any"}, "claims": {"groups": {"contains_any": ["a", "b"]}}},
        {"name": "c-all", "match": {"prefix": "/claims/all"}, "claims": {"groups": {"contains_all": ["a", "b"]}}},
        {"name": "c-present", "match": {"prefix": "/claims/present"}, "claims": {"org.id": {"present": True}}},
        {"name": "c-nested", "match": {"prefix": "/claims/nested"}, "claims": {"org.tier": {"equals": "gold"}}},
        {"name": "c-anyof", "match": {"prefix": "/claims/anyof"}, "claims": {"org.tier": {"any_of": ["gold", "silver"]}}},
        {"name": "c-bool", "match": {"prefix": "/claims/bool"}, "claims": {"email_verified": True}},
        {"name": "c-number", "match": {"prefix": "/claims/number"}, "claims": {"acr_level": 2}},
        {"name": "slash", "match": {"prefix": "/files/"}, "scopes": ["files:read"]},
        {"name": "orders-read", "match": {"prefix": "/orders", "methods": ["GET", "HEAD"]}, "scopes": ["orders:read"]},
        {"name": "orders-write", "match": {"prefix": "/orders"}, "scopes": ["orders:write"]},
        {"name": "hr", "match": {"prefix": "/hr"}, "audiences": ["hr-api"], "scopes": ["hr:read"],
         "claims": {"groups": {"contains_any": ["hr-staff"]}}},
    ]
    return cfg


@pytest.fixture(scope="module")
def policy(start_envoy):
    return start_envoy(policy_config())


@pytest.fixture(scope="module")
def allow_unmatched(start_envoy):
    return start_envoy(scenario.seed_config(unmatched="allow"))


@pytest.fixture(scope="module")
def self_aud(start_envoy):
    return start_envoy(scenario.seed_config(
        clients=..., missing_audience="self", audiences=["orders-api", "batch-job"],
    ))


def ops(**claims):
    c = {"azp": "ops", "scope": "orders:read"}
    c.update(claims)
    return scenario.token(**c)


# ------------------------------------------------------------------ clients (seed scenario)
def test_client_scopes_are_intersected(seed):
    r = seed.request("GET", "/orders", token=scenario.token(scope="orders:read orders:write admin"))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "orders:read"


def test_client_cannot_use_scope_it_is_not_allowed(seed):
    before = seed.counter("requests_denied_insufficient_scope")
    r = seed.request("POST", "/orders", token=scenario.token(scope="orders:read orders:write"), body=b"x")
    assert_forbidden(r, scope="orders:write")
    assert seed.counter("requests_denied_insufficient_scope") == before + 1


def test_unknown_client_is_403(seed):
    before = seed.counter("requests_denied_client_not_allowed")
    r = seed.request("GET", "/orders", token=scenario.token(azp="evil-app"))
    assert_forbidden(r)
    assert seed.counter("requests_denied_client_not_allowed") == before + 1


def test_no_client_claim_when_clients_set_is_403(seed):
    assert_forbidden(seed.request("GET", "/orders", token=scenario.token(azp=...)))


def test_azp_wins_over_client_id(seed):
    r = seed.request("GET", "/orders", token=scenario.token(azp="evil-app", client_id="customer-portal"))
    assert_forbidden(r)
    r = seed.request("GET", "/orders", token=scenario.token(azp="customer-portal", client_id="evil-app"))
    assert_allowed(r)


def test_client_claim_not_a_string_is_denied(seed):
    r = seed.request("GET", "/orders", token=scenario.token(azp=["customer-portal"]))
    assert r.status in (401, 403) and r.upstream is None, r
    still_serving(seed)


def test_client_without_entry_for_matched_audience_is_403(policy):
    r = policy.request("GET", "/orders", token=scenario.token(azp="hr-tool", aud="orders-api"))
    assert_forbidden(r)


def test_wildcard_client_gets_all_token_scopes(policy):
    r = policy.request("GET", "/orders", token=ops(scope="zeta orders:read alpha"))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "alpha orders:read zeta"


def test_rule_clients_list(policy):
    host = "admin.example.com"
    r = policy.request("GET", "/admin/x", host=host, token=scenario.backoffice_token())
    assert_allowed(r)
    r = policy.request("GET", "/admin/x", host=host, token=scenario.token())
    assert_forbidden(r)


# ------------------------------------------------------------------ multiple audiences / missing audience
def test_multiple_audiences_with_azp_allowed(seed):
    r = seed.request("GET", "/orders", token=scenario.backoffice_token(aud=["orders-api", "hr-api"]))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-audience") == "orders-api"


def test_multiple_audiences_without_azp_is_401(seed):
    r = seed.request("GET", "/orders", token=scenario.token(aud=["orders-api", "hr-api"], azp=..., client_id="customer-portal"))
    assert_invalid_token(r)


def test_multiple_audiences_with_empty_azp_is_401(start_envoy):
    """An empty `azp` names nobody: it does not satisfy require_azp, also where `azp` is
    not a client claim (so nothing else would look at it)."""
    cfg = scenario.seed_config()
    cfg["issuers"][0]["client_claims"] = ["client_id"]
    env = start_envoy(cfg)
    aud = ["orders-api", "hr-api"]
    r = env.request("GET", "/orders", token=scenario.token(aud=aud, azp="", client_id="backoffice",
                                                           scope="orders:read"))
    assert_invalid_token(r)
    r = env.request("GET", "/orders", token=scenario.token(aud=aud, azp="backoffice", client_id="backoffice",
                                                           scope="orders:read"))
    assert_allowed(r)


def test_missing_audience_self_uses_the_client(self_aud):
    r = self_aud.request("GET", "/orders", token=scenario.token(aud=..., azp=..., client_id="batch-job"))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-audience") == "batch-job"
    assert r.upstream.get("x-jwt-client") == "batch-job"


def test_missing_audience_self_other_client_is_401(self_aud):
    before = self_aud.counter("requests_denied_audience_not_allowed")
    r = self_aud.request("GET", "/orders", token=scenario.token(aud=..., azp="customer-portal"))
    assert_invalid_token(r)
    assert self_aud.counter("requests_denied_audience_not_allowed") == before + 1


def test_missing_audience_self_without_client_is_401(self_aud):
    assert_invalid_token(self_aud.request("GET", "/orders", token=scenario.token(aud=..., azp=...)))


def test_missing_audience_reject_is_401(seed):
    assert_invalid_token(seed.request("GET", "/orders", token=scenario.token(aud=...)))


# ------------------------------------------------------------------ scopes
def test_all_required_scopes_named_in_challenge(policy):
    r = policy.request("GET", "/multi", token=ops(scope="m:one"))
    assert_forbidden(r, scope="m:one m:two")
    assert_allowed(policy.request("GET", "/multi", token=ops(scope="m:two m:one")))


def test_any_scopes(policy):
    assert_allowed(policy.request("GET", "/reports/1", token=ops(scope="reports:all")))
    assert_allowed(policy.request("GET", "/reports/1", token=ops(scope="reports:read")))
    r = policy.request("GET", "/reports/1", token=ops(scope="orders:read"))
    assert r.status == 403 and r.upstream is None, r
    params = parse_challenge(r.www_authenticate)
    assert params["error"] == "insufficient_scope"
    assert set(params.get("scope", "").split()) == {"reports:read", "reports:all"}, params


def test_method_selects_rule(seed):
    assert_allowed(seed.request("HEAD", "/orders", token=scenario.token()))
    assert_forbidden(seed.request("DELETE", "/orders/1", token=scenario.token()), scope="orders:write")
    assert_forbidden(seed.request("PUT", "/orders/1", token=scenario.token(), body=b""), scope="orders:write")


# ------------------------------------------------------------------ claim conditions
@pytest.mark.parametrize(
    "path,good,bad",
    [
        ("/claims/equals", {"tenant": "acme"}, {"tenant": "ACME"}),
        ("/claims/list", {"tenant": "globex"}, {"tenant": "initech"}),
        ("/claims/any", {"groups": ["x", "b"]}, {"groups": ["x", "c"]}),
        ("/claims/all", {"groups": ["b", "x", "a"]}, {"groups": ["a", "x"]}),
        ("/claims/present", {"org": {"id": 7}}, {"org": {"name": "x"}}),
        ("/claims/nested", {"org": {"tier": "gold"}}, {"org": {"tier": "bronze"}}),
        ("/claims/anyof", {"org": {"tier": "silver"}}, {"org": "silver"}),
        ("/claims/bool", {"email_verified": True}, {"email_verified": "true"}),
        # Numbers by value: the IdP's 2.0 is the configured 2; the string "2" is not.
        ("/claims/number", {"acr_level": 2.0}, {"acr_level": "2"}),
    ],
)
def test_claim_conditions(policy, path, good, bad):
    assert_allowed(policy.request("GET", path, token=ops(**good)))
    before = policy.counter("requests_denied_claim_mismatch")
    r = policy.request("GET", path, token=ops(**bad))
    assert_forbidden(r)
    assert policy.counter("requests_denied_claim_mismatch") == before + 1


def test_claim_condition_on_missing_claim_is_403(policy):
    assert_forbidden(policy.request("GET", "/claims/equals", token=ops()))
    assert_forbidden(policy.request("GET", "/claims/any", token=ops()))


def test_enforced_hr_rule(policy):
    hr = dict(azp="backoffice", aud="hr-api", scope="hr:read")
    assert_allowed(policy.request("GET", "/hr/people", token=scenario.token(groups=["hr-staff"], **hr)))
    assert_forbidden(policy.request("GET", "/hr/people", token=scenario.token(groups=["eng"], **hr)))
    # an orders token is not for hr-api
    assert_invalid_token(policy.request("GET", "/hr/people", token=scenario.backoffice_token()))


# ------------------------------------------------------------------ dry run (seed scenario)
def test_dry_run_deny_passes_and_is_counted(seed):
    c = seed.counters()
    tok = scenario.token(azp="backoffice", aud="hr-api", scope="hr:read", groups=["eng"])
    r = seed.request("GET", "/hr/people", token=tok)
    assert_allowed(r)
    after = seed.counters()
    assert after.get("requests_dry_run_denied", 0) == c.get("requests_dry_run_denied", 0) + 1
    assert after.get("requests_denied_claim_mismatch", 0) == c.get("requests_denied_claim_mismatch", 0)


def test_dry_run_without_token_passes_and_is_counted(seed):
    c = seed.counters()
    r = seed.request("GET", "/hr", [("x-jwt-sub", "spoofed")])
    assert_allowed(r)
    assert not r.upstream.has("x-jwt-sub")
    after = seed.counters()
    assert after.get("requests_dry_run_denied", 0) == c.get("requests_dry_run_denied", 0) + 1
    assert after.get("requests_denied_missing_token", 0) == c.get("requests_denied_missing_token", 0)


def test_dry_run_allow_is_an_allow(seed):
    c = seed.counters()
    tok = scenario.token(azp="backoffice", aud="hr-api", scope="hr:read hr:write", groups=["hr-staff"])
    r = seed.request("GET", "/hr/people", token=tok)
    assert_allowed(r)
    assert r.upstream.get("x-jwt-audience") == "hr-api"
    assert seed.counter("requests_allowed") == c.get("requests_allowed", 0) + 1
    assert seed.counter("requests_dry_run_denied") == c.get("requests_dry_run_denied", 0)


def test_dry_run_invalid_token_passes(seed):
    c = seed.counters()
    r = seed.request("GET", "/hr", token="not.a.token")
    assert_allowed(r)
    assert seed.counter("requests_dry_run_denied") == c.get("requests_dry_run_denied", 0) + 1
    assert seed.counter("requests_denied_invalid_token") == c.get("requests_denied_invalid_token", 0)


# ------------------------------------------------------------------ match: route, hosts, prefix
def test_match_route_name(policy):
    r = policy.request("GET", "/internal/metrics", token=ops(scope="internal:admin"))
    assert_allowed(r)
    r = policy.request("GET", "/internal/metrics", token=ops())
    assert_forbidden(r, scope="internal:admin")


@pytest.mark.parametrize("host", ["admin.example.com", "admin.example.com:8443", "a.ops.example.com", "x.y.ops.example.com:80",
                                  "admin.example.com.", "ADMIN.example.com.:443", "a.ops.example.com."])
def test_match_hosts(policy, host):
    assert_allowed(policy.request("GET", "/admin", host=host, token=scenario.backoffice_token()))


@pytest.fixture(scope="module")
def host_then_open(start_envoy):
    """A host rule before an anonymous catch-all: skipping the host rule would pass."""
    return start_envoy(scenario.seed_config(rules=[
        {"name": "admin-host", "match": {"hosts": ["admin.example.com"]}, "scopes": ["orders:admin"]},
        {"name": "open", "match": {"prefix": "/"}, "anonymous": True},
    ]))


@pytest.mark.parametrize("host", ["admin.example.com", "admin.example.com.", "Admin.Example.Com.:80"])
def test_host_rule_cannot_be_skipped_with_a_trailing_dot(host_then_open, host):
    # The fully-qualified form names the same host: the host rule still applies.
    assert_missing_token(host_then_open.request("GET", "/x", host=host))
    assert_allowed(host_then_open.request("GET", "/x", host="other.example.com"))


@pytest.mark.parametrize("host", ["other.example.com", "ops.example.com", "admin.example.com.evil", "evilops.example.com"])
def test_match_hosts_negative_falls_to_unmatched(policy, host):
    r = policy.request("GET", "/admin", host=host, token=scenario.backoffice_token())
    assert r.status in (401, 403) and r.upstream is None, r


def test_prefix_is_segment_aware(seed):
    r = seed.request("GET", "/orders-x", token=scenario.token())
    assert r.status in (401, 403) and r.upstream is None, f"/orders-x must not match prefix /orders: {r!r}"
    r = seed.request("GET", "/ordersx/1")
    assert_missing_token(r)
    assert_allowed(seed.request("GET", "/orders/", token=scenario.token()))


def test_prefix_ending_in_slash(policy):
    assert_allowed(policy.request("GET", "/files/a/b", token=ops(scope="files:read")))
    r = policy.request("GET", "/files", token=ops(scope="files:read"))
    assert r.status in (401, 403) and r.upstream is None, r


def test_query_string_is_ignored_for_matching(seed):
    r = seed.request("GET", "/healthz?x=1")
    assert_allowed(r)
    r = seed.request("GET", "/orders?next=/healthz")
    assert_missing_token(r)


# ------------------------------------------------------------------ unmatched
def test_unmatched_deny_without_token_is_401(seed):
    before = seed.counter("requests_denied_missing_token")
    r = seed.request("GET", "/nothing/here")
    assert_missing_token(r)
    assert seed.counter("requests_denied_missing_token") == before + 1


def test_unmatched_deny_with_valid_token_never_reaches_service(seed):
    r = seed.request("GET", "/nothing/here", token=scenario.token())
    assert r.status in (401, 403) and r.upstream is None, r
    assert r.www_authenticate and r.www_authenticate.startswith('Bearer realm="orders"')


def test_unmatched_deny_with_invalid_token_is_401(seed):
    assert_invalid_token(seed.request("GET", "/nothing", token="a.b.c"))


def test_unmatched_allow_passes_without_identity(allow_unmatched):
    r = allow_unmatched.request("GET", "/public/x", [("x-jwt-sub", "spoofed"), ("x-jwt-client", "x")])
    assert_allowed(r)
    assert_no_identity(r)
    assert_missing_token(allow_unmatched.request("GET", "/orders"))


# ------------------------------------------------------------------ anonymous
def test_anonymous_rule_with_valid_token_is_allowed(seed):
    assert_allowed(seed.request("GET", "/healthz", token=scenario.token()))


def test_anonymous_rule_with_invalid_token_is_401(seed):
    assert_invalid_token(seed.request("GET", "/healthz", token="x.y.z"))
    assert_invalid_token(seed.request("GET", "/healthz", token=scenario.token(exp=1000, iat=..., nbf=...)))
    still_serving(seed)


def test_anonymous_rule_does_not_accept_two_tokens(seed):
    r = seed.request("GET", "/healthz", [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")])
    assert_invalid_request(r)


def test_client_without_entry_for_rule_audience_is_403(policy):
    # enforced hr rule (audience hr-api): customer-portal has no hr-api entry
    tok = scenario.token(aud="hr-api", scope="hr:read", groups=["hr-staff"])
    before = policy.counter("requests_denied_client_not_allowed")
    assert_forbidden(policy.request("GET", "/hr", token=tok))
    assert policy.counter("requests_denied_client_not_allowed") == before + 1


def test_require_azp_false_and_no_trusted_list(start_envoy):
    env = start_envoy(scenario.seed_config(multiple_audiences={"require_azp": False}))
    r = env.request("GET", "/orders", token=scenario.token(aud=["orders-api", "anything-api"], azp=...,
                                                           client_id="customer-portal"))
    assert_allowed(r)
    assert r.upstream.get("x-jwt-audience") == "orders-api"


def test_audiences_only_on_rules(start_envoy):
    # no top-level audiences: the service answers to every audience its rules name, so a
    # valid token passes the anonymous rule and is 403 (not 401) on an unmatched path
    cfg = scenario.seed_config()
    del cfg["audiences"]
    for rule in cfg["rules"][1:3]:
        rule["audiences"] = ["orders-api"]
    env = start_envoy(cfg)
    assert_allowed(env.request("GET", "/healthz", token=scenario.token()))
    assert_forbidden(env.request("GET", "/admin", token=scenario.token()))
    r = env.request("GET", "/healthz", token=scenario.token(aud="billing-api"))
    assert r.status == 401 and r.upstream is None, r
