"""Month-end forecast: month-to-date actuals plus a run rate with weekday rhythm.

The run rate is the mean of the last `window` days after removing each weekday's
factor (weekday mean / overall mean over the history); each remaining day of the
month is forecast as run rate x its weekday factor. With less than two weeks of
history the factors are 1 (a plain run rate).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(slots=True)
class Forecast:
    month_start: date
    as_of: date  # last day with actuals
    actual_mtd: int  # nanos
    forecast_rest: int  # nanos for the remaining days of the month
    run_rate: int  # nanos per (weekday-neutral) day
    weekday_factors: tuple[float, ...]  # Monday..Sunday

    @property
    def month_end(self) -> int:
        return self.actual_mtd + self.forecast_rest


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


def month_end_forecast(daily: Mapping[date, int], as_of: date, window: int = 14) -> Forecast:
    """Forecast the month containing `as_of` from daily totals (nanos) up to as_of inclusive."""
    ms = as_of.replace(day=1)
    factors = weekday_factors(daily, as_of)
    actual = sum(v for d, v in daily.items() if ms <= d <= as_of)
    recent = [
        daily.get(as_of - timedelta(days=i), 0) / (factors[(as_of - timedelta(days=i)).weekday()] or 1.0)
        for i in range(window)
        if (as_of - timedelta(days=i)) in daily
    ]
    run_rate = sum(recent) / len(recent) if recent else 0.0
    last = calendar.monthrange(as_of.year, as_of.month)[1]
    rest = 0.0
    d = as_of + timedelta(days=1)
    while d.month == as_of.month and d.day <= last:
        rest += run_rate * factors[d.weekday()]
        d += timedelta(days=1)
    return Forecast(
        month_start=ms,
        as_of=as_of,
        actual_mtd=int(actual),
        forecast_rest=int(round(rest)),
        run_rate=int(round(run_rate)),
        weekday_factors=factors,
    )
