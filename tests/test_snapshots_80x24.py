"""SVG snapshots of every view at 80x24 on the demo (as-of date and clock pinned), reviewed by eye:
no cut money, no cut distinguishing names, badges and snapshot age in the header. (ML runs' run
detail at 80x24 is issue 15's snapshot.)

Update after an intended visual change with: pytest tests/test_snapshots_80x24.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DEMO_NOW, build_demo, settle
from tui.app import CostdeckApp

SIZE = (80, 24)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("snap80") / "demo.db")


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSTDECK_NOW", DEMO_NOW)


def keys(*presses: str) -> Callable[[Any], Awaitable[None]]:
    async def go(pilot: Any) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()  # a chart redrawn at its final size (a modal's layout settles after its mount)

    return go


@pytest.mark.parametrize(("name", "presses"), [
    ("overview", ()),
    ("spend", ("2",)),
    ("recommendations_detail", ("3", "j")),  # the detail pane of the second finding
    ("commitments_detail", ("4", "j", "enter")),  # the daily series of the expiring RI
    ("mlruns", ("5",)),
    ("activity", ("7",)),
    ("cleanup_confirm", ("3", "space", "j", "space", "c")),  # two marked findings, the plan to confirm
])
def test_view_at_80x24(snap_compare: Any, demo_db: Path, name: str, presses: tuple[str, ...]) -> None:
    assert snap_compare(CostdeckApp(demo_db), terminal_size=SIZE, run_before=keys(*presses))
