"""Month-end forecast: month-to-date actuals plus a run rate with weekday rhythm.

The run rate is the mean of the last `window` days after removing each weekday's
factor (weekday mean / overall mean over the history); each remaining day of the
month is forecast as run rate x its weekday factor. With less than two weeks of
history the factors are 1 (a plain run rate).

The range (P10-P90) comes from the spread of the recent days around the run rate: each remaining
day varies with the daily noise (independent days) and the run rate itself may be off (the level
drifts: growth, a fleet scaled up), an error that adds up over the remaining days. `backtest`
measures both on a history: the month-end forecast made on day 7, 14 and 21 of each complete month
against the actual, and how often the actual fell inside the range.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median

Z80 = 1.2816  # the 10th/90th percentile of a normal distribution, in standard deviations


@dataclass(slots=True)
class Forecast:
    month_start: date
    as_of: date  # last day with actuals
    actual_mtd: int  # nanos
    forecast_rest: int  # nanos for the remaining days of the month
    run_rate: int  # nanos per (weekday-neutral) day
    weekday_factors: tuple[float, ...]  # Monday..Sunday
    rest_sd: float = 0.0  # nanos: the standard deviation of forecast_rest
    end: date | None = None  # the last day forecast (default: the month's last day)
    daily: dict[date, int] = field(default_factory=dict)  # forecast per remaining day (nanos)

    @property
    def month_end(self) -> int:
        return self.actual_mtd + self.forecast_rest

    @property
    def p10(self) -> int:
        return max(self.actual_mtd, self.month_end - int(round(Z80 * self.rest_sd)))

    @property
    def p90(self) -> int:
        return self.month_end + int(round(Z80 * self.rest_sd))


def weekday_factors(daily: Mapping[date, int], end: date, weeks: int = 8) -> tuple[float, ...]:
    start = end - timedelta(days=weeks * 7 - 1)
    sums = [0] * 7
    counts = [0] * 7
    d = start
    while d <= end:
        if d in daily:
            sums[d.weekday()] += daily[d]
            counts[d.weekday()] += 1
        d += timedelta(days=1)
    if min(counts) < 2:
        return (1.0,) * 7
    means = [s / c for s, c in zip(sums, counts, strict=True)]
    overall = sum(means) / 7
    if overall <= 0:
        return (1.0,) * 7
    return tuple(m / overall for m in means)


def month_last_day(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def month_end_forecast(daily: Mapping[date, int], as_of: date, window: int = 14) -> Forecast:
    """Forecast the month containing `as_of` from daily totals (nanos) up to as_of inclusive."""
    return period_forecast(daily, as_of, as_of.replace(day=1), month_last_day(as_of), window)


def next_month_forecast(daily: Mapping[date, int], as_of: date, window: int = 14) -> Forecast:
    """The whole next month (no actuals yet), from the same run rate and rhythm."""
    start = month_last_day(as_of) + timedelta(days=1)
    return period_forecast(daily, as_of, start, month_last_day(start), window)


def period_forecast(daily: Mapping[date, int], as_of: date, start: date, end: date,
                    window: int = 14) -> Forecast:
    """Forecast [start, end] from daily totals (nanos) up to as_of inclusive: the actuals of the
    period up to as_of plus run rate x weekday factor for each day after it, with a P10-P90 range."""
    factors = weekday_factors(daily, as_of)
    actual = sum(v for d, v in daily.items() if start <= d <= as_of)
    days = [as_of - timedelta(days=i) for i in range(window)]
    recent = [daily[d] / (factors[d.weekday()] or 1.0) for d in days if d in daily]
    run_rate = sum(recent) / len(recent) if recent else 0.0
    # the spread of a day around the run rate (robust), and of the run rate over the weeks before
    devs = sorted(abs(v - run_rate) for v in recent)
    day_sd = 1.4826 * median(devs) if devs else 0.0
    longer = [daily[as_of - timedelta(days=i)] / (factors[(as_of - timedelta(days=i)).weekday()] or 1.0)
              for i in range(window, window * 4) if (as_of - timedelta(days=i)) in daily]
    drift = abs(run_rate - sum(longer) / len(longer)) if longer else day_sd
    level_sd = math.hypot(day_sd / math.sqrt(max(1, len(recent))), drift, 0.05 * run_rate)
    per_day: dict[date, int] = {}
    rest = 0.0
    n = 0
    d = max(as_of + timedelta(days=1), start)
    while d <= end:
        v = run_rate * factors[d.weekday()]
        per_day[d] = int(round(v))
        rest += v
        n += 1
        d += timedelta(days=1)
    rest_sd = math.hypot(day_sd * math.sqrt(n), level_sd * n)
    return Forecast(
        month_start=start,
        as_of=as_of,
        actual_mtd=int(actual),
        forecast_rest=int(round(rest)),
        run_rate=int(round(run_rate)),
        weekday_factors=factors,
        rest_sd=rest_sd,
        end=end,
        daily=per_day,
    )


@dataclass(slots=True)
class BacktestPoint:
    month: date
    day: int  # the forecast was made on this day of the month
    forecast: int
    actual: int
    p10: int
    p90: int

    @property
    def error(self) -> float:
        """Relative error of the month-end forecast (signed)."""
        return (self.forecast - self.actual) / self.actual if self.actual else 0.0

    @property
    def held(self) -> bool:
        return self.p10 <= self.actual <= self.p90


def backtest(daily: Mapping[date, int], days_of_month: tuple[int, ...] = (7, 14, 21),
             min_history: int = 28) -> list[BacktestPoint]:
    """The month-end forecast made on each of `days_of_month` of every complete month with at least
    `min_history` days of history before it, against the month's actual total."""
    if not daily:
        return []
    first, last = min(daily), max(daily)
    out: list[BacktestPoint] = []
    m = first.replace(day=1)
    while month_last_day(m) <= last:
        actual = sum(v for d, v in daily.items() if m <= d <= month_last_day(m))
        for k in days_of_month:
            as_of = m.replace(day=k)
            if (as_of - first).days + 1 < min_history:
                continue
            hist = {d: v for d, v in daily.items() if d <= as_of}
            f = month_end_forecast(hist, as_of)
            out.append(BacktestPoint(m, k, f.month_end, actual, f.p10, f.p90))
        m = month_last_day(m) + timedelta(days=1)
    return out
