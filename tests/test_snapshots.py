"""SVG snapshot tests of the main views at 120x40 on the demo (as-of date and clock pinned).

Update after an intended visual change with: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.helpers import build_demo
from tui.app import CostdeckApp

AS_OF = date(2026, 6, 30)
NOW = "2026-06-30T09:30:00+00:00"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("snap") / "demo.db")


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", NOW)


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_overview_snapshot(snap_compare, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(CostdeckApp(demo_db), terminal_size=(120, 40), run_before=_settle)


def test_spend_snapshot(snap_compare, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    async def go(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("2")
        await _settle(pilot)

    assert snap_compare(CostdeckApp(demo_db), terminal_size=(120, 40), run_before=go)


def test_spend_drilled_snapshot(snap_compare, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    async def go(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("2")
        await _settle(pilot)
        await pilot.press("enter")
        await _settle(pilot)

    assert snap_compare(CostdeckApp(demo_db), terminal_size=(120, 40), run_before=go)


def test_overview_read_only_small_snapshot(snap_compare, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(CostdeckApp(demo_db, read_only=True), terminal_size=(80, 24), run_before=_settle)


def test_kubernetes_snapshot(snap_compare, demo_db: Path) -> None:  # type: ignore[no-untyped-def]
    async def go(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("8")
        await _settle(pilot)
        await pilot.press("enter")  # the cluster's namespaces
        await _settle(pilot)

    assert snap_compare(CostdeckApp(demo_db), terminal_size=(120, 40), run_before=go)
