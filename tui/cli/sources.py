"""`costdeck sources`: configured sources (even before their first sync) and any others in the cache."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from cache import Store, timeutil

from .common import load_checked_config, resolve_db
from .format import safe, wide_table


def cmd_sources(args: argparse.Namespace) -> int:
    """Configured sources (even before their first sync) and any others in the cache."""

    config = load_checked_config(args)
    infos, runs = _cached_sources(resolve_db(args))
    now = timeutil.now()
    names = list(config.sources) + sorted(n for n in infos if n not in config.sources)
    records = [_source_record(name, config.sources.get(name), infos.get(name), runs, now) for name in names]
    if not records:
        where = f" (config: {config.path}, not found)" if not config.exists else ""
        print(f"no sources{where}")
        return 0
    wide_table("Sources (rows: cost rows in the cache; API calls and error: the last sync)", records,
               right=("rows", "api_calls"))
    return 0


def _cached_sources(path: Path) -> tuple[dict[str, Any], dict[int, Any]]:
    """The sources in the cache by name, and the billed API calls of each one's last sync run."""
    infos: dict[str, Any] = {}
    runs: dict[int, Any] = {}
    if path.exists():
        with Store(path, readonly=True) as store:
            infos = {s.name: s for s in store.list_sources()}
            for row in store.conn.execute(
                "SELECT source_id, billed_api_calls FROM sync_runs WHERE id IN "
                "(SELECT max(id) FROM sync_runs GROUP BY source_id)"
            ):
                runs[row[0]] = row[1]
    return infos, runs


def _source_record(name: str, conf: Any, s: Any, runs: dict[int, Any], now: datetime) -> dict[str, Any]:
    """One table row: `conf` is the source's config (None: only in the cache), `s` its cache entry."""
    return {
        "source": name if conf else f"{name} (not in config)",
        "kind": conf.kind if conf else (s.kind if s else ""),
        "last_sync": timeutil.iso(s.last_sync) if s and s.last_sync else "never",
        "age": timeutil.humanize_age(now - s.last_sync) if s and s.last_sync else "",
        "status": (s.status or "") if s else "",
        "rows": s.cost_rows if s else 0,
        "api_calls": f"{s.api_calls} ({runs.get(s.id, 0)} billed)" if s else "",
        "error": safe(s.error or "") if s else "",
    }
