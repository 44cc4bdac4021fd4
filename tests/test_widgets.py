"""Rendering helpers: literal text, sparklines, ticks, per-day periods."""

from __future__ import annotations

from datetime import date

from analysis.spend import days_in_periods, periods
from tui.widgets import clean, safe, sparkline


def test_flat_series_of_any_length_is_flat() -> None:
    for n in (7, 13, 27, 30, 90):
        line = sparkline([5] * n, 14)
        assert len(set(line)) == 1, (n, line)
    assert sparkline([0, 0, 0], 5) == "▁▁▁"
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"


def test_partial_periods_are_counted_in_days() -> None:
    since, until = date(2026, 11, 1), date(2026, 11, 28)  # a Sunday to a Saturday (exclusive)
    weeks = periods(since, until, "week")
    assert weeks[0] == "2026-10-26" and days_in_periods(weeks, since, until)[0] == 1
    assert sum(days_in_periods(weeks, since, until)) == 27
    months = periods(date(2026, 9, 15), date(2026, 11, 10), "month")
    assert days_in_periods(months, date(2026, 9, 15), date(2026, 11, 10)) == [16, 31, 9]
    # A flat daily cost summed per week looks flat once divided by the days of each week.
    per_week = [7 * d for d in days_in_periods(weeks, since, until)]
    assert len(set(sparkline([v / d for v, d in zip(per_week, days_in_periods(weeks, since, until), strict=True)]))) == 1


def test_data_strings_render_literally() -> None:
    hostile = "[bold red]x[/] \x1b[31mred\x1b[0m\nnext\u202eline"
    assert clean(hostile) == "[bold red]x[/] \\x1b[31mred\\x1b[0m\\x0anext\\u202eline"
    text = safe(hostile, 20)
    assert text.plain.endswith("…") and len(text.plain) == 20 and not text.spans


def test_sort_value_orders_dates_as_dates_not_by_their_year() -> None:
    from tui.widgets import sort_value

    cells = ["2026-06-20 → 06-30", "2026-05-21", "2026-06-27 → 06-30", "06-10→06-26"]
    assert sorted(cells[:3], key=sort_value) == ["2026-05-21", "2026-06-20 → 06-30", "2026-06-27 → 06-30"]
    assert sort_value("$1,234.50") < sort_value("$2k") and sort_value("12%") == (0, 12.0, "")
