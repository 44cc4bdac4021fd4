"""Hostile inputs outside the FOCUS importer (see test_hostile_inputs.py for those): nesting bombs in
run logs and the config, pipes and FIFOs, directories, damaged caches. Each: the exit code, one line
naming the file (and line), and the cache unchanged byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FOCUS_SAMPLE
from tui.cli import main

REPO = Path(__file__).resolve().parent.parent
GOOD_RUN = '{"run_id": "r-1", "task": "t", "status": "completed", "start": "2026-05-01T10:00:00Z"}\n'


def snapshot(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(db.parent.glob(db.name + "*"))}


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    db = tmp_path / "cache.db"
    log = tmp_path / "ok.jsonl"
    log.write_text(GOOD_RUN, encoding="utf-8")
    assert main(["import", str(log), "--db", str(db)]) == 0
    return db


@pytest.mark.parametrize("payload", [
    '{"run_id": "r-2", "task": "t", "status": "completed", "start": "2026-05-01T10:00:00Z", "properties": '
    + "[" * 100_000 + "]" * 100_000 + "}",
    '{"run_id": "r-2", "task": "t", "status": "completed", "start": "2026-05-01T10:00:00Z", "properties": '
    + '{"a": ' * 40 + "1" + "}" * 40 + "}",
], ids=["recursion-bomb", "40-levels"])
def test_run_log_nested_too_deep(cache: Path, tmp_path: Path, payload: str, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "deep.jsonl"
    bad.write_text(GOOD_RUN + payload + "\n", encoding="utf-8")
    before = snapshot(cache)
    assert main(["import", str(bad), "--db", str(cache)]) == 2
    err = capsys.readouterr().err
    assert err == f"costdeck: error: {bad}: line 2: JSON nested deeper than 32 levels\n"
    assert snapshot(cache) == before


def test_config_nested_too_deep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    assert main(["sources", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err == f"costdeck: error: {cfg}: not valid TOML (values nested deeper than 32 levels)\n"


def test_a_fifo_nobody_writes_is_empty_not_a_hang(cache: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    before = snapshot(cache)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "import", str(fifo), "--db", str(cache)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"costdeck: error: {fifo}: empty file (expected a FOCUS export with a header row)\n"
    assert snapshot(cache) == before


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for <(...)")
def test_process_substitution_imports(tmp_path: Path) -> None:
    db = tmp_path / "pipe.db"
    cmd = f"{sys.executable} -m tui.cli import --db {db} <(cat {FOCUS_SAMPLE})"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and not db.exists()  # a pipe has no name: a second one would replace it
    assert "a pipe has no file name to call its source by" in proc.stderr and "--source NAME" in proc.stderr
    assert proc.stderr.count("\n") == 1
    proc = subprocess.run(["bash", "-c", cmd + " --source sample"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1,000 rows in" in proc.stdout and "billed 20.52 USD" in proc.stdout and "(source sample," in proc.stdout
    assert "costdeck-stream-" not in proc.stdout  # named as given, not by the spool copy


def test_a_directory_is_refused(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(cache)
    assert main(["import", str(tmp_path), "--db", str(cache)]) == 2
    assert capsys.readouterr().err == (f"costdeck: error: {tmp_path}: is a directory (name the files in it, "
                                       f"e.g. {tmp_path}/*.parquet)\n")
    assert snapshot(cache) == before


def test_an_unreadable_cache_names_its_path_and_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    as_dir = tmp_path / "dir.db"
    as_dir.mkdir()
    assert main(["report", "spend", "--by", "service_name", "--db", str(as_dir)]) == 1
    assert capsys.readouterr().err == f"costdeck: error: {as_dir}: cannot open the cache: it is a directory\n"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert main(["sources", "--db", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"costdeck: error: {junk}: ") and err.count("\n") == 1
