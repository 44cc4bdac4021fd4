"""Helpers shared by the Pilot and snapshot tests."""

from __future__ import annotations

import contextlib
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from textual.worker import WorkerFailed

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


def demo_copy(master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of a demo built by build_demo, for one test, with the clock pinned to DEMO_NOW."""
    monkeypatch.setenv("COSTDECK_NOW", DEMO_NOW)
    path = tmp_path / "demo.db"
    shutil.copyfile(master, path)
    return path


async def settle(*args: Any) -> None:
    """`await settle(pilot)` (or `settle(app, pilot)`): let the workers finish and the screen refresh.

    Workers hand their results back as messages, whose handlers may start more workers (a sync's end
    reloads the view): repeat until no worker is left."""
    pilot = args[-1]
    for _ in range(20):
        await pilot.pause()
        with contextlib.suppress(WorkerFailed):  # a failure is the app's to report (asserted by the tests)
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()  # messages posted while the last ones were handled (worker states relayed to the app)
        if not len(pilot.app.workers):
            break
