"""Failed ML runs: tasks where failed or stopped runs burnt more than `max_share_pct` (default
20 %) of the task's spend over the last `window_days` (default 30), and at least `min_cost`
(default 10, in the runs' currency). Evidence: the money, the runs, and the commonest failure
point: the last step the failed runs reached (the highest step of any metric they logged) and,
where the platform reports it, the commonest failure reason. Saving: the failed spend scaled to
a 730-hour month (what catching those failures earlier is worth at most).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from msgspec import Meta

from cache.money import fmt, to_nanos

from .common import RuleContext, Thresholds, new_rec
from .ml_common import per_month, runs_by_task, task_res
from .model import Recommendation

RULE_ID = "ml_failed_runs"
CATEGORY = "cost"
TITLE = "Money burnt on failed ML runs"
FAILED = ("failed", "stopped")


class Params(Thresholds):
    window_days: Annotated[int, Meta(ge=1, le=3650, description="runs started in the last N days")] = 30
    max_share_pct: Annotated[float, Meta(ge=0, le=100, description="failed share of the task's spend above "
                                         "which it is flagged")] = 20.0
    min_cost: Annotated[float, Meta(ge=0, description="failed spend needed (currency units)")] = 10.0


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for task, runs in sorted(runs_by_task(ctx, params.window_days).items()):
        costed = [r for r in runs if r.cost is not None]
        failed = [r for r in costed if r.status in FAILED]
        total = sum(r.cost for r in costed)
        burnt = sum(r.cost for r in failed)
        if not failed or total <= 0:
            continue
        share = burnt * 100 / total
        if share <= params.max_share_pct or burnt < to_nanos(str(params.min_cost)):
            continue
        steps: Counter[int] = Counter()
        for r in failed:
            row = ctx.conn.execute("SELECT max(step) FROM ml_run_metrics WHERE run_id=?", (r.run_id,)).fetchone()
            if row and row[0] is not None:
                steps[int(row[0])] += 1
        reasons = Counter(str(r.properties.get("failure_reason"))[:120] for r in failed
                          if r.properties.get("failure_reason"))
        cur = failed[0].currency
        e = next((r.executors[0] for r in failed if r.executors), None)
        point = (f"step {steps.most_common(1)[0][0]} ({steps.most_common(1)[0][1]} of {len(failed)} runs)"
                 if steps else "no step logged")
        detail = {
            "summary": (f"{len(failed)} of {len(costed)} runs failed or stopped: {fmt(burnt, cur)} "
                        f"({share:.0f}% of {fmt(total, cur)}); most stop at {point}"),
            "task": task,
            "failed_runs": len(failed),
            "runs": len(costed),
            "failed_cost": fmt(burnt, cur),
            "task_cost": fmt(total, cur),
            "failed_share_pct": round(share, 1),
            "commonest_failure_point": point,
            "commonest_failure_reason": reasons.most_common(1)[0][0] if reasons else None,
            "action": "investigate_failures",
        }
        basis = f"failed spend: {fmt(burnt, cur)} over {params.window_days} days, scaled to 730 h"
        out.append(new_rec(RULE_ID, CATEGORY, task_res(ctx, task, e.provider_name if e else None,
                                                       e.region_id if e else None),
                           detail=detail, monthly_saving=per_month(burnt, params.window_days), saving_basis=basis,
                           currency=cur))
    return out
