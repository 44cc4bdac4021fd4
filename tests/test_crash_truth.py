"""After a crash, the truth: a sync run whose process was killed does not show as "running" forever
(sources and Activity show the last completed run), and recommendations computed before a write
that landed without its recompute are recomputed on the next open or report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.activity import sources_overview
from analysis.recommendations.engine import LAST_RUN_KEY, is_stale, recompute
from cache import Store
from cache.store import run_alive
from providers.config import Config
from tests.dataset import build
from tui.cli import main

REPO = Path(__file__).resolve().parent.parent

KILLED_SYNC = """
import os, signal, sys
from cache import Store
with Store(sys.argv[1]) as s:
    sid = s.conn.execute("SELECT id FROM sources WHERE name='known'").fetchone()[0]
    with s.transaction():
        s.start_sync_run(sid)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 in the middle of the sync
"""


def completed_run(path: Path) -> str:
    with Store(path) as s:
        sid = s.conn.execute("SELECT id FROM sources WHERE name='known'").fetchone()[0]
        with s.transaction():
            run = s.start_sync_run(sid)
            run.rows = 42
            s.finish_sync_run(run, "ok")
        return str(s.conn.execute("SELECT finished_at FROM sync_runs WHERE id=?", (run.id,)).fetchone()[0])


def test_a_killed_sync_shows_the_last_completed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = build(tmp_path / "c.db")
    finished = completed_run(path)
    proc = subprocess.run([sys.executable, "-c", KILLED_SYNC, str(path)], cwd=REPO, timeout=60)
    assert proc.returncode == -9
    with Store(path, readonly=True) as s:
        runs = s.conn.execute("SELECT status, detail FROM sync_runs ORDER BY id").fetchall()
        assert [r[0] for r in runs] == ["ok", "running"]
        assert not run_alive(runs[-1][1])  # its pid is gone
        [src] = [x for x in s.list_sources() if x.name == "known"]
        assert src.status == "ok" and src.rows == 42 and src.last_sync is not None
        [row] = [x for x in sources_overview(s.conn, []) if x.name == "known"]
        assert row.status == "ok"
    assert main(["sources", "--db", str(path), "--format", "json"]) == 0
    [rec] = [r for r in json.loads(capsys.readouterr().out) if r["source"].startswith("known")]
    assert rec["status"] == "ok" and rec["last_sync"] == finished and rec["last_sync"] != "never"


def test_a_live_run_still_shows_running(tmp_path: Path) -> None:
    path = build(tmp_path / "c.db")
    completed_run(path)
    with Store(path) as s:
        sid = s.conn.execute("SELECT id FROM sources WHERE name='known'").fetchone()[0]
        with s.transaction():
            s.start_sync_run(sid)  # this process: alive
        [src] = [x for x in s.list_sources() if x.name == "known"]
        assert src.status == "running"
    assert not run_alive(None) and not run_alive('{"pid": "x"}')
    here = __import__("socket").gethostname()
    for odd in (0, -1, 10**20):  # hand-edited or corrupt: never an exception inside the SQL function
        assert not run_alive(json.dumps({"pid": odd, "host": here}))
    assert run_alive(json.dumps({"pid": 1, "host": "another-host.example"}))  # cannot be checked: alive


def test_recommendations_are_recomputed_after_a_write_that_missed_its_recompute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = build(tmp_path / "c.db")
    with Store(path) as s:
        recompute(s, Config())
        assert not is_stale(s.conn)
        first = json.loads(s.get_meta(LAST_RUN_KEY) or "{}")["data_run"]
    completed_run(path)  # an import/sync committed, then the process died before recomputing
    with Store(path) as s:
        assert is_stale(s.conn)
    assert main(["report", "recommendations", "--db", str(path), "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "the data changed since the recommendations were computed" in err and err.count("\n") == 1
    with Store(path) as s:
        assert not is_stale(s.conn)
        assert json.loads(s.get_meta(LAST_RUN_KEY) or "{}")["data_run"] > first
    assert main(["report", "recommendations", "--db", str(path), "--format", "json"]) == 0
    assert capsys.readouterr().err == ""  # fresh: nothing to say
