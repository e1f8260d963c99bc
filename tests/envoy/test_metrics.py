"""What an operator sees (SPEC.md §3): counters per reason, deny log lines."""

import time

import pytest

import scenario

REASONS = [
    "missing_token", "multiple_tokens", "invalid_path", "invalid_token", "expired", "not_yet_valid",
    "unknown_issuer", "audience_not_allowed", "client_not_allowed", "insufficient_scope", "claim_mismatch",
    "keys_unavailable",
]
ALL_COUNTERS = (
    ["requests_allowed", "requests_dry_run_denied", "verify_cache_hits", "verify_cache_misses",
     "jwks_fetch_ok", "jwks_fetch_failed"]
    + [f"requests_denied_{r}" for r in REASONS]
)


@pytest.fixture(scope="module")
def env(start_envoy):
    return start_envoy(scenario.seed_config())


def test_all_counters_are_exported_under_the_prefix(env):
    text = env.admin("/stats/prometheus")
    have = env.counters()
    missing = [c for c in ALL_COUNTERS if c not in have]
    assert not missing, f"counters not exported: {missing}"
    for c in ALL_COUNTERS:
        assert f"audience_guard_{c}" in text


def _hr_token(**kw):
    c = dict(azp="backoffice", aud="hr-api", scope="hr:read")
    c.update(kw)
    return scenario.token(**c)


