"""Idle Kubernetes capacity: clusters whose idle share (node cost no pod requested, OpenCost's
"__idle__") stayed above `max_idle_share` (default 0.3) over the last `window_days` (default 14)
days, on every one of at least `min_days` (default 7) days.

Shown: the idle cost a month, and what it amounts to in nodes of each instance type (the idle cost
of that type's nodes / the cost of one such node). Saving: the idle above the threshold, a month
(scale the node group down, or let the cluster autoscaler remove nodes). No script: node groups
are sized in the cloud, not with kubectl.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .. import k8s
from .common import RuleContext, WindowThresholds
from .model import Recommendation

RULE_ID = "k8s_idle_capacity"
CATEGORY = "cost"
TITLE = "Idle Kubernetes capacity"


class Params(WindowThresholds):
    window_days: Annotated[int, Meta(ge=1, le=3650, description="allocation window in days")] = 14
    max_idle_share: Annotated[float, Meta(ge=0, le=1, description="idle share of the cluster's cost above "
                                          "which it is flagged")] = 0.3


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    win = k8s.window(ctx.conn, params.window_days)
    if win is None:
        return []
    out = []
    for cl in k8s.clusters(ctx.conn, *win):
        daily = ctx.conn.execute(
            "SELECT day, sum(total_cost), sum(CASE WHEN idle = 1 THEN total_cost ELSE 0 END) FROM k8s_allocations "
            "WHERE source_id = ? AND cluster = ? AND day >= ? AND day < ? GROUP BY day",
            (cl.source_id, cl.cluster, win[0].isoformat(), win[1].isoformat())).fetchall()
        days = len(daily)
        if days < params.min_days or not cl.total:
            continue
        if any((i / t if t else 0.0) <= params.max_idle_share for _, t, i in daily):
            continue
        per_month = 30.4375 / days
        by_type: dict[str, list[int]] = {}
        for n in cl.nodes:
            t = by_type.setdefault(n.instance_type or "unknown", [0, 0, 0])
            t[0] += n.idle
            t[1] += n.opencost
            t[2] += 1
        nodes = {t: round(v[0] / (v[1] / v[2]), 1) for t, v in by_type.items() if v[1] and v[2]}
        idle_month = cl.idle * per_month
        saving = max(0.0, cl.idle - params.max_idle_share * cl.total) * per_month
        nodes_text = ", ".join(f"{v:g} x {t}" for t, v in sorted(nodes.items(), key=lambda x: -x[1]) if v >= 0.1)
        detail = {
            "summary": f"{100 * cl.idle_share:.0f} % idle over {days} days: {idle_month / 1e9:,.0f}/month, "
                       f"about {nodes_text or 'less than one node'}",
            "cluster": cl.cluster, "idle_share": round(cl.idle_share, 4),
            "idle_cost_monthly_nanos": int(idle_month), "idle_nodes_by_type": nodes,
            "nodes": len(cl.nodes), "days": days, "window": [win[0].isoformat(), win[1].isoformat()],
            "action": "scale_node_group",
        }
        out.append(Recommendation(
            rule=RULE_ID, provider_name="Kubernetes", resource_id=cl.cluster, resource_name=cl.cluster,
            resource_type="kubernetes_cluster", billing_account_id=cl.cluster, sub_account_id=cl.cluster,
            category=CATEGORY, detail=detail, monthly_saving=int(saving),
            saving_basis=f"idle above {100 * params.max_idle_share:.0f} % of the cluster's cost, a month"))
    return out
