"""`explain` parity: every request the suite sends through Envoy is also decided by the
native CLI (`audience-guard explain`) with the same plugin configuration, method, path,
host, route name and headers, and the two must agree (README "Command line": explain
prints "the decision the filter takes for that request").

conftest.py registers ``Collector.record`` as a harness request hook (on by default;
EXPLAIN_PARITY=0 turns it off) and turns on each Envoy's access log, which tells what the
filter saw after Envoy's own processing: the normalized path (normalize_path,
merge_slashes, absolute-form targets, fragments), the :authority and the route name,
and whether the response came from the filter/upstream or from Envoy itself.
test_zzz_explain_parity.py runs the CLI on everything at the end of the session (one
subprocess per request, in parallel) and asserts zero mismatches.

What is compared, per request:
- explain's ``status`` == the status Envoy returned (a dry-run deny is 200 in both);
- ``www_authenticate`` == Envoy's WWW-Authenticate response header (both may be absent);
- allowed requests: every header of ``headers_set`` reached the echo upstream with that
  value (``:path`` as the upstream's request target), and no header of
  ``headers_removed`` that is not set again reached it.

Skipped (counted by reason): configurations with `remote`/`discovery` keys (the CLI does
not fetch), requests Envoy answered itself (RESPONSE_CODE_DETAILS not from the filter or
the upstream), header bytes that are not UTF-8 or hold NUL (not expressible as argv),
arguments too large for argv, and requests without an access-log entry. Headers are
passed exactly as sent, one --header per entry: a repeated header over HTTP/2 (separate
entries in Envoy) and over HTTP/1 (joined by Envoy for some names) alike — both must get
the same decision.

Clock: ``--now`` is the second the request was sent; if the response came back in a
later second and the first does not agree, the later second is tried too (the filter
reads its clock somewhere in between).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from harness import REPO, SentRequest

MAX_ARG = 120 * 1024  # Linux: MAX_ARG_STRLEN is 128 KiB per argument
MAX_ARGV = 1536 * 1024


def cli_path() -> str:
    return os.environ.get("AG_CLI") or str(REPO / "target/debug/audience-guard")


def cli_is_stale() -> Optional[str]:
    """A message if the CLI binary is missing or older than the sources."""
    cli = Path(cli_path())
    if not cli.is_file():
        return f"{cli} not found: run `cargo build --bin audience-guard`"
    newest = max((p.stat().st_mtime, p) for p in (REPO / "src").rglob("*.rs"))
    if newest[0] > cli.stat().st_mtime:
        return f"{cli} is older than {newest[1]}: run `cargo build --bin audience-guard`"
    return None


# judged when the session starts: sources edited during the run do not matter, the wasm
# module under test was built before that too
STALE_AT_START = cli_is_stale()


@dataclass
class Outcome:
    compared: int = 0
    skipped: Counter = field(default_factory=Counter)
    mismatches: list = field(default_factory=list)
    later_second: int = 0  # agreed only with --now one second later
    statuses: Counter = field(default_factory=Counter)
    control: Optional[tuple] = None  # (reason, differences) of the negative control
    reasons: Counter = field(default_factory=Counter)


_local = threading.local()


class not_collected:
    """`with parity.not_collected(): ...` — requests sent inside are left out of the
    session-wide comparison (for tests that check a known disagreement themselves)."""

    def __enter__(self):
        _local.off = True

    def __exit__(self, *exc):
        _local.off = False


class Collector:
    def __init__(self) -> None:
        self.sent: list[SentRequest] = []
        self.lock = threading.Lock()

    def record(self, sent: SentRequest) -> None:
        if getattr(_local, "off", False):
            return
        with self.lock:
            self.sent.append(sent)

    def explain_one(self, sent: SentRequest) -> tuple:
        """(explain's JSON, differences from what Envoy did) for one request, configs
        without remote keys only; the access log is read at once."""
        cfg = sent.envoy.plugin_config
        f = Path(sent.envoy.dir) / "plugin-config.json"
        f.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
        entry = None
        deadline = time.monotonic() + 2
        while entry is None and time.monotonic() < deadline:
            entry = self._access_log(sent.envoy).get(sent.test_id)
            if entry is None:
                time.sleep(0.02)
        argv, skip = self._plan(sent, entry, str(f))
        assert skip is None, skip
        ex = self._explain(argv, int(sent.sent_at))
        return ex, self._differences(sent, ex)

    # ------------------------------------------------------------------ access logs
    @staticmethod
    def _access_log(envoy) -> dict:
        """{test id: entry} from the Envoy's JSON access log."""
        out: dict = {}
        path = getattr(envoy, "access_log_path", None)
        if not path:
            return out
        try:
            text = Path(path).read_text("utf-8", "replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("id"):
                out[entry["id"]] = entry
        return out

    # ------------------------------------------------------------------ planning
    def _plan(self, sent: SentRequest, entry: Optional[dict], config_file: Optional[str]):
        """(argv, None) or (None, skip reason)."""
        cfg = sent.envoy.plugin_config
        if config_file is None:
            return None, "plugin config with remote/discovery keys"
        if entry is None:
            return None, "no access-log entry"
        details = entry.get("details") or ""
        # the filter's local replies carry no details; Envoy's own always name the cause
        if not (details in ("", "via_upstream") or details.startswith("wasm")):
            return None, f"answered by Envoy itself ({details})"
        values = []
        for name, value in sent.headers:
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    return None, "header value not UTF-8"
            else:
                value = str(value)
                # http.client sends str values as latin-1: non-ASCII would be different bytes
                if any(ord(c) > 0x7F for c in value):
                    try:
                        value = value.encode("latin-1").decode("utf-8")
                    except UnicodeError:
                        return None, "header value not UTF-8"
            if "\x00" in value or "\x00" in name:
                return None, "NUL in a header"
            values.append((name, value))
        target = sent.target
        query = ""
        rest = target.split("#", 1)[0]
        if "?" in rest:
            query = "?" + rest.split("?", 1)[1]
        path = entry.get("path") or ""
        if not path or path == "-":
            return None, "no path in the access log"
        path = path + query
        authority = entry.get("authority")
        if authority in (None, "-"):
            authority = sent.host
        argv = [cli_path(), "explain", "--config", config_file, "--method", entry.get("method") or sent.method,
                "--path", path, "--host", authority]
        route = entry.get("route")
        if route and route != "-":
            argv += ["--route", route]
        for name, value in values:
            argv += ["--header", f"{name}: {value}"]
        if "\x00" in path:
            return None, "NUL in the path"
        if max(len(a.encode()) for a in argv) > MAX_ARG or sum(len(a.encode()) + 1 for a in argv) > MAX_ARGV:
            return None, "too large for a command line"
        return argv, None

    @staticmethod
    def _has_remote_keys(cfg) -> bool:
        if isinstance(cfg, str):
            try:
                cfg = json.loads(cfg)
            except ValueError:
                return False
        issuers = cfg.get("issuers") if isinstance(cfg, dict) else None
        return any(isinstance(i, dict) and ("remote" in i or "discovery" in i) for i in (issuers or []))

    # ------------------------------------------------------------------ comparing
    @staticmethod
    def _explain(argv: list, now: int) -> dict:
        out = subprocess.run(argv + ["--now", str(now)], capture_output=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"explain failed ({out.returncode}): {out.stderr.decode(errors='replace')[:300]}")
        return json.loads(out.stdout)

    @staticmethod
    def _differences(sent: SentRequest, ex: dict) -> list:
        r = sent.response
        diffs = []
        if ex["status"] != r.status:
            diffs.append(f"status: explain {ex['status']} ({ex['reason']}), Envoy {r.status}")
            return diffs
        got_www = r.header_all("www-authenticate")
        want_www = ex.get("www_authenticate")
        if (want_www is None and got_www) or (want_www is not None and got_www != [want_www]):
            diffs.append(f"www-authenticate: explain {want_www!r}, Envoy {got_www!r}")
        if r.status == 200:
            seen = r.upstream
            if seen is None:
                diffs.append("allowed by explain, but the upstream never saw the request")
                return diffs
            for name, value in (ex.get("headers_set") or {}).items():
                if name == ":path":
                    if seen.path != value:
                        diffs.append(f":path: explain {value!r}, upstream {seen.path!r}")
                    continue
                # the echo upstream decodes header bytes as latin-1; compare as UTF-8
                got = [utf8(v) for v in seen.all(name)]
                if got != [value]:
                    diffs.append(f"header {name}: explain sets {value!r}, upstream got {got!r}")
            for name in ex.get("headers_removed") or []:
                if name in (ex.get("headers_set") or {}):
                    continue
                if seen.has(name):
                    diffs.append(f"header {name}: explain removes it, upstream got {seen.all(name)!r}")
        return diffs

    def run(self, workers: Optional[int] = None) -> Outcome:
        with self.lock:
            sent = list(self.sent)
        outcome = Outcome()
        logs: dict = {}
        configs: dict = {}
        plans = []
        for s in sent:
            env = s.envoy
            key = id(env)
            if key not in logs:
                logs[key] = self._access_log(env)
                if self._has_remote_keys(env.plugin_config):
                    configs[key] = None
                else:
                    f = Path(env.dir) / "plugin-config.json"
                    cfg = env.plugin_config
                    f.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
                    configs[key] = str(f)
            argv, skip = self._plan(s, logs[key].get(s.test_id), configs[key])
            if skip:
                outcome.skipped[skip] += 1
            else:
                plans.append((s, argv))

        def judge(item):
            s, argv = item
            first = int(s.sent_at)
            last = int(s.done_at)
            tried = []
            for now in range(first, last + 1):
                ex = self._explain(argv, now)
                diffs = self._differences(s, ex)
                if not diffs:
                    return s, argv, ex, [], now != first
                tried.append((now, diffs))
            return s, argv, ex, tried[0][1], False

        with ThreadPoolExecutor(workers or max(2, os.cpu_count() or 2)) as pool:
            for s, argv, ex, diffs, later in pool.map(judge, plans):
                if outcome.control is None and ex["reason"] == "allowed" and ex.get("issuer"):
                    # negative control: the same request decided in year 9999 (token
                    # expired) must be reported as a mismatch, or nothing is compared
                    late = self._explain(argv, 253402300000)
                    outcome.control = (late["reason"], self._differences(s, late))
                outcome.compared += 1
                outcome.later_second += int(later)
                outcome.statuses[ex["status"]] += 1
                outcome.reasons[ex["reason"] + (" (dry run)" if ex.get("dry_run") else "")] += 1
                if diffs:
                    outcome.mismatches.append(describe(s, ex, diffs))
        return outcome


def utf8(latin1: str) -> str:
    try:
        return latin1.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return latin1


def describe(s: SentRequest, ex: dict, diffs: list) -> str:
    def short(v):
        v = v.decode("latin-1") if isinstance(v, bytes) else str(v)
        return v if len(v) <= 80 else v[:60] + f"…({len(v)} chars)"

    hdrs = ", ".join(f"{n}: {short(v)!r}" for n, v in s.headers if n.lower() != "x-test-id")
    return (
        f"{s.protocol} {s.method} {short(s.target)!r} host={s.host!r} [{hdrs}] on {s.envoy.dir}: "
        f"explain says {ex['status']} {ex['reason']} rule={ex.get('rule')!r}; " + "; ".join(diffs)
    )
