"""The Activity view's model: sources with their last sync, sync-run history, audit log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cache import timeutil


@dataclass(slots=True)
class SourceRow:
    name: str
    kind: str
    configured: bool
    last_sync: datetime | None = None
    status: str | None = None
    cost_rows: int = 0
    api_calls: int = 0
    billed_api_calls: int = 0
    duration_ms: int | None = None
    error: str | None = None
    last_ok: datetime | None = None


@dataclass(slots=True)
class RunRow:
    started_at: datetime
    finished_at: datetime | None
    status: str
    window: str
    rows: int
    api_calls: int
    billed_api_calls: int
    duration_ms: int | None
    error: str | None
    step_errors: dict[str, str]
    scanned: str | None = None  # what the sync's queries scanned (BigQuery bytes), for sources billed by bytes


@dataclass(slots=True)
class ActionRow:
    at: datetime
    actor: str
    action: str
    provider_name: str | None
    sub_account_id: str | None
    region_id: str | None
    resource_id: str | None
    dry_run: bool
    result: str
    error: str | None


def sources_overview(conn: sqlite3.Connection, configured: Iterable[tuple[str, str]]) -> list[SourceRow]:
    """Configured sources first (in config order), then sources only the cache knows (imports, demo)."""
    cached: dict[str, SourceRow] = {}
    for r in conn.execute(
        """SELECT s.id, s.name, s.kind,
                  r.finished_at, r.started_at, r.status, r.api_calls, r.billed_api_calls, r.duration_ms, r.error,
                  (SELECT max(finished_at) FROM sync_runs o WHERE o.source_id = s.id AND o.status IN ('ok', 'partial'))
                    AS last_ok,
                  (SELECT coalesce(sum(n), 0) FROM cost_summary_monthly m WHERE m.source_id = s.id) AS cost_rows
           FROM sources s
           LEFT JOIN sync_runs r ON r.id = (SELECT max(id) FROM sync_runs WHERE source_id = s.id
                                            AND (status != 'running' OR costdeck_run_alive(detail)))
           ORDER BY s.name"""
    ):
        cached[r[1]] = SourceRow(
            name=r[1],
            kind=r[2],
            configured=False,
            last_sync=timeutil.parse_instant_opt(r[3] or r[4]),
            status=r[5],
            api_calls=r[6] or 0,
            billed_api_calls=r[7] or 0,
            duration_ms=r[8],
            error=r[9],
            last_ok=timeutil.parse_instant_opt(r[10]),
            cost_rows=r[11],
        )
    out: list[SourceRow] = []
    for name, kind in configured:
        row = cached.pop(name, None) or SourceRow(name=name, kind=kind, configured=True)
        row.configured = True
        row.kind = kind
        out.append(row)
    out.extend(cached.values())
    return out


def sync_runs(conn: sqlite3.Connection, source: str, limit: int = 100) -> list[RunRow]:
    out = []
    for r in conn.execute(
        """SELECT r.started_at, r.finished_at, r.status, r.window_start, r.window_end, r.rows, r.api_calls,
                  r.billed_api_calls, r.duration_ms, r.error, r.detail
           FROM sync_runs r JOIN sources s ON s.id = r.source_id
           WHERE s.name = ? ORDER BY r.id DESC LIMIT ?""",
        (source, limit),
    ):
        try:
            detail: Any = json.loads(r[10] or "{}")
        except json.JSONDecodeError:
            detail = {}
        steps = detail.get("steps") if isinstance(detail, dict) else None
        step_errors = {
            name: str(st["error"])
            for name, st in (steps.items() if isinstance(steps, dict) else [])
            if isinstance(st, dict) and st.get("error")
        }
        out.append(
            RunRow(
                started_at=timeutil.parse_instant(r[0]),
                finished_at=timeutil.parse_instant_opt(r[1]),
                status=r[2],
                window=f"{r[3]} → {r[4]}" if r[3] else "",
                rows=r[5] or 0,
                api_calls=r[6] or 0,
                billed_api_calls=r[7] or 0,
                duration_ms=r[8],
                error=r[9],
                step_errors=step_errors,
                scanned=str(detail["scanned"]) if isinstance(detail, dict) and detail.get("scanned") else None,
            )
        )
    return out


def audit_log(conn: sqlite3.Connection, limit: int = 500) -> list[ActionRow]:
    return [
        ActionRow(
            at=timeutil.parse_instant(r[0]),
            actor=r[1],
            action=r[2],
            provider_name=r[3],
            sub_account_id=r[4],
            region_id=r[5],
            resource_id=r[6],
            dry_run=bool(r[7]),
            result=r[8],
            error=r[9],
        )
        for r in conn.execute(
            """SELECT at, actor, action, provider_name, sub_account_id, region_id, resource_id, dry_run,
                      result, error FROM actions ORDER BY at DESC, id DESC LIMIT ?""",
            (limit,),
        )
    ]
