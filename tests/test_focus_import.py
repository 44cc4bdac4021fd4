"""FOCUS file import: real sample totals to the cent, hourly->daily rollup in every format,
one-line errors for malformed files with the cache left untouched, hostile strings verbatim."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from cache import Store
from cache.money import to_nanos
from providers import focus
from providers.errors import InputError
from tui.cli import main

CENT = Decimal("0.01")


# -- helpers --------------------------------------------------------------------------
def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def spend(capsys: pytest.CaptureFixture[str], db: Path, by: str, metric: str = "billed") -> dict[Any, Decimal]:
    """`costdeck report spend --format json` as {value: exact nano-precision total}."""
    rc, out, err = cli(capsys, "report", "spend", "--db", str(db), "--by", by, "--metric", metric,
                       "--format", "json")
    assert rc == 0, err
    totals: dict[Any, Decimal] = defaultdict(Decimal)
    for rec in json.loads(out):
        totals[rec[by]] += Decimal(str(rec["cost"]))
    return dict(totals)


def sample_totals(path: Path, column: str, metric: str = "BilledCost") -> dict[Any, tuple[Decimal, int]]:
    """Independent totals from the file itself: {value: (exact Decimal total, input rows)}."""
    totals: dict[Any, Decimal] = defaultdict(Decimal)
    counts: dict[Any, int] = defaultdict(int)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = row[column]
            key = None if key in ("NULL", "") else key
            value = row[metric]
            totals[key] += Decimal(0) if value in ("NULL", "") else Decimal(value)
            counts[key] += 1
    return {k: (v, counts[k]) for k, v in totals.items()}


def assert_to_the_cent(got: dict[Any, Decimal], want: dict[Any, tuple[Decimal, int]]) -> None:
    """Every group agrees with the file to the cent, strictly. Amounts are stored as nano-units rounded
    once per daily row, so a group's total is within half a nano per row of the exact sum."""
    assert set(got) == set(want)
    for key, (exact, n) in want.items():
        assert abs(got[key] - exact) <= Decimal("0.0000000005") * n, (key, got[key], exact)
        c_got = got[key].quantize(CENT, rounding=ROUND_HALF_EVEN)
        c_want = exact.quantize(CENT, rounding=ROUND_HALF_EVEN)
        assert c_got == c_want, (key, c_got, c_want)


def snapshot(capsys: pytest.CaptureFixture[str], db: Path) -> tuple[dict[str, int], dict[Any, Decimal], list[Any]]:
    with Store(db) as store:
        counts = store.table_counts()
        rows = store.conn.execute(
            "SELECT source_id, day, provider, resource, tagset, billed, effective FROM costs ORDER BY 1,2,3,4,5,6"
        ).fetchall()
    return counts, spend(capsys, db, "service_name"), [tuple(r) for r in rows]


HEADER = [
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "ChargeCategory", "ChargeClass",
    "ChargePeriodEnd", "ChargePeriodStart", "ConsumedQuantity", "ContractedCost", "EffectiveCost", "ListCost",
    "PricingQuantity", "ProviderName", "RegionId", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SubAccountId", "SubAccountName", "Tags",
]


