"""Pilot tests of the Commitments view (4) on the hand dataset of test_commitments_math, the Overview's
expiry flag, and an SVG snapshot at 120x40 on the demo (pinned like tests/test_snapshots.py).

Update the snapshot after an intended visual change with:
    pytest tests/test_commitments_view.py --snapshot-update
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from tests import test_commitments_math as hand
from tests.helpers import build_demo, settle
from tui.app import CostdeckApp
from tui.screens.commitments import CommitmentDetailScreen, CommitmentsScreen


@pytest.fixture
def hand_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTDECK_NOW", hand.NOW)
    return hand.build(tmp_path / "hand.db")




def text_of(widget: Static) -> str:
    return str(widget.render())


def card(screen: CommitmentsScreen, cid: str) -> tuple[str, str]:
    c = screen.query_one(cid)
    return text_of(c.query_one(".card-value", Static)), text_of(c.query_one(".card-sub", Static))


def cells(table: DataTable, key: str) -> list[str]:  # type: ignore[type-arg]
    idx = [c.key.value for c in table.columns.values()].index(key)
    return [str(table.get_row_at(i)[idx]) for i in range(table.row_count)]


def cell_style(table: DataTable, key: str, row: int) -> str:  # type: ignore[type-arg]
    idx = [c.key.value for c in table.columns.values()].index(key)
    return str(table.get_row_at(row)[idx].style)


async def test_figures_expiry_period_detail_and_export(hand_db: Path, tmp_path: Path) -> None:
    app = CostdeckApp(hand_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CommitmentsScreen)
        assert card(screen, "#card-util")[0] == "86.5%"  # 9.96 / 11.52
        assert card(screen, "#card-coverage")[0] == "75.9%" and "api" in card(screen, "#card-coverage")[1]
        assert card(screen, "#card-unused")[0] == "$1.56"
        assert card(screen, "#card-savings")[0] == "$2.66"  # net: 8.80 + 5.376 - 11.52
        controls = text_of(screen.query_one("#cm-controls", Static))
        assert "last 30 days" in controls and "2026-02-02 → 2026-03-03" in controls

        table = screen.query_one("#cm-table", DataTable)
        names = cells(table, "name")
        assert names[0] == "ri one"
        assert names[1].startswith("[bold red]sp[/] \\x1b[31mplan")  # literal markup, escaped control char
        assert cells(table, "util") == ["77.8%", "91.7%"]
        assert cells(table, "unused") == ["$0.96", "$0.60"]
        assert cells(table, "saved") == ["$2.02", "$2.20"]
        assert cells(table, "basis") == ["api", "api"]
        assert cells(table, "commit") == ["1 x m5.large", "$0.10/h"]
        assert cells(table, "term") == ["1yr", "3yr"]
        # expiry: the RI ends in 20 days (red), the SP in 50 (orange); utilization colours by threshold
        assert cells(table, "ends") == ["2026-03-23", "2026-04-22"]
        assert cells(table, "left") == ["20d", "50d"]
        assert cell_style(table, "left", 0) == "bold red" and cell_style(table, "left", 1) == "dark_orange"
        assert cell_style(table, "util", 0) == "bold red" and cell_style(table, "util", 1) == "yellow"

        # t: 90 days takes in the older day when the RI was entirely unused
        await pilot.press("t")
        await settle(app, pilot)
        assert "last 90 days" in text_of(screen.query_one("#cm-controls", Static))
        assert cells(table, "util")[0] == "58.3%" and cells(table, "unused")[0] == "$2.40"
        assert cell_style(table, "util", 0) == "bold red"
        await pilot.press("t")  # 7 days
        await settle(app, pilot)
        assert "last 7 days" in text_of(screen.query_one("#cm-controls", Static))
        assert cells(table, "util")[0] == "77.8%"

        # enter: the daily series of the selected commitment
        table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, CommitmentDetailScreen)
        days = detail.query_one("#cd-days", DataTable)
        first = [str(x) for x in days.get_row_at(0)]
        assert first[:5] == ["2026-03-03", "$1.44", "$0.72", "$0.72", "$1.15"] and first[5] == "50.0%"
        info = text_of(detail.query_one("#cd-info", Static))
        assert "api" in info and "focus" in info and "Reserved Instance" in info
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, CommitmentsScreen)

        # e: export the whole table
        out = tmp_path / "commitments.json"
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        payload = json.loads(out.read_text())
        rows = {r["commitment_id"]: r for r in payload["commitments"]}
        assert rows[hand.RI]["unused_cost"] == "0.96" and rows[hand.RI]["basis"] == "api"
        assert payload["totals"]["net_savings"] == "2.656"
        out_csv = tmp_path / "commitments.csv"
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out_csv)
        await pilot.press("enter")
        await pilot.pause()
        with out_csv.open() as fh:
            assert [r["savings"] for r in csv.DictReader(fh)] == ["2.016", "2.20"]


async def test_purchase_table_and_small_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", hand.P_NOW)
    db = hand.build_usage(tmp_path / "p.db")
    app = CostdeckApp(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CommitmentsScreen)
        assert not screen.query_one("#cm-chart").display  # small terminal: tables first, c shows the chart
        # the committed rows of "ri-x" (FOCUS only, not in the inventory) make it a listed commitment
        table = screen.query_one("#cm-table", DataTable)
        assert cells(table, "name") == ["ri-x"] and cells(table, "util") == ["100.0%"]
        assert "italic" in cell_style(table, "name", 0)
        p = screen.query_one("#cm-purchase", DataTable)
        assert p.row_count == 2
        row = [str(x) for x in p.get_row_at(0)]
        assert row[0].startswith("m5 AWS us-east-1")
        assert row[1:] == ["$0.950", "$0.594", "$260.06", "$416.10", "62/40%"]
        assert [str(x) for x in p.get_row_at(1)][3].endswith("*")  # eu-west-1 c5: assumed default rate
        await pilot.press("c")
        await pilot.pause()
        assert screen.query_one("#cm-chart").display


async def test_overview_flags_expiring_commitments(hand_db: Path) -> None:
    app = CostdeckApp(hand_db, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        box = app.screen.query_one("#expiring", Static)
        assert box.display
        line = text_of(box)
        assert "1 within 30 days, 1 within 60 days" in line and "next in 20d: ri one" in line


# -- snapshot on the demo ------------------------------------------------------------------------------

AS_OF = date(2026, 6, 30)
NOW = "2026-06-30T09:30:00+00:00"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("snap-commitments") / "demo.db", recommendations=False)


def test_commitments_snapshot(snap_compare, demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTDECK_NOW", NOW)

    async def go(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot.app, pilot)
        await pilot.press("4")
        await settle(pilot.app, pilot)

    assert snap_compare(CostdeckApp(demo_db), terminal_size=(120, 40), run_before=go)


async def test_no_commitments_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import dataset

    monkeypatch.setenv("COSTDECK_NOW", dataset.NOW)
    app = CostdeckApp(dataset.build(tmp_path / "known.db"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CommitmentsScreen)
        empty = screen.query_one("#cm-empty", Static)
        assert empty.display and "No commitments in this cache" in text_of(empty)
        assert screen.query_one("#cm-table", DataTable).row_count == 0
        assert card(screen, "#card-util")[0] == "—"
