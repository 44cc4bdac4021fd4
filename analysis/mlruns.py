"""ML run cost attribution, task summaries and leaderboards (pure logic over the cache).

A run's cost is the sum over its executors (`ml_executors`) of what that executor cost while the
run used it. Per executor, in this order:

1. **billed** — the executor's resource (`resource_id`) has rows in the `costs` table: for every
   UTC day the run overlaps, the resource's billed cost that day is apportioned to the run, as
   OptScale does:

       day cost x min(1, run instance-hours that day / hours the resource ran that day)

   where run instance-hours = the run's hours on that day x `instance_count`, and the hours the
   resource ran that day = the sum of its rows' `pricing_quantity` when every row of that
   resource-day has one (compute is billed in instance-hours, so this is its usage: an instance
   up 10 h, a SageMaker job's instance-hours, a cluster's node-hours), else 24 h x
   `instance_count` (the resource is assumed up all day). Days of the run that the cost table
   does not hold yet (billing lags a day or two; a run still going) are priced as in 2, and so
   are the hours of the resource's latest billed day past the usage billed on it (more than a
   minute per instance: a running run's cost so far when the bill stops mid-day).
2. **price x duration** — the resource is not in the cost table: the on-demand hourly price of
   the instance type (`prices`, sku = instance type, by provider and region; when the region has
   no price, the same provider's price in another region — us-east-1 first, else the first region
   alphabetically — and the executor's note says so; with no provider, any provider listing the
   instance type in that region) x `instance_count` x duration, the duration being
   `billable_seconds` where present (SageMaker reports wall-clock seconds per instance), else the
   executor's (or the run's) end - start.
3. **unknown** — no price for the instance type, no instance type, or no end time on a finished
   run: the executor's cost is unknown with the reason; a run with an unknown executor (or no
   executor at all) has an unknown cost, never zero.

The run's basis is "billed" or "price x duration" when every executor has that basis, "mixed"
otherwise (an executor mixing billed days and priced days is "mixed" too); "unknown" when the
cost is unknown. A run still going (status running/scheduled without an end) is costed up to the
cache's reference time (analysis.clock.reference_time: the earlier of now and the snapshot time, so
an old snapshot is judged as of its own time and a run's cost does not change between two calls),
except a run recorded live on this machine by `costdeck track` (a kind whose adapter declares `live_runs`, written after
the last sync), which is costed up to now. Amounts are exact: each executor's share is
summed as a fraction and rounded once, half-even, to integer nano-units.

Metric direction: a metric whose name says loss, error, rmse, mse, mae, mape, perplexity, wer
or cer is better lower; any other (accuracy, auc, ndcg, neg_* scores) is better higher. A task
overrides it with a run param or tag `costdeck.metric_direction` (or `costdeck:metric_direction`)
set to min/max (lower/higher, minimize/maximize).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from analysis.clock import reference_time
from cache import timeutil
from providers import registry

BILLED = "billed"
PRICED = "price x duration"
MIXED = "mixed"
UNKNOWN = "unknown"
BASIS_MARK = {BILLED: "B", PRICED: "P", MIXED: "M", UNKNOWN: "?"}
RUNNING = ("running", "scheduled")
PREFERRED_REGION = "us-east-1"

_LOWER = re.compile(r"(loss|error|err(?![a-z])|rmse|mse|mae|mape|perplexity|(?<![a-z])wer|(?<![a-z])cer)", re.I)
_DIRECTION_KEYS = ("costdeck.metric_direction", "costdeck:metric_direction")
_DIRECTIONS = {"min": "min", "lower": "min", "minimize": "min", "minimise": "min", "max": "max",
               "higher": "max", "maximize": "max", "maximise": "max"}


# -- records -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ExecutorCost:
    instance_type: str
    instance_count: int
    provider_name: str | None
    region_id: str | None
    resource_id: str | None
    start: datetime | None
    end: datetime | None
    seconds: float  # wall-clock seconds costed (per instance)
    cost: int | None  # nanos; None = unknown
    currency: str
    basis: str
    reason: str | None = None  # why unknown
    note: str | None = None  # e.g. the price came from another region
    hourly_price: int | None = None  # nanos per instance-hour when priced
    billed_days: int = 0
    priced_hours: float = 0.0

    @property
    def label(self) -> str:
        return executor_label(self.instance_type, self.instance_count)


@dataclass(slots=True)
class RunCost:
    run_id: str
    task: str
    name: str | None
    status: str
    start: datetime
    end: datetime | None
    duration_s: float
    host: str | None
    primary_metric: str | None
    primary_value: float | None
    exit_code: int | None
    source: str | None
    properties: dict[str, Any]
    executors: list[ExecutorCost] = field(default_factory=list)
    cost: int | None = None
    currency: str = "USD"
    basis: str = UNKNOWN
    reason: str | None = None

    @property
    def running(self) -> bool:
        return self.status in RUNNING and self.end is None

    @property
    def executors_label(self) -> str:
        """'ml.p3.2xlarge x2' (executors of the same instance type counted together)."""
        counts: dict[str, int] = {}
        for e in self.executors:
            counts[e.instance_type] = counts.get(e.instance_type, 0) + e.instance_count
        return ", ".join(executor_label(t, n) for t, n in counts.items())

    @property
    def short_name(self) -> str:
        """The name without its task prefix ('resnet-0629-08' of task resnet -> '0629-08'; kept when
        what remains is under 4 characters)."""
        name = self.name or self.run_id
        for sep in ("-", "_", "/", ":", " "):
            if name.startswith(self.task + sep) and len(name) >= len(self.task) + 5:
                return name[len(self.task) + 1 :]
        return name

    def matches(self, needle: str) -> bool:
        n = needle.lower()
        hay = (self.task, self.name or "", self.run_id, self.status, self.host or "", self.executors_label)
        return any(n in h.lower() for h in hay)


@dataclass(slots=True)
class TaskSummary:
    task: str
    runs: int
    running: int
    failed: int
    total_cost: int  # nanos, the runs whose cost is known
    unknown_runs: int
    currency: str
    metric: str | None
    direction: str
    best_run_id: str | None
    best_run_name: str | None
    best_value: float | None
    best_cost: int | None
    best_basis: str | None
    first_start: datetime | None
    last_end: datetime | None
    days: int  # calendar days from the first run's start to the last run's end (inclusive)
    cost_per_day: int | None


@dataclass(slots=True)
class LeaderRow:
    rank: int | None  # None: the run has no value for the task's metric
    run: RunCost
    value: float | None


@dataclass(slots=True)
class RunDetail:
    run: RunCost
    params: list[tuple[str, str | None]]
    metrics: dict[str, list[tuple[int, datetime | None, float]]]  # key -> [(step, ts, value)]


# -- helpers ----------------------------------------------------------------------------------------


def executor_label(instance_type: str, count: int) -> str:
    return f"{instance_type or '?'} x{count}"


def metric_direction(name: str | None, override: str | None = None) -> str:
    """'min' when lower is better, else 'max'."""
    if override:
        d = _DIRECTIONS.get(override.strip().lower())
        if d:
            return d
    if not name:
        return "max"
    n = name.lower()
    if n.startswith(("neg_", "neg-", "negative_")):
        return "max"
    return "min" if _LOWER.search(n) else "max"


def _round(x: Fraction) -> int:
    d = Decimal(x.numerator) / Decimal(x.denominator)
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def day_hours(start: datetime, end: datetime) -> list[tuple[date, Fraction]]:
    """[(UTC day, hours of [start, end) on it)] for each day the interval touches (hours > 0)."""
    out: list[tuple[date, Fraction]] = []
    if end <= start:
        return out
    d = start.date()
    while True:
        lo = max(start, _day_start(d))
        hi = min(end, _day_start(d + timedelta(days=1)))
        if hi > lo:
            delta = hi - lo
            us = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
            out.append((d, Fraction(us, 3_600_000_000)))
        if _day_start(d + timedelta(days=1)) >= end:
            break
        d += timedelta(days=1)
    return out


# -- loading ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Prices:
    exact: dict[tuple[str, str, str], tuple[int, str]]  # (provider, region, sku) -> (nanos/h, currency)
    by_sku: dict[str, list[tuple[str, str, int, str]]]  # sku -> [(provider, region, nanos, currency)]

    def lookup(self, provider: str | None, region: str | None, sku: str) -> tuple[int, str, str | None] | None:
        """(hourly nanos, currency, note) or None."""
        if provider and region and (provider, region, sku) in self.exact:
            p, cur = self.exact[(provider, region, sku)]
            return p, cur, None
        cands = self.by_sku.get(sku, [])
        if provider:
            cands = [c for c in cands if c[0] == provider]
        if not cands:
            return None
        if region:
            same = [c for c in cands if c[1] == region]
            if same:
                c = sorted(same)[0]
                return c[2], c[3], None
        pref = [c for c in cands if c[1] == PREFERRED_REGION]
        c = pref[0] if pref else sorted(cands, key=lambda x: (x[1], x[0]))[0]
        where = f"{c[0]} {c[1]}" if not provider else c[1]
        note = f"price of {where}" + (f" (none listed for {region})" if region else " (no region recorded)")
        return c[2], c[3], note


def _load_prices(conn: sqlite3.Connection, skus: Iterable[str]) -> _Prices:
    exact: dict[tuple[str, str, str], tuple[int, str]] = {}
    by_sku: dict[str, list[tuple[str, str, int, str]]] = defaultdict(list)
    wanted = sorted({s for s in skus if s})
    for chunk in _chunks(wanted, 500):
        marks = ",".join("?" for _ in chunk)
        for prov, region, sku, nanos, cur in conn.execute(
            f"SELECT provider_name, region_id, sku, price_nanos, currency FROM prices "
            f"WHERE pricing_model='on-demand' AND sku IN ({marks})",
            chunk,
        ):
            exact[(prov, region, sku)] = (int(nanos), cur or "USD")
            by_sku[sku].append((prov, region, int(nanos), cur or "USD"))
    return _Prices(exact, by_sku)


@dataclass(slots=True)
class _DayCost:
    billed: int
    qty: float | None  # sum of pricing_quantity when every row has one
    currency: str


def _load_billed(conn: sqlite3.Connection, resource_ids: Iterable[str]) -> dict[str, dict[date, _DayCost]]:
    """resource id -> day -> billed cost and usage quantity (resources present in costs only)."""
    ids = sorted({r for r in resource_ids if r})
    dim: dict[int, str] = {}
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" for _ in chunk)
        for did, value in conn.execute(
            f"SELECT id, value FROM dims WHERE kind='resource' AND value IN ({marks})", chunk
        ):
            dim[int(did)] = value
    out: dict[str, dict[date, _DayCost]] = defaultdict(dict)
    if not dim:
        return out
    currencies = {int(r[0]): r[1] for r in conn.execute("SELECT id, value FROM dims WHERE kind='currency'")}
    for chunk in _chunks(sorted(dim), 500):
        marks = ",".join("?" for _ in chunk)
        for rid, day, cur, billed, qty, n, nq in conn.execute(
            f"SELECT resource, day, currency, sum(billed), sum(pricing_quantity), count(*), count(pricing_quantity) "
            f"FROM costs WHERE resource IN ({marks}) GROUP BY resource, day, currency",
            chunk,
        ):
            d = date.fromisoformat(day)
            res = dim[int(rid)]
            prev = out[res].get(d)
            q = float(qty) if n == nq and qty is not None and qty > 0 else None
            c = currencies.get(cur, "USD") if cur is not None else "USD"
            if prev is None:
                out[res][d] = _DayCost(int(billed or 0), q, c)
            else:  # a second currency the same day: keep the larger, mark quantity unknown
                out[res][d] = _DayCost(prev.billed + int(billed or 0), None, prev.currency if prev.currency == c
                                       else "MIXED")
    return out


def _chunks(seq: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def load_runs(
    conn: sqlite3.Connection,
    *,
    task: str | None = None,
    run_ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[RunCost]:
    """Every run (of one task, or the given ids) with its cost, newest first.

    Running runs are costed up to `now`, by default the cache's reference time (see the module doc)."""
    at = now or reference_time(conn)
    live = now or timeutil.now()  # runs `costdeck track` is recording on this machine
    where, params = [], []
    if task is not None:
        where.append("r.task = ?")
        params.append(task)
    if run_ids is not None:
        if not run_ids:
            return []
        where.append(f"r.run_id IN ({','.join('?' for _ in run_ids)})")
        params.extend(run_ids)
    sql = (
        "SELECT r.run_id, r.task, r.name, r.status, r.start_at, r.end_at, r.host, r.primary_metric, "
        "r.primary_value, r.exit_code, r.properties, s.name AS source, s.kind FROM ml_runs r "
        "LEFT JOIN sources s ON s.id = r.source_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY r.start_at DESC, r.run_id"
    )
    rows = conn.execute(sql, params).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    execs: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" for _ in chunk)
        for e in conn.execute(
            "SELECT run_id, provider_name, resource_id, instance_type, instance_count, region_id, start_at, end_at, "
            f"billable_seconds FROM ml_executors WHERE run_id IN ({marks}) ORDER BY rowid",
            chunk,
        ):
            execs[e[0]].append(tuple(e))
    all_execs = [e for es in execs.values() for e in es]
    prices = _load_prices(conn, (e[3] for e in all_execs))
    billed = _load_billed(conn, (e[2] for e in all_execs))
    live_kinds = registry.live_run_kinds() if any(r[3] in RUNNING for r in rows) else []
    out = []
    for r in rows:
        try:
            props = json.loads(r[10] or "{}")
        except json.JSONDecodeError:
            props = {}
        run_at = live if r[12] in live_kinds else at
        start = timeutil.parse_instant_opt(r[4]) or run_at
        end = timeutil.parse_instant_opt(r[5])
        status = r[3] or "unknown"
        run = RunCost(
            run_id=r[0], task=r[1], name=r[2], status=status, start=start, end=end, duration_s=0.0, host=r[6],
            primary_metric=r[7], primary_value=r[8], exit_code=r[9], source=r[11],
            properties=props if isinstance(props, dict) else {},
        )
        eff_end = end or (run_at if status in RUNNING else None)
        run.duration_s = max(0.0, (eff_end - start).total_seconds()) if eff_end else 0.0
        for e in execs.get(run.run_id, []):
            run.executors.append(_executor_cost(run, e, prices, billed, run_at))
        _total(run)
        out.append(run)
    return out


