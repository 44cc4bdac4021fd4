"""Shared widgets and rendering helpers.

Every string that comes from data (names, ids, tags) goes through `safe()`: it becomes a
rich Text (never parsed as markup), control characters (ANSI escapes, newlines) are
shown as visible escapes, and very long text is cut with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from cache import timeutil
from cache.money import NANOS, fmt
from cache.text import clean  # the one sanitiser (pure, in cache/ so every layer uses it)


def safe(value: object, max_len: int = 80, style: str = "") -> Text:
    return Text(clean(value, max_len), style=style, no_wrap=True, overflow="ellipsis")


def money_text(nanos: int | None, currency: str = "USD", *, compact: bool = False, style: str = "") -> Text:
    return Text(fmt(nanos, currency, compact=compact), style=style, justify="right")


def pct_text(pct: float | None, *, invert: bool = False) -> Text:
    """A change in %, red when spend goes up (green when down)."""
    if pct is None:
        return Text("new", style="italic dim", justify="right")
    up = pct > 0.05
    down = pct < -0.05
    style = ("red" if up else "green" if down else "dim") if not invert else ("green" if up else "red")
    arrow = "▲" if up else "▼" if down else "="
    return Text(f"{arrow} {pct:+.1f}%", style=style, justify="right")


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int] | list[float], width: int = 16) -> str:
    """Unicode bars of a series; longer series are averaged into `width` equal buckets."""
    if not values:
        return ""
    vals = [float(v) for v in values]
    if len(vals) > width:
        n = len(vals)
        bounds = [round(i * n / width) for i in range(width + 1)]
        vals = [sum(vals[a:b]) / (b - a) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return (_BARS[0] if hi == 0 else _BARS[3]) * len(vals)
    return "".join(_BARS[int((v - lo) / (hi - lo) * (len(_BARS) - 1))] for v in vals)


def share_bar(share: float, width: int = 10) -> str:
    full = int(round(max(0.0, min(1.0, share)) * width))
    return "█" * full + "·" * (width - full)


class TopBar(Static):
    """The header: the views with their keys (the current one highlighted), DEMO / READ-ONLY badges
    (and one while a write waits for the cache lock), the snapshot time and age, and the sources. One line when it fits, else two. The age is
    refreshed every 30 s."""

    DEFAULT_CSS = """
    TopBar { height: auto; background: $panel; color: $text; padding: 0 1; text-wrap: nowrap;
             text-overflow: ellipsis; }
    """

    def __init__(self, title: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.view_title = title

    def on_mount(self) -> None:
        self.refresh_bar()
        self.set_interval(30, self.refresh_bar)

    def on_resize(self) -> None:
        self.refresh_bar()

    def refresh_bar(self) -> None:
        app = self.app
        info = getattr(app, "cache_info", None)
        tabs = Text()
        tabs.append(" costdeck ", style="bold reverse")
        current = getattr(app, "current_mode", None)
        views = getattr(app, "VIEW_TABS", ())
        for key, mode, short in views:
            tabs.append(" ")
            if mode == current:
                tabs.append(f" {key} {short} ", style="bold reverse")
            else:
                tabs.append(f"{key}\u00a0", style="bold")
                tabs.append(short, style="dim")
        if not views:
            tabs.append(f" {self.view_title}", style="bold")
        status = Text()
        if getattr(app, "lock_waiters", None):  # a write of this app waits for another process's
            status.append(" WAITING FOR THE CACHE LOCK ", style="bold black on dark_orange")
            status.append(" ")
        if info is not None:
            if info.demo:
                status.append(" DEMO ", style="bold black on yellow")
                status.append(" ")
            if info.read_only:
                status.append(" READ-ONLY ", style="bold white on dark_red")
                status.append(" ")
            snap: datetime | None = info.snapshot_time
            if snap is not None:
                age = timeutil.humanize_age(timeutil.now() - snap)
                status.append("snapshot ")
                status.append(snap.strftime("%Y-%m-%d %H:%M UTC"), style="bold")
                status.append(f" ({age})", style="dim")
                data_end = getattr(info, "data_end", None)
                if data_end is not None and (snap.date() - data_end).days > 2:
                    # an old export imported today looks fresh: say how old the data itself is
                    status.append(" · data to ", style="dim")
                    status.append(data_end.isoformat(), style="bold yellow")
            else:
                status.append("no snapshot yet", style="dim")
            if info.sources:
                names = ", ".join(clean(src, 24) for src in info.sources[:4])
                more = f" +{len(info.sources) - 4}" if len(info.sources) > 4 else ""
                status.append(f" │ sources: {names}{more}", style="dim")
        width = (self.size.width or 120) - 2
        line = Text()
        line.append_text(tabs)
        if status.plain:
            if tabs.cell_len + 3 + status.cell_len <= width:
                line.append(" │ ", style="dim")
            else:
                line.append("\n ")
            line.append_text(status)
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.update(line)


class Card(Vertical):
    """A figure with a title and a sub line."""

    DEFAULT_CSS = """
    Card { border: round $primary 50%; height: 5; padding: 0 1; width: 1fr; }
    Card > .card-value { text-style: bold; }
    Card > .card-sub { color: $text-muted; }
    """

    def __init__(self, title: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield Static("…", classes="card-value")
        yield Static("", classes="card-sub")

    def set(self, value: Text | str, sub: Text | str = "") -> None:
        self.query_one(".card-value", Static).update(value)
        self.query_one(".card-sub", Static).update(sub)


class Chart(PlotextPlot):
    """A plotext chart drawn by one function, redrawn on every resize. Subclasses' show() builds it."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._draw: Callable[[Any], None] | None = None

    def draw_with(self, draw: Callable[[Any], None]) -> None:
        self._draw = draw
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if self._draw is not None:
            self._draw(plt)
        self.refresh()

    def on_resize(self) -> None:
        self.replot()


