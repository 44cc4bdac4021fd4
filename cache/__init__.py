"""costdeck's local SQLite cache: schema, migrations, writes and read queries.

This package imports nothing else of costdeck's (checked by import-linter and tests).
"""

from .store import (
    LOCK_TIMEOUT_ENV,
    LOCK_WAIT_MESSAGE,
    CacheError,
    CacheLockTimeout,
    CacheVersionError,
    CostRow,
    LockWait,
    SourceInfo,
    Store,
    SyncRun,
    lock_timeout,
    set_lock_wait_hook,
    set_migrate_hook,
)

__all__ = [
    "LOCK_TIMEOUT_ENV",
    "LOCK_WAIT_MESSAGE",
    "CacheError",
    "CacheLockTimeout",
    "CacheVersionError",
    "CostRow",
    "LockWait",
    "SourceInfo",
    "Store",
    "SyncRun",
    "lock_timeout",
    "set_lock_wait_hook",
    "set_migrate_hook",
]
