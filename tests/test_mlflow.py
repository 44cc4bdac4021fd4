"""The MLflow adapter against response shapes recorded from MLflow's REST API (a tiny server on
127.0.0.1), and against a real MLflow tracking server when one is available.

Recorded shapes (MLflow 3.x, checked against a live server): experiments/search ->
{"experiments": [{experiment_id, name, artifact_location, lifecycle_stage, last_update_time,
creation_time}], "next_page_token"}; runs/search -> {"runs": [{"info": {run_uuid, run_id,
experiment_id, run_name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage},
"data": {"metrics": [{key, value, timestamp, step}], "params": [{key, value}], "tags": [{key,
value}]}, "inputs": {}}], "next_page_token"}; metrics/get-history -> {"metrics": [...]}; an empty
result is {}; errors are {"error_code", "message"}.

The real-server test runs when `mlflow` is importable here, or when COSTDECK_MLFLOW_PYTHON names a
Python that has it (mlflow is not a dependency of costdeck).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from analysis import mlruns
from cache import Store
from cache.money import to_nanos
from providers import mlflow as mlflow_mod
from providers.config import parse_config
from providers.errors import InputError
from providers.sync import run_sync

T0 = 1782900000000  # 2026-07-01T10:00:00Z in ms


def _run(run_id: str, exp: str, name: str, status: str, start: int, end: int | None, metrics: dict[str, float],
         tags: dict[str, str], params: dict[str, str] | None = None) -> dict[str, Any]:
    info = {"run_uuid": run_id, "experiment_id": exp, "run_name": name, "user_id": "alice", "status": status,
            "start_time": start, "artifact_uri": f"/mlruns/{exp}/{run_id}/artifacts", "lifecycle_stage": "active",
            "run_id": run_id}
    if end is not None:
        info["end_time"] = end
    data: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in {**tags, "mlflow.runName": name}.items()]}
    if metrics:
        data["metrics"] = [{"key": k, "value": v, "timestamp": (end or start), "step": 9} for k, v in metrics.items()]
    if params:
        data["params"] = [{"key": k, "value": v} for k, v in params.items()]
    return {"info": info, "data": data, "inputs": {}, "outputs": {}}


EXPERIMENTS = [
    [{"experiment_id": "0", "name": "Default", "artifact_location": "/mlruns/0", "lifecycle_stage": "active",
      "last_update_time": T0, "creation_time": T0}],
    [{"experiment_id": "7", "name": "resnet", "artifact_location": "/mlruns/7", "lifecycle_stage": "active",
      "last_update_time": T0, "creation_time": T0, "tags": [{"key": "team", "value": "vision"}]}],
]
RUNS = [
    [
        _run("a" * 32, "7", "lr-1e-3", "FINISHED", T0, T0 + 2 * 3600_000, {"val_accuracy": 0.91, "loss": 0.3},
             {"costdeck.instance_type": "p3.2xlarge", "costdeck.instance_count": "2", "costdeck.provider": "aws",
              "costdeck.region": "us-east-1", "mlflow.source.name": "train.py"}, {"lr": "0.001"}),
        _run("b" * 32, "7", "lr-1e-2", "FAILED", T0, T0 + 3600_000, {"val_accuracy": 0.52},
             {"costdeck.instance_type": "zz.unpriced"}),
    ],
    [
        _run("c" * 32, "7", "lr-3e-4", "RUNNING", T0 + 3600_000, None, {"val_accuracy": 0.7},
             {"costdeck.executors": json.dumps([{"instance_type": "p3.2xlarge", "count": 1, "region": "us-east-1",
                                                 "provider": "AWS"}])}),
        _run("d" * 32, "0", "notebook", "KILLED", T0, T0 + 60_000, {}, {}),
    ],
]
HISTORY = {"metrics": [{"key": "val_accuracy", "value": v, "timestamp": T0 + i * 60_000, "step": i}
                       for i, v in enumerate((0.3, 0.6, 0.8, 0.91))]}


def _run_filter(text: str) -> Any:
    """MLflow's search filter over run attributes, as its server evaluates it: clauses joined
    by AND, `attributes.<name> <op> <number or 'string'>`; anything else is refused (400)."""
    ops = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, ">=": lambda a, b: a is not None and a >= b,
           ">": lambda a, b: a is not None and a > b, "<=": lambda a, b: a is not None and a <= b,
           "<": lambda a, b: a is not None and a < b}
    clauses = []
    for part in filter(None, (p.strip() for p in re.split(r"\s+and\s+", text, flags=re.IGNORECASE))):
        m = re.fullmatch(r"attributes\.(\w+)\s*(>=|<=|!=|=|>|<)\s*('([^']*)'|\"([^\"]*)\"|-?\d+)", part)
        if not m or m.group(1) not in ("start_time", "end_time", "status", "run_name"):
            raise ValueError(f"Invalid clause(s) in filter string: {part!r}")
        value: Any = m.group(4) if m.group(4) is not None else m.group(5)
        if value is None:
            value = int(m.group(3))
        clauses.append((m.group(1), ops[m.group(2)], value))
    return lambda info: all(op(info.get(k), v) for k, op, v in clauses)


class FakeMlflow:
    """Serves the recorded shapes; counts requests; can inject faults per endpoint."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.bodies: list[tuple[str, Any]] = []
        self.faults: dict[str, list[int]] = {}  # path -> status codes to answer first, in order
        self.auth: str | None = None
        self.runs = [r for page in RUNS for r in page]
        self.histories: dict[tuple[str, str], Any] = {}  # (run_id, metric key) -> get-history answer
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                return

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, body: Any) -> None:
                url = urlparse(self.path)
                path = url.path.removeprefix("/api/2.0/mlflow/")
                fake.requests[path] += 1
                fake.bodies.append((path, body if body is not None else parse_qs(url.query)))
                if fake.auth is not None and self.headers.get("Authorization") != fake.auth:
                    return self._answer(401, {"error_code": "UNAUTHENTICATED", "message": "bad token"})
                pending = fake.faults.get(path)
                if pending:
                    code = pending.pop(0)
                    return self._answer(code, {"error_code": "INTERNAL_ERROR", "message": "database is locked"})
                tok = (body or {}).get("page_token")
                if path == "experiments/search":
                    page = int(tok or 0)
                    out: dict[str, Any] = {"experiments": EXPERIMENTS[page]}
                    if page + 1 < len(EXPERIMENTS):
                        out["next_page_token"] = str(page + 1)
                    return self._answer(200, out)
                if path == "runs/search":
                    page = int(tok or 0)
                    wanted = set(body.get("experiment_ids") or [])
                    try:
                        keep = _run_filter(body.get("filter") or "")
                    except ValueError as exc:
                        return self._answer(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)})
                    found = [r for r in fake.runs if r["info"]["experiment_id"] in wanted and keep(r["info"])]
                    out = {"runs": found[page * 2:page * 2 + 2]}  # pages of 2 runs
                    if len(found) > page * 2 + 2:
                        out["next_page_token"] = str(page + 1)
                    return self._answer(200, out)
                if path == "metrics/get-history":
                    q = parse_qs(url.query)
                    if q.get("metric_key") == ["val_accuracy"] and q.get("run_id") == ["a" * 32]:
                        return self._answer(200, HISTORY)
                    key = (q.get("run_id", [""])[0], q.get("metric_key", [""])[0])
                    return self._answer(200, fake.histories.get(key, {}))
                return self._answer(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "no"})

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                self._handle(json.loads(self.rfile.read(n) or b"{}"))

            def do_GET(self) -> None:  # noqa: N802
                self._handle(None)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Any:
    f = FakeMlflow()
    yield f
    f.close()


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlflow_mod, "BACKOFF_S", 0.01)
    monkeypatch.setenv("COSTDECK_NOW", "2026-07-01T12:00:00+00:00")


