"""Idle SageMaker notebook instances (and Studio apps): in service with near-zero CPU for at least
`min_days` (default 3) days: every daily CPU average of the last `min_days` days under
`max_cpu_avg` (default 2 %), at least `min_days` days of CPU data needed (synced as metric `cpu`).
Without CPU data the instance is skipped and says so.

Saving: the observed cost, else the instance type's on-demand price x 730 h. Action: stop the
notebook instance (its storage volume is kept; starting it again takes minutes), or delete the
Studio app.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from msgspec import Meta

from cache import timeutil
from cache.money import fmt

from .common import RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "ml_idle_notebook"
CATEGORY = "cost"
TITLE = "Idle SageMaker notebooks"
RESOURCE_TYPES = ("sagemaker_notebook", "sagemaker_studio_app")


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=1, le=3650, description="days of near-zero CPU")] = 3
    max_cpu_avg: Annotated[float, Meta(ge=0, le=100, description="daily average CPU % below which a day "
                                       "is idle")] = 2.0


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    since = timeutil.iso(ctx.now - timedelta(days=params.min_days + 1))
    for nb in ctx.resources(RESOURCE_TYPES):
        if (nb.state or "").lower() != "inservice":
            continue
        rows = ctx.conn.execute(
            "SELECT substr(ts, 1, 10), avg(average), max(coalesce(maximum, average)) FROM metrics "
            "WHERE provider_name=? AND resource_id=? AND metric='cpu' AND ts >= ? AND ts <= ? "
            "AND average IS NOT NULL GROUP BY 1 ORDER BY 1 DESC",
            (nb.provider_name, nb.resource_id, since, timeutil.iso(ctx.now))).fetchall()
        rows = rows[:params.min_days]
        if len(rows) < params.min_days:
            ctx.skip(RULE_ID, nb, f"too little CPU history: {len(rows)} day(s) of the last {params.min_days + 1}, "
                     f"needs {params.min_days}")
            continue
        if any(avg >= params.max_cpu_avg for _, avg, _ in rows):
            continue
        price = ctx.price(nb.provider_name, nb.region_id, nb.instance_type)
        saving, basis, cur, ev = ctx.saving([nb.resource_id], price=price,
                                            unknown=f"no cost rows and no price for {nb.instance_type}")
        ctx.flagged[(nb.provider_name, nb.resource_id)] = RULE_ID
        avg = sum(a for _, a, _ in rows) / len(rows)
        peak = max(m for _, _, m in rows)
        detail = {
            "summary": (f"CPU avg {avg:.1f}% (peak {peak:.1f}%) on each of the last {len(rows)} days; "
                        f"{nb.instance_type} in service"),
            "cpu_avg_pct": round(avg, 2),
            "cpu_peak_pct": round(peak, 2),
            "idle_days": len(rows),
            "instance_type": nb.instance_type,
            "price_now": None if price is None else fmt(price.price_nanos, price.currency, places=4) + "/h",
            "action": "stop_notebook" if nb.resource_type == "sagemaker_notebook" else "delete_studio_app",
            **ev,
        }
        if nb.resource_type == "sagemaker_studio_app":  # what DeleteApp needs
            detail.update({k: nb.properties.get(k) for k in ("domain_id", "user_profile", "space", "app_type",
                                                              "app_name", "last_user_activity")})
        out.append(new_rec(RULE_ID, CATEGORY, nb, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
