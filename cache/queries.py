"""Read queries every view and report uses. Aggregation happens in SQL over integer
dimension ids; only the groups returned are joined back to their names.

Coarse questions (no resource, tag or commitment dimension) are answered from the coarse
monthly and weekly rollups plus the daily facts for the edge days; the rest from the fine
rollups and the `costs` fact table (see `_Plan.tiled`).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .schema import COST_DIMS, PAIR_DIMS, SUMMARY_DIMS

# FOCUS column name -> dims kind (the costs column of the same name).
DIMENSIONS: dict[str, str] = {
    "provider_name": "provider",
    "billing_account_id": "billing_account",
    "sub_account_id": "sub_account",
    "service_name": "service",
    "service_category": "service_category",
    "region_id": "region",
    "resource_type": "resource_type",
    "resource_id": "resource",
    "charge_category": "charge_category",
    "pricing_category": "pricing_category",
    "commitment_discount_id": "commitment",
    "commitment_discount_status": "commitment_status",
    "billing_currency": "currency",
}

DIM_TITLES: dict[str, str] = {
    "provider_name": "Provider",
    "billing_account_id": "Billing account",
    "sub_account_id": "Sub account",
    "service_name": "Service",
    "service_category": "Service category",
    "region_id": "Region",
    "resource_type": "Resource type",
    "resource_id": "Resource",
    "charge_category": "Charge category",
    "pricing_category": "Pricing category",
    "commitment_discount_id": "Commitment",
    "commitment_discount_status": "Commitment status",
    "billing_currency": "Currency",
}

METRICS = {"billed": "billed", "effective": "effective", "list": "list", "contracted": "contracted"}
GRAINS = ("day", "week", "month")


class QueryError(ValueError):
    pass


@dataclass(slots=True)
class Group:
    value: str | None  # the dimension value (id), None = not set
    label: str | None  # display name where the source has one (account name, resource name)
    currency: str
    cost: int  # nano-units
    extra: str | None = None  # service category of a service, type of a resource


def dim_title(by: str) -> str:
    if by.startswith("tag:"):
        return f"Tag {by[4:]}"
    return DIM_TITLES.get(by, by)


def check_dim(by: str) -> None:
    if by.startswith("tag:"):
        if not by[4:]:
            raise QueryError("tag dimension needs a key: tag:KEY")
        return
    if by not in DIMENSIONS:
        raise QueryError(f"unknown dimension {by!r}; expected one of {', '.join(DIMENSIONS)} or tag:KEY")


def _metric(metric: str) -> str:
    try:
        return METRICS[metric]
    except KeyError:
        raise QueryError(f"unknown metric {metric!r}; expected billed, effective or list") from None


def _dim_lookup(conn: sqlite3.Connection, kind: str, value: str) -> int | None:
    row = conn.execute("SELECT id FROM dims WHERE kind=? AND value=?", (kind, value)).fetchone()
    return int(row[0]) if row else None


class _Plan:
    """Builds FROM/WHERE for a grouping over costs and its rollups.

    Fine-grained plans (over `costs`) may be split into parts (`parts()`): the whole ISO weeks
    inside [since, until) read from the `cost_weekly` rollup, the edge days from `costs`.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        since: date,
        until: date,
        filters: dict[str, str | None] | None,
        extra_dims: tuple[str, ...] = (),
    ) -> None:
        filters = dict(filters or {})
        for k in filters:
            check_dim(k)
        needed = [*filters, *extra_dims]
        coarse = all(not d.startswith("tag:") and DIMENSIONS[d] in SUMMARY_DIMS for d in needed)
        self.coarse = coarse  # the coarse rollups answer whole weeks and months
        self.table = _DAILY
        # The narrow daily series (cost_daily_dims) answer a coarse day range grouped by one
        # coarse dimension (or none) when nothing but the currency is filtered.
        self.narrow = set(filters) <= {"billing_currency"} and all(
            d.startswith("tag:") or DIMENSIONS[d] in SUMMARY_DIMS for d in extra_dims)
        # Tag filters (and the currency) with no grouping or a tag grouping: the tag set's narrow
        # daily series (days x tag sets rows) answer them too.
        self.tag_narrow = not self.narrow and all(k.startswith("tag:") or k == "billing_currency" for k in filters) \
            and all(d.startswith("tag:") for d in extra_dims)
        # One coarse dimension filtered (besides the currency): its daily series answer no grouping
        # or a grouping by itself or the currency, the daily pair series a grouping by another
        # coarse dimension (`pair` = (column, id or None for "not set"), set below).
        others = [k for k in filters if k != "billing_currency"]
        self.pair: tuple[str, int | None] | None = None
        pair_col = DIMENSIONS[others[0]] if len(others) == 1 and not others[0].startswith("tag:") else None
        self.since = since
        self.until = until
        self.joins: list[str] = []
        self.filters: list[str] = []
        self.filter_params: list[Any] = []
        self.join_params: list[Any] = []
        self.empty = False
        for i, (k, v) in enumerate(filters.items()):
            if k.startswith("tag:"):
                if v is None:
                    self.filters.append(
                        f"NOT EXISTS (SELECT 1 FROM tag_index f{i} WHERE f{i}.tagset_id = c.tagset AND f{i}.key = ?)"
                    )
                    self.filter_params.append(k[4:])
                else:
                    # The few matching tag sets first, then the cost rows: a covering index of the
                    # day (or tag set, on cost_weekly) tests each entry against that list.
                    self.filters.append(f"c.tagset IN (SELECT f{i}.tagset_id FROM tag_index f{i} "
                                        f"WHERE f{i}.key = ? AND f{i}.value = ?)")
                    self.filter_params.extend((k[4:], v))
                continue
            col = DIMENSIONS[k]
            if v is None:
                self.filters.append(f"c.{col} IS NULL")
                did = None
            else:
                did = _dim_lookup(conn, col, v)
                if did is None:
                    self.empty = True
                self.filters.append(f"c.{col} = ?")
                self.filter_params.append(did if did is not None else -1)
            if col == pair_col and col in PAIR_DIMS:
                self.pair = (col, did)

    def _from(self, table: str, period: str, joins: list[str]) -> str:
        """FROM/WHERE with `period` (the day or week predicate) and the filters."""
        return f"FROM {table} c {' '.join(joins)} WHERE {' AND '.join([period, *self.filters])}"

    def sql_from(self) -> tuple[str, list[Any]]:
        """FROM/WHERE over the plan's daily table for the whole range."""
        return (
            self._from(self.table, "c.day >= ? AND c.day < ?", self.joins),
            [*self.join_params, self.since.isoformat(), self.until.isoformat(), *self.filter_params],
        )

    def parts(self, conn: sqlite3.Connection, key: str | None = None,
              tiers: tuple[str, ...] = ("month", "week", "day")) -> list[tuple[str, list[Any]]]:
        """FROM/WHERE clauses whose rows partition the range (see `tiled`), without the tiers."""
        return [(sql, params) for sql, params, _tier in self.tiled(conn, key, tiers)]

    def tiled(self, conn: sqlite3.Connection, key: str | None = None,
              tiers: tuple[str, ...] = ("month", "week", "day")) -> list[tuple[str, list[Any], str]]:
        """(FROM/WHERE, params, tier) clauses whose rows partition [since, until): the whole
        calendar months inside it from the monthly rollup, the whole ISO weeks left at each end
        from the weekly rollup, the days left (at most 12 at each ragged end) from the daily facts; the
        coarse rollups (cost_summary_monthly/_weekly) when the plan is coarse, the fine ones
        (cost_monthly, cost_weekly) otherwise. Rows read grow with the groups and periods, not with the days.

        The range is first widened where that adds no data: a `since` at or before the first
        day with data moves to that day's month start, an `until` past the last day to the
        next month start, so "everything" and "this month" are whole months. `tiers` limits the
        tiers (a per-month series cannot use weeks). Aggregate each part, then add up the
        partial sums (integers: exact). `key`: the column grouped on, which picks how the fine
        edge days are read."""
        span = conn.execute(_SPAN).fetchone()
        if not span or span[0] is None:
            return [(*self.sql_from(), "day")]
        first, last = date.fromisoformat(span[0]), date.fromisoformat(span[1])
        lo, hi = self.since, self.until
        if lo <= first:
            lo = min(lo, first.replace(day=1))
        if hi > last:
            hi = max(hi, _next_month(last))
        if lo >= hi:
            return [(*self.sql_from(), "day")]
        coarse = self.coarse
        if self.pair is not None and "day" in tiers:
            col, did = self.pair
            if key in (None, col, "currency"):
                # The filtered dimension's own daily series (its value column renamed to it, so
                # the plan's filter applies as it is).
                table = (f"(SELECT source_id, day, value AS {col}, currency, billed, effective, list, contracted, "
                         f"n FROM cost_daily_dims WHERE dim = '{col}')")
                return [(self._from(table, "c.day >= ? AND c.day < ?", self.joins),
                         [*self.join_params, lo.isoformat(), hi.isoformat(), *self.filter_params], "day")]
            if key in PAIR_DIMS:
                # The first drill-down: the daily pair series of (filtered, grouped) dimension.
                table = (f"(SELECT source_id, day, nullif(value, 0) AS {col}, nullif(by_value, 0) AS {key}, "
                         f"nullif(currency, 0) AS currency, billed, effective, list, contracted, n "
                         f"FROM cost_daily_pairs WHERE dim = '{col}' AND value = {int(did or 0)} "
                         f"AND by_dim = '{key}')")
                return [(self._from(table, "c.day >= ? AND c.day < ?", self.joins),
                         [*self.join_params, lo.isoformat(), hi.isoformat(), *self.filter_params], "day")]
        if (self.narrow and key in _NARROW_KEYS or self.tag_narrow and key in (None, "tagset")) and "day" in tiers:
            # One dimension (or none), nothing filtered but the currency (or only tags, read from
            # the tag set series): the narrow daily series hold days x values rows (a few thousand
            # a month), fewer than any rollup of the combinations: read the whole range from them.
            dim = "tagset" if self.tag_narrow else key or "provider"  # any one dimension partitions the total
            other = "" if dim == "currency" else ", currency"
            table = (f"(SELECT source_id, day, value AS {dim}{other}, billed, effective, list, contracted, n "
                     f"FROM cost_daily_dims WHERE dim = '{dim}')")
            return [(self._from(table, "c.day >= ? AND c.day < ?", self.joins),
                     [*self.join_params, lo.isoformat(), hi.isoformat(), *self.filter_params], "day")]
        out: list[tuple[str, list[Any], str]] = []
        for tier, a, b, sign in _cover(lo, hi, tiers):
            table, col = _TIER_TABLES[coarse][tier]
            rows = "1" if tier == "day" else "n"  # `n`: the daily rows a tile's row stands for
            if sign < 0:  # a period read whole, minus its days outside the range: the amounts negated
                dims = ", ".join(SUMMARY_DIMS if coarse else COST_DIMS)
                table = (f"(SELECT source_id, {col}, {dims}, -billed AS billed, -effective AS effective, "
                         f"-list AS list, -contracted AS contracted, -{rows} AS n FROM {table})")
            elif tier == "day":
                table = _DAILY
            pred = f"c.{col} >= ? AND c.{col} < ?"
            out.append((self._from(table, pred, self.joins),
                        [*self.join_params, a.isoformat(), b.isoformat(), *self.filter_params], tier))
        return out or [(*self.sql_from(), "day")]


