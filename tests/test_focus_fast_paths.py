"""The FOCUS importer's fast paths give what the general ones give:
- the 64-bit half-even rounding (`providers.focus.sql.nanos_sql`) against `cache.money.to_nanos`,
  the rounding rule of the cache, on DuckDB exact numerics and through an import;
- packed cost tuples (`Store.insert_packed_cost_tuples`) store the rows `insert_cost_tuples`
  stores, and an import writes the same rows packed or not;
- pass 2 without a second GROUP BY (the daily rows a view over the pass-1 rows, when the
  cleanup merges nothing) gives the rows the cleaned, re-aggregated path gives."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cache import Store
from cache.money import to_nanos
from providers import focus
from providers.focus import _decimal_scale, _nanos_sql
from providers.focus import read as focus_read
from providers.focus import sql as focus_sql
from providers.focus import write as focus_write

BIGINT_MAX = 2**63 - 1


def _values(scale: int) -> list[Decimal]:
    rng = random.Random(scale)
    q = Decimal(1).scaleb(-scale)
    vals = [Decimal(0), q, -q]
    if scale > 9:  # exact ties at the nano digit, odd and even, both signs
        half = Decimal(5).scaleb(-10)
        for base in ("0", "1", "2.000000001", "2.000000002", "123456.789012345", "-7.000000003"):
            vals += [Decimal(base) + half, Decimal(base) - half, -(Decimal(base) + half)]
        vals += [(Decimal(base) + half + q).quantize(q) for base in ("3", "4.000000001")]
        vals += [(Decimal(base) + half - q).quantize(q) for base in ("3", "4.000000001")]
    # The fast path's range: |x| < 10^(18 - max(scale, 9)) (beyond it, it raises).
    top = 10 ** (18 - max(scale, 9) + scale) - 1  # the largest |x| in units of 10^-scale
    for _ in range(400):
        vals.append(Decimal(rng.randint(-top, top)).scaleb(-scale))
        vals.append(Decimal(rng.randint(-(10**6), 10**6)).scaleb(-scale))
    vals += [Decimal(top).scaleb(-scale), Decimal(-top).scaleb(-scale)]
    return [v for v in vals if abs(v) < 10 ** (18 - max(scale, 9))]


@pytest.mark.parametrize("scale", [0, 2, 6, 9, 10, 12, 15, 18])
def test_nanos_sql_matches_to_nanos(scale: int) -> None:
    con = duckdb.connect()
    vals = _values(scale)
    con.execute(f"CREATE TABLE t(i INTEGER, x DECIMAL(38,{scale}))")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(v)) for i, v in enumerate(vals)])
    got = dict(con.execute(f"SELECT i, {_nanos_sql('x', scale)} FROM t").fetchall())
    assert len(got) == len(vals) > 400
    for i, v in enumerate(vals):
        assert got[i] == to_nanos(v), v
    # the general rounding (any scale and range) too: exact, never through DOUBLE
    general = dict(con.execute(f"SELECT i, {focus_sql.general_nanos_sql('x')} FROM t").fetchall())
    assert general == got


def test_nanos_sql_raises_instead_of_overflowing() -> None:
    con = duckdb.connect()
    for x, scale in (("100000000.0000000001", 10), ("-100000000", 10), ("1000000.5", 12), ("1000000000", 2),
                     ("-1000000000.5", 1), ("1", 18)):
        with pytest.raises(duckdb.Error):
            con.execute(f"SELECT {_nanos_sql(f'CAST({x} AS DECIMAL(38,{scale}))', scale)}").fetchall()
    assert con.execute(f"SELECT {_nanos_sql('CAST(9999999.99999999995 AS DECIMAL(38,11))', 11)}").fetchone()[0] \
        == to_nanos("10000000.000000000")


def test_decimal_scale() -> None:
    assert _decimal_scale("DECIMAL(38,10)") == 10
    assert _decimal_scale("DECIMAL(18,3)") == 3
    assert _decimal_scale("HUGEINT") == 0
    assert _decimal_scale("DOUBLE") is None
    assert _decimal_scale("VARCHAR") is None


@pytest.mark.parametrize("with_big", [False, True])
def test_import_of_decimal_parquet_rounds_like_to_nanos_on_both_paths(
    tmp_path: Path, with_big: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Parquet export with DECIMAL(20,10) amounts, exact ties at the nano digit: every daily
    amount == to_nanos(exact sum of the day's rows). Without the big day the fast path rounds;
    with a day whose sums pass 10^8 it overflows and the DECIMAL(38,18) path rounds."""
    calls: list[int] = []
    real = focus_sql.nanos_sql
    monkeypatch.setattr(focus_sql, "nanos_sql", lambda x, scale: calls.append(scale) or real(x, scale))
    rows = []  # (day, resource, billed, effective, list, contracted)
    rng = random.Random(7)
    for day in ("2025-01-01", "2025-01-02"):
        for res in ("r-1", "r-2", "r-3"):
            for _h in range(4):
                amounts = [Decimal(rng.randint(-(10**12), 10**12)).scaleb(-10) for _ in range(4)]
                rows.append((day, res, *amounts))
    rows += [("2025-01-01", "r-tie", Decimal("0.0000000005"), Decimal("0.0000000015"),
              Decimal("-0.0000000025"), Decimal("2.0000000035"))]
    big = Decimal("60000000.0000000003")
    if with_big:
        rows += [("2025-01-03", "r-big", big, big, -big, Decimal("0.00000000005"))] * 2
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE t(day DATE, res VARCHAR, b DECIMAL(20,10), e DECIMAL(20,10), l DECIMAL(20,10), "
                "k DECIMAL(20,10))")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", [(d, r, *map(str, a)) for d, r, *a in rows])
    path = tmp_path / "dec.parquet"
    con.execute(f"""COPY (SELECT 'AWS' AS ProviderName, 'acct' AS BillingAccountId, 'USD' AS BillingCurrency,
                           'Usage' AS ChargeCategory, 'svc' AS ServiceName, res AS ResourceId,
                           CAST(day AS TIMESTAMPTZ) AS ChargePeriodStart,
                           CAST(day AS TIMESTAMPTZ) + INTERVAL 1 HOUR AS ChargePeriodEnd,
                           b AS BilledCost, e AS EffectiveCost, l AS ListCost, k AS ContractedCost FROM t)
                    TO '{path}' (FORMAT parquet)""")
    want: dict[tuple[str, str], list[Decimal]] = {}
    for d, r, *a in rows:
        acc = want.setdefault((d, r), [Decimal(0)] * 4)
        for i, v in enumerate(a):
            acc[i] += v
    with Store(tmp_path / "c.db") as store:
        focus.import_files(store, [path])
        got = {(d, r): (b, e, li, k) for d, r, b, e, li, k in store.conn.execute(
            "SELECT c.day, d.value, c.billed, c.effective, c.list, c.contracted FROM costs c "
            "JOIN dims d ON d.id = c.resource")}
    assert got == {key: tuple(to_nanos(v) for v in sums) for key, sums in want.items()}
    assert got[("2025-01-01", "r-tie")] == (0, 2, -2, 2000000004)
    assert calls == [10, 10, 10, 10]  # the fast path was tried on the 4 amounts
    if with_big:
        assert got[("2025-01-03", "r-big")] == (120000000000000001, 120000000000000001, -120000000000000001, 0)


