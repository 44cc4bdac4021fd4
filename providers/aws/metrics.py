"""CloudWatch utilization of this source's EC2 instances (daily, last 30 days by default).

* Which instances: the `instance` rows the inventory step just wrote for this source.
* What: per instance and day, CPUUtilization Average / Maximum / p99 (p99 is an extended
  statistic, asked for as `Stat: "p99"` in the MetricStat) and NetworkIn / NetworkOut
  Average / Maximum (bytes per CloudWatch sample, as CloudWatch reports them). Stored in
  `metrics` as metric "cpu", "network_in", "network_out"; ts = the day's start (ISO UTC),
  period_s = 86400.
* How: GetMetricData, up to 500 MetricDataQueries per request (7 per instance, so 71 instances
  per request), each request paged with NextToken by botocore's paginator (results of one query
  id are merged across pages). Window: whole UTC days [today - metrics_days, today).
* Write: ONE transaction replacing these instances' cpu/network rows inside the window; older
  days are kept as history. A region that fails keeps its previous rows (StepError after the
  others are written).

Options: `metrics_days` (default 30), `metrics_p99` (default true; false drops the p99 query,
a third fewer metrics billed by CloudWatch).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext

from .inventory import FETCH_ERRORS, PROVIDER, error_text, pages, region_failures
from .session import AwsSession

MAX_QUERIES = 500
PERIOD_S = 86400
DEFAULT_DAYS = 30
# (our metric name, CloudWatch metric name, statistics -> our column)
SERIES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("cpu", "CPUUtilization", (("Average", "average"), ("Maximum", "maximum"), ("p99", "p99"))),
    ("network_in", "NetworkIn", (("Average", "average"), ("Maximum", "maximum"))),
    ("network_out", "NetworkOut", (("Average", "average"), ("Maximum", "maximum"))),
)
METRIC_NAMES = tuple(s[0] for s in SERIES)


@dataclass(slots=True)
class MetricPoint:
    resource_id: str
    metric: str
    ts: str
    average: float | None = None
    maximum: float | None = None
    p99: float | None = None


def metric_window(now: datetime, days: int = DEFAULT_DAYS) -> tuple[datetime, datetime]:
    """Whole UTC days: [midnight - days, today's midnight)."""
    end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return end - timedelta(days=days), end


def build_queries(instance_ids: Sequence[str], *, p99: bool = True) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str, str]]]:
    """MetricDataQueries for the instances, and query id -> (instance, metric, column)."""
    queries: list[dict[str, Any]] = []
    index: dict[str, tuple[str, str, str]] = {}
    for n, iid in enumerate(instance_ids):
        for metric, cw_name, stats in SERIES:
            for stat, column in stats:
                if stat == "p99" and not p99:
                    continue
                qid = f"q{n}_{metric}_{column}"
                index[qid] = (iid, metric, column)
                queries.append({
                    "Id": qid,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/EC2",
                            "MetricName": cw_name,
                            "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                        },
                        "Period": PERIOD_S,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                })
    return queries, index


def fetch_metrics(
    cw: Any,
    instance_ids: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    p99: bool = True,
    max_queries: int = MAX_QUERIES,
) -> list[MetricPoint]:
    """Daily points for the instances (pure API): batches of <= max_queries, each paged by botocore's
    paginator (NextToken)."""
    per_instance = sum(len([s for s in st if s[0] != "p99" or p99]) for _, _, st in SERIES)
    batch = max(1, max_queries // per_instance)
    points: dict[tuple[str, str, str], MetricPoint] = {}
    for i in range(0, len(instance_ids), batch):
        chunk = list(instance_ids[i:i + batch])
        queries, index = build_queries(chunk, p99=p99)
        for res in pages(cw, "get_metric_data", "MetricDataResults", MetricDataQueries=queries, StartTime=start,
                         EndTime=end, ScanBy="TimestampAscending"):
            key = index.get(res.get("Id", ""))
            if key is None:
                continue
            iid, metric, column = key
            for ts, value in zip(res.get("Timestamps") or [], res.get("Values") or [], strict=False):
                day = timeutil.iso(_day_start(ts))
                pt = points.get((iid, metric, day))
                if pt is None:
                    pt = points[(iid, metric, day)] = MetricPoint(iid, metric, day)
                setattr(pt, column, float(value))
    return sorted(points.values(), key=lambda p: (p.resource_id, p.metric, p.ts))


def _day_start(ts: datetime) -> datetime:
    t = ts.astimezone(UTC)
    return datetime(t.year, t.month, t.day, tzinfo=UTC)


def write_metrics(
    ctx: SyncContext, instance_ids: Iterable[str], points: Sequence[MetricPoint], start: datetime, end: datetime
) -> int:
    """Replace the instances' cpu/network rows in [start, end) with `points`, in ONE transaction."""
    store = ctx.store
    lo, hi = timeutil.iso(start), timeutil.iso(end)
    ids = list(instance_ids)
    names = ",".join("?" for _ in METRIC_NAMES)
    with store.transaction():
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = ",".join("?" for _ in chunk)
            store.conn.execute(
                f"DELETE FROM metrics WHERE provider_name=? AND metric IN ({names}) AND ts>=? AND ts<? "
                f"AND resource_id IN ({q})",
                (PROVIDER, *METRIC_NAMES, lo, hi, *chunk),
            )
        store.conn.executemany(
            "INSERT OR REPLACE INTO metrics(provider_name, resource_id, metric, ts, period_s, average, maximum, p99) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(PROVIDER, p.resource_id, p.metric, p.ts, PERIOD_S, p.average, p.maximum, p.p99) for p in points],
        )
    return len(points)


def source_instances(ctx: SyncContext) -> dict[str, list[str]]:
    """This source's instances in the cache, by region."""
    out: dict[str, list[str]] = {}
    for row in ctx.store.conn.execute(
        "SELECT resource_id, region_id FROM resources WHERE source_id=? AND provider_name=? "
        "AND resource_type='instance' ORDER BY region_id, resource_id",
        (ctx.source_id, PROVIDER),
    ):
        out.setdefault(row[1] or "", []).append(row[0])
    return out


def sync_metrics(ctx: SyncContext, aws: AwsSession) -> int:
    """Step: CloudWatch daily CPU and network for every instance of this source."""
    days = aws.options.metrics_days
    p99 = aws.options.metrics_p99
    start, end = metric_window(ctx.now, days)
    by_region = source_instances(ctx)
    points: list[MetricPoint] = []
    written_ids: list[str] = []
    failed: dict[str, str] = {}
    for region, ids in by_region.items():
        ctx.progress(detail=f"metrics {region} ({len(ids)} instances)")
        try:
            points.extend(fetch_metrics(aws.client("cloudwatch", region or None), ids, start, end, p99=p99))
            written_ids.extend(ids)
        except FETCH_ERRORS as exc:
            failed[region] = error_text(exc, aws.profile)
    n = write_metrics(ctx, written_ids, points, start, end) if written_ids else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(region_failures("metrics", failed))
    return n


__all__ = ["METRIC_NAMES", "MetricPoint", "build_queries", "fetch_metrics", "metric_window", "sync_metrics",
           "write_metrics"]
