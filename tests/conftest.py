"""Shared fixtures. Every test gets its own cache file and a pinned clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("COSTDECK_SHARED", REPO.parent / "shared"))
FOCUS_SAMPLE = SHARED / "data" / "focus" / "focus-sample-1.0-1000rows.csv"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's real cache or config."""
    monkeypatch.setenv("COSTDECK_DB", str(tmp_path / "data" / "cache.db"))
    monkeypatch.setenv("COSTDECK_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "cache.db"


@pytest.fixture
def focus_sample() -> Path:
    if not FOCUS_SAMPLE.exists():
        pytest.fail(f"FOCUS sample not found at {FOCUS_SAMPLE} (set COSTDECK_SHARED)")
    return FOCUS_SAMPLE
