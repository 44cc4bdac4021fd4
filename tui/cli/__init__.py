"""The `costdeck` command line: one entry point, subcommands, exit codes 0/1/2.

Errors are one line (`costdeck: error: ...`); `--debug` shows the traceback.
Textual is imported only when the dashboard opens, so scripted commands start fast; every module of
this package imports its heavy dependencies (rich, analysis, the providers) inside the functions.

    parser.py           argparse: the global options and one builder per command
    common.py           the cache and demo paths, the validated config, the recommendation recompute
    dashboard.py        open (the default) and demo
    imports.py          import (FOCUS files, ML run logs)
    sync.py             sync;  progress.py: the import bar and the live/plain sync display
    sources.py          sources
    track.py            track
    report.py           report: the dispatcher, spend and ml-runs; commitments.py, recommendations.py,
                        rules.py and rows.py (the cost rows export) the other reports
    format.py           table/CSV/JSON output of records, the wide status tables
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from cache import LOCK_WAIT_MESSAGE, CacheError, LockWait, set_lock_wait_hook, set_migrate_hook
from cache.text import clean
from providers.errors import CostdeckError

from .anomalies import cmd_anomalies, cmd_check
from .commitments import report_commitments
from .common import check_rules, demo_db_path, load_checked_config, recompute_recommendations, resolve_db
from .dashboard import cmd_demo, cmd_open, prepare_open
from .format import write_records
from .imports import cmd_import
from .parser import UsageError, build_parser
from .recommendations import report_recommendations
from .report import cmd_report, report_ml_runs, report_spend
from .rules import report_rules
from .sources import cmd_sources
from .sync import cmd_sync
from .track import cmd_track

__all__ = [
    "UsageError", "build_parser", "check_rules", "cmd_anomalies", "cmd_check", "cmd_demo", "cmd_import", "cmd_open",
    "cmd_report",
    "cmd_sources", "cmd_sync", "cmd_track", "demo_db_path", "load_checked_config", "main", "prepare_open",
    "recompute_recommendations", "report_commitments", "report_ml_runs", "report_recommendations",
    "report_rules", "report_spend", "resolve_db", "run", "write_records",
]


def _say_migrating(path: Path, old: int, new: int) -> None:
    print(f"costdeck: upgrading the cache {clean(path, 0)} from schema version {old} to {new} (once; a large "
          "cache takes minutes, and nothing is lost if it is interrupted)…", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    set_lock_wait_hook(_say_waiting)  # a writer blocked by another costdeck says so (once per wait)
    set_migrate_hook(_say_migrating)  # a large cache's one-time upgrade takes minutes: say so first
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        return run(args)
    except KeyboardInterrupt:
        print("costdeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `costdeck report ... | head`: the reader has gone; stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (CostdeckError, CacheError) as exc:
        if debug:
            raise
        print(f"costdeck: error: {clean(exc, 0)}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except sqlite3.DatabaseError as exc:  # a damaged cache found by a query, not at open
        if debug:
            raise
        where = f"{clean(resolve_db(args), 0)}: " if args is not None else ""
        print(f"costdeck: error: {where}cannot read the cache ({clean(exc, 0)})", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last-resort one-liner
        if debug:
            raise
        print(f"costdeck: error: {type(exc).__name__}: {clean(exc, 0)} (run with --debug for details)",
              file=sys.stderr)
        return 1


def _say_waiting(wait: LockWait) -> None:
    if wait.first:
        print(f"costdeck: {LOCK_WAIT_MESSAGE} (up to {wait.timeout:g} s; COSTDECK_LOCK_TIMEOUT sets it)",
              file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    cmd = args.command or "open"
    if cmd == "open":
        return cmd_open(args)
    if cmd == "demo":
        return cmd_demo(args)
    if cmd == "import":
        return cmd_import(args)
    if cmd == "report":
        return cmd_report(args)
    if cmd == "sources":
        return cmd_sources(args)
    if cmd == "sync":
        return cmd_sync(args)
    if cmd == "track":
        return cmd_track(args)
    if cmd == "check":
        return cmd_check(args)
    if cmd == "anomalies":
        return cmd_anomalies(args)
    raise UsageError(f"unknown command {cmd!r}")
