"""Rightsizing: running instances whose CPU p99 stayed at or under `max_cpu_p99` (default 40 %)
over the last `window_days` (default 30) days, with a concrete smaller size in the same series.

The target is the cheapest size of the same series (m5 -> m5.*, n2-standard -> n2-standard-*,
Ds_v5 -> Standard_D*s_v5; for a previous-generation type also the current-generation sizes of its
class, so m4.2xlarge may become m5.xlarge) priced in the same region whose vCPUs still keep the observed p99 under
`target_cpu_p99` (default 70 %): vcpu_target >= vcpu_now x p99 / target. "p99" is the highest
daily p99 of the window (the daily maximum where p99 is missing). Memory is not measured by default
(CloudWatch needs an agent for it): check it before resizing. Needs `min_days` (default 14) days
of CPU data and the current type's price; instances with less, spot instances, idle instances (the
idle rule covers them) and types already at the smallest size are skipped and say why. Saving: the
observed cost x (1 - price after / price now), else the price difference x 730 h. Action: resize.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .common import (
    Res,
    RuleContext,
    WindowThresholds,
    measured_instances,
    new_rec,
    resize_evidence,
    series,
    size_class,
)
from .model import Recommendation

RULE_ID = "rightsizing"
CATEGORY = "cost"
TITLE = "Rightsizing"


class Params(WindowThresholds):
    min_days: Annotated[int, Meta(ge=1, le=3650, description="days of CPU data needed in the window")] = 14
    max_cpu_p99: Annotated[float, Meta(ge=0, le=100, description="CPU p99 % at or under which an instance is "
                                       "oversized")] = 40.0
    target_cpu_p99: Annotated[float, Meta(ge=1, le=100, description="CPU p99 % the smaller size may reach")] = 70.0


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    def keep(inst: Res) -> bool:  # a type to resize, and not already flagged idle
        return bool(inst.instance_type) and (inst.provider_name, inst.resource_id) not in ctx.flagged

    for inst, u in measured_instances(ctx, RULE_ID, params, "cpu_p99", keep):
        p99, itype = u.cpu_p99, inst.instance_type
        assert p99 is not None and itype is not None  # measured_instances and keep guarantee both
        if p99 > params.max_cpu_p99:
            continue
        now_p = ctx.price(inst.provider_name, inst.region_id, inst.instance_type)
        if now_p is None or not now_p.vcpu:
            ctx.skip(RULE_ID, inst, f"no price (with vCPUs) for {inst.instance_type} in {inst.region_id}")
            continue
        need = now_p.vcpu * p99 / params.target_cpu_p99
        fam = series(inst.provider_name, itype)
        cls = size_class(inst.provider_name, itype)
        old = now_p.generation == "previous"
        options = [p for p in ctx.prices_in(inst.provider_name, inst.region_id)
                   if (series(inst.provider_name, p.sku) == fam
                       or (old and p.generation == "current" and size_class(inst.provider_name, p.sku) == cls))
                   and p.vcpu and p.vcpu >= need
                   and p.vcpu < now_p.vcpu and p.price_nanos < now_p.price_nanos and p.currency == now_p.currency]
        if not options:
            ctx.skip(RULE_ID, inst, f"CPU p99 {u.cpu_p99:.1f}% but no smaller {fam} size priced in "
                     f"{inst.region_id} fits (needs {need:.1f} vCPU)")
            continue
        target = min(options, key=lambda p: (p.price_nanos, p.generation != "current", p.sku))
        saving, basis, cur, ev = ctx.saving([inst.resource_id], price=now_p, price_after=target)
        ctx.flagged[(inst.provider_name, inst.resource_id)] = RULE_ID
        detail = {
            "summary": f"CPU p99 {u.cpu_p99:.1f}% over {u.days} days: {inst.instance_type} -> {target.sku}",
            "cpu_avg_pct": None if u.cpu_avg is None else round(u.cpu_avg, 2),
            "cpu_p99_pct": round(p99, 2),
            "metric_days": u.days,
            **resize_evidence(inst.instance_type, now_p, target),
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, inst, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
