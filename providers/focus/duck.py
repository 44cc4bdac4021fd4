"""The DuckDB side of an import: one in-memory connection, out of core (memory_limit, spill
files in a temp dir removed on close), in UTC, shared by the reading and writing stages."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from .exprs import ql

Progress = Callable[[str, int, int | None], None]

# 640MB: DuckDB 1.5.5 cannot spill the first aggregate of a 7.9M-row daily file at 512MB (out of
# memory); at 640MB it does, and the import peaks under 1 GiB.
MEMORY_LIMIT = os.environ.get("COSTDECK_DUCKDB_MEMORY", "640MB")


TEMP_PREFIX = "costdeck-import-"  # + pid + "-" + random: the temp dir of one import


def remove_stale_temp_dirs(tmp_root: str | None = None) -> None:
    """Remove the temp dirs of imports whose process is gone (killed: no `close` ran).

    Only `costdeck-import-<pid>-*` dirs whose pid no longer exists on this host; a live
    process's dir (another import running) is never touched."""
    root = tmp_root or tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        pid_text = name[len(TEMP_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except (PermissionError, OverflowError, OSError):
            continue  # alive (another user's) or not a pid: leave it


def sqlite_extension_path() -> str | None:
    """The SQLite extension of the installed DuckDB version, from its wheel, or None."""
    try:
        import duckdb_extension_sqlite_scanner as ext
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(ext.__file__), "extensions", f"v{duckdb.__version__}",
                        "sqlite_scanner.duckdb_extension")
    return path if os.path.isfile(path) else None


class DuckSession:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        remove_stale_temp_dirs()
        self.tmp = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        self.threads = max(1, min(4, os.cpu_count() or 1))
        self.con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": MEMORY_LIMIT,
                "threads": self.threads,
                "temp_directory": os.path.join(self.tmp, "spill"),
                "preserve_insertion_order": False,
            },
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        self._n = 0
        # per money column of MONEY: the absolute amounts (units) the cache will hold besides the
        # files read so far (its other sources), then plus each file read (`read.check_money_range`)
        self.money_used: dict[str, float] = {}

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def tick(self, label: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(label, done, total)

    def new_table(self, prefix: str) -> str:
        """A fresh temp table name."""
        name = f"{prefix}{self._n}"
        self._n += 1
        return name

    def attach_sqlite(self, path: str, name: str) -> bool:
        """ATTACH the SQLite file `path` as `name` through DuckDB's SQLite extension (the pinned,
        version-matched `duckdb-extension-sqlite-scanner` package; never downloaded). False when
        the extension is not there or does not load: the caller takes the Python path."""
        ext = sqlite_extension_path()
        if ext is None:
            return False
        try:
            self.con.execute(f"LOAD {ql(ext)}")
            self.con.execute(f"ATTACH {ql(path)} AS {name} (TYPE sqlite)")
        except duckdb.Error:
            return False
        return True

    def execute(self, sql: str) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql)

    @contextmanager
    def one_thread(self, *, ordered: bool = False) -> Iterator[None]:
        """Run the block's queries on one DuckDB thread (`ordered`: in insertion order too)."""
        self.con.execute("SET threads = 1")
        if ordered:
            self.con.execute("SET preserve_insertion_order = true")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {self.threads}")
            if ordered:
                self.con.execute("SET preserve_insertion_order = false")

    @contextmanager
    def ordered(self) -> Iterator[None]:
        """Run the block's queries keeping the order of their ORDER BY in what they insert."""
        self.con.execute("SET preserve_insertion_order = true")
        try:
            yield
        finally:
            self.con.execute("SET preserve_insertion_order = false")

    def load_table(self, name: str, columns: dict[str, str], records: Iterable[dict[str, Any]]) -> None:
        """A small Python-made table into DuckDB, through a JSON-lines file (no pandas/arrow needed)."""
        path = os.path.join(self.tmp, f"{name}.jsonl")
        with open(path, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        spec = "{" + ", ".join(f"{ql(k)}: {ql(v)}" for k, v in columns.items()) + "}"
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_json({ql(path)}, columns = {spec}, "
            "format = 'newline_delimited')"
        )
