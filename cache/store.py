"""The SQLite store: opening (permissions, WAL, migrations), typed records and writes.

Writes of one source's costs for one date window happen in ONE transaction: the
window's old rows are deleted, the new ones inserted, the summary table rebuilt for
those days. An exception anywhere rolls the whole window back, so a crash or error
leaves the previous data whole.

Writers wait their turn: SQLite lets one connection write at a time, and every writer (import,
sync, `costdeck track`, the app's status changes) waits for that write lock up to ONE timeout,
`lock_timeout()`: 600 s by default (long enough for the biggest import), COSTDECK_LOCK_TIMEOUT
(seconds) overrides it. `Store.transaction()` begins with BEGIN IMMEDIATE retried in short slices
so the wait can be reported (`on_wait`, or the process-wide `set_lock_wait_hook`); a writer that
gives up raises `CacheLockTimeout`, one line naming the cache and the seconds waited.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import timeutil
from .schema import COST_DIMS, MIGRATIONS, SCHEMA_VERSION, SUMMARY_DIMS, pair_rollup_sql

_COST_COLS = ", ".join(COST_DIMS)
_SUMMARY_COLS = ", ".join(SUMMARY_DIMS)
_AMOUNT_COLS = "billed, effective, list, contracted, pricing_quantity, consumed_quantity"
# Incoming cost rows (the columns of the `costs` view) are staged in this temp table, then
# resolved to lines and summed into `cost_facts` by `Store._flush_incoming` (set-based SQL).
_INCOMING = "temp.costdeck_incoming"
_INCOMING_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS costdeck_incoming (source_id INTEGER, day TEXT, "
    + ", ".join(f"{d} INTEGER" for d in COST_DIMS)
    + ", billed INTEGER, effective INTEGER, list INTEGER, contracted INTEGER, pricing_quantity REAL, "
    "consumed_quantity REAL)"
)
_INSERT_COSTS = (
    f"INSERT INTO {_INCOMING}(source_id, day, {_COST_COLS}, {_AMOUNT_COLS}) "
    f"VALUES ({', '.join('?' * (len(COST_DIMS) + 8))})"
)
_LINE_MATCH = " AND ".join(["l.source_id = n.source_id", *(f"l.{d} IS n.{d}" for d in COST_DIMS)])
_NEW_LINES = (
    f"INSERT INTO cost_lines(source_id, {_COST_COLS}) SELECT DISTINCT n.source_id, "
    + ", ".join(f"n.{d}" for d in COST_DIMS)
    + f" FROM {_INCOMING} n WHERE NOT EXISTS (SELECT 1 FROM cost_lines l WHERE {_LINE_MATCH})"
    f" ORDER BY n.source_id, n.resource"
)
# Quantities: NULL + NULL stays NULL (unknown), otherwise the known ones add up.
_QTY_SUM = "CASE WHEN {c} IS NULL THEN excluded.{c} WHEN excluded.{c} IS NULL THEN {c} ELSE {c} + excluded.{c} END"
_NEW_FACTS = (
    f"INSERT INTO cost_facts(line, day, {_AMOUNT_COLS}) "
    f"SELECT l.id, n.day, sum(coalesce(n.billed, 0)), sum(coalesce(n.effective, 0)), sum(coalesce(n.list, 0)), "
    f"sum(coalesce(n.contracted, 0)), sum(n.pricing_quantity), sum(n.consumed_quantity) "
    f"FROM {_INCOMING} n JOIN cost_lines l ON {_LINE_MATCH} GROUP BY l.id, n.day "
    "ON CONFLICT(line, day) DO UPDATE SET billed = billed + excluded.billed, "
    "effective = effective + excluded.effective, list = list + excluded.list, "
    "contracted = contracted + excluded.contracted, "
    f"pricing_quantity = {_QTY_SUM.format(c='pricing_quantity')}, "
    f"consumed_quantity = {_QTY_SUM.format(c='consumed_quantity')}"
)
_INSERT_SUMMARY_WEEKLY = (
    f"INSERT INTO cost_summary_weekly(source_id, week, {_SUMMARY_COLS}, billed, effective, list, contracted, n) "
    f"VALUES ({', '.join('?' * (len(SUMMARY_DIMS) + 7))})"
)
_INSERT_SUMMARY_MONTHLY = _INSERT_SUMMARY_WEEKLY.replace("cost_summary_weekly(source_id, week,",
                                                         "cost_summary_monthly(source_id, month,")
_INSERT_DAILY_DIMS = ("INSERT INTO cost_daily_dims(source_id, day, dim, value, currency, billed, effective, list, "
                      "contracted, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_DAILY_PAIRS = ("INSERT INTO cost_daily_pairs(dim, value, by_dim, day, by_value, currency, source_id, billed, "
                       "effective, list, contracted, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_ROLLUP = {"cost_summary_weekly": _INSERT_SUMMARY_WEEKLY, "cost_summary_monthly": _INSERT_SUMMARY_MONTHLY,
                  "cost_daily_dims": _INSERT_DAILY_DIMS, "cost_daily_pairs": _INSERT_DAILY_PAIRS}
# The columns of each coarse rollup table, in the order of `insert_rollup_tuples_of`'s tuples.
ROLLUP_COLUMNS = {t: sql[sql.index("(") + 1:sql.index(")")] for t, sql in _INSERT_ROLLUP.items()}
# Every relation holding cost amounts as readers see them: the daily facts and their rollups
# (`costs`, `cost_weekly` and `cost_monthly` are views over the line tables, see schema v8).
COST_TABLES = ("costs", "cost_weekly", "cost_monthly", "cost_summary_weekly",
               "cost_summary_monthly", "cost_daily_dims", "cost_daily_pairs")
# The tables behind them, as stored: lines first (the others point at them), then the tables
# keyed by line, then the coarse rollups keyed by source (deleted, staged, analyzed together).
LINE_TABLES = ("cost_facts", "cost_weekly_lines", "cost_monthly_lines")
SOURCE_TABLES = ("cost_summary_weekly", "cost_summary_monthly", "cost_daily_dims", "cost_daily_pairs")
COST_STORAGE = ("cost_lines", *LINE_TABLES, *SOURCE_TABLES)
_MONTH_OF_DAY = "substr(day, 1, 7) || '-01'"
_WEEK_OF_DAY = "date(day, '-6 days', 'weekday 1')"
_LINES_OF_SOURCE = "line IN (SELECT id FROM cost_lines WHERE source_id = ?)"

# Packed cost tuples (Store.insert_packed_cost_tuples): the dimension ids of COST_DIMS, in this
# many groups of up to 3, each group one integer of 21-bit fields (first dimension highest,
# 0 = NULL). Fewer Python values per row for bulk writers that produce ids elsewhere (DuckDB).
PACK_BITS = 21
PACK_MAX_ID = (1 << PACK_BITS) - 1  # larger ids cannot be packed: use insert_cost_tuples
PACK_GROUPS: tuple[tuple[str, ...], ...] = tuple(COST_DIMS[i:i + 3] for i in range(0, len(COST_DIMS), 3))


def _packed_insert_sql() -> str:
    vals = ["?1", "?2"]
    for g, dims in enumerate(PACK_GROUPS):
        for j in range(len(dims)):
            shift = PACK_BITS * (len(dims) - 1 - j)
            vals.append(f"nullif((?{3 + g} >> {shift}) & {PACK_MAX_ID}, 0)")
    first = 3 + len(PACK_GROUPS)
    vals += [f"?{first + i}" for i in range(6)]
    return f"INSERT INTO {_INCOMING}(source_id, day, {_COST_COLS}, {_AMOUNT_COLS}) VALUES ({', '.join(vals)})"


_INSERT_PACKED_COSTS = _packed_insert_sql()

# Bulk writes of costs (see Store.bulk_costs): when the rows written are more than this share
# of the rows in the cache afterwards, the secondary indexes of the coarse rollups are dropped for
# the insert and rebuilt after it (a sorted bulk build) instead of being maintained row by row.
BULK_SHARE = 0.3
BULK_CACHE_KIB = 65_536  # page cache during a bulk write of costs (the default is 2 MiB)


class CacheError(Exception):
    """A cache problem with a one-line, user-facing message."""


class CacheVersionError(CacheError):
    pass


# -- waiting for the write lock -----------------------------------------------------------------
LOCK_TIMEOUT_ENV = "COSTDECK_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 600.0  # 10 minutes: the biggest import holds the lock for a few minutes
LOCK_SLICE_S = 0.2  # one BEGIN IMMEDIATE attempt waits this long (SQLite's busy handler) before a retry
LOCK_REPORT_EVERY_S = 1.0  # a waiting writer reports to its hook about this often
LOCK_WAIT_MESSAGE = "waiting for the cache lock held by another costdeck process…"


class CacheLockTimeout(CacheError):
    """A writer gave up waiting for the cache's write lock (another process kept writing)."""


