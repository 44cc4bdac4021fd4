"""Pilot tests of the ML runs view (5) and its run detail, plus a 120x40 snapshot on the demo."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from cache import Store
from cache.money import to_nanos
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs
from tests.helpers import build_demo, settle
from tui.app import CostdeckApp
from tui.screens.mlruns import MLRunsScreen, RunDetailScreen

AS_OF = date(2026, 6, 30)
NOW = "2026-06-30T09:30:00+00:00"
EVIL = "[bold red]boom[/] \x1b[31mred"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def small_db(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    with Store(db_path) as s:
        s.upsert("prices", [{"provider_name": "AWS", "region_id": "us-east-1", "sku": "m5.large",
                             "pricing_model": "on-demand", "price_nanos": to_nanos("0.50"), "source": "t",
                             "fetched_at": NOW}], pk=("provider_name", "region_id", "sku", "pricing_model"))
        m5 = ExecutorRecord("m5.large", 1, "AWS", "us-east-1")
        runs = [
            RunRecord(run_id="r1", task="cls", name="cls-a", status="completed", start_at=at("2026-06-01T10:00:00"),
                      end_at=at("2026-06-01T12:00:00"), executors=[m5], primary_metric="val_loss",
                      primary_value=0.30, metrics=[("val_loss", i, None, v) for i, v in enumerate((0.9, 0.5, 0.3))],
                      params={"lr": "0.01"}),
            RunRecord(run_id="r2", task="cls", name="cls-b", status="completed", start_at=at("2026-06-02T10:00:00"),
                      end_at=at("2026-06-02T18:00:00"), executors=[m5], primary_metric="val_loss", primary_value=0.20),
            RunRecord(run_id="r3", task="cls", name=EVIL, status="failed", start_at=at("2026-06-03T10:00:00"),
                      end_at=at("2026-06-03T11:00:00"), executors=[ExecutorRecord("zz.nope", 1, "AWS", "us-east-1")],
                      primary_metric="val_loss", primary_value=0.9),
            RunRecord(run_id="g1", task="gan", name="gan-1", status="running", start_at=at("2026-06-30T08:30:00"),
                      executors=[m5]),
        ]
        with s.transaction():
            sid = s.ensure_source("runs:test.jsonl", "runs")
            write_runs(s, sid, runs, in_transaction=True)
        s.set_meta("snapshot_time", NOW)
    return db_path




def col(table: DataTable, key: str) -> list[str]:  # type: ignore[type-arg]
    idx = [c.value for c in table.columns].index(key)
    return [str(table.get_row_at(i)[idx]) for i in range(table.row_count)]


async def test_runs_table_summary_sort_filter_task(small_db: Path) -> None:
    app = CostdeckApp(small_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, MLRunsScreen)
        table = screen.query_one("#ml-runs", DataTable)
        assert col(table, "task") == ["gan", "cls", "cls", "cls"]  # newest first
        costs = col(table, "cost")
        assert costs[0].strip() == "$0.50 P"  # running 08:30 -> now 09:30 at $0.50/h: cost so far
        assert costs[1].strip() == "unknown ?"  # no price for zz.nope: unknown, not $0
        assert costs[2].strip() == "$4.00 P" and costs[3].strip() == "$1.00 P"
        assert col(table, "executors")[1] == "zz.nope x1"
        assert col(table, "duration")[0] == "1h 00m…"
        # hostile names are literal, escaped
        assert col(table, "run")[1] == "[bold red]boom[/] \\x1b[31mred"
        tasks = screen.query_one("#ml-tasks", DataTable)
        assert [str(tasks.get_row_at(i)[0]) for i in range(tasks.row_count)] == ["cls", "gan"]
        assert "$5.00 +1 unknown" in str(tasks.get_row_at(0)[2])
        # move to a cls run: the summary and the leaderboard follow its task (lower val_loss is better)
        table.move_cursor(row=2)
        await pilot.pause()
        summary = str(screen.query_one("#ml-summary", Static).render())
        assert "cls" in summary and "3 runs" in summary and "val_loss 0.2" in summary and "lower is better" in summary
        board = screen.query_one("#ml-board", DataTable)
        assert col(board, "run") == ["cls-b", "cls-a", "[bold red]boom[/] \\x1b[31mred"]
        assert [c.strip() for c in col(board, "cost")] == ["$4.00 P", "$1.00 P", "unknown ?"]
        # s: sort by cost, highest first; unknown last
        await pilot.press("s")
        await pilot.pause()
        assert [c.strip() for c in col(table, "cost")] == ["$4.00 P", "$1.00 P", "$0.50 P", "unknown ?"]
        # / filters
        await pilot.press("slash")
        await pilot.press(*"gan")
        await pilot.pause()
        assert col(table, "run") == ["gan-1"]
        assert screen.query_one("#ml-filter", Input).has_focus
        await pilot.press("enter", "escape")
        await pilot.pause()
        assert table.row_count == 4
        # t: the task picker
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("down", "enter")  # "All tasks", then cls
        await settle(app, pilot)
        assert screen.task_filter == "cls" and table.row_count == 3
        assert "task" not in [c.value for c in table.columns]  # one task: no task column


async def test_run_detail_executors_params_history(small_db: Path) -> None:
    app = CostdeckApp(small_db, start_mode="mlruns")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#ml-runs", DataTable)
        table.move_cursor(row=3)  # cls-a
        await pilot.press("enter")
        await settle(app, pilot)
        detail = app.screen
        assert isinstance(detail, RunDetailScreen)
        head = str(detail.query_one("#run-head", Static).render())
        assert "cls-a" in head and "$1.00" in head and "price x duration" in head and "val_loss = 0.3" in head
        execs = detail.query_one("#run-execs", DataTable)
        row = [str(c) for c in execs.get_row_at(0)]
        assert row[0] == "m5.large x1" and row[3].strip() == "2.00" and row[5].strip() == "$1.00"
        assert row[6].startswith("price x duration")
        params = detail.query_one("#run-params", DataTable)
        assert [str(c) for c in params.get_row_at(0)] == ["lr", "0.01"]
        assert detail.metric_keys == ["val_loss"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MLRunsScreen)
        # the unknown run says why
        table.move_cursor(row=1)
        await pilot.press("enter")
        await settle(app, pilot)
        head = str(app.screen.query_one("#run-head", Static).render())
        assert "unknown" in head and "no on-demand price for zz.nope" in head


async def test_empty_cache_says_where_runs_come_from(db_path: Path) -> None:
    with Store(db_path):
        pass
    app = CostdeckApp(db_path, start_mode="mlruns")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        text = str(app.screen.query_one("#ml-empty", Static).render())
        assert "No ML runs" in text and "costdeck track" in text


# -- snapshot -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("mlsnap") / "demo.db", recommendations=False)


def test_mlruns_snapshot(snap_compare, demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COSTDECK_NOW", NOW)

    async def go(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)  # until no worker is left: the load's handlers refill the tables

    assert snap_compare(CostdeckApp(demo_db), terminal_size=(120, 40), run_before=go)
