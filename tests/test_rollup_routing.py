"""Routed reads (whole months, whole weeks, edge days over the rollups) equal the plain GROUP BY
over the daily fact rows, to the nano-unit: random ranges, every dimension, filters, both the
store's own rollups (windowed rewrites, as a sync makes) and the FOCUS importer's (DuckDB)."""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from cache import CostRow, Store
from cache import queries as q
from cache.store import COST_TABLES, LINE_TABLES, SOURCE_TABLES
from providers import focus

DATA = Path(__file__).parent / "data" / "focus-sample-1.0-1000rows.csv"
FIRST = date(2025, 1, 20)
DAYS = 170  # crosses six month boundaries and two years' worth of week edges
BY = [*q.DIMENSIONS, "tag:team", "tag:env"]


def _rows(rng: random.Random, days: range, salt: int) -> list[CostRow]:
    out = []
    for i in days:
        d = FIRST + timedelta(days=i)
        for r in range(14):
            if rng.random() < 0.25:
                continue
            out.append(CostRow(
                day=d, provider_name=("AWS", "Microsoft", "Google Cloud")[r % 3],
                billing_account_id=f"ba{r % 2}", sub_account_id=f"sub{r % 5}", sub_account_name=f"Sub {r % 5}",
                service_name=f"svc{r % 6}", service_category=("Compute", "Storage")[r % 2],
                region_id=("eu", "us", None)[r % 3], resource_id=f"res{r}-{salt}" if r % 4 else None,
                resource_type=f"type{r % 3}", charge_category=("Usage", "Tax", "Credit")[r % 3],
                pricing_category=("Standard", "Committed")[r % 2],
                commitment_discount_id="sp1" if r % 5 == 0 else None,
                billing_currency="EUR" if r == 13 else "USD",
                tags=None if r % 4 == 0 else {"team": f"t{r % 3}", "env": ("prod", "dev")[r % 2]},
                billed_cost=rng.randint(-5_000_000_000, 90_000_000_000) + rng.randint(0, 999),
                effective_cost=rng.randint(0, 80_000_000_000), list_cost=rng.randint(0, 99_000_000_000),
                contracted_cost=rng.randint(0, 70_000_000_000)))
    return out


def _plain(conn: sqlite3.Connection, by: str, since: date, until: date, metric: str,
           filters: dict[str, str | None]) -> dict[tuple[str | None, str], int]:
    """The plain GROUP BY over the daily `costs` rows: the reference."""
    where, params = ["c.day >= ?", "c.day < ?"], [since.isoformat(), until.isoformat()]
    for k, v in filters.items():
        if k.startswith("tag:"):
            where.append("c.tagset IN (SELECT tagset_id FROM tag_index WHERE key = ? AND value = ?)")
            params += [k[4:], v]
        else:
            where.append(f"(SELECT value FROM dims WHERE id = c.{q.DIMENSIONS[k]}) IS ?")
            params.append(v)
    if by.startswith("tag:"):
        key = "(SELECT value FROM tag_index t WHERE t.tagset_id = c.tagset AND t.key = ?)"
        params = [by[4:], *params]
    else:
        key = f"(SELECT value FROM dims WHERE id = c.{q.DIMENSIONS[by]})"
    sql = (f"SELECT {key} AS k, (SELECT value FROM dims WHERE id = c.currency), sum(c.{metric}) "
           f"FROM costs c WHERE {' AND '.join(where)} GROUP BY 1, 2")
    return {(k, cur): int(v) for k, cur, v in conn.execute(sql, params) if v is not None}


def _routed(conn: sqlite3.Connection, by: str, since: date, until: date, metric: str,
            filters: dict[str, str | None]) -> dict[tuple[str | None, str], int]:
    got = q.spend_by(conn, by, since, until, metric, filters or None)
    out: dict[tuple[str | None, str], int] = defaultdict(int)
    for g in got:
        out[(g.value, g.currency)] += g.cost
    return dict(out)


