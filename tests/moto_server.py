"""Emulated AWS on loopback for the tests: moto as a server, plus a fault-injecting proxy.

Use from a test module:

    from tests.moto_server import moto_url, aws_env, reset_moto, seed_cost_and_usage  # noqa: F401

* `moto_url` (session fixture): a ThreadedMotoServer on 127.0.0.1, random port,
  MOTO_EC2_LOAD_DEFAULT_AMIS=false. Nothing ever leaves loopback.
* `reset_moto(url)`: POST /moto-api/reset (wipes every backend, incl. the CE result queue).
* `aws_env` (fixture): fake credentials, no user ~/.aws files, no instance metadata lookups.
* `seed_cost_and_usage(url, results)`: queue Cost Explorer GetCostAndUsage answers. moto keeps
  a FIFO queue; each DISTINCT request body takes the next result (and keeps it), so page 2 of a
  paginated call (a body with NextPageToken) takes the second result, and so on.
* `FaultProxy(moto_url)`: a loopback HTTP proxy in front of moto that counts requests per
  operation (moto keeps no counter) and answers chosen operations with faults (throttling,
  5xx, expired token, access denied) a given number of times. Point endpoint_url at
  `proxy.url`. Works for the json, rest-json, query, ec2 and rpc-v2-cbor protocols. A subclass
  can answer operations moto lacks by overriding `serve` (tests/sagemaker_studio_fake.py).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the step tests' clock


def make_ctx(db: Any, options: dict[str, Any], now: datetime = NOW) -> tuple[Any, Any]:
    """A SyncContext of an "aws-test" source over `db` and an AwsSession (one attempt per request)
    with the given options, for the step tests."""
    from cache import Store
    from providers.aws.adapter import AwsOptions
    from providers.aws.session import AwsSession
    from providers.base import SyncContext

    store = Store(db)
    sid = store.ensure_source("aws-test", "aws", {})
    typed = AwsOptions(**options)
    ctx = SyncContext(store=store, source_id=sid, source_name="aws-test", kind="aws", options=typed,
                      now=now, cost_window=(now.date() - timedelta(days=3), now.date()))
    return ctx, AwsSession(typed, ctx.counter, max_attempts=1)


def _start_moto() -> tuple[Any, str]:
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server, url = _start_moto()
    try:
        yield url
    finally:
        server.stop()


def _post(url: str, body: bytes = b"", content_type: str = "application/json") -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
        return int(resp.status)


def reset_moto(url: str) -> None:
    """Wipe all moto state (every service, every account)."""
    _post(f"{url}/moto-api/reset")


def seed_cost_and_usage(url: str, results: list[dict[str, Any]], account_id: str | None = None) -> None:
    """Queue GetCostAndUsage answers (FIFO, one per distinct request body)."""
    body: dict[str, Any] = {"results": results}
    if account_id:
        body["account_id"] = account_id
    status = _post(f"{url}/moto-api/static/ce/cost-and-usage-results", json.dumps(body).encode())
    assert status == 201, status


def _fake_aws_env(mp: pytest.MonkeyPatch, d: Path) -> None:
    """Fake static credentials; never read ~/.aws, never query instance metadata."""
    for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                 ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", "us-east-1"),
                 ("AWS_CONFIG_FILE", str(d / "no-aws-config")), ("AWS_SHARED_CREDENTIALS_FILE", str(d / "no-aws-credentials")),
                 ("AWS_EC2_METADATA_DISABLED", "true")):
        mp.setenv(k, v)
    mp.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws_env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake static credentials for one test."""
    _fake_aws_env(monkeypatch, Path(tmp_path))


@pytest.fixture(scope="module")
def aws_env_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The same for module-scoped fixtures (a moto server and the data seeded once per module)."""
    mp = pytest.MonkeyPatch()
    _fake_aws_env(mp, tmp_path_factory.mktemp("awsenv"))
    yield
    mp.undo()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink botocore's standard-mode backoff (1 s / 50 ms base) so retry tests stay fast."""
    from botocore.retries import standard

    monkeypatch.setattr(
        standard.ExponentialBackoff,
        "_DEFAULT_BACKOFF_CONFIG",
        {"throttling_base_scale": 0.01, "non_throttling_base_scale": 0.001},
    )


