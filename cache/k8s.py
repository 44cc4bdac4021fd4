"""Read queries over `k8s_allocations` (Kubernetes cost allocation, a lens on the cloud bill).

Allocation rows never reach `costs`: a cluster's nodes are already in its cloud bill, so every
total of the cloud views stays the bill. These queries answer the Kubernetes group-bys and the
lens: cluster, namespace, controller ("<namespace>/<kind>:<name>"), pod ("<namespace>/<pod>"),
node, or label:KEY (the pod and namespace labels, a tag set). Idle rows group under "__idle__".
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from .queries import Group, QueryError

IDLE = "__idle__"
K8S_DIMS = ("cluster", "namespace", "controller", "pod", "node")
K8S_TITLES = {"cluster": "Cluster", "namespace": "Namespace", "controller": "Controller", "pod": "Pod",
              "node": "Node"}
# drill-down: cluster -> namespace -> controller -> pod
K8S_DRILL = {"cluster": "namespace", "namespace": "controller", "controller": "pod", "node": "pod"}

_EXPR = {
    "cluster": "a.cluster",
    "namespace": "a.namespace",
    "controller": (f"CASE WHEN a.idle = 1 THEN '{IDLE}' ELSE a.namespace || '/' || "
                   "coalesce(nullif(a.controller_kind, ''), '-') || ':' || coalesce(nullif(a.controller, ''), "
                   "'__unallocated__') END"),
    "pod": f"CASE WHEN a.idle = 1 THEN '{IDLE}' ELSE a.namespace || '/' || a.pod END",
    "node": "a.node",
}
COST_COLUMNS = ("cpu_cost", "gpu_cost", "ram_cost", "pv_cost", "network_cost", "lb_cost", "shared_cost",
                "external_cost", "total_cost")


def is_k8s_dim(by: str) -> bool:
    return by in K8S_DIMS or (by.startswith("label:") and len(by) > 6)


def _expr(by: str, params: list[Any]) -> str:
    if by in _EXPR:
        return _EXPR[by]
    if by.startswith("label:") and by[6:]:
        params.append(by[6:])
        return "(SELECT ti.value FROM tag_index ti WHERE ti.tagset_id = a.tagset AND ti.key = ?)"
    raise QueryError(f"unknown Kubernetes dimension {by!r}; expected one of {', '.join(K8S_DIMS)} or label:KEY")


def _where(since: date, until: date, filters: dict[str, str | None] | None,
           params: list[Any], include_idle: bool = True) -> str:
    parts = ["a.day >= ?", "a.day < ?"]
    params += [since.isoformat(), until.isoformat()]
    if not include_idle:
        parts.append("a.idle = 0")
    for k, v in (filters or {}).items():
        if k == "source_id":
            parts.append("a.source_id = ?")
            params.append(v)
            continue
        e = _expr(k, params)
        if v is None:
            parts.append(f"{e} IS NULL")
        else:
            parts.append(f"{e} = ?")
            params.append(v)
    return " AND ".join(parts)


def alloc_range(conn: sqlite3.Connection) -> tuple[date, date] | None:
    """(first day, last day) with allocation rows, or None."""
    row = conn.execute("SELECT min(day), max(day) FROM k8s_allocations").fetchone()
    if not row or row[0] is None:
        return None
    return date.fromisoformat(row[0]), date.fromisoformat(row[1])


def alloc_spend_by(conn: sqlite3.Connection, by: str, since: date, until: date,
                   filters: dict[str, str | None] | None = None, include_idle: bool = True) -> list[Group]:
    """Total allocated cost per group over [since, until), largest first (idle rows as "__idle__")."""
    params: list[Any] = []
    e = _expr(by, params)
    where = _where(since, until, filters, params, include_idle)
    rows = conn.execute(
        f"SELECT {e} AS v, a.currency, sum(a.total_cost) AS c, min(a.cluster) FROM k8s_allocations a "
        f"WHERE {where} GROUP BY v, a.currency ORDER BY c DESC, v", params).fetchall()
    return [Group(value=r[0], label=None, currency=r[1], cost=int(r[2]), extra=r[3]) for r in rows]


def alloc_series(conn: sqlite3.Connection, by: str, since: date, until: date,
                 filters: dict[str, str | None] | None = None,
                 include_idle: bool = True) -> dict[str | None, dict[str, int]]:
    """{group value: {day: cost}} over [since, until)."""
    params: list[Any] = []
    e = _expr(by, params)
    where = _where(since, until, filters, params, include_idle)
    out: dict[str | None, dict[str, int]] = {}
    for v, d, c in conn.execute(f"SELECT {e} AS v, a.day, sum(a.total_cost) FROM k8s_allocations a "
                                f"WHERE {where} GROUP BY v, a.day", params):
        out.setdefault(v, {})[d] = int(c)
    return out


@dataclass(slots=True)
class AllocGroup:
    """One group of the lens: its cost components, requests vs usage and efficiency."""

    value: str | None
    cluster: str
    currency: str
    cost: int
    cpu_cost: int
    gpu_cost: int
    ram_cost: int
    pv_cost: int
    network_cost: int
    lb_cost: int
    shared_cost: int
    idle: bool
    cpu_request: float | None  # average cores over the minutes the group ran
    cpu_usage: float | None
    ram_request: float | None  # bytes
    ram_usage: float | None
    days: int
    minutes: float

    @property
    def cpu_efficiency(self) -> float | None:
        if not self.cpu_request:
            return None
        return (self.cpu_usage or 0.0) / self.cpu_request

    @property
    def ram_efficiency(self) -> float | None:
        if not self.ram_request:
            return None
        return (self.ram_usage or 0.0) / self.ram_request

    @property
    def efficiency(self) -> float | None:
        """OpenCost's totalEfficiency: CPU and RAM efficiency weighted by their cost."""
        ce, re_ = self.cpu_efficiency, self.ram_efficiency
        w = self.cpu_cost + self.ram_cost
        if ce is None and re_ is None or w <= 0:
            return None
        return ((ce or 0.0) * self.cpu_cost + (re_ or 0.0) * self.ram_cost) / w


