"""The daily cost rows export: `cache.rows`, `costdeck report rows` and the Spend view's E.

The rows exported add up, per currency and to the nano, to what `cache.queries.total` says for the
same range and filters; hostile names are neutralised in CSV and kept exactly (escaped) in JSON; a
cancelled, failed or refused export leaves no file and never touches an existing one."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Static

from cache import CostRow, Store
from cache import queries as q
from cache import rows as R
from cache.csvout import write_csv, write_csv_rows
from cache.money import NANOS, decimal_str, to_nanos
from tests.helpers import build_demo, demo_copy, settle
from tui.app import CostdeckApp
from tui.cli import main
from tui.dialogs import HelpScreen, ProgressScreen
from tui.screens.spend import SpendScreen

RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3+cmd", "\tTAB"]
EVIL = "Evil\x1b]0;PWNED\x07\x1b[2J\x00\u202eexe.txt\nsecond line"
FIRST = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("rows") / "demo.db", recommendations=False)


@pytest.fixture
def demo_db(demo_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return demo_copy(demo_master, tmp_path, monkeypatch)


def build_mixed(path: Path) -> Path:
    """Two currencies, quantities, tags set and not, and hostile resource names."""
    with Store(path) as store:
        sid = store.ensure_source("mixed", "focus")
        rows = []
        for i in range(4):
            d = FIRST + timedelta(days=i)
            rows.append(CostRow(day=d, provider_name="AWS", billing_account_id="111", billing_account_name="payer",
                                service_name="Amazon EC2", resource_id="i-1", resource_name="web-1",
                                tags={"team": "web"}, billed_cost=to_nanos("1.000000001"),
                                effective_cost=to_nanos("0.9"), pricing_quantity=0.0000001, consumed_quantity=24.0))
            rows.append(CostRow(day=d, provider_name="Microsoft", service_name="Virtual Machines",
                                billing_currency="EUR", resource_id="vm-1", resource_name=EVIL,
                                billed_cost=to_nanos("-2.5"), effective_cost=to_nanos("-2.5")))
            for n, f in enumerate(FORMULAS):
                rows.append(CostRow(day=d, provider_name="AWS", service_name="Amazon S3", resource_id=f"r-{n}",
                                    resource_name=f, tags={"team": f}, billed_cost=to_nanos("0.123456789")))
        store.replace_costs(sid, rows)
    return path


def exported_totals(records: list[dict[str, Any]], field: str = "billed_cost") -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in records:
        out[r["billing_currency"]] += int(Decimal(str(r[field])) * NANOS)
    return {k: v for k, v in out.items()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in text.splitlines()]


CASES: list[dict[str, str | None]] = [
    {},
    {"provider_name": "AWS"},
    {"tag:team": "platform"},
    {"tag:team": None},
    {"provider_name": "AWS", "tag:env": "prod"},
    {"service_name": "Amazon Elastic Compute Cloud"},
    {"resource_id": None},
    {"commitment_discount_status": "Unused"},
    {"provider_name": "no such provider"},
]


# -- cache.rows ---------------------------------------------------------------------------------
@pytest.mark.parametrize("filters", CASES, ids=[json.dumps(c) for c in CASES])
def test_the_rows_add_up_to_the_queries_total_to_the_nano(demo_db: Path, filters: dict[str, str | None]) -> None:
    with Store(demo_db, readonly=True) as store:
        first, last = q.data_range(store.conn)  # type: ignore[misc]
        ranges = [(first, last + timedelta(days=1)), (date(2026, 5, 1), date(2026, 6, 1)),
                  (date(2026, 4, 3), date(2026, 6, 17))]
        for since, until in ranges:
            records = [R.as_dict(r) for batch in R.iter_cost_rows(store.conn, since, until, filters, batch=7_000)
                       for r in batch]
            assert len(records) == R.count_cost_rows(store.conn, since, until, filters)
            for metric in ("billed", "effective", "list", "contracted"):
                assert exported_totals(records, f"{metric}_cost") == q.total(store.conn, since, until, metric,
                                                                             filters), (since, until, metric)
            assert all(since.isoformat() <= r["day"] < until.isoformat() for r in records)
            assert [r["day"] for r in records] == sorted(r["day"] for r in records)
            if filters == {"provider_name": "no such provider"}:
                assert records == []
            elif since == first:
                assert records, filters  # every other case has rows: the sums compare something
    if filters.get("provider_name") == "AWS":
        assert {r["provider_name"] for r in records} == {"AWS"}
    if "tag:team" in filters and filters["tag:team"] is None:
        assert all("team" not in json.loads(r["tags"]) for r in records)


def test_names_not_ids_and_two_currencies_never_summed(tmp_path: Path) -> None:
    db = build_mixed(tmp_path / "mixed.db")
    with Store(db, readonly=True) as store:
        since, until = FIRST, FIRST + timedelta(days=4)
        records = [R.as_dict(r) for b in R.iter_cost_rows(store.conn, since, until) for r in b]
        assert exported_totals(records) == q.total(store.conn, since, until) == {
            "USD": 4 * (1_000_000_001 + 5 * 123_456_789), "EUR": -10 * NANOS}
        ec2 = next(r for r in records if r["resource_id"] == "i-1")
        assert ec2["provider_name"] == "AWS" and ec2["billing_account_name"] == "payer"
        assert ec2["resource_name"] == "web-1" and ec2["service_name"] == "Amazon EC2"
        assert ec2["tags"] == '{"team":"web"}' and ec2["billed_cost"] == "1.000000001"
        assert ec2["pricing_quantity"] == 0.0000001 and ec2["consumed_quantity"] == 24.0
        vm = next(r for r in records if r["resource_id"] == "vm-1")
        assert vm["billing_currency"] == "EUR" and vm["billed_cost"] == "-2.50" and vm["tags"] == "{}"
        assert vm["resource_name"] == EVIL  # the data itself; each writer makes it safe
        assert R.count_cost_rows(store.conn, since, until, {"tag:team": "web"}) == 4


def test_csv_neutralises_formulas_and_controls_and_json_keeps_the_names(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    db = build_mixed(tmp_path / "mixed.db")
    out = tmp_path / "rows.csv"
    assert main(["--db", str(db), "report", "rows", "--output", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert not RAW_CONTROL.search(text)
    records = read_csv(out)
    assert len(records) == 4 * 7
    names = {r["resource_name"] for r in records}
    for f in FORMULAS:  # a spreadsheet shows them, never runs them
        assert f"'{f}".replace("\t", "\\x09") in names and f not in names
    tags = {r["tags"] for r in records}
    assert all(not t.startswith(("=", "+", "-", "@")) for t in tags)
    assert {r["billed_cost"] for r in records} == {"1.000000001", "-2.50", "0.123456789"}
    assert {r["pricing_quantity"] for r in records} == {"0.0000001", ""}  # exact, never 1e-07 or rounded away
    assert {r["consumed_quantity"] for r in records} == {"24", ""}
    capsys.readouterr()

    assert main(["--db", str(db), "report", "rows", "--format", "json"]) == 0
    lines = capsys.readouterr().out
    assert not RAW_CONTROL.search(lines)
    objs = read_jsonl(lines)
    assert len(objs) == 4 * 7
    assert {o["resource_name"] for o in objs} >= {EVIL, *FORMULAS}  # exact data, escaped in the JSON text
    ec2 = next(o for o in objs if o["resource_id"] == "i-1")
    assert ec2["tags"] == {"team": "web"} and ec2["billed_cost"] == Decimal("1.000000001")
    assert ec2["pricing_quantity"] == Decimal("1e-07") and ec2["resource_type"] is None
    assert sum(o["billed_cost"] for o in objs if o["billing_currency"] == "EUR") == Decimal("-10")


def test_csv_rows_writer_writes_what_the_record_writer_writes() -> None:
    rnd = random.Random(3)
    cols = ["name", "cost", "ratio", "n", "flag", "dec"]
    values: list[list[Any]] = [
        [rnd.choice(["a", "=1+1", "-3", "x\x1by", None, "a"]), rnd.randint(-10**12, 10**12), rnd.random(),
         rnd.choice([1, 0, None]), rnd.choice([True, False, None]), Decimal(rnd.randint(-999, 999)) / 7]
        for _ in range(300)]
    a, b = io.StringIO(), io.StringIO()
    write_csv(a, cols, [dict(zip(cols, v, strict=True)) for v in values], ["cost"])
    write_csv_rows(b, cols, values, ["cost"])
    assert a.getvalue() == b.getvalue()


def test_decimal_str_is_exact_for_every_integer() -> None:
    def reference(n: int) -> str:  # the definition: Decimal arithmetic
        d = (Decimal(n) / NANOS).quantize(Decimal("0.000000001"))
        whole, _, frac = f"{d:f}".rstrip("0").partition(".")
        return f"{whole}.{frac.ljust(2, '0')}"

    rnd = random.Random(5)
    values = [0, 1, -1, 10, NANOS, -NANOS, 1_500_000_000, -500_000_000, 999_999_999, 10**20 + 7,
              *(rnd.randint(-10**15, 10**15) for _ in range(20_000)),
              *(rnd.randint(-10**6, 10**6) * 10**7 for _ in range(2_000))]
    assert [decimal_str(v) for v in values] == [reference(v) for v in values]


# -- files: temp + rename, cancel, refuse ---------------------------------------------------------
def test_a_cancelled_export_leaves_no_file_and_an_existing_one_untouched(demo_db: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "rows.csv"
    seen: list[tuple[int, int]] = []
    with Store(demo_db, readonly=True) as store:
        since, until = date(2026, 3, 1), date(2026, 7, 1)

        def progress(done: int, total: int) -> None:
            seen.append((done, total))
            if done:  # written beside it meanwhile
                assert [p.name.startswith(".rows.csv.") and p.suffix == ".part" for p in out_dir.iterdir()] == [True]

        with pytest.raises(R.ExportCancelled):
            R.export_cost_rows(store.conn, target, "csv", since, until, progress=progress,
                               cancelled=lambda: len(seen) >= 3, batch=1_000)
        assert seen[0] == (0, 47_028) and seen[-1] == (2_000, 47_028)
        assert list(out_dir.iterdir()) == []

        # a failure half way (here: an interrupt) removes the temporary file too
        def interrupt(done: int, total: int) -> None:
            if done >= 5_000:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            R.export_cost_rows(store.conn, target, "jsonl", since, until, progress=interrupt, batch=1_000)
        assert list(out_dir.iterdir()) == []

        # cancelled with --force over an existing file: the old file stays as it was
        target.write_text("keep me\n")
        with pytest.raises(R.ExportCancelled):
            R.export_cost_rows(store.conn, target, "csv", since, until, force=True, cancelled=lambda: True)
        assert target.read_text() == "keep me\n" and list(out_dir.iterdir()) == [target]

        with pytest.raises(R.ExportExists):
            R.export_cost_rows(store.conn, target, "csv", since, until)
        n = R.export_cost_rows(store.conn, target, "csv", since, until, force=True)
        assert n == 47_028 and len(read_csv(target)) == n and list(out_dir.iterdir()) == [target]


def test_cli_refuses_an_existing_file_unless_forced(demo_db: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rows.jsonl"
    out.write_text("precious\n")
    args = ["--db", str(demo_db), "report", "rows", "--since", "2026-06-01", "--until", "2026-06-08",
            "--filter", "provider_name=AWS", "--output", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists: --force replaces it" in err
    assert out.read_text() == "precious\n"
    assert main([*args, "--force"]) == 0  # the format from the extension: JSON Lines
    err = capsys.readouterr().err
    objs = read_jsonl(out.read_text())
    with Store(demo_db, readonly=True) as store:
        assert exported_totals(objs) == q.total(store.conn, date(2026, 6, 1), date(2026, 6, 8),
                                                filters={"provider_name": "AWS"})
    assert err == f"costdeck: exported {len(objs):,} rows to {out}\n"  # no progress bar: stderr is not a terminal
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("argv,message", [
    (["--filter", "bogus=1"], "unknown dimension 'bogus'"),
    (["--filter", "provider_name"], "expected DIM=VALUE"),
    (["--format", "xml"], "invalid choice"),
    (["--since", "2026-06-10", "--until", "2026-06-01"], "must be after --since"),
    (["--output", "nodir/rows.csv"], "no such directory"),
    (["--force"], "--force needs --output"),
])
def test_cli_usage_errors_are_one_line_exit_2(demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--db", str(demo_db), "report", "rows", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "nodir").exists()


def test_cli_streams_every_row_to_stdout_with_filters_and_not_set(demo_db: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for filters, argv in (({"tag:team": None}, ["--filter", "tag:team="]),
                          ({"provider_name": "Google Cloud", "tag:env": "prod"},
                           ["--filter", "provider_name=Google Cloud", "--filter", "tag:env=prod"])):
        assert main(["--db", str(demo_db), "report", "rows", "--format", "csv", *argv]) == 0
        records = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        with Store(demo_db, readonly=True) as store:
            first, last = q.data_range(store.conn)  # type: ignore[misc]
            assert len(records) == R.count_cost_rows(store.conn, first, last + timedelta(days=1), filters) > 0
            assert exported_totals(records) == q.total(store.conn, first, last + timedelta(days=1), filters=filters)
        assert list(records[0]) == list(R.COLUMNS)


def test_progress_bar_only_on_a_terminal(demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    out = tmp_path / "rows.csv"
    assert main(["--db", str(demo_db), "report", "rows", "--since", "2026-06-01", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    last = err.split("\r")[-1]
    assert "100.0%" in last and "rows/s" in last and re.search(r"([\d,]+)/\1 rows", last), err[-300:]


# -- the Spend view's E ----------------------------------------------------------------------------
def notifications(app: CostdeckApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_E_exports_the_rows_of_the_view_and_says_so(demo_db: Path, tmp_path: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="spend")
    out = tmp_path / "view.jsonl"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SpendScreen)
        screen.open_group("provider_name", "AWS", "AWS")  # a crumb: its filter goes with the rows
        await settle(pilot)
        await pilot.press("E")
        await pilot.pause()
        prompt = app.screen.query_one(Input)
        assert prompt.value.startswith("costdeck-rows-provider_name-AWS-") and prompt.value.endswith(".csv")
        prompt.value = str(tmp_path / "view.txt")
        await pilot.press("enter")
        await pilot.pause()
        assert "give a file name ending in .csv or .jsonl" in str(app.screen.query_one("#error", Static).render())
        prompt.value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ProgressScreen)
        since, until = screen.current_range()
        with Store(demo_db, readonly=True) as store:
            expected = q.total(store.conn, since, until, filters={"provider_name": "AWS"})
            n = R.count_cost_rows(store.conn, since, until, {"provider_name": "AWS"})
        objs = read_jsonl(out.read_text())
        assert len(objs) == n > 0 and exported_totals(objs) == expected
        assert {o["provider_name"] for o in objs} == {"AWS"}
        assert f"exported {n:,} rows to {out.resolve()}" in notifications(app)


def _slow_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports that take a while: each batch of rows waits 50 ms (the demo's months then take
    seconds, long enough to cancel or quit in the middle)."""
    slow_batches = R._batches

    def slow(*args: Any, **kwargs: Any) -> Iterator[list[tuple[Any, ...]]]:
        for b in slow_batches(*args, **kwargs):
            time.sleep(0.05)
            yield b

    monkeypatch.setattr(R, "_batches", slow)


