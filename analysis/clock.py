"""The time a cache is judged at.

A cache is a snapshot: an old one (a FOCUS file of last year, `costdeck demo --as-of 2026-06-30` opened in
November) is judged as of its own time, not the wall clock's. The reference time is the earlier of
`timeutil.now()` (which honours COSTDECK_NOW) and the cache's `meta.snapshot_time` (set by sync, import
and the demo); without a snapshot time it is now. Running ML runs are costed up to it, days to a
commitment's expiry count from it, and windows "ending today" never pass it.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

from cache import timeutil


def snapshot_time(conn: sqlite3.Connection) -> datetime | None:
    """meta.snapshot_time, or None when absent or unreadable."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='snapshot_time'").fetchone()
    except sqlite3.Error:
        return None
    if not row or not row[0]:
        return None
    try:
        return timeutil.parse_instant(str(row[0]))
    except ValueError:
        return None


def reference_time(conn: sqlite3.Connection) -> datetime:
    """min(now, the cache's snapshot time)."""
    now = timeutil.now()
    snap = snapshot_time(conn)
    return min(now, snap) if snap is not None else now


def reference_day(conn: sqlite3.Connection) -> date:
    return reference_time(conn).date()


__all__ = ["reference_day", "reference_time", "snapshot_time"]
