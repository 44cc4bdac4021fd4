"""Pilot tests of the cleanup confirm screen on the demo: what it lists, what each key does.

The demo executor simulates against the demo inventory in the cache, so every effect is
visible in the `resources`, `recommendations` and `actions` tables and in the Activity view.
"""

from __future__ import annotations

import shutil
import stat
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from analysis.cleanup import Plan, build_plan, export_script
from analysis.recommendations.model import load
from cache import Store
from providers import demo
from tests.helpers import settle
from tui.app import CostdeckApp
from tui.dialogs import PromptScreen
from tui.screens.activity import ActivityScreen
from tui.screens.cleanup import CleanupScreen, open_cleanup
from tui.widgets import Table

NOW = "2026-06-30T09:30:00+00:00"
NANOS = 1_000_000_000


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cleanup-demo") / "demo.db"
    mp = pytest.MonkeyPatch()
    mp.setenv("COSTDECK_NOW", NOW)
    try:
        with Store(path) as store:
            demo.generate(store, as_of=date(2026, 6, 30), seed=7)
            store.conn.execute("DELETE FROM recommendations")
    finally:
        mp.undo()
    return path


@pytest.fixture
def db(demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    path = tmp_path / "demo.db"
    shutil.copy(demo_template, path)
    return path


def ids(db: Path, sql: str) -> list[str]:
    with Store(db) as s:
        return [r[0] for r in s.conn.execute(sql)]


def recommend(db: Path, rule: str, rid: str, saving_usd: float) -> None:
    with Store(db) as s:
        r = s.conn.execute("SELECT provider_name, resource_name, resource_type, sub_account_id, region_id "
                           "FROM resources WHERE resource_id=?", (rid,)).fetchone()
        s.conn.execute(
            "INSERT INTO recommendations(rule, provider_name, resource_id, resource_name, resource_type, "
            "sub_account_id, region_id, monthly_saving_nanos, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (rule, r[0], rid, r[1], r[2], r[3], r[4], int(saving_usd * NANOS), NOW, NOW))


def counts(db: Path) -> dict[str, Any]:
    with Store(db) as s:
        c = s.conn
        return {
            "resources": c.execute("SELECT count(*) FROM resources").fetchone()[0],
            "executed": c.execute("SELECT count(*) FROM actions WHERE dry_run=0").fetchone()[0],
            "actions": c.execute("SELECT count(*) FROM actions").fetchone()[0],
            "applied": c.execute("SELECT count(*) FROM recommendations WHERE status='applied'").fetchone()[0],
        }


@pytest.fixture
def marked(db: Path) -> dict[str, Any]:
    """Three AWS waste items and one disk of a provider no kind cleans up, as if marked in the
    Recommendations view."""
    vols = ids(db, "SELECT resource_id FROM resources WHERE provider_name='AWS' AND resource_type='volume' "
                   "AND state='available' ORDER BY resource_id LIMIT 2")
    eip = ids(db, "SELECT resource_id FROM resources WHERE provider_name='AWS' AND resource_type='elastic_ip' "
                  "AND state='unassociated' ORDER BY resource_id LIMIT 1")[0]
    other = "ocid1.volume.oc1.eu-frankfurt-1.abcdefghijklmnopqrstuvwxyz"
    with Store(db) as s:
        s.conn.execute("INSERT INTO resources(source_id, provider_name, resource_id, resource_name, resource_type, "
                       "state, first_seen, last_seen) SELECT min(id), 'Oracle Cloud', ?, 'vol-oci', 'volume', "
                       "'AVAILABLE', ?, ? FROM sources", (other, NOW, NOW))
    recommend(db, "unattached_volume", vols[0], 40)
    recommend(db, "unattached_volume", vols[1], 30)
    recommend(db, "unused_ip", eip, 3.65)
    recommend(db, "unattached_volume", other, 20)
    return {"planned": [vols[0], vols[1], eip], "other": other}


def make_plan(app: CostdeckApp, **kw: Any) -> Plan:
    return app.read(lambda c: build_plan(c, load(c), app.config, read_only=app.read_only, demo=True, **kw))




def column(table: DataTable, key: str) -> list[str]:  # type: ignore[type-arg]
    return [str(table.get_cell(row.key, key)) for row in table.ordered_rows]


def text(widget: Static) -> str:
    return str(widget.render())


async def test_lists_exactly_the_marked_resources_and_cancel_runs_nothing(db: Path, marked: dict[str, Any]) -> None:
    before = counts(db)
    app = CostdeckApp(db)
    dismissed: list[Any] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = make_plan(app)
        assert open_cleanup(app, plan, dismissed.append)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CleanupScreen)
        steps = screen.query_one("#plan-steps", DataTable)
        assert column(steps, "id") == marked["planned"]
        assert column(steps, "action") == ["delete volume", "delete volume", "release IP"]
        assert column(steps, "saving") == ["$40.00", "$30.00", "$3.65"]
        assert column(steps, "undo") == ["no", "no", "no"]
        excluded = screen.query_one("#plan-excluded", DataTable)
        assert column(excluded, "id")[0].startswith(marked["other"][:20])
        [why] = column(excluded, "why")
        assert why.startswith("not supported yet: cleanup actions run on AWS") and why.endswith(" only, not Oracle Cloud")
        title = text(screen.query_one("#cleanup-title", Static))
        assert "3 steps" in title and "$73.65/month" in title and "3 cannot be undone" in title
        notes = text(screen.query_one("#cleanup-notes", Static))
        assert "DEMO" in notes and "simulated" in notes and "DRY RUN" in notes
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CleanupScreen)
    assert dismissed == [None]
    assert counts(db) == before


