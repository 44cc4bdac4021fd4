"""Shared fixtures. Every test gets its own cache file and a pinned clock."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Anonymized real FOCUS 1.0 data kept in the repo (CC BY 4.0, see tests/data/NOTICE.md).
FOCUS_SAMPLE = TESTS / "data" / "focus-sample-1.0-1000rows.csv"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's real cache or config."""
    monkeypatch.setenv("COSTDECK_DB", str(tmp_path / "data" / "cache.db"))
    monkeypatch.setenv("COSTDECK_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    from tui import palette  # chart colours are given out per session: each test starts afresh

    palette.reset()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "cache.db"


@pytest.fixture
def focus_sample() -> Path:
    return FOCUS_SAMPLE
