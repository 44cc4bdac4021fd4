"""Reading one file into its daily rows, in DuckDB.

1. `describe`: the file's columns and types (Parquet: DuckDB's schema; CSV: the header line,
   every column VARCHAR) and its FOCUS version; `check_columns`: the mandatory ones are there.
2. Pass 1, `aggregate` (the only full read of a good file): daily grain on the raw values,
   counting the bad rows; only when there are some does `locate_bad_row` read the file again,
   numbered on one thread, to name the first one.
3. Pass 2, `finish`, over the (small) pass-1 table: tags canonicalised, nulls and spelling
   cleaned, rows re-aggregated when that merges any, each daily amount rounded once.
"""

from __future__ import annotations

import json
import re
from typing import Any

import duckdb

from cache import CacheError
from cache.store import canonical_tags

from ..errors import InputError
from .columns import (
    MANDATORY,
    MONEY,
    MONEY_LIMIT_UNITS,
    PROVIDER_COLUMNS,
    detect_version,
    duplicate_column,
    duplicate_message,
    find_column,
)
from .duck import DuckSession
from .exprs import Check, FileExprs, ql, relation
from .files import FocusFile, csv_line_of_record, first_line, read_csv_header, scan_csv_structure
from .sql import (
    FAST_MAX_SCALE,
    aggregate_sql,
    bad_row_sql,
    changed_sql,
    daily_sql,
    decimal_scale,
    tags_checks,
    totals_sql,
)


def read_file(duck: DuckSession, f: FocusFile) -> None:
    """`f` read, validated and rolled up to its daily rows (table `f.table`), its result filled in."""
    describe(duck, f)
    check_columns(f)
    assert f.result is not None
    f.result.focus_version = f.version
    aggregate(duck, f)
    finish(duck, f)


def describe(duck: DuckSession, f: FocusFile) -> None:
    if f.fmt == "parquet":
        try:
            rows = duck.execute(f"DESCRIBE SELECT * FROM {relation(f)}").fetchall()
        except duckdb.Error as exc:
            raise InputError(f"{f.display}: not a readable Parquet file ({first_line(exc)})") from None
        f.columns = [r[0] for r in rows]
        f.types = {r[0]: str(r[1]) for r in rows}
        dup = duplicate_column(parquet_top_names(duck, f))
        if dup is not None:
            raise InputError(duplicate_message(f.display, dup))
    else:
        read_csv_header(f)
    f.version = detect_version(f.columns)


def parquet_top_names(duck: DuckSession, f: FocusFile) -> list[str]:
    """The top-level column names as stored in the Parquet file (DuckDB renames duplicates)."""
    rows = duck.execute(f"SELECT name, num_children FROM parquet_schema({ql(str(f.path))})").fetchall()
    names: list[str] = []
    pending = [1]  # children still to visit per open level; the root is the first schema element
    for i, (name, kids) in enumerate(rows):
        if i == 0:
            pending = [int(kids or 0)]
            continue
        if len(pending) == 1:
            names.append(str(name))
        pending[-1] -= 1
        if kids:
            pending.append(int(kids))
        while len(pending) > 1 and pending[-1] == 0:
            pending.pop()
    return names


def check_columns(f: FocusFile) -> None:
    def has(name: str) -> bool:
        return find_column(f.columns, name) is not None

    missing = [c for c in MANDATORY if not has(c)]
    if not any(has(c) for c in PROVIDER_COLUMNS):
        missing.insert(0, "ProviderName")
    if not missing:
        return
    known = sum(1 for c in (*MANDATORY, *PROVIDER_COLUMNS) if has(c))
    if known < 3:
        raise InputError(f"{f.display}: not a FOCUS export: missing columns {', '.join(missing)}")
    if len(missing) == 1:
        raise InputError(f"{f.display}: column {missing[0]}: missing (a mandatory FOCUS column)")
    raise InputError(f"{f.display}: missing mandatory FOCUS columns {', '.join(missing)}")