def _executor_cost(
    run: RunCost, e: tuple[Any, ...], prices: _Prices, billed: dict[str, dict[date, _DayCost]], at: datetime
) -> ExecutorCost:
    _, provider, resource_id, itype, count, region, s_at, e_at, billable = e
    count = max(1, int(count or 1))
    start = timeutil.parse_instant_opt(s_at) or run.start
    end = timeutil.parse_instant_opt(e_at) or run.end
    reason: str | None = None
    if end is None:
        if run.status in RUNNING:
            end = max(start, at)
        elif billable:
            end = start + timedelta(seconds=int(billable))
        else:
            reason = "no end time recorded for a finished run"
    ex = ExecutorCost(instance_type=itype or "", instance_count=count, provider_name=provider, region_id=region,
                      resource_id=resource_id, start=start, end=end, seconds=0.0, cost=None, currency="USD",
                      basis=UNKNOWN, reason=reason)
    if end is None:
        return ex
    ex.seconds = max(0.0, (end - start).total_seconds())
    days = billed.get(resource_id or "") if resource_id else None
    price = prices.lookup(provider, region, itype) if itype else None
    if price is not None:
        ex.hourly_price, ex.currency, ex.note = price[0], price[1], price[2]
    if days:
        total = Fraction(0)
        priced_h = Fraction(0)
        currency: str | None = None
        last_billed = max(days)
        for d, hrs in day_hours(start, end):
            dc = days.get(d)
            if dc is None:
                priced_h += hrs
                continue
            if dc.currency == "MIXED":
                ex.reason = f"billed in more than one currency on {d}"
                return ex
            if currency is None:
                currency = dc.currency
            elif currency != dc.currency:
                ex.reason = "billed in more than one currency"
                return ex
            res_hours = Fraction(dc.qty) if dc.qty else Fraction(24 * count)
            share = min(Fraction(1), hrs * count / res_hours)
            total += dc.billed * share
            ex.billed_days += 1
            if d == last_billed and dc.qty and hrs * count - res_hours > Fraction(count, 60):
                # the latest billed day holds fewer hours than the run has had so far (billing lags):
                # the hours past the billed usage are priced
                priced_h += (hrs * count - res_hours) / count
        if priced_h:
            if price is None:
                ex.reason = (f"{float(priced_h):.1f} h not billed yet and no on-demand price for "
                             f"{itype or 'an unknown instance type'}" + (f" in {region}" if region else ""))
                return ex
            if currency is not None and currency != price[1]:
                ex.reason = f"billed in {currency}, priced in {price[1]}"
                return ex
            total += price[0] * count * priced_h
            ex.priced_hours = float(priced_h)
        ex.cost = _round(total)
        ex.currency = currency or (price[1] if price else "USD")
        ex.basis = BILLED if not priced_h else (MIXED if ex.billed_days else PRICED)
        if ex.basis == BILLED:
            ex.note = None
        return ex
    if not itype:
        ex.reason = "no instance type recorded"
        return ex
    if price is None:
        ex.reason = f"no on-demand price for {itype}" + (f" ({provider}" if provider else "") + (
            f" {region})" if provider and region else ")" if provider else f" in {region}" if region else "")
        return ex
    running = run.status in RUNNING and not e_at and not run.end
    seconds = Fraction(int(billable)) if billable and not running else Fraction(ex.seconds)
    ex.seconds = float(seconds)
    ex.cost = _round(price[0] * count * seconds / 3600)
    ex.basis = PRICED
    ex.priced_hours = float(seconds / 3600)
    return ex


