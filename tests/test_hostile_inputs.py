"""No accepted poison: what would break a later read of the cache is refused at import, exit
code 2, with ONE line naming the file, the row and the column, and the cache left unchanged byte
for byte (its -wal too). CSV rows are file lines (header = line 1), Parquet rows 1-based."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.test_focus_import import HEADER, hourly_rows, write_csv
from tui.cli import main


# -- helpers --------------------------------------------------------------------------
def cache_bytes(db: Path) -> dict[str, bytes]:
    out = {}
    for p in (db, Path(f"{db}-wal")):
        if p.exists():
            out[p.name] = p.read_bytes()
    return out


@pytest.fixture
def loaded(tmp_path: Path, db_path: Path) -> Path:
    good = write_csv(tmp_path / "good.csv", hourly_rows(hours=30))
    assert main(["import", str(good), "--db", str(db_path)]) == 0
    return db_path


def refused(capsys: pytest.CaptureFixture[str], db: Path, path: Path) -> str:
    """Import `path` into `db`: exit 2, one line on stderr, the cache's bytes unchanged. The line."""
    before = cache_bytes(db)
    assert before
    capsys.readouterr()
    rc = main(["import", str(path), "--db", str(db)])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert out == "" and "Traceback" not in err
    assert cache_bytes(db) == before
    prefix = f"costdeck: error: {path}: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):]