def hourly_rows(hours: int = 48, start: datetime | None = None, fmt: str = "%Y-%m-%d %H:%M:%S") -> list[dict[str, Any]]:
    start = start or datetime(2024, 9, 1, tzinfo=UTC)
    rows = []
    for h in range(hours):
        t0 = start + timedelta(hours=h)
        rows.append({
            "BilledCost": f"{Decimal('0.0123456789') * (h + 1):f}",
            "BillingAccountId": "111122223333",
            "BillingAccountName": "Acme",
            "BillingCurrency": "USD",
            "ChargeCategory": "usage" if h % 2 else "Usage",
            "ChargeClass": "NULL",
            "ChargePeriodEnd": (t0 + timedelta(hours=1)).strftime(fmt),
            "ChargePeriodStart": t0.strftime(fmt),
            "ConsumedQuantity": "1",
            "ContractedCost": f"{Decimal('0.02') * (h + 1):f}",
            "EffectiveCost": f"{Decimal('0.0100000005') * (h + 1):f}",
            "ListCost": f"{Decimal('0.03') * (h + 1):f}",
            "PricingQuantity": "1",
            "ProviderName": "AWS",
            "RegionId": "us-east-1",
            "ResourceId": "i-0abc",
            "ResourceName": "web-1",
            "ResourceType": "Virtual Machine",
            "ServiceCategory": "Compute",
            "ServiceName": "Amazon EC2",
            "SubAccountId": "444455556666",
            "SubAccountName": "prod",
            # key order varies: the canonical tag set must still be one
            "Tags": json.dumps({"team": "web", "env": "prod"} if h % 2 else {"env": "prod", "team": "web"}),
        })
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    if header is None:
        header = list(rows[0]) if rows else HEADER
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "NULL") for c in header])
    return path


def daily(db: Path) -> list[tuple[Any, ...]]:
    with Store(db) as store:
        return [tuple(r) for r in store.conn.execute(
            """SELECT c.day, p.value, r.value, r.label, cc.value, t.json, c.billed, c.effective, c.list,
                      c.contracted, c.pricing_quantity
               FROM costs c JOIN dims p ON p.id = c.provider LEFT JOIN dims r ON r.id = c.resource
               LEFT JOIN dims cc ON cc.id = c.charge_category LEFT JOIN tagsets t ON t.id = c.tagset
               ORDER BY c.day"""
        )]


def expected_daily(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, int, int]]:
    acc: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for r in rows:
        day = datetime.fromisoformat(r["ChargePeriodStart"].replace("Z", "+00:00"))
        if day.tzinfo is None:
            day = day.replace(tzinfo=UTC)
        key = day.astimezone(UTC).date().isoformat()
        for i, col in enumerate(("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")):
            acc[key][i] += Decimal(r[col])
    return [(d, *(to_nanos(v) for v in acc[d])) for d in sorted(acc)]


