"""ML runs from a JSON Lines run log (`costdeck import runs.jsonl`), and the run writer shared by
the MLflow adapter (providers/mlflow.py) and `costdeck track` (providers/track.py).

One JSON object per line (blank lines are skipped; a later line with the same run_id replaces the
earlier one, so a trainer may log a run when it starts and again when it ends):

    {"run_id": "r-42", "task": "resnet50", "name": "lr=3e-4", "status": "completed",
     "start": "2026-05-01T10:00:00Z", "end": "2026-05-01T14:30:00+00:00", "host": "gpu-box-1",
     "executors": [{"instance_type": "p3.2xlarge", "count": 2, "provider": "AWS",
                    "region": "us-east-1", "resource_id": "i-0abc"}],
     "metrics": {"val_accuracy": 0.91, "loss": [[0, 2.3], [1, 1.1], [2, 0.4]]},
     "params": {"lr": 0.0003, "batch_size": 64}, "primary_metric": "val_accuracy"}

Fields: run_id, task, status and start are required. status: running | completed | failed |
stopped | scheduled (finished -> completed, killed -> stopped). start/end: ISO-8601 with Z or an
offset (a time without one is refused: runs are stored in UTC); a start or end more than
FUTURE_SKEW (5 minutes, for clock skew) after now (`timeutil.now()`) is refused as a clock or time
zone mistake, except the start of a scheduled run. executors: instance_type required;
count (default 1), provider, region, resource_id (the billed resource: with it the run's cost
comes from the cost table), billable_seconds.

Providers: any non-empty name (at most 256 characters) is accepted, so runs on other clouds
(CoreWeave, Lambda, on-premises) are recorded; the common spellings of the three FOCUS provider
names are normalised (aws/amazon -> AWS, azure/microsoft -> Microsoft, gcp/google -> Google Cloud,
any case), other names are kept as given (trimmed). A run on an unknown provider is costed from
the cost table through its resource_id, or from a price for that provider in `prices`; with
neither its cost is unknown. `costdeck track --provider` follows the same rule (`check_provider`). metrics: a number (the final value, step 0) or a list of [step, value] pairs.
params: scalar values, stored as text. primary_metric: defaults to the only metric when there is
one. Optional exit_code (integer) and properties (object). Optional profile: the run's utilization
samples on its host, {"cpu": [["2026-05-01T10:00:00Z", 87.5], ...], "memory": ..., "gpu": ...,
"gpu_memory": ...} (percent 0-100, time with a zone), with "gpus": the GPU count.

A bad line exits 2 with one line naming the file, the line number and the field; nothing is
written then (all files are parsed before the one transaction that writes them). Re-importing
replaces the runs with the same run ids (their executors, metrics and params too); other runs
stay. The source is `runs:FILE` (kind "runs"), or `--source NAME`; each import records a sync run
(status ok, rows written) and touches the snapshot time. The demo cache is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cache import Store, timeutil

from . import nesting
from .errors import InputError

SOURCE_KIND = "runs"
RUN_LOG_SUFFIXES = (".jsonl", ".ndjson")
STATUSES = ("running", "completed", "failed", "stopped", "scheduled")
_STATUS_ALIASES = {"finished": "completed", "complete": "completed", "succeeded": "completed",
                   "success": "completed", "killed": "stopped", "cancelled": "stopped", "canceled": "stopped",
                   "error": "failed", "in_progress": "running", "inprogress": "running"}
_PROVIDERS = {"aws": "AWS", "amazon": "AWS", "azure": "Microsoft", "microsoft": "Microsoft",
              "gcp": "Google Cloud", "google": "Google Cloud", "google cloud": "Google Cloud"}
MAX_ID = 256
MAX_TEXT = 1000
FUTURE_SKEW = timedelta(minutes=5)


def provider_name(value: str | None) -> str | None:
    """FOCUS provider names (AWS, Microsoft, Google Cloud) from common spellings; others as given."""
    if value is None or not str(value).strip():
        return None
    v = str(value).strip()
    return _PROVIDERS.get(v.lower(), v)


def check_provider(value: Any) -> str:
    """A provider name as given by a user (run log field, `track --provider`): any non-empty name of
    at most MAX_ID characters, normalised by `provider_name`. Raises ValueError with the reason."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty provider name, got {_show(value)}")
    if len(value.strip()) > MAX_ID:
        raise ValueError(f"longer than {MAX_ID} characters")
    return provider_name(value) or ""


