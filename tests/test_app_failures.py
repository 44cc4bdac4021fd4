"""No silent failure in the app: a worker's failure reaches the user (one notification, the view out
of its loading state) and a write waits for the cache's write lock, shown while it waits.

Fault injection with Pilot: another connection holds the write lock (BEGIN IMMEDIATE on the same
file) while the Recommendations view dismisses a row, released within the wait (the write lands) or
kept past a short COSTDECK_LOCK_TIMEOUT (the user is told, the cache and the view unchanged); the
Overview's data load raising (the cards leave "…", a later reload fills them); a failing sync.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from cache import LOCK_TIMEOUT_ENV, Store
from providers.config import load_config
from tests.helpers import build_demo, demo_copy, settle
from tui.app import CostdeckApp
from tui.screens.overview import OverviewScreen
from tui.screens.recommendations import RecommendationsScreen


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("failures") / "demo.db")


@pytest.fixture
def demo_db(demo_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return demo_copy(demo_master, tmp_path, monkeypatch)


@pytest.fixture
def other_writer(demo_db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection to the cache, as another costdeck process would hold it."""
    conn = sqlite3.connect(demo_db, isolation_level=None, check_same_thread=False)
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def notes(app: CostdeckApp, severity: str | None = None) -> list[str]:
    return [str(n.message) for n in app._notifications if severity is None or n.severity == severity]


def stored_status(path: Path, rec_id: int) -> str:
    with Store(path) as s:
        return str(s.conn.execute("SELECT status FROM recommendations WHERE id=?", (rec_id,)).fetchone()[0])


def card_value(screen: OverviewScreen, card: str) -> str:
    return str(screen.query_one(card).query_one(".card-value", Static).render())


async def open_recs(pilot) -> RecommendationsScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RecommendationsScreen)
    return screen


