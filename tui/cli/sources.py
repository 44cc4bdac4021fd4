"""`costdeck sources`: configured sources (even before their first sync) and any others in the cache."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from cache import Store, timeutil
from cache.text import json_safe

from .common import load_checked_config, resolve_db
from .format import safe, wide_table, write_records


def cmd_sources(args: argparse.Namespace) -> int:
    """Configured sources (even before their first sync) and any others in the cache; --kinds: the kinds."""
    if args.kinds:
        return cmd_kinds(args)
    config = load_checked_config(args)
    infos, runs = _cached_sources(resolve_db(args))
    now = timeutil.now()
    names = list(config.sources) + sorted(n for n in infos if n not in config.sources)
    records = [_source_record(name, config.sources.get(name), infos.get(name), runs, now) for name in names]
    if args.format != "table":
        write_records(records, args.format)
        return 0
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
                "SELECT source_id, billed_api_calls, json_extract(detail, '$.scanned') FROM sync_runs WHERE id IN "
                "(SELECT max(id) FROM sync_runs GROUP BY source_id)"
            ):
                runs[row[0]] = (row[1], row[2])
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
        "api_calls": (f"{s.api_calls} ({runs.get(s.id, (0, None))[0]} billed)"
                      + (f", {runs[s.id][1]}" if runs.get(s.id, (0, None))[1] else "")) if s else "",
        "error": safe(s.error or "") if s else "",
    }


def kinds_records() -> list[dict[str, Any]]:
    """Every registered kind, from its adapter class and options model (what `sources --kinds` prints)."""
    from providers import registry
    from providers.options import describe

    out: list[dict[str, Any]] = []
    for kind, entry in registry.entries().items():
        try:
            cls = registry.get(kind)
        except registry.UnknownKind as exc:
            out.append({"kind": kind, "title": str(exc), "package": entry.distribution, "configurable": False,
                        "filled_by": "", "steps": [], "cleanup": [], "script": False, "options": [],
                        "error": str(exc)})
            continue
        options = [{"name": d.name, "type": d.type, "default": d.default, "required": d.required,
                    "description": d.description} for d in describe(cls.Options)]
        out.append({"kind": kind, "title": cls.title, "package": entry.distribution,
                    "configurable": cls.configurable, "filled_by": cls.filled_by, "steps": list(cls.steps),
                    "cleanup": list(cls.cleanup_providers), "script": cls.script_exporter() is not None,
                    "options": options, "error": None})
    return out


def cmd_kinds(args: argparse.Namespace) -> int:
    """`costdeck sources --kinds`: the kinds, their steps and options (types, defaults, meaning)."""
    records = kinds_records()
    from providers import registry

    for kind, lost in registry.shadowed().items():
        for e in lost:
            print(safe(f"costdeck: kind {kind!r} is registered twice: {e.target} ({e.distribution or '?'}) is "
                       "ignored"), file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(json_safe(json.dumps(records, indent=2, default=str, ensure_ascii=False)) + "\n")
        return 0
    if args.format == "csv":
        rows = []
        for r in records:
            for o in r["options"] or [None]:  # a kind without options (or that cannot load) still has a row
                rows.append({"kind": r["kind"], "option": o["name"] if o else "", "type": o["type"] if o else "",
                             "default": "" if not o or o["required"] or o["default"] is None else _toml(o["default"]),
                             "required": o["required"] if o else "", "description": o["description"] if o else
                             (r["error"] or r["title"])})
        write_records(rows, "csv")
        return 0
    for r in records:
        if r["error"]:
            print(safe(f"{r['kind']}: {r['error']}"))
            print()
            continue
        how = "[sources.NAME] kind = " + f'"{r["kind"]}"' if r["configurable"] else f"filled by `{r['filled_by']}`"
        rows = [{"option": o["name"], "type": o["type"],
                 "default": "required" if o["required"] else _toml(o["default"]),
                 "meaning": o["description"]} for o in r["options"]]
        extra = []
        if r["steps"]:
            extra.append("steps: " + ", ".join(r["steps"]))
        if r["cleanup"]:
            extra.append("cleanup: " + ", ".join(r["cleanup"]) + (" (script export)" if r["script"] else ""))
        head = f"{r['kind']}: {r['title']} ({how}{'; ' if extra else ''}{'; '.join(extra)})"
        if rows:
            wide_table(head, rows)
        else:
            print(safe(head) + (": no options" if not r["error"] else ""))
        print()
    return 0


def _toml(value: Any) -> str:
    """A default as it would be written in the config file."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)