# The daily facts as the tiles read them: `n` = 1 (the rollups' n counts the daily rows).
_DAILY = "(SELECT *, 1 AS n FROM costs)"

Tile = tuple[str, date, date, int]  # (tier, first, end exclusive, +1 added / -1 subtracted)

# The cost of reading a tile: every tile is one pass over the lines (or the coarse rows) with one
# seek each, which costs about as much as reading 10 of their days; then a row per period.
_TILE_COST = 10


def _tiles_cost(tiles: list[Tile]) -> int:
    per = {"day": 1, "week": 7, "month": 31}
    return sum(_TILE_COST + (b - a).days // per[t] for t, a, b, _s in tiles)


def _days(a: date, b: date, sign: int) -> list[Tile]:
    return [("day", a, b, sign)] if a < b else []


def _cover_weeks(a: date, b: date, sign: int, tiers: tuple[str, ...]) -> list[Tile]:
    """The cheapest tiles of [a, b) by ISO weeks and days: whole weeks inside, plus the edge days
    added, or a week read whole minus the days before `a` (after `b`) subtracted."""
    best = _days(a, b, sign)
    if "week" not in tiers or a >= b:
        return best
    a_floor = a - timedelta(days=a.weekday())
    b_floor = b - timedelta(days=b.weekday())
    for wl in {a_floor, a_floor if a == a_floor else a_floor + timedelta(days=7)}:
        for wh in {b_floor, b_floor if b == b_floor else b_floor + timedelta(days=7)}:
            if wl >= wh:
                continue
            tiles = [("week", wl, wh, sign)]
            tiles += _days(a, wl, sign) if wl > a else _days(wl, a, -sign)
            tiles += _days(wh, b, sign) if wh < b else _days(b, wh, -sign)
            if _tiles_cost(tiles) < _tiles_cost(best):
                best = tiles
    return best


def _cover(lo: date, hi: date, tiers: tuple[str, ...]) -> list[Tile]:
    """The cheapest tiles of [lo, hi): whole calendar months, ISO weeks and days, each edge either
    added or, when cheaper, subtracted from a period read whole (integer sums: exact)."""
    best = _cover_weeks(lo, hi, 1, tiers)
    if "month" not in tiers:
        return best
    lo_floor, hi_floor = lo.replace(day=1), hi.replace(day=1)
    for ml in {lo_floor, lo if lo == lo_floor else _next_month(lo_floor)}:
        for mh in {hi_floor, hi if hi == hi_floor else _next_month(hi_floor)}:
            if ml >= mh:
                continue
            tiles: list[Tile] = [("month", ml, mh, 1)]
            tiles += _cover_weeks(lo, ml, 1, tiers) if ml > lo else _cover_weeks(ml, lo, -1, tiers)
            tiles += _cover_weeks(mh, hi, 1, tiers) if mh < hi else _cover_weeks(hi, mh, -1, tiers)
            if _tiles_cost(tiles) < _tiles_cost(best):
                best = tiles
    return best


# (coarse?) -> tier -> (table, period column)
_TIER_TABLES: dict[bool, dict[str, tuple[str, str]]] = {
    True: {"day": ("costs", "day"), "week": ("cost_summary_weekly", "week"),
           "month": ("cost_summary_monthly", "month")},
    False: {"day": ("costs", "day"), "week": ("cost_weekly", "week"), "month": ("cost_monthly", "month")},
}


# Keys answered from cost_daily_dims (None: no grouping).
_NARROW_KEYS = (None, *SUMMARY_DIMS, "tagset")

# First and last day with data: two index lookups on the narrow daily series (min() and max() in
# one SELECT would scan; every daily cost row has its provider series row).
_SPAN = ("SELECT (SELECT min(day) FROM cost_daily_dims WHERE dim = 'provider'), "
         "(SELECT max(day) FROM cost_daily_dims WHERE dim = 'provider')")


def _next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def _union(parts: list[tuple[str, list[Any]]], select: str, group: str) -> tuple[str, list[Any]]:
    """`SELECT {select} {part} GROUP BY {group}` per part, as one UNION ALL."""
    sql = " UNION ALL ".join(f"SELECT {select} {p} GROUP BY {group}" for p, _ in parts)
    return sql, [x for _, params in parts for x in params]


def spend_by(
    conn: sqlite3.Connection,
    by: str,
    since: date,
    until: date,
    metric: str = "billed",
    filters: dict[str, str | None] | None = None,
    limit: int | None = None,
) -> list[Group]:
    """Spend per value of `by` in [since, until), largest first, one group per (value, currency)."""
    check_dim(by)
    m = _metric(metric)
    plan = _Plan(conn, since, until, filters, (by,))
    if plan.empty:
        return []
    parts = plan.parts(conn, "tagset" if by.startswith("tag:") else DIMENSIONS[by])
    lim = f"LIMIT {int(limit)}" if limit else ""
    if by.startswith("tag:"):
        # Totals per tag set first (each part streams a covering index in tag set order), then
        # map the few tag sets to the key's value: one tag_index lookup per tag set, not per row.
        inner, params = _union(
            parts, f"c.tagset AS tagset, c.currency AS currency, sum(c.{m}) AS cost, sum(c.n) AS n",
            "c.tagset, c.currency")
        sql = f"""SELECT g.value AS value, NULL AS label, NULL AS extra, cur.value AS currency, g.cost AS cost
                  FROM (SELECT t.value AS value, s.currency AS currency, sum(s.cost) AS cost
                        FROM ({inner}) s
                        LEFT JOIN tag_index t ON t.tagset_id = s.tagset AND t.key = ?
                        GROUP BY t.value, s.currency HAVING sum(s.n) > 0) g
                  LEFT JOIN dims cur ON cur.id = g.currency
                  ORDER BY g.cost DESC, g.value {lim}"""
        params = [*params, by[4:]]
    else:
        col = DIMENSIONS[by]
        inner, params = _union(
            parts, f"c.{col} AS k, c.currency AS currency, sum(c.{m}) AS cost, sum(c.n) AS n", f"c.{col}, c.currency"
        )
        if len(parts) > 1:
            # Groups whose rows are all outside the range (read whole, then subtracted) are not groups.
            inner = f"SELECT k, currency, sum(cost) AS cost FROM ({inner}) GROUP BY k, currency HAVING sum(n) > 0"
        sql = f"""SELECT d.value AS value, d.label AS label, d.extra AS extra, cur.value AS currency, g.cost AS cost
                  FROM ({inner}) g
                  LEFT JOIN dims d ON d.id = g.k
                  LEFT JOIN dims cur ON cur.id = g.currency
                  ORDER BY g.cost DESC, d.value {lim}"""
    return [
        Group(value=r[0], label=r[1], extra=r[2], currency=r[3] or "USD", cost=int(r[4] or 0))
        for r in conn.execute(sql, params)
    ]


_PERIOD_OF_TIER: dict[tuple[str, str], str] = {
    ("day", "day"): "c.day",
    ("week", "day"): "date(c.day, '-6 days', 'weekday 1')",
    ("week", "week"): "c.week",
    ("month", "day"): "substr(c.day, 1, 7) || '-01'",
    ("month", "month"): "c.month",
}
_TIERS_OF_GRAIN = {"day": ("day",), "week": ("week", "day"), "month": ("month", "day")}


def spend_series(
    conn: sqlite3.Connection,
    by: str | None,
    since: date,
    until: date,
    metric: str = "billed",
    filters: dict[str, str | None] | None = None,
    grain: str = "day",
    values: list[str | None] | None = None,
) -> dict[str | None, dict[str, int]]:
    """{group value: {period start 'YYYY-MM-DD': nanos}} for [since, until). by=None: one series under None.
    `values`: only these groups of `by` (a dimension, not a tag), e.g. the rows a table shows:
    the resource series of a month read the shown resources' rows, not every resource's.

    Per-week and per-month series read the weekly and monthly rollups for the whole periods
    (a week is not inside a month: each grain uses its own tier and the days)."""
    m = _metric(metric)
    if grain not in _TIERS_OF_GRAIN:
        raise QueryError(f"unknown granularity {grain!r}; expected day, week or month")
    if by is not None:
        check_dim(by)
    plan = _Plan(conn, since, until, filters, (by,) if by else ())
    out: dict[str | None, dict[str, int]] = defaultdict(dict)
    if plan.empty:
        return out
    key = None if by is None else ("tagset" if by.startswith("tag:") else DIMENSIONS[by])
    col = "NULL" if key is None else f"c.{key}"
    if values is not None and key is not None and key != "tagset":
        wanted = sorted({v for v in values if v is not None})
        ids = [int(r[0]) for i in range(0, len(wanted), 500) for r in conn.execute(
            f"SELECT id FROM dims WHERE kind=? AND value IN ({', '.join('?' * len(wanted[i:i + 500]))})",
            (key, *wanted[i:i + 500]))]
        if not ids and None not in values:
            return out
        cond = f"c.{key} IN ({', '.join('?' * len(ids))})" if ids else "0"
        plan.filters.append(f"({cond} OR c.{key} IS NULL)" if None in values else cond)
        plan.filter_params.extend(ids)
    selects, params = [], []
    for from_sql, p, tier in plan.tiled(conn, key, _TIERS_OF_GRAIN[grain]):
        per = _PERIOD_OF_TIER[(grain, tier)]
        selects.append(f"SELECT {col} AS k, {per} AS p, sum(c.{m}) AS cost, sum(c.n) AS n {from_sql} GROUP BY k, p")
        params.extend(p)
    inner = f"SELECT k, p, sum(cost) AS cost FROM ({' UNION ALL '.join(selects)}) GROUP BY k, p HAVING sum(n) > 0"
    if by is None:
        sql = f"SELECT NULL, p, cost FROM ({inner})"
    elif by.startswith("tag:"):
        # Per tag set first, then the few tag sets mapped to the key's value.
        sql = f"""SELECT t.value, g.p, sum(g.cost) FROM ({inner}) g
                  LEFT JOIN tag_index t ON t.tagset_id = g.k AND t.key = ? GROUP BY t.value, g.p"""
        params.append(by[4:])
    else:
        sql = f"SELECT d.value, g.p, g.cost FROM ({inner}) g LEFT JOIN dims d ON d.id = g.k"
    for value, period, cost in conn.execute(sql, params):
        out[value][period] = int(cost or 0)
    return out


def total(
    conn: sqlite3.Connection,
    since: date,
    until: date,
    metric: str = "billed",
    filters: dict[str, str | None] | None = None,
) -> dict[str, int]:
    """{currency: nanos} in [since, until)."""
    m = _metric(metric)
    plan = _Plan(conn, since, until, filters)
    if plan.empty:
        return {}
    inner, params = _union(plan.parts(conn), f"c.currency AS k, sum(c.{m}) AS cost, sum(c.n) AS n", "c.currency")
    sql = f"""SELECT cur.value, g.cost FROM (SELECT k, sum(cost) AS cost FROM ({inner}) GROUP BY k
                                              HAVING sum(n) > 0) g
              LEFT JOIN dims cur ON cur.id = g.k"""
    return {(r[0] or "USD"): int(r[1] or 0) for r in conn.execute(sql, params)}


def data_range(conn: sqlite3.Connection) -> tuple[date, date] | None:
    """(first day, last day) with cost data, inclusive."""
    row = conn.execute(_SPAN).fetchone()
    if not row or row[0] is None:
        return None
    return date.fromisoformat(row[0]), date.fromisoformat(row[1])


def main_currency(conn: sqlite3.Connection) -> str:
    row = conn.execute(
        """SELECT d.value FROM cost_summary_monthly c JOIN dims d ON d.id = c.currency
           GROUP BY c.currency ORDER BY sum(abs(c.billed)) DESC LIMIT 1"""
    ).fetchone()
    return row[0] if row else "USD"


def dim_values(conn: sqlite3.Connection, by: str, limit: int = 500) -> list[tuple[str, str | None]]:
    """Known values of a dimension (value, label), for filter suggestions."""
    check_dim(by)
    if by.startswith("tag:"):
        return [(r[0], None) for r in conn.execute(
            "SELECT DISTINCT value FROM tag_index WHERE key=? ORDER BY value LIMIT ?", (by[4:], limit)
        )]
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT value, label FROM dims WHERE kind=? ORDER BY value LIMIT ?", (DIMENSIONS[by], limit)
    )]


def dim_label(conn: sqlite3.Connection, by: str, value: str | None) -> str | None:
    """The display name of one value of a dimension (an account's name), None when it has none."""
    check_dim(by)
    if value is None or by.startswith("tag:"):
        return None
    row = conn.execute("SELECT label FROM dims WHERE kind=? AND value=?", (DIMENSIONS[by], value)).fetchone()
    return row[0] if row and row[0] else None


def tag_keys(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT key FROM tag_index ORDER BY key")]
