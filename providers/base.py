"""The provider adapter protocol and the per-source sync context.

Contract (every provider adapter and every step function follows it):

* An adapter is a subclass of `Adapter` (below), built as `Adapter(name, options, store_path)`
  where `options` is the source's validated options model (the kind's `Options`). `sync(ctx)` pulls data for one source
  and writes it through `ctx.store`. It runs in a worker thread (one thread per source), so it
  must not touch signals or global state, and must only use `ctx.store` (its own connection).
* A sync is a list of named steps (`costs`, `inventory`, ...). The adapter calls
  `ctx.set_steps([...])` once, then `ctx.run_step(name, fn, *args)` for each: the step's
  progress is reported, its rows counted, and an exception in it is recorded as that step's
  error (one line) while the next steps still run. An exception marked `fatal` (expired or
  missing credentials) stops the source.
* A step function has the signature `def sync_x(ctx: SyncContext, aws: AwsSession) -> int` (for
  AWS; other providers pass their own client object) and returns the number of rows it wrote.
  It may call `ctx.add_rows(n)` while it runs for live progress; the returned count is the
  authoritative one (no double counting), and `ctx.progress(detail=...)` shows sub-step text.
* Costs are written with `ctx.write_costs(rows)`: ONE transaction that deletes the source's
  rows in `ctx.cost_window` [start, end) and inserts the new ones. Fetch everything first, then
  write; an error before or during the write leaves the previous data whole.
* Other tables are written with `ctx.store.upsert(...)` / `ctx.store.replace_where(...)`, inside
  `with ctx.store.transaction():` when several statements must land together.
* API requests are counted by the provider's client factory into `ctx.counter` (every HTTP
  attempt, retries included; billed requests, e.g. AWS Cost Explorer, separately).
* Times: `ctx.now` is an aware UTC datetime; `ctx.today` its date. Never use naive datetimes.
"""

from __future__ import annotations

import threading
import time
from abc import ABC
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar

from msgspec import Meta

from cache import CostRow, Store, timeutil

from .errors import SourceError
from .options import Model

_T = TypeVar("_T")

if TYPE_CHECKING:
    from .actions import Executor, ScriptExporter
    from .config import ProtectionConfig

# -- errors ----------------------------------------------------------------------------


class StepError(SourceError):
    """One step failed (e.g. access denied on one API); the source's other steps still run."""


class FatalSourceError(SourceError):
    """The whole source cannot continue (expired or missing credentials, unknown profile)."""


# -- progress ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceProgress:
    """A snapshot of one source's sync progress, passed to the progress callback.

    status: queued | running | ok | partial | failed.
    """

    source: str
    kind: str
    status: str = "queued"
    step: str = ""
    detail: str = ""
    steps_done: int = 0
    steps_total: int = 0
    rows: int = 0
    api_calls: int = 0
    billed_api_calls: int = 0
    retries: int = 0
    elapsed_s: float = 0.0
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("ok", "partial", "failed")


