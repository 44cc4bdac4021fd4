"""UTC clock and day helpers. Every instant costdeck handles is timezone-aware UTC.

`now()` honours COSTDECK_NOW (an ISO instant) so snapshot tests and demos can pin the clock.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta


def now() -> datetime:
    pinned = os.environ.get("COSTDECK_NOW")
    if pinned:
        return parse_instant(pinned)
    return datetime.now(UTC)


def today() -> date:
    return now().date()


def parse_instant(text: str) -> datetime:
    """Parse an ISO instant; a naive one is taken as UTC (billing data is UTC)."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def parse_instant_opt(text: str | None) -> datetime | None:
    """A stored ISO instant as aware UTC (naive text taken as UTC, as `parse_instant`); None when the
    value is missing (None or empty) or is not an ISO instant."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        return None


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: costdeck stores UTC instants only")
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def day_str(d: date) -> str:
    return d.isoformat()


def parse_day(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])


def days(start: date, end: date) -> list[date]:
    """Days in [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def humanize_age(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 0:
        return "in the future"
    if s < 90:
        return f"{s}s ago"
    if s < 90 * 60:
        return f"{s // 60}m ago"
    if s < 36 * 3600:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def duration_text(seconds: float) -> str:
    """A duration for people: 12.5s, 4m 05s, 3h 07m, then days (2d 4h)."""
    s = int(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400 * 2:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"