def _ranges(rng: random.Random, first: date, n_days: int) -> list[tuple[date, date]]:
    last = first + timedelta(days=n_days)
    fixed = [(date(2000, 1, 1), date(2100, 1, 1)), (first, last), (date(2025, 3, 1), date(2025, 4, 1)),
             (date(2025, 2, 3), date(2025, 3, 3)), (first - timedelta(days=40), first + timedelta(days=3)),
             (last - timedelta(days=2), last + timedelta(days=90)), (date(2025, 3, 14), date(2025, 3, 15))]
    rand = []
    for _ in range(18):
        a = first + timedelta(days=rng.randint(-20, n_days + 5))
        rand.append((a, a + timedelta(days=rng.randint(1, 140))))
    return fixed + rand


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("routing") / "c.db"
    rng = random.Random(7)
    with Store(path) as s:
        a, b = s.ensure_source("a", "test"), s.ensure_source("b", "test")
        s.replace_costs(a, _rows(rng, range(DAYS), 1))
        s.replace_costs(b, _rows(rng, range(30, DAYS - 40), 2))
        # Incremental rewrites, as syncs make them: a window inside a month, one across a month
        # boundary, one at the end that adds new days.
        for lo, hi in ((45, 49), (69, 75), (DAYS - 3, DAYS + 9)):
            window = (FIRST + timedelta(days=lo), FIRST + timedelta(days=hi))
            s.replace_costs(a, _rows(rng, range(lo, hi), 3), window=window)
    return path


def test_every_rollup_equals_its_recomputation_after_windowed_rewrites(store_db: Path) -> None:
    conn = sqlite3.connect(store_db)
    sums = "sum(billed), sum(effective), sum(list), sum(contracted), count(*)"
    from cache.schema import COST_DIMS, SUMMARY_DIMS, pair_rollup_sql
    fine, coarse = ", ".join(COST_DIMS), ", ".join(SUMMARY_DIMS)
    month, week = "substr(day, 1, 7) || '-01'", "date(day, '-6 days', 'weekday 1')"
    checks = {
        "cost_monthly": (f"SELECT source_id, {month}, {fine}, {sums} FROM costs GROUP BY 1, 2, {fine}",
                         f"SELECT source_id, month, {fine}, billed, effective, list, contracted, n FROM cost_monthly"),
        "cost_summary_monthly": (
            f"SELECT source_id, {month}, {coarse}, {sums} FROM costs GROUP BY 1, 2, {coarse}",
            f"SELECT source_id, month, {coarse}, billed, effective, list, contracted, n FROM cost_summary_monthly"),
        "cost_summary_weekly": (
            f"SELECT source_id, {week}, {coarse}, {sums} FROM costs GROUP BY 1, 2, {coarse}",
            f"SELECT source_id, week, {coarse}, billed, effective, list, contracted, n FROM cost_summary_weekly"),
        "cost_daily_dims": (
            " UNION ALL ".join(f"SELECT source_id, day, '{d}', {d}, currency, {sums} FROM costs "
                               f"GROUP BY source_id, day, {d}, currency" for d in (*SUMMARY_DIMS, "tagset")),
            "SELECT source_id, day, dim, value, currency, billed, effective, list, contracted, n FROM cost_daily_dims"),
        "cost_daily_pairs": (
            pair_rollup_sql(f"(SELECT source_id, day, {coarse}, sum(billed) AS billed, sum(effective) AS effective, "
                            f"sum(list) AS list, sum(contracted) AS contracted, count(*) AS n FROM costs "
                            f"GROUP BY source_id, day, {coarse})"),
            "SELECT * FROM cost_daily_pairs"),
    }
    for table, (expected, stored) in checks.items():
        want, got = sorted(conn.execute(expected), key=repr), sorted(conn.execute(stored), key=repr)
        assert want == got, table
        assert len(got) > 10, table


@pytest.mark.parametrize("metric", ["billed", "effective"])
def test_routed_reads_equal_the_plain_group_by(store_db: Path, metric: str) -> None:
    conn = sqlite3.connect(store_db)
    rng = random.Random(11 if metric == "billed" else 12)
    filters: list[dict[str, str | None]] = [{}, {"provider_name": "AWS"}, {"tag:team": "t1"},
                                            {"resource_id": "res1-1"}, {"region_id": None},
                                            {"sub_account_id": "sub2", "service_name": "svc2"}]
    checked = 0
    for since, until in _ranges(rng, FIRST, DAYS + 9):
        for by in BY:
            f = rng.choice(filters)
            want = _plain(conn, by, since, until, metric, f)
            assert _routed(conn, by, since, until, metric, f) == want, (by, since, until, f)
            checked += bool(want)
        tot = q.total(conn, since, until, metric)
        ref: dict[str, int] = defaultdict(int)
        for (_k, cur), v in _plain(conn, "provider_name", since, until, metric, {}).items():
            ref[cur] += v
        assert tot == {k: v for k, v in ref.items()}
    assert checked > 200


