"""The DuckDB SQL of the import, as text: nothing here runs a query.

- pass 1 (`aggregate_sql`, `bad_row_sql`): the file to daily grain, the first bad row;
- pass 2 (`clean_dims`, `changed_sql`, `daily_sql`, `totals_sql`): the daily rows cleaned
  (re-aggregated only when that merges rows) and rounded once to nano-units (`nanos_sql`:
  exact half-even rounding with 64-bit arithmetic for the amounts it can take,
  `general_nanos_sql` for any amount);
- writing (`combos_sql`, `lines_from_combos_sql`, `facts_from_lines_sql`, `summary_from_coarse_sql`,
  `daily_dims_from_sql`, `costs_view_sql`, `coarse_daily_sql`, `line_period_sql`; the Python
  hand-over's `distinct_dims_sql`, `id_rows_sql`, `packed_select`).

The expressions over one input row are in `exprs`.
"""

from __future__ import annotations

import re

from cache.schema import COST_DIMS, SUMMARY_DIMS
from cache.store import PACK_BITS, PACK_GROUPS

from .columns import CANONICAL_VALUES, DIM_KINDS, DIM_NAMES, MONEY, QUANTITIES, STRING_DIMS
from .exprs import DEC, Check, FileExprs, exact_numeric, ql, relation
from .files import FocusFile

# Amount sums of at most this many decimals are rounded with 64-bit arithmetic (`nanos_sql`):
# up to 10^8 per daily row at 10 decimals, 10^6 at 12 (beyond: the general path, same result).
FAST_MAX_SCALE = 12


def decimal_scale(t: str) -> int | None:
    """The scale of an exact numeric DuckDB type (0 for integers), None for anything else."""
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return int(m.group(2))
    return 0 if exact_numeric(t) else None


def nanos_sql(x: str, scale: int) -> str:
    """SQL for the exact amount `x` (an exact numeric of `scale` decimals, 0 <= scale <= 18) in
    integer nano-units, rounded half-even like `cache.money.to_nanos`, with 64-bit DECIMAL
    arithmetic only (DuckDB's DECIMAL(38) multiplications are several times slower): x as
    DECIMAL(18, scale), rounded half-even to 9 decimals (d, |d| < 10^9), then whole part * 10^9 +
    the 9 decimals as an integer. Every step is exact; a value out of range (|x| >= 10^(18 -
    max(scale, 9))) raises in DuckDB (conversion/overflow), never rounds wrongly."""
    d = f"CAST({x} AS DECIMAL(18,{scale}))"
    if scale <= 9:
        return _whole_and_nanos(f"CAST({d} AS DECIMAL(18,9))")
    r = f"round({d}, 9)"  # exact, half away from zero (DECIMAL(18,9))
    return _to_even(_whole_and_nanos(r), d, f"DECIMAL(18,{scale})")


def _whole_and_nanos(d: str) -> str:
    """An exact DECIMAL(18,9) `d` as integer nano-units."""
    frac = f"CAST(CAST({d} - trunc({d}) AS DECIMAL(9,9)) * CAST(100000000 AS DECIMAL(9,0)) * CAST(10 AS DECIMAL(2,0)) AS BIGINT)"
    return f"(CAST(trunc({d}) AS BIGINT) * 1000000000 + {frac})"


def _to_even(nanos: str, x: str, tie_type: str) -> str:
    """`nanos` (x rounded half away from zero to 9 decimals, as nano-units) made half-even: on an
    exact tie (x's digits past the 9th decimal are exactly 5) an odd result moves one nano towards
    zero. All in x's own DECIMAL type (trunc to 9 places: no overflow, no 128-bit steps for
    DECIMAL(18)). DuckDB's round_even works in DOUBLE in some versions: never used for money."""
    tie = f"abs({x} - trunc({x}, 9)) = CAST('0.0000000005' AS {tie_type})"
    return f"({nanos} - CASE WHEN {tie} AND {nanos} % 2 <> 0 THEN sign({nanos}) ELSE 0 END)"


