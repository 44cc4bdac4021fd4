"""`costdeck import`: FOCUS files (CSV, CSV.gz, Parquet) and ML run logs (.jsonl)."""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from cache import Store
from providers.errors import InputError

from .common import load_checked_config, recompute_recommendations, resolve_db
from .progress import ImportProgress


def cmd_import(args: argparse.Namespace) -> int:
    config = load_checked_config(args)
    path = resolve_db(args)
    created = not path.exists()
    with tempfile.TemporaryDirectory(prefix="costdeck-stream-") as spool:
        given = list(args.files)
        args.files = [_regular(f, Path(spool) / str(i), args.source) for i, f in enumerate(given)]
        args.shown = {str(u): str(f) for f, u in zip(given, args.files, strict=True) if u != f}
        try:
            return _import(args, config, path)
        except InputError as exc:
            _remove_new_cache(created, path)
            raise InputError(_as_given(args, str(exc))) from None
        except BaseException:
            _remove_new_cache(created, path)
            raise


def _remove_new_cache(created: bool, path: Path) -> None:
    if created:  # a failed import into a new cache leaves no file behind
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _as_given(args: argparse.Namespace, text: str) -> str:
    """Text naming what the user gave (`/dev/fd/63`), not the spool copy it was read into."""
    for used, given in getattr(args, "shown", {}).items():
        text = text.replace(used, given)
    return text


def _regular(f: Path, spool: Path, source: str | None) -> Path:
    """The file to import: a regular file as it is; a pipe or FIFO (`costdeck import <(zcat x.gz)`) read
    once into a spool file first (its content can be read only once, and waiting on a FIFO nobody
    writes must not hang a second reader); anything else refused with one line."""
    try:
        mode = f.stat().st_mode
    except FileNotFoundError:
        return f  # the importers say "not found" with the rest of their checks
    except OSError as exc:
        raise InputError(f"{f}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode):
        return f
    if stat.S_ISDIR(mode):
        raise InputError(f"{f}: is a directory (name the files in it, e.g. {f}/*.parquet)")
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        raise InputError(f"{f}: not a regular file, a pipe or a FIFO")
    anonymous = str(f).startswith(("/dev/fd/", "/proc/", "/dev/stdin"))
    if stat.S_ISCHR(mode) and not anonymous:
        raise InputError(f"{f}: a device, not a file to import")
    if anonymous and not source:
        raise InputError(f"{f}: a pipe has no file name to call its source by (a second pipe would replace it): "
                         "name the source with --source NAME")
    spool.mkdir()
    copy = spool / f.name  # the same name: the source is named after it
    try:
        fd = os.open(f, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as src, copy.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except OSError as exc:
        raise InputError(f"{f}: cannot read the stream ({exc.strerror or exc})") from None
    return copy


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
                print(_as_given(args, res.summary()))
        return 0
    with Store(path) as store:
        results = _import_focus(store, args)
        if parsed:
            results += runs_jsonl.import_parsed(store, parsed, source_name=args.source)
        recs = recompute_recommendations(store, config)
    for res in results:
        print(_as_given(args, res.summary()))
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