# -- the real sample ----------------------------------------------------------------------
def test_sample_totals_to_the_cent(capsys: pytest.CaptureFixture[str], focus_sample: Path, db_path: Path,
                                   tmp_path: Path) -> None:
    rc, out, err = cli(capsys, "import", "--db", str(db_path), str(focus_sample))
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and "1,000 rows in" in lines[0] and "2024-09-01..2024-09-30" in lines[0]
    assert lines[1].startswith("recommendations: ")  # recomputed after the import
    assert lines[2].startswith("anomalies: ")  # and the anomalies
    assert "FOCUS 1.0" in out
    for by, column in (("provider_name", "ProviderName"), ("service_name", "ServiceName"),
                       ("sub_account_id", "SubAccountId")):
        assert_to_the_cent(spend(capsys, db_path, by), sample_totals(focus_sample, column))
    for metric, column in (("effective", "EffectiveCost"), ("list", "ListCost")):
        for by, col in (("provider_name", "ProviderName"), ("service_name", "ServiceName")):
            assert_to_the_cent(spend(capsys, db_path, by, metric), sample_totals(focus_sample, col, column))
    exact = Decimal(0)
    with focus_sample.open(newline="", encoding="utf-8") as fh:
        exact = sum((Decimal(r["BilledCost"]) for r in csv.DictReader(fh)), Decimal(0))
    assert f"billed {exact.quantize(CENT, rounding=ROUND_HALF_EVEN)} USD" in out

    before = snapshot(capsys, db_path)
    # Same content again: skipped. Forced: replaces the source, totals unchanged.
    rc, out, err = cli(capsys, "import", "--db", str(db_path), str(focus_sample))
    assert rc == 0 and "already imported as file:focus-sample-1.0-1000rows.csv; skipped" in out
    rc, out, err = cli(capsys, "import", "--db", str(db_path), "--force", str(focus_sample))
    assert rc == 0, err
    after = snapshot(capsys, db_path)
    assert after[1] == before[1] and after[2] == before[2]
    # Same content under another file name: skipped.
    copy = tmp_path / "copy-of-sample.csv"
    copy.write_bytes(focus_sample.read_bytes())
    rc, out, err = cli(capsys, "import", "--db", str(db_path), str(copy))
    assert rc == 0 and "copy-of-sample.csv: already imported as file:focus-sample-1.0-1000rows.csv; skipped" in out
    assert snapshot(capsys, db_path)[1] == before[1]

    with Store(db_path) as store:
        imports = store.conn.execute("SELECT focus_version, input_rows FROM imports").fetchall()
        assert [tuple(r) for r in imports] == [("1.0", 1000), ("1.0", 1000)]
        runs = store.conn.execute("SELECT status, rows FROM sync_runs").fetchall()
        assert {r[0] for r in runs} == {"ok"} and runs[-1][1] > 0
        assert store.snapshot_time() is not None
        # The 4 Savings Plan rows keep their commitment ids.
        sp = store.conn.execute(
            """SELECT d.value, d.extra, s.value, sum(c.billed) FROM costs c
               JOIN dims d ON d.id = c.commitment JOIN dims s ON s.id = c.commitment_status
               GROUP BY 1, 2, 3"""
        ).fetchall()
    with focus_sample.open(newline="", encoding="utf-8") as fh:
        sp_rows = [r for r in csv.DictReader(fh) if r["CommitmentDiscountId"] not in ("NULL", "")]
    assert len(sp_rows) == 4
    assert {r[0] for r in sp} == {r["CommitmentDiscountId"] for r in sp_rows}
    assert {(r[1], r[2]) for r in sp} == {("Savings Plan", "Used")}
    assert abs(sum(r[3] for r in sp) - sum(to_nanos(r["BilledCost"]) for r in sp_rows)) <= len(sp)