async def test_dry_run_typed_confirmation_and_the_audit_log(db: Path, marked: dict[str, Any]) -> None:
    before = counts(db)
    app = CostdeckApp(db)
    dismissed: list[Any] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.push_screen(CleanupScreen(make_plan(app)), dismissed.append)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CleanupScreen)

        # 1. enter with dry run on (the default): re-check and log only
        await pilot.press("enter")
        await settle(pilot)
        results = screen.query_one("#plan-results", DataTable)
        assert column(results, "id") == marked["planned"]
        assert all(r.startswith("dry-run: would ") and r.endswith("simulated (demo)")
                   for r in column(results, "result"))
        after_dry = counts(db)
        assert after_dry == {**before, "actions": before["actions"] + 3}

        # 2. dry run off; enter asks for the typed phrase; a wrong phrase refuses
        await pilot.press("t")
        await settle(pilot)
        assert "DRY RUN OFF" in text(screen.query_one("#cleanup-notes", Static))
        await pilot.press("enter")
        await settle(pilot)
        field = screen.query_one("#confirm-input", Input)
        assert field.has_class("-shown") and field.has_focus
        assert "delete 3 resources" in text(screen.query_one("#cleanup-keys", Static))
        for wrong in ("y", "yes", "delete 2 resources"):
            field.value = wrong
            await pilot.press("enter")
            await settle(pilot)
            assert "that is not the phrase: nothing was run" in text(screen.query_one("#cleanup-error", Static))
            assert counts(db) == after_dry

        # 3. the exact phrase acts (simulated on the demo inventory)
        field.value = "delete 3 resources"
        await pilot.press("enter")
        await settle(pilot)
        assert column(results, "result") == [
            "ok: deleted — simulated (demo)", "ok: deleted — simulated (demo)", "ok: released — simulated (demo)"]
        now = counts(db)
        assert now["resources"] == before["resources"] - 3
        assert now["executed"] == before["executed"] + 3 and now["applied"] == 3
        assert ids(db, f"SELECT resource_id FROM resources WHERE resource_id IN "
                       f"({','.join(repr(x) for x in marked['planned'])})") == []
        await pilot.press("t")  # no going back to dry run after acting
        assert "DRY RUN OFF" in text(screen.query_one("#cleanup-notes", Static))
        await pilot.press("enter")  # closes
        await settle(pilot)
        assert not isinstance(app.screen, CleanupScreen)

        # 4. the Activity view's audit log shows every attempt
        await pilot.press("7")
        await settle(pilot)
        assert isinstance(app.screen, ActivityScreen)
        audit = app.screen.query_one("#audit", Table)
        rows = [[str(c) for c in audit.full_row_at(i)] for i in range(audit.row_count)]
        # columns: when, mode, result, action, resource, where
        mine = [r for r in rows if r[4] in marked["planned"]]
        assert sorted((r[4], r[1], r[2]) for r in mine) == sorted(
            [(rid, "executed", "ok") for rid in marked["planned"]] + [(rid, "dry run", "dry-run")
                                                                       for rid in marked["planned"]])
    [results_list] = dismissed
    assert [(r.step.resource_id, r.status, r.dry_run) for r in results_list] == \
        [(rid, "dry-run", True) for rid in marked["planned"]] + [(rid, "ok", False) for rid in marked["planned"]]