def iso(dt: datetime) -> str:
    """UTC ISO text; sub-second precision (milliseconds) only when the instant has it."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: runs are stored in UTC")
    dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds" if dt.microsecond else "seconds")


@dataclass(slots=True)
class ExecutorRecord:
    instance_type: str
    instance_count: int = 1
    provider_name: str | None = None
    region_id: str | None = None
    resource_id: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    billable_seconds: int | None = None


@dataclass(slots=True)
class RunRecord:
    run_id: str
    task: str
    status: str
    start_at: datetime
    name: str | None = None
    end_at: datetime | None = None
    host: str | None = None
    primary_metric: str | None = None
    primary_value: float | None = None
    exit_code: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    executors: list[ExecutorRecord] = field(default_factory=list)
    metrics: list[tuple[str, int, datetime | None, float]] = field(default_factory=list)  # key, step, ts, value
    params: dict[str, str] = field(default_factory=dict)
    # utilization samples: host, metric (cpu | memory | gpu | gpu_memory), ts, percent, GPU count
    profile: list[tuple[str, str, datetime, float, int | None]] = field(default_factory=list)

    def finish(self) -> RunRecord:
        """Fill primary_metric (the only metric) and primary_value (its last step) when missing."""
        keys = list(dict.fromkeys(k for k, _, _, _ in self.metrics))
        if self.primary_metric is None and len(keys) == 1:
            self.primary_metric = keys[0]
        if self.primary_metric is not None and self.primary_value is None:
            pts = sorted((s, v) for k, s, _, v in self.metrics if k == self.primary_metric)
            if pts:
                self.primary_value = pts[-1][1]
        return self


def write_runs(
    store: Store,
    source_id: int,
    runs: Sequence[RunRecord],
    *,
    replace_source: bool = False,
    in_transaction: bool = False,
) -> int:
    """Write runs with their executors, metrics and params; returns rows written.

    Each run replaces any run with the same id (children cascade). With replace_source, every
    run of the source is deleted first (a source that lists all its runs, like MLflow). ONE
    transaction unless the caller holds one (in_transaction).
    """
    conn = store.conn
    n = 0
    if in_transaction:
        return _write(conn, source_id, runs, replace_source)
    with store.transaction():
        n = _write(conn, source_id, runs, replace_source)
    return n


def _write(conn: Any, source_id: int, runs: Sequence[RunRecord], replace_source: bool) -> int:
    n = 0
    if replace_source:
        conn.execute("DELETE FROM ml_runs WHERE source_id=?", (source_id,))
    for r in runs:
        r.finish()
        conn.execute("DELETE FROM ml_runs WHERE run_id=?", (r.run_id,))
        conn.execute(
            "INSERT INTO ml_runs(source_id, run_id, task, name, status, start_at, end_at, host, primary_metric, "
            "primary_value, exit_code, properties) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (source_id, r.run_id, r.task, r.name, r.status, iso(r.start_at), iso(r.end_at) if r.end_at else None,
             r.host, r.primary_metric, r.primary_value, r.exit_code,
             json.dumps(r.properties, sort_keys=True, ensure_ascii=False, default=str)),
        )
        conn.executemany(
            "INSERT INTO ml_executors(run_id, provider_name, resource_id, instance_type, instance_count, region_id, "
            "start_at, end_at, billable_seconds) VALUES (?,?,?,?,?,?,?,?,?)",
            [(r.run_id, e.provider_name, e.resource_id, e.instance_type, e.instance_count, e.region_id,
              iso(e.start_at) if e.start_at else None, iso(e.end_at) if e.end_at else None, e.billable_seconds)
             for e in r.executors],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO ml_run_metrics(run_id, key, step, ts, value) VALUES (?,?,?,?,?)",
            [(r.run_id, k, s, iso(ts) if ts else None, v) for k, s, ts, v in r.metrics],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO ml_run_params(run_id, key, value) VALUES (?,?,?)",
            [(r.run_id, k, v) for k, v in r.params.items()],
        )
        write_profile(conn, r.run_id, r.profile)
        n += 1 + len(r.executors) + len(r.metrics) + len(r.params) + len(r.profile)
    return n


PROFILE_METRICS = ("cpu", "memory", "gpu", "gpu_memory")


def write_profile(conn: Any, run_id: str, samples: Iterable[tuple[str, str, Any, float, int | None]]) -> None:
    """Insert a run's utilization samples (host, metric, ts as datetime or ISO text, percent, gpus)."""
    conn.executemany(
        "INSERT OR REPLACE INTO ml_profiles(run_id, host, metric, ts, value, gpus) VALUES (?,?,?,?,?,?)",
        [(run_id, h or "", m, iso(ts) if isinstance(ts, datetime) else ts, float(v), g)
         for h, m, ts, v, g in samples],
    )