@dataclass(frozen=True, slots=True)
class LockWait:
    """A writer's report while it waits for the write lock (see `Store(on_wait=...)`).

    state: "waiting" (first when the lock is found held, then about every LOCK_REPORT_EVERY_S),
    then once "acquired" or "gave up" (after which CacheLockTimeout is raised). `first` marks the
    first "waiting" report of a wait; `waiter` tells concurrent waiters (one per Store) apart.
    """

    path: Path
    state: str
    waited: float  # seconds waited so far
    timeout: float  # seconds it waits in all
    waiter: int
    first: bool = False


WaitHook = Callable[[LockWait], None]

_default_wait_hook: WaitHook | None = None


def set_lock_wait_hook(hook: WaitHook | None) -> WaitHook | None:
    """Set the process-wide hook told of lock waits by Stores made without `on_wait` (None: none).

    Returns the previous hook (to restore it). The hook is called from the waiting thread; an
    exception in it is ignored.
    """
    global _default_wait_hook
    previous, _default_wait_hook = _default_wait_hook, hook
    return previous


# -- telling the user a long migration is under way -------------------------------------------
MigrateHook = Callable[[Path, int, int], None]
_migrate_hook: MigrateHook | None = None
# A migration of a cache holding at least this many daily cost rows is announced (the hook) and
# followed by a VACUUM when it left most of the file free: schema v8 rewrites every cost row, which
# takes minutes at 13 months of 20,000 resources.
MIGRATE_NOTICE_ROWS = 200_000


def set_migrate_hook(hook: MigrateHook | None) -> MigrateHook | None:
    """Set the process-wide hook called (path, from version, to version) before a cache with many
    cost rows is migrated. Returns the previous hook. An exception in it is ignored."""
    global _migrate_hook
    previous, _migrate_hook = _migrate_hook, hook
    return previous


