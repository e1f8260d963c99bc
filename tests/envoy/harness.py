"""Real-Envoy harness: an echo upstream, an Envoy launcher, request and metrics helpers.

Used by conftest.py; kept in its own module so tests can import the types.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Optional, Union

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TEST_ID_HEADER = "x-test-id"
JWT_RE = re.compile(r"[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}")


def wasm_path() -> str:
    return os.environ.get("WASM") or str(REPO / "target/wasm32-wasip1/release/audience_guard.wasm")


def envoy_path() -> str:
    return os.environ.get("ENVOY") or shutil.which("envoy") or str(REPO / ".venv/bin/envoy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ====================================================================== upstream
@dataclass
class Seen:
    method: str
    path: str
    headers: list  # [(name_lower, value)] in arrival order; values decoded latin-1
    body: bytes = b""

    def get(self, name: str) -> Optional[str]:
        vals = self.all(name)
        return vals[0] if vals else None

    def all(self, name: str) -> list:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def names(self) -> set:
        return {k for k, _ in self.headers}

    def has(self, name: str) -> bool:
        return name.lower() in self.names()


class EchoUpstream:
    """Threaded HTTP/1.1 server recording every request; answers 200 with the headers as JSON."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.by_id: dict[str, Seen] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    received = self._read_chunked()
                else:
                    length = int(self.headers.get("content-length") or 0)
                    received = self.rfile.read(length) if length else b""
                hdrs = [(k.lower(), v) for k, v in self.headers.raw_items()]
                rec = Seen(self.command, self.path, hdrs, received)
                with outer.lock:
                    outer.seen.append(rec)
                    tid = rec.get(TEST_ID_HEADER)
                    if tid:
                        outer.by_id[tid] = rec
                body = json.dumps({"method": self.command, "path": self.path, "headers": hdrs}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.send_header("x-from-upstream", "1")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _read_chunked(self) -> bytes:
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class KeyServer:
    """A stand-in IdP: serves configurable bodies per path, counts fetches."""

    def __init__(self) -> None:
        self.routes: dict = {}  # path -> (status, body bytes, delay seconds, cut, content type)
        self.hits: dict = {}
        self.times: dict = {}  # path -> [time.monotonic() of each fetch]
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with outer.lock:
                    outer.hits[path] = outer.hits.get(path, 0) + 1
                    outer.times.setdefault(path, []).append(time.monotonic())
                    status, body, delay, cut, ctype = outer.routes.get(
                        path, (404, b"not found", 0.0, False, "application/json"))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    if ctype is not None:
                        self.send_header("content-type", ctype)
                    # cut: promise more than is sent, then close: a reset mid-body
                    self.send_header("content-length", str(len(body) * (2 if cut else 1)))
                    self.end_headers()
                    self.wfile.write(body)
                    if cut:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # Envoy gave up first (a test of timeout_ms)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, path: str, body: Union[bytes, str, dict], status: int = 200, delay: float = 0.0,
            cut: bool = False, content_type: Optional[str] = "application/json") -> None:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.routes[path] = (status, body, delay, cut, content_type)

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits.get(path, 0)

    def fetch_times(self, path: str) -> list:
        """time.monotonic() of every fetch of ``path``, oldest first."""
        with self.lock:
            return list(self.times.get(path, []))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ====================================================================== responses
@dataclass
class Response:
    status: int
    headers: list  # [(name_lower, value)]
    body: bytes
    upstream: Optional[Seen]  # what the upstream saw, or None if the request never reached it

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name: str) -> list:
        return [v for k, v in self.headers if k == name.lower()]

    @property
    def www_authenticate(self) -> Optional[str]:
        return self.header("www-authenticate")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:  # compact, for assertion messages
        body = self.body[:300]
        return (
            f"<Response {self.status} www-auth={self.www_authenticate!r} body={body!r} "
            f"reached_upstream={self.upstream is not None}>"
        )


HeaderVal = Union[str, bytes]