class RequestCounter:
    """Thread-safe counters of HTTP requests made for one source (retries included)."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self.api_calls = 0
        self.billed_api_calls = 0
        self.retries = 0
        self.by_operation: dict[str, int] = {}
        self.on_change = on_change

    def record(self, operation: str, *, billed: bool = False, retry: bool = False) -> None:
        with self._lock:
            self.api_calls += 1
            if billed:
                self.billed_api_calls += 1
            if retry:
                self.retries += 1
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
        if self.on_change is not None:
            self.on_change()


@dataclass(slots=True)
class StepOutcome:
    name: str
    status: str = "pending"  # pending | running | ok | failed | skipped
    rows: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status, "rows": self.rows, "api_calls": self.api_calls,
                             "seconds": round(self.seconds, 3)}
        if self.error:
            d["error"] = self.error
        return d


# -- the context -------------------------------------------------------------------------


@dataclass
class SyncContext:
    """What a sync of one source works with. Built by providers.sync.run_sync.

    Attributes adapters use: store, source_id, source_name, kind, options, now, today,
    cost_window (start inclusive, end exclusive), first_sync, counter.
    """

    store: Store
    source_id: int
    source_name: str
    kind: str
    options: Model
    now: datetime
    cost_window: tuple[date, date]
    first_sync: bool = True
    on_progress: Callable[[SourceProgress], None] | None = None
    counter: RequestCounter = field(default_factory=RequestCounter)
    steps: dict[str, StepOutcome] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    min_interval_s: float = 0.1
    _rows: int = 0
    _step: str = ""
    _detail_text: str = ""
    _status: str = "running"
    _started: float = field(default_factory=time.monotonic)
    _last_emit: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("SyncContext.now must be timezone-aware (UTC)")
        self.counter.on_change = lambda: self.progress()

    # -- read-only views ------------------------------------------------------------
    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def rows(self) -> int:
        return self._rows

    @property
    def api_calls(self) -> int:
        return self.counter.api_calls

    @property
    def billed_api_calls(self) -> int:
        return self.counter.billed_api_calls

    # -- steps ----------------------------------------------------------------------
    def set_steps(self, names: Sequence[str]) -> None:
        for n in names:
            self.steps.setdefault(n, StepOutcome(n))
        self.progress(force=True)

    @contextmanager
    def step(self, name: str) -> Iterator[StepOutcome]:
        """Report `name` as the current step; errors propagate (see run_step to record them)."""
        out = self.steps.setdefault(name, StepOutcome(name))
        out.status = "running"
        self._step, self._detail_text = name, ""
        calls0, t0 = self.counter.api_calls, time.monotonic()
        self.progress(force=True)
        try:
            yield out
        except BaseException:
            out.status = "failed"
            raise
        else:
            out.status = "ok"
        finally:
            out.api_calls = self.counter.api_calls - calls0
            out.seconds = time.monotonic() - t0
            self.progress(force=True)

    def run_step(
        self,
        name: str,
        fn: Callable[..., int | None],
        *args: Any,
        translate: Callable[[BaseException], BaseException] | None = None,
    ) -> StepOutcome:
        """Run one step; record its rows or its one-line error. Fatal errors propagate.

        `translate` maps provider exceptions to StepError / FatalSourceError (one-line
        messages); anything else not translated is recorded as `Type: message`.
        """
        rows0 = self._rows
        out = self.steps.setdefault(name, StepOutcome(name))
        try:
            with self.step(name):
                n = fn(self, *args)
                if isinstance(n, int):
                    self._set_rows(rows0 + n)
                out.rows = self._rows - rows0
        except Exception as exc:  # noqa: BLE001 - each step's failure is recorded, not fatal
            err: BaseException = translate(exc) if translate else exc
            out.status = "failed"
            out.rows = self._rows - rows0
            out.error = one_line(err)
            if isinstance(err, FatalSourceError):
                if err is exc:
                    raise
                raise err from exc
        return out

    def skip_step(self, name: str, reason: str) -> None:
        out = self.steps.setdefault(name, StepOutcome(name))
        out.status, out.error = "skipped", reason
        self.progress(force=True)

    # -- fetch what changed ------------------------------------------------------------------
    def last_fetch(self, key: str) -> tuple[datetime | None, str | None]:
        """(when, digest) of this source's last successful fetch of `key` (mark_fetched), or
        (None, None). Adapters use it to skip requests whose answer cannot have changed (advice
        fetched today, commitment usage fetched this week with the same commitments)."""
        import json

        raw = self.store.get_meta(f"fetch:{self.source_id}:{key}")
        if not raw:
            return None, None
        try:
            rec = json.loads(raw)
            at = datetime.fromisoformat(rec["at"])
        except (ValueError, KeyError, TypeError):
            return None, None
        return (at if at.tzinfo else None), (str(rec["digest"]) if rec.get("digest") is not None else None)

    def mark_fetched(self, key: str, digest: str | None = None) -> None:
        """Record a successful fetch of `key` at `now` (after its data is written: a crash in
        between only means fetching again)."""
        import json

        with self.store.transaction():
            self.store.set_meta(f"fetch:{self.source_id}:{key}",
                                json.dumps({"at": self.now.isoformat(), "digest": digest}))

    # -- per scope (regions, subscriptions, projects) ------------------------------------------
    def fetch_each(self, scopes: Iterable[str], fetch: Callable[[str], Iterable[_T]], *, label: str,
                   catch: tuple[type[BaseException], ...], text: Callable[[BaseException], str] = str,
                   ) -> tuple[list[_T], list[str], dict[str, str]]:
        """Fetch every scope in turn, progress "<label> <scope>": (what was found, the scopes that
        answered, {scope: one line} for those that raised one of `catch`). The caller writes what
        the scopes that answered hold (the others keep their previous rows) and reports the rest."""
        found: list[_T] = []
        done: list[str] = []
        failed: dict[str, str] = {}
        for scope in scopes:
            self.progress(detail=f"{label} {scope}")
            try:
                found.extend(fetch(scope))
                done.append(scope)
            except catch as exc:
                failed[scope] = text(exc)
        return found, done, failed

    # -- inventory ---------------------------------------------------------------------------
    _RESOURCE_DEFAULTS: ClassVar[dict[str, Any]] = {
        "resource_name": None, "billing_account_id": None, "sub_account_id": None, "region_id": None, "state": None,
        "attached_to": None, "size": None, "instance_type": None, "lifecycle": None, "created_at": None,
        "tags": {}, "properties": {}}

    def replace_resources(self, provider: str, records: Sequence[dict[str, Any]], scope_column: str,
                          scope: Sequence[str], resource_types: Sequence[str]) -> int:
        """Replace this source's inventory of `resource_types` in the synced `scope` (the regions,
        subscriptions or projects whose listing succeeded: the others keep their rows) with
        `records` (dicts of `resources` columns; resource_id and resource_type required), in ONE
        transaction. A resource seen before keeps its first_seen; last_seen is now."""
        if scope_column not in ("region_id", "sub_account_id"):
            raise ValueError(f"scope_column must be region_id or sub_account_id, not {scope_column!r}")
        store = self.store
        now = timeutil.iso(self.now)
        types = ",".join("?" for _ in resource_types)
        with store.transaction():
            first_seen: dict[str, str] = {}
            ids = [r["resource_id"] for r in records]
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                q = ",".join("?" for _ in chunk)
                for row in store.conn.execute(
                        f"SELECT resource_id, first_seen FROM resources WHERE provider_name=? AND resource_id IN ({q})",
                        (provider, *chunk)):
                    first_seen[row[0]] = row[1]
            for value in scope:
                store.conn.execute(
                    f"DELETE FROM resources WHERE source_id=? AND provider_name=? AND {scope_column}=? "
                    f"AND resource_type IN ({types})", (self.source_id, provider, value, *resource_types))
            recs = [{**self._RESOURCE_DEFAULTS, **r, "source_id": self.source_id, "provider_name": provider,
                     "first_seen": first_seen.get(r["resource_id"], now), "last_seen": now} for r in records]
            return store.upsert("resources", recs, pk=("provider_name", "resource_id"))

    # -- rows and progress ---------------------------------------------------------------
    def add_rows(self, n: int) -> None:
        with self._lock:
            self._rows += n
        self.progress()

    def _set_rows(self, n: int) -> None:
        with self._lock:
            self._rows = n
        self.progress(force=True)

    def progress(self, detail: str | None = None, *, force: bool = False) -> None:
        """Push a progress snapshot to the callback (rate-limited unless forced)."""
        if detail is not None:
            self._detail_text = detail
            force = True
        cb = self.on_progress
        if cb is None:
            return
        t = time.monotonic()
        if not force and t - self._last_emit < self.min_interval_s:
            return
        self._last_emit = t
        cb(self.snapshot())

    def snapshot(self, status: str | None = None, error: str | None = None) -> SourceProgress:
        done = sum(1 for s in self.steps.values() if s.status in ("ok", "failed", "skipped"))
        return SourceProgress(
            source=self.source_name,
            kind=self.kind,
            status=status or self._status,
            step=self._step,
            detail=self._detail_text,
            steps_done=done,
            steps_total=len(self.steps),
            rows=self._rows,
            api_calls=self.counter.api_calls,
            billed_api_calls=self.counter.billed_api_calls,
            retries=self.counter.retries,
            elapsed_s=time.monotonic() - self._started,
            error=error,
        )

    # -- writes ------------------------------------------------------------------------
    def write_costs(self, rows: Iterable[CostRow], window: tuple[date, date] | None = None) -> int:
        """Replace this source's costs in the window (default: cost_window) in ONE transaction."""
        win = window or self.cost_window
        n = self.store.replace_costs(self.source_id, rows, window=win)
        self.detail["cost_window"] = [win[0].isoformat(), win[1].isoformat()]
        self.add_rows(n)
        return n

    def step_errors(self) -> dict[str, str]:
        return {n: s.error for n, s in self.steps.items() if s.status == "failed" and s.error}