async def test_E_cancel_leaves_no_file(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _slow_exports(monkeypatch)
    app = CostdeckApp(demo_db, start_mode="spend")
    out = tmp_path / "cancelled.csv"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.preset = "custom"  # type: ignore[attr-defined]
        screen.custom = (date(2026, 3, 1), date(2026, 7, 1))  # type: ignore[attr-defined]
        await pilot.press("E")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        for _ in range(200):  # until the bar has moved
            await pilot.pause(0.02)
            if isinstance(app.screen, ProgressScreen) and app.screen.done_count:
                break
        assert isinstance(app.screen, ProgressScreen)
        detail = str(app.screen.query_one("#progress-detail", Static).render())
        assert re.search(r"[\d,]+ / 47,028 rows  ·  [\d,]+ rows/s", detail), detail
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ProgressScreen)
        assert "export cancelled: no file written" in notifications(app)
        assert list(tmp_path.glob("*cancelled*")) == []
        assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []


async def test_E_is_in_the_help_and_the_palette(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="spend")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one(".help-keys", Static).render())
        assert re.search(r"\bE\s+Export daily rows", keys) and re.search(r"\be\s+Export\b", keys)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        for _ in range(100):
            await pilot.pause()
            if isinstance(app.screen, CommandPalette) and app.screen.query_one(CommandList).option_count > 20:
                break
        options = app.screen.query_one(CommandList)
        prompts = [options.get_option_at_index(i).hit.text  # type: ignore[attr-defined]
                   for i in range(options.option_count)]
        assert "Spend: Export daily rows (E)" in prompts and "Spend: Export (e)" in prompts