# -- hourly -> daily in every format -------------------------------------------------------
def test_hourly_rollup_csv_gz_parquet_and_13(tmp_path: Path, db_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = hourly_rows()
    want = expected_daily(rows)
    assert len(want) == 2

    def run(path: Path) -> list[tuple[Any, ...]]:
        db = tmp_path / f"{path.name}.db"
        with Store(db) as store:
            [res] = focus.import_files(store, [path])
        assert res.input_rows == 48 and res.daily_rows == 2, res.summary()
        got = daily(db)
        assert [(r[0], r[6], r[7], r[8], r[9]) for r in got] == want
        assert {r[1:6] for r in got} == {("AWS", "i-0abc", "web-1", "Usage", '{"env":"prod","team":"web"}')}
        assert [r[10] for r in got] == [24.0, 24.0]
        return got

    ref = run(write_csv(tmp_path / "hourly.csv", rows))
    assert run(write_csv(tmp_path / "hourly.csv.gz", rows)) == ref
    # Parquet: typed columns, tags as a MAP.
    table = pa.table({
        **{c: [r[c] for r in rows] for c in HEADER if c not in {
            "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ChargePeriodStart", "ChargePeriodEnd",
            "Tags", "ChargeClass"}},
        "ChargeClass": pa.array([None] * len(rows), pa.string()),
        "BilledCost": pa.array([Decimal(r["BilledCost"]) for r in rows], pa.decimal128(20, 12)),
        "EffectiveCost": pa.array([Decimal(r["EffectiveCost"]) for r in rows], pa.decimal128(20, 12)),
        "ListCost": [r["ListCost"] for r in rows],
        "ContractedCost": pa.array([float(r["ContractedCost"]) for r in rows], pa.float64()),
        "ChargePeriodStart": pa.array([datetime(2024, 9, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(48)],
                                      pa.timestamp("us", tz="UTC")),
        # a naive TIMESTAMP column (UTC by convention)
        "ChargePeriodEnd": pa.array([(datetime(2024, 9, 1, 1, tzinfo=UTC) + timedelta(hours=h)).replace(tzinfo=None)
                                     for h in range(48)], pa.timestamp("us")),
        "Tags": pa.array([list(json.loads(r["Tags"]).items()) for r in rows], pa.map_(pa.string(), pa.string())),
    })
    pq.write_table(table, tmp_path / "hourly.parquet")
    assert run(tmp_path / "hourly.parquet") == ref
    # A Parquet file with a misleading extension is still detected by content.
    (tmp_path / "export.dat").write_bytes((tmp_path / "hourly.parquet").read_bytes())
    assert run(tmp_path / "export.dat") == ref

    # FOCUS 1.3 style: ServiceProviderName (no ProviderName), ISO 'Z' timestamps, an extra non-x_ column.
    rows13 = hourly_rows(fmt="%Y-%m-%dT%H:%M:%SZ")
    for r in rows13:
        r["ServiceProviderName"] = r.pop("ProviderName")
        r["HostProviderName"] = "AWS"
        r["Id"] = "42"
    path13 = write_csv(tmp_path / "hourly13.csv", rows13)
    with Store(tmp_path / "v13.db") as store:
        [res] = focus.import_files(store, [path13])
    assert res.focus_version == "1.3"
    assert daily(tmp_path / "v13.db") == ref


def test_offsets_land_on_the_utc_day(tmp_path: Path) -> None:
    rows = hourly_rows(hours=4)
    # 01:30+02:00 on Sep 2 is 23:30 UTC on Sep 1; 22:00-05:00 on Sep 1 is 03:00 UTC on Sep 2.
    stamps = ["2024-09-02T01:30:00+02:00", "2024-09-01T22:00:00-05:00", "2024-09-01T10:00:00Z",
              "2024-09-02 00:00:00"]
    for r, s in zip(rows, stamps, strict=True):
        r["ChargePeriodStart"] = s
        r["ChargePeriodEnd"] = s.replace("01:30:00", "02:30:00").replace("22:00:00", "23:00:00").replace(
            "10:00:00", "11:00:00").replace("00:00:00", "01:00:00")  # one hour later, same notation
    path = write_csv(tmp_path / "tz.csv", rows)
    db = tmp_path / "tz.db"
    with Store(db) as store:
        [res] = focus.import_files(store, [path])
    assert (str(res.first_day), str(res.last_day)) == ("2024-09-01", "2024-09-02")
    assert [(r[0], r[6]) for r in daily(db)] == [(d, b) for d, b, *_ in expected_daily(rows)]
    assert [r[0] for r in daily(db)] == ["2024-09-01", "2024-09-02"]


def test_missing_optional_columns_and_json_tags_in_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    # A 1.0-preview-ish file: no ContractedCost, no Tags; then a Parquet with tags as JSON strings.
    rows = hourly_rows(hours=24)
    header = [c for c in HEADER if c not in ("ContractedCost", "Tags", "ChargeClass", "ConsumedQuantity")]
    path = write_csv(tmp_path / "preview.csv", rows, header)
    db = tmp_path / "p.db"
    with Store(db) as store:
        [res] = focus.import_files(store, [path])
    assert res.focus_version == "1.0"  # RegionId
    [row] = daily(db)
    assert row[9] == 0 and row[5] is None
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in HEADER}), tmp_path / "strings.parquet")
    with Store(tmp_path / "s.db") as store:
        focus.import_files(store, [tmp_path / "strings.parquet"])
    [row] = daily(tmp_path / "s.db")
    assert row[5] == '{"env":"prod","team":"web"}'


# -- malformed input ------------------------------------------------------------------------
def good_rows(n: int = 30) -> list[dict[str, Any]]:
    return hourly_rows(hours=n)


