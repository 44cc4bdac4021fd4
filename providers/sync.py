"""Sync orchestration: every selected source concurrently, each in its own thread and Store.

    results = run_sync(db_path, config, names=None, progress=callback)

* Callable from any thread (a Textual thread worker included): no signals, no global state.
  `progress(SourceProgress)` is called from the worker threads (rate-limited, and on every step
  change and at the end); a GUI must hop to its own thread (e.g. `app.call_from_thread`).
  Pass `cancel` (a threading.Event) to stop early: running sources end "failed: cancelled" at
  their next request or step, their cost window untouched.
* Cost window: the first sync of a source backfills `backfill_months` (the current month and
  the previous N-1 months); later syncs fetch from the last successfully synced day minus
  `refetch_days` (late-arriving charges) to today, UTC (exclusive end: tomorrow).
* Each source's costs for its window are written in ONE transaction (ctx.write_costs): a failing
  or interrupted source keeps its previous data; other sources are unaffected. The outcome
  (status ok | partial | failed, the one-line error, rows, API calls, billed API calls, per-step
  detail) is stored on the source's sync_runs row and returned. After a sync that is not
  "failed", meta.snapshot_time is set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cache import Store, timeutil
from cache.store import SyncRun

from . import registry
from .base import CostOptions, FatalSourceError, SourceProgress, SyncContext, one_line
from .config import Config, SourceConfig
from .options import Model

MAX_WORKERS = 8
# Waiting for another writer's lock: the cache's one setting (cache.lock_timeout(), COSTDECK_LOCK_TIMEOUT).


class SyncCancelled(FatalSourceError):
    pass


@dataclass(frozen=True)
class SourceResult:
    source: str
    kind: str
    status: str  # ok | partial | failed
    rows: int = 0
    api_calls: int = 0
    billed_api_calls: int = 0
    retries: int = 0
    window: tuple[date, date] | None = None
    first_sync: bool = False
    duration_s: float = 0.0
    error: str | None = None
    step_errors: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_id: int | None = None
    scanned: str | None = None  # what querying the source scanned (BigQuery bytes), when it bills by bytes

    @property
    def ok(self) -> bool:
        return self.status != "failed"


# -- windows ----------------------------------------------------------------------------------


def backfill_start(today: date, months: int) -> date:
    """First day of the backfill: the current month and the previous months-1 months."""
    return timeutil.add_months(timeutil.month_start(today), -(max(1, months) - 1))


def synced_cost_windows(store: Store, source_id: int) -> tuple[tuple[date, date], date] | None:
    """(the latest written cost window, the earliest day ever written) of the source, or None."""
    ok = "source_id=? AND status IN ('ok', 'partial') AND json_extract(detail, '$.cost_window') IS NOT NULL"
    row = store.conn.execute(
        f"SELECT json_extract(detail, '$.cost_window[0]'), json_extract(detail, '$.cost_window[1]') "
        f"FROM sync_runs WHERE {ok} ORDER BY id DESC LIMIT 1",
        (source_id,),
    ).fetchone()
    if row is None or not row[0] or not row[1]:
        return None
    earliest = store.conn.execute(
        f"SELECT min(json_extract(detail, '$.cost_window[0]')) FROM sync_runs WHERE {ok}", (source_id,)
    ).fetchone()[0]
    return (date.fromisoformat(row[0]), date.fromisoformat(row[1])), date.fromisoformat(earliest)


def cost_window(store: Store, source_id: int, options: Model, today: date) -> tuple[tuple[date, date], bool]:
    """(window [start, end), first_sync) for this source's next sync.

    First sync: the backfill. Later: from the last synced day minus refetch_days, to today
    (end exclusive: tomorrow). If backfill_months was raised since, or the last sync is older
    than the backfill, the whole backfill is fetched again.
    """
    plain = CostOptions()  # kinds that sync no costs: the defaults
    months = int(getattr(options, "backfill_months", plain.backfill_months))
    refetch = int(getattr(options, "refetch_days", plain.refetch_days))
    start0 = backfill_start(today, months)
    end = today + timedelta(days=1)
    synced = synced_cost_windows(store, source_id)
    if synced is None:
        return (start0, end), True
    last, earliest = synced
    last_day = min(last[1] - timedelta(days=1), today)
    start = max(start0, last_day - timedelta(days=refetch))
    if earliest > start0:  # a longer backfill is configured than was ever fetched
        start = start0
    return (min(start, today), end), False


# -- running ---------------------------------------------------------------------------------------


def run_sync(
    db_path: str | Path,
    config: Config,
    names: list[str] | None = None,
    progress: Callable[[SourceProgress], None] | None = None,
    *,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
    max_workers: int | None = None,
) -> list[SourceResult]:
    """Sync the named sources (all configured when None/empty); results in config order.

    Raises InputError for unknown source names (nothing runs then). Source failures do not
    raise: they are in the results (status "failed") and on their sync_runs rows.
    """
    selected = config.select(names)
    if not selected:
        return []
    at = now or timeutil.now()
    # Migrate (and create) the cache once, before the threads open their own connections.
    Store(db_path).close()
    if progress is not None:
        for src in selected:
            progress(SourceProgress(source=src.name, kind=src.kind, status="queued"))
    workers = max(1, min(max_workers or MAX_WORKERS, len(selected)))
    if workers == 1:
        return [_sync_one(Path(db_path), src, progress, cancel, at) for src in selected]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="costdeck-sync") as pool:
        futures = [pool.submit(_sync_one, Path(db_path), src, progress, cancel, at) for src in selected]
        return [f.result() for f in futures]


def _sync_one(
    db_path: Path,
    src: SourceConfig,
    progress: Callable[[SourceProgress], None] | None,
    cancel: threading.Event | None,
    at: datetime,
) -> SourceResult:
    t0 = time.monotonic()
    try:
        store = Store(db_path)
    except Exception as exc:  # noqa: BLE001 - one source's failure is a result, not a crash
        return _failed_early(src, progress, one_line(exc), t0)
    try:
        source_id, window, first, run = _begin(store, src, at)
        ctx = SyncContext(store=store, source_id=source_id, source_name=src.name, kind=src.kind,
                          options=src.options, now=at, cost_window=window, first_sync=first, on_progress=progress)
        if cancel is not None:
            _watch_cancel(ctx, cancel)
        fatal = _run_adapter(src, ctx, db_path)
        status, error = _outcome(ctx, fatal)
        _finish(store, run, ctx, status, error)
        result = SourceResult(
            source=src.name, kind=src.kind, status=status, rows=ctx.rows, api_calls=ctx.counter.api_calls,
            billed_api_calls=ctx.counter.billed_api_calls, retries=ctx.counter.retries, window=window,
            first_sync=first, duration_s=time.monotonic() - t0, error=error, step_errors=ctx.step_errors(),
            steps={n: s.as_dict() for n, s in ctx.steps.items()}, run_id=run.id,
            scanned=ctx.detail.get("scanned") if isinstance(ctx.detail.get("scanned"), str) else None,
        )
        ctx.on_progress = progress
        if progress is not None:
            progress(ctx.snapshot(status=status, error=error))
        return result
    except Exception as exc:  # noqa: BLE001 - e.g. the cache is locked or full
        return _failed_early(src, progress, one_line(exc), t0)
    finally:
        store.close()


def _begin(store: Store, src: SourceConfig, at: datetime) -> tuple[int, tuple[date, date], bool, SyncRun]:
    """Register the source, close the runs of killed processes, pick the window, open the run."""
    with store.transaction():
        source_id = store.ensure_source(src.name, src.kind, src.options.as_dict())
        # a run left "running" by a process that is gone is over (a live one, e.g. in another
        # terminal, is left alone)
        store.conn.execute(
            "UPDATE sync_runs SET status='failed', error=?, finished_at=? WHERE source_id=? AND status='running' "
            "AND NOT costdeck_run_alive(detail)",
            ("interrupted: the process ended before the sync finished", timeutil.iso(at), source_id),
        )
        window, first = cost_window(store, source_id, src.options, at.date())
        run = store.start_sync_run(source_id, window)
    return source_id, window, first, run


def _run_adapter(src: SourceConfig, ctx: SyncContext, db_path: Path) -> str | None:
    """Run the kind's adapter; the one-line error that stopped the source, or None."""
    try:
        adapter = registry.get(src.kind)(src.name, src.options, db_path)
    except Exception as exc:  # noqa: BLE001 - e.g. the adapter failed to import
        return one_line(exc)
    try:
        adapter.sync(ctx)
    except Exception as exc:  # noqa: BLE001 - a fatal error ends this source only
        return one_line(adapter.translate_error(exc))
    return None