async def test_small_reversible_batch_needs_no_typed_phrase(db: Path) -> None:
    running = ids(db, "SELECT resource_id FROM resources WHERE provider_name='AWS' AND resource_type='instance' "
                      "AND state='running' AND (lifecycle IS NULL OR lifecycle <> 'spot') ORDER BY resource_id LIMIT 2")
    for rid in running:
        recommend(db, "idle_instance", rid, 25)
    app = CostdeckApp(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        plan = make_plan(app)
        assert [s.action for s in plan.steps] == ["stop_instance", "stop_instance"]
        assert not plan.needs_typed_confirmation
        app.push_screen(CleanupScreen(plan))
        await settle(pilot)
        screen = app.screen
        # 80 columns: saving and undo share a column
        assert column(screen.query_one("#plan-steps", DataTable), "saving") == ["$25.00\nundo: yes"] * 2
        assert "start it again" in text(screen.query_one("#undo-legend", Static))
        await pilot.press("t", "y")
        await settle(pilot)
        assert not screen.query_one("#confirm-input", Input).has_class("-shown")
        assert column(screen.query_one("#plan-results", DataTable), "result") == \
            ["ok: stop requested — simulated (demo)"] * 2
    states = ids(db, f"SELECT state FROM resources WHERE resource_id IN ({','.join(repr(x) for x in running)})")
    assert states == ["stopped", "stopped"]


async def test_read_only_refuses_to_open(db: Path, marked: dict[str, Any]) -> None:
    before = counts(db)
    app = CostdeckApp(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = make_plan(app)
        app.read_only = True
        assert open_cleanup(app, plan) is False
        await settle(pilot)
        assert not isinstance(app.screen, CleanupScreen)
        assert any("read-only mode: cleanup actions are disabled" in str(n.message) for n in app._notifications)
        # pushed anyway (e.g. by a stale key binding): it closes itself, nothing runs
        app.push_screen(CleanupScreen(plan))
        await settle(pilot)
        assert not isinstance(app.screen, CleanupScreen)
        await pilot.press("enter", "y")
        await settle(pilot)
    assert counts(db) == before


async def test_x_exports_the_plan_as_a_script(db: Path, marked: dict[str, Any], tmp_path: Path) -> None:
    before = counts(db)
    app = CostdeckApp(db)
    target = tmp_path / "plan.sh"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = make_plan(app)
        app.push_screen(CleanupScreen(plan))
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CleanupScreen)
        # a second export to the same path is refused: nothing is overwritten
        await pilot.press("x")
        await settle(pilot)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        assert "exists: choose another name" in text(app.screen.query_one("#error", Static))
        await pilot.press("escape")
        await settle(pilot)
    written = target.read_text(encoding="utf-8")
    body = written.splitlines()[2:]
    assert body == export_script(plan).splitlines()[2:]
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for rid in marked["planned"]:
        assert rid in written
    assert counts(db) == before  # exporting acts on nothing and logs nothing
