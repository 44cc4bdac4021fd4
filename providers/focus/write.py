"""Writing the daily rows into the cache: dimension ids, the costs rows handed over in batches
to a SQLite writer thread, and the summary and weekly rollups computed by DuckDB meanwhile.

Everything here runs inside the caller's SQLite transaction (see `importer.write_sources`)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from cache import Store
from cache.store import PACK_MAX_ID

from .columns import DIM_KINDS
from .duck import DuckSession
from .files import FocusFile
from .sql import (
    daily_dims_sql,
    distinct_dims_sql,
    id_rows_sql,
    packed_select,
    summary_period_sql,
    summary_sql,
    weekly_sql,
)

WRITE_BATCH = 25_000


class WriterThread:
    """Runs the SQLite writes of an import on one thread while the caller goes on producing
    rows with DuckDB (sqlite3 releases the GIL inside sqlite3_step, DuckDB while it executes:
    the two stages overlap on two cores). Writes run in order; the first failure stops the
    writes and is raised in the caller (by `put` or on leaving the block). Leaving the block
    always waits for the thread, so the caller's transaction is never used by two threads."""

    def __init__(self) -> None:
        self._q: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(maxsize=2)
        self._exc: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="costdeck-import-writer", daemon=True)

    def __enter__(self) -> WriterThread:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._q.put(None)
        self._thread.join()
        if exc is None and self._exc is not None:
            raise self._exc

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._exc is None:
                fn, args = item
                try:
                    fn(*args)
                except BaseException as exc:  # raised in the caller's thread
                    self._exc = exc

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._exc is not None:
            raise self._exc
        self._q.put((fn, args))


def write_file(duck: DuckSession, store: Store, f: FocusFile, source_id: int, writer: WriterThread) -> int:
    """Resolve each distinct dimension value once, join the ids in DuckDB, hand the rows in
    batches to `writer` (which inserts them into SQLite on its own thread). Returns the rows."""
    ids = dimension_ids(duck, store, f.table)
    idt = f"{f.table}_ids"
    duck.load_table(idt, {"kind": "VARCHAR", "value": "VARCHAR", "id": "BIGINT"},
                    ({"kind": k, "value": v, "id": i} for (k, v), i in ids.items()))
    f.rows_table = f"{f.table}_rows"
    duck.execute(id_rows_sql(f.table, idt, f.rows_table, source_id))
    select, insert = hand_over_format(store, ids)
    cur = duck.execute(f"SELECT {select} FROM {f.rows_table} ORDER BY day, resource")
    total = f.result.daily_rows if f.result else None
    done = 0
    label = f"writing {f.path.name}"
    duck.tick(label, 0, total)
    while True:
        batch = cur.fetchmany(WRITE_BATCH)  # DuckDB -> tuples here while the writer inserts
        if not batch:
            break
        writer.put(insert, batch)
        done += len(batch)
        duck.tick(label, done, total)
    return done


def hand_over_format(
    store: Store, ids: dict[tuple[str, str], int | None]
) -> tuple[str, Callable[[list[tuple[Any, ...]]], None]]:
    """The columns to fetch from the rows table and the Store method that inserts them: the 14
    dimension ids as 5 packed integers when every id fits (a third fewer Python values per row
    to make here and bind there, the GIL-bound part of the hand-over), else as they are."""
    if max((i for i in ids.values() if i is not None), default=0) <= PACK_MAX_ID:
        return packed_select(), store.insert_packed_cost_tuples
    return "*", store.insert_cost_tuples


def dimension_ids(duck: DuckSession, store: Store, daily: str) -> dict[tuple[str, str], int | None]:
    """(kind, value) -> the cache's dims id, for every value in the daily rows (created in
    kind order, each kind's values sorted; a value seen with several labels keeps the last),
    and ("tagset", canonical tags) -> the tag set id (created in sorted order)."""
    ids: dict[tuple[str, str], int | None] = {}
    for k, v, lb, ex in duck.execute(distinct_dims_sql(daily)).fetchall():
        ids[(DIM_KINDS[k][0], v)] = store.dim_id(DIM_KINDS[k][0], v, lb, ex)
    for (canon,) in duck.execute(f"SELECT DISTINCT tags FROM {daily} WHERE tags IS NOT NULL ORDER BY 1").fetchall():
        ids[("tagset", canon)] = store.tagset_id(canon)
    return ids


def write_rollups(duck: DuckSession, store: Store, files: list[FocusFile], writer: WriterThread) -> None:
    """The summary, weekly and monthly rollups of one source's files, aggregated by DuckDB from
    the rows just written (what `Store.rebuild_summary` would compute, without SQLite's GROUP
    BY), while the writer is still inserting the costs rows. Streamed in batches like the costs
    rows: at 13 months x 20,000 resources the daily summary alone is 3.8M rows, which as one
    list of tuples took over a GiB."""
    tables = [f.rows_table for f in files]
    queries = (
        (summary_sql(tables), store.insert_rollup_tuples_of, "cost_summary"),
        (weekly_sql(tables), store.insert_rollup_tuples_of, "cost_weekly"),
        (weekly_sql(tables, "month"), store.insert_rollup_tuples_of, "cost_monthly"),
        (summary_period_sql(tables, "week"), store.insert_rollup_tuples_of, "cost_summary_weekly"),
        (summary_period_sql(tables, "month"), store.insert_rollup_tuples_of, "cost_summary_monthly"),
        (daily_dims_sql(tables), store.insert_rollup_tuples_of, "cost_daily_dims"),
    )
    # One DuckDB thread: the other core stays with the SQLite writer (this is off its path).
    with duck.one_thread():
        for sql, insert, table in queries:
            cur = duck.execute(sql)
            while batch := cur.fetchmany(WRITE_BATCH):
                writer.put(insert, table, batch)
