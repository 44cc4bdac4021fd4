"""Kubernetes (OpenCost) allocation: the lens model and the per-controller figures the rules use.

Allocation is a lens on the cloud bill, never added to it: these figures come from
`k8s_allocations` only. Node cost = allocated + idle (per node, from OpenCost's prices); where a
cluster's source names its `node_source` (the cloud source whose bill holds the nodes), each node is
matched by its provider id (aws:///zone/i-..., azure:///subscriptions/..., gce://project/zone/name)
to the cloud resource and its cost there (effective cost: Savings-Plan-covered hours bill 0 on the
resource), and the gap is shown.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cache import k8s as kq

GIB = 2**30
HOURS_PER_MONTH = 730.0


def window(conn: sqlite3.Connection, days: int) -> tuple[date, date] | None:
    """The last `days` days with allocation data: [since, until)."""
    rng = kq.alloc_range(conn)
    if rng is None:
        return None
    until = rng[1] + timedelta(days=1)
    return max(rng[0], until - timedelta(days=days)), until


def cloud_resource_id(provider_id: str | None) -> str | None:
    """The cloud resource id a node's providerID names: i-... for AWS, the VM id for Azure, the name for GCE."""
    if not provider_id:
        return None
    p = provider_id.strip()
    if p.startswith("aws://"):
        return p.rsplit("/", 1)[-1] or None
    if p.startswith("azure://"):
        return p[len("azure://"):] or None
    if p.startswith("gce://"):
        return p.rsplit("/", 1)[-1] or None
    return p


@dataclass(slots=True)
class NodeRow:
    cluster: str
    node: str
    instance_type: str | None
    provider_id: str | None
    opencost: int  # node cost from OpenCost (allocated + idle), nanos
    idle: int
    billed: int | None  # its cost in the node_source's bill (None: no node_source or not found)

    @property
    def gap(self) -> int | None:
        return None if self.billed is None else self.opencost - self.billed


@dataclass(slots=True)
class ClusterRow:
    source_id: int
    source: str
    cluster: str
    node_source: str | None
    total: int
    idle: int
    allocated: int
    cpu_efficiency: float | None
    ram_efficiency: float | None
    nodes: list[NodeRow] = field(default_factory=list)

    @property
    def idle_share(self) -> float:
        return self.idle / self.total if self.total else 0.0

    @property
    def node_cost(self) -> int:
        return sum(n.opencost for n in self.nodes)

    @property
    def billed(self) -> int | None:
        b = [n.billed for n in self.nodes if n.billed is not None]
        return sum(b) if b else None


def _source_options(conn: sqlite3.Connection, source_id: int) -> dict[str, Any]:
    row = conn.execute("SELECT options FROM sources WHERE id = ?", (source_id,)).fetchone()
    try:
        v = json.loads(row[0]) if row else {}
    except (TypeError, json.JSONDecodeError):
        return {}
    return v if isinstance(v, dict) else {}


def clusters(conn: sqlite3.Connection, since: date, until: date) -> list[ClusterRow]:
    """Every cluster over [since, until): total, idle, efficiency, nodes reconciled with their cloud bill."""
    out = []
    types = {r[0]: r[1] for r in conn.execute(
        "SELECT resource_name, instance_type FROM resources WHERE resource_type = 'kubernetes_node'")}
    for sid, name, cluster in kq.clusters(conn):
        groups = kq.alloc_groups(conn, "cluster", since, until, {"source_id": str(sid), "cluster": cluster})
        if not groups:
            continue
        g = groups[0]
        idle = sum(x.cost for x in kq.alloc_groups(conn, "namespace", since, until,
                                                    {"source_id": str(sid), "namespace": kq.IDLE}))
        work = kq.alloc_groups(conn, "cluster", since, until, {"source_id": str(sid)}, include_idle=False)
        w = work[0] if work else None
        node_src = _source_options(conn, sid).get("node_source")
        node_src_id = None
        if isinstance(node_src, str):
            r = conn.execute("SELECT id FROM sources WHERE name = ?", (node_src,)).fetchone()
            node_src_id = int(r[0]) if r else None
        nodes = [NodeRow(c, n, types.get(n), pid, cost, idle_n, None)
                 for c, n, pid, cost, idle_n in kq.node_costs(conn, since, until, sid)]
        if node_src_id is not None:
            ids = {n.node: cloud_resource_id(n.provider_id) for n in nodes}
            billed = kq.cloud_cost_by_resource(conn, node_src_id, [i for i in ids.values() if i], since, until)
            for n in nodes:
                rid = ids[n.node]
                n.billed = billed.get(rid) if rid else None
        out.append(ClusterRow(sid, name, cluster, node_src if isinstance(node_src, str) else None, g.cost, idle,
                              g.cost - idle, w.cpu_efficiency if w else None, w.ram_efficiency if w else None,
                              nodes))
    return out


