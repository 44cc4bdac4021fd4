"""Activity view (7): background sync against moto on loopback, with the app usable meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from providers.config import load_config
from tests import moto_server
from tests.helpers import settle
from tests.test_sync_aws_costs import NOW, seed_first_sync
from tui.app import CostdeckApp
from tui.screens.activity import ActivityScreen
from tui.screens.overview import OverviewScreen

moto_url = moto_server.moto_url
aws_env = moto_server.aws_env
fast_retries = moto_server.fast_retries


@pytest.fixture
def aws(moto_url: str, aws_env: None, fast_retries: None, monkeypatch: pytest.MonkeyPatch) -> str:
    moto_server.reset_moto(moto_url)
    monkeypatch.setenv("COSTDECK_NOW", NOW)
    return moto_url


def config_file(tmp_path: Path, good: str, bad: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[sources.prod]
kind = "aws"
endpoint_url = "{good}"
regions = ["us-east-1"]
steps = ["costs"]

[sources.broken]
kind = "aws"
endpoint_url = "{bad}"
regions = ["us-east-1"]
steps = ["costs"]
max_attempts = 2
""",
        encoding="utf-8",
    )
    return path


def cells(table: DataTable, row: int) -> list[str]:  # type: ignore[type-arg]
    return [str(c) for c in table.get_row_at(row)]




async def test_sync_all_from_the_activity_view(aws: str, tmp_path: Path, db_path: Path) -> None:
    seed_first_sync(aws)
    proxy = moto_server.FaultProxy(aws)
    try:
        proxy.add_fault("GetCallerIdentity", times=-1, **moto_server.EXPIRED)
        config = load_config(config_file(tmp_path, aws, proxy.url))
        app = CostdeckApp(db_path, config=config, start_mode="activity")
        notes: list[str] = []
        app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, ActivityScreen)
            table = screen.query_one("#sources", DataTable)
            # Both configured sources are listed before their first sync.
            assert [cells(table, i)[0] for i in range(table.row_count)] == ["prod", "broken"]
            assert cells(table, 0)[4] == "never"
            await pilot.press("R")
            assert notes[0] == "Syncing all sources in the background…"
            # The app stays usable: another view opens while the sync runs.
            await pilot.press("2")
            await pilot.press("7")
            await settle(app, pilot)
            assert not app.syncing
            prod, broken = cells(table, 0), cells(table, 1)
            assert prod[4] == "ok" and int(prod[5].replace(",", "")) > 0
            assert "billed" in prod[6]
            assert broken[4] == "failed" and "expired" in broken[7].lower()
            assert any("Sync finished: 1/2 sources" in n and "broken: failed" in n for n in notes)
            # The failed source's error is in its sync history too.
            table.move_cursor(row=1)
            await settle(app, pilot)
            runs = screen.query_one("#runs", DataTable)
            assert runs.row_count == 1 and cells(runs, 0)[1] == "failed"
            # The Overview now has data and the header a snapshot time.
            await pilot.press("1")
            await settle(app, pilot)
            assert isinstance(app.screen, OverviewScreen)
            assert app.screen.data is not None and app.screen.data.has_data
            assert "snapshot 2025-03-15" in str(app.screen.query_one("TopBar", Static).render())
    finally:
        proxy.close()


async def test_sync_selected_and_unsyncable_sources(aws: str, tmp_path: Path, db_path: Path) -> None:
    seed_first_sync(aws)
    config = load_config(config_file(tmp_path, aws, "http://127.0.0.1:9"))
    app = CostdeckApp(db_path, config=config, start_mode="activity")
    notes: list[str] = []
    app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#sources", DataTable)
        table.move_cursor(row=0)
        await pilot.press("r")
        await settle(app, pilot)
        assert cells(table, 0)[4] == "ok"
        assert cells(table, 1)[4] == "never"  # only the selected source ran
        assert any("Sync finished: 1/1 sources" in n for n in notes)
    # A cache-only source (an imported file) cannot be synced: the view says how to refresh it.
    from cache import Store

    with Store(db_path) as s:
        s.ensure_source("file:export.csv", "focus")
    app = CostdeckApp(db_path, config=load_config(None), start_mode="activity")
    notes.clear()
    app.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#sources", DataTable)
        names = [cells(table, i)[0] for i in range(table.row_count)]
        table.move_cursor(row=names.index("file:export.csv"))
        await pilot.press("r")
        await settle(app, pilot)
        assert any("costdeck import FILE" in n for n in notes)
        assert not app.syncing