def test_tiles_use_months_and_weeks(store_db: Path) -> None:
    """The whole history is answered from the monthly rollups only; a range with ragged ends
    from months, weeks and at most 6 edge days each side."""
    conn = sqlite3.connect(store_db)
    plan = q._Plan(conn, date(2000, 1, 1), date(2100, 1, 1), {"provider_name": "AWS", "region_id": "us-east-1"},
                   ("service_name",))
    assert [t for _s, _p, t in plan.tiled(conn, "service")] == ["month"]
    # One coarse dimension filtered, grouped by another: the daily pair series, whatever the range;
    # grouped by itself, by the currency or not at all: the filtered dimension's daily series.
    for since, until in ((date(2000, 1, 1), date(2100, 1, 1)), (date(2025, 2, 13), date(2025, 5, 27))):
        plan = q._Plan(conn, since, until, {"provider_name": "AWS"}, ("service_name",))
        [(sql, _p, tier)] = plan.tiled(conn, "service")
        assert "cost_daily_pairs WHERE dim = 'provider'" in sql and "by_dim = 'service'" in sql and tier == "day"
        for by, key in (("provider_name", "provider"), ("billing_currency", "currency"), (None, None)):
            plan = q._Plan(conn, since, until, {"provider_name": "AWS"}, (by,) if by else ())
            [(sql, _p, tier)] = plan.tiled(conn, key)
            assert "cost_daily_dims WHERE dim = 'provider'" in sql and tier == "day"
    # One coarse dimension (or a tag key), nothing but the currency filtered: the narrow daily
    # series, whatever the range.
    for by, key in (("service_name", "service"), ("tag:team", "tagset"), (None, None)):
        plan = q._Plan(conn, date(2000, 1, 1), date(2100, 1, 1), {"billing_currency": "USD"}, (by,) if by else ())
        [(sql, _p, tier)] = plan.tiled(conn, key)
        assert "cost_daily_dims" in sql and tier == "day"
    # Only tags filtered (and the currency), no grouping or a tag grouping: the tag set series.
    for by, key in (("tag:team", "tagset"), (None, None)):
        plan = q._Plan(conn, date(2025, 2, 13), date(2025, 5, 27), {"tag:env": "prod", "billing_currency": "USD"},
                       (by,) if by else ())
        [(sql, _p, tier)] = plan.tiled(conn, key)
        assert "cost_daily_dims WHERE dim = 'tagset'" in sql and tier == "day"
    # A ragged range: whole periods, each edge added or subtracted from a period read whole
    # (Dec 2 - Dec 31 is December minus Dec 1: two tiles, not weeks and nine edge days).
    plan = q._Plan(conn, date(2025, 2, 13), date(2025, 5, 27), None, ("resource_id",))
    tiles = plan.tiled(conn, "resource")
    assert len(tiles) <= 4 and {t for _s, _p, t in tiles} <= {"month", "week", "day"}
    assert q._cover(date(2025, 12, 2), date(2026, 1, 1), ("month", "week", "day")) == [
        ("month", date(2025, 12, 1), date(2026, 1, 1), 1), ("day", date(2025, 12, 1), date(2025, 12, 2), -1)]
    negated = [s for s, _p, _t in q._Plan(conn, date(2025, 3, 2), date(2025, 4, 1), None, ("resource_id",)).tiled(
        conn, "resource")]
    assert len(negated) == 2 and "-billed AS billed" in negated[1]


def test_tiles_cover_every_range_exactly_once() -> None:
    """Whatever the range and the tiers allowed, the tiles' signed days count every day of the
    range once and no other day: the partial sums add up to the range's sum exactly."""
    rng = random.Random(5)
    for tiers in (("month", "week", "day"), ("week", "day"), ("month", "day"), ("day",)):
        for _ in range(400):
            lo = date(2024, 1, 1) + timedelta(days=rng.randint(0, 800))
            hi = lo + timedelta(days=rng.randint(1, 500))
            count: dict[date, int] = defaultdict(int)
            for tier, a, b, sign in q._cover(lo, hi, tiers):
                assert tier in tiers
                if tier == "week":
                    assert a.weekday() == 0 and b.weekday() == 0
                if tier == "month":
                    assert a.day == 1 and b.day == 1
                for i in range((b - a).days):
                    count[a + timedelta(days=i)] += sign
            assert {d for d, n in count.items() if n} == {lo + timedelta(days=i) for i in range((hi - lo).days)}
            assert all(n in (0, 1) for n in count.values())