# -- the JSON Lines format ----------------------------------------------------------------------------


class _LineError(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


def _show(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=True, default=str)
    return s if len(s) <= 60 else s[:57] + "..."


def _text(obj: dict[str, Any], key: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise _LineError(key, "missing (a non-empty string)")
        return None
    if not isinstance(v, str) or not v.strip():
        raise _LineError(key, f"expected a non-empty string, got {_show(v)}")
    if len(v) > max_len:
        raise _LineError(key, f"longer than {max_len} characters")
    return v.strip()


def _instant(obj: dict[str, Any], key: str, *, required: bool = False) -> datetime | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise _LineError(key, "missing (an ISO-8601 time with Z or an offset, e.g. 2026-05-01T10:00:00Z)")
        return None
    if not isinstance(v, str):
        raise _LineError(key, f"expected an ISO-8601 time string, got {_show(v)}")
    t = v.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise _LineError(key, f"not an ISO-8601 time: {_show(v)}") from None
    if dt.tzinfo is None:
        raise _LineError(key, f"{_show(v)} has no time zone: add Z or an offset like +00:00")
    return dt.astimezone(UTC)


def _int(v: Any, key: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not v.is_integer()):
        raise _LineError(key, f"expected a whole number, got {_show(v)}")
    if not lo <= int(v) <= hi:
        raise _LineError(key, f"expected a whole number from {lo} to {hi}, got {_show(v)}")
    return int(v)


def _number(v: Any, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise _LineError(key, f"expected a finite number, got {_show(v)}")
    return float(v)


def _provider(obj: dict[str, Any]) -> str | None:
    if obj.get("provider") is None:
        return None
    try:
        return check_provider(obj["provider"])
    except ValueError as exc:
        msg = str(exc).replace("a non-empty provider name", "a non-empty string")
        raise _LineError("provider", msg) from None


def parse_line(obj: Any) -> RunRecord:
    """One decoded JSON line -> RunRecord (raises _LineError naming the field)."""
    if not isinstance(obj, dict):
        raise _LineError("(line)", f"expected a JSON object, got {_show(obj)}")
    run_id = _text(obj, "run_id", required=True, max_len=MAX_ID)
    task = _text(obj, "task", required=True, max_len=MAX_ID)
    raw_status = _text(obj, "status", required=True)
    assert run_id and task and raw_status
    status = raw_status.lower()
    status = _STATUS_ALIASES.get(status, status)
    if status not in STATUSES:
        raise _LineError("status", f"expected one of {', '.join(STATUSES)}, got {_show(raw_status)}")
    start = _instant(obj, "start", required=True)
    assert start is not None
    end = _instant(obj, "end")
    if end is not None and end < start:
        raise _LineError("end", "is before start")
    now = timeutil.now()
    for key, at in (("start", start if status != "scheduled" else None), ("end", end)):
        if at is not None and at > now + FUTURE_SKEW:
            raise _LineError(key, f"{_show(obj[key])} is in the future (now {timeutil.iso(now)}); "
                                  "check the clock and the time zone")
    rec = RunRecord(run_id=run_id, task=task, status=status, start_at=start, end_at=end,
                    name=_text(obj, "name"), host=_text(obj, "host"))
    execs = obj.get("executors", [])
    if execs is None:
        execs = []
    if not isinstance(execs, list):
        raise _LineError("executors", f"expected a list of objects, got {_show(execs)}")
    for i, e in enumerate(execs):
        key = f"executors[{i}]"
        if not isinstance(e, dict):
            raise _LineError(key, f"expected an object, got {_show(e)}")
        try:
            itype = _text(e, "instance_type", required=True, max_len=MAX_ID)
            count = _int(e.get("count", 1), "count", 1, 100_000)
            billable = e.get("billable_seconds")
            rec.executors.append(ExecutorRecord(
                instance_type=itype or "", instance_count=count, provider_name=_provider(e),
                region_id=_text(e, "region", max_len=MAX_ID), resource_id=_text(e, "resource_id"),
                billable_seconds=None if billable is None else _int(billable, "billable_seconds", 0, 10**9),
            ))
        except _LineError as err:
            raise _LineError(f"{key}.{err.field_name}", err.message) from None
    metrics = obj.get("metrics", {}) or {}
    if not isinstance(metrics, dict):
        raise _LineError("metrics", f"expected an object of name: value, got {_show(metrics)}")
    for k, v in metrics.items():
        key = f"metrics.{k}"
        if not k or len(k) > MAX_ID:
            raise _LineError(key, "a metric name is 1 to 256 characters")
        if isinstance(v, list):
            for j, pt in enumerate(v):
                if not isinstance(pt, list) or len(pt) != 2:
                    raise _LineError(f"{key}[{j}]", f"expected [step, value], got {_show(pt)}")
                rec.metrics.append((k, _int(pt[0], f"{key}[{j}] step", 0, 2**62), None, _number(pt[1], f"{key}[{j}]")))
        else:
            rec.metrics.append((k, 0, None, _number(v, key)))
    params = obj.get("params", {}) or {}
    if not isinstance(params, dict):
        raise _LineError("params", f"expected an object, got {_show(params)}")
    for k, v in params.items():
        if isinstance(v, dict | list):
            raise _LineError(f"params.{k}", f"expected a string, number or boolean, got {_show(v)}")
        rec.params[str(k)] = "" if v is None else (json.dumps(v) if isinstance(v, bool) else str(v))
    pm = _text(obj, "primary_metric", max_len=MAX_ID)
    if pm is not None:
        if metrics and pm not in metrics:
            raise _LineError("primary_metric", f"{_show(pm)} is not one of the metrics ({', '.join(metrics)})")
        rec.primary_metric = pm
    if "exit_code" in obj and obj["exit_code"] is not None:
        rec.exit_code = _int(obj["exit_code"], "exit_code", -(2**31), 2**31 - 1)
    prof = obj.get("profile", {}) or {}
    if not isinstance(prof, dict):
        raise _LineError("profile", f"expected an object of metric: [[time, percent], ...], got {_show(prof)}")
    gpus = obj.get("gpus")
    ngpu = None if gpus is None else _int(gpus, "gpus", 0, 4096)
    for m, pts in prof.items():
        key = f"profile.{m}"
        if m not in PROFILE_METRICS:
            raise _LineError(key, f"expected one of {', '.join(PROFILE_METRICS)}")
        if not isinstance(pts, list):
            raise _LineError(key, f"expected a list of [time, percent], got {_show(pts)}")
        for j, pt in enumerate(pts):
            if not isinstance(pt, list) or len(pt) != 2:
                raise _LineError(f"{key}[{j}]", f"expected [time, percent], got {_show(pt)}")
            try:
                at = _instant({"time": pt[0]}, "time", required=True)
            except _LineError as err:
                raise _LineError(f"{key}[{j}]", err.message) from None
            v = _number(pt[1], f"{key}[{j}]")
            if not 0 <= v <= 100:
                raise _LineError(f"{key}[{j}]", f"expected a percent from 0 to 100, got {_show(pt[1])}")
            assert at is not None
            rec.profile.append((rec.host or "", m, at, v, ngpu if m.startswith("gpu") else None))
    props = obj.get("properties", {}) or {}
    if not isinstance(props, dict):
        raise _LineError("properties", f"expected an object, got {_show(props)}")
    rec.properties = {**props, "platform": props.get("platform", "jsonl")}
    return rec.finish()


def parse_file(path: Path) -> list[RunRecord]:
    """All runs of a run log (last line wins per run_id); InputError names file, line and field."""
    runs: dict[str, RunRecord] = {}
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, start=1):  # noqa: B007 - lineno used after the loop on errors
                if not line.strip():
                    continue
                try:
                    obj = nesting.loads_json(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
                except nesting.TooDeep as exc:
                    raise InputError(f"{path}: line {lineno}: JSON {exc}") from None
                try:
                    rec = parse_line(obj)
                except _LineError as err:
                    raise InputError(f"{path}: line {lineno}: field {err.field_name}: {err.message}") from None
                runs.pop(rec.run_id, None)
                runs[rec.run_id] = rec
        except UnicodeDecodeError:
            raise InputError(f"{path}: line {lineno + 1}: not UTF-8 text") from None
    if not runs:
        raise InputError(f"{path}: no runs in the file (one JSON object per line expected)")
    return list(runs.values())


def is_run_log(path: Path) -> bool:
    """A .jsonl/.ndjson file, or one whose first non-blank line is a JSON object with a run_id."""
    p = Path(path)
    if p.suffix.lower() in RUN_LOG_SUFFIXES:
        return True
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            return False
        try:
            obj = nesting.loads_json(line)
        except (json.JSONDecodeError, nesting.TooDeep):
            return False
        return isinstance(obj, dict) and "run_id" in obj
    return False


@dataclass(slots=True)
class ImportResult:
    path: Path
    source: str
    runs: int
    rows: int

    def summary(self) -> str:
        return f"{self.path}: {self.runs:,} ML runs ({self.rows:,} rows) into source {self.source}"


def parse_files(paths: Iterable[Path]) -> list[tuple[Path, list[RunRecord]]]:
    return [(Path(p), parse_file(Path(p))) for p in paths]


def import_parsed(store: Store, parsed: Sequence[tuple[Path, list[RunRecord]]], *,
                  source_name: str | None = None) -> list[ImportResult]:
    """Write parsed run logs in ONE transaction."""
    if store.is_demo():
        raise InputError(f"{store.path}: is the demo cache; import into your own cache with --db PATH (or COSTDECK_DB)")
    results = []
    with store.transaction():
        for path, runs in parsed:
            name = source_name or f"runs:{path.name}"
            row = store.conn.execute("SELECT kind FROM sources WHERE name=?", (name,)).fetchone()
            if row and row[0] != SOURCE_KIND:
                raise InputError(f"{path}: source {name!r} is a {row[0]} source, not a run log; choose another --source")
            sid = store.ensure_source(name, SOURCE_KIND, {"path": str(path)})
            sync = store.start_sync_run(sid)
            n = write_runs(store, sid, runs, in_transaction=True)
            sync.rows = n
            sync.detail = {"kind": "run log import", "files": [path.name], "runs": len(runs)}
            store.finish_sync_run(sync, "ok")  # `costdeck sources` shows when the log was imported
            results.append(ImportResult(path, name, len(runs), n))
        store.touch_snapshot()
    return results


def import_files(store: Store, paths: Sequence[Path], *, source_name: str | None = None) -> list[ImportResult]:
    """Parse every file first (a bad line changes nothing), then write them all at once."""
    return import_parsed(store, parse_files(paths), source_name=source_name)


__all__ = ["FUTURE_SKEW", "ExecutorRecord", "ImportResult", "RunRecord", "check_provider", "import_files",
           "import_parsed", "is_run_log", "iso", "parse_file", "parse_files", "parse_line", "provider_name",
           "write_runs"]
