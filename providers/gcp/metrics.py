"""Cloud Monitoring utilization of this source's Compute Engine instances.

One filtered `timeSeries.list` per project and metric (not one per instance):

    GET /v3/projects/{p}/timeSeries?filter=metric.type="..." AND resource.type="gce_instance"
        &interval.startTime&interval.endTime&aggregation.alignmentPeriod=3600s
        &aggregation.perSeriesAligner=ALIGN_MEAN|ALIGN_MAX|ALIGN_RATE  (+ pageToken)

* compute.googleapis.com/instance/cpu/utilization, hourly ALIGN_MEAN and ALIGN_MAX (a fraction:
  stored as percent);
* compute.googleapis.com/instance/network/received_bytes_count and sent_bytes_count, hourly
  ALIGN_RATE (bytes/s), stored as bytes per 5-minute sample (rate x 300) so the idle rule's
  threshold means the same as for CloudWatch's NetworkIn / NetworkOut.

Stored like the AWS metrics (the rules read them the same way): table `metrics`, metric "cpu"
(average = mean of the hourly means, maximum = max of the hourly maxima), "network_in",
"network_out" (average of the hourly values, maximum), one row per instance and UTC day,
period_s 86400, for `metrics_days` whole days (default 30). The series' resource labels (zone)
and metric label instance_name give the instance's id. ONE transaction per sync replaces the
instances' rows in the window; a project that fails keeps its previous rows.

Incremental: a project is asked again only once `metrics_refresh_days` UTC days (default 1) have
passed since its last successful fetch, or when its instances changed (the window ends at the start
of today: a second sync the same day has nothing new to ask).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext, one_line
from providers.http import HttpStepError

from .client import Gcp
from .inventory import CRN, PROVIDER, project_failures

CPU = "compute.googleapis.com/instance/cpu/utilization"
NET_IN = "compute.googleapis.com/instance/network/received_bytes_count"
NET_OUT = "compute.googleapis.com/instance/network/sent_bytes_count"
# (our metric, Monitoring metric type, aligner, which daily figure it feeds, scale)
QUERIES: tuple[tuple[str, str, str, str, float], ...] = (
    ("cpu", CPU, "ALIGN_MEAN", "average", 100.0),
    ("cpu", CPU, "ALIGN_MAX", "maximum", 100.0),
    ("network_in", NET_IN, "ALIGN_RATE", "both", 300.0),
    ("network_out", NET_OUT, "ALIGN_RATE", "both", 300.0),
)
METRIC_NAMES = ("cpu", "network_in", "network_out")


def window(now: datetime, days: int) -> tuple[datetime, datetime]:
    end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return end - timedelta(days=days), end


def _z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(v: dict[str, Any]) -> float | None:
    for k in ("doubleValue", "int64Value"):
        if k in v:
            try:
                return float(v[k])
            except (TypeError, ValueError):
                return None
    return None


def fetch_project(gcp: Gcp, project: str, start: datetime, end: datetime) -> dict[tuple[str, str, str], dict[str, Any]]:
    """{(instance id, metric, day): {"avg": [...], "max": [...]}} from the project's series."""
    acc: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: {"avg": [], "max": []})
    for name, metric_type, aligner, feeds, scale in QUERIES:
        params = {
            "filter": f'metric.type="{metric_type}" AND resource.type="gce_instance"',
            "interval.startTime": _z(start), "interval.endTime": _z(end),
            "aggregation.alignmentPeriod": "3600s", "aggregation.perSeriesAligner": aligner,
            "view": "FULL",
        }
        for ts in gcp.monitoring.pages("GET", f"/v3/projects/{project}/timeSeries", items="timeSeries",
                                       next_key="nextPageToken", token_param="pageToken", params=params,
                                       op=f"timeSeries.list {name} {aligner}"):
            labels = (ts.get("resource") or {}).get("labels") or {}
            inst = ((ts.get("metric") or {}).get("labels") or {}).get("instance_name")
            zone = labels.get("zone")
            if not inst or not zone:
                continue
            rid = f"{CRN}{labels.get('project_id') or project}/zones/{zone}/instances/{inst}"
            for p in ts.get("points") or []:
                v = _value(p.get("value") or {})
                t = ((p.get("interval") or {}).get("endTime") or (p.get("interval") or {}).get("startTime"))
                if v is None or not t:
                    continue
                at = timeutil.parse_instant(t) - timedelta(seconds=1)  # an hour ending at 00:00 is the day before
                if not start <= at < end:
                    continue
                day = timeutil.iso(datetime(at.year, at.month, at.day, tzinfo=UTC))
                slot = acc[(rid, name, day)]
                if feeds in ("average", "both"):
                    slot["avg"].append(v * scale)
                if feeds in ("maximum", "both"):
                    slot["max"].append(v * scale)
    return acc