@dataclass(slots=True)
class ControllerUse:
    """A controller over a window: requests vs usage per day, its pods and OpenCost's unit prices."""

    source_id: int
    cluster: str
    namespace: str
    kind: str
    name: str
    days: int
    cost: int
    pods: float  # average pods running (pod-days / days)
    cpu_request: float  # average cores requested (all pods)
    cpu_usage: float
    cpu_usage_max: float  # highest daily average usage
    ram_request: float  # bytes
    ram_usage: float
    ram_usage_max: float
    cpu_price: float | None  # $ per core-hour (cpu cost / core-hours)
    ram_price: float | None  # $ per GiB-hour
    daily_cost: dict[str, int] = field(default_factory=dict)
    daily_cpu_usage: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.kind}/{self.name}"


def controllers(conn: sqlite3.Connection, since: date, until: date) -> list[ControllerUse]:
    rows = conn.execute(
        """SELECT source_id, cluster, namespace, controller_kind, controller, day, sum(total_cost),
                  sum(minutes) / 1440.0, sum(cpu_request_avg * minutes / 1440.0), sum(cpu_usage_avg * minutes / 1440.0),
                  sum(ram_request_avg * minutes / 1440.0), sum(ram_usage_avg * minutes / 1440.0),
                  sum(cpu_cost), sum(cpu_core_hours), sum(ram_cost), sum(ram_byte_hours)
           FROM k8s_allocations WHERE idle = 0 AND day >= ? AND day < ? AND controller <> ''
           GROUP BY source_id, cluster, namespace, controller_kind, controller, day
           ORDER BY source_id, cluster, namespace, controller_kind, controller, day""",
        (since.isoformat(), until.isoformat())).fetchall()
    out: dict[tuple[int, str, str, str, str], dict[str, Any]] = {}
    for r in rows:
        k = (int(r[0]), r[1], r[2], r[3], r[4])
        d = out.setdefault(k, {"days": {}, "sums": [0.0] * 9})
        d["days"][r[5]] = (int(r[6] or 0), float(r[9] or 0.0), float(r[11] or 0.0))
        for i, v in enumerate(r[6:16]):
            if i < 9:
                d["sums"][i] += float(v or 0.0)
        d.setdefault("ramhours", 0.0)
        d["ramhours"] += float(r[15] or 0.0)
    res = []
    for (sid, cl, ns, kind, name), d in out.items():
        n = len(d["days"])
        s = d["sums"]  # cost, pod-days, cpu req, cpu use, ram req, ram use, cpu cost, cpu core-h, ram cost
        res.append(ControllerUse(
            sid, cl, ns, kind, name, n, int(s[0]), s[1] / n, s[2] / n, s[3] / n,
            max(v[1] for v in d["days"].values()), s[4] / n, s[5] / n, max(v[2] for v in d["days"].values()),
            (s[6] / 1e9 / s[7]) if s[7] else None,
            (s[8] / 1e9 / (d["ramhours"] / GIB)) if d["ramhours"] else None,
            {day: v[0] for day, v in d["days"].items()}, {day: v[1] for day, v in d["days"].items()}))
    return res