def alloc_groups(conn: sqlite3.Connection, by: str, since: date, until: date,
                 filters: dict[str, str | None] | None = None, include_idle: bool = True) -> list[AllocGroup]:
    """The lens table: per group, cost components, requests and usage (minute-weighted daily averages,
    summed over the group's pods: a request of 2 cores on 3 pods all day is 6)."""
    params: list[Any] = []
    e = _expr(by, params)
    where = _where(since, until, filters, params, include_idle)
    sums = ", ".join(f"sum(a.{c})" for c in COST_COLUMNS)
    rows = conn.execute(
        f"""SELECT v, min(cluster), currency, {', '.join(f'sum({c})' for c in COST_COLUMNS)}, max(idle),
                   sum(cr) / nullif(count(DISTINCT day), 0), sum(cu) / nullif(count(DISTINCT day), 0),
                   sum(rr) / nullif(count(DISTINCT day), 0), sum(ru) / nullif(count(DISTINCT day), 0),
                   count(DISTINCT day), sum(minutes)
            FROM (SELECT {e} AS v, a.cluster AS cluster, a.currency AS currency, a.day AS day, a.idle AS idle,
                         {sums.replace('sum(a.', 'a.').replace(')', '')},
                         a.cpu_request_avg * a.minutes / 1440.0 AS cr, a.cpu_usage_avg * a.minutes / 1440.0 AS cu,
                         a.ram_request_avg * a.minutes / 1440.0 AS rr, a.ram_usage_avg * a.minutes / 1440.0 AS ru,
                         a.minutes AS minutes
                  FROM k8s_allocations a WHERE {where})
            GROUP BY v, currency ORDER BY sum(total_cost) DESC, v""", params).fetchall()
    out = []
    for r in rows:
        c = dict(zip(COST_COLUMNS, (int(x or 0) for x in r[3:12]), strict=True))
        out.append(AllocGroup(
            value=r[0], cluster=r[1], currency=r[2], cost=c["total_cost"], cpu_cost=c["cpu_cost"],
            gpu_cost=c["gpu_cost"], ram_cost=c["ram_cost"], pv_cost=c["pv_cost"], network_cost=c["network_cost"],
            lb_cost=c["lb_cost"], shared_cost=c["shared_cost"], idle=bool(r[12]), cpu_request=r[13],
            cpu_usage=r[14], ram_request=r[15], ram_usage=r[16], days=int(r[17] or 0), minutes=float(r[18] or 0)))
    return out


def clusters(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """(source id, source name, cluster) of every cluster with allocation rows."""
    return [(int(r[0]), r[1], r[2]) for r in conn.execute(
        "SELECT DISTINCT a.source_id, s.name, a.cluster FROM k8s_allocations a JOIN sources s ON s.id = a.source_id "
        "ORDER BY a.cluster")]


def node_costs(conn: sqlite3.Connection, since: date, until: date,
               source_id: int | None = None) -> list[tuple[str, str, str | None, int, int]]:
    """Per (cluster, node): provider id, OpenCost's node cost (allocated + idle) and the idle part."""
    params: list[Any] = [since.isoformat(), until.isoformat()]
    extra = ""
    if source_id is not None:
        extra = " AND source_id = ?"
        params.append(source_id)
    return [(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in conn.execute(
        "SELECT cluster, node, max(provider_id), sum(cpu_cost + gpu_cost + ram_cost), "
        "sum(CASE WHEN idle = 1 THEN cpu_cost + gpu_cost + ram_cost ELSE 0 END) "
        f"FROM k8s_allocations WHERE day >= ? AND day < ? AND node <> ''{extra} GROUP BY cluster, node "
        "ORDER BY cluster, node", params)]


def cloud_cost_by_resource(conn: sqlite3.Connection, source_id: int, resource_ids: list[str], since: date,
                           until: date, metric: str = "effective") -> dict[str, int]:
    """Cost per resource id in one source's `costs` over [since, until): `effective` by default (hours a
    Savings Plan covers are billed 0 on the resource; their effective cost is what the node cost)."""
    col = {"billed": "billed", "effective": "effective", "list": "list"}[metric]
    out: dict[str, int] = {}
    for k in range(0, len(resource_ids), 400):
        part = resource_ids[k:k + 400]
        for rid, c in conn.execute(
                f"SELECT d.value, sum(c.{col}) FROM costs c JOIN dims d ON d.id = c.resource "
                f"WHERE c.source_id = ? AND c.day >= ? AND c.day < ? AND d.value IN ({','.join('?' * len(part))}) "
                "GROUP BY d.value", (source_id, since.isoformat(), until.isoformat(), *part)):
            out[rid] = int(c or 0)
    return out


__all__ = ["IDLE", "K8S_DIMS", "K8S_DRILL", "K8S_TITLES", "AllocGroup", "alloc_groups", "alloc_range",
           "alloc_series", "alloc_spend_by", "cloud_cost_by_resource", "clusters", "is_k8s_dim", "node_costs"]
