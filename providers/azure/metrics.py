"""Azure Monitor utilization of this source's running VMs (hourly samples, rolled up per day).

* Which VMs: the `instance` rows the inventory step wrote for this source in state "running".
* What: the Azure Monitor metrics batch API, `POST https://{region}.metrics.monitor.azure.com/
  subscriptions/{sub}/metrics:getBatch?api-version=2023-10-01` with body `{"resourceids": [...]}` (at
  most 50 VMs of one subscription and region per request), `metricnamespace=Microsoft.Compute/
  virtualMachines`, `metricnames=Percentage CPU,Network In Total,Network Out Total`, `interval=PT1H`,
  `aggregation=average,maximum,total`, `starttime`/`endtime` = the last `metrics_days` whole UTC days:
  ceil(VMs due / 50) requests per subscription and region, `metrics_concurrency` requests in flight.
  With an `endpoint` (an emulator) the batch requests go to that endpoint. A VM missing from an
  answer counts as failed.
* Incremental: a VM is fetched again only once `metrics_refresh_days` UTC days have passed since
  its last successful fetch (default 1: the window ends at the start of today, so a second sync the
  same day has nothing new to ask); new VMs and VMs whose request failed are fetched at once. A
  sync's requests grow with the VMs due, not with the VMs that exist.
* Stored like the other providers (the rules compare them): per VM and day, metric "cpu" (average of
  the hourly averages, maximum of the hourly maxima), "network_in" / "network_out" (average and
  maximum of the hourly totals, in bytes per hourly sample); ts = the day's start, period_s = 86400.
  ONE transaction replaces these VMs' rows inside the window; a VM whose request failed keeps its
  previous rows and the step ends with one line naming it.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext
from providers.http import HttpStepError

from . import refresh
from .session import MONITOR_API, AzureSession

PROVIDER = "Microsoft"
METRICS = {"Percentage CPU": "cpu", "Network In Total": "network_in", "Network Out Total": "network_out"}


BATCH = 50  # resources per metrics:getBatch request (the API's limit)
NAMESPACE = "Microsoft.Compute/virtualMachines"


def parse_metrics(value: Any) -> dict[tuple[str, str], tuple[float, float]]:
    """(metric, day) -> (average, maximum) from one resource's metric objects (`value`)."""
    per: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for series in value if isinstance(value, list) else []:
        if not isinstance(series, dict):
            continue
        name = ((series.get("name") or {}).get("value")) or ""
        metric = METRICS.get(name)
        if metric is None:
            continue
        for ts in series.get("timeseries") or []:
            for point in ts.get("data") or []:
                day = str(point.get("timeStamp") or "")[:10]
                if metric == "cpu":
                    avg, mx = point.get("average"), point.get("maximum")
                else:
                    avg = mx = point.get("total")
                if avg is None or not day:
                    continue
                per[(metric, day)].append((float(avg), float(mx if mx is not None else avg)))
    return {k: (sum(a for a, _ in v) / len(v), max(m for _, m in v)) for k, v in per.items()}


def fetch_batch(az: AzureSession, sub: str, region: str, rids: list[str], lo: datetime,
                hi: datetime) -> dict[str, dict[tuple[str, str], tuple[float, float]]]:
    """{VM id as asked: (metric, day) -> (average, maximum)} for up to 50 VMs of one subscription and
    region; a VM the answer does not name is left out."""
    data = az.metrics_client(region).post(
        f"/subscriptions/{sub}/metrics:getBatch", {"resourceids": rids}, op="Monitor metrics batch", params={
            "api-version": MONITOR_API, "metricnamespace": NAMESPACE, "metricnames": ",".join(METRICS),
            "interval": "PT1H", "aggregation": "average,maximum,total",
            "starttime": lo.strftime("%Y-%m-%dT%H:%M:%SZ"), "endtime": hi.strftime("%Y-%m-%dT%H:%M:%SZ")})
    asked = {r.lower(): r for r in rids}
    out: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    for item in (data.get("values") or []) if isinstance(data, dict) else []:
        rid = asked.get(str((item or {}).get("resourceid") or "").lower()) if isinstance(item, dict) else None
        if rid is not None:
            out[rid] = parse_metrics(item.get("value"))
    return out


def sync_metrics(ctx: SyncContext, az: AzureSession) -> int:
    where = {r[0]: (str(r[1] or r[0].split("/")[2]).lower(), str(r[2] or "").lower()) for r in ctx.store.conn.execute(
        "SELECT resource_id, sub_account_id, region_id FROM resources WHERE source_id=? AND provider_name=? "
        "AND resource_type='instance' AND state='running' ORDER BY resource_id", (ctx.source_id, PROVIDER))}
    vms = list(where)
    hi = datetime.combine(ctx.today, datetime.min.time(), UTC)
    lo = hi - timedelta(days=az.options.metrics_days)
    every = az.options.metrics_refresh_days
    due, fetched = refresh.due(ctx, "metrics", vms, every)  # fetched: VM -> the UTC day of its last fetch
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rid in due:
        groups[where[rid]].append(rid)
    batches = [(sub, region, rids[i:i + BATCH]) for (sub, region), rids in sorted(groups.items())
               for i in range(0, len(rids), BATCH)]
    ctx.detail["metrics_vms"] = {"running": len(vms), "fetched": len(due), "batches": len(batches)}
    if not due:
        ctx.progress(detail=f"Monitor metrics of {len(vms)} running VM(s) are current (refreshed every {every} day(s))")
        return 0
    vms = due
    results: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    failed: dict[str, str] = {}

    def one(batch: tuple[str, str, list[str]]) -> None:
        sub, region, rids = batch
        try:
            got = fetch_batch(az, sub, region, rids, lo, hi)
        except HttpStepError as exc:
            failed.update(dict.fromkeys(rids, str(exc)))
            return
        results.update(got)
        failed.update({rid: "not in the Monitor answer" for rid in rids if rid not in got})

    ctx.progress(f"Monitor metrics of {len(vms)} running VM(s) ({len(batches)} batch request(s))")
    with ThreadPoolExecutor(max_workers=az.options.metrics_concurrency, thread_name_prefix="az-metrics") as pool:
        list(pool.map(one, batches))
    rows: list[tuple[Any, ...]] = []
    for rid, got in results.items():
        for (metric, day), (avg, mx) in got.items():
            rows.append((PROVIDER, rid, metric, f"{day}T00:00:00+00:00", 86400, round(avg, 6), round(mx, 6), None))
    with ctx.store.transaction():
        for rid in results:
            ctx.store.conn.execute(
                "DELETE FROM metrics WHERE provider_name=? AND resource_id=? AND ts >= ? AND ts < ? "
                "AND metric IN ('cpu', 'network_in', 'network_out')",
                (PROVIDER, rid, timeutil.iso(lo), timeutil.iso(hi)))
        ctx.store.conn.executemany(
            "INSERT OR REPLACE INTO metrics(provider_name, resource_id, metric, ts, period_s, average, maximum, p99) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    refresh.mark(ctx, "metrics", fetched, results, failed)
    if failed:
        ctx.add_rows(len(rows))
        by_msg: dict[str, list[str]] = defaultdict(list)  # one batch's VMs share its error
        for rid, msg in sorted(failed.items()):
            by_msg[msg].append(rid.rsplit("/", 1)[-1])
        raise StepError(f"metrics failed for {len(failed)} VM(s) (previous data kept): "
                        + "; ".join(f"{', '.join(names)}: {m}" for m, names in by_msg.items()))
    return len(rows)

