"""Issue 14 (the dashboard at 80x24): money never cut or shown as $0.00 when it is not zero, report
totals, periods with no data, ML runs that can be told apart, table keys and keys that say why."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from cache import CostRow, Store
from cache.money import fmt, to_nanos
from cache.text import distinct_labels, middle_cut
from tests.helpers import build_demo, demo_copy, settle
from tui.app import CostdeckApp
from tui.cli import main
from tui.widgets import Card, Table, money_width


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("polish") / "demo.db")


@pytest.fixture
def demo_db(demo_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return demo_copy(demo_master, tmp_path, monkeypatch)


def lines_of(widget: Any) -> list[str]:
    """What a widget shows, line by line (as drawn, cuts included)."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


# -- 1. money --------------------------------------------------------------------------------------
def test_sub_cent_amounts_are_never_zero() -> None:
    assert fmt(to_nanos("0.004")) == "<$0.01"
    assert fmt(to_nanos("0.005")) == "<$0.01"  # half-even to 0.00: still not zero
    assert fmt(to_nanos("-0.003"), "EUR") == "-<€0.01"
    assert fmt(to_nanos("0.0004"), "CHF") == "<0.01 CHF"
    assert fmt(to_nanos("0.0004"), places=3) == "<$0.001"
    assert fmt(to_nanos("0.004"), compact=True) == "<$0.01"
    assert fmt(0) == "$0.00" and fmt(to_nanos("0.006")) == "$0.01" and fmt(None) == "—"


def test_money_width_sees_amounts_not_prose() -> None:
    assert money_width(Text("   $1,234.56 B")) == len("$1,234.56 B")
    assert money_width("<$0.01") == 6 and money_width("12.50 CHF") == 9
    assert money_width("1,609") == 0 and money_width("i-0abc") == 0
    assert money_width("failed: the instance was attached again, saving $8,356.07 lost") == 0


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(id="t", cursor_type="row")


async def test_a_money_column_grows_to_its_amount_and_the_name_column_gives_the_width() -> None:
    app = _TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        t = app.query_one(Table)
        t.add_column("Name", key="name", width=30)
        t.add_column("Cost", key="cost", width=6)
        t.add_row("a name", Text("$1,234,567.89", justify="right"))
        await pilot.pause()
        cols = {c.key.value: c for c in t.columns.values()}
        cost, name = cols["cost"], cols["name"]
        assert cost.width == len("$1,234,567.89") and name.width == 30 - (13 - 6)
        assert any("$1,234,567.89" in line for line in lines_of(t))