# -- pass 1 -------------------------------------------------------------------------------
def aggregate(duck: DuckSession, f: FocusFile) -> None:
    """Pass 1: the file at daily grain on raw values (table `f.table`), counting bad rows."""
    f.table = duck.new_table("agg")
    try:
        duck.execute(aggregate_sql(f, f.table))
    except duckdb.Error as exc:
        if "Overflow" in str(exc):  # amounts summing past DECIMAL(38): name the first huge one
            checks = money_range_checks(f)
            if checks and duck.execute(f"SELECT count(*) FROM {relation(f)} WHERE "
                                       + " OR ".join(c[1] for c in checks)).fetchone() != (0,):
                locate_bad_row(duck, f, checks)
        read_failure(f, exc)
    n, nbad = _one(duck, f"SELECT coalesce(sum(n), 0), coalesce(sum(nbad), 0) FROM {f.table}")
    if nbad:
        locate_bad_row(duck, f, FileExprs(f).checks())
    if n == 0:
        raise InputError(f"{f.display}: no data rows (only a header)")


def read_failure(f: FocusFile, exc: duckdb.Error) -> None:
    """DuckDB could not read the file: find the first structural problem for a one-line message."""
    if f.fmt == "parquet":
        raise InputError(f"{f.display}: not a readable Parquet file ({first_line(exc)})") from None
    scan_csv_structure(f)
    msg = first_line(exc)
    m = re.search(r"Line: (\d+)", str(exc))
    where = f"row {m.group(1)}: " if m else ""
    raise InputError(f"{f.display}: {where}malformed CSV ({msg})") from None


def locate_bad_row(duck: DuckSession, f: FocusFile, checks: list[Check]) -> None:
    """Error path only: raise for the first row failing `checks`, numbered in file order on one thread."""
    with duck.one_thread(ordered=True):
        try:
            row = duck.execute(bad_row_sql(f, checks)).fetchone()
        except duckdb.Error as exc:
            read_failure(f, exc)
            raise
    if row is None:  # pragma: no cover - pass 1 counted a bad row
        raise InputError(f"{f.display}: invalid values (row not found)")
    rn = int(row[0])
    for i, (col, _cond, _v, expected) in enumerate(checks):
        if row[1 + 2 * i]:
            value = row[2 + 2 * i]
            if isinstance(value, list):  # [value, the ChargePeriodStart it is compared with]
                got = f"{_short(value[0])} (ChargePeriodStart {_short(value[1])})"
            else:
                got = "an empty value" if value is None else _short(value)
            line = csv_line_of_record(f, rn) if f.fmt != "parquet" else rn
            raise InputError(f"{f.display}: row {line}, column {col}: expected {expected}, got {got}")
    raise InputError(f"{f.display}: row {rn}: invalid values")  # pragma: no cover


def _short(value: object, limit: int = 60) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


# -- pass 2 -------------------------------------------------------------------------------
def finish(duck: DuckSession, f: FocusFile) -> None:
    """Pass 2 over the (small) pass-1 table: nulls and spelling cleaned, canonical tags,
    re-aggregated, each daily amount rounded once (half-even) to nano-units."""
    check_money_range(duck, f)
    mapping = canonical_tag_sets(duck, f)
    join, tags_col = tags_join(duck, f, mapping)
    merged = cleanup_merges(duck, f, mapping)
    daily = f"{f.table}_daily"
    totals = make_daily(duck, f, daily, merged=merged, tags_col=tags_col, join=join)
    if merged:  # otherwise the daily rows are a view over the pass-1 table
        duck.execute(f"DROP TABLE {f.table}")
    f.table = daily
    record_result(duck, f, totals)