def _bad_amount(p: Path) -> Path:
    rows = good_rows()
    rows[15]["BilledCost"] = "abc"  # data row 16 = line 17
    return write_csv(p / "bad.csv", rows)


def _bad_date(p: Path) -> Path:
    rows = good_rows()
    rows[4]["ChargePeriodStart"] = "2024-13-45 25:00"
    return write_csv(p / "bad-date.csv", rows)


def _missing_column(p: Path) -> Path:
    return write_csv(p / "nobilled.csv", good_rows(), [c for c in HEADER if c != "BilledCost"])


def _png(p: Path) -> Path:
    path = p / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def _unrelated(p: Path) -> Path:
    path = p / "people.csv"
    path.write_text("name,age,city\nann,31,Oslo\nbob,42,Lima\n")
    return path


def _truncated_csv(p: Path) -> Path:
    src = write_csv(p / "full.csv", good_rows()).read_bytes()
    path = p / "cut.csv"
    path.write_bytes(src[: len(src) - 150])
    return path


def _truncated_gz(p: Path) -> Path:
    src = gzip.compress(write_csv(p / "full.csv", good_rows(2000)).read_bytes())
    path = p / "cut.csv.gz"
    path.write_bytes(src[: len(src) // 2])
    return path


def _truncated_parquet(p: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = good_rows()
    pq.write_table(pa.table({c: [r[c] for r in rows] for c in HEADER}), p / "full.parquet")
    data = (p / "full.parquet").read_bytes()
    path = p / "cut.parquet"
    path.write_bytes(data[: len(data) - 100])
    return path


def _empty(p: Path) -> Path:
    path = p / "empty.csv"
    path.write_bytes(b"")
    return path


def _header_only(p: Path) -> Path:
    return write_csv(p / "header.csv", [], HEADER)


def _missing_file(p: Path) -> Path:
    return p / "nope.csv"


def _bad_tags(p: Path) -> Path:
    rows = good_rows()
    rows[9]["Tags"] = '["not", "an", "object"]'  # data row 10 = line 11
    return write_csv(p / "tags.csv", rows)


def _bad_tags_json(p: Path) -> Path:
    rows = good_rows()
    rows[2]["Tags"] = "{team: web"
    return write_csv(p / "tags2.csv", rows)


def _end_before_start(p: Path) -> Path:
    rows = good_rows()
    rows[7]["ChargePeriodEnd"] = "2024-09-01 06:00:00"  # starts 07:00: data row 8 = line 9
    return write_csv(p / "backwards.csv", rows)


def _null_in(column: str, value: str, row: int = 11) -> Callable[[Path], Path]:
    def make(p: Path) -> Path:
        rows = good_rows()
        rows[row][column] = value  # data row row+1 = line row+2
        return write_csv(p / f"null-{column}.csv", rows)
    return make


def _csv_named_parquet(p: Path) -> Path:
    path = p / "export.parquet"
    path.write_bytes(write_csv(p / "real.csv", good_rows()).read_bytes())
    return path


def _json_named_parquet(p: Path) -> Path:
    path = p / "data.parquet"
    path.write_text('{"BilledCost": 1}\n')
    return path


MALFORMED = {
    "end before start": (_end_before_start, [
        "backwards.csv: row 9, column ChargePeriodEnd: expected a date/time not before ChargePeriodStart",
        "'2024-09-01 06:00:00'", "'2024-09-01 07:00:00'"]),
    "null provider": (_null_in("ProviderName", "NULL"),
                      ["null-ProviderName.csv: row 13, column ProviderName: expected a provider name, "
                       "got an empty value"]),
    "empty account": (_null_in("BillingAccountId", ""),
                      ["null-BillingAccountId.csv: row 13, column BillingAccountId: expected a billing account id, "
                       "got an empty value"]),
    "null currency": (_null_in("BillingCurrency", "NULL"),
                      ["null-BillingCurrency.csv: row 13, column BillingCurrency: expected a currency code"]),
    "null category": (_null_in("ChargeCategory", "NULL", row=0),
                      ["null-ChargeCategory.csv: row 2, column ChargeCategory: expected one of Usage, Purchase, "
                       "Tax, Credit, Adjustment, got an empty value"]),
    "null start": (_null_in("ChargePeriodStart", ""),
                   ["null-ChargePeriodStart.csv: row 13, column ChargePeriodStart: expected a date/time"]),
    "null end": (_null_in("ChargePeriodEnd", "NULL", row=29),
                 ["null-ChargePeriodEnd.csv: row 31, column ChargePeriodEnd: expected a date/time",
                  "got an empty value"]),
    "null billed": (_null_in("BilledCost", "NULL"),
                    ["null-BilledCost.csv: row 13, column BilledCost: expected a decimal number, got an empty value"]),
    "csv named parquet": (_csv_named_parquet, ["export.parquet: not a Parquet file"]),
    "json named parquet": (_json_named_parquet, ["data.parquet: not a Parquet file"]),
    "amount": (_bad_amount, ["bad.csv: row 17, column BilledCost: expected a decimal number, got 'abc'"]),
    "date": (_bad_date, ["bad-date.csv: row 6, column ChargePeriodStart: expected a date/time", "'2024-13-45 25:00'"]),
    "missing column": (_missing_column, ["nobilled.csv", "BilledCost", "missing"]),
    "png": (_png, ["picture.png: not a FOCUS export"]),
    "unrelated csv": (_unrelated, ["people.csv: not a FOCUS export: missing columns", "BilledCost"]),
    "truncated csv": (_truncated_csv, ["cut.csv: row 31", "columns"]),
    "truncated gzip": (_truncated_gz, ["cut.csv.gz", "truncated"]),
    "truncated parquet": (_truncated_parquet, ["cut.parquet", "truncated Parquet"]),
    "empty": (_empty, ["empty.csv: empty file"]),
    "header only": (_header_only, ["header.csv: no data rows"]),
    "missing file": (_missing_file, ["nope.csv: no such file"]),
    "tags not an object": (_bad_tags, ["tags.csv: row 11, column Tags: expected a JSON object"]),
    "tags not json": (_bad_tags_json, ["tags2.csv: row 4, column Tags: expected a JSON object", "'{team: web'"]),
}


@pytest.fixture
def loaded_db(tmp_path: Path, db_path: Path) -> Path:
    good = write_csv(tmp_path / "good.csv", hourly_rows(hours=30))
    assert main(["import", "--db", str(db_path), str(good)]) == 0
    return db_path


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_exits_2_with_one_line_and_no_change(
    case: str, capsys: pytest.CaptureFixture[str], loaded_db: Path, tmp_path: Path
) -> None:
    make, expected = MALFORMED[case]
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    path = make(bad_dir)
    before = snapshot(capsys, loaded_db)
    rc, out, err = cli(capsys, "import", "--db", str(loaded_db), str(path))
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("costdeck: error: ")
    for fragment in expected:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    assert snapshot(capsys, loaded_db) == before


def test_second_file_bad_nothing_from_first_lands(capsys: pytest.CaptureFixture[str], db_path: Path,
                                                  tmp_path: Path) -> None:
    first = write_csv(tmp_path / "first.csv", hourly_rows(hours=24))
    second = _bad_amount(tmp_path)
    rc, out, err = cli(capsys, "import", "--db", str(db_path), str(first), str(second))
    assert rc == 2 and "bad.csv: row 17" in err
    with Store(db_path) as store:
        counts = store.table_counts()
    assert counts["costs"] == 0 and counts["sources"] == 0 and counts["imports"] == 0 and counts["dims"] == 0


def test_demo_cache_is_refused(tmp_path: Path, db_path: Path) -> None:
    with Store(db_path) as store:
        store.set_meta("demo", "1")
        with pytest.raises(InputError, match="demo cache.*--db"):
            focus.import_files(store, [write_csv(tmp_path / "x.csv", hourly_rows(hours=2))])


def test_two_files_one_source_and_replace_by_name(tmp_path: Path, db_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", hourly_rows(hours=24))
    b = write_csv(tmp_path / "b.csv", hourly_rows(hours=24, start=datetime(2024, 9, 5, tzinfo=UTC)))
    with Store(db_path) as store:
        res = focus.import_files(store, [a, b], source_name="acme")
        assert [r.source_name for r in res] == ["acme", "acme"]
        assert store.conn.execute("SELECT count(*) FROM costs").fetchone()[0] == 2
        # A new version of a.csv replaces that file's source: never double counted.
        write_csv(a, hourly_rows(hours=48))
        [r] = focus.import_files(store, [a])
        assert not r.skipped and r.daily_rows == 2
        total = store.conn.execute("SELECT sum(billed) FROM costs c JOIN sources s ON s.id = c.source_id "
                                   "WHERE s.name = 'file:a.csv'").fetchone()[0]
        assert total == sum(e[1] for e in expected_daily(hourly_rows(hours=48)))
        assert store.conn.execute("SELECT count(*) FROM costs").fetchone()[0] == 4


# -- hostile strings ---------------------------------------------------------------------------
def test_hostile_strings_are_stored_verbatim(tmp_path: Path, db_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    hostile = ["[bold red]x[/]", "\x1b[31mred\x1b[0m", "$(rm -rf /)", "n" * 500, "a,b;\"c\"\n'd'"]
    rows = hourly_rows(hours=len(hostile))
    for r, s in zip(rows, hostile, strict=True):
        r["ResourceName"] = s
        r["ResourceId"] = "id-" + s
        r["ServiceName"] = s
        r["Tags"] = json.dumps({"team": s, s[:40]: "v"})
    path = write_csv(tmp_path / "hostile.csv", rows)
    with Store(db_path) as store:
        focus.import_files(store, [path])
        names = {r[0] for r in store.conn.execute("SELECT value FROM dims WHERE kind='service'")}
        labels = {r[0] for r in store.conn.execute("SELECT label FROM dims WHERE kind='resource'")}
        ids = {r[0] for r in store.conn.execute("SELECT value FROM dims WHERE kind='resource'")}
        team = {r[0] for r in store.conn.execute("SELECT value FROM tag_index WHERE key='team'")}
    assert names == set(hostile) and labels == set(hostile) and team == set(hostile)
    assert ids == {"id-" + s for s in hostile}
    rc, out, _ = cli(capsys, "report", "spend", "--db", str(db_path), "--by", "tag:team", "--format", "json")
    assert rc == 0 and {r["tag:team"] for r in json.loads(out)} == set(hostile)


def test_rounding_matches_cache_money_on_every_daily_row(tmp_path: Path, focus_sample: Path) -> None:
    """DuckDB's round_even on the exact DECIMAL daily sums == cache.money.to_nanos."""
    db = tmp_path / "r.db"
    with Store(db) as store:
        focus.import_files(store, [focus_sample])
        n_rows = store.conn.execute("SELECT count(*) FROM costs").fetchone()[0]
    # Recompute daily sums with Decimal over the same grain for one simple dimension set (day, resource):
    with focus_sample.open(newline="", encoding="utf-8") as fh:
        src = list(csv.DictReader(fh))
    assert n_rows <= len(src)
    half = Decimal("0.0000000005")
    assert to_nanos(half) == 0 and to_nanos(Decimal("0.0000000015")) == 2
    path = write_csv(tmp_path / "half.csv", [
        {**hourly_rows(hours=1)[0], "BilledCost": "0.0000000005", "EffectiveCost": "0.0000000015",
         "ListCost": "-0.0000000025", "ContractedCost": "0.00000000050000001"}])
    with Store(tmp_path / "h.db") as store:
        focus.import_files(store, [path])
    [row] = daily(tmp_path / "h.db")
    assert row[6:10] == (to_nanos(Decimal("0.0000000005")), to_nanos(Decimal("0.0000000015")),
                         to_nanos(Decimal("-0.0000000025")), to_nanos(Decimal("0.00000000050000001")))
    assert row[6:10] == (0, 2, -2, 1)


def test_parquet_typed_nulls_and_backwards_periods_are_refused(tmp_path: Path, db_path: Path) -> None:
    """Typed Parquet columns take the same not-null and period checks, numbered by 1-based file row."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = good_rows(6)
    t0 = datetime(2024, 9, 1, tzinfo=UTC)

    def table(**override: Any) -> Any:
        cols: dict[str, Any] = {c: [r[c] for r in rows] for c in HEADER if c not in ("ChargePeriodStart",
                                                                                    "ChargePeriodEnd")}
        cols["ChargePeriodStart"] = pa.array([t0 + timedelta(hours=h) for h in range(6)], pa.timestamp("us", tz="UTC"))
        cols["ChargePeriodEnd"] = pa.array([t0 + timedelta(hours=h + 1) for h in range(6)],
                                           pa.timestamp("us", tz="UTC"))
        cols.update(override)
        return pa.table(cols)

    ends = [t0 + timedelta(hours=h + 1) for h in range(6)]
    cases = {
        "end-null.parquet": (
            {"ChargePeriodEnd": pa.array([*ends[:3], None, *ends[4:]], pa.timestamp("us", tz="UTC"))},
            "row 4, column ChargePeriodEnd: expected a date/time such as 2024-09-01T00:00:00Z, got an empty value"),
        "backwards.parquet": (
            {"ChargePeriodEnd": pa.array([*ends[:4], t0, ends[5]], pa.timestamp("us", tz="UTC"))},
            "row 5, column ChargePeriodEnd: expected a date/time not before ChargePeriodStart, "
            "got '2024-09-01 00:00:00+00' (ChargePeriodStart '2024-09-01 04:00:00+00')"),
        "account-null.parquet": (
            {"BillingAccountId": pa.array(["1", None, "1", "1", "1", "1"], pa.string())},
            "row 2, column BillingAccountId: expected a billing account id, got an empty value"),
    }
    for name, (override, expected) in cases.items():
        pq.write_table(table(**override), tmp_path / name)
        with Store(db_path) as store:
            with pytest.raises(InputError) as err:
                focus.import_files(store, [tmp_path / name])
            assert store.table_counts()["costs"] == 0
        assert str(err.value) == f"{tmp_path / name}: {expected}"
    # FOCUS 1.3 with both provider columns: the old one may be null when the new one is set (and back).
    both = table(ServiceProviderName=pa.array(["AWS", None, "AWS", "AWS", "AWS", "AWS"], pa.string()),
                 ProviderName=pa.array([None, "AWS", None, None, None, None], pa.string()))
    pq.write_table(both, tmp_path / "both.parquet")
    with Store(db_path) as store:
        [res] = focus.import_files(store, [tmp_path / "both.parquet"])
    assert res.input_rows == 6 and res.focus_version == "1.3"
    neither = table(ServiceProviderName=pa.array(["AWS", "AWS", None, "AWS", "AWS", "AWS"], pa.string()),
                    ProviderName=pa.array([None, None, None, None, None, None], pa.string()))
    pq.write_table(neither, tmp_path / "neither.parquet")
    with Store(tmp_path / "n.db") as store, pytest.raises(InputError) as err:
        focus.import_files(store, [tmp_path / "neither.parquet"])
    assert str(err.value).endswith("neither.parquet: row 3, column ServiceProviderName: expected a provider name, "
                                   "got an empty value")