async def test_commitment_detail_shows_every_on_demand_amount_whole_at_80x24(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one("#cd-days", Table)
        shown = "\n".join(lines_of(table))
        assert "On-demand" in shown
        row = table.get_row_at(0)
        for cell in row[1:5]:
            assert str(cell) in shown  # each amount drawn whole (before: "$81.6" for $81.60)
        region = table.content_region
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= region.width


# -- 2. report spend total row ------------------------------------------------------------------------
def _two_currency_db(path: Path) -> Path:
    with Store(path) as s:
        sid = s.ensure_source("a", "test")
        s.replace_costs(sid, [
            CostRow(day=date(2026, 5, 3), provider_name="AWS", service_name="S3", billed_cost=to_nanos("10.25")),
            CostRow(day=date(2026, 5, 3), provider_name="AWS", service_name="EC2", billed_cost=to_nanos("1.004")),
            CostRow(day=date(2026, 5, 4), provider_name="Azure", service_name="VM", billed_cost=to_nanos("7.00"),
                    billing_currency="EUR"),
        ])
    return path


def test_report_spend_table_ends_with_a_total_per_currency(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _two_currency_db(tmp_path / "c.db")
    assert main(["report", "spend", "--db", str(db), "--by", "service_name"]) == 0
    out = capsys.readouterr().out
    total_lines = [line for line in out.splitlines() if "Total" in line]
    assert len(total_lines) == 2
    assert any("$11.25" in line and "USD" in line for line in total_lines)  # 10.25 + 1.004, in USD only
    assert any("€7.00" in line and "EUR" in line for line in total_lines)
    # CSV and JSON are data for scripts: no total row
    assert main(["report", "spend", "--db", str(db), "--by", "service_name", "--format", "csv"]) == 0
    assert "Total" not in capsys.readouterr().out


# -- 3. periods with no data --------------------------------------------------------------------------
async def test_overview_says_no_data_for_periods_before_the_first_day(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", "2026-05-04T10:00:00+00:00")
    db = tmp_path / "new.db"
    with Store(db) as s:
        sid = s.ensure_source("a", "test")
        s.replace_costs(sid, [CostRow(day=date(2026, 5, d), provider_name="AWS", service_name="S3",
                                      billed_cost=to_nanos("3.50")) for d in (1, 2, 3)])
    app = CostdeckApp(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        last = app.screen.query_one("#card-last", Card)
        value = str(last.query_one(".card-value", Static).render())
        sub = str(last.query_one(".card-sub", Static).render())
        assert value == "no data" and "April 2026" in sub and "$0.00" not in value
        mtd_sub = str(app.screen.query_one("#card-mtd", Card).query_one(".card-sub", Static).render())
        assert "no data for Apr 1–3" in mtd_sub and "new" not in mtd_sub
        forecast_sub = str(app.screen.query_one("#card-forecast", Card).query_one(".card-sub", Static).render())
        assert forecast_sub.startswith("run rate $3.50/day")


# -- 4. ML runs that can be told apart -----------------------------------------------------------------
def test_distinct_labels_keep_what_differs() -> None:
    # a plain cut at the end keeps them apart: whole names (the table cuts them)
    dated = ["2026-10-13-09-05-40-502", "2026-10-22-10-06-23-773", "2026-11-05-09-47-44-631"]
    assert distinct_labels(dated, 14) == dated
    # the same day: "2026-10-13-…" for all of them before; the shared prefix goes, both ends stay
    same_day = ["2026-10-13-09-05-40-502", "2026-10-13-10-06-23-773", "2026-10-13-11-47-44-631"]
    labels = distinct_labels(same_day, 12)
    assert len(set(labels)) == 3 and all(len(label) <= 12 for label in labels)
    assert labels[0].startswith("…09-05") and labels[0].endswith("502")
    assert distinct_labels(["1202-07", "1117-07"], 12) == ["1202-07", "1117-07"]
    assert middle_cut("abcdefghij", 7) == "abcd…ij"


async def test_ml_leaderboard_rows_differ_at_80x24(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        board = app.screen.query_one("#ml-board", Table)
        keys = [c.key.value for c in board.columns.values()]
        run_col = keys.index("run")
        width = list(board.columns.values())[run_col].width
        names = [board.get_row_at(i)[run_col].plain for i in range(board.row_count)]
        shown = [n if len(n) <= width else n[: width - 1] + "…" for n in names]  # as the column draws them
        assert len(names) > 3 and len(set(shown)) == len(names)
        assert all(not n.startswith("image-class") for n in names)  # the task is the board's title


# -- 5. keys ------------------------------------------------------------------------------------------
async def test_j_k_g_G_move_in_every_table() -> None:
    app = _TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        t = app.query_one(Table)
        t.add_column("n", key="n")
        for i in range(30):
            t.add_row(str(i))
        t.focus()
        await pilot.press("j", "j")
        assert t.cursor_row == 2
        await pilot.press("k")
        assert t.cursor_row == 1
        await pilot.press("G")
        assert t.cursor_row == 29
        await pilot.press("g")
        assert t.cursor_row == 0


async def test_keys_in_views_and_spend_keeps_g_for_group_by(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#rec-table", Table)
        table.focus()
        await pilot.press("j", "j", "j")
        assert table.cursor_row == 3
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("question_mark")  # the help names the table keys
        await pilot.pause()
        assert "j/k  g/G" in str(app.screen.query_one(Static).render())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("g")
        assert table.cursor_row == 0
        # read-only: c says why instead of doing nothing
        await pilot.press("space", "c")
        await pilot.pause()
        assert any("read-only mode: cleanup is disabled" in str(n.message) for n in app._notifications)
        await pilot.press("2")
        await settle(pilot)
        spend = app.screen
        await pilot.press("g")  # Spend's own g: the group-by picker, not the table's top
        await pilot.pause()
        assert app.screen is not spend


async def test_activity_on_the_demo_says_why_R_and_x_do_nothing(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert any("demo" in m and "no sources to sync" in m for m in messages)
        assert any("No sync is running" in m for m in messages)
        assert not app.syncing


def test_an_applied_recommendation_stays_applied(demo_db: Path) -> None:
    from analysis.recommendations.engine import set_status

    with Store(demo_db) as s:
        a, b = (r[0] for r in s.conn.execute("SELECT id FROM recommendations WHERE status='open' LIMIT 2"))
        with s.transaction() as conn:
            assert set_status(conn, [a], "applied", reason="deleted by cleanup") == 1
            assert set_status(conn, [a, b], "open") == 1  # b only (already open, still counted), a stays
            assert set_status(conn, [a], "dismissed", reason="x") == 0
        assert tuple(s.conn.execute("SELECT status, status_reason FROM recommendations WHERE id=?", (a,)).fetchone()) == (
            "applied", "deleted by cleanup")


async def test_ctrl_c_quits(demo_db: Path) -> None:
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0 and not app.is_running


def test_report_on_a_cache_the_dashboard_opens_as_the_demo_says_so(demo_master: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.copy(demo_master, tmp_path / "demo.db")
    cache = tmp_path / "cache.db"
    assert main(["--db", str(cache), "report", "spend", "--by", "service_name"]) == 2
    err = capsys.readouterr().err
    assert "no cache here; the dashboard shows the demo snapshot beside it: add --db" in err
    assert f"{tmp_path / 'demo.db'} to report on the demo" in err and not cache.exists()
    Store(cache).close()  # an empty cache: the dashboard opens the demo beside it
    assert main(["--db", str(cache), "report", "spend", "--by", "service_name", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "[]"
    assert "is empty; the dashboard shows the demo snapshot beside it: add --db" in out.err


def test_an_export_never_overwrites_and_names_the_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.dialogs import _export_path_error

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spend.csv").write_text("keep me")
    err = _export_path_error("spend.csv")
    assert err is not None and err.startswith(str(tmp_path / "spend.csv")) and "nothing is overwritten" in err
    assert _export_path_error("other.csv") is None
    assert _export_path_error("nodir/x.csv") == "no such directory: nodir"
    assert (tmp_path / "spend.csv").read_text() == "keep me"