def _cost_rows(store: Store) -> list[tuple[object, ...]]:
    return sorted((tuple(r) for r in store.conn.execute("SELECT * FROM costs")), key=repr)


def test_packed_cost_tuples_store_the_same_rows(tmp_path: Path) -> None:
    from cache.schema import COST_DIMS
    from cache.store import PACK_BITS, PACK_GROUPS, PACK_MAX_ID

    assert [d for g in PACK_GROUPS for d in g] == list(COST_DIMS)
    rng = random.Random(3)
    plain = []
    for n in range(300):
        ids = [rng.choice([None, 1, 2, PACK_MAX_ID - 1, PACK_MAX_ID, rng.randint(1, PACK_MAX_ID)]) for _ in COST_DIMS]
        tail = (rng.randint(-(2**62), 2**62), -5, 0, 2**63 - 1, rng.choice([None, 0.1, 24.0]), None)
        plain.append((1, f"2025-01-{n % 28 + 1:02d}", *ids, *tail))
    packed = []
    for row in plain:
        ids = dict(zip(COST_DIMS, row[2:2 + len(COST_DIMS)], strict=True))
        groups = []
        for group in PACK_GROUPS:
            v = 0
            for d in group:
                v = (v << PACK_BITS) | (ids[d] or 0)
            groups.append(v)
        packed.append((row[0], row[1], *groups, *row[2 + len(COST_DIMS):]))
    with Store(tmp_path / "a.db") as a, a.transaction():
        a.insert_cost_tuples(plain)
        want = _cost_rows(a)
    with Store(tmp_path / "b.db") as b, b.transaction():
        b.insert_packed_cost_tuples(packed)
        got = _cost_rows(b)
    assert got == want
    assert [tuple(type(v) for v in r) for r in got] == [tuple(type(v) for v in r) for r in want]


def _all_cost_tables(store: Store) -> dict[str, list[tuple[object, ...]]]:
    from cache.store import COST_TABLES
    return {t: sorted((tuple(r) for r in store.conn.execute(f"SELECT * FROM {t}")), key=repr) for t in COST_TABLES}


