"""The `allocation` step: OpenCost's allocation API, one day per set, into `k8s_allocations`.

    GET /allocation/compute?window=<start>,<end>&step=1d&accumulate=false
        &aggregate=cluster,node,namespace,controllerKind,controller,pod&includeIdle=true&idleByNode=true

answers {"code": 200, "data": [{"<key>": Allocation, ...} per day]}. Every allocation of the window
is fetched and checked first; then ONE transaction replaces this source's rows of the days that
came back with allocations. A day that comes back empty (Prometheus no longer holds it, or the
cluster was down) keeps what the cache had; a malformed entry fails the step with one line naming
it, and nothing is written. Money: OpenCost's floats (rounded to 5 decimals) become integer nanos.
Rows never go to `costs`: a cluster's node cost is already in its cloud bill (a lens, not a bill).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from providers.base import StepError, SyncContext

if TYPE_CHECKING:
    from providers.http import RestClient

    from .adapter import OpenCostOptions

AGGREGATE = "cluster,node,namespace,controllerKind,controller,pod"
PATH = "/allocation/compute"
IDLE = "__idle__"
NANOS = 1_000_000_000

COLUMNS = ("source_id", "day", "cluster", "node", "namespace", "controller_kind", "controller", "pod", "idle",
           "provider_id", "currency", "minutes", "cpu_cost", "gpu_cost", "ram_cost", "pv_cost", "network_cost",
           "lb_cost", "shared_cost", "external_cost", "total_cost", "cpu_core_hours", "cpu_request_avg",
           "cpu_usage_avg", "ram_byte_hours", "ram_request_avg", "ram_usage_avg", "gpu_hours", "pv_bytes",
           "cpu_efficiency", "ram_efficiency", "total_efficiency", "tagset")
INSERT = f"INSERT INTO k8s_allocations({', '.join(COLUMNS)}) VALUES({', '.join('?' for _ in COLUMNS)})"


class MalformedAllocation(StepError):
    """An allocation entry the step cannot read (one line naming it)."""


def _iso(d: date) -> str:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def chunks(start: date, end: date, days: int) -> list[tuple[date, date]]:
    out, d = [], start
    while d < end:
        e = min(end, d + timedelta(days=days))
        out.append((d, e))
        d = e
    return out


def _num(a: dict[str, Any], key: str, where: str) -> float:
    v = a.get(key)
    if v is None:  # OpenCost writes NaN/Inf as null
        return 0.0
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise MalformedAllocation(f"{where}: {key} is {type(v).__name__} {str(v)[:40]!r}, expected a number")
    return float(v)


def _opt(a: dict[str, Any], key: str, where: str) -> float | None:
    return None if a.get(key) is None else _num(a, key, where)


def _nanos(x: float) -> int:
    return int(round(x * NANOS))


def _text(props: dict[str, Any], key: str) -> str:
    v = props.get(key)
    return v if isinstance(v, str) else ""


def parse_allocation(name: str, a: Any, label: str) -> tuple[date, dict[str, Any]]:
    """(day, record without source_id/tagset, labels in record['labels']). Raises MalformedAllocation."""
    where = f"{label}: allocation {name[:120]!r}"
    if not isinstance(a, dict):
        raise MalformedAllocation(f"{where}: not an object")
    start = a.get("start")
    if start is None and isinstance(a.get("window"), dict):
        start = a["window"].get("start")
    try:
        day = datetime.fromisoformat(str(start).replace("Z", "+00:00")).astimezone(UTC).date()
    except ValueError:
        raise MalformedAllocation(f"{where}: start {str(start)[:40]!r} is not a time") from None
    props = a.get("properties") or {}
    if not isinstance(props, dict):
        raise MalformedAllocation(f"{where}: properties is not an object")
    idle = IDLE in name
    labels: dict[str, Any] = {}
    for k in ("namespaceLabels", "labels"):
        v = props.get(k)
        if isinstance(v, dict):
            labels.update({str(x): str(y) for x, y in v.items()})
    parts = {
        "cpu_cost": _num(a, "cpuCost", where) + _num(a, "cpuCostAdjustment", where),
        "gpu_cost": _num(a, "gpuCost", where) + _num(a, "gpuCostAdjustment", where),
        "ram_cost": _num(a, "ramCost", where) + _num(a, "ramCostAdjustment", where),
        "pv_cost": _num(a, "pvCost", where) + _num(a, "pvCostAdjustment", where),
        "network_cost": _num(a, "networkCost", where) + _num(a, "networkCostAdjustment", where),
        "lb_cost": _num(a, "loadBalancerCost", where) + _num(a, "loadBalancerCostAdjustment", where),
        "shared_cost": _num(a, "sharedCost", where),
        "external_cost": _num(a, "externalCost", where),
    }
    total = _num(a, "totalCost", where)
    rec: dict[str, Any] = {
        "day": day.isoformat(),
        "cluster": _text(props, "cluster"),
        "node": _text(props, "node"),
        "namespace": IDLE if idle else _text(props, "namespace"),
        "controller_kind": IDLE if idle else _text(props, "controllerKind"),
        "controller": IDLE if idle else _text(props, "controller"),
        "pod": IDLE if idle else _text(props, "pod"),
        "idle": 1 if idle else 0,
        "provider_id": _text(props, "providerID") or None,
        "currency": "USD",
        "minutes": _num(a, "minutes", where),
        **{k: _nanos(v) for k, v in parts.items()},
        "total_cost": _nanos(total),
        "cpu_core_hours": _opt(a, "cpuCoreHours", where),
        "cpu_request_avg": _opt(a, "cpuCoreRequestAverage", where),
        "cpu_usage_avg": _opt(a, "cpuCoreUsageAverage", where),
        "ram_byte_hours": _opt(a, "ramByteHours", where),
        "ram_request_avg": _opt(a, "ramByteRequestAverage", where),
        "ram_usage_avg": _opt(a, "ramByteUsageAverage", where),
        "gpu_hours": _opt(a, "gpuHours", where),
        "pv_bytes": _opt(a, "pvBytes", where),
        "cpu_efficiency": _opt(a, "cpuEfficiency", where),
        "ram_efficiency": _opt(a, "ramEfficiency", where),
        "total_efficiency": _opt(a, "totalEfficiency", where),
        "labels": labels,
    }
    return day, rec


def fetch_window(client: RestClient, start: date, end: date, label: str) -> list[tuple[date, dict[str, Any]]]:
    params = {"window": f"{_iso(start)},{_iso(end)}", "step": "1d", "accumulate": "false",
              "aggregate": AGGREGATE, "includeIdle": "true", "idleByNode": "true", "shareIdle": "false"}
    body = client.get(PATH, params=params, op="GET allocation")
    if not isinstance(body, dict) or not isinstance(body.get("data", []), list | type(None)):
        raise MalformedAllocation(f"{label}: the allocation answer has no data list")
    code = body.get("code", 200)
    if code not in (200, None):
        msg = " ".join(str(body.get("message") or "").split())[:200]
        raise StepError(f"{label}: allocation answered code {code}" + (f": {msg}" if msg else ""))
    out = []
    for i, aset in enumerate(body.get("data") or []):
        if aset is None:
            continue
        if not isinstance(aset, dict):
            raise MalformedAllocation(f"{label}: allocation set {i} of {start}..{end} is not an object")
        for name, a in aset.items():
            day, rec = parse_allocation(str(name), a, label)
            if not (start <= day < end):
                raise MalformedAllocation(f"{label}: allocation {str(name)[:120]!r} starts {day}, "
                                          f"outside the window asked for ({start} to {end})")
            out.append((day, rec))
    return out


def sync_allocation(ctx: SyncContext, client: RestClient, opts: OpenCostOptions) -> int:
    start, end = ctx.cost_window
    end = min(end, ctx.today + timedelta(days=1))
    label = f"OpenCost {opts.cluster}"
    records: list[tuple[date, dict[str, Any]]] = []
    parts = chunks(start, end, opts.chunk_days)
    for i, (a, b) in enumerate(parts, 1):
        ctx.progress(detail=f"allocation {a} ({i}/{len(parts)})")
        records.extend(fetch_window(client, a, b, label))
    days = sorted({d for d, _ in records})
    workloads = workload_resources(records, days[-1] if days else None, opts.cluster, ctx)
    empty = [d.isoformat() for d, _ in chunks(start, end, 1) if d not in set(days)]
    store = ctx.store
    with store.transaction() as conn:
        for k in range(0, len(days), 400):
            part = [d.isoformat() for d in days[k:k + 400]]
            conn.execute(f"DELETE FROM k8s_allocations WHERE source_id=? AND day IN ({','.join('?' * len(part))})",
                         (ctx.source_id, *part))
        batch = []
        for _, rec in records:
            labels = rec.pop("labels")
            rec["cluster"] = opts.cluster  # the name costdeck shows (OpenCost's own is often "cluster-one")
            rec["source_id"] = ctx.source_id
            rec["tagset"] = store.tagset_id(labels) if labels else None
            batch.append(tuple(rec[c] for c in COLUMNS))
            if len(batch) >= 5000:
                conn.executemany(INSERT, batch)
                batch.clear()
        if batch:
            conn.executemany(INSERT, batch)
        if workloads:  # the controllers and namespaces of the newest day, as inventory (cleanup targets)
            store.replace_where("resources", "provider_name='Kubernetes' AND source_id=? AND resource_type IN "
                                "('kubernetes_workload', 'kubernetes_namespace')", (ctx.source_id,), workloads)
    ctx.detail["cost_window"] = [start.isoformat(), end.isoformat()]
    ctx.detail["cost_window_step"] = "allocation"
    ctx.detail["allocation_days"] = len(days)
    if empty:
        ctx.detail["allocation_empty_days"] = empty[:62]
    return len(records)


def workload_resources(records: list[tuple[date, dict[str, Any]]], last: date | None, cluster: str,
                       ctx: SyncContext) -> list[dict[str, Any]]:
    """`resources` rows for the controllers and namespaces running on the newest day: resource ids
    "<cluster>/<namespace>/<kind>/<name>" and "<cluster>/<namespace>", tags = the pod labels common
    to the controller's pods (namespace: its labels), so protection rules on labels are honoured."""
    from cache import timeutil

    if last is None:
        return []
    now = timeutil.iso(ctx.now)
    old = {r[0]: r[1] for r in ctx.store.conn.execute(
        "SELECT resource_id, first_seen FROM resources WHERE provider_name='Kubernetes' AND source_id=?",
        (ctx.source_id,))}
    ctrl: dict[str, dict[str, Any]] = {}
    nss: dict[str, dict[str, Any]] = {}
    for d, r in records:
        if d != last or r["idle"]:
            continue
        ns = r["namespace"]
        nss.setdefault(ns, {"pods": 0, "cost": 0})
        nss[ns]["pods"] += 1
        nss[ns]["cost"] += r["total_cost"]
        if not r["controller"]:
            continue
        rid = f"{cluster}/{ns}/{r['controller_kind']}/{r['controller']}"
        c = ctrl.setdefault(rid, {"ns": ns, "kind": r["controller_kind"], "name": r["controller"], "pods": 0,
                                  "cost": 0, "labels": dict(r["labels"])})
        c["pods"] += 1
        c["cost"] += r["total_cost"]
        c["labels"] = {k: v for k, v in c["labels"].items() if r["labels"].get(k) == v}

    def row(rid: str, name: str, rtype: str, tags: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
        return {"source_id": ctx.source_id, "provider_name": "Kubernetes", "resource_id": rid,
                "resource_name": name, "resource_type": rtype, "billing_account_id": cluster,
                "sub_account_id": cluster, "region_id": None, "state": "running", "attached_to": None,
                "size": None, "instance_type": None, "lifecycle": None, "created_at": None,
                "first_seen": old.get(rid, now), "last_seen": now, "tags": tags, "properties": props}

    out = [row(rid, f"{c['ns']}/{c['name']}", "kubernetes_workload", c["labels"],
               {"cluster": cluster, "namespace": c["ns"], "controller_kind": c["kind"], "controller": c["name"],
                "pods": c["pods"], "day": last.isoformat(), "day_cost_nanos": c["cost"]})
           for rid, c in sorted(ctrl.items())]
    out += [row(f"{cluster}/{ns}", ns, "kubernetes_namespace", {},
                {"cluster": cluster, "namespace": ns, "pods": v["pods"], "day": last.isoformat(),
                 "day_cost_nanos": v["cost"]})
            for ns, v in sorted(nss.items())]
    return out
