"""Base class of the top-level views."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

if TYPE_CHECKING:
    from .app import CostdeckApp


class ViewScreen(Screen[None]):
    """A top-level view: a title, help notes and palette commands."""

    VIEW_TITLE = ""
    HELP = ""
    _seen_version = 0

    def on_screen_resume(self) -> None:
        """Coming back to a view after the cache changed (sync, reload): refresh it."""
        version = self.cd_app.data_version
        for bar in self.query("TopBar"):
            bar.refresh_bar()  # type: ignore[attr-defined]
        if version != self._seen_version:
            self._seen_version = version
            reload = getattr(self, "reload", None)
            if callable(reload) and self.is_mounted:
                reload()

    def reload(self) -> None:  # overridden by views
        return None

    def palette_commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        return []

    @property
    def cd_app(self) -> CostdeckApp:
        return self.app  # type: ignore[return-value]