def money_range_checks(f: FocusFile) -> list[Check]:
    """Per money column: an amount that alone is past what the cache can sum."""
    x = FileExprs(f)
    out: list[Check] = []
    for _m, col in MONEY:
        c, raw = x.col(col), x.flat(col)
        if c is None or raw is None:
            continue
        out.append((c, f"coalesce(abs(CAST({x.amount(col)} AS DOUBLE)) >= {MONEY_LIMIT_UNITS}, false)",
                    f"CAST({raw} AS VARCHAR)",
                    f"an amount below {MONEY_LIMIT_UNITS:.2g} units of a currency (the cache's 64-bit nano-unit limit)"))
    return out


def check_money_range(duck: DuckSession, f: FocusFile) -> None:
    """Refuse amounts the cache could not sum: per money column, the absolute amounts of the
    pass-1 rows (at least those of the daily rows stored) plus what the cache keeps and the files
    read before must stay below MONEY_LIMIT_UNITS; the row named is the file's largest amount."""
    sums = _one(duck, "SELECT " + ", ".join(
        f"coalesce(sum(abs(CAST({m} AS DOUBLE))), 0)" for m, _ in MONEY) + f" FROM {f.table}")
    x = FileExprs(f)
    for (m, col), s in zip(MONEY, sums, strict=True):
        used = duck.money_used.get(m, 0.0) + float(s)
        if not used < MONEY_LIMIT_UNITS:  # NaN too
            # An amount past the limit on its own is named as such (whatever DuckDB's exact sum
            # did with it: some versions overflow, others do not).
            alone = [c for c in money_range_checks(f) if c[0] == (x.col(col) or col)]
            if alone and duck.execute(f"SELECT count(*) FROM {relation(f)} WHERE {alone[0][1]}").fetchone() != (0,):
                locate_bad_row(duck, f, alone)
            amt = f"abs(CAST({x.amount(col)} AS DOUBLE))"
            mx = _one(duck, f"SELECT max({amt}) FROM {relation(f)}")[0]
            expected = (f"an amount the cache can sum (with the cache's other sources the absolute {col} "
                        f"amounts reach {used:.4g} units; the limit is {MONEY_LIMIT_UNITS:.2g} units of a "
                        "currency, 64-bit nano-units)")
            raw = x.raw(col) or "NULL"
            locate_bad_row(duck, f, [(x.col(col) or col, f"coalesce({amt} >= CAST({ql(repr(mx))} AS DOUBLE), false)",
                                      f"CAST({raw} AS VARCHAR)", expected)])
        duck.money_used[m] = used


def canonical_tag_sets(duck: DuckSession, f: FocusFile) -> list[tuple[str, str | None]]:
    """(raw tags, canonical tag set) per distinct tags value of the pass-1 table; a value that
    is not a JSON object of tags fails the import on its first row."""
    raws = [r[0] for r in duck.execute(
        f"SELECT DISTINCT tags_raw FROM {f.table} WHERE tags_raw IS NOT NULL AND tags_raw NOT IN ('', 'NULL')"
    ).fetchall()]
    mapping: list[tuple[str, str | None]] = []
    bad: list[str] = []
    deep: list[str] = []
    for raw in raws:
        try:
            value = json.loads(raw)
        except RecursionError:
            deep.append(raw)
            continue
        except ValueError:
            bad.append(raw)
            continue
        if not isinstance(value, dict):
            bad.append(raw)
        elif json_depth(value) > MAX_TAGS_DEPTH:
            deep.append(raw)
        else:
            try:
                mapping.append((raw, canonical_tags(value)))
            except CacheError:  # pragma: no cover - a dict always canonicalises
                bad.append(raw)
    if bad or deep:
        checks = []
        if bad:
            checks += tags_checks(f, bad)
        if deep:
            checks += tags_checks(f, deep, f"a JSON object of tags nested at most {MAX_TAGS_DEPTH} levels deep")
        locate_bad_row(duck, f, checks)
    return mapping


# Deeper tag JSON is refused (the limit of `providers.nesting.MAX_DEPTH`): readers that walk the
# tags recursively must not hit Python's recursion limit on a value taken from a file.
MAX_TAGS_DEPTH = 32


