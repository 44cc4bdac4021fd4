"""Helpers shared by the Pilot and snapshot tests."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from textual.worker import WorkerFailed

from cache import Store

DEMO_AS_OF = date(2026, 6, 30)
DEMO_NOW = "2026-06-30T09:30:00+00:00"


_BUILT: dict[bool, Path] = {}  # one build per test session (and flag): each caller gets a copy


def build_demo(path: Path, *, recommendations: bool = True) -> Path:
    """The demo snapshot as of DEMO_AS_OF with the clock pinned, as `costdeck demo` writes it, at `path`.

    The demo is generated once per test session (about 4 s each time) and copied for every caller, so
    each module still has a file of its own."""
    built = _BUILT.get(recommendations)
    if built is None:
        folder = Path(tempfile.mkdtemp(prefix="costdeck-demo-"))
        atexit.register(shutil.rmtree, folder, True)
        built = _BUILT[recommendations] = _generate_demo(folder / "demo.db", recommendations=recommendations)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{built}{suffix}").exists():
            shutil.copyfile(f"{built}{suffix}", f"{path}{suffix}")
    return path


def _generate_demo(path: Path, *, recommendations: bool) -> Path:
    from analysis.recommendations import recompute
    from providers import demo
    from providers.config import Config

    mp = pytest.MonkeyPatch()
    mp.setenv("COSTDECK_NOW", DEMO_NOW)
    try:
        with Store(path) as store:
            demo.generate(store, as_of=DEMO_AS_OF, seed=7)
            if recommendations:  # and the anomalies, as after `costdeck demo`
                from analysis import anomalies

                recompute(store, Config())
                anomalies.recompute(store, Config())
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


def kill_sync_mid_write(db_path: Path, config_path: Path, env: dict[str, str] | None = None, after_rows: int = 15) -> None:
    """Run `costdeck sync` of the config in a child process that SIGKILLs itself in the middle of
    its cost write transaction (after `after_rows` cost rows); check it died that way and left the
    cache whole: integrity_check ok, the dead run still 'running' (the next sync closes it)."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import os, signal
        from cache import Store
        from providers.config import load_config
        from providers.sync import run_sync
        real = Store._cost_tuple
        n = [0]
        def die(self, *a):
            n[0] += 1
            if n[0] == {after_rows}:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, *a)
        Store._cost_tuple = die
        run_sync({str(db_path)!r}, load_config({str(config_path)!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, **(env or {})},
                          cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert proc.returncode == -9
    with Store(db_path) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.conn.execute("SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0] == "running"
