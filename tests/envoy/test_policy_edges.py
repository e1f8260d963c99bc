"""Edges of the authorization policy where a configuration or a token could mean more
than it says (SPEC.md §1 rules/clients; "a typo never silently weakens a policy").

- a match list that is empty (`methods: []`, `hosts: []`) could never match: a rule
  written with one would silently never apply, and its requests fall to a later, maybe
  weaker, rule; `any_scopes: []` ("at least one of nothing") and a rule's `clients: []`
  could never hold. All are configuration errors, as an empty claim list already is.
"""

import pytest

import scenario
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
