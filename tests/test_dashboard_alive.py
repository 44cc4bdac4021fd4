"""Issue 14, the rest: charts people can read, a dashboard that notices new data, keys that behave
like k9s (palette, help, filter, sort), entries readable in full, one CSV number format."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Static

from analysis.cleanup import Excluded, Plan, export_script
from cache import CostRow, Store
from cache.csvout import csv_value, write_csv
from cache.money import decimal_str, to_nanos
from providers.actions import PlanStep
from tests.helpers import build_demo, demo_copy, settle
from tui import palette
from tui.app import CostdeckApp
from tui.cli import main
from tui.dialogs import HelpScreen, TextScreen
from tui.screens.cleanup import CleanupScreen
from tui.widgets import Chart, StackedChart, Table, TopBar, axis_money, money_text, sort_value, y_axis

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("alive") / "demo.db")


@pytest.fixture
def demo_db(demo_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return demo_copy(demo_master, tmp_path, monkeypatch)


def lines_of(widget: Any) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


# -- charts ---------------------------------------------------------------------------------------
def test_y_ticks_start_at_zero_evenly_spaced_and_cover_the_top() -> None:
    assert y_axis(9863.1, 10) == ([0.0, 5000.0, 10000.0], 10000.0)
    for height in range(5, 45):  # plotext rows: every tick the same whole number of rows apart
        for top in (0.37, 370.0, 9863.1, 123_456.0):
            ticks, limit = y_axis(top, height)
            rows = height - 4
            gaps = {round((b - a) / limit * rows, 6) for a, b in zip(ticks, ticks[1:], strict=False)}
            assert ticks[0] == 0 and top <= limit and len(gaps) == 1 and next(iter(gaps)).is_integer(), (height, top)
            assert 2 <= len(ticks) <= 6 and (len(ticks) >= 3 or rows < 4)
    assert [axis_money(v, "USD") for v in (0, 2500, 10_000, 1_500_000, 0.25)] == ["$0", "$2.5k", "$10k", "$1.5M", "$0.25"]
    assert axis_money(2000, "CHF") == "2k CHF" and axis_money(500, "EUR") == "€500"


def test_a_series_keeps_its_colour_whatever_the_order_and_the_others() -> None:
    aws, ms, gcp = palette.series_color("AWS"), palette.series_color("Microsoft"), palette.series_color("Google Cloud")
    assert len({aws, ms, gcp}) == 3 and palette.series_color("Azure") == ms
    names = [f"service {i}" for i in range(8)]
    first = [palette.series_color(n) for n in names]
    assert len(set(first)) == 8  # distinct while the palette lasts
    assert [palette.series_color(n) for n in reversed(names)] == first[::-1]  # asked again, in any order
    assert palette.series_color("other (38)") == palette.OTHER


class _ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StackedChart(id="c")


async def test_the_legend_names_the_colours_drawn_and_sits_above_the_plot() -> None:
    app = _ChartApp()
    async with app.run_test(size=(80, 16)) as pilot:
        chart = app.query_one(StackedChart)
        days = [f"2026-11-{d:02d}" for d in range(1, 31)]
        series = {"Google Cloud": [to_nanos(300)] * 30, "AWS": [to_nanos(5000)] * 30, "Microsoft": [to_nanos(900)] * 30}
        chart.show(days, series, "Daily spend (USD)", "USD")
        await pilot.pause()
        head = chart.head_text
        assert head.plain in "".join(lines_of(chart.query_one(".chart-head", Static)))
        for name in series:  # each name right after a swatch in the colour the plot uses for it
            at = head.plain.index(f"■ {name}")
            styles = [str(s.style) for s in head.spans if s.start == at]
            assert palette.rich_color(palette.series_color(name)) in styles, name
        plot = lines_of(chart.query_one(Chart))
        assert not any(name in "".join(plot) for name in series)  # no legend inside the plot
        labels = [line.split("┤")[0].strip() for line in plot if "┤" in line]
        assert labels[-1] == "$0" and all(label.startswith("$") for label in labels)


async def test_a_one_day_period_draws_one_narrow_bar() -> None:
    app = _ChartApp()
    async with app.run_test(size=(80, 16)) as pilot:
        chart = app.query_one(StackedChart)
        chart.show(["2026-12-01"], {"AWS": [to_nanos(120)]}, "Month to date", "USD")
        await pilot.pause()
        plot = lines_of(chart.query_one(Chart))
        widest = max(line.count("█") for line in plot)
        assert 0 < widest <= chart.size.width // 5


# -- alive data -----------------------------------------------------------------------------------
def _costs_db(path: Path) -> Path:
    with Store(path) as s:
        sid = s.ensure_source("a", "test")
        s.replace_costs(sid, [CostRow(day=date(2026, 6, d), provider_name="AWS", service_name=f"svc-{k}",
                                      billed_cost=to_nanos(10 * (k + 1))) for d in range(1, 29) for k in range(4)])
        s.touch_snapshot()
    return path


async def test_the_view_reloads_when_another_process_writes_the_cache_and_keeps_its_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", "2026-06-29T09:00:00+00:00")
    db = _costs_db(tmp_path / "c.db")
    app = CostdeckApp(db, start_mode="spend")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#spend-table", Table)
        table.focus()
        await pilot.press("j")  # on svc-2 (costs sort largest first: svc-3, svc-2, ...)
        assert app.screen.selected_row().value == "svc-2"  # type: ignore[attr-defined]
        assert not app.check_cache_changed()  # nothing written yet
        # another process writes the cache: a new service larger than all
        script = textwrap.dedent(f"""
            from datetime import date
            from cache import CostRow, Store
            from cache.money import to_nanos
            with Store({str(db)!r}) as s:
                sid = s.ensure_source("b", "test")
                s.replace_costs(sid, [CostRow(day=date(2026, 6, 20), provider_name="AWS", service_name="svc-new",
                                              billed_cost=to_nanos("98765.43"))])
        """)
        subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, timeout=60)
        assert app.WATCH_INTERVAL <= 3  # the timer looks every few seconds; here the test looks itself
        assert app.check_cache_changed()
        await settle(pilot)
        names = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert names[0] == "svc-new" and any("$98,765.43" in line for line in lines_of(table))
        assert app.screen.selected_row().value == "svc-2"  # type: ignore[attr-defined]  # the same group
        assert not app.check_cache_changed()  # once


async def test_the_header_keeps_badges_and_age_below_80_columns_and_the_age_ticks(
        demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", "2026-06-30T06:00:10+00:00")  # the demo's snapshot is at 06:00
    app = CostdeckApp(demo_db, read_only=True)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(TopBar)
        text = "\n".join(lines_of(bar))
        assert "DEMO" in text and "READ-ONLY" in text and "ago" in text
        before = bar._shown_age
        assert before == "10s ago"
        monkeypatch.setenv("COSTDECK_NOW", "2026-06-30T06:00:50+00:00")  # 40 s later
        bar._tick()
        await pilot.pause()
        assert bar._shown_age != before and bar._shown_age in "\n".join(lines_of(bar))


def test_building_the_demo_before_the_screen_opens_shows_its_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from providers import demo
    from tui.cli import dashboard

    calls: list[str] = []
    monkeypatch.setattr(demo, "generate", lambda store, as_of, seed=7: calls.append("demo"))
    monkeypatch.setattr(dashboard, "recompute_recommendations", lambda store, config: calls.append("recs"))
    dashboard._refresh_demo(tmp_path / "demo.db", None)
    err = capsys.readouterr().err
    assert calls == ["demo", "recs"]
    assert "building today's demo snapshot: cost, inventory and ML runs…" in err
    assert "recommendations…" in err and "opening the dashboard in" in err


# -- keys -----------------------------------------------------------------------------------------
async def test_the_palette_lists_the_views_commands_first_then_textuals(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="spend")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        for _ in range(100):  # the commands come in as the providers answer
            await pilot.pause()
            if isinstance(app.screen, CommandPalette) and app.screen.query_one(CommandList).option_count > 30:
                break
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one(CommandList)
        prompts = [options.get_option_at_index(i).hit.text for i in range(options.option_count)]  # type: ignore[attr-defined]
        first = prompts[:9]
        assert all(p.startswith("Spend: ") for p in first), first
        assert "Spend: Group by (g)" in first and "Spend: Export (e)" in first
        assert "Spend: group by Provider" in prompts and prompts.index("Go to Overview (1)") > 9
        assert prompts.index("Quit") > prompts.index("Go to Overview (1)")  # Textual's own come last


async def test_palette_lists_each_key_of_a_view_once(demo_db: Path) -> None:
    # view 6's a/d/o/s/enter and Spend's e were listed twice (from the keys and the view's own commands)
    for mode, title in (("anomalies", "Anomalies"), ("spend", "Spend")):
        app = CostdeckApp(demo_db, start_mode=mode)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+p")
            for _ in range(40):
                await pilot.pause()
                if isinstance(app.screen, CommandPalette) and app.screen.query_one(CommandList).option_count > 20:
                    break
            assert isinstance(app.screen, CommandPalette)
            options = app.screen.query_one(CommandList)
            prompts = [options.get_option_at_index(i).hit.text  # type: ignore[attr-defined]
                       for i in range(options.option_count)]
            keyed = [p.rsplit(" ", 1)[-1] for p in prompts if p.startswith(f"{title}: ") and p.endswith(")")]
            assert keyed and len(keyed) == len(set(keyed)), prompts


async def test_help_is_a_compact_key_table_and_skipped_resources_have_their_own_screen(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="recommendations")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.query_one(".help-keys", Static).render())
        assert "Skipped at the last recompute" not in keys
        rows = keys.splitlines()
        assert any("Filter" in r and "Clean up" in r for r in rows)  # two columns at 80
        assert len(rows) <= 14 and any(r.startswith("views ") for r in rows)
        await pilot.press("escape")
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen) and "Skipped at the last recompute" in app.screen.title_text
        body = app.screen.body
        assert isinstance(body, Text) and body.plain.count("\n") >= 2


async def test_help_lists_the_table_sort_where_s_is_not_a_sort(demo_db: Path) -> None:
    # view 6's s is open/all, so its table's S sort works and help says so; ML runs sorts by its own s
    for mode, listed in (("anomalies", True), ("mlruns", False)):
        app = CostdeckApp(demo_db, start_mode=mode)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            keys = str(app.screen.query_one(".help-keys", Static).render())
            assert ("table: sort by the next column" in keys) is listed, (mode, keys)


async def test_the_filter_box_closes_on_enter_and_the_filter_stays_shown(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="spend")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"Amazon")
        await pilot.press("enter")
        await settle(pilot)
        box = app.screen.query_one("#filter", Input)
        assert not box.display and app.focused is app.screen.query_one("#spend-table", Table)
        crumbs = app.screen.query_one("#crumbs", Static)
        assert "filter: Amazon" in "".join(lines_of(crumbs))
        table = app.screen.query_one("#spend-table", Table)
        names = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert names and all("amazon" in n.lower() for n in names)


async def test_s_sorts_a_table_by_its_columns_and_the_view_still_opens_the_row_under_the_cursor(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="spend")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#spend-table", Table)
        table.focus()

        def column(i: int) -> list[Any]:
            return [sort_value(table.get_row_at(r)[i]) for r in range(table.row_count)]

        await pilot.press("S")  # first column, largest first (names: Z..A)
        await pilot.pause()
        assert column(0) == sorted(column(0), reverse=True)
        await pilot.press("S")  # the same, smallest first
        await pilot.pause()
        assert column(0) == sorted(column(0))
        assert "↑" in str(next(iter(table.ordered_columns)).label)
        shown = app.screen.selected_row()  # type: ignore[attr-defined]
        assert shown is not None and table.get_row_at(0)[0].plain.startswith((shown.label or shown.value)[:10])


def test_sort_values_read_amounts_counts_and_percentages() -> None:
    cells = [Text("$1,234.56"), Text("$2.5k"), Text("▼ -3.0%"), Text("▲ +12.5%"), "abc", Text("—"), "1,609"]
    assert sort_value(cells[0]) < sort_value(cells[1])
    assert sort_value(cells[2]) < sort_value(cells[3])
    assert sort_value(cells[6]) == (0, 1609.0, "") and sort_value("abc")[0] == 1 and sort_value(cells[5])[0] == 2


# -- entries in full ------------------------------------------------------------------------------
async def test_enter_on_an_audit_entry_and_a_sync_run_shows_them_in_full(demo_db: Path) -> None:
    with sqlite3.connect(demo_db) as conn:
        errors = [r[0] for r in conn.execute("SELECT error FROM actions WHERE error IS NOT NULL ORDER BY at DESC")]
    assert errors and len(errors[0]) > 20  # the demo's failed action: cut in the table
    app = CostdeckApp(demo_db, start_mode="activity")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        audit = app.screen.query_one("#audit", Table)
        assert not any(errors[0] in line for line in lines_of(audit))
        audit.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        body = app.screen.body
        assert isinstance(body, Text) and errors[0] in body.plain.replace("\n", "")
        await pilot.press("escape")
        runs = app.screen.query_one("#runs", Table)
        runs.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen) and "Sync run of" in app.screen.title_text
        assert "API calls:" in app.screen.body.plain  # type: ignore[union-attr]


LONG_WHY = ("stopped, but its 3 attached volumes still cost $41.20 a month: a cleanup would only stop billing "
            "for the instance hours it no longer uses; snapshot and delete the volumes yourself, or start it "
            "again if it is still needed (the end of this sentence must be readable)")


def _plan_with_long_reason() -> Plan:
    return Plan(steps=[], excluded=[Excluded(rule="stopped_instance", provider_name="AWS", resource_id="i-0abc",
                                             resource_name="reporting-vm", reason=LONG_WHY, kind="not-actionable")],
                demo=True)


def test_the_exported_script_holds_every_why_not_in_full() -> None:
    plan = _plan_with_long_reason()
    plan.steps = [PlanStep(action="delete_volume", provider_name="AWS", resource_id="vol-0abc", sub_account_id="1",
                           region_id="us-east-1", monthly_saving=to_nanos(5))]
    text = export_script(plan, "aws")
    block = text[text.index("# Not included:"):]
    comment = " ".join(line.lstrip("#").strip() for line in block.splitlines()[1:6] if line.startswith("#"))
    assert "(the end of this sentence must be readable)" in comment and "…" not in comment
    assert all(len(line) <= 110 for line in block.splitlines()[:6])


async def test_the_cleanup_screen_shows_every_why_not_in_full(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="activity")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(CleanupScreen(_plan_with_long_reason()))
        await settle(pilot)
        table = app.screen.query_one("#plan-excluded", Table)
        shown = " ".join(" ".join(line.split()) for line in lines_of(table))
        assert "(the end of this sentence must be readable)" in shown
        assert "…" not in shown


async def test_at_200_columns_a_wide_name_column_gives_way_to_cut_ones(demo_db: Path) -> None:
    app = CostdeckApp(demo_db, start_mode="recommendations")
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#rec-table", Table)
        text = "\n".join(lines_of(table))
        accounts = [table.get_row_at(i)[3].plain for i in range(20)]
        assert max(len(a) for a in accounts) > 16  # an Azure subscription id: cut at 16 before
        assert all(a in text for a in accounts)  # every account shown whole
        cols = {c.key.value: c.width for c in table.columns.values()}
        assert cols["resource"] < 100


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Table(id="t", drop_order=("kind",))


async def test_a_narrow_table_hides_low_value_columns_first_says_so_and_gives_them_back() -> None:
    app = _TableApp()
    async with app.run_test(size=(44, 10)) as pilot:
        table = app.query_one(Table)
        table.add_column("Name", key="name", width=20)
        table.add_column("Kind", key="kind", width=8)
        table.add_column("Note", key="note", width=8)
        table.add_column(Text("Cost", justify="right"), key="cost", width=10)
        for i in range(3):
            table.add_row(f"resource-{i}", "vm", f"note {i}", money_text(to_nanos(str(1234.5 * (i + 1)))), key=f"r{i}")
        await pilot.pause()
        await pilot.pause()
        shown = [c.key.value for c in table.ordered_columns]
        assert shown == ["name", "note", "cost"]  # Kind first (the view's order), then what still does not fit
        text = "\n".join(lines_of(table))
        assert "$3,703.50" in text and "resource-2" in text  # the name and the money on screen, whole
        assert "Cost ›" in text and "Kind" in str(table.tooltip)  # never silent
        table.add_row("resource-9", "gpu", "late", money_text(to_nanos("9")), key="r9")  # a row of every column
        table.update_cell("r0", "kind", "disk")  # a hidden cell still updates
        await pilot.resize_terminal(90, 10)
        await pilot.pause()
        await pilot.pause()
        assert [c.key.value for c in table.ordered_columns] == ["name", "kind", "note", "cost"]
        assert [str(table.get_row(k)[1]) for k in ("r0", "r1", "r9")] == ["disk", "vm", "gpu"]
        assert table.ordered_columns[0].width == 20 and table.tooltip is None  # (the room is back)
        assert "›" not in "\n".join(lines_of(table))


async def test_at_64x20_every_table_keeps_its_name_and_its_money_on_screen(demo_db: Path) -> None:
    views = {"overview": ("#top-services", "#top-accounts"), "spend": ("#spend-table",),
             "recommendations": ("#rec-table",), "commitments": ("#cm-table", "#cm-purchase"),
             "mlruns": ("#ml-runs", "#ml-board"), "activity": ("#sources", "#runs", "#audit")}
    app = CostdeckApp(demo_db)
    hidden_somewhere = False
    async with app.run_test(size=(64, 20)) as pilot:
        for mode, tables in views.items():
            app.switch_mode(mode)
            await settle(pilot)
            await pilot.pause()
            for selector in tables:
                table = app.screen.query_one(selector, Table)
                assert table.row_count, selector
                assert table._columns_width() <= table._room(), selector  # no sideways scroll
                text = "\n".join(lines_of(table))
                for column, cell in zip(table.ordered_columns, table.get_row_at(0), strict=True):
                    if column.key in table._money_columns:  # every amount shown whole
                        amount = (cell if isinstance(cell, Text) else Text.from_markup(str(cell))).plain.strip()
                        assert amount in text, (selector, amount)
                if mode != "activity":  # (its only money is a request count's price, which may go first)
                    assert any(c.key in table._money_columns for c in table.ordered_columns), selector
                if table._hidden:  # a hint that columns are hidden, on screen and in the tooltip
                    hidden_somewhere = True
                    assert "›" in text.splitlines()[0] and table.tooltip, selector
    assert hidden_somewhere


# -- CSV ------------------------------------------------------------------------------------------
def test_one_exact_csv_number_format() -> None:
    assert csv_value(to_nanos("1234.5"), money=True) == "1234.50"
    assert csv_value(to_nanos("0.000125"), money=True) == "0.000125"
    assert csv_value(1e-05) == "0.00001" and csv_value(12.9) == "12.9" and csv_value(0.1 + 0.2) == "0.3"
    assert csv_value(Decimal("1E+3")) == "1000" and csv_value(3) == "3" and csv_value(True) == "true"
    assert csv_value(None) == "" and csv_value(float("nan")) == "" and csv_value("=1+1") == "'=1+1"
    out = io.StringIO()
    assert write_csv(out, ["a", "cost"], [{"a": "x", "cost": to_nanos("2.5")}], money_fields=["cost"]) == 1
    assert out.getvalue() == "a,cost\nx,2.50\n"


def test_report_csv_money_is_exact_decimal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "c.db"
    with Store(db) as s:
        sid = s.ensure_source("a", "test")
        s.replace_costs(sid, [CostRow(day=date(2026, 5, 3), provider_name="AWS", service_name="S3",
                                      billed_cost=to_nanos("0.000125")),
                              CostRow(day=date(2026, 5, 3), provider_name="AWS", service_name="EC2",
                                      billed_cost=to_nanos("1234.1"))])
    assert main(["report", "spend", "--db", str(db), "--by", "service_name", "--format", "csv"]) == 0
    rows = {r["service_name"]: r["cost"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows == {"S3": "0.000125", "EC2": "1234.10"}
    assert decimal_str(to_nanos("1234.1")) == "1234.10"


def test_the_spend_export_writes_the_same_format(tmp_path: Path) -> None:
    from analysis.spend import SpendRow
    from tui.screens.spend import export_rows

    row = SpendRow(value="S3", label="S3", extra=None, cost=to_nanos("0.1"), currency="USD", previous=to_nanos("0.1"),
                   share=0.000001, series=[])
    path = tmp_path / "out.csv"
    assert export_rows(path, "service_name", [row], None) == 1  # type: ignore[arg-type]
    (rec,) = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rec["cost"] == "0.10" and rec["previous_cost"] == "0.10"
    assert rec["share_pct"] == "0.0001" and rec["change_pct"] == "0"
    assert "e-" not in path.read_text(encoding="utf-8")


# -- 80x24 snapshots ------------------------------------------------------------------------------
# Every view at 80x24 on the demo (as-of date and clock pinned), reviewed by eye: no cut money, no
# cut distinguishing names, badges and snapshot age in the header. (ML runs' run detail: issue 15.)
# Update after an intended visual change: pytest tests/test_dashboard_alive.py --snapshot-update
def _keys(*presses: str) -> Callable[[Any], Awaitable[None]]:
    async def go(pilot: Any) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()  # a chart redrawn at its final size (a modal's layout settles after its mount)

    return go


@pytest.mark.parametrize(("name", "mode", "presses"), [  # (opened on the view: one load, not two)
    ("overview", "overview", ()),
    ("spend", "spend", ()),
    ("recommendations_detail", "recommendations", ("j",)),  # the detail pane of the second finding
    ("commitments_detail", "commitments", ("j", "enter")),  # the daily series of the expiring RI
    ("mlruns", "mlruns", ()),
    ("activity", "activity", ()),
    ("cleanup_confirm", "recommendations", ("space", "j", "space", "c")),  # two marked findings, the plan to confirm
], ids=[f"{name}-presses{i}" for i, name in enumerate(("overview", "spend", "recommendations_detail",
                                                       "commitments_detail", "mlruns", "activity", "cleanup_confirm"))])
def test_view_at_80x24(snap_compare: Any, demo_db: Path, name: str, mode: str, presses: tuple[str, ...]) -> None:
    assert snap_compare(CostdeckApp(demo_db, start_mode=mode), terminal_size=(80, 24), run_before=_keys(*presses))