def _total(run: RunCost) -> None:
    if not run.executors:
        run.cost, run.basis, run.reason = None, UNKNOWN, "no executor recorded (instance type unknown)"
        return
    unknown = [e for e in run.executors if e.cost is None]
    if unknown:
        run.cost, run.basis = None, UNKNOWN
        run.reason = "; ".join(dict.fromkeys(f"{e.label}: {e.reason}" for e in unknown))
        return
    currencies = {e.currency for e in run.executors}
    if len(currencies) > 1:
        run.cost, run.basis, run.reason = None, UNKNOWN, "executors in different currencies: " + ", ".join(
            sorted(currencies))
        return
    run.currency = currencies.pop()
    run.cost = sum(e.cost or 0 for e in run.executors)
    bases = {e.basis for e in run.executors}
    run.basis = bases.pop() if len(bases) == 1 else MIXED


# -- tasks -----------------------------------------------------------------------------------------------


def task_metric(runs: Sequence[RunCost]) -> str | None:
    """The task's primary metric: the one most of its runs name (ties: alphabetical)."""
    c = Counter(r.primary_metric for r in runs if r.primary_metric)
    if not c:
        return None
    top = max(c.values())
    return sorted(k for k, v in c.items() if v == top)[0]


def _override(run: RunCost, params: dict[str, dict[str, str]]) -> str | None:
    p = params.get(run.run_id, {})
    tags = run.properties.get("tags") if isinstance(run.properties.get("tags"), dict) else {}
    for k in _DIRECTION_KEYS:
        v = p.get(k) or (tags or {}).get(k) or run.properties.get(k)
        if isinstance(v, str) and v.strip().lower() in _DIRECTIONS:
            return v
    return None


