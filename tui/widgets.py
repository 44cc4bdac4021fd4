"""Shared widgets and rendering helpers.

Every string that comes from data (names, ids, tags) goes through `safe()`: it becomes a
rich Text (never parsed as markup), control characters (ANSI escapes, newlines) are
shown as visible escapes, and very long text is cut with an ellipsis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import Column, RowKey
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


_MONEY = re.compile(r"[-+]?<?[$€£¥₹]\d[\d,]*(?:\.\d+)?[kMB]?|[-+]?<?\d[\d,]*\.\d+[kMB]? [A-Z]{3}\b")
_MONEY_CELL_MAX = 32  # longer cells are prose that happens to name an amount


def money_width(cell: object) -> int:
    """The width a table cell needs to show its money whole: the cell's width if it holds an amount
    (and is not prose), else 0."""
    text = cell.plain if isinstance(cell, Text) else str(cell) if isinstance(cell, str | int) else ""
    if len(text) > _MONEY_CELL_MAX or not _MONEY.search(text):
        return 0
    return Text(text.strip()).cell_len  # padding is not content


class Table(DataTable[Any]):
    """The one DataTable of the app: vim/k9s keys (j/k down/up, g/G top/bottom, as well as the arrows
    and Home/End), and money is never cut: a fixed-width column that receives an amount wider than
    itself grows to fit it, taking the width from the widest column without money."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "first_row", "Top", show=False, id="table.top"),
        Binding("G", "last_row", "Bottom", show=False, id="table.bottom"),
    ]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._money_columns: set[Any] = set()

    def clear(self, columns: bool = False) -> Table:
        super().clear(columns)
        if columns:
            self._money_columns = set()
        return self

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the view's own `g`/`G` (Spend: g = group by) wins, in the footer too; Home/End still work
        if action == "first_row" and self._screen_binds("g"):
            return False
        if action == "last_row" and self._screen_binds("G"):
            return False
        return True

    def action_first_row(self) -> None:
        self.action_scroll_top()

    def action_last_row(self) -> None:
        self.action_scroll_bottom()

    def _screen_binds(self, key: str) -> bool:
        try:
            screen = self.screen
        except Exception:  # noqa: BLE001 - not mounted
            return False
        return bool(screen._bindings.key_to_bindings.get(key))

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None,
                label: Any = None) -> RowKey:
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        self.fit_money(cells)
        return row_key

    def fit_money(self, cells: Iterable[object]) -> None:
        """Widen fixed columns to the amounts in `cells` (one row, in column order)."""
        columns = list(self.ordered_columns)
        for column, cell in zip(columns, cells, strict=False):
            need = money_width(cell)
            if not need:
                continue
            self._money_columns.add(column.key)
            if column.auto_width or column.width >= need:
                continue
            grow = need - column.width
            column.width = need
            donor = self._donor(columns, grow)
            if donor is not None:
                donor.width -= grow
            self._require_update_dimensions = True
            self.refresh()

    def _donor(self, columns: list[Column], grow: int) -> Column | None:
        free = [c for c in columns if not c.auto_width and c.key not in self._money_columns and c.width - grow >= 8]
        return max(free, key=lambda c: c.width, default=None)


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
    """A figure with a title and a sub line. A narrow card shows its `short` title, and its `narrow`
    value (a compact amount) when the full one would not fit: money is never cut or wrapped."""

    DEFAULT_CSS = """
    Card { border: round $primary 50%; height: 5; padding: 0 1; width: 1fr; }
    Card > .card-value { text-style: bold; text-wrap: nowrap; }
    Card > .card-sub { color: $text-muted; }
    """

    def __init__(self, title: str, short: str = "", **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.title = title
        self.short = short or title
        self.border_title = title
        self._value: Text | str = "…"
        self._narrow: Text | str | None = None

    def compose(self) -> ComposeResult:
        yield Static("…", classes="card-value")
        yield Static("", classes="card-sub")

    def set(self, value: Text | str, sub: Text | str = "", narrow: Text | str | None = None) -> None:
        self._value, self._narrow = value, narrow
        self._show_value()
        self.query_one(".card-sub", Static).update(sub)

    def on_resize(self) -> None:
        # the border shows "─ title ─" between its corners
        self.border_title = self.title if len(self.title) + 6 <= self.outer_size.width else self.short
        self._show_value()

    def _show_value(self) -> None:
        value = self._value
        inner = self.size.width  # the content width (inside the border and padding)
        if self._narrow is not None and inner > 0 and Text(str(value) if isinstance(value, str) else value.plain).cell_len > inner:
            value = self._narrow
        self.query_one(".card-value", Static).update(value)


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