def test_import_staged_through_duckdb_writes_what_the_python_hand_over_writes(
        tmp_path: Path, focus_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The staged path (DuckDB's SQLite extension fills a staging file, SQLite copies it in) and
    the Python hand-over (tuples to a writer thread) store the same rows in every cost table,
    value for value and type for type, in the same (day, resource) order."""
    assert focus_write.STAGED
    from providers.focus.duck import sqlite_extension_path
    assert sqlite_extension_path() is not None  # the pinned extension wheel is installed
    copies: list[int] = []
    real = Store.insert_costs_from_file
    monkeypatch.setattr(Store, "insert_costs_from_file", lambda self, p: copies.append(real(self, p)) or copies[-1])
    with Store(tmp_path / "staged.db") as store:
        focus.import_files(store, [focus_sample])
        staged = _all_cost_tables(store)
        staged_order = _cost_rows(store)
        assert "costdeck_stage" not in [r[1] for r in store.conn.execute("PRAGMA database_list")]  # detached
    assert copies == [len(staged["costs"])] and len(staged["costs"]) > 10
    assert not list(tmp_path.glob("*staging*"))
    monkeypatch.setattr(focus_write, "STAGED", False)
    with Store(tmp_path / "python.db") as store:
        focus.import_files(store, [focus_sample])
        handed = _all_cost_tables(store)
        handed_order = _cost_rows(store)
    assert len(copies) == 1
    for t, rows in handed.items():
        assert staged[t] == rows, t
        assert [tuple(type(v) for v in r) for r in staged[t]] == [tuple(type(v) for v in r) for r in rows], t
    assert staged_order == handed_order
    # Every combination is one line, its days one fact each, stored in (line, day) order.
    for db in ("staged.db", "python.db"):
        with Store(tmp_path / db) as store:
            keys = [tuple(r) for r in store.conn.execute("SELECT line, day FROM cost_facts")]
            lines = store.conn.execute("SELECT count(*) FROM cost_lines").fetchone()[0]
        assert keys == sorted(keys) and len(keys) == len(staged["costs"]) and lines == len({k[0] for k in keys})


def test_import_writes_the_same_rows_packed_or_not(tmp_path: Path, focus_sample: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(focus_write, "STAGED", False)  # the Python hand-over packs
    calls: list[int] = []
    real = Store.insert_packed_cost_tuples
    monkeypatch.setattr(Store, "insert_packed_cost_tuples", lambda self, t: calls.append(len(t)) or real(self, t))
    with Store(tmp_path / "packed.db") as store:
        focus.import_files(store, [focus_sample])
        packed = sorted(_cost_rows(store), key=repr)
    # Rows handed over per (ids, day); a value seen with two labels is one combination: summed.
    assert calls and sum(calls) >= len(packed) > 0
    monkeypatch.setattr(focus_write, "PACK_MAX_ID", 0)  # as if an id were too large to pack
    calls.clear()
    with Store(tmp_path / "plain.db") as store:
        focus.import_files(store, [focus_sample])
        plain = sorted(_cost_rows(store), key=repr)
    assert calls == []
    assert packed == plain and len(plain) > 10


def test_daily_rows_are_the_same_merged_or_not(tmp_path: Path, focus_sample: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample needs no cleanup (its pass-1 rows are its daily rows: the view path). Forced
    through the cleanup and second GROUP BY, and with its values spelled so that the cleanup
    is needed (lower-case charge categories), it gives the same rows."""
    merged: list[bool] = []
    real = focus_read.cleanup_merges
    monkeypatch.setattr(focus_read, "cleanup_merges", lambda *a: merged.append(real(*a)) or merged[-1])
    with Store(tmp_path / "view.db") as store:
        focus.import_files(store, [focus_sample])
        view = sorted(_cost_rows(store), key=repr)
    assert merged == [False]
    monkeypatch.setattr(focus_read, "cleanup_merges", lambda *a: merged.append(True) or True)
    with Store(tmp_path / "forced.db") as store:
        focus.import_files(store, [focus_sample])
        forced = sorted(_cost_rows(store), key=repr)
    monkeypatch.setattr(focus_read, "cleanup_merges", lambda *a: merged.append(real(*a)) or merged[-1])
    lower = tmp_path / "lower.csv"
    lower.write_text(focus_sample.read_text(encoding="utf-8-sig").replace('"Usage"', '"usage"'), encoding="utf-8")
    with Store(tmp_path / "lower.db") as store:
        focus.import_files(store, [lower])
        cleaned = sorted(_cost_rows(store), key=repr)
    assert merged == [False, True, True]
    assert view == forced == cleaned and len(view) > 10


def test_import_matching_lines_by_hash_or_by_values_writes_the_same_rows(
        tmp_path: Path, focus_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daily rows matched to their cost lines on the 64-bit hash of their values (when the
    lines' hashes are distinct) or on the 14 values and the tags themselves: the same tables."""
    with Store(tmp_path / "hash.db") as store:
        focus.import_files(store, [focus_sample])
        hashed = _all_cost_tables(store)
    monkeypatch.setattr(focus_write, "HASH_LINES", False)
    with Store(tmp_path / "values.db") as store:
        focus.import_files(store, [focus_sample])
        matched = _all_cost_tables(store)
    assert hashed == matched and len(hashed["costs"]) > 900