def json_depth(value: object) -> int:
    """The nesting depth of a parsed JSON value (a scalar is 0, {} or [] is 1), without recursion."""
    depth = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v)
    return depth


def tags_join(duck: DuckSession, f: FocusFile, mapping: list[tuple[str, str | None]]) -> tuple[str, str]:
    """The JOIN clause and the column giving each pass-1 row (`a`) its canonical tag set."""
    if not mapping:
        return "", "CAST(NULL AS VARCHAR)"
    tm = f"{f.table}_tags"
    duck.load_table(tm, {"raw": "VARCHAR", "canon": "VARCHAR"},
                    ({"raw": raw, "canon": canon} for raw, canon in mapping))
    return f"LEFT JOIN {tm} m ON m.raw = a.tags_raw", "m.canon"


def cleanup_merges(duck: DuckSession, f: FocusFile, mapping: list[tuple[str, str | None]]) -> bool:
    """Whether cleaning merges pass-1 rows: it may only if it changes a value (null spellings,
    capitalisation, '' or 'NULL' tags) or maps two tag spellings to one canonical set.
    Otherwise every pass-1 row is its own daily row (rounded as it is, no second GROUP BY)."""
    canons = [canon for _raw, canon in mapping]
    if None in canons or len(set(canons)) != len(canons):
        return True
    return bool(_one(duck, changed_sql(f.table))[0])


def fast_rounding_scales(duck: DuckSession, f: FocusFile) -> dict[str, int] | None:
    """The scales of the pass-1 money sums when every one is an exact numeric of at most
    FAST_MAX_SCALE decimals (e.g. Parquet DECIMALs): those can be rounded with 64-bit
    arithmetic. None otherwise (CSV amounts are DECIMAL(38,18))."""
    types = {str(r[0]): str(r[1]) for r in duck.execute(f"DESCRIBE {f.table}").fetchall()}
    scales = {m: decimal_scale(types.get(m, "")) for m, _ in MONEY}
    if all(sc is not None and sc <= FAST_MAX_SCALE for sc in scales.values()):
        return {m: sc or 0 for m, sc in scales.items()}
    return None


def make_daily(
    duck: DuckSession, f: FocusFile, daily: str, *, merged: bool, tags_col: str, join: str
) -> list[tuple[str, int, int, int, int]]:
    """Create the daily rows `daily` from the pass-1 table; return the per-currency totals.

    The fast rounding (see `fast_rounding_scales`) raises (overflow) rather than round wrongly;
    the totals query reads every amount (of the view too), so that surfaces here and the
    general rounding (sums at DECIMAL(38,18), round_even) runs instead."""
    fast = fast_rounding_scales(duck, f)
    for scales in ((fast, None) if fast is not None else (None,)):
        try:
            duck.execute(daily_sql(f.table, daily, merged=merged, tags_col=tags_col, join=join, scales=scales))
            return duck.execute(totals_sql(daily)).fetchall()
        except duckdb.Error as exc:
            if scales is None:
                raise InputError(f"{f.display}: cannot total the amounts ({first_line(exc)})") from None
    raise AssertionError("unreachable")  # pragma: no cover


def record_result(duck: DuckSession, f: FocusFile, totals: list[tuple[str, int, int, int, int]]) -> None:
    res = f.result
    assert res is not None
    n, rows, lo, hi = _one(duck, f"SELECT sum(n), count(*), min(day), max(day) FROM {f.table}")
    res.input_rows, res.daily_rows, res.first_day, res.last_day = int(n), int(rows), lo, hi
    for cur, b, e, li, _c in totals:
        res.billed_totals[cur] = int(b)
        res.effective_totals[cur] = int(e)
        res.list_totals[cur] = int(li)


def _one(duck: Any, sql: str) -> tuple[Any, ...]:
    """The one row of an aggregate query (DuckDB types it as optional)."""
    row = duck.execute(sql).fetchone()
    assert row is not None, sql
    return tuple(row)
