"""ML run utilization profiles (table ml_profiles): per-run statistics, GPU counts, cost per
utilized GPU-hour, and the cost-per-outcome figures of a task (cost to reach the best value,
Pareto frontier of metric vs cost, spend per week).

Profile metrics are percents 0-100 of the executor host: cpu (all cores), memory, gpu (mean over
the host's GPUs), gpu_memory. p95 is the nearest-rank 95th percentile of the samples.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cache import timeutil
from cache.gpus import gpus_of

if TYPE_CHECKING:
    from .mlruns import RunCost

METRICS = ("cpu", "memory", "gpu", "gpu_memory")
METRIC_LABEL = {"cpu": "CPU %", "memory": "Mem %", "gpu": "GPU %", "gpu_memory": "GPU mem %"}

def p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(0.95 * len(v)) - 1)]


@dataclass(slots=True)
class Stat:
    samples: int
    mean: float
    p95: float
    peak: float
    gpus: int | None


def stats(conn: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, dict[str, Stat]]:
    """run_id -> metric -> statistics over every host of the run."""
    ids = list(dict.fromkeys(run_ids))
    vals: dict[tuple[str, str], list[float]] = defaultdict(list)
    gpus: dict[tuple[str, str], int] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" for _ in chunk)
        for rid, metric, value, g in conn.execute(
            f"SELECT run_id, metric, value, gpus FROM ml_profiles WHERE run_id IN ({marks})", chunk
        ):
            vals[(rid, metric)].append(float(value))
            if g:
                gpus[(rid, metric)] = max(int(g), gpus.get((rid, metric), 0))
    out: dict[str, dict[str, Stat]] = defaultdict(dict)
    for (rid, metric), vs in vals.items():
        out[rid][metric] = Stat(len(vs), sum(vs) / len(vs), p95(vs) or 0.0, max(vs), gpus.get((rid, metric)))
    return dict(out)


def series(conn: sqlite3.Connection, run_id: str, host: str | None = None) -> dict[str, list[tuple[datetime, float]]]:
    """metric -> [(ts, value)] of a run in time order: one host's, or (host None) the hosts
    averaged per timestamp."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    sql, args = "SELECT metric, ts, value FROM ml_profiles WHERE run_id=?", [run_id]
    if host is not None:
        sql, args = sql + " AND host=?", [run_id, host]
    for metric, ts, value in conn.execute(sql + " ORDER BY ts", args):
        acc[(metric, ts)].append(float(value))
    out: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for (metric, ts), vs in sorted(acc.items(), key=lambda kv: kv[0][1]):
        out[metric].append((timeutil.parse_instant(ts), sum(vs) / len(vs)))
    return {m: out[m] for m in METRICS if m in out}


def host_stats(conn: sqlite3.Connection, run_id: str) -> dict[str, dict[str, Stat]]:
    """host -> metric -> statistics of one run's hosts (in host order; '' = a run without hosts)."""
    vals: dict[tuple[str, str], list[float]] = defaultdict(list)
    gpus: dict[tuple[str, str], int] = {}
    for host, metric, value, g in conn.execute(
            "SELECT host, metric, value, gpus FROM ml_profiles WHERE run_id=? ORDER BY host", (run_id,)):
        vals[(host, metric)].append(float(value))
        if g:
            gpus[(host, metric)] = max(int(g), gpus.get((host, metric), 0))
    out: dict[str, dict[str, Stat]] = {}
    for (host, metric), vs in sorted(vals.items()):
        out.setdefault(host, {})[metric] = Stat(len(vs), sum(vs) / len(vs), p95(vs) or 0.0, max(vs),
                                                gpus.get((host, metric)))
    return out


def run_gpus(run: RunCost, stat: dict[str, Stat] | None = None) -> int | None:
    """GPUs of a run: the profile's count x instances, else the known count of its instance types."""
    g = (stat or {}).get("gpu")
    if g is not None and g.gpus:
        return g.gpus * max(1, sum(e.instance_count for e in run.executors) or 1)
    total = 0
    for e in run.executors:
        n = gpus_of(e.instance_type)
        if n is None:
            return None
        total += n * e.instance_count
    return total or None


def cost_per_utilized_gpu_hour(run: RunCost, stat: dict[str, Stat] | None) -> tuple[int, float] | None:
    """(cost nanos per GPU-hour actually used, utilized GPU-hours): cost / (GPUs x hours x mean
    GPU utilization). None without a cost, a GPU count or a GPU series."""
    g = (stat or {}).get("gpu")
    n = run_gpus(run, stat)
    if run.cost is None or g is None or not n or run.duration_s <= 0 or g.mean <= 0:
        return None
    used = n * run.duration_s / 3600.0 * g.mean / 100.0
    return round(run.cost / used), used