def _outcome(ctx: SyncContext, fatal: str | None) -> tuple[str, str | None]:
    """(status ok | partial | failed, the one-line error) from the steps and the fatal error."""
    step_errors = ctx.step_errors()
    for s in ctx.steps.values():
        if fatal and s.status in ("pending", "running"):
            s.status = "skipped"
    if fatal:
        return "failed", fatal
    joined = "; ".join(f"{k}: {v}" for k, v in step_errors.items())
    if step_errors and not any(s.status == "ok" for s in ctx.steps.values()):
        return "failed", joined
    if step_errors:
        return "partial", joined
    return "ok", None


def _finish(store: Store, run: SyncRun, ctx: SyncContext, status: str, error: str | None) -> None:
    """Record the run's outcome (rows, requests, per-step detail) and, unless it failed, the snapshot time."""
    run.rows = ctx.rows
    run.api_calls = ctx.counter.api_calls
    run.billed_api_calls = ctx.counter.billed_api_calls
    run.detail = {
        **ctx.detail,
        "first_sync": ctx.first_sync,
        "retries": ctx.counter.retries,
        "requests": dict(sorted(ctx.counter.by_operation.items())),
        "steps": {n: s.as_dict() for n, s in ctx.steps.items()},
    }
    # the step that writes the cost window: "costs", or the one a kind names (OpenCost: "allocation")
    window_step = str(run.detail.pop("cost_window_step", "costs"))
    if ctx.steps.get(window_step) is None or ctx.steps[window_step].status != "ok":
        run.detail.pop("cost_window", None)  # the next sync's window starts from the last good one
    store.finish_sync_run(run, status, error)
    if status != "failed":
        store.touch_snapshot(timeutil.now())


def _failed_early(
    src: SourceConfig, progress: Callable[[SourceProgress], None] | None, error: str, t0: float
) -> SourceResult:
    if progress is not None:
        progress(SourceProgress(source=src.name, kind=src.kind, status="failed", error=error))
    return SourceResult(source=src.name, kind=src.kind, status="failed", error=error,
                        duration_s=time.monotonic() - t0)


def _watch_cancel(ctx: SyncContext, cancel: threading.Event) -> None:
    """Make the context raise SyncCancelled at its next progress point once `cancel` is set."""
    user_cb = ctx.on_progress

    def cb(p: SourceProgress) -> None:
        if cancel.is_set():
            raise SyncCancelled("cancelled")
        if user_cb is not None:
            user_cb(p)

    ctx.on_progress = cb
    ctx.min_interval_s = 0.0 if user_cb is None else ctx.min_interval_s


__all__ = [
    "SourceProgress",
    "SourceResult",
    "SyncCancelled",
    "backfill_start",
    "cost_window",
    "run_sync",
]
