"""Idle instances: running instances whose average CPU stayed under `max_cpu_avg` (default 5 %)
and whose network traffic stayed under `max_network_bytes` (default 1,000,000: NetworkIn +
NetworkOut, bytes per CloudWatch sample, daily average) over the last `window_days` (default 30)
days.

An instance that does nothing still bills every hour. At least `min_days` (default 7) days of CPU
data in the window are required: an instance with less history is skipped and says so, and so are
spot instances. Saving: the instance's observed cost, else its on-demand price x 730 h, else
unknown. Action: stop it (or terminate it once it is known to be unneeded).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .common import RuleContext, WindowThresholds, measured_instances, new_rec
from .model import Recommendation

RULE_ID = "idle_instance"
CATEGORY = "cost"
TITLE = "Idle instances"


class Params(WindowThresholds):
    min_days: Annotated[int, Meta(ge=1, le=3650, description="days of CPU data needed in the window")] = 7
    max_cpu_avg: Annotated[float, Meta(ge=0, le=100, description="average CPU % below which an instance is idle")] \
        = 5.0
    max_network_bytes: Annotated[int, Meta(ge=0, description="average network in+out (bytes per sample) "
                                           "below which it is idle")] = 1_000_000


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for inst, u in measured_instances(ctx, RULE_ID, params, "cpu_avg"):
        cpu_avg = u.cpu_avg
        assert cpu_avg is not None  # measured_instances keeps only instances with this metric
        if cpu_avg >= params.max_cpu_avg:
            continue
        if u.network_avg is not None and u.network_avg >= params.max_network_bytes:
            continue
        price = ctx.price(inst.provider_name, inst.region_id, inst.instance_type)
        saving, basis, cur, ev = ctx.saving([inst.resource_id], price=price,
                                            unknown=f"no cost rows and no price for {inst.instance_type}")
        ctx.flagged[(inst.provider_name, inst.resource_id)] = RULE_ID
        net = "no network data" if u.network_avg is None else f"network {u.network_avg:,.0f} B/sample"
        detail = {
            "summary": f"CPU avg {u.cpu_avg:.1f}% (p99 {u.cpu_p99 or 0:.1f}%), {net}, over {u.days} days",
            "cpu_avg_pct": round(cpu_avg, 2),
            "cpu_p99_pct": None if u.cpu_p99 is None else round(u.cpu_p99, 2),
            "network_avg_bytes": None if u.network_avg is None else round(u.network_avg),
            "metric_days": u.days,
            "window_days": params.window_days,
            "instance_type": inst.instance_type,
            "price_now": None if price is None else str(price.price_nanos),
            "action": "stop_instance",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, inst, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
