"""The costdeck Textual app: one mode per top-level view, number keys to switch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App
from textual.binding import Binding
from textual.command import Hit, Hits, Provider

from cache import Store

from .dialogs import HelpScreen
from .screens.overview import OverviewScreen
from .screens.spend import SpendScreen

T = TypeVar("T")


@dataclass(slots=True)
class CacheInfo:
    snapshot_time: datetime | None
    sources: list[str]
    demo: bool
    read_only: bool


VIEWS: list[tuple[str, str, str]] = [
    # (key, mode, title)
    ("1", "overview", "Overview"),
    ("2", "spend", "Spend"),
]


class ViewCommands(Provider):
    """Command palette: every view, and the current view's own commands."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, CostdeckApp)
        matcher = self.matcher(query)
        commands: list[tuple[str, Callable[[], Any], str]] = []
        for key, mode, title in VIEWS:
            commands.append((f"Go to {title} ({key})", partial(app.switch_mode, mode), f"Open the {title} view"))
        commands.append(("Reload from cache (r)", app.action_reload, "Re-read the cache file"))
        commands.append(("Help for this view (?)", app.action_help, "Keys of the current view"))
        extra = getattr(self.screen, "palette_commands", None)  # the view the palette was opened from
        if callable(extra):
            commands.extend(extra())
        for name, callback, help_text in commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class CostdeckApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "costdeck"
    COMMANDS = App.COMMANDS | {ViewCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    MODES = {"overview": OverviewScreen, "spend": SpendScreen}

    BINDINGS = [
        *[Binding(key, f"switch_mode('{mode}')", title, id=f"view.{mode}") for key, mode, title in VIEWS],
        Binding("question_mark", "help", "Help", id="app.help"),
        # ctrl+p works everywhere (priority); ":" only where no text input has focus.
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True, id="app.palette"),
        Binding("colon", "command_palette", "Commands", show=False, id="app.palette.colon"),
        Binding("r", "reload", "Reload", id="app.reload"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, db_path: Path | str, *, read_only: bool = False, start_mode: str = "overview") -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.read_only = read_only
        self.store = Store(self.db_path)
        self.db_lock = threading.Lock()
        self.cache_info = self._read_info()
        self.start_mode = start_mode

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)

    def _read_info(self) -> CacheInfo:
        with self.db_lock:
            return CacheInfo(
                snapshot_time=self.store.snapshot_time(),
                sources=[s.name for s in self.store.list_sources()],
                demo=self.store.is_demo(),
                read_only=self.read_only,
            )

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run a read on the cache connection (from any thread)."""
        with self.db_lock:
            return fn(self.store.conn)

    def action_help(self) -> None:
        screen = self.screen
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for node_bindings in (getattr(screen, "BINDINGS", []), self.BINDINGS):
            for b in node_bindings:
                if isinstance(b, Binding) and b.description and b.key not in seen:
                    if hasattr(screen, "check_action") and screen.check_action(b.action, ()) is False:
                        continue
                    seen.add(b.key)
                    keys.append((_key_label(b.key), b.description))
        keys.append(("ctrl+p  :", "command palette"))
        title = getattr(screen, "VIEW_TITLE", "costdeck")
        self.push_screen(HelpScreen(title, keys, getattr(screen, "HELP", "")))

    def action_reload(self) -> None:
        self.cache_info = self._read_info()
        screen = self.screen
        for bar in screen.query("TopBar"):
            bar.refresh_bar()  # type: ignore[attr-defined]
        reload = getattr(screen, "reload", None)
        if callable(reload):
            reload()
        self.notify("Reloaded from the cache", timeout=2)

    def on_unmount(self) -> None:
        self.store.close()


def _key_label(key: str) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "esc", "space": "space", "colon": ":"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in key.split(","))
