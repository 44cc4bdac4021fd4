"""MLflow tracking server -> ML runs (kind = "mlflow"), over its REST API with httpx.

    [sources.mlflow]
    kind = "mlflow"
    url = "http://mlflow.internal:5000"     # the tracking server (the REST API is under /api/2.0/mlflow)
    token_env = "MLFLOW_TRACKING_TOKEN"     # optional: the NAME of an env var holding a bearer token
    experiments = ["resnet", "churn"]       # optional: only these experiments (names or ids)
    max_runs = 5000                         # optional: at most this many runs per sync (newest first)
    history_points = 1000                   # optional: primary-metric history points per run (0: none)

What a sync does (one step, "runs"):
* POST experiments/search (active experiments, paginated with page_token / next_page_token),
  filtered by `experiments`.
* POST runs/search for those experiments (50 ids per request, max_results 1000 a page, newest
  first, paginated), up to max_runs.
* GET metrics/get-history for each run's primary metric (one page of history_points at most),
  and for each MLflow system metric a run logged (`system/cpu_utilization_percentage`,
  `system/system_memory_usage_percentage`, `system/gpu_N_utilization_percentage`,
  `system/gpu_N_memory_usage_percentage`): the run's utilization profile (ml_profiles; GPU
  devices averaged per timestamp, host = the run's host).
* Writes, in ONE transaction, every run of the source replaced (runs deleted on the server
  disappear): ml_runs, ml_executors, ml_run_metrics, ml_run_params.

That is a full sync: the first one, after a change of url/experiments/max_runs/history_points,
and every `full_every_days` (7). In between a sync fetches what changed only: two filtered
runs/search listings (`attributes.end_time >= <last sync - 1 h>`: runs ended or started and
ended since; `attributes.status = 'RUNNING'`: runs still growing), the metric histories of
those runs only, and replaces just those runs. A server that refuses the filter (400) gets a
full sync. 15 unchanged finished runs: 1 + 2 requests instead of 1 + 1 + 15.

Mapping: run_id = info.run_id; task = the experiment's name (tag `costdeck.task` overrides);
name = info.run_name (or tag mlflow.runName); status RUNNING/SCHEDULED -> running/scheduled,
FINISHED -> completed, FAILED -> failed, KILLED -> stopped; start/end from the millisecond
times; host = tag `costdeck.host`, else `mlflow.source.name`; params = data.params; metrics =
data.metrics (latest value of each key at its step) plus the primary metric's history; primary
metric = tag `costdeck.primary_metric`, else the only metric, else the only validation/test one
(val_*, validation_*, test_*).

Executor tags (a run without `costdeck.instance_type` has no executor, so its cost is unknown):
    costdeck.instance_type   e.g. p3.2xlarge / ml.g5.xlarge / Standard_NC6s_v3
    costdeck.instance_count  whole number, default 1
    costdeck.resource_id     the billed resource (instance id, job ARN): cost from the cost table
    costdeck.provider        AWS | Microsoft | Google Cloud (aws/azure/gcp accepted)
    costdeck.region          e.g. us-east-1
    costdeck.executors       several executors at once: a JSON list of objects with the keys
                             instance_type, count, resource_id, provider, region
    costdeck.metric_direction  min | max for the task's metric (see analysis/mlruns.py)

Errors: 5xx, 429 and timeouts/connection faults are retried (max_attempts, default 4, with a
short exponential backoff); 401/403 stop the source with one line naming the token variable;
other 4xx are one line with MLflow's error_code and message. Every HTTP attempt is counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from msgspec import Meta

from .base import Adapter, FatalSourceError, StepError, SyncContext
from .options import Model, no_userinfo
from .runs_jsonl import ExecutorRecord, RunRecord, provider_name, write_runs

if TYPE_CHECKING:
    import httpx

API = "/api/2.0/mlflow"
PAGE = 1000
IDS_PER_SEARCH = 50
DEFAULT_MAX_RUNS = 5000
DEFAULT_HISTORY = 1000
DEFAULT_ATTEMPTS = 4
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
TIMEOUT_S = 30.0

_STATUS = {"RUNNING": "running", "SCHEDULED": "scheduled", "FINISHED": "completed", "FAILED": "failed",
           "KILLED": "stopped"}
_HELD_OUT = re.compile(r"^(validation|valid|val|test|eval)[:_\-./]", re.IGNORECASE)


class MlflowError(StepError):
    pass


class MlflowClient:
    """A small MLflow REST client: retries, request counting, one-line errors."""

    def __init__(self, url: str, *, token: str | None = None, counter: Any = None,
                 max_attempts: int = DEFAULT_ATTEMPTS, timeout: float = TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None, token_env: str | None = None) -> None:
        headers = {"Accept": "application/json", "User-Agent": "costdeck"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self.token_env = token_env
        self.counter = counter
        self.max_attempts = max(1, max_attempts)
        import httpx  # here, not at import time: the config imports this module to validate options

        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport,
                                 trust_env=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MlflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        op = path.strip("/")
        last: str = ""
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(min(BACKOFF_MAX_S, BACKOFF_S * 2 ** (attempt - 1)))
            if self.counter is not None:
                self.counter.record(op, retry=attempt > 0)
            try:
                resp = self.http.request(method, f"{API}/{op}", json=body, params=params)
            except httpx.TimeoutException:
                last = f"MLflow {op}: timed out after {self.max_attempts} attempts ({self.url})"
                continue
            except httpx.TransportError as exc:
                last = f"MLflow {op}: cannot reach {self.url} ({type(exc).__name__}: {' '.join(str(exc).split())})"
                continue
            if resp.status_code in (401, 403):
                hint = (f"check the token in ${self.token_env}" if self.token_env
                        else "set token_env to the name of an env var holding a token")
                raise FatalSourceError(f"MLflow {op}: {resp.status_code} {resp.reason_phrase} from {self.url} "
                                       f"({hint})")
            if resp.status_code == 429 or resp.status_code >= 500:
                last = (f"MLflow {op}: {resp.status_code} {resp.reason_phrase} after {self.max_attempts} attempts"
                        f"{_error_text(resp)}")
                continue
            if resp.status_code >= 400:
                raise MlflowError(f"MLflow {op}: {resp.status_code} {resp.reason_phrase}{_error_text(resp)}")
            try:
                data = resp.json()
            except ValueError:
                raise MlflowError(f"MLflow {op}: the answer is not JSON (is {self.url} an MLflow server?)") from None
            if not isinstance(data, dict):
                raise MlflowError(f"MLflow {op}: unexpected answer (a JSON object was expected)")
            return data
        raise MlflowError(last or f"MLflow {op}: failed")

    # -- endpoints ---------------------------------------------------------------------------
    def experiments(self) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            body: dict[str, Any] = {"max_results": PAGE, "view_type": "ACTIVE_ONLY"}
            if token:
                body["page_token"] = token
            data = self.call("POST", "experiments/search", body=body)
            yield from data.get("experiments") or []
            token = data.get("next_page_token")
            if not token:
                return

    def runs(self, experiment_ids: list[str], limit: int, filter_string: str | None = None
             ) -> Iterator[dict[str, Any]]:
        n = 0
        for i in range(0, len(experiment_ids), IDS_PER_SEARCH):
            token: str | None = None
            while n < limit:
                body: dict[str, Any] = {"experiment_ids": experiment_ids[i : i + IDS_PER_SEARCH],
                                        "max_results": min(PAGE, limit - n), "run_view_type": "ACTIVE_ONLY",
                                        "order_by": ["attributes.start_time DESC"]}
                if filter_string:
                    body["filter"] = filter_string
                if token:
                    body["page_token"] = token
                data = self.call("POST", "runs/search", body=body)
                for run in data.get("runs") or []:
                    if n >= limit:
                        return
                    n += 1
                    yield run
                token = data.get("next_page_token")
                if not token:
                    break

    def history(self, run_id: str, key: str, max_points: int) -> list[dict[str, Any]]:
        data = self.call("GET", "metrics/get-history",
                         params={"run_id": run_id, "metric_key": key, "max_results": max_points})
        return list(data.get("metrics") or [])[:max_points]


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return ""
    if isinstance(data, dict) and (data.get("error_code") or data.get("message")):
        msg = " ".join(str(data.get("message") or "").split())[:200]
        return f": {data.get('error_code') or ''}{' ' if msg else ''}{msg}"
    return ""


# -- mapping -----------------------------------------------------------------------------------


def _kv(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for it in items or []:
        if isinstance(it, dict) and it.get("key") is not None:
            out[str(it["key"])] = "" if it.get("value") is None else str(it["value"])
    return out


def _ms(v: Any) -> datetime | None:
    try:
        ms = int(v)
    except (TypeError, ValueError):
        return None
    if ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _int(v: str | None, default: int) -> int:
    try:
        n = int(str(v).strip())
    except (TypeError, ValueError):
        return default
    return n if n >= 1 else default


def primary_metric(values: Mapping[str, float], tags: Mapping[str, str]) -> str | None:
    want = tags.get("costdeck.primary_metric")
    if want and want in values:
        return want
    names = list(values)
    if len(names) == 1:
        return names[0]
    held = [k for k in names if _HELD_OUT.match(k)]
    return held[0] if len(held) == 1 else None


def executors_of(tags: Mapping[str, str], start: datetime | None, end: datetime | None) -> list[ExecutorRecord]:
    out: list[ExecutorRecord] = []
    raw = tags.get("costdeck.executors")
    if raw:
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            items = []
        for it in items if isinstance(items, list) else []:
            if isinstance(it, dict) and isinstance(it.get("instance_type"), str) and it["instance_type"].strip():
                out.append(ExecutorRecord(
                    instance_type=it["instance_type"].strip(), instance_count=_int(it.get("count"), 1),
                    provider_name=provider_name(it.get("provider")), region_id=it.get("region") or None,
                    resource_id=it.get("resource_id") or None, start_at=start, end_at=end))
    itype = (tags.get("costdeck.instance_type") or "").strip()
    if itype and not out:
        out.append(ExecutorRecord(
            instance_type=itype, instance_count=_int(tags.get("costdeck.instance_count"), 1),
            provider_name=provider_name(tags.get("costdeck.provider")), region_id=tags.get("costdeck.region") or None,
            resource_id=tags.get("costdeck.resource_id") or None, start_at=start, end_at=end))
    return out


def build_run(run: dict[str, Any], experiment_names: Mapping[str, str]) -> RunRecord | None:
    """A runs/search run -> RunRecord (None when it has no id or start time)."""
    info = run.get("info") or {}
    data = run.get("data") or {}
    run_id = info.get("run_id") or info.get("run_uuid")
    start = _ms(info.get("start_time"))
    if not run_id or start is None:
        return None
    tags = _kv(data.get("tags"))
    params = _kv(data.get("params"))
    end = _ms(info.get("end_time"))
    raw_status = str(info.get("status") or "").upper()
    status = _STATUS.get(raw_status, raw_status.lower() or "unknown")
    if status in ("running", "scheduled"):
        end = None
    metrics: list[tuple[str, int, datetime | None, float]] = []
    latest: dict[str, float] = {}
    for m in data.get("metrics") or []:
        if not isinstance(m, dict) or m.get("key") is None:
            continue
        try:
            value = float(m.get("value"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if value != value or value in (float("inf"), float("-inf")):
            continue
        key = str(m["key"])
        latest[key] = value
        metrics.append((key, int(m.get("step") or 0), _ms(m.get("timestamp")), value))
    exp_id = str(info.get("experiment_id") or "")
    task = tags.get("costdeck.task") or experiment_names.get(exp_id) or f"experiment {exp_id}"
    pm = primary_metric(latest, tags)
    props: dict[str, Any] = {
        "platform": "mlflow",
        "experiment_id": exp_id,
        "user": info.get("user_id") or tags.get("mlflow.user"),
        "lifecycle_stage": info.get("lifecycle_stage"),
        "mlflow_status": raw_status,
        "tags": {k: v[:500] for k, v in tags.items()},
    }
    return RunRecord(
        run_id=str(run_id), task=task, status=status, start_at=start, end_at=end,
        name=info.get("run_name") or tags.get("mlflow.runName"),
        host=tags.get("costdeck.host") or tags.get("mlflow.source.name"),
        primary_metric=pm, primary_value=latest.get(pm) if pm else None,
        properties=props, executors=executors_of(tags, start, end), metrics=metrics, params=params,
    )


# -- system metrics (mlflow.system_metrics) -> profile ---------------------------------------------

_GPU_KEY = re.compile(r"^system/gpu_(\d+)_(utilization|memory_usage)_percentage$")
_SYSTEM = {"system/cpu_utilization_percentage": "cpu", "system/system_memory_usage_percentage": "memory"}


def system_metric(key: str) -> str | None:
    """The profile metric (cpu, memory, gpu, gpu_memory) an MLflow system metric key feeds, or None."""
    if key in _SYSTEM:
        return _SYSTEM[key]
    m = _GPU_KEY.match(key)
    if m:
        return "gpu" if m.group(2) == "utilization" else "gpu_memory"
    return None


def system_profile(histories: dict[str, list[dict[str, Any]]], host: str | None) -> list[
        tuple[str, str, datetime, float, int | None]]:
    """Histories of MLflow system metrics -> profile samples: GPU keys of several devices are
    averaged per timestamp (gpus = the devices seen); values are clamped to 0-100."""
    ngpu = len({m.group(1) for k in histories if (m := _GPU_KEY.match(k))}) or None
    acc: dict[tuple[str, datetime], list[float]] = {}
    for key, points in histories.items():
        metric = system_metric(key)
        if metric is None:
            continue
        for p in points:
            ts = _ms(p.get("timestamp"))
            try:
                v = float(p["value"])
            except (KeyError, TypeError, ValueError):
                continue
            if ts is None or v != v:
                continue
            acc.setdefault((metric, ts), []).append(min(100.0, max(0.0, v)))
    return [(host or "", metric, ts, round(sum(vs) / len(vs), 3), ngpu if metric.startswith("gpu") else None)
            for (metric, ts), vs in sorted(acc.items(), key=lambda kv: (kv[0][0], kv[0][1]))]


# -- the adapter -----------------------------------------------------------------------------------


Url = Annotated[str, Meta(pattern=r"^https?://[^\s/]+(/\S*)?$",
                          extra={"expected": 'an http:// or https:// URL like "http://127.0.0.1:5000"'},
                          description='the tracking server, e.g. url = "http://127.0.0.1:5000"')]


class MlflowOptions(Model):
    """[sources.NAME] kind = "mlflow"."""

    sorted_keys: ClassVar[bool] = True

    url: Url
    token_env: Annotated[str, Meta(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$",
                                   extra={"expected": "the NAME of an environment variable holding the token, "
                                                      'like "MLFLOW_TRACKING_TOKEN"'},
                                   description="NAME of an env var holding a bearer token (never the token)")] \
        | None = None
    experiments: Annotated[list[Annotated[str, Meta(min_length=1)]],
                           Meta(extra={"expected": "a list of experiment names or ids"},
                                description="experiment names or ids (default: every active experiment)")] = []
    max_runs: Annotated[int, Meta(ge=1, le=1_000_000, description="newest runs kept")] = DEFAULT_MAX_RUNS
    history_points: Annotated[int, Meta(ge=0, le=100_000, description="primary-metric history points per run "
                                        "(0 = none)")] = DEFAULT_HISTORY
    max_attempts: Annotated[int, Meta(ge=1, le=20, description="attempts per request (5xx, 429, timeouts)")] \
        = DEFAULT_ATTEMPTS
    timeout_s: Annotated[int, Meta(ge=1, le=600, description="seconds per request")] = int(TIMEOUT_S)
    full_every_days: Annotated[int, Meta(ge=0, le=365, description=(
        "days between two full syncs (every run listed again: deleted runs go); in between, a sync "
        "fetches only the runs that ended since the last one or are still running; 0 = always full"))] = 7

    def check(self) -> None:
        no_userinfo("url", self.url)

    def normalized(self) -> MlflowOptions:
        import msgspec

        return msgspec.structs.replace(self, url=self.url.rstrip("/"),
                                       experiments=[e.strip() for e in self.experiments])


class MlflowAdapter(Adapter[MlflowOptions]):
    kind: ClassVar[str] = "mlflow"
    title: ClassVar[str] = "MLflow tracking server: runs, metrics and the instances they ran on, over REST"
    Options = MlflowOptions
    steps: ClassVar[tuple[str, ...]] = ("runs",)
    transport: httpx.BaseTransport | None = None  # tests may inject an httpx.MockTransport

    def sync(self, ctx: SyncContext) -> None:
        ctx.set_steps(list(self.steps))
        ctx.run_step("runs", self._sync_runs)

    def client(self, ctx: SyncContext | None = None) -> MlflowClient:
        env = self.options.token_env
        token = os.environ.get(env) if env else None
        if env and not token:
            raise FatalSourceError(f"MLflow source {self.name}: the env var {env} (token_env) is not set")
        return MlflowClient(self.options.url, token=token, token_env=env,
                            counter=ctx.counter if ctx else None,
                            max_attempts=self.options.max_attempts,
                            timeout=float(self.options.timeout_s), transport=self.transport)

    def _mode(self, ctx: SyncContext) -> tuple[str, int | None, str]:
        """("full" | "incremental", since in epoch ms, options digest). Incremental when the last
        sync had the same experiments and limits and the last full one is recent enough."""
        o = self.options
        digest = hashlib.sha256(json.dumps([o.url, o.experiments, o.max_runs, o.history_points]).encode()
                                ).hexdigest()[:16]
        last, last_digest = ctx.last_fetch("runs")
        full, _ = ctx.last_fetch("runs_full")
        if (not o.full_every_days or last is None or full is None or last_digest != digest
                or (ctx.today - full.date()).days >= o.full_every_days):
            return "full", None, digest
        # An hour of overlap for clock skew between the server and this machine.
        return "incremental", int((last.timestamp() - 3600) * 1000), digest

    def _sync_runs(self, ctx: SyncContext) -> int:
        wanted = list(self.options.experiments)
        max_runs = self.options.max_runs
        points = self.options.history_points
        mode, since_ms, digest = self._mode(ctx)
        with self.client(ctx) as c:
            ctx.progress(detail="experiments")
            names: dict[str, str] = {}
            for e in c.experiments():
                eid, name = str(e.get("experiment_id") or ""), str(e.get("name") or "")
                if eid and (not wanted or eid in wanted or name in wanted):
                    names[eid] = name
            missing = [w for w in wanted if w not in names and w not in names.values()]
            runs: list[RunRecord] = []
            if names and mode == "incremental":
                # Only what changed: runs that ended since the last sync (new ones included) and
                # runs still running (their metrics grow). MLflow filters have no OR: two searches.
                ctx.progress(detail=f"runs changed since the last sync, {len(names)} experiments")
                seen_ids: set[str] = set()
                try:
                    for flt in (f"attributes.end_time >= {since_ms}", "attributes.status = 'RUNNING'"):
                        for raw in c.runs(sorted(names), max_runs, flt):
                            rec = build_run(raw, names)
                            if rec is not None and rec.run_id not in seen_ids:
                                seen_ids.add(rec.run_id)
                                runs.append(rec)
                except MlflowError as exc:
                    if " 400 " not in f" {exc} ":
                        raise
                    mode, runs = "full", []  # a server that refuses the filter: list everything
                    ctx.detail["mlflow_incremental"] = f"filter refused, full sync: {exc}"
            if names and mode == "full":
                ctx.progress(detail=f"runs of {len(names)} experiments")
                for raw in c.runs(sorted(names), max_runs):
                    rec = build_run(raw, names)
                    if rec is not None:
                        runs.append(rec)
            if points > 0:
                for i, rec in enumerate(runs):
                    if not rec.primary_metric:
                        continue
                    if i % 20 == 0:
                        ctx.progress(detail=f"metric history {i}/{len(runs)}")
                    hist = c.history(rec.run_id, rec.primary_metric, points)
                    if hist:
                        rec.metrics = [m for m in rec.metrics if m[0] != rec.primary_metric]
                        seen: set[int] = set()
                        for m in hist:
                            try:
                                step, value = int(m.get("step") or 0), float(m["value"])
                            except (KeyError, TypeError, ValueError):
                                continue
                            if step in seen or value != value:
                                continue
                            seen.add(step)
                            rec.metrics.append((rec.primary_metric, step, _ms(m.get("timestamp")), value))
            for rec in runs:  # MLflow system metrics -> the run's utilization profile
                keys = sorted({k for k, _, _, _ in rec.metrics if system_metric(k) is not None})
                if keys and points > 0:
                    rec.profile = system_profile({k: c.history(rec.run_id, k, points) for k in keys}, rec.host)
        n = write_runs(ctx.store, ctx.source_id, runs, replace_source=mode == "full")
        ctx.detail["mlflow"] = {"experiments": len(names), "runs": len(runs), "mode": mode}
        if not missing:
            ctx.mark_fetched("runs", digest)
            if mode == "full":
                ctx.mark_fetched("runs_full", digest)
        if missing:
            ctx.add_rows(n)
            raise StepError(f"MLflow: experiments not found: {', '.join(missing)} (the others were synced)")
        return n


__all__ = ["MlflowAdapter", "MlflowOptions", "MlflowClient", "MlflowError", "build_run", "executors_of", "primary_metric"]