CASES = [
    ("requests_allowed", lambda e: e.request("GET", "/orders", token=scenario.token())),
    ("requests_allowed", lambda e: e.request("GET", "/healthz")),
    ("requests_denied_missing_token", lambda e: e.request("GET", "/orders")),
    ("requests_denied_multiple_tokens",
     lambda e: e.request("GET", "/orders", [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")])),
    ("requests_denied_invalid_path", lambda e: e.request("GET", "/orders%2F1", token=scenario.token())),
    ("requests_denied_invalid_token", lambda e: e.request("GET", "/orders", token="a.b.c")),
    ("requests_denied_expired",
     lambda e: e.request("GET", "/orders", token=scenario.token(exp=1000000, iat=999000, nbf=999000))),
    ("requests_denied_not_yet_valid",
     lambda e: e.request("GET", "/orders", token=scenario.token(nbf=scenario.jwtkit.now() + 7200))),
    ("requests_denied_unknown_issuer",
     lambda e: e.request("GET", "/orders", token=scenario.token(iss="https://evil.example.com/"))),
    ("requests_denied_audience_not_allowed",
     lambda e: e.request("GET", "/orders", token=scenario.token(aud="payments-api"))),
    ("requests_denied_client_not_allowed",
     lambda e: e.request("GET", "/orders", token=scenario.token(azp="evil"))),
    ("requests_denied_insufficient_scope",
     lambda e: e.request("GET", "/orders", token=scenario.token(scope="profile"))),
    ("requests_dry_run_denied", lambda e: e.request("GET", "/hr", token=_hr_token(groups=["eng"]))),
    ("requests_allowed", lambda e: e.request("GET", "/hr", token=_hr_token(groups=["hr-staff"]))),
]


@pytest.mark.parametrize("counter,send", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_each_outcome_moves_exactly_its_counter(env, counter, send):
    moved = _moved(env, send, "requests_")
    assert moved == {counter: 1}, f"expected only {counter} +1, got {moved}"


def _moved(env, send, prefix):
    """{counter: change} of the counters starting with prefix that send(env) moved."""
    before = env.counters()
    send(env)
    after = env.counters()
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in after if k.startswith(prefix)}
    return {k: v for k, v in moved.items() if v}


RULE_CASES = [
    ("rule_orders_read_allowed", lambda e: e.request("GET", "/orders", token=scenario.token())),
    ("rule_orders_read_denied", lambda e: e.request("GET", "/orders")),
    ("rule_orders_write_denied", lambda e: e.request("POST", "/orders", token=scenario.token(), body=b"")),
    ("rule_health_allowed", lambda e: e.request("GET", "/healthz")),
    ("rule_hr_dry_run_denied", lambda e: e.request("GET", "/hr", token=_hr_token(groups=["eng"]))),
    ("rule_hr_allowed", lambda e: e.request("GET", "/hr", token=_hr_token(groups=["hr-staff"]))),
    (None, lambda e: e.request("GET", "/admin")),  # no rule matched
]


@pytest.mark.parametrize("counter,send", RULE_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(RULE_CASES)])
def test_each_rule_counts_its_outcomes(env, counter, send):
    # SPEC §1: a rule's name labels it in metrics ("orders-read" → rule_orders_read_*)
    moved = _moved(env, send, "rule_")
    assert moved == ({counter: 1} if counter else {}), f"expected only {counter} +1, got {moved}"


def test_rules_with_one_name_share_its_counters(start_envoy):
    # Names need not be unique: GET and POST of /orders both named "orders".
    cfg = scenario.seed_config()
    cfg["rules"][1]["name"] = cfg["rules"][2]["name"] = "orders"
    e = start_envoy(cfg)
    moved = _moved(e, lambda e: e.request("GET", "/orders", token=scenario.token()), "rule_")
    assert moved == {"rule_orders_allowed": 1}, moved
    moved = _moved(e, lambda e: e.request("POST", "/orders", token=scenario.token(), body=b""), "rule_")
    assert moved == {"rule_orders_denied": 1}, moved


def test_claim_mismatch_counter(start_envoy):
    cfg = scenario.seed_config()
    cfg["rules"][3].pop("mode")
    e = start_envoy(cfg)
    before = e.counter("requests_denied_claim_mismatch")
    r = e.request("GET", "/hr", token=_hr_token(groups=["eng"]))
    assert r.status == 403
    assert e.counter("requests_denied_claim_mismatch") == before + 1


def test_verify_cache_counts(env):
    t = scenario.token(sub="cache-me")
    before = env.counters()
    for _ in range(3):
        assert env.request("GET", "/orders", token=t).status == 200
    after = env.counters()
    hits = after.get("verify_cache_hits", 0) - before.get("verify_cache_hits", 0)
    misses = after.get("verify_cache_misses", 0) - before.get("verify_cache_misses", 0)
    assert hits + misses == 3, f"hits {hits} misses {misses}"
    assert hits >= 1, "the same token three times never hit the verify cache"


def _forged():
    h, p, s = scenario.token(sub="forged").split(".")
    return f"{h}.{p}.{'B' if s[0] != 'B' else 'C'}{s[1:]}"


# Refused tokens, replayed: from the second time on the VM answers from what it kept (the
# parse of a token refused before its signature was checked or for a bad signature; the
# verified entry of a token refused for its client), and must answer the same way.
REFUSED = {
    "expired": lambda: scenario.token(exp=1000000, iat=999000, nbf=999000),
    "not_yet_valid": lambda: scenario.token(nbf=scenario.jwtkit.now() + 7200),
    "audience_not_allowed": lambda: scenario.token(aud="payments-api"),
    "client_not_allowed": lambda: scenario.token(azp="evil"),
    "invalid_token": _forged,
}


@pytest.mark.parametrize("reason", sorted(REFUSED))
def test_a_replayed_refused_token_is_refused_the_same_way(env, reason):
    token = REFUSED[reason]()
    answers = set()
    for _ in range(3):
        seen = []
        moved = _moved(env, lambda e: seen.append(e.request("GET", "/orders", token=token)), "requests_")
        assert moved == {f"requests_denied_{reason}": 1}, moved
        r = seen[0]
        assert r.upstream is None
        answers.add((r.status, r.body, r.header("www-authenticate")))
    assert len(answers) == 1, answers


def test_deny_is_logged_once_at_info_with_rule_reason_issuer_client(env):
    t = scenario.token(scope="profile")
    mark = env.log_size()
    r = env.request("POST", "/orders", token=t, body=b"{}")
    assert r.status == 403
    text = env.wait_log(mark, lambda t: "insufficient_scope" in t)
    time.sleep(0.1)  # a second line, if any, has time to arrive
    text = env.log_since(mark)
    lines = [l for l in text.splitlines() if "wasm log" in l and "insufficient_scope" in l]
    assert len(lines) == 1, f"expected one deny line, got:\n{text}"
    line = lines[0]
    assert "[info]" in line, line
    for needle in ("orders-write", "insufficient_scope", scenario.ISS, "customer-portal", "orders-api"):
        assert needle in line, f"{needle!r} missing from deny log line: {line}"
    assert t not in text and t.split(".")[2] not in text and t.split(".")[1] not in text


def test_logged_claim_values_are_cut(env):
    # an attacker-chosen client id (this token is refused: unknown client) is logged
    # escaped and cut to 128 characters
    long_client = "c" * 500
    mark = env.log_size()
    r = env.request("GET", "/orders", token=scenario.token(azp=long_client))
    assert r.status == 403
    text = env.wait_log(mark, lambda t: "client_not_allowed" in t)
    line = next(l for l in text.splitlines() if "wasm log" in l and "client_not_allowed" in l)
    assert f'client="{"c" * 128}"…' in line, line
    assert "c" * 129 not in line


def test_missing_token_deny_is_logged(env):
    mark = env.log_size()
    env.request("GET", "/orders/9")
    text = env.wait_log(mark, lambda t: "missing_token" in t)
    assert any("missing_token" in l and "orders-read" in l for l in text.splitlines() if "wasm log" in l), text


def test_counters_are_summed_over_workers(start_envoy):
    e = start_envoy(scenario.seed_config(), concurrency=3)
    t = scenario.token()
    for _ in range(30):  # each request on a new connection: spread over the workers
        assert e.request("GET", "/orders", token=t).status == 200
    for _ in range(12):
        assert e.request("GET", "/orders").status == 401
    c = e.counters()
    assert c.get("requests_allowed") == 30, c
    assert c.get("requests_denied_missing_token") == 12, c


def test_a_token_is_verified_once_per_envoy_not_once_per_worker(start_envoy):
    """The verify cache's shared tier (cache.shared): one worker's verification serves the others."""
    cfg = scenario.seed_config()
    cfg["cache"] = {"shared": True}
    e = start_envoy(cfg, concurrency=3)
    t = scenario.token(sub="shared-cache")
    for _ in range(30):  # each request on a new connection: spread over the workers
        assert e.request("GET", "/orders", token=t).status == 200
    c = e.counters()
    assert (c.get("verify_cache_misses"), c.get("verify_cache_hits")) == (1, 29), c


def test_unnamed_rule_is_labelled_by_index(start_envoy):
    cfg = scenario.seed_config()
    del cfg["rules"][2]["name"]  # orders-write
    e = start_envoy(cfg)
    mark = e.log_size()
    assert e.request("POST", "/orders", token=scenario.token(), body=b"").status == 403
    text = e.wait_log(mark, lambda t: "insufficient_scope" in t)
    assert "rules[2]" in text, text


def test_allow_is_not_logged_at_info(env):
    mark = env.log_size()
    assert env.request("GET", "/orders", token=scenario.token()).status == 200
    env.request("GET", "/orders")  # a deny after it, so the log has caught up
    text = env.wait_log(mark, lambda t: "missing_token" in t)
    allow_lines = [l for l in text.splitlines() if "wasm log" in l and "allowed" in l]
    assert not allow_lines, allow_lines
