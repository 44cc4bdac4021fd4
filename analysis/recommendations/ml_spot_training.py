"""Training on on-demand capacity that could use managed spot: per task, the finished runs of the
last `window_days` (default 30) that ran on on-demand instances of a cloud (SageMaker training
jobs without EnableManagedSpotTraining, and tracked or logged runs on a cloud instance type not
marked spot), and are short enough to be re-run cheaply (at most `max_hours`, default 4) or
checkpointed (a SageMaker CheckpointConfig, or a run property `checkpoint`). At least `min_runs`
(default 2) such runs are needed.

Saving, an ESTIMATE: their cost in the window x the spot discount (the region's spot price vs
on-demand in the prices table when both are there, else `spot_discount_pct`, default 60 %,
SageMaker quoting "up to 90 %"), scaled to a 730-hour month. Interruptions lengthen runs: the
estimate is an upper bound and says so.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from cache.money import fmt

from .common import RuleContext, Thresholds, new_rec
from .ml_common import per_month, runs_by_task, task_res
from .model import Recommendation

RULE_ID = "ml_spot_training"
CATEGORY = "cost"
TITLE = "ML training that could run on spot"


class Params(Thresholds):
    window_days: Annotated[int, Meta(ge=1, le=3650, description="runs started in the last N days")] = 30
    max_hours: Annotated[float, Meta(gt=0, le=10000, description="runs up to this long are cheap to re-run "
                                     "after an interruption")] = 4.0
    min_runs: Annotated[int, Meta(ge=1, le=10000, description="eligible runs of the task needed")] = 2
    spot_discount_pct: Annotated[float, Meta(gt=0, lt=100, description="spot discount assumed where the "
                                             "prices table has no spot price")] = 60.0


def _spot(run: Any) -> bool:
    p = run.properties
    return bool(p.get("managed_spot")) or str(p.get("lifecycle") or p.get("capacity") or "").lower() == "spot"


def _checkpointed(run: Any) -> bool:
    p = run.properties
    return bool(p.get("checkpoint_s3") or p.get("checkpoint"))


def _cloud(run: Any) -> bool:
    return bool(run.executors) and all(e.provider_name in ("AWS", "Microsoft", "Google Cloud") for e in run.executors)


def _discount(ctx: RuleContext, run: Any, params: Params) -> tuple[float, str]:
    e = run.executors[0]
    row = ctx.conn.execute(
        "SELECT s.price_nanos, o.price_nanos FROM prices s JOIN prices o ON o.provider_name = s.provider_name "
        "AND o.region_id = s.region_id AND o.sku = s.sku AND o.pricing_model = 'on-demand' "
        "WHERE s.pricing_model = 'spot' AND s.provider_name = ? AND s.region_id = ? AND s.sku = ?",
        (e.provider_name, e.region_id or "", e.instance_type)).fetchone()
    if row and row[1]:
        return max(0.0, 1 - row[0] / row[1]), f"spot vs on-demand price of {e.instance_type} in {e.region_id}"
    return params.spot_discount_pct / 100, f"assumed {params.spot_discount_pct:g}% spot discount"


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for task, runs in sorted(runs_by_task(ctx, params.window_days).items()):
        ok = [r for r in runs if _cloud(r) and not _spot(r) and r.cost is not None
              and (r.duration_s <= params.max_hours * 3600 or _checkpointed(r))]
        if len(ok) < params.min_runs:
            continue
        cost = sum(r.cost for r in ok)
        saved = 0
        sources = set()
        for r in ok:
            d, how = _discount(ctx, r, params)
            saved += round(r.cost * d)
            sources.add(how)
        cur = ok[0].currency
        e = ok[0].executors[0]
        monthly = per_month(saved, params.window_days)
        pct = saved * 100 / cost if cost else 0.0
        sm = sum(1 for r in ok if r.properties.get("platform") == "sagemaker")
        detail = {
            "summary": (f"{len(ok)} on-demand runs (short or checkpointed) cost {fmt(cost, cur)} in "
                        f"{params.window_days} days; managed spot ~{pct:.0f}% cheaper (estimate)"),
            "task": task,
            "eligible_runs": len(ok),
            "sagemaker_jobs": sm,
            "checkpointed_runs": sum(1 for r in ok if _checkpointed(r)),
            "longest_run_hours": round(max(r.duration_s for r in ok) / 3600, 2),
            "on_demand_cost": fmt(cost, cur),
            "spot_discount": "; ".join(sorted(sources)),
            "estimate": "upper bound: interruptions add time and re-runs",
            "action": "enable_managed_spot" if sm else "use_spot_capacity",
        }
        basis = (f"estimate: {fmt(cost, cur)} on-demand over {params.window_days} days x {pct:.0f}% spot discount, "
                 "scaled to 730 h")
        out.append(new_rec(RULE_ID, CATEGORY, task_res(ctx, task, e.provider_name, e.region_id), detail=detail,
                           monthly_saving=monthly, saving_basis=basis, currency=cur))
    return out