def general_nanos_sql(x: str) -> str:
    """SQL for the amount `x` (any exact numeric) in integer nano-units, rounded half-even at
    DECIMAL(38,18): the rounding for any scale and range."""
    d = f"CAST({x} AS DECIMAL(38,18))"
    r = f"round({d}, 9)"
    return _to_even(f"CAST({r} * 1000000000 AS BIGINT)", d, "DECIMAL(38,18)")


# -- pass 1: the file to daily grain ------------------------------------------------------
def aggregate_sql(f: FocusFile, table: str) -> str:
    """CREATE `table`: the file grouped by day and the raw dimension values, amounts summed
    exactly, with the row count `n` and the bad-row count `nbad` of each group."""
    x = FileExprs(f)
    sel = [
        f"{x.day()} AS day",
        f"{x.provider_key()} AS provider_name",
        *(f"{x.key(col)} AS {name}" for name, col in STRING_DIMS),
        f"{x.tags_key()} AS tags_raw",
    ]
    sums = []
    for name, col in (*MONEY, *QUANTITIES):
        sel.append(f"{x.amount(col)} AS {name}")
        sums.append(f"sum({name}) AS {name}")
    bad = " OR ".join(c[1] for c in x.checks()) or "false"
    sel.append(f"({bad}) AS __bad")
    keys = ", ".join([*DIM_NAMES, "day", "tags_raw"])
    return (
        f"CREATE TEMP TABLE {table} AS SELECT {keys}, {', '.join(sums)}, count(*) AS n, "
        f"count_if(__bad) AS nbad FROM (SELECT {', '.join(sel)} FROM {relation(f)}) "
        f"GROUP BY {keys}"
    )


def tags_checks(f: FocusFile, tags_bad: list[str], expected: str = "a JSON object of tags") -> list[Check]:
    """The check that finds a row whose tags are one of `tags_bad` (not a JSON object)."""
    lst = ", ".join(ql(t) for t in tags_bad[:200])
    tv = FileExprs(f).tags_value()
    return [("Tags", f"({tv}) IN ({lst})", tv, expected)]


def bad_row_sql(f: FocusFile, checks: list[Check]) -> str:
    """The first row (in file order) failing one of `checks`: __rn, then per check its flag
    b<i> and its value v<i>."""
    cols = ", ".join(f"({c[1]}) AS b{i}, {c[2]} AS v{i}" for i, c in enumerate(checks))
    where = " OR ".join(f"({c[1]})" for c in checks)
    return f"SELECT __rn, {cols} FROM {relation(f, numbered=True)} WHERE {where} ORDER BY __rn LIMIT 1"


# -- pass 2: the daily rows ----------------------------------------------------------------
def clean_dims() -> list[str]:
    """Per dimension of the pass-1 table `a`: the value with '' and 'NULL' as null and the
    allowed values of CANONICAL_VALUES in their canonical spelling ("expr AS name")."""
    clean = []
    for name in DIM_NAMES:
        e = f"nullif(nullif(a.{name}, ''), 'NULL')"
        col = dict(STRING_DIMS).get(name)
        allowed = CANONICAL_VALUES.get(col or "")
        if allowed:
            cases = " ".join(f"WHEN {ql(v.lower())} THEN {ql(v)}" for v in allowed)
            e = f"CASE lower({e}) {cases} ELSE {e} END"
        clean.append(f"{e} AS {name}")
    return clean


def changed_sql(table: str) -> str:
    """How many rows of the pass-1 table the cleanup would change (a value or a '' / 'NULL' tag)."""
    changed = " OR ".join(
        [f"a.{name} IS DISTINCT FROM {c.rsplit(' AS ', 1)[0]}" for name, c in zip(DIM_NAMES, clean_dims(), strict=True)]
        + ["a.tags_raw IN ('', 'NULL')"]
    )
    return f"SELECT count_if({changed}) FROM {table} a"


