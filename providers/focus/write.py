"""Writing the daily rows into the cache: staged (`stage_source`: DuckDB computes the cost lines,
the daily facts and every rollup and writes them into a staging SQLite file that SQLite copies in),
or, without DuckDB's SQLite extension, handed over from Python in batches to a SQLite writer
thread (`write_file`), the store then rebuilding the rollups.

Everything here runs inside the caller's SQLite transaction (see `importer.write_sources`)."""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from cache import Store
from cache.schema import COST_DIMS, pair_rollup_sql
from cache.store import PACK_MAX_ID, ROLLUP_COLUMNS

from .columns import DIM_KINDS
from .duck import DuckSession
from .files import FocusFile
from .sql import (
    coarse_daily_sql,
    combos_sql,
    costs_view_sql,
    daily_dims_from_sql,
    distinct_dims_sql,
    facts_from_lines_sql,
    id_rows_sql,
    line_period_sql,
    lines_from_combos_sql,
    packed_select,
    summary_from_coarse_sql,
)

WRITE_BATCH = 25_000
# Write through DuckDB's SQLite extension into a staging file that SQLite copies in (no Python
# object per row); False, or the extension missing, takes the Python hand-over (WriterThread).
STAGED = True
STAGE = "costdeck_stage"  # the staging file's name in DuckDB
# Match the daily rows to their cost lines on the hash of their values when the lines' hashes are
# distinct (else, or False, on the values themselves: same rows, slower).
HASH_LINES = True
_LINE_COLUMNS = f"id, source_id, {', '.join(COST_DIMS)}"
_FACT_COLUMNS = "line, day, billed, effective, list, contracted, pricing_quantity, consumed_quantity"
_FACT_TEXT_DAY = _FACT_COLUMNS.replace("day", "strftime(day, '%Y-%m-%d')", 1)
_LINE_ROLLUP_COLUMNS = "line, {period}, billed, effective, list, contracted, n"


class Staging:
    """A SQLite file with the cache's cost tables (same DDL), filled by DuckDB through its SQLite
    extension and then copied into the cache by SQLite in the import's transaction
    (`Store.insert_costs_from_file`): the rows never become Python objects."""

    def __init__(self, path: str, first_line: int) -> None:
        self.path = path
        self.next_line = first_line  # the id of the next cost line staged

    @classmethod
    def open(cls, duck: DuckSession, store: Store) -> Staging | None:
        """The staging file in the import's temp dir, attached to DuckDB; None when the SQLite
        extension is not available (or STAGED is off)."""
        if not STAGED:
            return None
        path = os.path.join(duck.tmp, "staging.sqlite")
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode = OFF")
            for ddl in store.cost_tables_ddl():
                conn.execute(ddl)
            conn.commit()
        if not duck.attach_sqlite(path, STAGE):
            os.remove(path)
            return None
        return cls(path, store.next_line_id())

    def copy_into(self, duck: DuckSession, store: Store) -> int:
        """DuckDB lets go of the file, SQLite inserts its rows (call inside the transaction)."""
        duck.execute(f"DETACH {STAGE}")
        return store.insert_costs_from_file(self.path)

    def close(self, store: Store) -> None:
        store.detach_costs_file()
        with contextlib.suppress(OSError):
            os.remove(self.path)