def direction_overrides(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    marks = ",".join("?" for _ in _DIRECTION_KEYS)
    for run_id, key, value in conn.execute(
        f"SELECT run_id, key, value FROM ml_run_params WHERE key IN ({marks})", _DIRECTION_KEYS
    ):
        out[run_id][key] = value
    return out


def task_direction(runs: Sequence[RunCost], metric: str | None, params: dict[str, dict[str, str]] | None = None) -> str:
    for r in runs:
        o = _override(r, params or {})
        if o:
            return metric_direction(metric, o)
    return metric_direction(metric)


def leaderboard(runs: Sequence[RunCost], metric: str | None = None, direction: str | None = None,
                params: dict[str, dict[str, str]] | None = None) -> list[LeaderRow]:
    """A task's runs ranked by the metric (best first), then runs without a value."""
    metric = metric or task_metric(runs)
    direction = direction or task_direction(runs, metric, params)
    scored = [r for r in runs if metric and r.primary_metric == metric and r.primary_value is not None]
    rest = [r for r in runs if r not in scored]
    sign = 1 if direction == "min" else -1
    scored.sort(key=lambda r: (sign * float(r.primary_value or 0.0), r.cost if r.cost is not None else 1 << 62,
                               r.start))
    out = [LeaderRow(i + 1, r, r.primary_value) for i, r in enumerate(scored)]
    out += [LeaderRow(None, r, None) for r in sorted(rest, key=lambda r: r.start, reverse=True)]
    return out


def summarize(runs: Sequence[RunCost], params: dict[str, dict[str, str]] | None = None) -> list[TaskSummary]:
    """One summary per task, by total cost (largest first)."""
    by_task: dict[str, list[RunCost]] = defaultdict(list)
    for r in runs:
        by_task[r.task].append(r)
    out = []
    for task, rs in by_task.items():
        metric = task_metric(rs)
        direction = task_direction(rs, metric, params)
        board = leaderboard(rs, metric, direction)
        best = board[0] if board and board[0].rank is not None else None
        known = [r for r in rs if r.cost is not None]
        currencies = Counter(r.currency for r in known)
        currency = currencies.most_common(1)[0][0] if currencies else "USD"
        total = sum(r.cost or 0 for r in known if r.currency == currency)
        first = min(r.start for r in rs)
        ends = [r.end or (r.start + timedelta(seconds=r.duration_s)) for r in rs]
        last = max(ends) if ends else first
        days = max(1, (last.date() - first.date()).days + 1)
        out.append(TaskSummary(
            task=task, runs=len(rs), running=sum(1 for r in rs if r.running),
            failed=sum(1 for r in rs if r.status == "failed"), total_cost=total,
            unknown_runs=len(rs) - len(known), currency=currency, metric=metric, direction=direction,
            best_run_id=best.run.run_id if best else None, best_run_name=best.run.name if best else None,
            best_value=best.value if best else None, best_cost=best.run.cost if best else None,
            best_basis=best.run.basis if best else None, first_start=first, last_end=last, days=days,
            cost_per_day=_round(Fraction(total, days)) if known else None,
        ))
    out.sort(key=lambda s: (-s.total_cost, s.task))
    return out


def tasks(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT task FROM ml_runs ORDER BY task")]


def run_detail(conn: sqlite3.Connection, run_id: str, *, now: datetime | None = None,
               max_points: int = 2000) -> RunDetail | None:
    runs = load_runs(conn, run_ids=[run_id], now=now)
    if not runs:
        return None
    params = [(k, v) for k, v in conn.execute(
        "SELECT key, value FROM ml_run_params WHERE run_id=? ORDER BY key", (run_id,))]
    metrics: dict[str, list[tuple[int, datetime | None, float]]] = defaultdict(list)
    for key, step, ts, value in conn.execute(
        "SELECT key, step, ts, value FROM ml_run_metrics WHERE run_id=? ORDER BY key, step LIMIT ?",
        (run_id, max_points),
    ):
        metrics[key].append((int(step), timeutil.parse_instant_opt(ts), float(value)))
    return RunDetail(run=runs[0], params=params, metrics=dict(metrics))


# -- report -----------------------------------------------------------------------------------------------


RECORD_FIELDS = ("task", "run_id", "name", "status", "start", "end", "duration_s", "executors", "cost", "currency",
                 "cost_basis", "cost_reason", "primary_metric", "primary_value", "source")


def run_records(runs: Sequence[RunCost]) -> list[dict[str, Any]]:
    """Rows for `costdeck report ml-runs` (cost in nanos, None when unknown)."""
    out = []
    for r in runs:
        out.append({
            "task": r.task,
            "run_id": r.run_id,
            "name": r.name,
            "status": r.status,
            "start": timeutil.iso(r.start),
            "end": timeutil.iso(r.end) if r.end else None,
            "duration_s": round(r.duration_s, 3),
            "executors": r.executors_label,
            "cost": r.cost,
            "currency": r.currency,
            "cost_basis": r.basis,
            "cost_reason": r.reason,
            "primary_metric": r.primary_metric,
            "primary_value": r.primary_value,
            "source": r.source,
        })
    return out


__all__ = [
    "BASIS_MARK",
    "BILLED",
    "MIXED",
    "PRICED",
    "RECORD_FIELDS",
    "UNKNOWN",
    "ExecutorCost",
    "LeaderRow",
    "RunCost",
    "RunDetail",
    "TaskSummary",
    "day_hours",
    "direction_overrides",
    "executor_label",
    "leaderboard",
    "load_runs",
    "metric_direction",
    "run_detail",
    "run_records",
    "summarize",
    "task_metric",
    "tasks",
]
