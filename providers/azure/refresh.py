"""Per-item refresh bookkeeping of the incremental Azure steps (Monitor metrics per VM, Advisor per
subscription): the UTC day of each item's last successful fetch, kept as the step's
`ctx.mark_fetched` digest ({item: 'YYYY-MM-DD'}). An item is due when it was never fetched, its last
fetch failed, `every` UTC days have passed since, or `every` is 0 (every sync)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

from providers.base import SyncContext


def fetched_days(ctx: SyncContext, key: str) -> dict[str, str]:
    """{item: 'YYYY-MM-DD'} of the last successful fetch of each item of step `key`."""
    _at, digest = ctx.last_fetch(key)
    try:
        got = json.loads(digest) if digest else {}
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for item, day in (got.items() if isinstance(got, dict) else ()):
        try:
            date.fromisoformat(str(day))
        except ValueError:
            continue
        out[str(item)] = str(day)
    return out


def due(ctx: SyncContext, key: str, items: Iterable[str], every: int) -> tuple[list[str], dict[str, str]]:
    """(the items due now, in their order; every item's last fetch day)."""
    fetched = fetched_days(ctx, key)
    return [i for i in items if not every or i not in fetched
            or (ctx.today - date.fromisoformat(fetched[i])).days >= every], fetched


def mark(ctx: SyncContext, key: str, fetched: dict[str, str], done: Iterable[str], failed: Iterable[str]) -> None:
    """Record today's successful fetches (`done`); `failed` items lose their day (due next sync)."""
    kept = {i: day for i, day in fetched.items() if i not in set(failed)}
    kept.update({i: ctx.today.isoformat() for i in done})
    ctx.mark_fetched(key, json.dumps(kept, sort_keys=True, separators=(",", ":")))