async def dismiss_highlighted(pilot, reason: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("d")
    await pilot.pause()
    await pilot.press(*reason)
    await pilot.press("enter")


async def test_dismiss_waits_for_the_lock_and_lands(demo_db: Path, other_writer: sqlite3.Connection,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "30")
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_recs(pilot)
        rec = screen.highlighted()
        assert rec is not None and rec.id is not None and rec.status == "open"
        other_writer.execute("BEGIN IMMEDIATE")  # another process writes
        await dismiss_highlighted(pilot, "kept for DR")
        for _ in range(100):  # the write waits, and the app says so
            await pilot.pause(0.05)
            if app.lock_waiters:
                break
        assert app.lock_waiters
        assert any(n.startswith("Waiting for the cache lock held by another costdeck process…")
                   for n in notes(app, "warning"))
        assert "WAITING FOR THE CACHE LOCK" in str(screen.query_one("TopBar", Static).render())
        assert stored_status(demo_db, rec.id) == "open"
        other_writer.execute("ROLLBACK")  # the other process is done: the dismiss lands
        await settle(pilot)
        assert stored_status(demo_db, rec.id) == "dismissed"
        assert "1 recommendation dismissed" in notes(app)
        assert any(n.startswith("Got the cache lock") for n in notes(app))
        assert not app.lock_waiters
        assert "WAITING" not in str(screen.query_one("TopBar", Static).render())
        assert not notes(app, "error")
        # The view shows what the cache holds: the row left the open list, and is dismissed under "a".
        assert rec.id not in {r.id for r in screen.shown}
        assert next(r for r in screen.recs if r.id == rec.id).status == "dismissed"


async def test_dismiss_that_gives_up_is_reported(demo_db: Path, other_writer: sqlite3.Connection,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.5")
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_recs(pilot)
        rec = screen.highlighted()
        assert rec is not None and rec.id is not None
        table = screen.query_one("#rec-table", DataTable)
        other_writer.execute("BEGIN IMMEDIATE")
        await dismiss_highlighted(pilot, "kept for DR")
        await settle(pilot)  # gives up after 0.5 s
        errors = notes(app, "error")
        assert len(errors) == 1, errors
        assert errors[0].startswith(f"Dismissing 1 recommendation failed: {demo_db}: gave up after ")
        assert "waiting for another process's write" in errors[0]
        assert not app.lock_waiters
        other_writer.execute("ROLLBACK")
        # Nothing changed, in the cache or on screen: the row is still open and listed.
        assert stored_status(demo_db, rec.id) == "open"
        assert next(r for r in screen.recs if r.id == rec.id).status == "open"
        assert rec.id in {r.id for r in screen.shown}
        assert "1 recommendation dismissed" not in notes(app)
        assert table.row_count == len(screen.shown)
        # The user tries again once the other writer is done: it lands.
        await dismiss_highlighted(pilot, "kept for DR")
        await settle(pilot)
        assert stored_status(demo_db, rec.id) == "dismissed"
        assert "1 recommendation dismissed" in notes(app)


async def test_overview_read_error_is_shown_and_a_reload_recovers(demo_db: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.screens.overview as overview

    real = overview.build_overview

    def broken(*args: object, **kw: object) -> object:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(overview, "build_overview", broken)
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        assert notes(app, "error") == ["Loading the overview failed: OperationalError: disk I/O error"]
        for card in ("#card-mtd", "#card-last", "#card-forecast"):
            assert card_value(screen, card) == "—"
        assert "Could not read the cache" in str(screen.query_one("#no-data", Static).render())
        assert "$" in card_value(screen, "#card-recs")  # the other loads are unaffected
        assert app.tracebacks == []  # kept only with --debug
        monkeypatch.setattr(overview, "build_overview", real)
        await pilot.press("r")  # no source configured: r reloads the cache
        await settle(pilot)
        value = card_value(screen, "#card-mtd")
        assert value.startswith("$") and value != "…"
        assert not screen.query_one("#no-data", Static).display
        assert len(notes(app, "error")) == 1


async def test_debug_keeps_the_traceback(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.screens.overview as overview

    def broken(*args: object, **kw: object) -> object:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(overview, "build_overview", broken)
    app = CostdeckApp(demo_db, debug=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
    assert len(app.tracebacks) == 1
    assert "Traceback (most recent call last)" in app.tracebacks[0]
    assert "in broken" in app.tracebacks[0] and "disk I/O error" in app.tracebacks[0]


async def test_a_failing_sync_is_reported_and_ends(demo_db: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('[sources.prod]\nkind = "aws"\nregions = ["us-east-1"]\n', encoding="utf-8")
    app = CostdeckApp(demo_db, config=load_config(config_file))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.start_sync(["no-such-source"])
        assert app.syncing
        await settle(pilot)
        assert not app.syncing
        errors = notes(app, "error")
        assert len(errors) == 1 and errors[0].startswith("Sync failed: ") and "no-such-source" in errors[0]


def test_every_worker_reports_through_the_app() -> None:
    """Every worker in tui/ is declared with exit_on_error=False (the app's one handler reports it)
    and a description (the notification's subject), runs on a screen that relays its state changes
    to the app (or on the app), and hands results back as messages, never by call_from_thread."""
    import ast
    import inspect

    import tui

    root = Path(tui.__file__).parent
    found = 0
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "call_from_thread" not in source, path
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for cls in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)):
            calls = [d for f in cls.body if isinstance(f, ast.FunctionDef) for d in f.decorator_list
                     if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "work"]
            calls += [c for c in ast.walk(cls) if isinstance(c, ast.Call)
                      and getattr(c.func, "attr", None) == "run_worker"]
            if not calls:
                continue
            for call in calls:
                found += 1
                kw = {k.arg: k.value for k in call.keywords}
                assert isinstance(kw.get("exit_on_error"), ast.Constant) and not kw["exit_on_error"].value, \
                    (path, cls.name)
                assert "description" in kw, (path, cls.name)
            owner = getattr(__import__(module, fromlist=[cls.name]), cls.name)
            assert inspect.isclass(owner), (path, cls.name)
            relays = "relay_worker_state(self, event)" in inspect.getsource(owner.on_worker_state_changed) \
                if hasattr(owner, "on_worker_state_changed") else False
            assert relays or issubclass(owner, CostdeckApp), (path, cls.name)
    assert found >= 15


async def test_a_failing_cleanup_run_is_reported_once(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.screens.cleanup as cleanup_screen
    from analysis.cleanup import build_plan
    from analysis.recommendations import load

    def broken(*args: object, **kw: object) -> object:
        raise RuntimeError("the executor fell over")

    monkeypatch.setattr(cleanup_screen, "execute_plan", broken)
    app = CostdeckApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plan = app.read(lambda c: build_plan(c, load(c), app.config, read_only=False, demo=True))
        assert plan.steps and cleanup_screen.open_cleanup(app, plan)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, cleanup_screen.CleanupScreen)
        await pilot.press("enter")  # dry run
        await settle(pilot)
        assert notes(app, "error") == ["Cleanup failed: RuntimeError: the executor fell over"]
        assert screen.state == "ready"  # out of "running": the keys work again
        assert "cleanup failed: RuntimeError: the executor fell over" in str(
            screen.query_one("#cleanup-error", Static).render())