def daily_sql(
    table: str, daily: str, *, merged: bool, tags_col: str, join: str, scales: dict[str, int] | None
) -> str:
    """CREATE `daily` from the pass-1 `table` (`a`, its tags joined by `join`): the dimensions,
    the canonical tag set (`tags_col`) and each amount rounded once to nano-units.

    merged: the cleanup (`clean_dims`, the canonical tag sets) merges pass-1 rows: a table of
      the cleaned rows re-aggregated. Otherwise (it would change no value and merge no rows,
      see `read.cleanup_merges`) a view of the pass-1 rows as they are: nothing copied, no
      second GROUP BY, each later query computes only the columns it reads.
    scales: the 64-bit rounding (`nanos_sql`) of amounts summed in their own exact type of
      these scales; None: amounts at DECIMAL(38,18) rounded with round_even (any value)."""
    keys = ", ".join((*DIM_NAMES, "day", "tags"))
    dims = clean_dims() if merged else [f"a.{n}" for n in DIM_NAMES]
    agg = "sum({})" if merged else "{}"
    if scales is not None:
        amounts = [f"a.{m} AS {m}" for m, _ in MONEY]
        money = [f"{nanos_sql(f'coalesce({agg.format(m)}, 0)', scales[m])} AS {m}" for m, _ in MONEY]
    else:
        amounts = [f"CAST(a.{m} AS {DEC}) AS {m}" for m, _ in MONEY]
        money = [f"{general_nanos_sql(f'coalesce({agg.format(m)}, 0)')} AS {m}" for m, _ in MONEY]
    inner = (
        f"SELECT {', '.join(dims)}, a.day, {tags_col} AS tags, {', '.join(amounts)}, "
        + ", ".join(f"CAST(a.{q} AS {DEC}) AS {q}" for q, _ in QUANTITIES)
        + f", a.n FROM {table} a {join}"
    )
    qty = ", ".join(f"CAST({agg.format(q)} AS DOUBLE) AS {q}" for q, _ in QUANTITIES)
    select = f"SELECT {keys}, {', '.join(money)}, {qty}"
    if merged:
        return f"CREATE OR REPLACE TEMP TABLE {daily} AS {select}, sum(n) AS n FROM ({inner}) GROUP BY {keys}"
    return f"CREATE OR REPLACE TEMP VIEW {daily} AS {select}, n FROM ({inner})"


def totals_sql(daily: str) -> str:
    """Per currency the billed, effective, list and contracted totals (reads every amount)."""
    return (
        f"SELECT billing_currency, sum(billed), sum(effective), sum(list), sum(contracted) "
        f"FROM {daily} GROUP BY 1 ORDER BY 1"
    )


# -- writing ------------------------------------------------------------------------------
def distinct_dims_sql(daily: str) -> str:
    """The distinct values of every dimension kind: (kind index in DIM_KINDS, value, label,
    extra), one pass per kind, in kind order, each kind's values sorted."""
    distinct = " UNION ALL ".join(
        f"SELECT DISTINCT {k} AS k, {value} AS v, {label or 'NULL'} AS lb, {extra or 'NULL'} AS ex "
        f"FROM {daily} WHERE {value} IS NOT NULL"
        for k, (_kind, value, label, extra) in enumerate(DIM_KINDS)
    )
    return f"SELECT * FROM ({distinct}) ORDER BY ALL"


def id_rows_sql(daily: str, ids: str, rows: str, source_id: int) -> str:
    """CREATE `rows`: the daily rows as the cache's costs rows, each dimension value replaced
    by its id from the (kind, value, id) table `ids`."""
    joins = []
    cols = []
    for i, (kind, value, _l, _e) in enumerate((*DIM_KINDS, ("tagset", "tags", None, None))):
        joins.append(f"LEFT JOIN {ids} j{i} ON j{i}.kind = {ql(kind)} AND j{i}.value = d.{value}")
        cols.append(f"j{i}.id AS {COST_DIMS[i]}")
    return (
        f"CREATE TEMP TABLE {rows} AS SELECT CAST({source_id} AS BIGINT) AS source_id, "
        f"strftime(d.day, '%Y-%m-%d') AS day, {', '.join(cols)}, d.billed, d.effective, d.list, d.contracted, "
        f"d.pricing_quantity, d.consumed_quantity FROM {daily} d {' '.join(joins)}"
    )


