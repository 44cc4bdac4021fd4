"""The Overview's figures, computed from the cache (pure, no UI).

"Today" for the Overview is the last day with cost data (a snapshot of last
September opened today still shows September), never past the clock's today.
All amounts are in the cache's main currency; other currencies are not mixed in.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta

from cache import queries as q
from cache import timeutil
from cache.money import pct_change

from .forecast import Forecast, month_end_forecast


@dataclass(slots=True)
class Change:
    value: str | None
    label: str | None
    now: int
    before: int

    @property
    def pct(self) -> float | None:
        return pct_change(self.now, self.before)


@dataclass(slots=True)
class Overview:
    has_data: bool
    currency: str = "USD"
    as_of: date | None = None
    mtd: int = 0
    prev_same: int = 0
    prev_range: tuple[date, date] | None = None  # [start, end) of the comparison days
    last_month_total: int = 0
    last_month: date | None = None  # first day of last month
    forecast: Forecast | None = None
    chart_days: list[date] = field(default_factory=list)
    chart_series: dict[str, list[int]] = field(default_factory=dict)
    top_services: list[Change] = field(default_factory=list)
    top_accounts: list[Change] = field(default_factory=list)
    other_currencies: list[str] = field(default_factory=list)
    data_start: date | None = None  # the first day with cost data: periods before it have no data

    @property
    def mtd_pct(self) -> float | None:
        return pct_change(self.mtd, self.prev_same)


def same_days_last_month(as_of: date) -> tuple[date, date]:
    """[start, end) of last month's days 1..as_of.day (clipped to its length)."""
    prev_start = timeutil.add_months(as_of.replace(day=1), -1)
    this_start = as_of.replace(day=1)
    end = min(prev_start + timedelta(days=as_of.day), this_start)
    return prev_start, end


def _changes(groups_now: list[q.Group], groups_before: list[q.Group], top: int) -> list[Change]:
    before = {g.value: g.cost for g in groups_before}
    return [Change(g.value, g.label, g.cost, before.get(g.value, 0)) for g in groups_now[:top]]


def build_overview(conn: sqlite3.Connection, chart_days: int = 30, top: int = 8) -> Overview:
    rng = q.data_range(conn)
    if rng is None:
        return Overview(has_data=False)
    currency = q.main_currency(conn)
    cur_filter: dict[str, str | None] = {"billing_currency": currency}
    as_of = min(rng[1], timeutil.today())
    ms = as_of.replace(day=1)
    end = as_of + timedelta(days=1)
    prev_lo, prev_hi = same_days_last_month(as_of)
    last_month = timeutil.add_months(ms, -1)

    def tot(lo: date, hi: date) -> int:
        return q.total(conn, lo, hi, "billed", cur_filter).get(currency, 0)

    ov = Overview(has_data=True, currency=currency, as_of=as_of, data_start=rng[0])
    ov.mtd = tot(ms, end)
    ov.prev_same = tot(prev_lo, prev_hi)
    ov.prev_range = (prev_lo, prev_hi)
    ov.last_month = last_month
    ov.last_month_total = tot(last_month, ms)

    hist_lo = as_of - timedelta(days=62)
    series = q.spend_series(conn, None, hist_lo, end, "billed", cur_filter).get(None, {})
    daily = {date.fromisoformat(k): v for k, v in series.items()}
    ov.forecast = month_end_forecast(daily, as_of)

    lo = as_of - timedelta(days=chart_days - 1)
    ov.chart_days = timeutil.days(lo, end)
    by_provider = q.spend_series(conn, "provider_name", lo, end, "billed", cur_filter)
    order = sorted(by_provider, key=lambda k: -sum(by_provider[k].values()))
    for prov in order:
        ov.chart_series[prov or "(none)"] = [by_provider[prov].get(d.isoformat(), 0) for d in ov.chart_days]

    for by, attr in (("service_name", "top_services"), ("sub_account_id", "top_accounts")):
        now_g = q.spend_by(conn, by, ms, end, "billed", cur_filter)
        before_g = q.spend_by(conn, by, prev_lo, prev_hi, "billed", cur_filter)
        setattr(ov, attr, _changes(now_g, before_g, top))
    all_cur = q.dim_values(conn, "billing_currency")
    ov.other_currencies = [c for c, _ in all_cur if c != currency]
    return ov
