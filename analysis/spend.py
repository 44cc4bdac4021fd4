"""The Spend explorer's model: time presets, drill-down paths and the grouped table.

Pure logic over cache.queries; the TUI renders what this returns.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta

from cache import queries as q
from cache import timeutil
from cache.money import pct_change

PRESETS = ("7d", "30d", "90d", "mtd", "last_month", "custom")
PRESET_TITLES = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "mtd": "Month to date",
    "last_month": "Last month",
    "custom": "Custom",
}

GROUP_DIMS = (
    "provider_name",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "service_category",
    "region_id",
    "resource_type",
    "resource_id",
)

# Enter on a group of `key` drills into the next dimension.
DRILL: dict[str, str] = {
    "provider_name": "service_name",
    "billing_account_id": "sub_account_id",
    "sub_account_id": "service_name",
    "service_category": "service_name",
    "service_name": "resource_id",
    "region_id": "service_name",
    "resource_type": "resource_id",
    "charge_category": "service_name",
}


def drill_target(by: str) -> str | None:
    if by.startswith("tag:"):
        return "service_name"
    return DRILL.get(by)


def preset_range(preset: str, anchor: date) -> tuple[date, date]:
    """[since, until) for a preset, ending with `anchor` (the last day with data) inclusive."""
    end = anchor + timedelta(days=1)
    if preset == "7d":
        return end - timedelta(days=7), end
    if preset == "30d":
        return end - timedelta(days=30), end
    if preset == "90d":
        return end - timedelta(days=90), end
    if preset == "mtd":
        return anchor.replace(day=1), end
    if preset == "last_month":
        ms = anchor.replace(day=1)
        return timeutil.add_months(ms, -1), ms
    raise ValueError(f"unknown preset {preset!r}")


def previous_period(since: date, until: date, preset: str | None = None) -> tuple[date, date]:
    """The comparison period: the previous calendar month for month presets, else the same length before."""
    if preset in ("mtd", "last_month"):
        prev_start = timeutil.add_months(since, -1)
        length = (until - since).days
        return prev_start, min(prev_start + timedelta(days=length), since)
    span = until - since
    return since - span, since


@dataclass(slots=True)
class SpendRow:
    value: str | None
    label: str | None
    extra: str | None
    currency: str
    cost: int
    previous: int
    share: float  # of the table's total in the same currency, 0..1
    series: list[int] = field(default_factory=list)

    @property
    def change_pct(self) -> float | None:
        return pct_change(self.cost, self.previous)

    def matches(self, needle: str) -> bool:
        n = needle.casefold()
        return any(n in (s or "").casefold() for s in (self.value, self.label, self.extra))


@dataclass(slots=True)
class SpendTable:
    by: str
    since: date
    until: date
    metric: str
    grain: str
    filters: dict[str, str | None]
    rows: list[SpendRow]
    totals: dict[str, int]
    periods: list[str]  # period starts of the chart/sparklines
    period_days: list[int]  # days of each period inside [since, until) (the first and last may be partial)
    chart: dict[str, list[int]]  # top N + "other" series over periods (main currency)


def periods(since: date, until: date, grain: str) -> list[str]:
    out: list[str] = []
    d = since
    while d < until:
        if grain == "day":
            p = d
        elif grain == "week":
            p = d - timedelta(days=d.weekday())
        else:
            p = d.replace(day=1)
        s = p.isoformat()
        if not out or out[-1] != s:
            out.append(s)
        d += timedelta(days=1)
    return out


def build_table(
    conn: sqlite3.Connection,
    by: str,
    since: date,
    until: date,
    metric: str = "billed",
    grain: str = "day",
    filters: dict[str, str | None] | None = None,
    preset: str | None = None,
    top_n: int = 5,
    series_for: int = 200,
) -> SpendTable:
    filters = dict(filters or {})
    groups = q.spend_by(conn, by, since, until, metric, filters)
    p_lo, p_hi = previous_period(since, until, preset)
    before = {(g.value, g.currency): g.cost for g in q.spend_by(conn, by, p_lo, p_hi, metric, filters)}
    totals: dict[str, int] = {}
    for g in groups:
        totals[g.currency] = totals.get(g.currency, 0) + g.cost
    rows = [
        SpendRow(
            value=g.value,
            label=g.label,
            extra=g.extra,
            currency=g.currency,
            cost=g.cost,
            previous=before.get((g.value, g.currency), 0),
            share=(g.cost / totals[g.currency]) if totals.get(g.currency) else 0.0,
        )
        for g in groups
    ]
    pers = periods(since, until, grain)
    main_cur = max(totals, key=lambda c: abs(totals[c])) if totals else "USD"
    series_filters = {**filters, "billing_currency": main_cur} if len(totals) > 1 else filters
    shown = None if by.startswith("tag:") else [r.value for r in rows[:series_for]]
    series = q.spend_series(conn, by, since, until, metric, series_filters, grain, values=shown)
    for r in rows[:series_for]:
        if r.currency == main_cur:
            s = series.get(r.value, {})
            r.series = [s.get(p, 0) for p in pers]
    chart: dict[str, list[int]] = {}
    main_rows = [r for r in rows if r.currency == main_cur]
    for r in main_rows[:top_n]:
        chart[r.label or r.value or "(not set)"] = r.series or [series.get(r.value, {}).get(p, 0) for p in pers]
    rest = main_rows[top_n:]
    if rest:
        # The rest = the whole series minus the top ones (the per-group series were read for
        # the shown rows only).
        whole = q.spend_series(conn, None, since, until, metric, series_filters, grain).get(None, {})
        other = [whole.get(p, 0) for p in pers]
        for r in main_rows[:top_n]:
            s = series.get(r.value, {})
            for i, p in enumerate(pers):
                other[i] -= s.get(p, 0)
        chart[f"other ({len(rest)})"] = other
    return SpendTable(by, since, until, metric, grain, filters, rows, totals, pers, days_in_periods(pers, since, until),
                      chart)


def days_in_periods(pers: list[str], since: date, until: date) -> list[int]:
    """How many days of [since, until) each period holds (partial weeks/months at the edges)."""
    starts = [max(date.fromisoformat(p), since) for p in pers]
    ends = [*starts[1:], until]
    return [max(1, (b - a).days) for a, b in zip(starts, ends, strict=True)]
