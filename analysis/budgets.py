"""Budgets: spend to date, forecast at the end of the period, the day the forecast crosses the
budget, and a status: over (spent), at risk (the forecast reaches it, or 90 % is spent), ok.

The budgets are the config's `[budgets.NAME]` tables, plus those stored in the cache (`budgets`:
the demo writes some) that the config does not name. Only spend in the budget's own currency counts
(currencies are never summed: spend in others is reported beside, uncounted). A filter names
dimensions of the cost data (`provider_name`, `sub_account_id`, ..., `tag:KEY`), one value or a
list (any of them); a budget filtering on anything else (an ML task budget, say) is not a cost
budget: it is listed as skipped with the reason, never evaluated against the bill.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cache import queries as q

from .forecast import Forecast, month_last_day, period_forecast

STATUS_ORDER = {"over": 0, "at_risk": 1, "ok": 2, "skipped": 3}
STATUS_TITLES = {"over": "over", "at_risk": "at risk", "ok": "ok", "skipped": "skipped"}
AT_RISK_USED = 0.9  # at risk from 90 % used, even when the forecast stays under
HISTORY_DAYS = 56  # weekday rhythm and run rate


@dataclass(slots=True)
class Budget:
    name: str
    amount: int  # nanos
    currency: str = "USD"
    period: str = "month"
    filter: dict[str, Any] = field(default_factory=dict)
    origin: str = "config"  # or "cache"


@dataclass(slots=True)
class BudgetStatus:
    budget: Budget
    status: str  # ok, at_risk, over, skipped
    period_start: date | None = None
    period_end: date | None = None
    as_of: date | None = None
    actual: int = 0  # nanos, period to date
    forecast: Forecast | None = None
    crossing: date | None = None  # the day spend reaches the budget (past: it did; future: forecast)
    other_currencies: dict[str, int] = field(default_factory=dict)  # uncounted spend of the filter
    reason: str = ""  # why skipped

    @property
    def forecast_end(self) -> int:
        return self.forecast.month_end if self.forecast else self.actual

    @property
    def used(self) -> float:
        return self.actual / self.budget.amount if self.budget.amount else 0.0

    @property
    def projected(self) -> float:
        return self.forecast_end / self.budget.amount if self.budget.amount else 0.0


def period_bounds(period: str, as_of: date) -> tuple[date, date]:
    """[start, end] (inclusive) of the month, quarter or year containing as_of."""
    if period == "year":
        return as_of.replace(month=1, day=1), as_of.replace(month=12, day=31)
    if period == "quarter":
        m = 3 * ((as_of.month - 1) // 3) + 1
        start = as_of.replace(month=m, day=1)
        return start, month_last_day(start.replace(month=m + 2))
    return as_of.replace(day=1), month_last_day(as_of)


def budgets_of(conn: sqlite3.Connection, config: Any = None) -> list[Budget]:
    """The config's budgets, then the cache's that the config does not name (sorted by name)."""
    out: dict[str, Budget] = {}
    for name, b in (getattr(config, "budgets", None) or {}).items():
        out[name] = Budget(name, int(b.amount_nanos), b.currency, b.period, dict(b.filter), "config")
    try:
        rows = conn.execute("SELECT name, amount_nanos, currency, period, filter FROM budgets ORDER BY name").fetchall()
    except sqlite3.OperationalError:
        rows = []
    for name, amount, cur, period, filt in rows:
        if name in out:
            continue
        try:
            f = json.loads(filt or "{}")
        except json.JSONDecodeError:
            f = {}
        out[name] = Budget(name, int(amount), cur or "USD", period or "month", f if isinstance(f, dict) else {},
                           "cache")
    return list(out.values())


def _unknown_keys(filt: dict[str, Any]) -> list[str]:
    return [k for k in filt if not (k in q.DIMENSIONS or (k.startswith("tag:") and len(k) > 4))]


def _filter_sets(filt: dict[str, Any]) -> list[dict[str, str | None]]:
    """One query filter per combination of listed values (the combinations are disjoint)."""
    keys = list(filt)
    choices = [v if isinstance(v, list) else [v] for v in filt.values()]
    return [dict(zip(keys, (str(x) for x in combo), strict=True)) for combo in itertools.product(*choices)]


def evaluate(conn: sqlite3.Connection, budget: Budget, as_of: date) -> BudgetStatus:
    """One budget as of a day (the last day with data)."""
    unknown = _unknown_keys(budget.filter)
    if unknown:
        return BudgetStatus(budget, "skipped", reason="not a cost budget (filter on " + ", ".join(unknown)
                            + "): not evaluated against the bill")
    start, end = period_bounds(budget.period, as_of)
    since = min(start, as_of - timedelta(days=HISTORY_DAYS - 1))
    until = as_of + timedelta(days=1)
    daily: dict[date, int] = {}
    others: dict[str, int] = {}
    for f in _filter_sets(budget.filter):
        for cur, amount in q.total(conn, start, until, filters=f).items():
            if cur != budget.currency and amount:
                others[cur] = others.get(cur, 0) + amount
        pts = q.spend_series(conn, None, since, until, filters={**f, "billing_currency": budget.currency})
        for ds, v in pts.get(None, {}).items():
            day = date.fromisoformat(ds)
            daily[day] = daily.get(day, 0) + v
    d = since
    while d <= as_of:  # days without spend are zero-spend days, not missing ones
        daily.setdefault(d, 0)
        d += timedelta(days=1)
    fc = period_forecast(daily, as_of, start, end)
    actual = fc.actual_mtd
    crossing: date | None = None
    run = 0
    d = start
    while d <= end:
        run += daily.get(d, 0) if d <= as_of else fc.daily.get(d, 0)
        if run >= budget.amount:
            crossing = d
            break
        d += timedelta(days=1)
    if actual >= budget.amount:
        status = "over"
    elif fc.month_end >= budget.amount or actual >= AT_RISK_USED * budget.amount:
        status = "at_risk"
    else:
        status = "ok"
    return BudgetStatus(budget, status, start, end, as_of, actual, fc, crossing, others)


def evaluate_all(conn: sqlite3.Connection, config: Any = None, as_of: date | None = None) -> list[BudgetStatus]:
    """Every budget, the worst first (over, at risk, ok, skipped; then by projected use)."""
    span = q.data_range(conn)
    budgets = budgets_of(conn, config)
    if span is None:
        return [BudgetStatus(b, "skipped", reason="no cost data") for b in budgets]
    day = min(span[1], as_of) if as_of else span[1]
    out = [evaluate(conn, b, day) for b in budgets]
    out.sort(key=lambda s: (STATUS_ORDER[s.status], -s.projected, s.budget.name))
    return out


def worst(statuses: list[BudgetStatus]) -> BudgetStatus | None:
    evaluated = [s for s in statuses if s.status != "skipped"]
    return evaluated[0] if evaluated else None



__all__ = ["STATUS_TITLES", "Budget", "BudgetStatus", "budgets_of", "evaluate", "evaluate_all", "period_bounds",
           "worst"]
