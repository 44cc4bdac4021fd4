"""Previous generation: running instances of a previous-generation type (per the prices table)
with a current-generation equivalent that is at least `min_saving_pct` (default 1 %) cheaper.

The equivalent has the same vCPUs, at least the memory, the same class (AWS m/c/r/t..., Azure
D/E/F..., Google standard/highmem...) and is priced in the same region; the cheapest one is
proposed (m4.2xlarge -> m5.2xlarge, c4.xlarge -> c5.xlarge, n1-standard-4 -> e2-standard-4).
Instances already flagged idle or for rightsizing, spot instances and types without a price are
skipped. Saving: the observed cost x (1 - price after / price now), else the price difference x
730 h. Action: change the instance type.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .common import SPOT_REASON, RuleContext, Thresholds, new_rec, resize_evidence, size_class
from .model import Recommendation

RULE_ID = "previous_generation"
CATEGORY = "cost"
TITLE = "Previous-generation types"


class Params(Thresholds):
    min_saving_pct: Annotated[float, Meta(ge=0, le=100, description="how much cheaper (%) the current equivalent "
                                          "must be")] = 1.0


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for inst in ctx.resources(("instance",)):
        if (inst.state or "").lower() != "running" or not inst.instance_type:
            continue
        now_p = ctx.price(inst.provider_name, inst.region_id, inst.instance_type)
        if now_p is None or now_p.generation != "previous":
            continue
        if inst.spot:
            ctx.skip(RULE_ID, inst, SPOT_REASON)
            continue
        other = ctx.flagged.get((inst.provider_name, inst.resource_id))
        if other:
            ctx.skip(RULE_ID, inst, f"previous-generation {inst.instance_type}, but the {other} rule covers it")
            continue
        cls = size_class(inst.provider_name, inst.instance_type)
        limit = now_p.price_nanos * (100 - params.min_saving_pct) / 100
        options = [p for p in ctx.prices_in(inst.provider_name, inst.region_id)
                   if p.generation == "current" and size_class(inst.provider_name, p.sku) == cls
                   and p.vcpu == now_p.vcpu and (now_p.memory_gib is None or (p.memory_gib or 0) >= now_p.memory_gib)
                   and p.price_nanos <= limit and p.currency == now_p.currency]
        if not options:
            continue
        target = min(options, key=lambda p: (p.price_nanos, p.generation != "current", p.sku))
        saving, basis, cur, ev = ctx.saving([inst.resource_id], price=now_p, price_after=target)
        ctx.flagged[(inst.provider_name, inst.resource_id)] = RULE_ID
        detail = {
            "summary": f"{inst.instance_type} is previous generation: {target.sku} has the same vCPUs for less",
            "vcpu": now_p.vcpu,
            **resize_evidence(inst.instance_type, now_p, target),
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, inst, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
