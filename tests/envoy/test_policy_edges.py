"""Edges of the authorization policy where a configuration or a token could mean more
than it says (SPEC.md §1 rules/clients; "a typo never silently weakens a policy").

- a match list that is empty (`methods: []`, `hosts: []`) could never match: a rule
  written with one would silently never apply, and its requests fall to a later, maybe
  weaker, rule; `any_scopes: []` ("at least one of nothing") and a rule's `clients: []`
  could never hold. All are configuration errors, as an empty claim list already is.
- a token scope that is not an RFC 6749 scope-token (`"orders:write admin"` as one
  array element) is neither granted nor forwarded: the space-separated scopes header
  would otherwise tell the upstream about scopes the filter never granted.
"""

import pytest

import scenario
from checks import assert_allowed, assert_forbidden
from conftest import check_rejected, start_outcome


# ------------------------------------------------------------------ empty lists
def _fail_open_rules(**admin_fields):
    """An admin rule before an anonymous catch-all: if the admin rule never matched,
    /admin would be open to anyone."""
    admin = {"name": "admin", "match": {"prefix": "/admin"}, "scopes": ["orders:admin"]}
    for key, value in admin_fields.items():
        if key in ("methods", "hosts"):
            admin["match"][key] = value
        else:
            admin[key] = value
    return scenario.seed_config(rules=[admin, {"name": "open", "match": {"prefix": "/"}, "anonymous": True}])


EMPTY_LISTS = {
    "methods": (dict(methods=[]), "rules[0].match.methods"),
    "hosts": (dict(hosts=[]), "rules[0].match.hosts"),
    "any_scopes": (dict(any_scopes=[]), "rules[0].any_scopes"),
    "clients": (dict(clients=[]), "rules[0].clients"),
}


@pytest.mark.parametrize("name", sorted(EMPTY_LISTS))
def test_empty_list_that_could_never_match_is_a_config_error(upstream, name):
    fields, path = EMPTY_LISTS[name]
    outcome = start_outcome(_fail_open_rules(**fields), upstream)
    check_rejected(outcome, path)


# ------------------------------------------------------------------ scope values
@pytest.fixture(scope="module")
def wildcard(start_envoy):
    cfg = scenario.seed_config()
    cfg["clients"]["ops"] = {"orders-api": "*"}
    return start_envoy(cfg)


def test_scope_that_is_not_a_scope_token_is_neither_granted_nor_forwarded(wildcard):
    tok = scenario.token(azp="ops", scope=["orders:read", "orders:write admin"])
    r = wildcard.request("GET", "/orders/1", token=tok)
    assert_allowed(r)
    # The filter never granted orders:write (POST below is refused), so the upstream
    # must not read it in the space-separated scopes header either.
    assert r.upstream.get("x-jwt-scopes") == "orders:read", r.upstream.get("x-jwt-scopes")
    assert_forbidden(wildcard.request("POST", "/orders", token=tok, body=b"x"), scope="orders:write")


def test_scope_with_control_character_does_not_hide_the_others(wildcard):
    tok = scenario.token(azp="ops", scope=["orders:read", "x\ty", ""])
    r = wildcard.request("GET", "/orders/1", token=tok)
    assert_allowed(r)
    assert r.upstream.get("x-jwt-scopes") == "orders:read", r.upstream.get("x-jwt-scopes")