def test_focus_import_rollups_equal_the_stores(tmp_path: Path) -> None:
    """The importer's DuckDB rollups are what the store's own rebuild computes."""
    with Store(tmp_path / "f.db") as s:
        focus.import_files(s, [DATA])
        imported = {t: sorted(map(tuple, s.conn.execute(f"SELECT * FROM {t}")), key=repr) for t in COST_TABLES}
        [sid] = [r[0] for r in s.conn.execute("SELECT DISTINCT source_id FROM costs")]
        with s.transaction():
            for t in (*LINE_TABLES[1:], *SOURCE_TABLES):
                s.conn.execute(f"DELETE FROM {t}")
            s.rebuild_summary(sid)
        rebuilt = {t: sorted(map(tuple, s.conn.execute(f"SELECT * FROM {t}")), key=repr) for t in COST_TABLES}
    for t in COST_TABLES:
        assert imported[t] == rebuilt[t], t
        assert imported[t], t


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_routed_series_equal_the_plain_group_by(store_db: Path, grain: str) -> None:
    conn = sqlite3.connect(store_db)
    rng = random.Random({"day": 1, "week": 2, "month": 3}[grain])
    period = {"day": "c.day", "week": "date(c.day, '-6 days', 'weekday 1')",
              "month": "substr(c.day, 1, 7) || '-01'"}[grain]
    for since, until in _ranges(rng, FIRST, DAYS + 9)[:12]:
        for by in (None, "service_name", "resource_id", "tag:team"):
            f: dict[str, str | None] = rng.choice([{}, {"provider_name": "Microsoft"}, {"tag:env": "prod"},
                                                   {"tag:env": None}, {"tag:team": "t1", "billing_currency": "USD"}])
            got = q.spend_series(conn, by, since, until, "billed", f or None, grain)
            where, params = ["c.day >= ?", "c.day < ?"], [since.isoformat(), until.isoformat()]
            for k, v in f.items():
                if k.startswith("tag:") and v is None:
                    where.append("c.tagset IS NULL OR c.tagset NOT IN (SELECT tagset_id FROM tag_index WHERE key = ?)")
                    where[-1] = f"({where[-1]})"
                    params.append(k[4:])
                elif k.startswith("tag:"):
                    where.append("c.tagset IN (SELECT tagset_id FROM tag_index WHERE key = ? AND value = ?)")
                    params += [k[4:], v]
                else:
                    where.append(f"(SELECT value FROM dims WHERE id = c.{q.DIMENSIONS[k]}) IS ?")
                    params.append(v)
            if by is None:
                key = "NULL"
            elif by.startswith("tag:"):
                key = "(SELECT value FROM tag_index t WHERE t.tagset_id = c.tagset AND t.key = ?)"
                params = [by[4:], *params]
            else:
                key = f"(SELECT value FROM dims WHERE id = c.{q.DIMENSIONS[by]})"
            want: dict[str | None, dict[str, int]] = defaultdict(dict)
            for k, p, v in conn.execute(f"SELECT {key}, {period} AS p, sum(c.billed) FROM costs c "
                                        f"WHERE {' AND '.join(where)} GROUP BY 1, 2", params):
                want[k][p] = int(v)
            assert dict(got) == dict(want), (by, since, until, f)


def test_series_of_the_shown_groups_only(store_db: Path) -> None:
    conn = sqlite3.connect(store_db)
    whole = q.spend_series(conn, "resource_id", FIRST, FIRST + timedelta(days=DAYS), "billed")
    shown = ["res1-1", "res2-2", None, "no-such-resource"]
    got = q.spend_series(conn, "resource_id", FIRST, FIRST + timedelta(days=DAYS), "billed", values=shown)
    assert set(got) == {"res1-1", "res2-2", None} and all(got[k] == whole[k] for k in got)
    assert q.spend_series(conn, "resource_id", FIRST, FIRST + timedelta(days=9), values=["no-such"]) == {}


