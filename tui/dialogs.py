"""Modal dialogs: help, pickers, text prompts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from .widgets import clean


def reflow(notes: str) -> str:
    """Prose wrapped at a fixed width in the source, as paragraphs that wrap to the screen: lines
    join up; a blank line, an indented line (a list item) or a line ending with ':' keep their break."""
    out: list[str] = []
    for line in notes.strip().splitlines():
        prev = out[-1] if out else ""
        if out and line.strip() and not line.startswith(" ") and prev.strip() and not prev.endswith(":") \
                and not prev.startswith(" "):
            out[-1] = f"{prev} {line.strip()}"
        else:
            out.append(line.rstrip())
    return "\n".join(out)


class HelpScreen(ModalScreen[None]):
    """A compact key table of the current view (two columns when the keys are many and the screen
    wide enough), the views' number keys in one line, then the view's notes (scroll)."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100; max-width: 98%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 0 1; }
    HelpScreen .help-notes { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, title: str, keys: list[tuple[str, str]], notes: str = "",
                 views: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys
        self.notes = notes
        self.views = views or []

    def key_table(self, width: int) -> Text:
        t = Text()
        t.append(f"{self.title_text}: keys", style="bold")
        t.append("   esc closes\n", style="dim")
        kw = max((len(k) for k, _ in self.keys), default=4) + 2
        short = [(k, d) for k, d in self.keys if len(d) <= 24]
        long = [(k, d) for k, d in self.keys if len(d) > 24]
        cell = kw + 26
        cols = 2 if len(short) > 6 and 2 * cell <= width else 1
        rows = -(-len(short) // cols)
        for r in range(rows):
            for c in range(cols):
                i = c * rows + r
                if i >= len(short):
                    continue
                key, desc = short[i]
                t.append(f"{key:<{kw}}", style="bold cyan")
                t.append(f"{desc:<{cell - kw}}" if c < cols - 1 else desc)
            t.append("\n")
        for key, desc in long:
            t.append(f"{key:<{kw}}", style="bold cyan")
            t.append(f"{desc}\n")
        if self.views:
            t.append("views ", style="dim")
            t.append("  ".join(f"{k} {v}" for k, v in self.views))
        return t

    def compose(self) -> ComposeResult:
        width = min(100, int(self.app.size.width * 0.98)) - 4
        with VerticalScroll():
            yield Static(self.key_table(width), classes="help-keys")
            if self.notes:
                yield Static(Text(reflow(self.notes)), classes="help-notes")


class TextScreen(ModalScreen[None]):
    """One titled text read in full (an audit entry, a sync run, a list): scrolls, esc closes."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close"),
                Binding("j", "scroll('down')", "Down", show=False), Binding("k", "scroll('up')", "Up", show=False)]
    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > VerticalScroll { width: 100; max-width: 98%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 0 1; }
    TextScreen .text-title { text-style: bold; }
    """

    def __init__(self, title: str, body: Text | str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(self.title_text, style="bold") + Text("   esc closes", style="dim"),
                         classes="text-title")
            yield Static(self.body if isinstance(self.body, Text) else Text(self.body), classes="text-body")

    def action_scroll(self, where: str) -> None:
        scroll = self.query_one(VerticalScroll)
        scroll.scroll_relative(y=1 if where == "down" else -1, animate=False)


class PickerScreen(ModalScreen[str | None]):
    """Pick one option; returns its id (or None on esc)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical { width: 60; max-width: 95%; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 0 1; }
    PickerScreen OptionList { height: auto; max-height: 30; }
    """

    def __init__(self, title: str, options: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            yield OptionList(*[Option(Text(label), id=oid) for oid, label in self.options])

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        for i, (oid, _) in enumerate(self.options):
            if oid == self.current:
                ol.highlighted = i
        ol.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; returns it (or None on esc). `validate` returns an error or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 80; max-width: 95%; height: auto; border: thick $primary;
        background: $surface; padding: 0 1; }
    PromptScreen #error { color: $error; height: auto; }
    """

    def __init__(self, title: str, value: str = "", placeholder: str = "", validate: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.validate = validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder)
            yield Static("", id="error")
            yield Static(Text("enter accepts · esc cancels", style="dim"))

    def on_mount(self) -> None:
        # (keys typed fast in a terminal can close the prompt before it mounts: no Input is left then)
        for box in self.query(Input):
            box.focus()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self.validate is not None:
            err = self.validate(value)
            if err:
                self.query_one("#error", Static).update(Text(err))
                return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _export_path_error(text: str) -> str | None:
    if not text or Path(text).suffix.lower() not in (".csv", ".json"):
        return "give a file name ending in .csv or .json"
    path = Path(text).expanduser()
    if not path.parent.is_dir():
        return f"no such directory: {clean(path.parent, 80)}"
    if path.exists():
        return f"{clean(path.resolve(), 80)} exists: choose another name (nothing is overwritten)"
    return None


def ask_export(screen: Screen[Any], title: str, default: str, write: Callable[[Path], int], noun: str = "rows") -> None:
    """Ask for a .csv/.json path, call write(path) -> count, and notify the outcome (one line)."""

    def done(text: str | None) -> None:
        if not text:
            return
        path = Path(text).expanduser()
        try:
            n = write(path)
        except OSError as exc:
            screen.notify(f"export failed: {exc.strerror or exc}", severity="error")
            return
        screen.notify(f"exported {n:,} {noun} to {clean(path.resolve(), 120)}", timeout=6)

    screen.app.push_screen(PromptScreen(title, default, validate=_export_path_error), done)