def stage_source(duck: DuckSession, store: Store, group: list[FocusFile], source_id: int,
                 staging: Staging) -> int:
    """One source's files into the staging file, every table computed by DuckDB and inserted in
    key order: the distinct dimension combinations of the daily rows (one pass), their ids (the
    cache's dims, created as needed), the source's cost lines (numbered on from
    `staging.next_line`), the daily facts (each row matched to its line on the values; rows of one
    line and day summed), the line rollups, the coarse rollups and the daily pair series (from the
    coarse daily rows). Returns the daily rows (facts)."""
    name = group[0].path.name + (f" (+{len(group) - 1})" if len(group) > 1 else "")
    total = sum((f.result.daily_rows if f.result else 0) for f in group) or None
    dailies = [f.table for f in group]
    t = f"src{source_id}"
    lines, facts, view, coarse = f"{t}_lines", f"{t}_facts", f"{t}_costs", f"{t}_coarse"
    duck.tick(f"resolving dimensions of {name}", 0, None)
    duck.execute(combos_sql(dailies, f"{t}_combos"))
    ids = dimension_ids(duck, store, f"{t}_combos")
    duck.load_table(f"{t}_ids", {"kind": "VARCHAR", "value": "VARCHAR", "id": "BIGINT"},
                    ({"kind": k, "value": v, "id": i} for (k, v), i in ids.items()))
    duck.execute(lines_from_combos_sql(f"{t}_combos", f"{t}_ids", lines, source_id, staging.next_line))
    duck.tick(f"daily rows of {name}", 0, total)
    row = duck.execute(f"SELECT count(*) = count(DISTINCT h) FROM {lines}").fetchone()
    by_hash = HASH_LINES and bool(row and row[0])  # two lines sharing a hash: match on the values
    # A line whose values came with two labels (or two files of a source with the same day) can
    # have two daily rows a day: summed then, else each daily row is one fact as it is.
    merge = True
    if len(dailies) == 1:
        row = duck.execute(f"SELECT (SELECT count(*) FROM {t}_combos) = (SELECT count(*) FROM {lines})").fetchone()
        merge = not (row and row[0])
    duck.execute(facts_from_lines_sql(dailies, lines, facts, by_hash=by_hash, merge=merge))
    duck.execute(costs_view_sql(lines, facts, view))
    row = duck.execute(f"SELECT count(*), max(id) FROM {lines}").fetchone()
    if row and row[1] is not None:
        staging.next_line = int(row[1]) + 1
    row = duck.execute(f"SELECT count(*) FROM {facts}").fetchone()
    n = int(row[0]) if row else 0
    duck.tick(f"rollups of {name}: coarse daily rows", 0, None)
    duck.execute(coarse_daily_sql(view, coarse))
    rollups = {  # staging table -> (its columns, the query, its key order)
        "cost_weekly_lines": (_LINE_ROLLUP_COLUMNS.format(period="week"), line_period_sql(facts, "week"), "1, 2"),
        "cost_monthly_lines": (_LINE_ROLLUP_COLUMNS.format(period="month"), line_period_sql(facts, "month"), "1, 2"),
        "cost_summary_weekly": (ROLLUP_COLUMNS["cost_summary_weekly"], summary_from_coarse_sql(coarse, "week"),
                                "1, 2"),
        "cost_summary_monthly": (ROLLUP_COLUMNS["cost_summary_monthly"], summary_from_coarse_sql(coarse, "month"),
                                 "1, 2"),
        "cost_daily_dims": (ROLLUP_COLUMNS["cost_daily_dims"], daily_dims_from_sql(coarse, view), "1, 2"),
        "cost_daily_pairs": (ROLLUP_COLUMNS["cost_daily_pairs"], pair_rollup_sql(coarse), "1, 2, 3, 4, 5, 6, 7"),
    }
    # Days are DATEs in DuckDB (cheaper to group by), TEXT 'YYYY-MM-DD' in the cache.
    as_text = {"cost_daily_dims": "source_id, strftime(day, '%Y-%m-%d'), dim, value, currency, "
                                  "billed, effective, list, contracted, n",
               "cost_daily_pairs": "dim, value, by_dim, strftime(day, '%Y-%m-%d'), by_value, currency, source_id, "
                                   "billed, effective, list, contracted, n"}
    for table, (_cols, sql, _order) in rollups.items():  # computed in parallel, unordered
        duck.tick(f"rollups of {name}: {table}", 0, None)
        duck.execute(f"CREATE OR REPLACE TEMP TABLE {t}_{table} AS {sql}")
    with duck.ordered():
        duck.tick(f"writing {name}", 0, total)
        duck.execute(f"INSERT INTO {STAGE}.cost_lines({_LINE_COLUMNS}) SELECT {_LINE_COLUMNS} FROM {lines} ORDER BY id")
        duck.execute(f"INSERT INTO {STAGE}.cost_facts({_FACT_COLUMNS}) SELECT {_FACT_TEXT_DAY} FROM {facts} "
                     "ORDER BY line, day")
        duck.tick(f"writing {name}", n, total)
        duck.tick(f"writing the rollups of {name}", 0, None)
        for table, (cols, _sql, order) in rollups.items():
            duck.execute(f"INSERT INTO {STAGE}.{table}({cols}) SELECT {as_text.get(table, '*')} FROM {t}_{table} "
                         f"ORDER BY {order}")
    return n


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
    ids = id_rows(duck, store, f, source_id)
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


def id_rows(duck: DuckSession, store: Store, f: FocusFile, source_id: int) -> dict[tuple[str, str], int | None]:
    """The file's daily rows as costs rows (ids joined) in the DuckDB table `f.rows_table`."""
    ids = dimension_ids(duck, store, f.table)
    idt = f"{f.table}_ids"
    duck.load_table(idt, {"kind": "VARCHAR", "value": "VARCHAR", "id": "BIGINT"},
                    ({"kind": k, "value": v, "id": i} for (k, v), i in ids.items()))
    f.rows_table = f"{f.table}_rows"
    duck.execute(id_rows_sql(f.table, idt, f.rows_table, source_id))
    return ids


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