def lock_timeout() -> float:
    """Seconds a writer waits for the cache's write lock: COSTDECK_LOCK_TIMEOUT, else 600."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e7:  # also refuses nan and inf
        raise CacheError(f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds (e.g. 600)")
    return value


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc)


def _seconds(s: float) -> str:
    return f"{s:.0f}" if s >= 10 else f"{s:.1f}".removesuffix(".0")


@dataclass(slots=True)
class CostRow:
    """One daily cost row, FOCUS-named. Amounts are integer nano-units."""

    day: date
    provider_name: str
    billing_account_id: str | None = None
    billing_account_name: str | None = None
    sub_account_id: str | None = None
    sub_account_name: str | None = None
    service_name: str | None = None
    service_category: str | None = None
    region_id: str | None = None
    region_name: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    charge_category: str | None = "Usage"
    pricing_category: str | None = None
    commitment_discount_id: str | None = None
    commitment_discount_name: str | None = None
    commitment_discount_type: str | None = None
    commitment_discount_status: str | None = None
    billing_currency: str = "USD"
    tags: dict[str, Any] | str | None = None
    billed_cost: int = 0
    effective_cost: int = 0
    list_cost: int = 0
    contracted_cost: int = 0
    pricing_quantity: float | None = None
    consumed_quantity: float | None = None


@dataclass(slots=True)
class SourceInfo:
    id: int
    name: str
    kind: str
    options: dict[str, Any]
    last_sync: datetime | None
    status: str | None
    rows: int
    api_calls: int
    error: str | None
    cost_rows: int = 0


@dataclass(slots=True)
class SyncRun:
    id: int
    source_id: int
    started_at: datetime
    api_calls: int = 0
    billed_api_calls: int = 0
    rows: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def canonical_tags(tags: dict[str, Any] | str | None) -> str | None:
    """Tags as canonical JSON (sorted keys, compact), or None when empty."""
    if tags is None or tags == "":
        return None
    if isinstance(tags, str):
        try:
            text = tags
            tags = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CacheError(f"tags are not a JSON object: {text[:60]!r}") from exc
    if not isinstance(tags, dict):
        raise CacheError("tags must be a JSON object")
    if not tags:
        return None
    clean = {str(k): ("" if v is None else v if isinstance(v, str) else json.dumps(v)) for k, v in tags.items()}
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _prepare_path(path: Path) -> None:
    """Create the parent dir (0700) and the database file (0600) if missing."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        with contextlib.suppress(PermissionError):
            os.chmod(path, 0o600)



def run_alive(detail: str | None) -> bool:
    """Whether the process that started a "running" sync run is still there (SQL: costdeck_run_alive).

    A run records its pid and host when it starts. On this host, a pid that no longer exists means
    the process was killed before it finished: readers then show the source's last completed run,
    not "running" forever. A run started on another host (a shared cache) cannot be checked and
    counts as alive; a run with no pid (an older costdeck) counts as gone.
    """
    try:
        info = json.loads(detail or "{}")
        pid, host = int(info["pid"]), str(info["host"])
    except (ValueError, TypeError, KeyError):
        return False
    if host != socket.gethostname():
        return True
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


