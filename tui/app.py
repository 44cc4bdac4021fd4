"""The costdeck Textual app: one mode per top-level view, number keys to switch.

Workers hand results back as messages and their failures to ONE handler here (see tui/base.py);
writes to the cache (`CostdeckApp.write`) wait for the cache's write lock, the wait shown in the
header and a notification.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.worker import Worker, WorkerState

from cache import LOCK_WAIT_MESSAGE, LockWait, Store, set_lock_wait_hook
from cache.queries import data_range
from providers.base import SourceProgress
from providers.config import Config

from .base import ViewScreen, error_line
from .dialogs import HelpScreen
from .screens.activity import ActivityScreen
from .screens.anomalies import AnomaliesScreen
from .screens.commitments import CommitmentsScreen
from .screens.kubernetes import KubernetesScreen
from .screens.mlruns import MLRunsScreen
from .screens.overview import OverviewScreen
from .screens.recommendations import RecommendationsScreen
from .screens.spend import SpendScreen
from .widgets import Table, clean

T = TypeVar("T")


@dataclass(slots=True)
class CacheInfo:
    snapshot_time: datetime | None
    sources: list[str]
    demo: bool
    read_only: bool
    data_end: date | None = None  # the last day with cost data


VIEWS: list[tuple[str, str, str]] = [
    # (key, mode, title)
    ("1", "overview", "Overview"),
    ("2", "spend", "Spend"),
    ("3", "recommendations", "Recommendations"),
    ("4", "commitments", "Commitments"),
    ("5", "mlruns", "ML runs"),
    ("6", "anomalies", "Anomalies"),
    ("7", "activity", "Activity"),
    ("8", "kubernetes", "Kubernetes"),
]


SHORT_TITLES = {"recommendations": "Recs", "commitments": "Commit", "kubernetes": "K8s", "anomalies": "Anom"}


class ViewCommands(Provider):
    """The command palette's one provider. With nothing typed it lists, in this order: the current
    view's commands (its keys with a description, then its `palette_commands()`), the views, the
    app's commands, then Textual's (keys, theme, screenshot, quit). Any view, a new one included,
    declares its commands by its BINDINGS and `palette_commands`; nothing to register here."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = self.app
        assert isinstance(app, CostdeckApp)
        screen = self.screen  # the view the palette was opened from
        commands: list[tuple[str, Callable[[], Any], str]] = []
        title = getattr(screen, "VIEW_TITLE", "") or "View"
        seen: set[str] = set()
        keys: set[str] = set()
        for b in getattr(screen, "BINDINGS", []):
            if not isinstance(b, Binding) or not b.description or b.action in seen:
                continue
            if screen.check_action(b.action, ()) is False:
                continue
            seen.add(b.action)
            keys.add(f"({_key_label(b.key)})")
            commands.append((f"{title}: {b.description} ({_key_label(b.key)})",
                             partial(screen.run_action, b.action), b.tooltip))
        extra = getattr(screen, "palette_commands", None)
        if callable(extra):  # a view's extra command naming a key listed above is the same command: once
            commands.extend(c for c in extra() if not (c[0].endswith(")") and c[0].rsplit(" ", 1)[-1] in keys))
        for key, mode, view in VIEWS:
            commands.append((f"Go to {view} ({key})", partial(app.switch_mode, mode), ""))
        commands.append(("Reload from cache", app.action_reload, "Re-read the cache file"))
        if app.config.sources:
            commands.append(("Sync all sources (r)", partial(app.start_sync, None), "Pull fresh data in the background"))
            for name in app.config.sources:
                commands.append((f"Sync source {name}", partial(app.start_sync, [name]), "Pull fresh data"))
        commands.append(("Help for this view (?)", app.action_help, "Keys of the current view"))
        for sc in app.get_system_commands(screen):
            commands.append((sc.title, sc.callback, sc.help))
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text or None)