# ====================================================================== envoy
_base_ids = itertools.count((os.getpid() % 5000) * 10 + 100)
WORK_DIRS: list = []  # every Envoy's temporary directory (config, logs), for cleanup

# Opt-in observation of every request the suite sends (used by parity.py, enabled in
# conftest.py): each hook is called as hook(SentRequest) after the response arrived.
REQUEST_HOOKS: list = []
# When true, every Envoy also writes a JSON access log (access.log in its directory) with
# what the filter saw after Envoy's own processing: normalized path, :authority, route.
ACCESS_LOG = False
ACCESS_LOG_FORMAT = {
    "id": f"%REQ({TEST_ID_HEADER.upper()})%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ_WITHOUT_QUERY(:PATH)%",
    "authority": "%REQ(:AUTHORITY)%",
    "route": "%ROUTE_NAME%",
    "code": "%RESPONSE_CODE%",
    "details": "%RESPONSE_CODE_DETAILS%",
}


@dataclass
class SentRequest:
    """One request as the suite sent it, and what came back (for REQUEST_HOOKS)."""

    envoy: "Envoy"
    protocol: str  # "http1" or "h2"
    method: str
    target: str  # the request target exactly as sent
    host: str
    headers: list  # [(name, str|bytes value)] exactly as sent, Host excluded, x-test-id included
    test_id: str
    sent_at: float  # time.time() just before sending
    done_at: float  # time.time() once the response was read
    response: "Response"


def wasm_filter(plugin_config: Union[dict, str], wasm: str, failure_policy: str = "FAIL_CLOSED") -> dict:
    value = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    return {
        "name": "audience_guard",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "audience_guard",
                "root_id": "audience_guard",
                "failure_policy": failure_policy,
                "vm_config": {
                    "vm_id": "audience_guard",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm}},
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": value,
                },
            },
        },
    }


ROUTES = [
    # Envoy route names, for match.route tests
    {"name": "orders-route", "match": {"prefix": "/orders"}, "route": {"cluster": "upstream"}},
    {"name": "internal-route", "match": {"prefix": "/internal"}, "route": {"cluster": "upstream"}},
    {"name": "default-route", "match": {"prefix": "/"}, "route": {"cluster": "upstream"}},
]


def static_cluster(name: str, port: int) -> dict:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}
            ],
        },
    }


def bootstrap(
    plugin_config: Union[dict, str],
    *,
    wasm: str,
    admin_port: int,
    listener_port: int,
    upstream_port: int,
    escaped_slashes: str = "KEEP_UNCHANGED",
    failure_policy: str = "FAIL_CLOSED",
    hcm_extra: Optional[dict] = None,
    extra_clusters: Optional[dict] = None,
    access_log: Optional[str] = None,
) -> dict:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "ingress",
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": escaped_slashes,
        "route_config": {
            "name": "local",
            "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": ROUTES}],
        },
        "http_filters": [
            wasm_filter(plugin_config, wasm, failure_policy),
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    if access_log:
        hcm["access_log"] = [{
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": access_log,
                "log_format": {
                    "json_format": ACCESS_LOG_FORMAT,
                    # the path without its query: no query-string token in the access log
                    "formatters": [{
                        "name": "envoy.formatter.req_without_query",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery"
                        },
                    }],
                },
            },
        }]
    hcm.update(hcm_extra or {})
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "main",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listener_port}},
                    "filter_chains": [
                        {
                            "filters": [
                                {"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}
                            ]
                        }
                    ],
                }
            ],
            "clusters": [static_cluster("upstream", upstream_port)]
            + [static_cluster(n, p) for n, p in (extra_clusters or {}).items()],
        },
    }


class EnvoyStartError(RuntimeError):
    def __init__(self, msg: str, log: str, returncode: Optional[int]):
        notable = [l for l in log.splitlines() if "wasm log" in l or "[critical]" in l or "[error]" in l]
        super().__init__(msg + "\n" + "\n".join(notable[-8:]))
        self.log = log
        self.returncode = returncode


