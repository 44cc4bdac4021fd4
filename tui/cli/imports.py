"""`costdeck import`: FOCUS files (CSV, CSV.gz, Parquet) and ML run logs (.jsonl)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cache import Store

from .common import load_checked_config, recompute_recommendations, resolve_db
from .progress import ImportProgress


def cmd_import(args: argparse.Namespace) -> int:
    config = load_checked_config(args)
    path = resolve_db(args)
    created = not path.exists()
    try:
        return _import(args, config, path)
    except BaseException:
        if created:  # a failed import into a new cache leaves no file behind
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise


def _import(args: argparse.Namespace, config: Any, path: Path) -> int:
    from providers import runs_jsonl

    # ML run logs (.jsonl/.ndjson, or JSON objects with a run_id) are parsed first: a bad line exits 2
    # before anything is written; the FOCUS files keep their own path below.
    logs = [f for f in args.files if runs_jsonl.is_run_log(f)]
    parsed = runs_jsonl.parse_files(logs)
    args.files = [f for f in args.files if f not in logs]
    if not args.files:
        with Store(path) as store:
            for res in runs_jsonl.import_parsed(store, parsed, source_name=args.source):
                print(res.summary())
        return 0
    with Store(path) as store:
        results = _import_focus(store, args)
        if parsed:
            results += runs_jsonl.import_parsed(store, parsed, source_name=args.source)
        recs = recompute_recommendations(store, config)
    for res in results:
        print(res.summary())
    print(recs.summary())
    return 0


def _import_focus(store: Store, args: argparse.Namespace) -> list[Any]:
    """The FOCUS files, with a progress bar on a terminal."""
    from providers import focus

    progress = ImportProgress() if sys.stderr.isatty() else None
    results = focus.import_files(
        store, args.files, source_name=args.source, force=args.force, progress=progress
    )
    if progress:
        progress.done()
    return results