def one_line(exc: BaseException) -> str:
    """An exception as one line of text (our errors: the message alone)."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, SourceError):
        return msg or type(exc).__name__
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# -- the adapter ------------------------------------------------------------------------------


class NoOptions(Model):
    """A kind without options."""


class CostOptions(Model):
    """What every source that syncs costs accepts (the sync engine reads these two)."""

    backfill_months: Annotated[int, Meta(ge=1, le=38, description="months of costs the first sync fetches "
                                         "(the current month and the N-1 before it)")] = 13
    refetch_days: Annotated[int, Meta(ge=0, le=62, description="days before the last synced day that every "
                                      "later sync fetches again (late-arriving charges)")] = 3


OptionsT = TypeVar("OptionsT", bound=Model)


class Adapter(ABC, Generic[OptionsT]):
    """One kind of source (AWS, MLflow, FOCUS files...): what it reads and how it cleans up.

    A kind declares, as class attributes:

    * `kind`: its name in the config (`kind = "aws"`) and in the cache's sources table;
    * `title`: one line saying what it reads;
    * `Options`: its typed options model (a `providers.options.Model`; `CostOptions` fields when it
      syncs costs); `[sources.NAME]` tables of this kind are validated against it;
    * `steps`: the names of its sync steps, in order (`costdeck sources --kinds` lists them);
    * `configurable`: False for kinds filled by a command rather than by `costdeck sync`
      (`costdeck import`, `costdeck track`, `costdeck demo`); `filled_by` names that command;
    * `cleanup_providers`: the provider names (FOCUS ProviderName, e.g. "AWS") whose resources its
      executor acts on (empty: no cleanup); `demo`: True for the kind that fills the demo cache;
    * `live_runs`: its running ML runs are recorded live on this machine, so they are timed to
      the wall clock rather than to the snapshot time (`costdeck track`).

    An instance is one source: `Adapter(name, options, store_path)`. `sync(ctx)` pulls its data
    (see the module docstring). `executor(store, protection)` returns the cleanup executor that
    acts on this source's resources, or None (the default: no cleanup). `script_exporter()` returns
    the exporter of cleanup plans as a shell script, or None.

    Built-in kinds are registered as entry points in the group `costdeck.adapters`
    (pyproject.toml); a third-party package adds a kind the same way (see providers/registry.py).
    Keep the module that defines the class light: import a cloud SDK inside the methods that use
    it, because every command validates the config, and so imports every configured kind.
    """

    kind: ClassVar[str]
    title: ClassVar[str] = ""
    Options: ClassVar[type[Model]] = NoOptions
    steps: ClassVar[tuple[str, ...]] = ()
    configurable: ClassVar[bool] = True
    filled_by: ClassVar[str] = ""
    cleanup_providers: ClassVar[tuple[str, ...]] = ()
    demo: ClassVar[bool] = False
    live_runs: ClassVar[bool] = False

    def __init__(self, name: str, options: OptionsT, store_path: Path) -> None:
        self.name = name
        self.options: OptionsT = options
        self.store_path = Path(store_path)

    def sync(self, ctx: SyncContext) -> None:
        """Pull this source's data into ctx.store (see the module docstring)."""
        how = f": it is filled by `{self.filled_by}`" if self.filled_by else ""
        raise FatalSourceError(f"sources of kind {self.kind!r} are not synced{how}")

    def translate_error(self, exc: BaseException) -> BaseException:
        """Map a provider exception to StepError/FatalSourceError with a one-line message."""
        return exc

    def executor(self, store: Store, protection: ProtectionConfig, **kw: Any) -> Executor | None:
        """The cleanup executor for this source's resources, or None (no cleanup for this kind)."""
        return None

    @classmethod
    def script_exporter(cls) -> ScriptExporter | None:
        """How a cleanup plan for this kind becomes a shell script, or None."""
        return None


__all__ = [
    "Adapter",
    "CostOptions",
    "NoOptions",
    "FatalSourceError",
    "RequestCounter",
    "SourceProgress",
    "StepError",
    "StepOutcome",
    "SyncContext",
    "one_line",
]
