"""Pilot tests: the real app on a small known dataset; assertions on what the user sees."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from tests import dataset
from tests.helpers import settle
from tui.app import CostdeckApp
from tui.screens.spend import SpendScreen


@pytest.fixture
def known_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTDECK_NOW", dataset.NOW)
    return dataset.build(tmp_path / "known.db")




def text_of(widget: Static) -> str:
    return str(widget.render())


def column(table: DataTable, index: int) -> list[str]:  # type: ignore[type-arg]
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def test_overview_shows_known_figures(known_db: Path) -> None:
    app = CostdeckApp(known_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        mtd = screen.query_one("#card-mtd")
        assert "$572.00" in text_of(mtd.query_one(".card-value", Static))
        sub = text_of(mtd.query_one(".card-sub", Static))
        assert "+10.0%" in sub and "$520.00" in sub
        assert mtd.border_subtitle == "as of 2026-11-26"
        assert "$620.00" in text_of(screen.query_one("#card-last").query_one(".card-value", Static))
        services = screen.query_one("#top-services", DataTable)
        assert column(services, 0) == ["Amazon EC2", "Virtual Machines", "Amazon S3"]
        assert column(services, 1) == ["$442.00", "$78.00", "$52.00"]
        # EC2 went from $390 (Oct 1-26) to $442: +13.3%
        assert "+13.3%" in column(services, 2)[0]
        top = app.screen.query_one("TopBar", Static)
        bar = text_of(top)
        assert "2026-11-26 12:00 UTC" in bar and "known" in bar and "DEMO" not in bar


async def test_spend_group_drill_back_filter_export(known_db: Path, tmp_path: Path) -> None:
    app = CostdeckApp(known_db)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SpendScreen)
        table = screen.query_one("#spend-table", DataTable)
        assert column(table, 0) == ["Amazon EC2", "Virtual Machines", "Amazon S3"]
        assert column(table, 2) == ["$502.00", "$90.00", "$60.00"]
        assert "$652.00" in text_of(screen.query_one("#spend-status", Static))

        # Drill into EC2: its two resources; the breadcrumb names the service.
        table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        names = column(table, 0)
        assert names[0] == "web-1"
        assert names[1].startswith("[bold red]evil[/] \\x1b[31mred $(rm -rf ~)")  # literal, escaped, cut
        assert len(names[1]) <= 60
        assert column(table, 2) == ["$352.00", "$150.00"]
        crumbs = text_of(screen.query_one("#crumbs", Static))
        assert "Service: Amazon EC2" in crumbs

        # Resource is the lowest level: enter says so and stays.
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.by == "resource_id"

        # esc goes back to services.
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.by == "service_name"
        assert column(table, 0) == ["Amazon EC2", "Virtual Machines", "Amazon S3"]

        # / filters rows by name.
        await pilot.press("slash")
        await pilot.press(*"virt")
        await pilot.pause()
        assert column(table, 0) == ["Virtual Machines"]
        assert screen.query_one("#filter", Input).has_focus
        await pilot.press("escape")
        await pilot.pause()
        assert len(column(table, 0)) == 3

        # e exports the whole table.
        out = tmp_path / "spend.csv"
        await pilot.press("e")
        await pilot.pause()
        prompt = app.screen.query_one(Input)
        prompt.value = str(out)
        await pilot.press("enter")
        await pilot.pause()
        with out.open() as fh:
            rows = list(csv.DictReader(fh))
        assert [(r["service_name"], r["cost"]) for r in rows] == [
            ("Amazon EC2", "502.00"),
            ("Virtual Machines", "90.00"),
            ("Amazon S3", "60.00"),
        ]

        # JSON export too, after switching to group by tag:team via the picker.
        await pilot.press("g")
        await pilot.pause()
        picker = app.screen
        options = picker.query_one("OptionList")
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "tag:team" in ids and "tag:env" in ids
        options.highlighted = ids.index("tag:team")
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.by == "tag:team"
        assert column(table, 0) == ["web", "[red]x[/]", "ml", "(not set)"]
        out_json = tmp_path / "tags.json"
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one(Input).value = str(out_json)
        await pilot.press("enter")
        await pilot.pause()
        payload = json.loads(out_json.read_text())
        assert payload["group_by"] == "tag:team"
        assert {r["tag:team"]: r["cost"] for r in payload["rows"]} == {
            "web": "352.00", "[red]x[/]": "150.00", "ml": "90.00", None: "60.00"
        }


async def test_spend_range_grain_metric(known_db: Path) -> None:
    app = CostdeckApp(known_db, start_mode="spend")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SpendScreen)
        table = screen.query_one("#spend-table", DataTable)
        # Last month preset: October.
        await pilot.press("t")
        await pilot.pause()
        opts = app.screen.query_one("OptionList")
        opts.highlighted = [opts.get_option_at_index(i).id for i in range(opts.option_count)].index("last_month")
        await pilot.press("enter")
        await settle(app, pilot)
        assert column(table, 2) == ["$465.00", "$93.00", "$62.00"]
        # Metric list: EC2 list = 2x web + evil.
        await pilot.press("m", "m")
        await settle(app, pilot)
        assert screen.metric == "list"
        assert column(table, 2)[0] == "$775.00"
        # Grain month: one period in the sparkline/chart.
        await pilot.press("u", "u")
        await settle(app, pilot)
        assert screen.grain == "month"
        assert screen.data is not None and screen.data.periods == ["2026-10-01"]
        # Custom range.
        await pilot.press("t")
        await pilot.pause()
        opts = app.screen.query_one("OptionList")
        opts.highlighted = opts.option_count - 1
        await pilot.press("enter")
        await pilot.pause()
        box = app.screen.query_one(Input)
        box.value = "2026-11-01..2026-11-02"
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.preset == "custom"
        assert column(table, 2)[0] == "$58.00"  # 2 days x (2 x 12 + 5) list


async def test_overview_enter_opens_spend_and_help_lists_keys(known_db: Path) -> None:
    app = CostdeckApp(known_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = str(app.screen.query_one(Static).render())
        assert "30/90 days" in help_text and "Quit" in help_text
        await pilot.press("escape")
        await pilot.pause()
        services = app.screen.query_one("#top-services", DataTable)
        services.focus()
        services.move_cursor(row=0)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SpendScreen)
        assert screen.by == "resource_id" and screen.preset == "mtd"
        table = screen.query_one("#spend-table", DataTable)
        assert column(table, 2) == ["$312.00", "$130.00"]


async def test_small_terminal_renders(known_db: Path) -> None:
    app = CostdeckApp(known_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        table = app.screen.query_one("#spend-table", DataTable)
        assert table.row_count == 3
        # No column runs off the screen at 80 columns.
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80


async def test_command_palette_reaches_views_and_spend_commands(known_db: Path) -> None:
    app = CostdeckApp(known_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Spend")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SpendScreen)
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"group by Region")
        await pilot.pause(1.0)
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.by == "region_id"
        table = screen.query_one("#spend-table", DataTable)
        assert column(table, 0) == ["us-east-1", "westeurope", "us-west-2"]
        # tag keys from the cache are palette commands too
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"group by tag env")
        await pilot.pause(1.0)
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.by == "tag:env"
        # the export's default name says what the table is
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.query_one(Input).value == (
            "costdeck-spend-billed-by-tag-env-2026-10-28_to_2026-11-26.csv")
        await pilot.press("escape")


async def test_badges_and_empty_cache(tmp_path: Path, known_db: Path) -> None:
    app = CostdeckApp(known_db, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "READ-ONLY" in text_of(app.screen.query_one("TopBar", Static))
    empty = tmp_path / "empty.db"
    app = CostdeckApp(empty)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        msg = app.screen.query_one("#no-data", Static)
        assert msg.display and "No cost data" in text_of(msg)
        assert "no snapshot yet" in text_of(app.screen.query_one("TopBar", Static))
        await pilot.press("2")
        await settle(app, pilot)
        assert "0 groups" in text_of(app.screen.query_one("#spend-status", Static))
