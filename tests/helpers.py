"""Helpers shared by the Pilot and snapshot tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cache import Store

DEMO_AS_OF = date(2026, 6, 30)
DEMO_NOW = "2026-06-30T09:30:00+00:00"


def build_demo(path: Path, *, recommendations: bool = True) -> Path:
    """The demo snapshot as of DEMO_AS_OF with the clock pinned, as `costdeck demo` writes it."""
    from analysis.recommendations import recompute
    from providers import demo
    from providers.config import Config

    mp = pytest.MonkeyPatch()
    mp.setenv("COSTDECK_NOW", DEMO_NOW)
    try:
        with Store(path) as store:
            demo.generate(store, as_of=DEMO_AS_OF, seed=7)
            if recommendations:
                recompute(store, Config())
    finally:
        mp.undo()
    return path


async def settle(*args: Any) -> None:
    """`await settle(pilot)` (or `settle(app, pilot)`): let the workers finish and the screen refresh."""
    pilot = args[-1]
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
