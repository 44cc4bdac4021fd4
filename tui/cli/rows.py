"""`costdeck report rows`: the daily cost rows themselves (FOCUS-named, money exact) as CSV or JSON
Lines, to a file (written beside it and renamed at the end: an interrupted export leaves nothing)
or to stdout. A progress bar on stderr when it is a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cache import Store, rows, timeutil
from cache import queries as q
from cache.text import clean
from providers.errors import CostdeckError

from .parser import UsageError


def parse_filters(items: list[str] | None) -> dict[str, str | None]:
    """--filter DIM=VALUE (DIM= : not set) -> the queries' filters; a bad one is a usage error."""
    out: dict[str, str | None] = {}
    for item in items or []:
        dim, sep, value = item.partition("=")
        dim = dim.strip()
        if not sep or not dim:
            raise UsageError(f"--filter {item!r}: expected DIM=VALUE (DIM= for not set)")
        try:
            q.check_dim(dim)
        except q.QueryError as exc:
            raise UsageError(f"--filter {item!r}: {exc}") from None
        out[dim] = value or None
    return out


def output_format(args: argparse.Namespace) -> str:
    """--format, else from --output's extension (.jsonl or .json: JSON Lines), else CSV."""
    if args.format:
        return "jsonl" if args.format == "json" else "csv"
    if args.output and Path(args.output).suffix.lower() in (".jsonl", ".json"):
        return "jsonl"
    return "csv"


def report_rows(store: Store, args: argparse.Namespace) -> int:
    from .report import _spend_window

    filters = parse_filters(args.filter)
    fmt = output_format(args)
    rng = q.data_range(store.conn)
    if rng is None and not (args.since and args.until):  # no cost data: an empty export, not an error
        since = until = args.since or args.until or timeutil.today()
    else:
        since, until = _spend_window(args, rng)
    if args.output is None:
        if args.force:
            raise UsageError("--force needs --output")
        rows.write_cost_rows(sys.stdout, fmt, store.conn, since, until, filters)
        sys.stdout.flush()
        return 0
    path = Path(args.output).expanduser()
    bar = None
    if sys.stderr.isatty():
        from .progress import RowsProgress

        bar = RowsProgress(f"exporting {path.name}")
    try:
        n = rows.export_cost_rows(store.conn, path, fmt, since, until, filters, force=args.force,
                                  progress=bar.update if bar else None)
    except rows.ExportExists:
        raise UsageError(f"{clean(path, 0)} exists: --force replaces it") from None
    except rows.ExportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # disk full, no permission: exit 1, nothing left behind
        raise CostdeckError(f"{clean(path, 0)}: cannot write the export ({exc.strerror or exc})") from None
    finally:
        if bar is not None:
            bar.done()
    print(f"costdeck: exported {n:,} rows to {clean(path, 0)}", file=sys.stderr)
    return 0