class Store:
    """One connection to one cache file. Use one Store per thread.

    Every statement waits up to `lock_timeout()` for another connection's write lock (SQLite's
    busy timeout); `transaction()` waits in slices and reports the wait to `on_wait` (default: the
    hook of `set_lock_wait_hook`), raising CacheLockTimeout when it gives up.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, readonly: bool = False, on_wait: WaitHook | None = None
    ) -> None:
        self.path = Path(path).expanduser()
        self.readonly = readonly
        self.on_wait = on_wait
        self.lock_timeout = lock_timeout()
        self._busy_ms = int(self.lock_timeout * 1000)
        if self.path.is_dir():
            raise CacheError(f"{self.path}: cannot open the cache: it is a directory")
        try:
            if readonly:
                if not self.path.exists():
                    raise CacheError(f"{self.path}: no such cache file")
                uri = f"file:{self.path}?mode=ro"
                self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                try:
                    _prepare_path(self.path)
                except OSError as exc:
                    raise CacheError(f"{self.path}: cannot create the cache ({exc.strerror})") from exc
                self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot open the cache ({exc})") from exc
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.create_function("costdeck_run_alive", 1, run_alive)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if "not a database" in str(exc):
                raise CacheError(f"{self.path}: not a costdeck cache ({exc})") from exc
            raise CacheError(f"{self.path}: cannot read the cache ({exc}): restore it from a copy, or move it "
                             "away and sync or import again") from exc
        except BaseException:  # e.g. CacheLockTimeout while migrating
            self.conn.close()
            raise
        self._db: Any = None  # sqlite_utils.Database, made on the first bulk write (its import takes ~0.2 s)
        self._dim_cache: dict[tuple[str, str], tuple[int, str | None, str | None]] = {}
        self._tag_cache: dict[str, int] = {}
        self._bulk: _CostBulk | None = None

    @property
    def db(self) -> Any:
        """sqlite_utils over this connection (bulk upserts of inventory-style records)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # -- lifecycle -------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE (waiting for the write lock, see `begin_write`),
        COMMIT at the end of the block, ROLLBACK on any exception."""
        self.begin_write()
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.clear_caches()
            raise
        else:
            self.conn.execute("COMMIT")

    def begin_write(self) -> None:
        """BEGIN IMMEDIATE, waiting up to `lock_timeout` seconds while another connection holds the
        write lock: attempts of LOCK_SLICE_S each (SQLite's busy handler sleeps inside them), the wait
        reported to the hook as it goes. Raises CacheLockTimeout (one line) when it gives up."""
        conn = self.conn
        timeout = self.lock_timeout
        start = time.monotonic()
        last_report: float | None = None
        try:
            while True:
                now = time.monotonic()
                left = timeout - (now - start)
                conn.execute(f"PRAGMA busy_timeout = {max(0, min(int(LOCK_SLICE_S * 1000), int(left * 1000)))}")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
                    after = time.monotonic()
                    waited = after - start
                    if waited >= timeout:
                        if last_report is not None:
                            self._report("gave up", waited)
                        raise CacheLockTimeout(
                            f"{self.path}: gave up after {_seconds(waited)} s waiting for another process's "
                            f"write to the cache ({LOCK_TIMEOUT_ENV} sets how long to wait)"
                        ) from None
                    if last_report is None or after - last_report >= LOCK_REPORT_EVERY_S:
                        self._report("waiting", waited, first=last_report is None)
                        last_report = after
                    if after - now < LOCK_SLICE_S / 4:  # refused at once (no busy handler ran): do not spin
                        time.sleep(min(LOCK_SLICE_S / 4, max(0.0, timeout - waited)))
                    continue
                if last_report is not None:
                    self._report("acquired", time.monotonic() - start)
                return
        finally:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

    def _report(self, state: str, waited: float, *, first: bool = False) -> None:
        hook = self.on_wait or _default_wait_hook
        if hook is None:
            return
        with contextlib.suppress(Exception):  # a broken hook must not break the write
            hook(LockWait(self.path, state, waited, self.lock_timeout, id(self), first))

    def _migrate(self) -> None:
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        version = 0
        if has_meta:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
        elif self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise CacheError(f"{self.path}: an SQLite file, but not a costdeck cache")
        if version > SCHEMA_VERSION:
            raise CacheVersionError(
                f"{self.path}: cache schema version {version} was written by a newer costdeck "
                f"(this one reads up to {SCHEMA_VERSION}); upgrade costdeck or use another --db"
            )
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise CacheError(f"{self.path}: cache needs migrating to version {SCHEMA_VERSION}, opened read-only")
        big = has_meta and self._cost_rows_any_version() >= MIGRATE_NOTICE_ROWS
        if big and _migrate_hook is not None:
            with contextlib.suppress(Exception):
                _migrate_hook(self.path, version, SCHEMA_VERSION)
        self.begin_write()
        try:
            for v in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS[v]:
                    self.conn.execute(stmt)
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(v + 1),),
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        if big:
            self._vacuum_if_mostly_free()

    def _cost_rows_any_version(self) -> int:
        """Daily cost rows of a cache about to be migrated, whatever its version (0 if unknown)."""
        for sql in ("SELECT coalesce(sum(n), 0) FROM cost_summary_monthly", "SELECT count(*) FROM cost_facts",
                    "SELECT max(rowid) FROM costs"):
            with contextlib.suppress(sqlite3.Error):
                return int(self.conn.execute(sql).fetchone()[0] or 0)
        return 0

    def _vacuum_if_mostly_free(self) -> None:
        """VACUUM when over a third of the file's pages are free (a migration that rewrote the cost
        tables): the file shrinks to what it holds. Skipped when another connection reads."""
        pages = int(self.conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        if pages and free * 3 > pages:
            with contextlib.suppress(sqlite3.OperationalError):
                self.conn.execute("VACUUM")

    # -- meta ------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def snapshot_time(self) -> datetime | None:
        v = self.get_meta("snapshot_time")
        return timeutil.parse_instant(v) if v else None

    def touch_snapshot(self, at: datetime | None = None) -> None:
        self.set_meta("snapshot_time", timeutil.iso(at or timeutil.now()))

    def is_demo(self) -> bool:
        return self.get_meta("demo") == "1"

    def is_empty(self) -> bool:
        return bool(self.conn.execute("SELECT count(*) FROM sources").fetchone()[0] == 0)

    # -- sources and sync runs ---------------------------------------------------
    def ensure_source(self, name: str, kind: str, options: dict[str, Any] | None = None) -> int:
        row = self.conn.execute("SELECT id, kind FROM sources WHERE name=?", (name,)).fetchone()
        if row:
            if options is not None:
                self.conn.execute(
                    "UPDATE sources SET kind=?, options=? WHERE id=?", (kind, json.dumps(options), row[0])
                )
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO sources(name, kind, options, created_at) VALUES(?, ?, ?, ?)",
            (name, kind, json.dumps(options or {}), timeutil.iso(timeutil.now())),
        )
        return int(cur.lastrowid or 0)

    def source_id(self, name: str) -> int | None:
        row = self.conn.execute("SELECT id FROM sources WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else None

    def start_sync_run(self, source_id: int, window: tuple[date, date] | None = None) -> SyncRun:
        started = timeutil.now()
        cur = self.conn.execute(
            "INSERT INTO sync_runs(source_id, started_at, status, window_start, window_end, detail) "
            "VALUES(?,?,?,?,?,?)",
            (
                source_id,
                timeutil.iso(started),
                "running",
                window[0].isoformat() if window else None,
                window[1].isoformat() if window else None,
                json.dumps({"pid": os.getpid(), "host": socket.gethostname()}),  # who runs it (run_alive)
            ),
        )
        return SyncRun(id=int(cur.lastrowid or 0), source_id=source_id, started_at=started)

    def finish_sync_run(self, run: SyncRun, status: str, error: str | None = None) -> None:
        end = timeutil.now()
        self.conn.execute(
            "UPDATE sync_runs SET finished_at=?, status=?, rows=?, api_calls=?, billed_api_calls=?, "
            "duration_ms=?, error=?, detail=? WHERE id=?",
            (
                timeutil.iso(end),
                status,
                run.rows,
                run.api_calls,
                run.billed_api_calls,
                int((end - run.started_at).total_seconds() * 1000),
                error,
                json.dumps(run.detail),
                run.id,
            ),
        )

    def list_sources(self) -> list[SourceInfo]:
        out = []
        rows = self.conn.execute(
            """SELECT s.id, s.name, s.kind, s.options,
                      r.finished_at, r.status, r.rows, r.api_calls, r.error,
                      (SELECT coalesce(sum(n), 0) FROM cost_summary_monthly m WHERE m.source_id = s.id) AS cost_rows
               FROM sources s
               LEFT JOIN sync_runs r ON r.id = (SELECT max(id) FROM sync_runs WHERE source_id = s.id
                                                AND (status != 'running' OR costdeck_run_alive(detail)))
               ORDER BY s.name"""
        ).fetchall()
        for r in rows:
            out.append(
                SourceInfo(
                    id=r["id"],
                    name=r["name"],
                    kind=r["kind"],
                    options=json.loads(r["options"] or "{}"),
                    last_sync=timeutil.parse_instant(r["finished_at"]) if r["finished_at"] else None,
                    status=r["status"],
                    rows=r["rows"] or 0,
                    api_calls=r["api_calls"] or 0,
                    error=r["error"],
                    cost_rows=r["cost_rows"],
                )
            )
        return out

    # -- dimensions ------------------------------------------------------------
    def dim_id(self, kind: str, value: str | None, label: str | None = None, extra: str | None = None) -> int | None:
        """The id of a dimension value, creating it (and updating its label) as needed.

        The label and extra last written are remembered, so repeated rows cost no SQL.
        """
        if value is None or value == "":
            return None
        key = (kind, value)
        cached = self._dim_cache.get(key)
        if cached is not None:
            did, known_label, known_extra = cached
            if (label is None or label == known_label) and (extra is None or extra == known_extra):
                return did
        row = self.conn.execute(
            "INSERT INTO dims(kind, value, label, extra) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(kind, value) DO UPDATE SET "
            "label=coalesce(excluded.label, dims.label), extra=coalesce(excluded.extra, dims.extra) "
            "RETURNING id, label, extra",
            (kind, value, label, extra),
        ).fetchone()
        self._dim_cache[key] = (int(row[0]), row[1], row[2])
        return int(row[0])

    def clear_caches(self) -> None:
        """Forget cached dimension and tag-set ids (after deleting rows of `dims` or `tagsets`)."""
        self._dim_cache.clear()
        self._tag_cache.clear()

    def tagset_id(self, tags: dict[str, Any] | str | None) -> int | None:
        canon = canonical_tags(tags)
        if canon is None:
            return None
        cached = self._tag_cache.get(canon)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT id FROM tagsets WHERE json=?", (canon,)).fetchone()
        if row:
            tid = int(row[0])
        else:
            tid = int(self.conn.execute("INSERT INTO tagsets(json) VALUES(?)", (canon,)).lastrowid or 0)
            self.conn.executemany(
                "INSERT OR IGNORE INTO tag_index(tagset_id, key, value) VALUES(?, ?, ?)",
                [(tid, k, v) for k, v in json.loads(canon).items()],
            )
        self._tag_cache[canon] = tid
        return tid

    # -- costs -----------------------------------------------------------------
    @contextlib.contextmanager
    def bulk_costs(self) -> Iterator[None]:
        """A bulk write of costs (call inside a transaction, after deleting the rows replaced).

        Rows go in with `insert_cost_tuples` (or `replace_costs`, which uses this). The page cache
        is raised for the duration; once the rows inserted exceed `BULK_SHARE` of the rows the
        cache will hold, the secondary indexes of the coarse rollups (SOURCE_TABLES: rebuild or
        insert those inside the block too) are dropped and rebuilt at
        the end of the block (DDL is transactional: a rollback restores them). On an exception they are
        rebuilt too while the transaction is still open, so a caller that goes on is not left
        without indexes. Nested blocks join the outer one.
        """
        if self._bulk is not None:
            yield
            return
        conn = self.conn
        prev_cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        bulk = self._bulk = _CostBulk(conn)
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    bulk.restore()
            raise
        else:
            bulk.restore()
        finally:
            self._bulk = None
            conn.execute(f"PRAGMA cache_size = {int(prev_cache)}")

    def replace_costs(
        self,
        source_id: int,
        rows: Iterable[CostRow],
        window: tuple[date, date] | None = None,
        *,
        in_transaction: bool = False,
        batch: int = 20_000,
    ) -> int:
        """Replace a source's costs in [window) (or all of them) with `rows`, atomically.

        Rows outside the window are refused (they would escape the delete). Returns the
        number of rows written. The summary and weekly tables are rebuilt for the affected
        days, and the planner statistics refreshed when rows were written.
        """
        ctx = contextlib.nullcontext(self.conn) if in_transaction else self.transaction()
        n = 0
        with ctx:
            if window is None:
                self.delete_source_costs(source_id)
            else:
                lo, hi = window[0].isoformat(), window[1].isoformat()
                self.conn.execute(f"DELETE FROM cost_facts WHERE {_LINES_OF_SOURCE} AND day>=? AND day<?",
                                  (source_id, lo, hi))
            buf: list[tuple[Any, ...]] = []
            min_day: str | None = None
            max_day: str | None = None
            with self.bulk_costs():
                for r in rows:
                    d = r.day.isoformat()
                    if window is not None and not (window[0] <= r.day < window[1]):
                        raise CacheError(f"cost row for {d} is outside the window {window[0]}..{window[1]}")
                    if min_day is None or d < min_day:
                        min_day = d
                    if max_day is None or d > max_day:
                        max_day = d
                    buf.append(self._cost_tuple(source_id, d, r))
                    if len(buf) >= batch:
                        self.insert_cost_tuples(buf)
                        n += len(buf)
                        buf.clear()
                if buf:
                    self.insert_cost_tuples(buf)
                    n += len(buf)
                if window is not None:
                    self._rebuild_summary(source_id, window[0].isoformat(), window[1].isoformat())
                elif min_day is not None and max_day is not None:
                    self._rebuild_summary(source_id, min_day, "9999-12-31")
            if n:
                self.analyze()
        return n

    def delete_source_costs(self, source_id: int) -> None:
        """Delete every cost row of a source, its lines and its rollups (inside a transaction)."""
        for table in LINE_TABLES:
            self.conn.execute(f"DELETE FROM {table} WHERE {_LINES_OF_SOURCE}", (source_id,))
        self.conn.execute("DELETE FROM cost_lines WHERE source_id=?", (source_id,))
        for table in SOURCE_TABLES:
            self.conn.execute(f"DELETE FROM {table} WHERE source_id=?", (source_id,))

    def _cost_tuple(self, source_id: int, d: str, r: CostRow) -> tuple[Any, ...]:
        dim = self.dim_id
        return (
            source_id,
            d,
            dim("provider", r.provider_name),
            dim("billing_account", r.billing_account_id, r.billing_account_name),
            dim("sub_account", r.sub_account_id, r.sub_account_name),
            dim("service", r.service_name, None, r.service_category),
            dim("service_category", r.service_category),
            dim("region", r.region_id, r.region_name),
            dim("resource", r.resource_id, r.resource_name, r.resource_type),
            dim("resource_type", r.resource_type),
            dim("charge_category", r.charge_category),
            dim("pricing_category", r.pricing_category),
            dim("commitment", r.commitment_discount_id, r.commitment_discount_name, r.commitment_discount_type),
            dim("commitment_status", r.commitment_discount_status),
            dim("currency", r.billing_currency or "USD"),
            self.tagset_id(r.tags),
            r.billed_cost,
            r.effective_cost,
            r.list_cost,
            r.contracted_cost,
            r.pricing_quantity,
            r.consumed_quantity,
        )

    def insert_cost_tuples(self, tuples: list[tuple[Any, ...]]) -> None:
        """Low-level bulk insert of prepared cost tuples (inside a transaction; best inside
        `bulk_costs()`). Columns: source_id, day, COST_DIMS, billed, effective, list, contracted,
        pricing_quantity, consumed_quantity. Each tuple lands on its line (created when new) and
        day; tuples of the same line and day add up. The caller rebuilds the summary
        (`rebuild_summary`)."""
        self._stage_incoming(_INSERT_COSTS, tuples)

    def insert_packed_cost_tuples(self, tuples: list[tuple[Any, ...]]) -> None:
        """`insert_cost_tuples` with the dimension ids packed (fewer values to bind per row):
        source_id, day, one integer per group of PACK_GROUPS (each id in PACK_BITS bits, the
        group's first dimension highest, 0 for NULL; ids up to PACK_MAX_ID), billed, effective,
        list, contracted, pricing_quantity, consumed_quantity. SQLite unpacks them: the rows
        stored are those `insert_cost_tuples` would store."""
        self._stage_incoming(_INSERT_PACKED_COSTS, tuples)

    def _stage_incoming(self, sql: str, tuples: list[tuple[Any, ...]]) -> None:
        if not tuples:
            return
        if self._bulk is not None:
            self._bulk.before_insert(len(tuples))
        self.conn.execute(_INCOMING_DDL)
        self.conn.executemany(sql, tuples)
        self.conn.execute(_NEW_LINES)
        self.conn.execute(_NEW_FACTS)
        self.conn.execute(f"DELETE FROM {_INCOMING}")

    def insert_rollup_tuples_of(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert precomputed rows of one coarse rollup table instead of `rebuild_summary`
        (inside a transaction), for bulk writers that aggregate elsewhere. They must equal what
        `rebuild_summary` would write (tested on the FOCUS importer): cost_summary_weekly /
        cost_summary_monthly = (source_id, period, SUMMARY_DIMS, amounts, n) per week and month;
        cost_daily_dims = (source_id, day, dim, value, currency, amounts, n) per SUMMARY_DIMS column
        `dim` and 'tagset'. The rows they replace must be deleted first."""
        self.conn.executemany(_INSERT_ROLLUP[table], rows)

    def cost_tables_ddl(self) -> list[str]:
        """CREATE TABLE statements of the cost storage tables (COST_STORAGE) as this cache has
        them: a staging file made with them can be copied in by `insert_costs_from_file`."""
        marks = ", ".join("?" * len(COST_STORAGE))
        return [str(r[0]) for r in self.conn.execute(
            f"SELECT sql FROM sqlite_master WHERE type='table' AND name IN ({marks}) ORDER BY name", COST_STORAGE)]

    def next_line_id(self) -> int:
        """The first id free for new cost lines (a bulk writer numbers its lines from here)."""
        return int(self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM cost_lines").fetchone()[0])

    def insert_costs_from_file(self, path: str) -> int:
        """Insert every row of the cost storage tables of the SQLite file `path` (tables made with
        `cost_tables_ddl`, rows a bulk writer made elsewhere, e.g. DuckDB: lines numbered from
        `next_line_id`, their facts and line rollups, and the coarse rollups
        `insert_rollup_tuples_of` describes) into this cache's, inside the caller's transaction,
        best inside `bulk_costs()`. SQLite copies the records itself: no Python object per row.
        The file stays attached until `detach_costs_file` (SQLite cannot detach inside a
        transaction). Returns the daily rows (facts) inserted."""
        self.conn.execute("ATTACH DATABASE ? AS costdeck_stage", (path,))
        n = int(self.conn.execute("SELECT count(*) FROM costdeck_stage.cost_facts").fetchone()[0])
        if self._bulk is not None and n:
            self._bulk.before_insert(n)
        for table in COST_STORAGE:
            # Same DDL, whole table: SQLite's transfer optimisation copies the records as they are
            # into an empty table; otherwise rows go in key order (new lines: appended).
            self.conn.execute(f"INSERT INTO main.{table} SELECT * FROM costdeck_stage.{table}")
        return n

    def detach_costs_file(self) -> None:
        """Detach the file `insert_costs_from_file` attached (after the transaction ended)."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("DETACH DATABASE costdeck_stage")

    def cost_row_count(self, source_id: int | None = None) -> int:
        """Daily cost rows (facts) in the cache, or of one source, from the monthly rollup's
        counts (a few thousand rows read, not millions)."""
        where, params = ("WHERE source_id = ?", (source_id,)) if source_id is not None else ("", ())
        row = self.conn.execute(f"SELECT coalesce(sum(n), 0) FROM cost_summary_monthly {where}", params).fetchone()
        return int(row[0])

    def rebuild_summary(self, source_id: int, lo: str = "0000-01-01", hi: str = "9999-12-31") -> None:
        """Rebuild the rollups for a source's days in [lo, hi) (call inside a transaction; the
        weekly and monthly rows of the weeks and months overlapping [lo, hi) are rebuilt whole).

        For bulk writers that insert with `insert_cost_tuples` instead of `replace_costs`.
        """
        self._rebuild_summary(source_id, lo, hi)

    def _rebuild_summary(self, source_id: int, lo: str, hi: str) -> None:
        cols = _SUMMARY_COLS
        sums = "sum(billed), sum(effective), sum(list), sum(contracted)"
        wlo, whi = _week_bounds(lo, hi)
        mlo, mhi = _month_bounds(lo, hi)
        # The line rollups, from the facts of the source's lines.
        for table, period, expr, plo, phi in (("cost_weekly_lines", "week", _WEEK_OF_DAY, wlo, whi),
                                              ("cost_monthly_lines", "month", _MONTH_OF_DAY, mlo, mhi)):
            self.conn.execute(f"DELETE FROM {table} WHERE {_LINES_OF_SOURCE} AND {period}>=? AND {period}<?",
                              (source_id, plo, phi))
            self.conn.execute(
                f"""INSERT INTO {table}(line, {period}, billed, effective, list, contracted, n)
                    SELECT line, {expr} AS p, {sums}, count(*) FROM cost_facts
                    WHERE {_LINES_OF_SOURCE} AND day>=? AND day<? GROUP BY line, p""",
                (source_id, plo, phi),
            )
        # The source's daily coarse rows of the widest period range, once; every coarse rollup
        # is grouped from them (a few rows per day and combination instead of every fact).
        clo, chi = min(wlo, mlo, lo), max(whi, mhi, hi)
        self.conn.execute("DROP TABLE IF EXISTS temp.costdeck_coarse")
        self.conn.execute(
            f"""CREATE TEMP TABLE costdeck_coarse AS SELECT source_id, day, {cols}, sum(billed) AS billed,
                sum(effective) AS effective, sum(list) AS list, sum(contracted) AS contracted,
                count(*) AS n FROM costs WHERE source_id=? AND day>=? AND day<? GROUP BY source_id, day, {cols}""",
            (source_id, clo, chi),
        )
        coarse = "temp.costdeck_coarse"
        nsums = "sum(billed), sum(effective), sum(list), sum(contracted), sum(n)"
        # One narrow daily series per coarse dimension, and the daily pairs of them.
        self.conn.execute("DELETE FROM cost_daily_dims WHERE source_id=? AND day>=? AND day<?", (source_id, lo, hi))
        self.conn.execute(
            "INSERT INTO cost_daily_dims(source_id, day, dim, value, currency, billed, effective, list, contracted, n) "
            + " UNION ALL ".join(
                f"SELECT source_id, day, '{d}', {d}, currency, {nsums} "
                f"FROM {coarse} WHERE day>=? AND day<? GROUP BY source_id, day, {d}, currency" for d in SUMMARY_DIMS),
            (lo, hi) * len(SUMMARY_DIMS),
        )
        # The tag sets' daily series (tag sets are not coarse: from the facts).
        self.conn.execute(
            "INSERT INTO cost_daily_dims(source_id, day, dim, value, currency, billed, effective, list, contracted, n) "
            f"SELECT source_id, day, 'tagset', tagset, currency, {sums}, count(*) FROM costs "
            "WHERE source_id=? AND day>=? AND day<? GROUP BY source_id, day, tagset, currency",
            (source_id, lo, hi),
        )
        self.conn.execute("DELETE FROM cost_daily_pairs WHERE source_id=? AND day>=? AND day<?", (source_id, lo, hi))
        self.conn.execute(
            f"INSERT INTO cost_daily_pairs SELECT * FROM ({pair_rollup_sql(coarse)}) WHERE day>=? AND day<?", (lo, hi))
        for table, period, expr, plo, phi in (("cost_summary_monthly", "month", _MONTH_OF_DAY, mlo, mhi),
                                              ("cost_summary_weekly", "week", _WEEK_OF_DAY, wlo, whi)):
            self.conn.execute(f"DELETE FROM {table} WHERE source_id=? AND {period}>=? AND {period}<?",
                              (source_id, plo, phi))
            self.conn.execute(
                f"""INSERT INTO {table}(source_id, {period}, {cols}, billed, effective, list, contracted, n)
                    SELECT source_id, {expr} AS p, {cols}, {nsums}
                    FROM {coarse} WHERE day>=? AND day<?
                    GROUP BY source_id, p, {cols}""",
                (plo, phi),
            )
        self.conn.execute("DROP TABLE temp.costdeck_coarse")

    def analyze(self) -> None:
        """Refresh the planner statistics of the cost tables (sampled: milliseconds)."""
        self.conn.execute("PRAGMA analysis_limit = 400")
        for table in COST_STORAGE:
            self.conn.execute(f"ANALYZE {table}")

    # -- generic record writes (inventory, metrics, prices, commitments, ML) -------
    def upsert(self, table: str, records: Iterable[dict[str, Any]], pk: str | tuple[str, ...]) -> int:
        recs = [_jsonify(r) for r in records]
        if not recs:
            return 0
        self.db[table].upsert_all(recs, pk=pk, alter=False)
        return len(recs)

    def replace_where(self, table: str, where: str, params: tuple[Any, ...], records: Iterable[dict[str, Any]]) -> int:
        """Delete rows matching `where` then insert `records` (call inside a transaction)."""
        self.conn.execute(f"DELETE FROM {table} WHERE {where}", params)
        recs = [_jsonify(r) for r in records]
        if recs:
            self.db[table].insert_all(recs, alter=False)
        return len(recs)

    def log_action(self, **fields: Any) -> int:
        fields.setdefault("at", timeutil.iso(timeutil.now()))
        rec = _jsonify(fields)
        cur = self.conn.execute(
            f"INSERT INTO actions({', '.join(rec)}) VALUES({', '.join('?' for _ in rec)})", tuple(rec.values())
        )
        return int(cur.lastrowid or 0)

    def integrity_ok(self) -> bool:
        return bool(self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def table_counts(self) -> dict[str, int]:
        names = [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {n: self.conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}
        counts["costs"] = counts.get("cost_facts", 0)  # the view's rows are the facts
        return counts


class _CostBulk:
    """State of one `Store.bulk_costs` block: whether the secondary indexes are dropped."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.existing: int | None = None  # daily cost rows when the block started
        self.inserted = 0
        self.dropped: list[str] = []  # CREATE INDEX statements to run at the end

    def before_insert(self, n: int) -> None:
        if self.existing is None:
            self.existing = int(self.conn.execute(
                "SELECT coalesce(sum(n), 0) FROM cost_summary_monthly").fetchone()[0])
        self.inserted += n
        if not self.dropped and self.inserted > BULK_SHARE * (self.existing + self.inserted):
            ddl = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join(repr(t) for t in SOURCE_TABLES)}) ORDER BY tbl_name, name"
            ).fetchall()
            for name, _sql in ddl:
                self.conn.execute(f'DROP INDEX "{name}"')
            self.dropped = [sql for _name, sql in ddl]

    def restore(self) -> None:
        while self.dropped:
            self.conn.execute(self.dropped[0])
            self.dropped.pop(0)


