"""Abandoned Kubernetes workloads: namespaces or controllers with near-zero usage and non-zero cost
on each of the last `min_days` (default 7) days.

Near zero: CPU usage at most `max_cpu_cores` (default 0.02 cores) and at most `max_usage_ratio`
(default 0.02) of the request, every day. When every controller of a namespace is abandoned the
namespace is flagged once, else each controller. Daemonsets, jobs and kube-system are left alone.
Saving: the cost over those days, a month. Action: scale to zero (`kubectl scale --replicas=0`,
script only; reversible).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .. import k8s
from .common import RuleContext, Thresholds
from .model import Recommendation

RULE_ID = "k8s_abandoned"
CATEGORY = "cost"
TITLE = "Abandoned Kubernetes workloads"
SCALABLE = ("deployment", "statefulset", "replicaset")


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=1, le=3650, description="days of near-zero usage with a cost")] = 7
    max_cpu_cores: Annotated[float, Meta(ge=0, description="daily CPU usage (cores) at or below which it is "
                                         "near zero")] = 0.02
    max_usage_ratio: Annotated[float, Meta(ge=0, le=1, description="daily CPU usage / request at or below "
                                           "which it is near zero")] = 0.02


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    win = k8s.window(ctx.conn, params.min_days)
    if win is None:
        return []
    span = (win[1] - win[0]).days
    every = k8s.controllers(ctx.conn, *win)
    abandoned, others = [], set()
    for c in every:
        if c.kind in ("daemonset", "job") or c.namespace == "kube-system":
            others.add((c.source_id, c.cluster, c.namespace))
            continue
        ok = (c.days >= params.min_days and span >= params.min_days and all(v > 0 for v in c.daily_cost.values())
              and all(u <= params.max_cpu_cores and (not c.cpu_request or u <= params.max_usage_ratio * c.cpu_request)
                      for u in c.daily_cpu_usage.values()))
        (abandoned.append(c) if ok else others.add((c.source_id, c.cluster, c.namespace)))
    out: list[Recommendation] = []
    by_ns: dict[tuple[int, str, str], list[k8s.ControllerUse]] = {}
    for c in abandoned:
        by_ns.setdefault((c.source_id, c.cluster, c.namespace), []).append(c)
    for (_, cluster, ns), cs in sorted(by_ns.items()):
        whole = (_, cluster, ns) not in others
        groups = [cs] if whole else [[c] for c in cs]
        for g in groups:
            for c in g:  # one advice per workload: k8s_overrequested leaves these alone
                ctx.flagged[("Kubernetes", c.key)] = RULE_ID
            cost = sum(c.cost for c in g)
            days = max(c.days for c in g)
            targets = [{"kind": c.kind, "name": c.name} for c in g if c.kind in SCALABLE]
            if whole:
                rid, name, rtype = f"{cluster}/{ns}", ns, "kubernetes_namespace"
                what = f"namespace {ns}: {len(g)} controller(s)"
            else:
                c = g[0]
                rid, name, rtype = c.key, f"{ns}/{c.name}", "kubernetes_workload"
                what = f"{c.kind}/{c.name} in {ns}"
            detail = {
                "summary": f"{what} used ~0 CPU for {days} days and cost {cost / 1e9:,.2f}",
                "cluster": cluster, "namespace": ns, "controllers": targets, "days": days,
                "cpu_usage_max_cores": round(max(max(c.daily_cpu_usage.values()) for c in g), 4),
                "action": "scale_to_zero",
            }
            out.append(Recommendation(
                rule=RULE_ID, provider_name="Kubernetes", resource_id=rid, resource_name=name, resource_type=rtype,
                billing_account_id=cluster, sub_account_id=cluster, category=CATEGORY, detail=detail,
                monthly_saving=int(cost / max(days, 1) * 30.4375), saving_basis=f"cost of the last {days} days, a month"))
    return out