def write_metrics(ctx: SyncContext, ids: list[str], acc: dict[tuple[str, str, str], dict[str, Any]],
                  start: datetime, end: datetime) -> int:
    store = ctx.store
    lo, hi = timeutil.iso(start), timeutil.iso(end)
    names = ",".join("?" for _ in METRIC_NAMES)
    rows = [(PROVIDER, rid, metric, day, 86400,
             (sum(v["avg"]) / len(v["avg"])) if v["avg"] else None, max(v["max"]) if v["max"] else None, None)
            for (rid, metric, day), v in sorted(acc.items())]
    with store.transaction():
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = ",".join("?" for _ in chunk)
            store.conn.execute(
                f"DELETE FROM metrics WHERE provider_name=? AND metric IN ({names}) AND ts>=? AND ts<? "
                f"AND resource_id IN ({q})", (PROVIDER, *METRIC_NAMES, lo, hi, *chunk))
        store.conn.executemany(
            "INSERT OR REPLACE INTO metrics(provider_name, resource_id, metric, ts, period_s, average, maximum, p99) "
            "VALUES (?,?,?,?,?,?,?,?)", rows)
    return len(rows)


def sync_metrics(ctx: SyncContext, gcp: Gcp) -> int:
    start, end = window(ctx.now, gcp.options.metrics_days)
    by_project: dict[str, list[str]] = defaultdict(list)
    for rid, project in ctx.store.conn.execute(
        "SELECT resource_id, sub_account_id FROM resources WHERE source_id=? AND provider_name=? "
        "AND resource_type='instance' ORDER BY 1", (ctx.source_id, PROVIDER)):
        by_project[project].append(rid)
    acc: dict[tuple[str, str, str], dict[str, Any]] = {}
    ids: list[str] = []
    failed: dict[str, str] = {}
    every = gcp.options.metrics_refresh_days
    fetched = _fetched(ctx)  # project -> [UTC day of the last fetch, digest of its instances]
    due = {p: rids for p, rids in by_project.items()
           if not every or p not in fetched or fetched[p][1] != _digest(rids)
           or (ctx.today - date.fromisoformat(fetched[p][0])).days >= every}
    ctx.detail["metrics_projects"] = {"with_instances": len(by_project), "fetched": len(due)}
    for project, rids in due.items():
        ctx.progress(detail=f"metrics {project} ({len(rids)} instances)")
        try:
            got = fetch_project(gcp, project, start, end)
        except HttpStepError as exc:
            failed[project] = one_line(exc)
            continue
        known = set(rids)
        acc.update({k: v for k, v in got.items() if k[0] in known})
        ids.extend(rids)
    n = write_metrics(ctx, ids, acc, start, end) if ids else 0
    if due:
        kept = {p: v for p, v in fetched.items() if p in by_project and p not in failed}
        kept.update({p: [ctx.today.isoformat(), _digest(rids)] for p, rids in due.items() if p not in failed})
        ctx.mark_fetched("metrics", json.dumps(kept, sort_keys=True, separators=(",", ":")))
    if failed:
        ctx.add_rows(n)
        raise StepError(project_failures("metrics", failed))
    return n


def _digest(rids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(rids)).encode()).hexdigest()[:16]


def _fetched(ctx: SyncContext) -> dict[str, list[str]]:
    """{project: [UTC day, instances digest]} of each project's last successful fetch."""
    _at, digest = ctx.last_fetch("metrics")
    try:
        got = json.loads(digest) if digest else {}
    except ValueError:
        return {}
    out: dict[str, list[str]] = {}
    for p, v in (got.items() if isinstance(got, dict) else ()):
        if isinstance(v, list) and len(v) == 2:
            try:
                date.fromisoformat(str(v[0]))
            except ValueError:
                continue
            out[str(p)] = [str(v[0]), str(v[1])]
    return out


__all__ = ["METRIC_NAMES", "QUERIES", "fetch_project", "sync_metrics", "window"]
