"""The importer's BIGINT half-even rounding (`providers.focus._nanos_sql`) against
`cache.money.to_nanos`, the rounding rule of the cache, on DuckDB exact numerics."""

from __future__ import annotations

import random
from decimal import Decimal

import duckdb
import pytest

from cache.money import to_nanos
from providers.focus import _decimal_scale, _nanos_sql

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
    # The fast path's range: x * 10^max(scale, 9) must fit a BIGINT (beyond it, it raises).
    top = BIGINT_MAX // 10 ** max(0, 9 - scale)  # the largest |x| in units of 10^-scale
    for _ in range(400):
        vals.append(Decimal(rng.randint(-top, top)).scaleb(-scale))
        vals.append(Decimal(rng.randint(-(10**12), 10**12)).scaleb(-scale))
    vals += [Decimal(top).scaleb(-scale), Decimal(-top).scaleb(-scale)]
    return [v for v in vals if abs(v) * 10 ** max(scale, 9) <= BIGINT_MAX]


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


def test_nanos_sql_raises_instead_of_overflowing() -> None:
    con = duckdb.connect()
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT {_nanos_sql('CAST(9223372036.8547758075 AS DECIMAL(38,10))', 10)}").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT {_nanos_sql('CAST(10000000000.5 AS DECIMAL(38,1))', 1)}").fetchall()


def test_decimal_scale() -> None:
    assert _decimal_scale("DECIMAL(38,10)") == 10
    assert _decimal_scale("DECIMAL(18,3)") == 3
    assert _decimal_scale("HUGEINT") == 0
    assert _decimal_scale("DOUBLE") is None
    assert _decimal_scale("VARCHAR") is None
