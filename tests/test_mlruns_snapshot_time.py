"""ML runs judged at the snapshot's time, and the empty states of `report ml-runs` and the view.

The demo as of 2026-06-30 (snapshot 06:00 UTC) opened with the clock in November: its running runs are
timed and costed up to 06:00 that day (not 3,600 h to November), the same on every call. A run that
`costdeck track` is recording on this machine is still costed up to now.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from textual.widgets import Static

from analysis import mlruns
from cache import Store, timeutil
from cache.money import to_nanos
from providers.runs_jsonl import ExecutorRecord, RunRecord, write_runs
from tests.helpers import build_demo
from tui.app import CostdeckApp
from tui.cli import main

AS_OF = date(2026, 6, 30)
NOVEMBER = "2026-11-20T12:00:00+00:00"
SNAP = datetime(2026, 6, 30, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("ml-snap") / "demo.db", recommendations=False)


def test_running_runs_end_at_the_snapshot(demo_master: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)
    with Store(demo_master) as store:
        runs = [r for r in mlruns.load_runs(store.conn) if r.running]
        assert len(runs) == 2
        for r in runs:
            assert r.duration_s == (SNAP - r.start).total_seconds()
            assert r.duration_s < 3 * 3600  # started the same morning
            assert all(e.end == SNAP for e in r.executors)
        first = {r.run_id: r.cost for r in runs}
        monkeypatch.setenv("COSTDECK_NOW", "2026-11-21T08:00:00+00:00")  # a day later: the same figures
        again = {r.run_id: r.cost for r in mlruns.load_runs(store.conn) if r.running}
        assert first == again and all(c is not None for c in first.values())
        detail = mlruns.run_detail(store.conn, runs[0].run_id)
        assert detail is not None and detail.run.duration_s == runs[0].duration_s


def test_report_times_running_runs_to_the_snapshot(demo_master: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)
    assert main(["report", "ml-runs", "--db", str(demo_master), "--format", "json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out) if r["status"] == "running"]
    assert len(rows) == 2
    for r in rows:
        start = timeutil.parse_instant(r["start"])
        assert r["duration_s"] == round((SNAP - start).total_seconds(), 3)


async def test_view_times_running_runs_to_the_snapshot(demo_master: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOVEMBER)
    app = CostdeckApp(demo_master, read_only=True, start_mode="mlruns")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        running = [r for r in app.screen.runs if r.running]  # type: ignore[attr-defined]
        assert running and all(r.duration_s < 3 * 3600 for r in running)


def test_a_tracked_run_is_costed_to_now(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", "2026-06-30T12:00:00+00:00")
    with Store(db_path) as s:
        s.upsert("prices", [{"provider_name": "AWS", "region_id": "us-east-1", "sku": "m5.large",
                             "pricing_model": "on-demand", "price_nanos": to_nanos("0.50"), "source": "t",
                             "fetched_at": "2026-06-30T00:00:00+00:00"}],
                 pk=("provider_name", "region_id", "sku", "pricing_model"))
        with s.transaction():
            sid = s.ensure_source("track", "track")
            write_runs(s, sid, [RunRecord(run_id="t1", task="local", name="live", status="running",
                                          start_at=datetime(2026, 6, 30, 10, 0, tzinfo=UTC),
                                          executors=[ExecutorRecord("m5.large", 1, "AWS", "us-east-1")])],
                       in_transaction=True)
        s.set_meta("snapshot_time", "2026-06-30T06:00:00+00:00")  # the last sync, before the run started
        s.conn.commit()
        (run,) = mlruns.load_runs(s.conn)
        assert run.duration_s == 2 * 3600 and run.cost == to_nanos("1.00")


# -- empty states ------------------------------------------------------------------------------------


@pytest.fixture
def no_runs(db_path: Path) -> Path:
    with Store(db_path):
        pass
    return db_path


def test_report_without_runs(no_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "ml-runs", "--db", str(no_runs)]) == 0
    assert capsys.readouterr().out == "no ML runs in this cache\n"
    assert main(["report", "ml-runs", "--db", str(no_runs), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["report", "ml-runs", "--db", str(no_runs), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out == ",".join(mlruns.RECORD_FIELDS) + "\n" and out.startswith("task,run_id,name,status,start,end")


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_view_without_runs_explains_how_runs_get_in(no_runs: Path, size: tuple[int, int]) -> None:
    app = CostdeckApp(no_runs, start_mode="mlruns")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        empty = screen.query_one("#ml-empty", Static)
        text = str(empty.render())
        assert "No ML runs in this cache" in text
        for how in ("SageMaker", "MLflow", "costdeck import runs.jsonl", "costdeck track"):
            assert how in text
        assert empty.display and empty.region.height > 0 and empty.region.y < size[1] - 2  # on screen
        for wid in ("#ml-runs", "#ml-tasks", "#ml-bottom"):
            assert not screen.query_one(wid).display
