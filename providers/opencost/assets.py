"""The `assets` step: OpenCost's assets API (nodes, disks, load balancers) into `resources`.

    GET /assets?window=<start>,<end>   -> {"code": 200, "data": {"<key>": Asset, ...}}

Asset JSON (core/pkg/opencost/asset_json.go): type ("Node", "Disk", "LoadBalancer", ...),
properties {category, provider, account, project, service, cluster, name, providerID}, labels,
window, start, end, minutes, totalCost; a Node adds nodeType, pool, cpuCores, ramBytes, gpuCount,
cpuCost, gpuCost, ramCost; a Disk adds bytes, storageClass, volumeName, claimName, claimNamespace.

Resources: provider_name "Kubernetes", resource_id "<cluster>/<kind>/<name>", resource_type
"kubernetes_node" | "volume" | "load_balancer". A disk without a claim (a Released or unclaimed
persistent volume) has no `attached_to`, so the unattached_volume rule sees it. The window is the
last 7 days; the cost of each asset over it is kept in properties (cost_7d_nanos) with a monthly
estimate. Every asset is checked before one transaction replaces this source's Kubernetes resources.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cache import timeutil
from providers.base import StepError, SyncContext

from .allocation import NANOS, _iso

if TYPE_CHECKING:
    from providers.http import RestClient

    from .adapter import OpenCostOptions

PROVIDER = "Kubernetes"
TYPES = {"Node": "kubernetes_node", "Disk": "volume", "LoadBalancer": "load_balancer"}
WINDOW_DAYS = 7


def _f(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def asset_record(key: str, a: Any, opts: OpenCostOptions, now: datetime, source_id: int) -> dict[str, Any] | None:
    label = f"OpenCost {opts.cluster}"
    if not isinstance(a, dict) or not isinstance(a.get("properties") or {}, dict):
        raise StepError(f"{label}: asset {key[:120]!r} is not an object")
    typ = TYPES.get(str(a.get("type")))
    if typ is None:
        return None  # Cloud, ClusterManagement, Network, Shared: costs, not inventory
    props = a.get("properties") or {}
    name = str(props.get("name") or "")
    if not name:
        raise StepError(f"{label}: asset {key[:120]!r} has no name")
    cost = _f(a.get("totalCost"))
    minutes = _f(a.get("minutes"))
    monthly = cost / minutes * 60 * 730 if minutes > 0 else 0.0
    p: dict[str, Any] = {
        "cluster": opts.cluster, "provider_id": props.get("providerID") or None,
        "cloud_provider": props.get("provider") or None, "account": props.get("account") or None,
        "cost_window_nanos": int(round(cost * NANOS)), "window_minutes": minutes,
        "monthly_cost_nanos": int(round(monthly * NANOS)), "opencost_key": key,
    }
    rec: dict[str, Any] = {
        "source_id": source_id, "provider_name": PROVIDER, "resource_type": typ,
        "resource_id": f"{opts.cluster}/{typ}/{name}", "resource_name": name,
        "billing_account_id": opts.cluster, "sub_account_id": opts.cluster,
        "region_id": None, "state": "running", "attached_to": None, "size": None, "instance_type": None,
        "lifecycle": None, "created_at": None, "first_seen": timeutil.iso(now), "last_seen": timeutil.iso(now),
        "tags": {str(k): str(v) for k, v in (a.get("labels") or {}).items()} if isinstance(a.get("labels"), dict)
        else {},
    }
    if typ == "kubernetes_node":
        rec["instance_type"] = a.get("nodeType") or None
        p.update({"pool": a.get("pool"), "cpu_cores": _f(a.get("cpuCores")), "ram_bytes": _f(a.get("ramBytes")),
                  "gpu_count": _f(a.get("gpuCount")), "preemptible": _f(a.get("preemptible")),
                  "cpu_cost": _f(a.get("cpuCost")), "ram_cost": _f(a.get("ramCost")),
                  "gpu_cost": _f(a.get("gpuCost"))})
        rec["size"] = f"{p['cpu_cores']:g} vCPU, {p['ram_bytes'] / 2**30:g} GiB"
        rec["lifecycle"] = "spot" if p["preemptible"] else "on-demand"
    elif typ == "volume":
        gib = _f(a.get("bytes")) / 2**30
        claim, ns = a.get("claimName") or "", a.get("claimNamespace") or ""
        p.update({"size_gib": round(gib, 2), "storage_class": a.get("storageClass") or None,
                  "volume_type": a.get("storageClass") or "persistent volume",
                  "volume_name": a.get("volumeName") or name, "claim": f"{ns}/{claim}" if claim else None,
                  "kubernetes_kind": "PersistentVolume" if a.get("volumeName") else "Disk"})
        rec["size"] = f"{gib:g} GiB"
        rec["state"] = "bound" if claim else "released"
        rec["attached_to"] = f"{ns}/{claim}" if claim else None
    else:
        p.update({"ip": a.get("ip") or None, "private": bool(a.get("private"))})
    rec["properties"] = p
    return rec


def sync_assets(ctx: SyncContext, client: RestClient, opts: OpenCostOptions) -> int:
    end = datetime(ctx.today.year, ctx.today.month, ctx.today.day, tzinfo=UTC) + timedelta(days=1)
    start = end - timedelta(days=WINDOW_DAYS)
    ctx.progress(detail="assets")
    body = client.get("/assets", params={"window": f"{_iso(start.date())},{_iso(end.date())}"}, op="GET assets")
    if not isinstance(body, dict) or not isinstance(body.get("data") or {}, dict | list):
        raise StepError(f"OpenCost {opts.cluster}: the assets answer has no data")
    data = body.get("data") or {}
    sets = data if isinstance(data, list) else [data]  # accumulated map, or one map per step
    merged: dict[str, dict[str, Any]] = {}
    for s in sets:
        if not isinstance(s, dict):
            raise StepError(f"OpenCost {opts.cluster}: an asset set is not an object")
        for key, a in s.items():
            rec = asset_record(str(key), a, opts, ctx.now, ctx.source_id)
            if rec is None:
                continue
            prev = merged.get(rec["resource_id"])
            if prev is not None:  # one asset over several steps: add up its cost
                for k in ("cost_window_nanos", "window_minutes"):
                    rec["properties"][k] += prev["properties"][k]
            merged[rec["resource_id"]] = rec
    store = ctx.store
    old = {r[0]: r[1] for r in store.conn.execute(
        "SELECT resource_id, first_seen FROM resources WHERE provider_name=? AND source_id=?",
        (PROVIDER, ctx.source_id))}
    for rid, rec in merged.items():
        rec["first_seen"] = old.get(rid, rec["first_seen"])
    with store.transaction():
        store.replace_where("resources", "provider_name=? AND source_id=? AND resource_type IN "
                            "('kubernetes_node', 'volume', 'load_balancer')", (PROVIDER, ctx.source_id),
                            list(merged.values()))
    return len(merged)
