"""Helpers shared by the ML waste rules (ml_*.py): the runs of a window grouped by task, and the
inventory-like row a task-level recommendation points at."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from .common import Res, RuleContext

DAYS_PER_MONTH = 730 / 24  # 30.42: the month of the other rules (730 h)


def task_res(ctx: RuleContext, task: str, provider: str | None, region: str | None, **props: Any) -> Res:
    """A recommendation target for a whole ML task (resource_type ml_task, id 'ml-task:TASK')."""
    return Res(provider_name=provider or "ML", resource_id=f"ml-task:{task}", resource_name=task,
               resource_type="ml_task", billing_account_id=None, sub_account_id=None, region_id=region,
               state=None, attached_to=None, size=None, instance_type=None, lifecycle=None, created_at=None,
               first_seen=ctx.now, last_seen=ctx.now, tags={}, properties=props)


def runs_by_task(ctx: RuleContext, window_days: int, *, finished: bool = True) -> dict[str, list[Any]]:
    """Runs that started in the last window_days (finished ones only by default), per task."""
    since = ctx.now - timedelta(days=window_days)
    out: dict[str, list[Any]] = defaultdict(list)
    for r in ctx.ml_runs():
        if r.start < since or r.start > ctx.now or (finished and r.running):
            continue
        out[r.task].append(r)
    return dict(out)


def per_month(nanos: int, window_days: int) -> int:
    """A window's amount scaled to a 730-hour month."""
    return round(nanos * DAYS_PER_MONTH / window_days)