def day_ticks(plt: Any, labels: list[str], count: int = 8) -> None:
    """About `count` x ticks: MM-DD within a year, YYYY-MM across years (labels are ISO dates)."""
    xs = list(range(len(labels)))
    step = max(1, len(labels) // count)
    dated = all(len(lab) == 10 for lab in labels)
    multi_year = dated and bool(labels) and labels[0][:4] != labels[-1][:4] and len(labels) > 62

    def tick(lab: str) -> str:
        if not dated:
            return lab
        return lab[:7] if multi_year else lab[5:]

    plt.xticks(xs[::step], [tick(lab) for lab in labels[::step]])


class StackedChart(Chart):
    """A stacked bar chart of series over periods (amounts in nanos, plotted in units)."""

    COLORS = ("orange", "blue", "green", "cyan", "magenta", "yellow", "red")

    def show(self, labels: list[str], series: dict[str, list[int]], title: str = "") -> None:
        def draw(plt: Any) -> None:
            names = [clean(n, 24) for n in series]
            colors = [
                "gray" if n.startswith("other (") else self.COLORS[i % len(self.COLORS)] for i, n in enumerate(names)
            ]
            # A short chart has no room for plotext's legend (it would hide the first bars): name the
            # colours in the title instead.
            small = self.size.height and self.size.height < 14
            if small and names:
                key = "  ".join(f"{c}={n}" for c, n in zip(colors, names, strict=True))
                width = self.size.width or 80
                plt.title(f"{title}  {key}" if title and len(title) + len(key) + 2 <= width else key[:width])
            elif title:
                plt.title(title)
            if labels and series:
                data = [[v / NANOS for v in vals] for vals in series.values()]
                plt.stacked_bar(list(range(len(labels))), data, labels=None if small else names, color=colors,
                                width=0.8)
                day_ticks(plt, labels)

        self.draw_with(draw)