__all__ = ["ClusterRow", "ControllerUse", "NodeRow", "cloud_resource_id", "clusters", "controllers", "window"]


# -- the Kubernetes view's model ---------------------------------------------------------------------

LEVELS = ("cluster", "namespace", "controller", "pod")
LENS_DAYS = (7, 30, 90)


@dataclass(slots=True)
class Lens:
    """One screen of the Kubernetes view: the clusters' figures, the table of the level drilled to,
    and a daily chart of that level (top groups, idle kept apart)."""

    since: date
    until: date
    by: str  # cluster | namespace | controller | pod | node
    path: list[tuple[str, str]]  # the drill-down so far: (dimension, value)
    clusters: list[ClusterRow]
    rows: list[kq.AllocGroup]
    nodes: list[NodeRow]
    days: list[str]
    chart: dict[str, list[int]]
    currency: str = "USD"

    @property
    def total(self) -> int:
        return sum(c.total for c in self.clusters)

    @property
    def idle(self) -> int:
        return sum(c.idle for c in self.clusters)


def next_level(by: str) -> str | None:
    return kq.K8S_DRILL.get(by) if by != "node" else None


def lens(conn: sqlite3.Connection, days: int = 30, path: list[tuple[str, str]] | None = None,
         nodes: bool = False, top: int = 5) -> Lens | None:
    """The view at `path` ([] = every cluster), over the last `days` days with allocation data.
    nodes=True: the nodes of the cluster(s) instead of workloads (OpenCost cost vs the cloud bill)."""
    win = window(conn, days)
    if win is None:
        return None
    since, until = win
    path = list(path or [])
    filters: dict[str, str | None] = dict(path)
    if nodes:  # the nodes of the cluster(s) drilled to, whatever ran on them
        filters = {k: v for k, v in filters.items() if k == "cluster"}
    by = "node" if nodes else (LEVELS[min(len(path), len(LEVELS) - 1)] if not path else
                               (next_level(path[-1][0]) or path[-1][0]))
    all_clusters = clusters(conn, since, until)
    shown = [c for c in all_clusters if "cluster" not in filters or c.cluster == filters["cluster"]]
    idle_filter = {**filters, "namespace": kq.IDLE}
    if by == "cluster":  # each cluster's workloads, then the clusters' idle as one row
        rows = kq.alloc_groups(conn, by, since, until, filters, include_idle=False)
        rows += [dataclasses.replace(g, value=kq.IDLE)
                 for g in kq.alloc_groups(conn, by, since, until, idle_filter)]
        rows.sort(key=lambda g: -g.cost)
    else:
        rows = kq.alloc_groups(conn, by, since, until, filters)
    node_rows = [n for c in shown for n in c.nodes] if nodes else []
    day_list = [(since + timedelta(days=i)).isoformat() for i in range((until - since).days)]
    series = kq.alloc_series(conn, by, since, until, filters, include_idle=False)
    idle_series: dict[str, int] = {}
    if "namespace" not in filters:
        for per_day in kq.alloc_series(conn, "cluster", since, until, idle_filter).values():
            for d, amount in per_day.items():
                idle_series[d] = idle_series.get(d, 0) + amount
    chart: dict[str, list[int]] = {}
    ranked = [r.value for r in rows if r.value != kq.IDLE]
    for value in ranked[:top]:
        days_of = series.get(value, {})
        chart[_short(value)] = [days_of.get(d, 0) for d in day_list]
    rest = ranked[top:]
    if rest:
        chart[f"other ({len(rest)})"] = [sum(series.get(x, {}).get(d, 0) for x in rest) for d in day_list]
    if idle_series:
        chart["idle"] = [idle_series.get(d, 0) for d in day_list]
    return Lens(since, until, by, path, shown, rows, node_rows, day_list, chart)


def _short(v: str | None) -> str:
    if v is None:
        return "(none)"
    if "/" in v:
        return v.split("/", 1)[1]
    return v.split(".", 1)[0] if v.startswith("ip-") else v


__all__ += ["LENS_DAYS", "LEVELS", "Lens", "lens", "next_level"]
