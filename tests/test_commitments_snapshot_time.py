"""Commitments judged at the snapshot's time, the period ending on the last day with data, utilization
rounded once, and the table's Ends/Left columns at 80 and 120 columns.

The demo as of 2026-06-30 (snapshot 2026-06-30 06:00 UTC) is opened with the clock in November: the
m5 RI ending 2026-07-21 15:00 is 21 days from the snapshot (not -122 from the wall clock).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from analysis import commitments as cm
from analysis import purchase
from analysis.clock import reference_time
from cache import Store, timeutil
from cache.money import to_nanos
from tests.helpers import build_demo, settle
from tui.app import CostdeckApp
from tui.cli import main
from tui.screens.commitments import CommitmentsScreen

AS_OF = date(2026, 6, 30)
NOVEMBER = "2026-11-20T12:00:00+00:00"
M5 = "m5.2xlarge x8 us-east-1 (1yr No Upfront)"


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("cm-snap") / "demo.db", recommendations=False)


@pytest.fixture
def november(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)




def cells(table: DataTable, key: str) -> list[str]:  # type: ignore[type-arg]
    idx = [c.key.value for c in table.columns.values()].index(key)
    return [str(table.get_row_at(i)[idx]) for i in range(table.row_count)]


def test_reference_time_is_the_snapshot_not_the_wall_clock(demo_master: Path, november: None) -> None:
    with Store(demo_master) as store:
        ref = reference_time(store.conn)
        assert timeutil.iso(ref) == "2026-06-30T06:00:00+00:00"
        anchor = cm.data_anchor(store.conn)
        assert anchor == AS_OF
        rep = cm.build_report(store.conn, *cm.period_range("30d", anchor))
        m5 = next(c for c in rep.commitments if c.name == M5)
        assert m5.days_to_expiry == 21 and m5.expiry_flag == 30
        assert [(e.name, e.days_to_expiry) for e in cm.expiring(store.conn)][0] == (M5, 21)
        # purchase recommendations are dated at the snapshot's time too
        recs = purchase.purchase_recommendations(store.conn)
        assert recs and all(r.first_seen == ref for r in recs)


def test_a_snapshot_in_the_future_is_judged_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "c.db"
    with Store(db) as store:
        store.set_meta("snapshot_time", "2030-01-01T00:00:00+00:00")
        store.conn.commit()
        monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)
        assert timeutil.iso(reference_time(store.conn)) == NOVEMBER


def test_report_and_view_count_days_from_the_snapshot(demo_master: Path, november: None,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "commitments", "--db", str(demo_master), "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[M5]["days_to_expiry"] == 21


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_view_and_overview_at_snapshot_time(demo_master: Path, november: None, size: tuple[int, int],
                                                  tmp_path: Path) -> None:
    app = CostdeckApp(demo_master, read_only=True)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        line = str(app.screen.query_one("#expiring", Static).render())
        assert "next in 21d: m5.2xlarge x8" in line
        assert ("1 within 30 days" if size[0] >= 110 else "1 ≤30d,") in line  # whole at 80 columns too
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CommitmentsScreen)
        table = screen.query_one("#cm-table", DataTable)
        names = cells(table, "name")
        i = next(n for n, x in enumerate(names) if x.startswith("m5.2xl"))
        # the end date whole (YYYY-MM-DD) and the days in their own column, coloured by the 30/60/90 flag
        assert cells(table, "ends")[i] == "2026-07-21"
        assert cells(table, "left")[i] == "21d"
        idx = [c.key.value for c in table.columns.values()].index("left")
        assert str(table.get_row_at(i)[idx].style) == "bold red"
        assert "2028-01-11" in cells(table, "ends") and "560d" in cells(table, "left")
        controls = str(screen.query_one("#cm-controls", Static).render())
        assert "2026-06-01 → 2026-06-30" in controls
        app.save_screenshot(str(tmp_path / f"cm-{size[0]}.svg"))


def test_focus_sample_window_ends_on_the_last_day_with_data(
    tmp_path: Path, focus_sample: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)
    db = tmp_path / "f.db"
    assert main(["import", str(focus_sample), "--db", str(db)]) == 0
    capsys.readouterr()
    with Store(db) as store:
        assert cm.data_anchor(store.conn) == date(2024, 9, 30)  # its last commitment row is 2024-09-26
    assert main(["report", "commitments", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Commitments, 2024-09-01 to 2024-10-01 (exclusive)" in out


async def test_focus_sample_view_period(tmp_path: Path, focus_sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)
    db = tmp_path / "f.db"
    assert main(["import", str(focus_sample), "--db", str(db)]) == 0
    app = CostdeckApp(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        controls = str(app.screen.query_one("#cm-controls", Static).render())
        assert "2024-09-01 → 2024-09-30" in controls


# -- utilization rounded once ----------------------------------------------------------------------

SP = "arn:aws:savingsplans::111:savingsplan/sp-round"


def build_round(path: Path) -> Path:
    """One Savings Plan, one day: committed $12,312, used $12,294.05 -> 99.854 % (99.9 %, never 99.8 %)."""
    with Store(path) as store:
        with store.transaction():
            store.upsert("commitments", [
                {"provider_name": "AWS", "commitment_id": SP, "commitment_type": "Savings Plan", "name": "sp round",
                 "scope": "Shared", "hourly_commitment_nanos": to_nanos("513"), "upfront_nanos": 0,
                 "payment_option": "No Upfront", "term_months": 12, "start_at": "2026-01-01T00:00:00+00:00",
                 "end_at": "2027-01-01T00:00:00+00:00", "state": "active", "properties": {}},
            ], pk=("provider_name", "commitment_id"))
            store.conn.execute(
                "INSERT INTO commitment_usage(provider_name, commitment_id, day, committed_nanos, used_nanos, "
                "unused_nanos, on_demand_equivalent_nanos, coverage_pct) VALUES (?,?,?,?,?,?,?,?)",
                ("AWS", SP, "2026-03-02", to_nanos("12312"), to_nanos("12294.05"), to_nanos("17.95"),
                 to_nanos("15000"), None))
        store.set_meta("snapshot_time", "2026-03-03T12:00:00+00:00")
    return path


def test_utilization_rounded_once_in_report_and_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COSTDECK_NOW", "2026-03-03T12:00:00+00:00")
    db = build_round(tmp_path / "r.db")
    assert main(["report", "commitments", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "sp round" in line)
    assert "99.9%" in row and "99.8%" not in row
    assert "utilization 99.9%" in out


async def test_utilization_rounded_once_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", "2026-03-03T12:00:00+00:00")
    db = build_round(tmp_path / "r.db")
    app = CostdeckApp(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert cells(app.screen.query_one("#cm-table", DataTable), "util") == ["99.9%"]


def test_period_range_is_inclusive_of_the_anchor() -> None:
    since, until = cm.period_range("30d", date(2024, 9, 30))
    assert (since, until - timedelta(days=1)) == (date(2024, 9, 1), date(2024, 9, 30))
