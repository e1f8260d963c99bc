"""Runs last: `audience-guard explain` takes the same decision as the filter in Envoy for
every request the suite sent (parity.py; README "Command line"). EXPLAIN_PARITY=0 turns
the collection off (this test is then skipped)."""

import os

import pytest

import conftest
import harness
import parity
import scenario

# the full suite compares ~850 requests (the rest use remote keys); a subset (-k) fewer
MIN_COMPARED = int(os.environ.get("EXPLAIN_PARITY_MIN", "0"))


def test_explain_agrees_with_envoy_on_every_request(request):
    if conftest.PARITY is None:
        pytest.skip("EXPLAIN_PARITY=0")
    assert parity.STALE_AT_START is None, parity.STALE_AT_START
    sent = len(conftest.PARITY.sent)
    if sent == 0:
        pytest.skip("no request went through Envoy in this session")
    full_run = request.session.testscollected > 500
    outcome = conftest.PARITY.run()
    skipped = sum(outcome.skipped.values())
    summary = (
        f"explain parity: {sent} requests sent, {outcome.compared} compared, {skipped} skipped, "
        f"{len(outcome.mismatches)} mismatches, {outcome.later_second} agreed at the next second\n"
        f"  skipped: {dict(outcome.skipped.most_common())}\n"
        f"  statuses: {dict(sorted(outcome.statuses.items()))}\n"
        f"  reasons: {dict(outcome.reasons.most_common())}"
    )
    print("\n" + summary)
    request.config._explain_parity_summary = summary
    assert not outcome.mismatches, (
        f"{len(outcome.mismatches)} requests where explain and Envoy disagree:\n"
        + "\n".join(outcome.mismatches[:25]) + "\n" + summary
    )
    assert outcome.control is not None, "no allowed request to run the negative control on"
    reason, diffs = outcome.control
    assert reason == "expired" and diffs, f"negative control not detected: {outcome.control}"
    minimum = MIN_COMPARED or (600 if full_run else 1)
    assert outcome.compared >= minimum, f"only {outcome.compared} requests compared (want ≥ {minimum})\n{summary}"


def _sent_one(envoy, *args, **kw):
    """Sends one request outside the session-wide collection; returns its SentRequest."""
    got = []
    hook = got.append
    harness.REQUEST_HOOKS.append(hook)
    try:
        with parity.not_collected():
            envoy.request(*args, **kw)
    finally:
        harness.REQUEST_HOOKS.remove(hook)
    return got[0]


@pytest.mark.parametrize("tail", ["  ", "\t"], ids=["spaces", "tab"])
def test_explain_trims_trailing_whitespace_like_envoy(seed, tail):
    if not harness.ACCESS_LOG or parity.STALE_AT_START:
        pytest.skip("EXPLAIN_PARITY=0" if not harness.ACCESS_LOG else parity.STALE_AT_START)
    sent = _sent_one(seed, "GET", "/orders", [("Authorization", f"Bearer {scenario.token()}{tail}")])
    assert sent.response.status == 200, f"Envoy strips trailing OWS; the filter allows: {sent.response!r}"
    ex, diffs = parity.Collector().explain_one(sent)
    assert not diffs, f"explain says {ex['status']} {ex['reason']}: {diffs}"
