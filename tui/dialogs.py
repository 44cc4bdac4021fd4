"""Modal dialogs: help, pickers, text prompts, the progress of a long job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from .base import WorkerStateRelay, post_result
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


def _export_path_error(text: str, suffixes: tuple[str, ...] = (".csv", ".json")) -> str | None:
    if not text or Path(text).suffix.lower() not in suffixes:
        return f"give a file name ending in {' or '.join(suffixes)}"
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


def ask_path(screen: Screen[Any], title: str, default: str, suffixes: tuple[str, ...],
             then: Callable[[Path], None]) -> None:
    """Ask for a new file's path ending in one of `suffixes` (an existing file is refused), then
    call then(path)."""

    def done(text: str | None) -> None:
        if text:
            then(Path(text).expanduser())

    screen.app.push_screen(PromptScreen(title, default, validate=lambda t: _export_path_error(t, suffixes)), done)


# A job run by ProgressScreen: job(report, cancelled) -> result, from a worker thread. It calls
# report(done, total) as it goes and stops (raising anything) once cancelled() is true.
Job = Callable[[Callable[[int, int], None], Callable[[], bool]], Any]


@dataclass(slots=True)
class JobOutcome:
    status: str  # "done", "cancelled" or "failed" (the failure is already notified, in one line)
    result: Any = None


class ProgressScreen(WorkerStateRelay, ModalScreen[JobOutcome]):
    """A job the user started that takes a while (an export of millions of rows), in a thread
    worker: a progress bar with the items done of the total and the rate; esc cancels. Dismissed
    with a JobOutcome. A job that fails is notified by the app's one worker handler."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ProgressScreen { align: center middle; }
    ProgressScreen > Vertical { width: 72; max-width: 95%; height: auto; border: thick $primary;
        background: $surface; padding: 0 1; }
    ProgressScreen ProgressBar { margin: 1 0 0 0; }
    ProgressScreen #progress-detail { height: 1; }
    """
    REPORT_EVERY = 0.1  # seconds between two progress messages from the worker

    class Progress(Message, bubble=False):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done = done
            self.total = total

    class Finished(Message, bubble=False):
        def __init__(self, outcome: JobOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, title: str, job: Job, noun: str = "rows", what: str = "The job") -> None:
        super().__init__()
        self.title_text = title
        self.what = what
        self.job = job
        self.noun = noun
        self.cancel_event = threading.Event()
        self.started = time.monotonic()
        self._last_report = 0.0
        self.done_count = 0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text, style="bold"))
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
            yield Static(Text(f"counting the {self.noun}…", style="dim"), id="progress-detail")
            yield Static(Text("esc cancels", style="dim"), id="progress-hint")

    def on_mount(self) -> None:
        self.started = time.monotonic()
        # a failure is notified as "<what> failed: <one line>" by the app's worker handler
        self.run_worker(self._run_job, thread=True, group="progress", exit_on_error=False, description=self.what)

    def _run_job(self) -> None:
        worker = get_current_worker()

        def cancelled() -> bool:  # esc, or the app quitting (it cancels its workers and waits for this thread)
            return self.cancel_event.is_set() or worker.is_cancelled

        try:
            result = self.job(self._report, cancelled)
        except Exception:
            if cancelled():  # stopped by the cancel: not a failure
                post_result(self, self.Finished(JobOutcome("cancelled")))
                return
            raise
        post_result(self, self.Finished(JobOutcome("cancelled" if cancelled() else "done", result)))

    def _report(self, done: int, total: int) -> None:
        """From the worker: at most every REPORT_EVERY seconds (and the first and last)."""
        now = time.monotonic()
        if done and done < total and now - self._last_report < self.REPORT_EVERY:
            return
        self._last_report = now
        self.post_message(self.Progress(done, total))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.done_count = message.done
        self.query_one(ProgressBar).update(total=max(message.total, 1), progress=message.done)
        if self.cancel_event.is_set():
            return
        rate = message.done / max(time.monotonic() - self.started, 1e-6)
        self.query_one("#progress-detail", Static).update(
            Text(f"{message.done:,} / {message.total:,} {self.noun}  ·  {rate:,.0f} {self.noun}/s"))

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.dismiss(message.outcome)

    def action_cancel(self) -> None:
        self.cancel_event.set()
        self.query_one("#progress-detail", Static).update(Text("cancelling…", style="yellow"))

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        self.dismiss(JobOutcome("failed"))