def packed_select() -> str:
    """The costs columns with the 14 dimension ids packed into the integers of
    `Store.insert_packed_cost_tuples` (PACK_BITS per id, 0 for NULL)."""
    packs = [
        " | ".join(f"(coalesce({d}, 0) << {PACK_BITS * (len(group) - 1 - j)})" for j, d in enumerate(group))
        for group in PACK_GROUPS
    ]
    return (f"source_id, day, {', '.join(packs)}, billed, effective, list, contracted, "
            "pricing_quantity, consumed_quantity")


_ROLLUP_SUMS = "sum(billed), sum(effective), sum(list), sum(contracted), count(*)"


_PERIOD = {"week": "strftime(date_trunc('week', CAST(day AS DATE)), '%Y-%m-%d')",
           "month": "strftime(date_trunc('month', CAST(day AS DATE)), '%Y-%m-%d')"}


# The dimension columns of the daily rows: every value, label and extra column of DIM_KINDS (once),
# and the values alone (what identifies a cost line, with the tags).
_DIM_COLUMNS = tuple(dict.fromkeys(c for kind in DIM_KINDS for c in kind[1:] if c))
_VALUE_COLUMNS = tuple(dict.fromkeys(kind[1] for kind in DIM_KINDS))


def combos_sql(dailies: list[str], combos: str) -> str:
    """CREATE `combos`: the distinct dimension values, labels, extras and tags of the daily rows
    (about one per resource): what the dimension ids are resolved from, one pass over the rows."""
    cols = ", ".join((*_DIM_COLUMNS, "tags"))
    src = " UNION ALL ".join(f"SELECT {cols} FROM {t}" for t in dailies)
    return f"CREATE OR REPLACE TEMP TABLE {combos} AS SELECT DISTINCT {cols} FROM ({src})"


def lines_from_combos_sql(combos: str, ids: str, lines: str, source_id: int, first_id: int) -> str:
    """CREATE `lines`: one cost line per distinct combination of dimension values and tags of
    `combos`, with its dimension ids from the (kind, value, id) table `ids`, numbered from
    `first_id` in (resource, dimensions) order; the values are kept to match the daily rows."""
    values = (*_VALUE_COLUMNS, "tags")
    joins, cols = [], []
    for i, (kind, value, _l, _e) in enumerate((*DIM_KINDS, ("tagset", "tags", None, None))):
        joins.append(f"LEFT JOIN {ids} j{i} ON j{i}.kind = {ql(kind)} AND j{i}.value = c.{value}")
        cols.append(f"j{i}.id AS {COST_DIMS[i]}")
    inner = (f"SELECT CAST({int(source_id)} AS BIGINT) AS source_id, {', '.join(cols)}, "
             f"{', '.join(f'c.{v} AS v_{v}' for v in values)}, {value_hash('c')} AS h "
             f"FROM (SELECT DISTINCT {', '.join(values)} FROM {combos}) c {' '.join(joins)}")
    return (f"CREATE OR REPLACE TEMP TABLE {lines} AS SELECT CAST({int(first_id)} - 1 + row_number() OVER "
            f"(ORDER BY resource, {', '.join(COST_DIMS)}) AS BIGINT) AS id, * FROM ({inner})")


def value_hash(alias: str) -> str:
    """DuckDB's 64-bit hash of a row's dimension values and tags: a cost line's key in one integer
    (exact only while the lines' hashes are distinct: see `facts_from_lines_sql`)."""
    return f"hash({', '.join(f'{alias}.{v}' for v in (*_VALUE_COLUMNS, 'tags'))})"