class CostdeckApp(App[int]):
    """The dashboard over one cache file. debug (the CLI's --debug): log the traceback of every
    failed worker (`textual console`) and print them on stderr when the app ends."""

    CSS_PATH = "app.tcss"
    TITLE = "costdeck"
    COMMANDS = {ViewCommands}  # Textual's own commands come last, from ViewCommands
    COMMAND_PALETTE_BINDING = "ctrl+p"
    VIEW_TABS = [(key, mode, SHORT_TITLES.get(mode, title)) for key, mode, title in VIEWS]
    MODES = {"overview": OverviewScreen, "spend": SpendScreen, "recommendations": RecommendationsScreen, "activity": ActivityScreen,
             "commitments": CommitmentsScreen, "mlruns": MLRunsScreen, "kubernetes": KubernetesScreen,
             "anomalies": AnomaliesScreen}

    BINDINGS = [
        # The views are listed with their keys in the header (TopBar), so the footer keeps room for
        # the keys of the view at hand.
        *[Binding(key, f"switch_mode('{mode}')", title, show=False, id=f"view.{mode}") for key, mode, title in VIEWS],
        Binding("question_mark", "help", "Help", id="app.help"),
        # ctrl+p works everywhere (priority); ":" only where no text input has focus.
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True, id="app.palette"),
        Binding("colon", "command_palette", "Commands", show=False, id="app.palette.colon"),
        Binding("r", "refresh", "Refresh", id="app.refresh"),
        Binding("q", "quit", "Quit", id="app.quit"),
        # As in k9s and lazygit: ctrl+c quits (a text input that has focus keeps it for copying).
        Binding("ctrl+c", "quit", "Quit", show=False, id="app.quit.ctrl_c"),
    ]

    def __init__(
        self,
        db_path: Path | str,
        *,
        read_only: bool = False,
        start_mode: str = "overview",
        config: Config | None = None,
        debug: bool = False,
    ) -> None:
        super().__init__()
        self.debug_tracebacks = debug  # the CLI's --debug (App.debug is Textual's own)
        self.tracebacks: list[str] = []  # of failed workers, kept with debug
        self.lock_waiters: set[int] = set()  # writers waiting for the cache's write lock now
        self._previous_wait_hook: Any = None
        self.db_path = Path(db_path)
        self.config = config or Config()
        self.read_only = read_only or self.config.read_only
        self.syncing = False
        self.data_version = 0
        self.sync_progress: dict[str, SourceProgress] = {}
        self._sync_cancel = threading.Event()
        self.store = Store(self.db_path)
        self.db_lock = threading.Lock()
        self.cache_info = self._read_info()
        self.start_mode = start_mode

    class SyncProgressed(Message):
        def __init__(self, progress: SourceProgress) -> None:
            super().__init__()
            self.progress = progress

    class SyncFinished(Message):
        def __init__(self, results: list[Any], recs_error: str | None) -> None:
            super().__init__()
            self.results = results
            self.recs_error = recs_error

    class LockWaitChanged(Message):
        def __init__(self, wait: LockWait) -> None:
            super().__init__()
            self.wait = wait

    def on_mount(self) -> None:
        # Writers of this process (status changes, sync, cleanup) report their lock waits here.
        self._previous_wait_hook = set_lock_wait_hook(self._lock_wait_hook)
        self.switch_mode(self.start_mode)
        self._cache_seen = self._cache_fingerprint()
        self.set_interval(self.WATCH_INTERVAL, self.check_cache_changed)

    # -- another process wrote the cache ------------------------------------------------------
    WATCH_INTERVAL = 2.0  # seconds between two looks at the cache's change counter

    def _cache_fingerprint(self) -> int | None:
        """SQLite's change counter of the cache as this connection sees it (PRAGMA data_version
        changes when ANY other connection, of this process or another, commits); None when the
        connection is busy (a worker reads): look again at the next tick."""
        if not self.db_lock.acquire(blocking=False):
            return None
        try:
            return int(self.store.conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None
        finally:
            self.db_lock.release()

    def check_cache_changed(self) -> bool:
        """Reload the current view (keeping its place) when the cache changed since the last look:
        `costdeck import` / `sync` / cron, or a write of this app. Returns whether it reloaded."""
        seen = self._cache_fingerprint()
        if seen is None or seen == self._cache_seen:
            return False
        self._cache_seen = seen
        if self.syncing:  # the sync's end reloads
            return False
        self.action_reload(quiet=True)
        return True

    def run(self, *args: Any, **kwargs: Any) -> int | None:
        try:
            return super().run(*args, **kwargs)
        finally:
            if self.debug_tracebacks and self.tracebacks:  # the screen is gone: the terminal is readable again
                for tb in self.tracebacks:
                    print(tb, file=sys.stderr, end="" if tb.endswith("\n") else "\n")

    # -- worker failures and lock waits ------------------------------------------------------
    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one handler of every worker's state (screens relay theirs): a failure is notified
        in one line, the node that ran it clears its loading state, and with --debug the
        traceback is kept."""
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        error = worker.error or RuntimeError("unknown error")
        what = worker.description or worker.name or "A background task"
        self.notify(f"{what} failed: {clean(error_line(error), 300)}", severity="error", timeout=12, markup=False)
        hook = getattr(worker.node, "worker_failed", None)
        if callable(hook):
            hook(worker, error)
        if self.debug_tracebacks:
            tb = "".join(traceback.format_exception(error))
            self.tracebacks.append(f"costdeck: {what} failed:\n{tb}")
            self.log.error(tb)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        if worker.group == "sync":
            self.syncing = False
            self.screen.refresh_bindings()

    def _lock_wait_hook(self, wait: LockWait) -> None:
        """Called by a waiting writer, from its own thread."""
        self.post_message(self.LockWaitChanged(wait))

    @on(LockWaitChanged)
    def _lock_wait_changed(self, message: LockWaitChanged) -> None:
        w = message.wait
        if w.state == "waiting":
            if w.waiter in self.lock_waiters:
                return
            self.lock_waiters.add(w.waiter)
            if len(self.lock_waiters) == 1:
                limit = f"{w.timeout / 60:.0f} min" if w.timeout >= 120 else f"{w.timeout:g} s"
                self.notify(f"{LOCK_WAIT_MESSAGE[0].upper()}{LOCK_WAIT_MESSAGE[1:]} (gives up after {limit})",
                            severity="warning", timeout=10, markup=False)
        else:
            if w.waiter not in self.lock_waiters:
                return
            self.lock_waiters.discard(w.waiter)
            if w.state == "acquired" and not self.lock_waiters:
                self.notify(f"Got the cache lock after {w.waited:.0f} s: writing", timeout=3)
        for bar in self.screen.query("TopBar"):
            bar.refresh_bar()  # type: ignore[attr-defined]

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a write in ONE transaction on a connection of its own (call it from a worker thread).
        It waits for the cache's write lock like every writer (`cache.lock_timeout()`), the wait
        shown in the header; giving up raises CacheLockTimeout (the worker's failure)."""
        with Store(self.db_path) as store, store.transaction() as conn:
            return fn(conn)

    def _read_info(self) -> CacheInfo:
        with self.db_lock:
            return CacheInfo(
                snapshot_time=self.store.snapshot_time(),
                # names only: list_sources() also counts every source's cost rows, too slow for the UI thread
                sources=[r[0] for r in self.store.conn.execute("SELECT name FROM sources ORDER BY name")],
                demo=self.store.is_demo(),
                read_only=self.read_only,
                data_end=(rng[1] if (rng := data_range(self.store.conn)) else None),
            )

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run a read on the cache connection (from any thread)."""
        with self.db_lock:
            return fn(self.store.conn)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Screenshots go to the Downloads folder when there is one, else the current directory."""
        if path is None:
            import platformdirs

            downloads = platformdirs.user_downloads_path()
            path = str(downloads if downloads.is_dir() else Path.cwd())
        return super().deliver_screenshot(filename, path, time_format)

    def action_help(self) -> None:
        screen = self.screen
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for node_bindings in (getattr(screen, "BINDINGS", []), self.BINDINGS):
            for b in node_bindings:
                if isinstance(b, Binding) and b.description and b.key not in seen and b.action != "command_palette" \
                        and not b.action.startswith("switch_mode"):  # the views: one line of their own
                    if hasattr(screen, "check_action") and screen.check_action(b.action, ()) is False:
                        continue
                    seen.add(b.key)
                    same = next((i for i, (_, d) in enumerate(keys) if d == b.description), None)
                    if same is not None:  # q and ctrl+c: one line
                        keys[same] = (f"{keys[same][0]}, {_key_label(b.key)}", b.description)
                    else:
                        keys.append((_key_label(b.key), b.description))
        tables = screen.query(Table)
        if tables:  # the one Table's keys (a view's own g wins: Spend's group by)
            top = "" if "g" in seen else "g/"
            keys.append((f"j/k  {top}G", f"table: down/up, {'top/' if top else ''}bottom (also arrows, Home/End)"))
            # S is listed where the table sorts (view 6's s is open/all, not a sort; ML runs' s sorts its own way)
            if "S" not in seen and tables.first().check_action("sort_next", ()) is not False:
                keys.append(("S", "table: sort by the next column (again: reverse)"))
        keys.append(("ctrl+p  :", "command palette"))
        title = getattr(screen, "VIEW_TITLE", "costdeck")
        self.push_screen(HelpScreen(title, keys, getattr(screen, "HELP", ""),
                                    views=[(k, short) for k, _, short in self.VIEW_TABS]))

    def action_reload(self, quiet: bool = False) -> None:
        self.data_version += 1
        screen = self.screen
        try:
            self.cache_info = self._read_info()
        except (sqlite3.Error, OSError) as exc:  # the view's own load reports it too
            self.notify(f"Reading the cache failed: {clean(error_line(exc), 300)}", severity="error", timeout=12,
                        markup=False)
            quiet = True
        if isinstance(screen, ViewScreen):
            screen._seen_version = self.data_version
        for bar in screen.query("TopBar"):
            bar.refresh_bar()  # type: ignore[attr-defined]
        reload = getattr(screen, "reload", None)
        if callable(reload):
            reload()
        if not quiet:
            self.notify("Reloaded from the cache", timeout=2)

    # -- refresh and sync ----------------------------------------------------------
    def action_refresh(self) -> None:
        """r: sync every configured source in the background; with none configured, reload the cache."""
        if self.config.sources:
            self.start_sync(None)
        else:
            self.action_reload()

    def start_sync(self, names: list[str] | None) -> None:
        if self.syncing:
            self.notify("A sync is already running (see Activity, 7)", severity="warning")
            return
        if not self.config.sources:
            self.notify("No sources configured: add [sources.NAME] to the config file", severity="warning")
            return
        self.syncing = True
        self._sync_cancel.clear()
        self.sync_progress = {}
        self.screen.refresh_bindings()
        label = ", ".join(names) if names else "all sources"
        self.notify(f"Syncing {label} in the background…", timeout=3)
        self._run_sync(names)

    def cancel_sync(self) -> None:
        if self.syncing:
            self._sync_cancel.set()
            self.notify("Cancelling the sync: each source keeps its previous data", severity="warning")

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False, description="Sync")
    def _run_sync(self, names: list[str] | None) -> None:
        """Sync in the background; a failure (e.g. an unknown source) is reported by the one
        handler of worker failures, and `worker_failed` ends the syncing state."""
        from providers.sync import run_sync

        def progress(p: SourceProgress) -> None:
            self.post_message(self.SyncProgressed(p))

        results = run_sync(self.db_path, self.config, names, progress=progress, cancel=self._sync_cancel)
        recs_error = self._recompute_recommendations()
        self.post_message(self.SyncFinished(results, recs_error))

    def _recompute_recommendations(self) -> str | None:
        """After a sync, in the sync worker: re-run the recommendation rules (on a connection of its
        own). Returns why they were not recomputed, or None."""
        from analysis import anomalies
        from analysis.recommendations.engine import recompute

        try:
            with Store(self.db_path) as store:
                recompute(store, self.config)
                anomalies.recompute(store, self.config)
        except Exception as exc:  # noqa: BLE001 - the sync itself succeeded; say why the advice is stale
            return error_line(exc)
        return None

    @on(SyncProgressed)
    def _on_progress(self, message: SyncProgressed) -> None:
        p = message.progress
        self.sync_progress[p.source] = p

    @on(SyncFinished)
    def _sync_done(self, message: SyncFinished) -> None:
        results = message.results
        if message.recs_error:
            self.notify(f"Recommendations not recomputed: {clean(message.recs_error, 160)}",
                        severity="warning", timeout=10, markup=False)
        self.syncing = False
        failed = [r for r in results if r.status == "failed"]
        partial = [r for r in results if r.status == "partial"]
        rows = sum(r.rows for r in results)
        billed = sum(r.billed_api_calls for r in results)
        msg = f"Sync finished: {len(results) - len(failed)}/{len(results)} sources, {rows:,} rows"
        if billed:
            msg += f", {billed} billed API calls (${billed / 100:.2f})"
        for r in failed + partial:
            detail = r.error or "; ".join(f"{k}: {v}" for k, v in r.step_errors.items())
            msg += f"\n{r.source}: {r.status}: {clean(detail, 160)}"
        self.notify(msg, severity="error" if failed else "warning" if partial else "information",
                    timeout=12 if failed or partial else 6, markup=False)
        self.action_reload(quiet=True)
        self.screen.refresh_bindings()

    def on_unmount(self) -> None:
        self._sync_cancel.set()
        set_lock_wait_hook(self._previous_wait_hook)
        # A worker thread may be reading on the connection: stop its statement and close once it
        # has let go (closing a connection under a running statement can crash the interpreter;
        # seen quitting right after the first frame of a 13-month cache).
        with contextlib.suppress(sqlite3.Error):
            self.store.conn.interrupt()
        if self.db_lock.acquire(timeout=5):
            try:
                self.store.close()
            finally:
                self.db_lock.release()


def _key_label(key: str) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "space": "space", "colon": ":"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))