def _month_bounds(lo: str, hi: str) -> tuple[str, str]:
    """[lo, hi) in days -> [first of lo's month, first of the month after hi - 1 day) in months."""
    try:
        mlo = date.fromisoformat(lo).replace(day=1).isoformat()
    except ValueError:
        mlo = lo
    try:
        d = date.fromisoformat(hi) - timedelta(days=1)
        mhi = (date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)).isoformat()
    except (ValueError, OverflowError):
        mhi = hi
    return mlo, mhi


def _week_bounds(lo: str, hi: str) -> tuple[str, str]:
    """[lo, hi) in days -> [Monday of lo's week, Monday after hi - 1 day's week) in weeks."""
    try:
        d = date.fromisoformat(lo)
        wlo = (d - timedelta(days=d.weekday())).isoformat()
    except ValueError:
        wlo = lo
    try:
        d = date.fromisoformat(hi) - timedelta(days=1)
        whi = (d + timedelta(days=7 - d.weekday())).isoformat()
    except (ValueError, OverflowError):
        whi = hi
    return wlo, whi


def _jsonify(rec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if isinstance(v, dict | list):
            out[k] = json.dumps(v, sort_keys=True, ensure_ascii=False)
        elif isinstance(v, datetime):
            out[k] = timeutil.iso(v)
        elif isinstance(v, date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


__all__ = [
    "run_alive",
    "CacheError",
    "CacheVersionError",
    "CostRow",
    "SourceInfo",
    "Store",
    "SyncRun",
    "canonical_tags",
    "CacheLockTimeout",
    "LockWait",
    "LOCK_TIMEOUT_ENV",
    "LOCK_WAIT_MESSAGE",
    "lock_timeout",
    "set_lock_wait_hook",
]