def config(url: str, **extra: Any) -> Any:
    return parse_config({"sources": {"mlf": {"kind": "mlflow", "url": url, **extra}}})


def prices(db: Path) -> None:
    with Store(db) as s:
        s.upsert("prices", [{"provider_name": "AWS", "region_id": "us-east-1", "sku": "p3.2xlarge",
                             "pricing_model": "on-demand", "price_nanos": to_nanos("3.06"), "source": "t", "fetched_at": "2026-07-01T00:00:00+00:00"}],
                 pk=("provider_name", "region_id", "sku", "pricing_model"))


def test_sync_recorded_shapes_with_pagination_and_a_server_error(fake: FakeMlflow, db_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TEST_TOKEN", "s3cret")
    fake.auth = "Bearer s3cret"
    fake.faults["runs/search"] = [503]  # the first runs/search fails: retried
    prices(db_path)
    (res,) = run_sync(db_path, config(fake.url, token_env="MLFLOW_TEST_TOKEN"))
    assert res.status == "ok", res.error
    # two experiment pages, two runs pages (+1 retry), one history call for each run with a primary metric
    assert fake.requests == {"experiments/search": 2, "runs/search": 3, "metrics/get-history": 3}
    assert res.api_calls == 8 and res.retries == 1
    second = [b for p, b in fake.bodies if p == "runs/search"][-1]
    assert second["page_token"] == "1" and sorted(second["experiment_ids"]) == ["0", "7"]
    assert second["max_results"] == 1000
    with Store(db_path) as s:
        runs = {r.run_id: r for r in mlruns.load_runs(s.conn)}
        hist = s.conn.execute("SELECT step, value FROM ml_run_metrics WHERE run_id=? AND key='val_accuracy' "
                              "ORDER BY step", ("a" * 32,)).fetchall()
        params = s.conn.execute("SELECT key, value FROM ml_run_params").fetchall()
    a = runs["a" * 32]
    assert (a.task, a.name, a.status, a.host) == ("resnet", "lr-1e-3", "completed", "train.py")
    assert a.primary_metric == "val_accuracy" and a.primary_value == 0.91
    assert a.executors_label == "p3.2xlarge x2" and a.executors[0].provider_name == "AWS"
    assert a.cost == to_nanos("12.24") and a.basis == mlruns.PRICED  # 2 h x 2 x $3.06
    assert [tuple(h) for h in hist] == [(0, 0.3), (1, 0.6), (2, 0.8), (3, 0.91)]
    assert ("lr", "0.001") in [tuple(p) for p in params]
    b = runs["b" * 32]
    assert b.status == "failed" and b.cost is None and "zz.unpriced" in (b.reason or "")
    c = runs["c" * 32]
    assert c.status == "running" and c.end is None and c.cost == to_nanos("3.06")  # 11:00 -> now 12:00
    d = runs["d" * 32]
    assert d.task == "Default" and d.status == "stopped" and d.cost is None and not d.executors


def test_resync_replaces_the_source_and_filters_experiments(fake: FakeMlflow, db_path: Path) -> None:
    run_sync(db_path, config(fake.url))
    with Store(db_path) as s:
        assert s.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 4
    (res,) = run_sync(db_path, config(fake.url, experiments=["resnet"], history_points=0))
    assert res.status == "ok"
    with Store(db_path) as s:
        ids = sorted(r[0] for r in s.conn.execute("SELECT run_id FROM ml_runs"))
    assert ids == ["a" * 32, "b" * 32, "c" * 32]  # the Default experiment's run is gone
    body = [b for p, b in fake.bodies if p == "runs/search"][-1]
    assert body["experiment_ids"] == ["7"]
    assert fake.requests["metrics/get-history"] == 3  # only from the first sync (history_points = 0)


def test_second_sync_fetches_only_what_changed(fake: FakeMlflow, db_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """After a full sync, the next ones ask only for runs that ended since (minus an hour) and
    runs still running, and fetch metric histories for those only; a new run appears, finished
    runs keep their data; after full_every_days a full sync lists everything again."""
    monkeypatch.setenv("COSTDECK_NOW", "2026-07-01T14:00:00+00:00")
    run_sync(db_path, config(fake.url))
    first = sum(fake.requests.values())
    assert first == 2 + 2 + 3  # experiments, runs (2 pages), a history per run with a primary metric
    fake.requests.clear()
    fake.bodies.clear()
    new = _run("e" * 32, "7", "lr-5e-4", "FINISHED", T0 + 5 * 3600_000, T0 + 6 * 3600_000 + 1800_000, {"val_accuracy": 0.93},
               {"costdeck.instance_type": "p3.2xlarge"})
    fake.runs.append(new)
    monkeypatch.setenv("COSTDECK_NOW", "2026-07-01T18:00:00+00:00")
    (res,) = run_sync(db_path, config(fake.url))
    assert res.status == "ok", res.error
    filters = [b.get("filter") for p, b in fake.bodies if p == "runs/search"]
    assert filters == [f"attributes.end_time >= {T0 + 3 * 3600_000}", "attributes.status = 'RUNNING'"]  # 13:00
    assert fake.requests == {"experiments/search": 2, "runs/search": 2, "metrics/get-history": 2}  # e and c
    with Store(db_path) as s:
        ids = sorted(r[0] for r in s.conn.execute("SELECT run_id FROM ml_runs"))
        a_hist = s.conn.execute("SELECT count(*) FROM ml_run_metrics WHERE run_id=?", ("a" * 32,)).fetchone()[0]
    assert ids == ["a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32]
    assert a_hist == 5  # the unchanged run's history and metrics are kept (4 history points + loss)
    # Unchanged: two searches, nothing else but the one running run's history.
    fake.requests.clear()
    monkeypatch.setenv("COSTDECK_NOW", "2026-07-02T09:00:00+00:00")
    run_sync(db_path, config(fake.url))
    assert fake.requests == {"experiments/search": 2, "runs/search": 2, "metrics/get-history": 1}
    # A week after the full sync: everything again, a run deleted on the server goes.
    fake.runs = [r for r in fake.runs if r["info"]["run_uuid"] != "d" * 32]
    fake.requests.clear()
    monkeypatch.setenv("COSTDECK_NOW", "2026-07-08T12:00:00+00:00")
    (res,) = run_sync(db_path, config(fake.url))
    assert fake.requests["runs/search"] == 2 and [b.get("filter") for p, b in fake.bodies if p == "runs/search"][-1] \
        is None
    with Store(db_path) as s:
        assert "d" * 32 not in {r[0] for r in s.conn.execute("SELECT run_id FROM ml_runs")}


def test_a_server_refusing_the_filter_gets_a_full_sync(fake: FakeMlflow, db_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run_sync(db_path, config(fake.url, history_points=0))
    monkeypatch.setattr(sys.modules[__name__], "_run_filter", _refuse_filter)
    fake.requests.clear()
    monkeypatch.setenv("COSTDECK_NOW", "2026-07-01T18:00:00+00:00")
    (res,) = run_sync(db_path, config(fake.url, history_points=0))
    assert res.status == "ok" and fake.requests["runs/search"] == 1 + 2  # refused, then the full listing
    with Store(db_path) as s:
        assert s.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 4


def _refuse_filter(text: str) -> Any:
    if text:
        raise ValueError(f"Invalid attribute key in filter: {text!r}")
    return lambda info: True


def test_persistent_server_error_keeps_previous_data(fake: FakeMlflow, db_path: Path) -> None:
    run_sync(db_path, config(fake.url, history_points=0))
    fake.faults["runs/search"] = [500] * 10
    (res,) = run_sync(db_path, config(fake.url, max_attempts=3))
    assert res.status == "failed"
    assert "runs/search: 500" in res.error and "after 3 attempts" in res.error and "\n" not in res.error
    assert "database is locked" in res.error
    with Store(db_path) as s:
        assert s.conn.execute("SELECT count(*) FROM ml_runs").fetchone()[0] == 4  # untouched


def test_unauthorized_is_one_line_naming_the_variable(fake: FakeMlflow, db_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fake.auth = "Bearer right"
    monkeypatch.setenv("MLFLOW_TEST_TOKEN", "wrong")
    (res,) = run_sync(db_path, config(fake.url, token_env="MLFLOW_TEST_TOKEN"))
    assert res.status == "failed" and "401" in res.error and "$MLFLOW_TEST_TOKEN" in res.error
    assert fake.requests["experiments/search"] == 1  # not retried
    monkeypatch.delenv("MLFLOW_TEST_TOKEN")
    (res,) = run_sync(db_path, config(fake.url, token_env="MLFLOW_TEST_TOKEN"))
    assert res.status == "failed" and "MLFLOW_TEST_TOKEN" in res.error and "not set" in res.error


def test_timeouts_are_retried_then_one_line() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] += 1
        if calls[request.url.path] < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"experiments": EXPERIMENTS[1]})

    with mlflow_mod.MlflowClient("http://127.0.0.1:9", transport=httpx.MockTransport(handler)) as c:
        assert [e["name"] for e in c.experiments()] == ["resnet"]
    assert calls["/api/2.0/mlflow/experiments/search"] == 3

    def always(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with mlflow_mod.MlflowClient("http://127.0.0.1:9", transport=httpx.MockTransport(always), max_attempts=2) as c:
        with pytest.raises(mlflow_mod.MlflowError, match="cannot reach http://127.0.0.1:9"):
            list(c.experiments())


def test_config_validation() -> None:
    cfg = config("http://127.0.0.1:5000/", token_env="MLFLOW_TRACKING_TOKEN", experiments=["a"], max_runs=10)
    opts = cfg.sources["mlf"].options.as_dict()
    assert {k: opts[k] for k in ("url", "token_env", "experiments", "max_runs")} == {
        "url": "http://127.0.0.1:5000", "token_env": "MLFLOW_TRACKING_TOKEN", "experiments": ["a"], "max_runs": 10}
    bad = [
        ({"token": "abc"}, "sources.mlf.token: credentials are never kept"),
        ({"token_env": "not a name"}, "sources.mlf.token_env: credentials are never kept"),  # a value, not a name
        ({"url": "ftp://x"}, "sources.mlf.url: expected an http:// or https:// URL"),
        ({"experiments": "a"}, "sources.mlf.experiments: expected a list of experiment names"),
        ({"colour": 1}, 'sources.mlf.colour: unknown option for kind "mlflow"'),
    ]
    for extra, msg in bad:
        with pytest.raises(InputError) as e:
            parse_config({"sources": {"mlf": {"kind": "mlflow", "url": "http://127.0.0.1:1", **extra}}})
        assert msg in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError, match="sources.mlf.url: missing"):
        parse_config({"sources": {"mlf": {"kind": "mlflow"}}})


# -- a real MLflow tracking server ------------------------------------------------------------------


def _mlflow_python() -> str | None:
    if importlib.util.find_spec("mlflow") is not None:
        return sys.executable
    env = os.environ.get("COSTDECK_MLFLOW_PYTHON")
    return env if env and shutil.which(env) else None


@pytest.fixture(scope="module")
def real_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    py = _mlflow_python()
    if py is None:
        pytest.skip("mlflow is not installed (set COSTDECK_MLFLOW_PYTHON to a Python that has it)")
    d = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [py, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{d}/mlflow.db", "--default-artifact-root", str(d / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=(d / "server.log").open("wb"), env={**os.environ, "NO_PROXY": "*"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(d / 'server.log').read_text()[-500:]}")
            time.sleep(0.3)
        else:
            pytest.fail("mlflow server did not start in 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_real_mlflow_server(real_mlflow: str, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mlflow_mod, "PAGE", 2)  # force runs/search pagination
    api = f"{real_mlflow}/api/2.0/mlflow"
    with httpx.Client(trust_env=False, timeout=10) as h:
        exp = h.post(f"{api}/experiments/create", json={"name": "costdeck-real"}).json()["experiment_id"]
        ids = []
        for i in range(3):
            rid = h.post(f"{api}/runs/create", json={
                "experiment_id": exp, "run_name": f"run-{i}", "start_time": T0 + i * 3600_000,
                "tags": [{"key": "costdeck.instance_type", "value": "p3.2xlarge"},
                         {"key": "costdeck.region", "value": "us-east-1"},
                         {"key": "costdeck.provider", "value": "AWS"}]}).json()["run"]["info"]["run_id"]
            h.post(f"{api}/runs/log-batch", json={"run_id": rid, "params": [{"key": "lr", "value": str(10 ** -i)}],
                                                  "metrics": [{"key": "val_loss", "value": 1.0 / (s + 1 + i),
                                                               "timestamp": T0 + s * 1000, "step": s}
                                                              for s in range(5)]}).raise_for_status()
            h.post(f"{api}/runs/update", json={"run_id": rid, "status": "FINISHED",
                                               "end_time": T0 + i * 3600_000 + 1800_000}).raise_for_status()
            ids.append(rid)
    prices(db_path)
    (res,) = run_sync(db_path, config(real_mlflow, experiments=["costdeck-real"]))
    assert res.status == "ok", res.error
    with Store(db_path) as s:
        runs = {r.run_id: r for r in mlruns.load_runs(s.conn)}
        steps = s.conn.execute("SELECT count(*) FROM ml_run_metrics WHERE run_id=?", (ids[0],)).fetchone()[0]
    assert set(runs) == set(ids)
    r0 = runs[ids[0]]
    assert r0.task == "costdeck-real" and r0.status == "completed" and r0.primary_metric == "val_loss"
    assert r0.cost == to_nanos("1.53") and r0.basis == mlruns.PRICED  # 30 min x $3.06
    assert steps == 5  # the history of the primary metric
    (best,) = [s for s in mlruns.summarize(list(runs.values())) if s.task == "costdeck-real"]
    assert best.direction == "min" and best.best_run_id == ids[2]


def test_system_metrics_become_the_run_profile(fake: FakeMlflow, db_path: Path) -> None:
    """MLflow's system metrics (mlflow.system_metrics): CPU, memory and two GPUs averaged per time."""
    rid = "e" * 32
    keys = {"system/cpu_utilization_percentage": (40.0, 60.0), "system/system_memory_usage_percentage": (20.0, 22.0),
            "system/gpu_0_utilization_percentage": (10.0, 30.0), "system/gpu_1_utilization_percentage": (20.0, 50.0),
            "system/gpu_0_memory_usage_percentage": (5.0, 5.0)}
    fake.runs = [_run(rid, "7", "sys", "FINISHED", T0, T0 + 600_000, {"val_accuracy": 0.5, **{k: v[1] for k, v in keys.items()}},
                      {"costdeck.host": "gpu-box"})]
    for k, vals in keys.items():
        fake.histories[(rid, k)] = {"metrics": [{"key": k, "value": v, "timestamp": T0 + i * 60_000, "step": i}
                                                for i, v in enumerate(vals)]}
    (res,) = run_sync(db_path, config(fake.url))
    assert res.status == "ok", res.error
    with Store(db_path, readonly=True) as s:
        rows = s.conn.execute("SELECT host, metric, ts, value, gpus FROM ml_profiles WHERE run_id=? "
                              "ORDER BY metric, ts", (rid,)).fetchall()
    assert [tuple(r) for r in rows] == [
        ("gpu-box", "cpu", "2026-07-01T10:00:00+00:00", 40.0, None), ("gpu-box", "cpu", "2026-07-01T10:01:00+00:00", 60.0, None),
        ("gpu-box", "gpu", "2026-07-01T10:00:00+00:00", 15.0, 2), ("gpu-box", "gpu", "2026-07-01T10:01:00+00:00", 40.0, 2),
        ("gpu-box", "gpu_memory", "2026-07-01T10:00:00+00:00", 5.0, 2),
        ("gpu-box", "gpu_memory", "2026-07-01T10:01:00+00:00", 5.0, 2),
        ("gpu-box", "memory", "2026-07-01T10:00:00+00:00", 20.0, None),
        ("gpu-box", "memory", "2026-07-01T10:01:00+00:00", 22.0, None),
    ]
    assert fake.requests["metrics/get-history"] == 1 + len(keys)  # the primary metric + each system key
