"""Shared widgets and rendering helpers.

Every string that comes from data (names, ids, tags) goes through `safe()`: it becomes a
rich Text (never parsed as markup), control characters (ANSI escapes, newlines) are
shown as visible escapes, and very long text is cut with an ellipsis.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import Column, ColumnKey, RowKey
from textual_plotext import PlotextPlot

from cache import timeutil
from cache.money import NANOS, currency_symbol, fmt
from cache.text import clean  # the one sanitiser (pure, in cache/ so every layer uses it)

from .palette import rich_color, series_color


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


_NUMBER = re.compile(r"^[-+▲▼=<\s]*[$€£¥₹]?\s*[-+]?(\d[\d,]*(?:\.\d+)?)\s*([kMB%]?)")
_DATE_LIKE = re.compile(r"^\d{1,4}[-/:]\d")  # 2026-06-20, 06-20→06-30, 12:30: text order is time order


def sort_value(cell: object) -> tuple[int, float, str]:
    """How a cell sorts: amounts, counts and percentages by their value (with k/M/B), text by its
    lower case; empty and "—" cells apart from both."""
    text = (cell.plain if isinstance(cell, Text) else str(cell)).strip()
    if not text or text in ("—", "-", "?"):
        return (2, 0.0, "")
    m = None if _DATE_LIKE.match(text) else _NUMBER.match(text)
    if m:
        value = float(m.group(1).replace(",", ""))
        value *= {"k": 1e3, "M": 1e6, "B": 1e9}.get(m.group(2), 1)
        if "-" in text[: m.start(1)] or "▼" in text[: m.start(1)]:
            value = -value
        return (0, value, "")
    return (1, 0.0, text.lower())


def _cell_width(cell: object) -> int:
    """The widest line of a cell as text (a multi-line cell: its longest line)."""
    text = cell.plain if isinstance(cell, Text) else cell if isinstance(cell, str) else str(cell) \
        if isinstance(cell, int | float) else ""
    return max((Text(line).cell_len for line in text.split("\n")), default=0)


def _ellipsis(cell: object) -> object:
    """A text cell cut by its column shows an ellipsis (never cut silently)."""
    if isinstance(cell, str):
        return Text.from_markup(cell, overflow="ellipsis")
    if isinstance(cell, Text) and cell.overflow is None:
        cell.overflow = "ellipsis"
    return cell


class Table(DataTable[Any]):
    """The one DataTable of the app: vim/k9s keys (j/k down/up, g/G top/bottom, as well as the arrows
    and Home/End), and money is never cut: a fixed-width column that receives an amount wider than
    itself grows to fit it, taking the width from the widest column without money.

    A table wider than its place (below 80 columns) keeps its first (name) column and its money on
    screen: it narrows long text columns (an error message) and the name column, then hides columns in the order the view declares
    (`drop_order`, column keys; by default the columns without money, right to left), then narrows
    the name column further, and only then hides money columns (right to left, never the first).
    The last column shown is then marked "›" and the tooltip names the hidden columns; they come
    back when the table gets the room."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "first_row", "Top", show=False, id="table.top"),
        Binding("G", "last_row", "Bottom", show=False, id="table.bottom"),
        Binding("S", "sort_next", "Sort", show=False, id="table.sort"),
    ]

    def __init__(self, *args: Any, drop_order: Iterable[str] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._money_columns: set[Any] = set()
        self._order: dict[RowKey, int] = {}  # each row's position as added (before any sort)
        self.drop_order: tuple[str, ...] = tuple(drop_order)
        self._declared: list[ColumnKey] = []  # every column in the view's order, hidden ones too
        self._hidden: dict[ColumnKey, tuple[Column, dict[RowKey, Any]]] = {}  # column, its cells
        self._narrowed: dict[ColumnKey, tuple[int, bool]] = {}  # columns narrowed: their own width

    def source_index(self) -> int:
        """The row under the cursor as the view added it (its index in the view's own list), whatever
        the sort; -1 when there is none."""
        if not self.row_count or self.cursor_row < 0:
            return -1
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - no valid cursor
            return -1
        return self._order.get(key, -1)

    def clear(self, columns: bool = False) -> Table:
        """Clear the rows (and columns); refilled rows keep the user's place: the cursor goes back
        to the row of the same key when it comes again (a reload), else to the same position."""
        if self.row_count and self.cursor_row > 0:
            try:
                key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
            except Exception:  # noqa: BLE001 - no valid cursor
                key = None
            self._restore = (key, self.cursor_row)
        super().clear(columns)
        self._order = {}
        if columns:
            self._money_columns = set()
            self._sort = None
            self._declared = []
            self._hidden = {}
            self._narrowed = {}
            self.tooltip = None
        else:
            for _, cells in self._hidden.values():
                cells.clear()
        return self

    def add_column(self, label: Any, *, width: int | None = None, key: str | None = None,
                   default: Any = None) -> ColumnKey:
        column_key = super().add_column(label, width=width, key=key, default=default)
        self._declared.append(column_key)
        return column_key

    _restore: tuple[str | None, int] | None = None

    def _after_refill(self) -> None:
        """A filled table shares its width (`share_width`) and fits its place (`fit_columns`); a
        refilled one keeps the user's sort and place."""
        self.share_width()
        self.fit_columns()
        self._apply_sort()
        restore, self._restore = self._restore, None
        if restore is None or not self.row_count:
            return
        key, row = restore
        try:
            index = self.get_row_index(key) if key is not None else row
        except Exception:  # noqa: BLE001 - that row is gone: the same position
            index = row
        self.move_cursor(row=min(index, self.row_count - 1), animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the view's own `g`/`G` (Spend: g = group by) wins, in the footer too; Home/End still work
        if action == "first_row" and self._screen_binds("g"):
            return False
        if action == "last_row" and self._screen_binds("G"):
            return False
        if action == "sort_next" and (self._screen_binds("S") or self._screen_binds("s", "sort")):
            return False  # the view sorts its own way (Recommendations, ML runs); view 6's s (open/all) is not a sort
        return True

    # -- sort: S cycles the columns (each descending, then ascending), then back to the view's order --
    _sort: tuple[Any, bool] | None = None  # (column key, reverse)

    def action_sort_next(self) -> None:
        columns = [c.key for c in self.ordered_columns]
        if not columns or not self.row_count:
            return
        if self._sort is None:
            self._sort = (columns[0], True)
        else:
            key, reverse = self._sort
            if reverse:
                self._sort = (key, False)
            else:
                i = columns.index(key) + 1 if key in columns else len(columns)
                self._sort = (columns[i], True) if i < len(columns) else None
        if self._sort is None:
            self.notify("Table: the view's own order (r or a reload restores it)", timeout=2)
        self._apply_sort()
        self._label_sort()

    def _apply_sort(self) -> None:
        if self._sort is None or not self.row_count:
            return
        key, reverse = self._sort
        if key not in self.columns:
            self._sort = None
            return
        self.sort(key, key=sort_value, reverse=reverse)

    def _label_sort(self) -> None:
        """Column labels: the sort arrow on the sorted column, "›" on the last one when some are hidden."""
        ordered = self.ordered_columns
        for column in ordered:
            base = getattr(column, "_base_label", None)
            if base is None:
                base = column._base_label = column.label.copy()  # type: ignore[attr-defined]
            label = base.copy()
            if self._sort is not None and column.key == self._sort[0]:
                label.append(" ↓" if self._sort[1] else " ↑", style="bold")
            if self._hidden and column is ordered[-1]:
                if not column.auto_width and label.cell_len + 2 > column.width:  # the mark is never cut
                    label.truncate(max(1, column.width - 2))
                label.append(" ›", style="bold")
            column.label = label
            if column.auto_width:  # the label's new width counts
                column.content_width = max(column.content_width, label.cell_len)
        self._require_update_dimensions = True
        self.refresh()

    def action_first_row(self) -> None:
        self.action_scroll_top()

    def action_last_row(self) -> None:
        self.action_scroll_bottom()

    def _screen_binds(self, key: str, action_part: str = "") -> bool:
        """Whether the screen binds `key` (to an action whose name contains `action_part`)."""
        try:
            screen = self.screen
        except Exception:  # noqa: BLE001 - not mounted
            return False
        return any(action_part in b.action for b in screen._bindings.key_to_bindings.get(key, ()))

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None,
                label: Any = None) -> RowKey:
        hidden_cells: dict[ColumnKey, Any] = {}
        if self._hidden and len(cells) > len(self.columns):  # a row of every column: keep the hidden ones aside
            by_key = dict(zip(self._declared, cells, strict=False))
            hidden_cells = {k: by_key.get(k) for k in self._hidden}
            cells = tuple(by_key.get(k) for k in self._declared if k not in self._hidden)
        cells = tuple(_ellipsis(c) for c in cells)
        row_key = super().add_row(*cells, height=height, key=key, label=label)
        for k, cell in hidden_cells.items():
            self._hidden[k][1][row_key] = cell
        self._order[row_key] = self.row_count - 1
        self.fit_money(cells)
        if self.row_count == 1:
            self.call_after_refresh(self._after_refill)  # once the fill is done
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

    SHARE_CAP = 48  # a column is not widened past this to show a long text whole

    def share_width(self) -> None:
        """Columns share the width: a fixed-width column whose text is cut gets the width that
        another fixed column has beyond its own widest text (at 200 columns a 100-character name
        column no longer leaves the region or run column cut)."""
        columns = [c for c in self.ordered_columns if not c.auto_width]
        if len(columns) < 2 or not self.row_count:
            return
        need: dict[Any, int] = {}
        for c in columns:
            widest = _cell_width(c.label)
            for cell in self.get_column(c.key):
                widest = max(widest, _cell_width(cell))
            need[c.key] = widest
        slack = {c.key: c.width - need[c.key] for c in columns if c.width > need[c.key]}
        changed = False
        for c in sorted(columns, key=lambda c: need[c.key] - c.width):
            short = min(need[c.key], self.SHARE_CAP) - c.width
            while short > 0 and slack:
                donor_key = max(slack, key=lambda k: slack[k])
                give = min(short, slack[donor_key])
                if give <= 0:
                    break
                donor = self.columns[donor_key]
                donor.width -= give
                c.width += give
                short -= give
                slack[donor_key] -= give
                if slack[donor_key] <= 0:
                    del slack[donor_key]
                changed = True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()  # the rows were rendered at the old widths
            self.refresh()

    # -- a table wider than its place (below 80 columns) ----------------------------------------------
    NAME_MIN = 10  # the first column is not narrowed below this
    NAME_SOFT = 16  # ... nor below this (nor another text column) before columns are hidden
    LONG_TEXT = 32  # text columns wider than this are narrowed to it before anything else

    def on_resize(self) -> None:
        if self._declared:
            self.call_after_refresh(self.fit_columns)

    def _room(self) -> int:
        """The cells the columns can take: the table's width less its vertical scrollbar."""
        width = self.size.width
        if self.row_count > max(1, self.size.height - int(self.show_header)):
            width -= self.scrollbar_size_vertical
        return width

    def _columns_width(self) -> int:
        return sum(c.get_render_width(self) for c in self.ordered_columns)

    def fit_columns(self) -> None:
        """Show every column that fits (see the class doc); narrow or hide, in order, the ones that do not."""
        room = self._room()
        if room <= 0 or not self.columns:
            return
        changed = self._show_hidden()
        if self._columns_width() > room:
            changed = True
            first = next((c.key for c in self.ordered_columns if c.get_render_width(self) > 2 * self.cell_padding + 3),
                         self.ordered_columns[0].key)  # the name column (not a mark column)

            def narrow(key: ColumnKey, floor: int) -> bool:
                """Narrow a text column to what the table lacks (not below `floor`); True if it then fits."""
                column = self.columns[key]
                over = self._columns_width() - room
                width = column.get_render_width(self) - 2 * self.cell_padding
                if key in self._money_columns or width <= floor:
                    return over <= 0
                self._narrowed.setdefault(key, (column.width, column.auto_width))
                column.auto_width = False
                column.width = max(floor, width - over)
                return self._columns_width() <= room

            def hide(keys: Iterable[ColumnKey], floor: int) -> bool:
                for key in keys:
                    if self._columns_width() <= room:
                        return True
                    if key in self.columns and key != first and not narrow(key, floor):
                        self._hide(key)
                return self._columns_width() <= room

            declared = [ColumnKey(k) for k in self.drop_order]
            plain = [k for k in reversed(self._declared) if k not in self._money_columns]
            money = [k for k in self._declared if k in self._money_columns and k in self.columns]
            (any(narrow(k, self.LONG_TEXT) for k in plain if k in self.columns)  # a long text (an error) first
             or narrow(first, self.NAME_SOFT) or hide(declared + plain, self.NAME_SOFT)
             or narrow(first, self.NAME_MIN) or hide(list(reversed(money[1:])), 10**6))
            for key, (width, auto) in self._narrowed.items():  # width left over goes back to the narrowed columns
                column = self.columns.get(key)
                spare = room - self._columns_width()
                if column is not None and spare > 0:
                    column.width = min(column.content_width if auto else width, column.width + spare)
        if changed:
            hidden = [getattr(self._hidden[k][0], "_base_label", self._hidden[k][0].label).plain
                      for k in self._declared if k in self._hidden]
            self.tooltip = f"Hidden for lack of width: {', '.join(hidden)} (widen the terminal)" if hidden else None
            self._label_sort()
            self._clear_caches()

    def full_row_at(self, index: int) -> list[Any]:
        """The cells of a row in the view's column order, the hidden columns' too."""
        row_key = self.ordered_rows[index].key
        return [self._hidden[k][1].get(row_key) if k in self._hidden else self._data[row_key].get(k)
                for k in self._declared]

    def update_cell(self, row_key: Any, column_key: Any, value: Any, *, update_width: bool = False) -> None:
        hidden = self._hidden.get(ColumnKey(column_key) if isinstance(column_key, str) else column_key)
        if hidden is not None:  # kept for when the column comes back
            hidden[1][RowKey(row_key) if isinstance(row_key, str) else row_key] = value
            return
        super().update_cell(row_key, column_key, value, update_width=update_width)

    def _hide(self, key: ColumnKey) -> None:
        column = self.columns[key]
        if not hasattr(column, "_base_label"):
            column._base_label = column.label.copy()  # type: ignore[attr-defined]
        cells = {row_key: row[key] for row_key, row in self._data.items()}
        self.remove_column(key)
        self._hidden[key] = (column, cells)

    def _show_hidden(self) -> bool:
        """Put the hidden columns back in their place (with the name column's own width)."""
        narrowed, self._narrowed = self._narrowed, {}
        for key, (width, auto) in narrowed.items():
            column = self.columns.get(key) or (self._hidden[key][0] if key in self._hidden else None)
            if column is not None:
                column.width, column.auto_width = width, auto
        if not self._hidden:
            return bool(narrowed)
        hidden, self._hidden = self._hidden, {}
        for key, (column, cells) in hidden.items():
            self.columns[key] = column
            for row_key, row in self._data.items():
                row[key] = cells.get(row_key)
        self._column_locations = TwoWayDict({k: i for i, k in enumerate(k for k in self._declared if k in self.columns)})
        self._require_update_dimensions = True
        self._update_count += 1
        self.refresh(layout=True)
        return True

    def _donor(self, columns: list[Column], grow: int) -> Column | None:
        free = [c for c in columns if not c.auto_width and c.key not in self._money_columns and c.width - grow >= 8]
        return max(free, key=lambda c: c.width, default=None)


class TopBar(Static):
    """The header: the views with their keys (the current one highlighted), DEMO / READ-ONLY badges
    (and one while a write waits for the cache lock), the snapshot time and age, and the sources. One line when it fits, else two; below 80 columns the
    badges and the age come first and the sources go. The age ticks (redrawn when its text changes)."""

    DEFAULT_CSS = """
    TopBar { height: auto; background: $panel; color: $text; padding: 0 1; text-wrap: nowrap;
             text-overflow: ellipsis; }
    """

    def __init__(self, title: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.view_title = title

    def on_mount(self) -> None:
        self.refresh_bar()
        self.set_interval(1, self._tick)

    def _tick(self) -> None:
        """The snapshot age ticks: redrawn when its text changes (every second under a minute)."""
        if self._age_text() != self._shown_age:
            self.refresh_bar()

    _shown_age = ""

    def _age_text(self) -> str:
        info = getattr(self.app, "cache_info", None)
        snap = getattr(info, "snapshot_time", None)
        return timeutil.humanize_age(timeutil.now() - snap) if snap is not None else ""

    def on_resize(self) -> None:
        self.refresh_bar()

    # Tab titles where the full set does not fit on one line (80 columns with eight views).
    COMPACT_TITLES: ClassVar[dict[str, str]] = {"overview": "Over", "mlruns": "ML", "activity": "Act"}

    def _tabs(self, views: Iterable[tuple[str, str, str]], current: object, compact: bool) -> Text:
        tabs = Text()
        tabs.append(" costdeck ", style="bold reverse")
        for key, mode, short in views:
            title = self.COMPACT_TITLES.get(mode, short) if compact else short
            tabs.append(" ")
            if mode == current:
                tabs.append(f" {key} {title} ", style="bold reverse")
            else:
                tabs.append(f"{key}\u00a0", style="bold")
                tabs.append(title, style="dim")
        return tabs

    def refresh_bar(self) -> None:
        app = self.app
        info = getattr(app, "cache_info", None)
        current = getattr(app, "current_mode", None)
        views = getattr(app, "VIEW_TABS", ())
        tabs = self._tabs(views, current, compact=False)
        if tabs.cell_len > (self.size.width or 120) - 2:  # 80 columns: every view's key stays on the line
            tabs = self._tabs(views, current, compact=True)
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
            narrow = (self.outer_size.width or 120) < 80
            if snap is not None:
                age = self._shown_age = self._age_text()
                if narrow:  # below 80 columns the age comes first: it must never be cut
                    status.append(age, style="bold")
                    status.append(f" · {snap:%m-%d %H:%M}", style="dim")
                else:
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
            if info.sources and not narrow:
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


def day_ticks(plt: Any, labels: list[str], count: int = 8, width: int = 0) -> None:
    """About `count` x ticks: MM-DD within a year, YYYY-MM across years (labels are ISO dates). With the
    plot's `width`, no more than fit with two spaces between them (plotext draws overlapping labels in
    an arbitrary order)."""
    xs = list(range(len(labels)))
    dated = all(len(lab) == 10 for lab in labels)
    multi_year = dated and bool(labels) and labels[0][:4] != labels[-1][:4] and len(labels) > 62

    def tick(lab: str) -> str:
        if not dated:
            return lab
        return lab[:7] if multi_year else lab[5:]

    if width and labels:
        room = max(2, (width - 10) // (max(len(tick(lab)) for lab in labels) + 3))
        count = min(count, room)
    step = max(1, -(-len(labels) // count))
    plt.xticks(xs[::step], [tick(lab) for lab in labels[::step]])


def _nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is >= raw."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-12))


def y_axis(top: float, plot_height: int) -> tuple[list[float], float]:
    """Ticks from 0 and the axis' upper limit for a plot `plot_height` rows tall (plotext's frame
    included): every tick lands the same number of rows apart (at least 2, at most 5 intervals), the
    step a nice number, and the data's top fits under the limit."""
    intervals = max(1, plot_height - 4)  # rows between the bottom and the top row of the plot
    top = top if top > 0 else 1.0
    best: tuple[bool, float, int, float] | None = None  # (one interval only, limit, -intervals, step)
    for spacing in range(min(2, intervals), intervals + 1):
        n = intervals // spacing
        if n > 5:
            continue
        step = _nice_step(top * spacing / intervals)
        option = (n < 2, step * intervals / spacing, -n, step)
        if best is None or option[:3] < best[:3]:  # a middle tick, the most of the height used, more ticks
            best = option
    assert best is not None
    _, limit, minus_n, step = best
    return [i * step for i in range(-minus_n + 1)], limit


def axis_money(value: float, currency: str) -> str:
    """A y tick: $0, $250, $2.5k, $1.2M (the currency's symbol, else its code after the figure)."""
    sym = currency_symbol(currency)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            text = f"{value / div:.2f}".rstrip("0").rstrip(".") + unit
            break
    else:
        text = f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"
    return f"{sym}{text}" if sym else f"{text} {currency}"


MIN_SLOTS = 7  # a chart of fewer periods (month to date on the 1st) keeps bars of a sensible width


class LegendChart(Vertical):
    """A chart with one line above the plot for its title and legend (so a legend never covers the
    data): `set_head(title, [(name, rgb), ...])`, then `draw_with(fn)` draws the plot (plotext)."""

    DEFAULT_CSS = """
    LegendChart { height: 1fr; }
    LegendChart > .chart-head { height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    LegendChart > Chart { height: 1fr; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.head_text = Text()  # the title and legend line as drawn
        self._head_args: tuple[str, list[tuple[str, tuple[int, int, int]]]] = ("", [])

    def compose(self) -> ComposeResult:
        yield Static("", classes="chart-head")
        yield Chart()

    def on_resize(self) -> None:
        self._render_head()

    @property
    def legend(self) -> list[tuple[str, str]]:
        """(name, rich colour) of each series, in the order drawn."""
        return [(name, rich_color(rgb)) for name, rgb in self._head_args[1]]

    def set_head(self, title: str, legend: list[tuple[str, tuple[int, int, int]]]) -> None:
        self._head_args = (title, legend)
        if self.is_mounted:
            self._render_head()

    _pending: Callable[[Any], None] | None = None

    def draw_with(self, draw: Callable[[Any], None]) -> None:
        if not self.is_mounted:  # drawn once mounted
            self._pending = draw
            return
        self.query_one(Chart).draw_with(draw)

    def on_mount(self) -> None:
        self._render_head()
        if self._pending is not None:
            self.query_one(Chart).draw_with(self._pending)
            self._pending = None

    def _render_head(self) -> None:
        title, _ = self._head_args
        key = Text()
        for name, color in self.legend:
            if key:
                key.append("  ")
            key.append("■ ", style=color)
            key.append(name)
        width = (self.size.width or 80) - 2
        line = Text(no_wrap=True, overflow="ellipsis")
        if title and (not key or len(title) + 3 + key.cell_len <= width):
            line.append(title, style="bold")
            if key:
                line.append(" · ", style="dim")
        line.append_text(key)
        if title and key and len(title) + 3 + key.cell_len > width:
            # no room for both on one line: the legend first (what the colours are), the title on a
            # second line when the chart is tall enough, else after the legend as far as it goes
            if (self.size.height or 0) >= 14:
                line.append("\n")
            else:
                line.append(" · ", style="dim")
            line.append(title, style="bold")
        self.head_text = line
        self.query_one(".chart-head", Static).update(line)


class StackedChart(LegendChart):
    """A stacked bar chart of series over periods (amounts in nanos), each series in its
    session-stable colour (tui/palette.py); the y axis starts at 0 with even ticks in the currency."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._args: tuple[list[str], dict[str, list[int]], str, str] = ([], {}, "", "USD")

    def show(self, labels: list[str], series: dict[str, list[int]], title: str = "", currency: str = "USD") -> None:
        self._args = (labels, series, title, currency)
        if self.is_mounted:
            self._draw()

    def on_mount(self) -> None:  # (after LegendChart's)
        self._draw()

    def _render_head(self) -> None:
        cut = 24 if (self.size.width or 80) >= 120 else 16
        self._head_args = (self._args[2], [(clean(n, cut), series_color(n)) for n in self._args[1]])
        super()._render_head()

    def _draw(self) -> None:
        labels, series, _, currency = self._args
        self._render_head()
        names = list(series)

        def draw(plt: Any) -> None:
            if not (labels and series):
                return
            data = [[v / NANOS for v in vals] for vals in series.values()]
            colors = [series_color(n) for n in names]
            xs = list(range(len(labels)))
            plt.stacked_bar(xs, data, color=colors, width=0.8)
            tops = [sum(max(0.0, s[i]) for s in data) for i in xs]
            ticks, limit = y_axis(max(tops, default=0.0), self.query_one(Chart).size.height or 10)
            plt.ylim(0, limit)
            plt.yticks(ticks, [axis_money(t, currency) for t in ticks])
            if len(labels) < MIN_SLOTS:
                plt.xlim(-0.5, MIN_SLOTS - 0.5)
            day_ticks(plt, labels, width=self.query_one(Chart).size.width)

        self.draw_with(draw)
