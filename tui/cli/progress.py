"""Progress displays: the import progress bar, and the sync display (a live table on a terminal,
plain lines in logs, pipes and CI). rich is imported only by the live display."""

from __future__ import annotations

import sys
from typing import Any

from .format import safe

_STATUS_STYLES = {"ok": "green", "partial": "yellow", "failed": "red"}


def bar(frac: float, width: int = 30) -> str:
    filled = int(min(1.0, max(0.0, frac)) * width)
    return "█" * filled + "░" * (width - filled)


class ImportProgress:
    """A one-line progress bar on stderr for long imports."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if total:
            frac = min(1.0, done / total)
            self.show(f"\r{label[:40]:40} {bar(frac)} {frac * 100:5.1f}%")
        else:
            self.show(f"\r{label[:40]:40} {done:,} rows")

    def show(self, line: str) -> None:
        if line != self.last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.last = line

    def done(self) -> None:
        if self.last:
            sys.stderr.write("\n")


class RowsProgress(ImportProgress):
    """The import bar for a stream of rows (an export): the rows done of the total and the rate."""

    def __init__(self, label: str) -> None:
        import time

        super().__init__()
        self.label = label
        self._time = time.monotonic
        self.start = self._time()

    def update(self, done: int, total: int) -> None:
        frac = done / total if total else 1.0
        rate = done / max(self._time() - self.start, 1e-6)
        self.show(f"\r{self.label[:24]:24} {bar(frac)} {frac * 100:5.1f}%  {done:,}/{total:,} rows  "
                  f"{rate:,.0f} rows/s\033[K")


class PlainSync:
    """One line per step change and per finished source (logs, pipes, CI)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, str]] = {}

    def __enter__(self) -> PlainSync:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, p: Any) -> None:
        key = (p.status, p.step)
        with self._lock:
            if self._last.get(p.source) == key:
                return
            self._last[p.source] = key
            print(safe(self._line(p)), flush=True)

    @staticmethod
    def _line(p: Any) -> str:
        if p.status == "queued":
            return f"{p.source}: queued"
        if p.finished:
            return (f"{p.source}: {p.status} - {p.rows:,} rows, {p.api_calls} API calls "
                    f"({p.billed_api_calls} billed), {p.elapsed_s:.1f}s" + (f" - {p.error}" if p.error else ""))
        return f"{p.source}: [{p.steps_done}/{p.steps_total}] {p.step or 'starting'}"


class LiveSync:
    """A rich Live table: per source its step, progress, rows, API calls and billed CE calls."""

    _COLUMNS = (("source", "left"), ("status", "left"), ("step", "left"), ("", "left"),
                ("rows", "right"), ("API calls", "right"), ("billed (CE)", "right"), ("time", "right"))

    def __init__(self, names: list[str]) -> None:
        import threading

        from rich.console import Console
        from rich.live import Live

        self._lock = threading.Lock()
        self._state: dict[str, Any] = dict.fromkeys(names)
        self.console = Console()
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveSync:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._render())
        self.live.__exit__(None, None, None)

    def update(self, p: Any) -> None:
        with self._lock:
            self._state[p.source] = p
            self.live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        t = Table(title="costdeck sync", title_justify="left", expand=False)
        for col, just in self._COLUMNS:
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        for name, p in self._state.items():
            t.add_row(*self._row(name, p))
        return t

    @staticmethod
    def _row(name: str, p: Any) -> list[Any]:
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        if p is None:
            return [Text(name), Text("queued"), Text(""), Text(""), "", "", "", ""]
        style = _STATUS_STYLES.get(p.status, "")
        step = p.error if p.finished and p.error else (f"{p.step}: {p.detail}" if p.detail else p.step)
        total = max(p.steps_total, 1)
        bar = ProgressBar(total=total, completed=total if p.finished else p.steps_done, width=16)
        return [Text(name), Text(p.status, style=style), Text(safe(step or "")[:70]), bar,
                f"{p.rows:,}", str(p.api_calls), f"{p.billed_api_calls} (${p.billed_api_calls * 0.01:.2f})",
                f"{p.elapsed_s:.1f}s"]


class Steps:
    """Named steps of a wait before the screen opens (the first launch building the demo), on stderr:
    on a terminal one line that names the step and ticks the seconds, elsewhere one line per step."""

    def __init__(self, title: str, stream: Any = None) -> None:
        import threading
        import time

        self._time = time.monotonic
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.title = title
        self.step = ""
        self.start = self._time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.tty:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _line(self) -> str:
        return f"{self.title}: {self.step}… {self._time() - self.start:4.1f} s"

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self.stream.write("\r" + self._line() + "\033[K")
            self.stream.flush()

    def __call__(self, step: str) -> None:
        self.step = step
        if self.tty:
            self.stream.write("\r" + self._line() + "\033[K")
        else:
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def done(self, what: str = "ready") -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end = f"{self.title}: {what} in {self._time() - self.start:.1f} s"
        self.stream.write(("\r" + end + "\033[K\n") if self.tty else end + "\n")
        self.stream.flush()
