"""Over-requested Kubernetes workloads: controllers whose CPU or memory request stayed far above
their usage over the last `window_days` (default 14) days of OpenCost allocation.

A request reserves node capacity whether it is used or not (OpenCost charges max(request, usage)).
Flagged when the average usage is below `max_usage_ratio` (default 0.3) of the average request,
for CPU or memory, on at least `min_days` (default 7) days of data, and the saving is at least
`min_monthly_saving` (default $5). Recommended request per pod: the highest daily average usage x
`headroom` (default 1.3), rounded up to 50 millicores and 64 MiB. Saving: the request freed x
OpenCost's own unit prices (the controller's CPU cost per core-hour and RAM cost per GiB-hour over
the window) x 730 h x the average pod count. Action: `kubectl set resources` (script only).
Daemonsets and the kube-system namespace are left alone.
"""

from __future__ import annotations

import math
from typing import Annotated

from msgspec import Meta

from .. import k8s
from .common import RuleContext, WindowThresholds
from .model import Recommendation

RULE_ID = "k8s_overrequested"
CATEGORY = "cost"
TITLE = "Over-requested Kubernetes workloads"
GIB = 2**30
MIB = 2**20


class Params(WindowThresholds):
    window_days: Annotated[int, Meta(ge=1, le=3650, description="allocation window in days")] = 14
    max_usage_ratio: Annotated[float, Meta(ge=0, le=1, description="usage / request below which a request "
                                           "is too high")] = 0.3
    headroom: Annotated[float, Meta(ge=1, le=10, description="recommended request = peak daily usage x this")] = 1.3
    min_monthly_saving: Annotated[float, Meta(ge=0, description="smallest monthly saving flagged, in the "
                                              "currency")] = 5.0


def _round_up(x: float, step: float) -> float:
    return max(step, math.ceil(x / step - 1e-9) * step)


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    win = k8s.window(ctx.conn, params.window_days)
    if win is None:
        return []
    out = []
    for c in k8s.controllers(ctx.conn, *win):
        if ("Kubernetes", c.key) in ctx.flagged:
            continue
        if c.days < params.min_days or c.kind in ("daemonset", "job", "__idle__") or c.namespace == "kube-system":
            continue
        pods = max(c.pods, 1e-9)
        cpu_ratio = c.cpu_usage / c.cpu_request if c.cpu_request else None
        ram_ratio = c.ram_usage / c.ram_request if c.ram_request else None
        cpu_rec = _round_up(c.cpu_usage_max * params.headroom / pods, 0.05)
        ram_rec = _round_up(c.ram_usage_max * params.headroom / pods / MIB, 64) * MIB
        cpu_now, ram_now = c.cpu_request / pods, c.ram_request / pods
        cpu_free = (cpu_now - cpu_rec) if cpu_ratio is not None and cpu_ratio < params.max_usage_ratio else 0.0
        ram_free = (ram_now - ram_rec) if ram_ratio is not None and ram_ratio < params.max_usage_ratio else 0.0
        cpu_free, ram_free = max(0.0, cpu_free), max(0.0, ram_free)
        if not cpu_free and not ram_free:
            continue
        hourly = cpu_free * (c.cpu_price or 0.0) + ram_free / GIB * (c.ram_price or 0.0)
        saving = hourly * k8s.HOURS_PER_MONTH * c.pods
        if saving < params.min_monthly_saving:
            continue
        parts = []
        if cpu_free:
            parts.append(f"CPU {cpu_now:.2f} -> {cpu_rec:.2f} cores/pod (uses {100 * (cpu_ratio or 0):.0f} %)")
        if ram_free:
            parts.append(f"memory {ram_now / GIB:.2f} -> {ram_rec / GIB:.2f} GiB/pod "
                         f"(uses {100 * (ram_ratio or 0):.0f} %)")
        detail = {
            "summary": f"{c.kind}/{c.name} in {c.namespace}: " + ", ".join(parts),
            "cluster": c.cluster, "namespace": c.namespace, "controller_kind": c.kind, "controller": c.name,
            "pods": round(c.pods, 2), "days": c.days,
            "cpu_request_per_pod": round(cpu_now, 3), "cpu_recommended_per_pod": round(cpu_rec, 3) if cpu_free else None,
            "cpu_usage_ratio": round(cpu_ratio, 4) if cpu_ratio is not None else None,
            "memory_request_per_pod_bytes": int(ram_now),
            "memory_recommended_per_pod_bytes": int(ram_rec) if ram_free else None,
            "memory_usage_ratio": round(ram_ratio, 4) if ram_ratio is not None else None,
            "cpu_price_per_core_hour": round(c.cpu_price, 6) if c.cpu_price else None,
            "ram_price_per_gib_hour": round(c.ram_price, 6) if c.ram_price else None,
            "window": [win[0].isoformat(), win[1].isoformat()],
            "action": "patch_requests",
        }
        out.append(Recommendation(
            rule=RULE_ID, provider_name="Kubernetes", resource_id=c.key, resource_name=f"{c.namespace}/{c.name}",
            resource_type="kubernetes_workload", billing_account_id=c.cluster, sub_account_id=c.cluster,
            category=CATEGORY, detail=detail, monthly_saving=int(round(saving * 1e9)),
            saving_basis="request freed x OpenCost unit prices x 730 h x pods"))
    return out