# -- cost per outcome -------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    task: str
    metric: str | None
    direction: str
    best_value: float | None
    best_run_id: str | None
    cost_to_best: int | None  # nanos: every run of the task that started before the best run ended
    frontier: list[str]  # run ids on the Pareto frontier (cheapest first)
    cheapest_good_run_id: str | None  # the cheapest frontier run within `good_within` of the best


def pareto(points: Sequence[tuple[str, int, float]], direction: str) -> list[str]:
    """Run ids on the frontier of (cost, value): no other run is cheaper-or-equal AND better-or-equal
    with one strictly. points: (run_id, cost nanos, value). Cheapest first."""
    sign = 1.0 if direction == "max" else -1.0
    best = -math.inf
    out = []
    for rid, _cost, value in sorted(points, key=lambda p: (p[1], -sign * p[2], p[0])):
        if sign * value > best:
            out.append(rid)
            best = sign * value
    return out


def outcome(runs: Sequence[RunCost], metric: str | None, direction: str, good_within: float = 0.01) -> Outcome:
    """Cost per outcome of one task's runs (see Outcome). `good_within`: a run is "good" when its
    value is within this fraction of the best (1% by default)."""
    task = runs[0].task if runs else ""
    scored = [r for r in runs if r.primary_metric == metric and r.primary_value is not None and not r.running]
    if not scored or metric is None:
        return Outcome(task, metric, direction, None, None, None, [], None)
    sign = 1.0 if direction == "max" else -1.0
    best = max(scored, key=lambda r: (sign * (r.primary_value or 0.0), -(r.cost or 0)))
    bv = best.primary_value
    assert bv is not None
    best_end = best.end or best.start
    spent = [r.cost for r in runs if r.start <= best_end and r.cost is not None]
    pts = [(r.run_id, r.cost, r.primary_value) for r in scored if r.cost is not None and r.primary_value is not None]
    front = pareto([(a, int(b), float(c)) for a, b, c in pts], direction)
    tol = abs(bv) * good_within
    by_id = {r.run_id: r for r in scored}
    good = [rid for rid in front if sign * ((by_id[rid].primary_value or 0.0) - bv) >= -tol]
    return Outcome(task, metric, direction, bv, best.run_id, sum(spent) if spent else None, front,
                   good[0] if good else None)


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def weekly_spend(runs: Sequence[RunCost]) -> dict[date, int]:
    """Monday -> nanos of the runs (costed runs only) that started that ISO week."""
    out: dict[date, int] = defaultdict(int)
    for r in runs:
        if r.cost is not None:
            out[week_start(r.start.date())] += r.cost
    return dict(sorted(out.items()))


PERIOD_DAYS = {"month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}


@dataclass(slots=True)
class TaskBudget:
    name: str
    amount_nanos: int
    currency: str
    period: str

    @property
    def weekly_nanos(self) -> int:
        """The budget's share of one week."""
        return round(self.amount_nanos * 7 / PERIOD_DAYS.get(self.period, PERIOD_DAYS["month"]))


def task_budgets(budgets: Iterable[Any]) -> dict[str, list[TaskBudget]]:
    """task -> the budgets ([budgets.NAME] of the config, or rows of the budgets table) whose filter
    is on `task` only (a value or a list); a budget that also filters on other dimensions is about
    the bill, not a task's runs, and is left out."""
    out: dict[str, list[TaskBudget]] = defaultdict(list)
    for b in budgets:
        get = b.get if isinstance(b, dict) else lambda k, _b=b: getattr(_b, k, None)
        flt = get("filter") or {}
        if isinstance(flt, str):
            import json

            try:
                flt = json.loads(flt)
            except ValueError:
                continue
        if not isinstance(flt, dict) or set(flt) != {"task"}:
            continue
        tasks = flt["task"] if isinstance(flt["task"], list) else [flt["task"]]
        tb = TaskBudget(str(get("name")), int(get("amount_nanos") or 0), str(get("currency") or "USD"),
                        str(get("period") or "month"))
        for t in tasks:
            out[str(t)].append(tb)
    return dict(out)


__all__ = ["TaskBudget", "host_stats", "task_budgets", "METRICS", "METRIC_LABEL", "Outcome", "Stat", "cost_per_utilized_gpu_hour", "gpus_of", "outcome", "p95",
           "pareto", "run_gpus", "series", "stats", "week_start", "weekly_spend"]