def accepted(capsys: pytest.CaptureFixture[str], db: Path, path: Path, *extra: str) -> None:
    capsys.readouterr()
    rc = main(["import", str(path), "--db", str(db), *extra])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rc = main(["report", "spend", "--db", str(db), "--by", "service_name", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0, err


def csv_with(tmp_path: Path, name: str, n: int = 30, **cells: dict[int, str]) -> Path:
    """A good CSV of `n` hourly rows with some cells replaced: column -> {data row index: value}."""
    rows = hourly_rows(hours=n)
    for col, by_row in cells.items():
        for i, value in by_row.items():
            rows[i][col] = value
    return write_csv(tmp_path / name, rows)


pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
T0 = datetime(2024, 9, 1, tzinfo=UTC)


def parquet_with(tmp_path: Path, name: str, n: int = 6, **override: Any) -> Path:
    rows = hourly_rows(hours=n)
    cols: dict[str, Any] = {c: [r[c] for r in rows] for c in HEADER
                            if c not in ("ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost")}
    cols["ChargePeriodStart"] = pa.array([T0 + timedelta(hours=h) for h in range(n)], pa.timestamp("us", tz="UTC"))
    cols["ChargePeriodEnd"] = pa.array([T0 + timedelta(hours=h + 1) for h in range(n)], pa.timestamp("us", tz="UTC"))
    cols["BilledCost"] = pa.array([1.5] * n, pa.float64())
    cols["EffectiveCost"] = pa.array([1.25] * n, pa.float64())
    cols.update(override)
    path = tmp_path / name
    pq.write_table(pa.table(cols), path)
    return path


# -- 1. dates outside the days the cache keeps -----------------------------------------
WINDOW = "expected a date/time from 1970-01-01 to 2100-12-31 (the days the cache keeps)"


@pytest.mark.parametrize(("column", "value", "row"), [
    ("ChargePeriodEnd", "9999-12-31 00:00:00", 5),
    ("ChargePeriodStart", "0001-01-01 00:00:00", 12),
    ("ChargePeriodStart", "0004-01-25T00:00:00Z", 2),
    ("ChargePeriodStart", "1969-12-31T23:00:00Z", 30),
    ("ChargePeriodEnd", "2101-01-01T01:00:00Z", 7),
])
def test_dates_outside_the_window(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path,
                                  column: str, value: str, row: int) -> None:
    path = csv_with(tmp_path, "window.csv", **{column: {row - 2: value}})
    assert refused(capsys, loaded, path) == f"row {row}, column {column}: {WINDOW}, got {value!r}"


def test_window_edges_are_accepted(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    path = csv_with(tmp_path, "edges.csv", ChargePeriodStart={0: "1970-01-01 00:00:00", 1: "2100-12-31 23:00:00"},
                    ChargePeriodEnd={0: "1970-01-01 01:00:00", 1: "2101-01-01 00:00:00"})
    accepted(capsys, loaded, path)


def test_parquet_date_outside_the_window(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    ends = [T0 + timedelta(hours=h + 1) for h in range(6)]
    ends[3] = datetime(9999, 12, 31, tzinfo=UTC)
    path = parquet_with(tmp_path, "window.parquet", ChargePeriodEnd=pa.array(ends, pa.timestamp("us", tz="UTC")))
    assert refused(capsys, loaded, path) == f"row 4, column ChargePeriodEnd: {WINDOW}, got '9999-12-31 00:00:00+00'"


# -- 2. amounts the cache cannot sum ----------------------------------------------------
MONEY = ("expected an amount the cache can sum (with the cache's other sources the absolute BilledCost "
         "amounts reach {:.4g} units; the limit is 9.2e+09 units of a currency, 64-bit nano-units)")


def test_amounts_past_the_sum_limit(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    # two rows on different days: each fits, their sum does not; the largest is named
    path = csv_with(tmp_path, "big.csv", n=48, BilledCost={3: "4500000000", 30: "-5000000000"})
    got = refused(capsys, loaded, path)
    assert got == "row 32, column BilledCost: " + MONEY.format(9.5e9) + ", got '-5000000000'", got


def test_amounts_past_the_limit_with_the_cache(capsys: pytest.CaptureFixture[str], loaded: Path,
                                               tmp_path: Path) -> None:
    first = csv_with(tmp_path, "first.csv", BilledCost={0: "5000000000"})
    accepted(capsys, loaded, first)  # alone it fits
    again = csv_with(tmp_path, "first.csv", BilledCost={0: "5000000000", 1: "1"})
    accepted(capsys, loaded, again)  # replacing its own source: the old rows do not count
    other = csv_with(tmp_path, "other.csv", BilledCost={5: "4500000000"})
    got = refused(capsys, loaded, other)
    assert got.startswith("row 7, column BilledCost: expected an amount the cache can sum"), got
    assert "the limit is 9.2e+09 units of a currency" in got and got.endswith("got '4500000000'")


def test_amounts_past_decimal38(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    # each fits DECIMAL(38,18), their sum does not (DuckDB's exact sum overflows)
    path = csv_with(tmp_path, "huge.csv", BilledCost={3: "99999999999999999999", 4: "99999999999999999999"})
    assert refused(capsys, loaded, path) == (
        "row 5, column BilledCost: expected an amount below 9.2e+09 units of a currency (the cache's 64-bit "
        "nano-unit limit), got '99999999999999999999'")


# -- 3. NaN and infinite amounts ------------------------------------------------------
@pytest.mark.parametrize(("column", "value", "shown"), [
    ("BilledCost", float("nan"), "'nan'"),
    ("BilledCost", float("inf"), "'inf'"),
    ("EffectiveCost", float("-inf"), "'-inf'"),
])
def test_parquet_nan_and_infinite_amounts(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path,
                                          column: str, value: float, shown: str) -> None:
    vals = [1.0] * 6
    vals[2] = value
    path = parquet_with(tmp_path, "nan.parquet", **{column: pa.array(vals, pa.float64())})
    assert refused(capsys, loaded, path) == f"row 3, column {column}: expected a finite decimal number, got {shown}"


def test_csv_nan_still_refused(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    path = csv_with(tmp_path, "nan.csv", BilledCost={4: "NaN"})
    assert refused(capsys, loaded, path) == "row 6, column BilledCost: expected a decimal number, got 'NaN'"


# -- 4. non-ISO dates -------------------------------------------------------------------
@pytest.mark.parametrize("value", ["4/1/25", "01.09.2024 00:00", "Sep 1 2024", "2024-9-1 00:00:00", "20240901"])
def test_non_iso_dates(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path, value: str) -> None:
    path = csv_with(tmp_path, "us.csv", ChargePeriodStart={8: value})
    assert refused(capsys, loaded, path) == (
        f"row 10, column ChargePeriodStart: expected a date/time such as 2024-09-01T00:00:00Z, got {value!r}")


def test_iso_forms_are_accepted(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    path = csv_with(tmp_path, "iso.csv", ChargePeriodStart={
        0: "2024-09-01 00:00:00", 1: "2024-09-01T01:00:00Z", 2: "2024-09-01T04:00:00+02:00",
        3: "2024-09-01T03:00:00.123Z", 4: "2024-09-01T04:00:00-0000",
    })
    accepted(capsys, loaded, path)


# -- 5. tags too deep, or JSON that is not an object ---------------------------------------
def nest(depth: int) -> str:
    value: Any = "x"
    for _ in range(depth):
        value = {"k": value}
    return json.dumps(value)


@pytest.mark.parametrize(("tags", "expected"), [
    (nest(33), "a JSON object of tags nested at most 32 levels deep"),
    ("[" * 5000 + "]" * 5000, "a JSON object of tags nested at most 32 levels deep"),
    ("123", "a JSON object of tags"),
    ('"team"', "a JSON object of tags"),
    ("null", "a JSON object of tags"),
    ("[1, 2]", "a JSON object of tags"),
])
def test_bad_tags(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path, tags: str, expected: str) -> None:
    path = csv_with(tmp_path, "tags.csv", Tags={13: tags})
    got = refused(capsys, loaded, path)
    assert got.startswith(f"row 15, column Tags: expected {expected}, got "), got


def test_tags_32_deep_accepted(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    accepted(capsys, loaded, csv_with(tmp_path, "deep.csv", Tags={13: nest(32)}))


# -- 6. duplicate columns ---------------------------------------------------------------
def test_duplicate_csv_column(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    rows = hourly_rows(hours=5)
    write_csv(path, rows, header=[*HEADER, "billedcost"])
    assert refused(capsys, loaded, path) == (
        "row 1, column billedcost: expected each FOCUS column once in the header, got it twice (columns 1 and 24)")


def test_duplicate_parquet_column(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path) -> None:
    good = parquet_with(tmp_path, "one.parquet")
    table = pq.read_table(good)
    table = table.append_column("BilledCost", pa.array([2.0] * 6, pa.float64()))
    path = tmp_path / "dup.parquet"
    pq.write_table(table, path)
    assert refused(capsys, loaded, path) == (
        "row 1, column BilledCost: expected each FOCUS column once in the header, got it twice (columns 22 and 24)")


def test_other_duplicate_columns_are_kept_apart(capsys: pytest.CaptureFixture[str], loaded: Path,
                                                tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    write_csv(path, hourly_rows(hours=5), header=[*HEADER, "x_note", "x_note"])
    accepted(capsys, loaded, path)


# -- 7. nested values where text is expected ------------------------------------------------
@pytest.mark.parametrize(("kind", "column"), [("STRUCT", "ServiceName"), ("LIST", "ServiceName"),
                                               ("STRUCT", "BilledCost"), ("LIST", "ChargePeriodStart")])
def test_nested_values(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path, kind: str,
                       column: str) -> None:
    if kind == "STRUCT":
        vals = pa.array([None, None, {"name": "EC2"}, None, None, None], pa.struct([("name", pa.string())]))
    else:
        vals = pa.array([None, None, ["EC2"], None, None, None], pa.list_(pa.string()))
    path = parquet_with(tmp_path, "nested.parquet", **{column: vals})
    got = refused(capsys, loaded, path)
    assert got.startswith(f"row 3, column {column}: expected "), got
    assert f", not a {kind}, got " in got, got


# -- 8. the row of a non-UTF-8 byte -----------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_non_utf8_byte_names_its_line(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path,
                                      gz: bool) -> None:
    import gzip

    plain = write_csv(tmp_path / "plain.csv", hourly_rows(hours=900))
    lines = plain.read_bytes().split(b"\n")
    lines[801] = lines[801].replace(b"Amazon EC2", b"Amazon \xffEC2")  # line 802 (header = line 1)
    data = b"\n".join(lines)
    path = tmp_path / ("bad.csv.gz" if gz else "bad.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    assert refused(capsys, loaded, path) == (
        "row 802 (file line), column ServiceName: expected UTF-8 text, got the byte 0xff")


# -- 9. temp dirs of killed imports ------------------------------------------------------------
def test_stale_temp_dirs_are_removed(capsys: pytest.CaptureFixture[str], loaded: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    proc = subprocess.Popen(["true"])
    proc.wait()
    dead = root / f"costdeck-import-{proc.pid}-abc123"
    ours = root / f"costdeck-import-{os.getpid()}-def456"
    alive = root / "costdeck-import-1-ghi789"  # pid 1 is always alive
    other = root / "costdeck-import-notapid"
    for d in (dead, ours, alive, other):
        (d / "spill").mkdir(parents=True)
    accepted(capsys, loaded, csv_with(tmp_path, "next.csv", n=5))
    assert not dead.exists()
    assert ours.exists() and alive.exists() and other.exists()
    # the import's own dir carries its pid and is gone after it
    assert sorted(p.name for p in root.iterdir()) == sorted(p.name for p in (ours, alive, other))
