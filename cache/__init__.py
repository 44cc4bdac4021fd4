"""costdeck's local SQLite cache: schema, migrations, writes and read queries.

This package imports nothing else of costdeck's (checked by import-linter and tests).
"""

from .store import CacheError, CacheVersionError, CostRow, SourceInfo, Store, SyncRun

__all__ = ["CacheError", "CacheVersionError", "CostRow", "SourceInfo", "Store", "SyncRun"]