def test_v8_migration_splits_costs_into_lines_and_facts_with_the_same_rows(
        store_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of the version before (v7: `costs` a table with the 14 ids on every daily row,
    `cost_weekly`/`cost_monthly` tables, `cost_summary` a view over costs) migrates to lines and
    facts: `costs`, the rollups and `cost_summary` read back the same columns and rows, a second
    row of the same combination and day is summed into its fact, and the routed reads still equal
    the plain GROUP BY."""
    from cache.schema import MIGRATIONS, SCHEMA_VERSION

    v8 = next(i for i, m in enumerate(MIGRATIONS) if any("CREATE TABLE cost_lines" in x for x in m))
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for m in MIGRATIONS[:v8]:
        for stmt in m:
            if not stmt.startswith("CREATE TABLE meta"):
                old.execute(stmt)
    old.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(v8),))
    old.execute("ATTACH DATABASE ? AS cur", (str(store_db),))
    cur_cols = [d[0] for d in old.execute("SELECT * FROM cur.costs LIMIT 1").description]
    assert cur_cols == [d[0] for d in old.execute("SELECT * FROM main.costs LIMIT 1").description]
    for t in ("dims", "tagsets", "tag_index", "sources", "costs", "cost_summary_weekly", "cost_summary_monthly",
              "cost_daily_dims"):
        old.execute(f"INSERT INTO main.{t} SELECT * FROM cur.{t}")
    # v7 allowed two rows of one combination and day: the migration sums them into one fact. The
    # first row is split in two (amounts 1/3 + 2/3, quantities on the first only).
    first = old.execute("SELECT rowid, * FROM main.costs ORDER BY day, resource LIMIT 1").fetchone()
    rowid, first = first[0], first[1:]
    part = [a // 3 for a in first[16:20]]
    old.execute("UPDATE main.costs SET billed = ?, effective = ?, list = ?, contracted = ? WHERE rowid = ?",
                (*[a - p for a, p in zip(first[16:20], part, strict=True)], rowid))
    old.execute(f"INSERT INTO main.costs VALUES ({', '.join('?' * len(first))})",
                (*first[:16], *part, None, None))
    for t in ("cost_weekly", "cost_monthly"):
        old.execute(f"INSERT INTO main.{t} SELECT * FROM cur.{t}")
    expected = {t: sorted(old.execute(f"SELECT * FROM cur.{t}"), key=repr) for t in COST_TABLES}
    summary_cols = [d[0] for d in old.execute("SELECT * FROM main.cost_summary LIMIT 1").description]
    old.commit()
    old.close()
    # A cache this large is announced before its migration and vacuumed after it (the v7 tables
    # it dropped leave most of the file free).
    import cache.store as cache_store
    monkeypatch.setattr(cache_store, "MIGRATE_NOTICE_ROWS", 100)
    told: list[tuple[Path, int, int]] = []
    previous = cache_store.set_migrate_hook(lambda p, a, b: told.append((p, a, b)))
    try:
        with Store(path) as s:
            assert s.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        cache_store.set_migrate_hook(previous)
    assert told == [(path, v8, SCHEMA_VERSION)]
    with Store(path) as s:
        c = s.conn
        assert c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        for name in ("costs", "cost_weekly", "cost_monthly", "cost_summary"):
            assert c.execute("SELECT type FROM sqlite_master WHERE name=?", (name,)).fetchone()[0] == "view"
        assert [d[0] for d in c.execute("SELECT * FROM costs LIMIT 1").description] == cur_cols
        assert [d[0] for d in c.execute("SELECT * FROM cost_summary LIMIT 1").description] == summary_cols
        got = {t: sorted((tuple(r) for r in c.execute(f"SELECT * FROM {t}")), key=repr) for t in COST_TABLES}
        assert len([r for r in got["costs"] if r[:16] == tuple(first[:16])]) == 1
        for t in COST_TABLES:
            assert got[t] == [tuple(r) for r in expected[t]], t
        assert c.execute("SELECT count(*) FROM cost_lines").fetchone()[0] < len(got["costs"]) / 10
        for by in ("service_name", "region_id", "resource_id", "tag:team"):
            since, until = FIRST + timedelta(days=9), FIRST + timedelta(days=100)
            assert _routed(c, by, since, until, "billed", {"provider_name": "AWS"}) == \
                _plain(c, by, since, until, "billed", {"provider_name": "AWS"})

