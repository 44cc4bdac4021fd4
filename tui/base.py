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

    def palette_commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        return []

    @property
    def cd_app(self) -> CostdeckApp:
        return self.app  # type: ignore[return-value]
