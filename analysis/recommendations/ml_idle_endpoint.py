"""Idle SageMaker endpoints: endpoints in service that served no invocations for at least
`min_days` (default 7) days: the days since the last day with Invocations > 0 (the CloudWatch
`AWS/SageMaker` Invocations metric, daily sums, synced as metric `invocations`), or since the
endpoint was created when it never served one in the synced window (`window_days`, default 30;
CloudWatch publishes no datapoint for a day without invocations).

Saving: the endpoint's observed cost, else its instances' on-demand price x count x 730 h.
Action: delete the endpoint, keeping its endpoint configuration and model, so it can be
recreated with one CreateEndpoint call.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from msgspec import Meta

from cache import timeutil
from cache.money import fmt

from .common import PriceRow, RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "ml_idle_endpoint"
CATEGORY = "cost"
TITLE = "Idle SageMaker endpoints"
RESOURCE_TYPE = "sagemaker_endpoint"


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=1, le=3650, description="days without invocations")] = 7
    window_days: Annotated[int, Meta(ge=1, le=3650, description="invocation history looked at")] = 30


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    since = timeutil.iso(ctx.now - timedelta(days=params.window_days))
    for ep in ctx.resources((RESOURCE_TYPE,)):
        if (ep.state or "").lower() != "inservice":
            continue
        row = ctx.conn.execute(
            "SELECT max(ts), coalesce(sum(average), 0) FROM metrics WHERE provider_name=? AND resource_id=? "
            "AND metric='invocations' AND ts >= ? AND average > 0", (ep.provider_name, ep.resource_id, since)).fetchone()
        last_used = timeutil.parse_instant_opt(row[0]) if row and row[0] else None
        born = ep.created_at or ep.first_seen
        quiet_from = max(t for t in (last_used, born) if t is not None)
        idle_days = ctx.days_since(quiet_from) or 0.0
        if last_used is not None:
            idle_days = max(0.0, idle_days - 1)  # a daily point covers its whole day
        if idle_days < params.min_days:
            continue
        count = int(ep.properties.get("instance_count") or 1)
        price = ctx.price(ep.provider_name, ep.region_id, ep.instance_type)
        cost_ids = [ep.resource_id]
        if price is not None and count > 1:
            price = PriceRow(price.provider_name, price.region_id, price.sku, price.price_nanos * count,
                             price.currency, price.vcpu, price.memory_gib, price.family, price.generation,
                             price.source)
        saving, basis, cur, ev = ctx.saving(cost_ids, price=price,
                                            unknown=f"no cost rows and no price for {ep.instance_type}")
        ctx.flagged[(ep.provider_name, ep.resource_id)] = RULE_ID
        detail = {
            "summary": (f"no invocations for {idle_days:.0f} days "
                        + (f"(last on {last_used.date().isoformat()})" if last_used else "(none in the synced window)")
                        + f"; {ep.instance_type} x{count} in service"),
            "idle_days": round(idle_days, 1),
            "last_invocation_day": last_used.date().isoformat() if last_used else None,
            "instance_type": ep.instance_type,
            "instance_count": count,
            "endpoint_config": ep.properties.get("endpoint_config_name"),
            "price_now": None if price is None else fmt(price.price_nanos, price.currency, places=4) + "/h",
            "action": "delete_endpoint",
            "keeps": "endpoint configuration and model",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, ep, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