def facts_from_lines_sql(dailies: list[str], lines: str, facts: str, by_hash: bool, merge: bool = True) -> str:
    """CREATE `facts`: the cost_facts rows (line, day, amounts, quantities) of the daily rows, each
    row matched to its line, rows of the same line and day summed (a value seen with two labels is
    one line); `day` stays a DATE here (the staging insert writes it as text). `by_hash`: match on
    the values' hash, exact when no two lines share one (one integer per row to join instead of
    15 strings); otherwise on the values and tags themselves (NULL matches NULL). `merge`: some
    line has two label variants (else every (line, day) is one daily row: no GROUP BY)."""
    values = (*_VALUE_COLUMNS, "tags")
    cols = ", ".join((*values, "day", "billed", "effective", "list", "contracted", "pricing_quantity",
                      "consumed_quantity"))
    src = " UNION ALL ".join(f"SELECT {cols} FROM {t}" for t in dailies)
    if by_hash:
        src = f"SELECT *, {value_hash('x')} AS h FROM ({src}) x"
        match = "l.h = d.h"
    else:
        match = " AND ".join(f"l.v_{v} IS NOT DISTINCT FROM d.{v}" for v in values)
    agg = "sum({})" if merge else "{}"
    money = ", ".join(f"CAST({agg.format('d.' + m)} AS BIGINT) AS {m}"
                      for m in ("billed", "effective", "list", "contracted"))
    qty = ", ".join(f"CAST({agg.format('d.' + q)} AS DOUBLE) AS {q}" for q in ("pricing_quantity", "consumed_quantity"))
    group = " GROUP BY l.id, CAST(d.day AS DATE)" if merge else ""
    return (
        f"CREATE OR REPLACE TEMP TABLE {facts} AS SELECT l.id AS line, CAST(d.day AS DATE) AS day, {money}, {qty} "
        f"FROM ({src}) d JOIN {lines} l ON {match}{group}"
    )


def summary_from_coarse_sql(coarse: str, period: str) -> str:
    """The cost_summary_weekly / cost_summary_monthly rows of the coarse daily rows (with `n`)."""
    sdims = ", ".join(SUMMARY_DIMS)
    return (
        f"SELECT source_id, {_PERIOD[period]} AS p, {sdims}, sum(billed), sum(effective), sum(list), "
        f"sum(contracted), sum(n) FROM {coarse} GROUP BY source_id, p, {sdims}"
    )


def daily_dims_from_sql(coarse: str, costs: str) -> str:
    """The cost_daily_dims rows: per day and coarse dimension value from the coarse daily rows,
    per day and tag set from `costs` (tag sets are not coarse)."""
    sums = "sum(billed) AS billed, sum(effective) AS effective, sum(list) AS list, sum(contracted) AS contracted"
    per_dim = [f"SELECT source_id, day, '{d}' AS dim, {d} AS value, currency, {sums}, sum(n) AS n "
               f"FROM {coarse} GROUP BY source_id, day, {d}, currency" for d in SUMMARY_DIMS]
    tags = (f"SELECT source_id, day, 'tagset' AS dim, tagset AS value, currency, {sums}, count(*) AS n "
            f"FROM {costs} GROUP BY source_id, day, tagset, currency")
    return " UNION ALL ".join([*per_dim, tags])


def costs_view_sql(lines: str, facts: str, view: str) -> str:
    """CREATE `view`: the facts with their lines' dimension ids, the columns of the cache's
    `costs` view (what the coarse rollups are computed from)."""
    cdims = ", ".join(f"l.{d} AS {d}" for d in COST_DIMS)
    return (
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT l.source_id AS source_id, f.day AS day, {cdims}, "
        f"f.billed, f.effective, f.list, f.contracted, f.pricing_quantity, f.consumed_quantity "
        f"FROM {facts} f JOIN {lines} l ON l.id = f.line"
    )


def coarse_daily_sql(costs: str, coarse: str) -> str:
    """CREATE `coarse`: the daily rows of `costs` (columns of the cache's `costs`) by the coarse
    dimensions, with their row count `n` (what `cache.schema.pair_rollup_sql` reads)."""
    sdims = ", ".join(SUMMARY_DIMS)
    return (
        f"CREATE OR REPLACE TEMP TABLE {coarse} AS SELECT source_id, day, {sdims}, sum(billed) AS billed, "
        f"sum(effective) AS effective, sum(list) AS list, sum(contracted) AS contracted, count(*) AS n "
        f"FROM {costs} GROUP BY source_id, day, {sdims}"
    )


def line_period_sql(facts: str, period: str) -> str:
    """The cost_weekly_lines (period="week") or cost_monthly_lines rows of these facts."""
    return (
        f"SELECT line, {_PERIOD[period]} AS p, {_ROLLUP_SUMS} FROM {facts} GROUP BY line, p ORDER BY line, p"
    )


