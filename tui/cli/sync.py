"""`costdeck sync`: sources synced concurrently, Ctrl-C cancels cleanly, a summary table at the end."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cache import Store

from .common import check_rules, load_checked_config, recompute_recommendations, resolve_db
from .format import safe, wide_table
from .parser import UsageError
from .progress import LiveSync, PlainSync

if TYPE_CHECKING:
    import threading


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync sources concurrently with a live display (TTY) or plain lines; exit 1 if any failed."""
    from providers.sync import run_sync

    config = load_checked_config(args)
    if not config.sources:
        where = config.path if config.exists else f"{config.path} (not found)"
        raise UsageError(f"no sources configured in {where}: add a [sources.NAME] table")
    selected = config.select(args.sources or None)  # unknown names: exit 2 before anything runs
    path = resolve_db(args)
    live = sys.stdout.isatty() and not args.plain
    view = LiveSync([s.name for s in selected]) if live else PlainSync()
    check_rules(config)
    results = _run_sync_interruptibly(run_sync, path, config, [s.name for s in selected], view)
    _sync_summary(results)
    with Store(path) as store:
        print(recompute_recommendations(store, config).summary())
    return 1 if any(r.status == "failed" for r in results) else 0


def _run_sync_interruptibly(run_sync: Any, path: Path, config: Any, names: list[str], view: Any) -> list[Any]:
    """run_sync in a thread; Ctrl-C cancels it (sources stop at their next request, data intact)."""
    import threading

    cancel = threading.Event()
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["results"] = run_sync(path, config, names, progress=view.update, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="costdeck-sync-main", daemon=True)
    with view:
        worker.start()
        _wait_or_cancel(done, cancel)
    if "error" in box:
        raise box["error"]
    return list(box["results"])


def _wait_or_cancel(done: threading.Event, cancel: threading.Event) -> None:
    """Wait for the sync; on Ctrl-C ask it to stop, give it up to a minute, then re-raise."""
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        print("costdeck: cancelling (each source keeps its previous data)...", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:
            done.wait(0.2)  # a second Ctrl-C stops waiting
        raise


def _sync_summary(results: list[Any]) -> None:
    records = [
        {
            "source": r.source,
            "status": r.status,
            "days": f"{r.window[0]}..{r.window[1] - timedelta(days=1)}" if r.window else "",
            "kind": "backfill" if r.first_sync else "incremental",
            "rows": f"{r.rows:,}",
            "api_calls": r.api_calls,
            "billed": f"{r.billed_api_calls} (${r.billed_api_calls * 0.01:.2f})",
            "retries": r.retries,
            "seconds": f"{r.duration_s:.1f}",
            "error": safe(r.error or ""),
        }
        for r in results
    ]
    if any(getattr(r, "scanned", None) for r in results):  # sources billed by bytes scanned (BigQuery)
        records = [{**{k: v for k, v in rec.items() if k not in ("retries", "seconds", "error")},
                    "scanned": safe(r.scanned or ""), "retries": rec["retries"], "seconds": rec["seconds"],
                    "error": rec["error"]} for rec, r in zip(records, results, strict=True)]
    wide_table("Sync summary (billed: Cost Explorer requests, $0.01 each)", records,
               right=("rows", "api_calls", "billed", "retries", "seconds"))