class Envoy:
    """One Envoy process running the filter with one plugin configuration."""

    def __init__(
        self,
        plugin_config: Union[dict, str],
        upstream: EchoUpstream,
        *,
        escaped_slashes: str = "KEEP_UNCHANGED",
        failure_policy: str = "FAIL_CLOSED",
        hcm_extra: Optional[dict] = None,
        log_level: str = "info",
        concurrency: int = 1,
        extra_clusters: Optional[dict] = None,
        start_timeout: float = 30.0,
        dynamic_listener: bool = False,
    ) -> None:
        self.upstream = upstream
        self.dynamic_listener = dynamic_listener
        self._bootstrap_opts = dict(escaped_slashes=escaped_slashes, failure_policy=failure_policy,
                                    hcm_extra=hcm_extra, extra_clusters=extra_clusters)
        self.plugin_config = plugin_config
        self.dir = Path(tempfile.mkdtemp(prefix="ag-envoy-"))
        WORK_DIRS.append(self.dir)
        self.admin_port = free_port()
        self.port = free_port()
        self.log_path = self.dir / "envoy.log"
        self.config_path = self.dir / "envoy.yaml"
        self.access_log_path = self.dir / "access.log" if ACCESS_LOG else None
        self.sent_tokens: set[str] = set()
        cfg = bootstrap(
            plugin_config,
            wasm=wasm_path(),
            admin_port=self.admin_port,
            listener_port=self.port,
            upstream_port=upstream.port,
            escaped_slashes=escaped_slashes,
            failure_policy=failure_policy,
            hcm_extra=hcm_extra,
            extra_clusters=extra_clusters,
            access_log=str(self.access_log_path) if self.access_log_path else None,
        )
        if dynamic_listener:
            # The listener comes from a file through LDS, so that a test can replace it
            # (with another plugin configuration) as a control plane would.
            (self.dir / "lds").mkdir()
            self.lds_path = self.dir / "lds" / "lds.json"
            self._write_lds(cfg["static_resources"].pop("listeners"))
            cfg["node"] = {"id": "audience-guard-test", "cluster": "audience-guard-test"}
            cfg["dynamic_resources"] = {"lds_config": {"resource_api_version": "V3", "path_config_source": {
                "path": str(self.lds_path), "watched_directory": {"path": str(self.lds_path.parent)}}}}
        # JSON is YAML: keeps quoting of the plugin string exact.
        self.config_path.write_text(json.dumps(cfg, indent=1))
        self.stdout_path = self.dir / "stdout.log"
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(
            [
                envoy_path(),
                "-c", str(self.config_path),
                "--disable-hot-restart",
                "--base-id", str(next(_base_ids)),
                "--concurrency", str(concurrency),
                "-l", log_level,
                "--log-path", str(self.log_path),
                # the log file is buffered; flush every write so tests can read it at once
                "--file-flush-min-size-kb", "0",
                "--file-flush-interval-msec", "20",
            ],
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    # -- lifecycle
    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise EnvoyStartError(f"envoy exited with {rc} before it was ready", self.log(), rc)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/ready", timeout=1) as r:
                    ready = r.status == 200
            except Exception:
                ready = False
            if ready:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise EnvoyStartError("envoy did not become ready in time", self.log(), self.proc.poll())

    def _write_lds(self, listeners: list) -> None:
        resources = [{"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", **l} for l in listeners]
        tmp = self.lds_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"resources": resources}, indent=1))
        os.replace(tmp, self.lds_path)  # atomic: Envoy never reads half a file

    def lds_updates(self) -> dict:
        """{'success': n, 'rejected': n} of Envoy's LDS updates."""
        out = {}
        for line in self.admin("/stats?filter=listener_manager.lds.update_").splitlines():
            name, _, value = line.partition(": ")
            if value.isdigit():  # counters (update_duration is a histogram)
                out[name.rsplit("update_", 1)[-1]] = int(value)
        return out

    def reconfigure(self, plugin_config: Union[dict, str], timeout: float = 20.0) -> bool:
        """Replaces the listener (dynamic_listener=True) with one whose filter carries
        ``plugin_config``; True once Envoy took it and the new listener answers, False if
        Envoy rejected the update."""
        before = self.lds_updates()
        cfg = bootstrap(plugin_config, wasm=wasm_path(), admin_port=self.admin_port, listener_port=self.port,
                        upstream_port=self.upstream.port,
                        access_log=str(self.access_log_path) if self.access_log_path else None,
                        **self._bootstrap_opts)
        self.plugin_config = plugin_config
        self._write_lds(cfg["static_resources"]["listeners"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.lds_updates()
            if now.get("rejected", 0) > before.get("rejected", 0):
                return False
            if now.get("success", 0) > before.get("success", 0):
                # the new listener is in place once none is warming any more
                warming = self.admin("/stats?filter=listener_manager.total_listeners_warming")
                if warming.strip().endswith(": 0"):
                    return True
            time.sleep(0.05)
        raise AssertionError("Envoy neither took nor rejected the listener update in time")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stdout.close()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- logs
    def log(self) -> str:
        text = ""
        for p in (self.log_path, self.stdout_path):
            try:
                text += p.read_bytes().decode("utf-8", "replace")
            except FileNotFoundError:
                pass
        return text

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, mark: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, mark: int, predicate, timeout: float = 2.0) -> str:
        """Log text written since ``mark``, polled until predicate(text) holds or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(mark)
            if predicate(text) or time.monotonic() > deadline:
                return text
            time.sleep(0.02)

    # -- requests
    def request(
        self,
        method: str = "GET",
        path: str = "/",
        headers: Optional[Iterable] = None,
        *,
        token: Optional[str] = None,
        host: str = "api.example.com",
        body: Optional[bytes] = None,
        timeout: float = 10.0,
    ) -> Response:
        """Send one request on a fresh connection.

        ``headers`` is a dict or a list of (name, value) pairs; values may be bytes (sent
        raw, e.g. b'\\xff'). ``token`` adds ``Authorization: Bearer <token>``.
        """
        pairs: list = []
        if isinstance(headers, dict):
            pairs.extend(headers.items())
        elif headers:
            pairs.extend(headers)
        if token is not None:
            pairs.append(("Authorization", f"Bearer {token}"))
        tid = uuid.uuid4().hex
        pairs.append((TEST_ID_HEADER, tid))
        self._remember_tokens(path, pairs)

        sent_at = time.time()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for k, v in pairs:
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
            resp_headers = [(k.lower(), v) for k, v in r.getheaders()]
            status = r.status
        finally:
            conn.close()
        with self.upstream.lock:
            seen = self.upstream.by_id.pop(tid, None)
        resp = Response(status, resp_headers, data, seen)
        self._observed("http1", method, path, host, pairs, tid, sent_at, resp)
        if seen is None:
            # a local reply: it must never echo a token back
            text = data.decode("latin-1")
            for t in list(self.sent_tokens):  # other threads add to it
                assert t not in text, f"token echoed in a response body: {resp!r}"
                sig = t.rsplit(".", 1)[-1]
                if len(sig) >= 16:
                    assert sig not in text, f"token signature echoed in a response body: {resp!r}"
        return resp

    def request_h2(self, method: str = "GET", path: str = "/", headers: Optional[list] = None,
                   *, host: str = "api.example.com", timeout: float = 10.0) -> Response:
        """Send one HTTP/2 (prior knowledge, h2c) request with curl.

        Over HTTP/2 a repeated header stays separate entries in Envoy's header map (HTTP/1
        joins them with commas), so this reaches code paths HTTP/1 cannot.
        """
        curl = shutil.which("curl")
        assert curl, "curl is required for HTTP/2 tests"
        pairs = list(headers or [])
        tid = uuid.uuid4().hex
        pairs.append((TEST_ID_HEADER, tid))
        self._remember_tokens(path, pairs)
        hdr_file = self.dir / f"h2-{tid}.hdr"
        sent_at = time.time()
        args = [curl, "-sS", "--http2-prior-knowledge", "-X", method, "-o", "-", "-D", str(hdr_file),
                "--max-time", str(timeout), "-H", f"Host: {host}"]
        for k, v in pairs:
            args += ["-H", f"{k}: {v}"]
        args.append(f"http://127.0.0.1:{self.port}{path}")
        out = subprocess.run(args, capture_output=True, timeout=timeout + 5)
        raw_headers = hdr_file.read_text("latin-1").splitlines()
        hdr_file.unlink()
        status = int(raw_headers[0].split()[1])
        resp_headers = []
        for line in raw_headers[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                resp_headers.append((k.strip().lower(), v.strip()))
        with self.upstream.lock:
            seen = self.upstream.by_id.pop(tid, None)
        resp = Response(status, resp_headers, out.stdout, seen)
        self._observed("h2", method, path, host, pairs, tid, sent_at, resp)
        return resp

    def _observed(self, protocol, method, target, host, pairs, tid, sent_at, resp) -> None:
        if not REQUEST_HOOKS:
            return
        sent = SentRequest(self, protocol, method, target, host, list(pairs), tid, sent_at, time.time(), resp)
        for hook in REQUEST_HOOKS:
            hook(sent)

    def _remember_tokens(self, path: str, pairs: list) -> None:
        blobs = [path] + [v.decode("latin-1") if isinstance(v, bytes) else str(v) for _, v in pairs]
        for b in blobs:
            for m in JWT_RE.finditer(b):
                self.sent_tokens.add(m.group(0))

    # -- admin / metrics
    def admin(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as r:
            return r.read().decode()

    def prometheus(self, filter: Optional[str] = None) -> dict:
        """{metric_name: value} for every sample line of /stats/prometheus, names as exported."""
        out: dict = {}
        path = "/stats/prometheus" + (f"?filter={urllib.parse.quote(filter)}" if filter else "")
        for line in self.admin(path).splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if m:
                name = m.group(1) + (m.group(2) or "")
                try:
                    out[name] = float(m.group(3))
                except ValueError:
                    pass
        return out

    def counters(self) -> dict:
        """{short_name: value} for the filter's counters, e.g. {'requests_allowed': 3}.

        Envoy exports proxy-wasm metrics in its `wasmcustom` stats namespace; depending on
        the version, the Prometheus name is `audience_guard_x`, `wasmcustom_audience_guard_x`
        or `envoy_wasmcustom_audience_guard_x`. We match on the `audience_guard_` part.
        """
        out: dict = {}
        for name, value in self.prometheus(filter="audience_guard_").items():
            base = name.split("{", 1)[0]
            m = re.match(r"^(?:envoy_)?(?:wasmcustom_)?audience_guard_(.+)$", base)
            if not m:
                continue
            short = m.group(1)
            out[short] = out.get(short, 0) + value
        return out

    def fetches_finished(self) -> float:
        """JWKS/discovery fetches that ended, ok or failed."""
        c = self.counters()
        return c.get("jwks_fetch_ok", 0) + c.get("jwks_fetch_failed", 0)

    def counter(self, short: str) -> float:
        return self.counters().get(short, 0)

    def worker_connections(self) -> dict:
        """{worker index: downstream connections accepted} on the main listener, from
        Envoy's per-worker listener stats (`listener.<addr>.worker_N.downstream_cx_total`)."""
        out: dict = {}
        for line in self.admin("/stats?filter=" + urllib.parse.quote(r"worker_[0-9]+\.downstream_cx_total")).splitlines():
            m = re.match(r"^listener\.127\.0\.0\.1_(\d+)\.worker_(\d+)\.downstream_cx_total: (\d+)$", line)
            if m and int(m.group(1)) == self.port:
                out[int(m.group(2))] = int(m.group(3))
        return out


def raw_exchange(envoy, data: bytes, timeout: float = 2.0) -> bytes:
    """Sends raw bytes on a fresh connection; returns everything read until Envoy closes
    the connection or ``timeout`` passes without data."""
    with socket.create_connection(("127.0.0.1", envoy.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    return out
