"""Writers wait their turn: a write blocked by another connection's write lock waits (one timeout,
COSTDECK_LOCK_TIMEOUT), reports the wait to its hook, lands once the lock is released, and gives up
with one line naming the cache when the lock is held too long."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cache import (
    LOCK_TIMEOUT_ENV,
    CacheError,
    CacheLockTimeout,
    LockWait,
    Store,
    lock_timeout,
    set_lock_wait_hook,
)
from cache.store import DEFAULT_LOCK_TIMEOUT_S
from tests.conftest import FOCUS_SAMPLE
from tui.cli import main


@contextmanager
def held_lock(path: Path, *, release_after: float | None = None) -> Iterator[sqlite3.Connection]:
    """Another connection holding the cache's write lock (BEGIN IMMEDIATE); released when the block
    ends, or by a timer after `release_after` seconds."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    lock = threading.Lock()

    def release() -> None:
        with lock:
            if other.in_transaction:
                other.execute("ROLLBACK")

    timer = threading.Timer(release_after, release) if release_after is not None else None
    if timer is not None:
        timer.start()
    try:
        yield other
    finally:
        if timer is not None:
            timer.cancel()
        release()
        other.close()


def meta(path: Path, key: str) -> str | None:
    with Store(path) as s:
        return s.get_meta(key)


def test_the_timeout_is_one_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(LOCK_TIMEOUT_ENV, raising=False)
    assert lock_timeout() == DEFAULT_LOCK_TIMEOUT_S == 600
    with Store(tmp_path / "c.db") as s:  # every statement waits as long (SQLite's busy timeout)
        assert s.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 600_000
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "2.5")
    assert lock_timeout() == 2.5
    with Store(tmp_path / "c.db") as s:
        assert s.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, bad)
        with pytest.raises(CacheError, match=f"{LOCK_TIMEOUT_ENV}=.*number of seconds"):
            lock_timeout()


def test_a_blocked_writer_waits_reports_and_lands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.db"
    Store(path).close()
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "20")
    seen: list[LockWait] = []
    with Store(path, on_wait=seen.append) as store, held_lock(path, release_after=1.5):
        t0 = time.monotonic()
        with store.transaction():
            store.set_meta("written", "yes")
        waited = time.monotonic() - t0
    assert 1.2 < waited < 10
    assert meta(path, "written") == "yes"
    states = [w.state for w in seen]
    assert states[0] == "waiting" and seen[0].first and not any(w.first for w in seen[1:])
    assert states[-1] == "acquired" and set(states[1:-1]) <= {"waiting"}
    assert len(states) >= 3  # reported while it waited, about once a second
    assert all(w.path == path and w.timeout == 20 and w.waiter == seen[0].waiter for w in seen)
    assert seen[-1].waited >= 1.2


def test_an_unblocked_writer_reports_nothing(tmp_path: Path) -> None:
    seen: list[LockWait] = []
    with Store(tmp_path / "c.db", on_wait=seen.append) as store, store.transaction():
        store.set_meta("k", "v")
    assert seen == []


def test_a_writer_gives_up_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.db"
    with Store(path) as s:
        s.set_meta("k", "before")
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.6")
    seen: list[LockWait] = []
    with Store(path, on_wait=seen.append) as store, held_lock(path):
        t0 = time.monotonic()
        with pytest.raises(CacheLockTimeout) as info, store.transaction():
            store.set_meta("k", "after")
        assert 0.5 < time.monotonic() - t0 < 5
        assert not store.conn.in_transaction
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: gave up after ")
    assert "s waiting for another process's write" in message and LOCK_TIMEOUT_ENV in message
    assert [w.state for w in seen][0] == "waiting" and seen[-1].state == "gave up"
    assert meta(path, "k") == "before"


def test_the_process_wide_hook_and_its_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.db"
    Store(path).close()
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "20")
    seen: list[LockWait] = []
    own: list[LockWait] = []

    def broken(w: LockWait) -> None:
        raise RuntimeError("a hook that fails does not break the write")

    previous = set_lock_wait_hook(seen.append)
    try:
        with held_lock(path, release_after=0.5), Store(path) as store, store.transaction():
            store.set_meta("a", "1")
        first_wait = list(seen)
        with held_lock(path, release_after=0.5), Store(path, on_wait=own.append) as store, store.transaction():
            store.set_meta("b", "1")  # a Store's own hook wins
        assert seen == first_wait
        set_lock_wait_hook(broken)
        with held_lock(path, release_after=0.5), Store(path) as store, store.transaction():
            store.set_meta("c", "1")
    finally:
        assert set_lock_wait_hook(previous) is broken
    assert seen and seen[0].state == "waiting" and seen[-1].state == "acquired"
    assert own and own[-1].state == "acquired"
    assert [meta(path, k) for k in "abc"] == ["1", "1", "1"]


def test_import_waits_for_the_lock_and_lands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`costdeck import` blocked by another writer for longer than the old 5 s busy timeout."""
    path = tmp_path / "c.db"
    Store(path).close()
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "60")
    with held_lock(path, release_after=6):
        t0 = time.monotonic()
        assert main(["import", str(FOCUS_SAMPLE), "--db", str(path)]) == 0
        assert time.monotonic() - t0 >= 5.5
    with Store(path) as s:
        assert s.conn.execute("SELECT count(*) FROM costs").fetchone()[0] > 0


def test_import_gives_up_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.db"
    Store(path).close()
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.5")
    with held_lock(path):
        assert main(["import", str(FOCUS_SAMPLE), "--db", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2  # it says it waits (once), then gives up with one line
    assert err[0] == ("costdeck: waiting for the cache lock held by another costdeck process… (up to 0.5 s; "
                      "COSTDECK_LOCK_TIMEOUT sets it)")
    assert err[1].startswith(f"costdeck: error: {path}: gave up after ")
    assert "waiting for another process's write" in err[1]
    with Store(path) as s:
        assert s.conn.execute("SELECT count(*) FROM costs").fetchone()[0] == 0