def test_an_empty_cache_exports_no_rows_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "empty.db"
    Store(db).close()
    assert main(["--db", str(db), "report", "rows"]) == 0
    assert capsys.readouterr().out == ",".join(R.COLUMNS) + "\n"
    assert main(["--db", str(db), "report", "rows", "--format", "json", "--since", "2026-01-01"]) == 0
    assert capsys.readouterr().out == ""


async def test_quitting_during_an_export_stops_it_and_leaves_no_file(demo_db: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _slow_exports(monkeypatch)
    app = CostdeckApp(demo_db, start_mode="spend")
    out = tmp_path / "quit.jsonl"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.preset = "custom"  # type: ignore[attr-defined]
        app.screen.custom = (date(2026, 3, 1), date(2026, 7, 1))  # type: ignore[attr-defined]
        await pilot.press("E")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.02)
            if isinstance(app.screen, ProgressScreen) and app.screen.done_count:
                break
        assert isinstance(app.screen, ProgressScreen) and list(tmp_path.glob(".quit.jsonl.*.part"))
        await pilot.press("q")
    for _ in range(100):  # the worker thread notices at its next batch and removes its file
        if not list(tmp_path.glob(".quit.jsonl.*.part")):
            break
        time.sleep(0.05)
    assert not out.exists() and list(tmp_path.glob(".quit.jsonl.*.part")) == []