# -- fault-injecting proxy -------------------------------------------------------------------


@dataclass
class Fault:
    operation: str  # e.g. "GetCostAndUsage", "DescribeInstances"
    status: int = 400
    code: str = "ThrottlingException"
    message: str = "Rate exceeded"
    times: int = 1  # how many requests get the fault; -1 = always


THROTTLE = {"status": 400, "code": "ThrottlingException", "message": "Rate exceeded"}
SERVER_ERROR = {"status": 500, "code": "InternalFailure", "message": "internal error"}
EXPIRED = {"status": 400, "code": "ExpiredTokenException", "message": "The security token included in the request is expired"}
DENIED = {"status": 400, "code": "AccessDeniedException", "message": "User: arn:aws:iam::123456789012:user/t is not authorized"}


def _cbor_text(s: str) -> bytes:
    b = s.encode()
    n = len(b)
    if n < 24:
        return bytes([0x60 + n]) + b
    if n < 256:
        return bytes([0x78, n]) + b
    return bytes([0x79, n >> 8, n & 0xFF]) + b


class FaultProxy:
    """Loopback proxy to moto that counts requests and injects faults per operation."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faults: list[Fault] = []
        self.counts: dict[str, int] = {}
        self.faulted: dict[str, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                op, service, proto = proxy._identify(self.path, dict(self.headers), body)
                fault = proxy._take(op)
                local = None if fault is not None else proxy.serve(op, service, proto, body)
                if fault is not None:
                    status, headers, payload = proxy._fault_response(fault, service, proto)
                elif local is not None:
                    status, headers, payload = local
                else:
                    status, headers, payload = proxy._forward(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # -- configuration -----------------------------------------------------------------
    def add_fault(self, operation: str, *, times: int = 1, **kw: Any) -> Fault:
        f = Fault(operation=operation, times=times, **kw)
        with self._lock:
            self.faults.append(f)
        return f

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.counts.clear()
            self.faulted.clear()

    def count(self, operation: str) -> int:
        return self.counts.get(operation, 0)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve(self, op: str, service: str, proto: str,
              body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """A subclass answers operations moto lacks here (None: forward to moto)."""
        return None

    # -- internals -------------------------------------------------------------------
    def _identify(self, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str, str]:
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        service = ""
        if "Credential=" in auth:
            scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            if len(scope) >= 4:
                service = scope[3]
        op, proto = "", "rest-json"
        if "x-amz-target" in h:
            op, proto = h["x-amz-target"].rsplit(".", 1)[-1], "json"
        elif "/operation/" in path:
            op, proto = path.rstrip("/").rsplit("/", 1)[-1], "cbor"
        elif body and b"Action=" in body:
            op = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
            proto = "ec2" if service == "ec2" else "query"
        else:
            op = urlsplit(path).path
        with self._lock:
            self.counts[op] = self.counts.get(op, 0) + 1
        return op, service, proto

    def _take(self, op: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.operation == op and f.times != 0:
                    if f.times > 0:
                        f.times -= 1
                    self.faulted[op] = self.faulted.get(op, 0) + 1
                    return f
        return None

    def _fault_response(self, f: Fault, service: str, proto: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if proto == "json":
            body = json.dumps({"__type": f.code, "message": f.message}).encode()
            return f.status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", f.code)], body
        if proto == "cbor":
            body = bytes([0xA2]) + _cbor_text("__type") + _cbor_text(f.code) + _cbor_text("message") + _cbor_text(f.message)
            return f.status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")], body
        if proto == "ec2":
            xml = (f"<Response><Errors><Error><Code>{f.code}</Code><Message>{f.message}</Message></Error></Errors>"
                   "<RequestID>fault</RequestID></Response>")
            return f.status, [("Content-Type", "text/xml")], xml.encode()
        if proto == "query":
            xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{f.code}</Code><Message>{f.message}</Message>"
                   "</Error><RequestId>fault</RequestId></ErrorResponse>")
            return f.status, [("Content-Type", "text/xml")], xml.encode()
        body = json.dumps({"message": f.message}).encode()
        return f.status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", f.code)], body

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=30)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(method, path, body=body, headers=fwd)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


@pytest.fixture
def fault_proxy(moto_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_url) as proxy:
        yield proxy
