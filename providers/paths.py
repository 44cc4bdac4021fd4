"""Where costdeck keeps its cache and config (platform dirs, overridable)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "costdeck"


def default_db_path() -> Path:
    env = os.environ.get("COSTDECK_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs  # here: only when no --db / COSTDECK_DB names the cache

    return Path(platformdirs.user_data_dir(APP, appauthor=False)) / "cache.db"


def default_config_path() -> Path:
    env = os.environ.get("COSTDECK_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml"
