"""Data never drives the terminal: hostile strings in names, tags and runs go through every report
format, the error lines and the app, and come out escaped (never raw control characters), while
JSON keeps the data exactly and CSV neutralises formula prefixes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from cache import CostRow, Store
from cache.money import to_nanos
from cache.text import clean, csv_cell
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs
from tui.cli import main

# ESC ] 0 ; TITLE BEL retitles a terminal; ESC [2J clears it; NUL; RLO reverses the rest of the line.
TITLE = "Evil\x1b]0;PWNED\x07\x1b[2J\x00\u202eexe.txt\nsecond line\r"
FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3+cmd", "\tTAB"]
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")  # \t and \n allowed as layout
FIRST = date(2026, 11, 1)


def build(path: Path) -> None:
    with Store(path) as store:
        sid = store.ensure_source("hostile", "focus")
        rows = []
        for i in range(3):
            d = FIRST + timedelta(days=i)
            rows.append(CostRow(day=d, provider_name="AWS", sub_account_id="111", sub_account_name=TITLE,
                                service_name=TITLE, resource_id="i-evil", resource_name=TITLE,
                                tags={"team": TITLE, TITLE: "v"}, billed_cost=to_nanos("1.25"),
                                effective_cost=to_nanos("1.25")))
            for n, f in enumerate(FORMULAS):
                rows.append(CostRow(day=d, provider_name="AWS", service_name=f, resource_id=f"r-{n}",
                                    billed_cost=to_nanos("1"), effective_cost=to_nanos("1")))
        store.replace_costs(sid, rows)
        rid = store.ensure_source("runs:hostile.jsonl", "runs")
        start = FIRST.isoformat() + "T10:00:00+00:00"
        from cache.timeutil import parse_instant

        write_runs(store, rid, [RunRecord(run_id="r-1", task=TITLE, name=TITLE, status="completed",
                                          start_at=parse_instant(start),
                                          end_at=parse_instant(FIRST.isoformat() + "T11:00:00+00:00"),
                                          host=TITLE, executors=[ExecutorRecord(instance_type="p3.2xlarge")])],
                   replace_source=True)
        store.set_meta("snapshot_time", (FIRST + timedelta(days=3)).isoformat() + "T00:00:00+00:00")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.db"
    build(path)
    return path


REPORTS = [
    ["report", "spend", "--by", "service_name"],
    ["report", "spend", "--by", "sub_account_id"],
    ["report", "spend", "--by", "resource_id"],
    ["report", "spend", "--by", "tag:team"],
    ["report", "ml-runs"],
]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: " ".join(r[1:]))
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_every_report_format_escapes_or_keeps_exactly(cache: Path, report: list[str], fmt: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*report, "--format", fmt, "--db", str(cache)]) == 0
    out = capsys.readouterr().out
    assert not RAW.search(out), repr(RAW.search(out))
    if fmt == "json":
        data = json.loads(out)  # control characters are JSON escapes; the data is exact
        values = {str(v) for row in data for v in row.values()}
        assert TITLE in values or report[-1] == "sub_account_id"  # the id column, the name under "name"
        if report[-1] == "sub_account_id":
            assert any(row.get("name") == TITLE for row in data)
        return
    assert "\\x1b]0;PWNED\\x07" in out and "\\u202e" in out and "\\x00" in out and "\\x0a" in out
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert all(len(r) == len(rows[0]) for r in rows)  # the newline did not split a row
        if report[-1] == "service_name":
            names = {r[0] for r in rows[1:]}
            assert {"'" + f if not f.startswith("\t") else "'\\x09TAB" for f in FORMULAS} <= names, names
            assert not any(n.startswith(("=", "+", "@")) for n in names)


def test_csv_cell_rules() -> None:
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("@x") == "'@x" and csv_cell("+x") == "'+x"
    assert csv_cell("-12.50") == "-12.50" and csv_cell("+3") == "+3" and csv_cell("1e-3") == "1e-3"
    assert csv_cell("-x") == "'-x" and csv_cell("\rA") == "'\\x0dA" and csv_cell(3) == 3 and csv_cell(None) is None
    assert csv_cell("plain") == "plain"


def test_clean_escapes_every_control_class() -> None:
    s = clean("a\x00b\x1bc\x07d\x7fe\x85f\u2028g\u202eh\u2066i\nj", 0)
    assert s == "a\\x00b\\x1bc\\x07d\\x7fe\\x85f\\u2028g\\u202eh\\u2066i\\x0aj"
    assert clean("x" * 100, 10) == "x" * 9 + "…" and clean(None) == ""


def test_error_lines_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad\x1b]0;T\x07.toml"
    bad.write_text('[sources."x"]\nkind = "aws"\nregions = ["\\u001b[31m", "\\u202e"]\n', encoding="utf-8")
    assert main(["sources", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and not RAW.search(err.rstrip("\n"))
    assert "\\x1b]0;T\\x07.toml" in err and "\\x1b[31m" in err


def test_sources_error_column_is_escaped(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(cache) as store:
        sid = store.conn.execute("SELECT id FROM sources WHERE name='hostile'").fetchone()[0]
        run = store.start_sync_run(sid)
        store.finish_sync_run(run, "failed", TITLE)
    for fmt in ("table", "csv"):
        assert main(["sources", "--db", str(cache), "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert not RAW.search(out) and "\\x1b]0;PWNED" in out


async def test_the_app_shows_hostile_names_escaped(cache: Path) -> None:
    from textual.widgets import DataTable

    from tests.helpers import settle
    from tui.app import CostdeckApp

    app = CostdeckApp(db_path=cache)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query(DataTable).first()
        cells = [str(getattr(c, "plain", c)) for r in range(table.row_count) for c in table.get_row_at(r)]
        text = " ".join(cells)
        assert not RAW.search(text)
        assert "\\x1b]0;PWNED" in text or "Evil\\x1b" in text
        screen = app.export_screenshot()
        assert "\x1b]0;" not in screen and "\u202e" not in screen
