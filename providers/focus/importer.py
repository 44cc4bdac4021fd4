"""`import_files`: which files to import, read them all, then write them in one transaction."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import duckdb

from cache import Store, timeutil

from ..errors import CostdeckError, InputError
from .columns import MONEY
from .duck import DuckSession, Progress
from .files import FocusFile, ImportResult, first_line, sniff
from .read import read_file
from .write import Staging, WriterThread, stage_source, write_file

SOURCE_KIND = "focus"


def import_files(
    store: Store,
    paths: list[Path],
    *,
    source_name: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> list[ImportResult]:
    """Import FOCUS files into the cache, all or nothing. See the package docstring."""
    if store.is_demo():
        raise InputError(
            f"{store.path}: is the demo cache; import into your own cache with --db PATH (or COSTDECK_DB)"
        )
    if not paths:
        raise InputError("no files to import")
    files = plan(store, paths, source_name=source_name, force=force, progress=progress)
    results = [f.result for f in files if f.result is not None]
    todo = [f for f in files if f.result and not f.result.skipped]
    if not todo:
        return results
    duck = DuckSession(progress)
    try:
        duck.money_used = kept_money(store, {f.source for f in todo})
        for i, f in enumerate(todo):
            duck.tick(f"reading {f.path.name}", i, len(todo))
            read_file(duck, f)
        duck.tick("reading done", len(todo), len(todo))
        write_sources(store, duck, todo)
        # Fresh planner statistics (sampled, milliseconds) so the fine-grained Spend group-bys
        # pick their covering indexes instead of the day-range index.
        with contextlib.suppress(sqlite3.Error):
            store.analyze()
    except duckdb.Error as exc:  # not the input's fault (memory, disk): a runtime failure, exit 1
        raise CostdeckError(f"import failed, cache unchanged: {first_line(exc)}") from None
    finally:
        duck.close()
    return results


def kept_money(store: Store, replaced: set[str]) -> dict[str, float]:
    """Per money column, the absolute amounts (units) of the cache rows this import keeps (the
    sources it does not replace): what the new rows add to in any later sum."""
    marks = ", ".join("?" for _ in replaced)
    sums = ", ".join(f"total(abs({m}))" for m, _ in MONEY)
    row = store.conn.execute(
        f"SELECT {sums} FROM cost_facts WHERE line IN (SELECT id FROM cost_lines WHERE source_id NOT IN "
        f"(SELECT id FROM sources WHERE name IN ({marks})))",
        tuple(replaced),
    ).fetchone()
    return {m: float(v or 0) / 1e9 for (m, _), v in zip(MONEY, row or (), strict=False)}


# -- which files --------------------------------------------------------------------------
def plan(
    store: Store, paths: list[Path], *, source_name: str | None, force: bool, progress: Progress | None
) -> list[FocusFile]:
    """Every file sniffed and given its source and result; a file whose content is already the
    current import of a source (or given twice) is skipped, unless `force`."""
    files: list[FocusFile] = []
    seen: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        if progress:
            progress(f"checking {p.name}", 0, None)
        f = sniff(p)
        f.source = source_name or f"file:{p.name}"
        kind = store.conn.execute("SELECT kind FROM sources WHERE name=?", (f.source,)).fetchone()
        if kind and kind[0] != SOURCE_KIND:
            raise InputError(
                f"{f.display}: source {f.source!r} is a {kind[0]} source, not a FOCUS import; "
                "choose another --source"
            )
        prior = seen.get(f.sha256) or (None if force else current_import(store, f.sha256))
        f.result = ImportResult(path=p, source_name=f.source, file_format=f.fmt, sha256=f.sha256)
        if prior is not None:
            f.result.skipped = True
            f.result.source_name = prior
        seen.setdefault(f.sha256, f.source)
        files.append(f)
    unskip_replaced(files)
    return files


def unskip_replaced(files: list[FocusFile]) -> None:
    """A source replaced in this run must get back every file it held: un-skip its files."""
    replaced = {f.source for f in files if f.result and not f.result.skipped}
    for f in files:
        if f.result and f.result.skipped and f.result.source_name in replaced and f.result.source_name == f.source:
            if sum(1 for g in files if g.sha256 == f.sha256 and g.result and not g.result.skipped) == 0:
                f.result.skipped = False


def current_import(store: Store, sha: str) -> str | None:
    """The source a file with this content was last imported into, if that import is current."""
    row = store.conn.execute(
        """SELECT s.name FROM imports i JOIN sources s ON s.id = i.source_id
           WHERE i.sha256 = ? AND i.imported_at = (SELECT max(imported_at) FROM imports j
                                                   WHERE j.source_id = i.source_id)
             AND EXISTS (SELECT 1 FROM costs c WHERE c.source_id = i.source_id)
           ORDER BY i.id DESC LIMIT 1""",
        (sha,),
    ).fetchone()
    return str(row[0]) if row else None


# -- writing ------------------------------------------------------------------------------
def write_sources(store: Store, duck: DuckSession, todo: list[FocusFile]) -> None:
    """In ONE SQLite transaction, per source: its old rows replaced by the new ones, its
    rollups, a sync run and one imports row per file; then the snapshot time touched. With the
    staging file, DuckDB writes every source's rows into it and SQLite copies them in at the end
    of the same transaction."""
    stamp = timeutil.iso(timeutil.now())
    by_source: dict[str, list[FocusFile]] = {}
    for f in todo:
        by_source.setdefault(f.source, []).append(f)
    staging = Staging.open(duck, store)
    try:
        with store.transaction():
            with store.bulk_costs():  # large: indexes dropped for the insert, rebuilt after
                for source, group in by_source.items():
                    write_source(store, duck, source, group, stamp, staging)
                if staging is not None:
                    duck.tick("copying into the cache", 0, None)
                    staging.copy_into(duck, store)
            store.touch_snapshot()
    finally:
        if staging is not None:
            staging.close(store)


def write_source(store: Store, duck: DuckSession, source: str, group: list[FocusFile], stamp: str,
                 staging: Staging | None) -> None:
    sid = store.ensure_source(source, SOURCE_KIND, {"paths": [str(g.path.resolve()) for g in group]})
    run = store.start_sync_run(sid)
    store.replace_costs(sid, [], window=None, in_transaction=True)  # drop the source's old rows
    n = 0
    if staging is not None:  # DuckDB writes the rows into the staging file, copied in at the end
        n = stage_source(duck, store, group, sid, staging)
    else:
        with WriterThread() as writer:  # SQLite inserts on a thread, DuckDB goes on here
            for f in group:
                n += write_file(duck, store, f, sid, writer)
        store.rebuild_summary(sid)  # the rollups, from the rows just written
    run.rows = n
    run.detail = {"files": [g.path.name for g in group], "kind": "focus import"}
    store.finish_sync_run(run, "ok")
    for f in group:
        r = f.result
        assert r is not None
        store.conn.execute(
            "INSERT INTO imports(source_id, path, sha256, focus_version, input_rows, daily_rows, "
            "imported_at) VALUES(?,?,?,?,?,?,?)",
            (sid, str(f.path.resolve()), f.sha256, f.version, r.input_rows, r.daily_rows, stamp),
        )
