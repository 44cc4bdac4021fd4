"""Underutilized ML executors: tasks whose runs leave their GPUs (or, on CPU-only instances, their
CPUs) mostly idle. For each task, the finished runs of the last `window_days` (default 30) with a
utilization profile on one instance type; when at least `min_runs` (default 3) of them have a
p95 GPU utilization under `max_gpu_p95` (default 40 %) (CPU: `max_cpu_p95`, default 30 %, for
instance types without GPUs) in every one of them, the task is flagged.

Target: from the prices table, the next cheaper size of the same series in the same region
(fewer GPUs, or fewer vCPUs) whose capacity still holds the observed p95 at most `target_pct`
(default 80 %). Saving per run = (price now - price after) x hours x instances, averaged over the
profiled runs; per month = that x the task's run rate (runs in the window scaled to 730 h).
Without a cheaper priced size the task is skipped with the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from cache.money import fmt

from .. import mlprofile
from .common import PriceRow, RuleContext, Thresholds, new_rec, series
from .ml_common import DAYS_PER_MONTH, runs_by_task, task_res
from .model import Recommendation

RULE_ID = "ml_underutilized_executor"
CATEGORY = "cost"
TITLE = "Underutilized ML executors"


class Params(Thresholds):
    window_days: Annotated[int, Meta(ge=1, le=3650, description="runs started in the last N days")] = 30
    min_runs: Annotated[int, Meta(ge=1, le=10000, description="profiled runs of the task needed")] = 3
    max_gpu_p95: Annotated[float, Meta(ge=0, le=100, description="GPU utilization p95 % below which a run "
                                       "underuses its GPUs")] = 40.0
    max_cpu_p95: Annotated[float, Meta(ge=0, le=100, description="CPU utilization p95 % below which a run "
                                       "without GPUs underuses its CPUs")] = 30.0
    target_pct: Annotated[float, Meta(gt=0, le=100, description="the smaller type must run the observed "
                                      "p95 at most this busy")] = 80.0


def _capacity(p: PriceRow, gpu: bool) -> float | None:
    if gpu:
        return float(mlprofile.gpus_of(p.sku) or 0) or None
    return p.vcpu


def _cap(p: PriceRow, gpu: bool) -> str:
    return f"{mlprofile.gpus_of(p.sku)} GPU" if gpu else f"{p.vcpu or 0:g} vCPU"


def _target(ctx: RuleContext, provider: str, region: str | None, itype: str, gpu: bool, used: float,
            params: Params) -> tuple[PriceRow, PriceRow] | None:
    now_p = ctx.price(provider, region, itype)
    if now_p is None:
        return None
    cap_now = _capacity(now_p, gpu)
    if not cap_now:
        return None
    need = cap_now * used / params.target_pct  # capacity units the observed p95 needs
    ser = series(provider, itype)
    cands = [p for p in ctx.prices_in(provider, region)
             if p.sku != itype and series(provider, p.sku) == ser and p.price_nanos < now_p.price_nanos
             and (c := _capacity(p, gpu)) is not None and need <= c < cap_now]
    if not cands:
        return None
    return now_p, max(cands, key=lambda p: (p.price_nanos, p.sku))  # the next size down


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for task, runs in sorted(runs_by_task(ctx, params.window_days).items()):
        st = mlprofile.stats(ctx.conn, [r.run_id for r in runs])
        by_type: dict[tuple[str, str | None, str], list[Any]] = {}
        for r in runs:
            if r.run_id in st and len(r.executors) == 1:
                e = r.executors[0]
                by_type.setdefault((e.provider_name or "", e.region_id, e.instance_type), []).append(r)
        for (prov, region, itype), prof in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
            if len(prof) < params.min_runs:
                continue
            gpu = all("gpu" in st[r.run_id] for r in prof)
            metric = "gpu" if gpu else "cpu"
            if not all(metric in st[r.run_id] for r in prof):
                continue
            limit = params.max_gpu_p95 if gpu else params.max_cpu_p95
            p95s = [st[r.run_id][metric].p95 for r in prof]
            if max(p95s) >= limit:
                continue
            res = task_res(ctx, task, prov, region)
            pair = _target(ctx, prov, region, itype, gpu, max(p95s), params)
            if pair is None:
                ctx.skip(RULE_ID, res, f"{itype}: {metric.upper()} p95 at most {max(p95s):.0f}% but no cheaper "
                         f"size of the same series in the prices table holds it")
                break
            now_p, after = pair
            hours = [r.duration_s / 3600.0 * r.executors[0].instance_count for r in prof]
            per_run = round((now_p.price_nanos - after.price_nanos) * sum(hours) / len(hours))
            rate = len(runs) * DAYS_PER_MONTH / params.window_days  # runs per month
            monthly = round(per_run * rate)
            cur = now_p.currency

            detail = {
                "summary": (f"{len(prof)} runs on {itype}: {metric.upper()} p95 at most {max(p95s):.0f}% "
                            f"(limit {limit:g}%); {after.sku} ({_cap(after, gpu)}) instead of {_cap(now_p, gpu)}"),
                "task": task,
                "instance_type": itype,
                "target_type": after.sku,
                "metric": metric,
                "profiled_runs": len(prof),
                "p95_max_pct": round(max(p95s), 1),
                "p95_median_pct": round(sorted(p95s)[len(p95s) // 2], 1),
                "price_now": fmt(now_p.price_nanos, cur, places=4) + "/h",
                "price_after": fmt(after.price_nanos, cur, places=4) + "/h",
                "saving_per_run": fmt(per_run, cur),
                "runs_per_month": round(rate, 1),
                "action": "resize_ml_executor",
            }
            basis = (f"price: ({fmt(now_p.price_nanos, cur, places=4)} - {fmt(after.price_nanos, cur, places=4)})/h "
                     f"x {sum(hours) / len(hours):.1f} h per run x {rate:.1f} runs/month")
            out.append(new_rec(RULE_ID, CATEGORY, res, detail=detail, monthly_saving=monthly, saving_basis=basis,
                               currency=cur))
            break  # one advice per task: its most-run profiled type
    return out
