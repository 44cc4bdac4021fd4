"""Spend (2): the explorer. Group by any dimension or tag, pick a range, drill down, filter, export."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker

from analysis.spend import (
    GROUP_DIMS,
    PRESET_TITLES,
    PRESETS,
    SpendRow,
    SpendTable,
    build_table,
    drill_target,
    preset_range,
)
from cache import Store, timeutil
from cache import queries as q
from cache import rows as cost_rows
from cache.csvout import write_csv
from cache.money import decimal_str, fmt
from providers.errors import CostdeckError

from ..base import ViewScreen, post_result
from ..dialogs import JobOutcome, PickerScreen, ProgressScreen, PromptScreen, ask_export, ask_path
from ..widgets import StackedChart, Table, TopBar, clean, money_text, pct_text, safe, share_bar, sparkline

MAX_ROWS = 500
GRAINS = ("day", "week", "month")
METRICS = ("billed", "effective", "list")


@dataclass(slots=True)
class Crumb:
    dim: str
    value: str | None
    label: str | None
    parent_by: str  # the group-by to restore on esc


class SpendScreen(ViewScreen):
    VIEW_TITLE = "Spend"
    HELP = """
The table groups spend in the chosen range by one dimension, largest first, with its share of the
total, the change against the previous period of the same length (the previous month for month
ranges) and a trend sparkline. The chart stacks the top 5 groups plus "other" over time.
enter drills down (provider → services, account → sub accounts → services, service → resources,
tag value → services); esc goes back one level. / filters the rows by name or id (esc clears).
e exports the whole table (not just what fits on screen) to CSV or JSON, by the file's extension.
E (shift+e) exports the daily cost rows behind the view (its range and drill-down, every column,
money exact) to CSV or JSON Lines (.csv or .jsonl), with a progress bar; esc cancels it and leaves
no file.
Amounts are exact; groups in another currency are listed separately and never summed together.
"""
    BINDINGS = [
        Binding("g", "pick_group", "Group by", id="spend.group"),
        Binding("t", "pick_range", "Range", id="spend.range"),
        Binding("u", "cycle_grain", "Grain", id="spend.grain"),
        Binding("m", "cycle_metric", "Metric", id="spend.metric"),
        Binding("enter", "drill", "Drill down", id="spend.drill", show=True),
        Binding("escape", "back", "Back", id="spend.back"),
        Binding("slash", "filter", "Filter", id="spend.filter"),
        Binding("e", "export", "Export", id="spend.export"),
        Binding("E", "export_rows", "Export daily rows", id="spend.export_rows", show=False,
                tooltip="The daily cost rows of this range and drill-down, to .csv or .jsonl"),
        Binding("c", "toggle_chart", "Chart", id="spend.chart"),
    ]

    class Loaded(Message, bubble=False):
        def __init__(self, table: SpendTable) -> None:
            super().__init__()
            self.table = table

    def __init__(self) -> None:
        super().__init__()
        self.by = "service_name"
        self.crumbs: list[Crumb] = []
        self.preset = "30d"
        self.custom: tuple[date, date] | None = None
        self.grain = "day"
        self.metric = "billed"
        self.needle = ""
        self.data: SpendTable | None = None
        self.shown: list[SpendRow] = []
        self.range_anchor: date | None = None

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TopBar("Spend")
        yield Static("", id="controls")
        yield Static("", id="crumbs")
        yield Input(placeholder="filter rows by name or id (esc clears)", id="filter")
        yield StackedChart(id="spend-chart")
        yield Table(id="spend-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="spend-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#spend-table", DataTable).focus()
        self.reload()

    def on_resize(self) -> None:
        if self.data is not None:
            self._fill_table()

    # -- state -> range ----------------------------------------------------------
    def current_range(self) -> tuple[date, date]:
        if self.preset == "custom" and self.custom:
            return self.custom
        anchor = self.range_anchor or timeutil.today()
        return preset_range(self.preset if self.preset != "custom" else "30d", anchor)

    def filters(self) -> dict[str, str | None]:
        return {c.dim: c.value for c in self.crumbs}

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="spend", exit_on_error=False, description="Loading the spend table")
    def load(self) -> None:
        app = self.cd_app

        def compute(conn: Any) -> tuple[SpendTable, date | None]:
            rng = q.data_range(conn)
            anchor = min(rng[1], timeutil.today()) if rng else None
            self.range_anchor = anchor
            since, until = self.current_range()
            table = build_table(
                conn, self.by, since, until, self.metric, self.grain, self.filters(), preset=self.preset
            )
            return table, anchor

        table, _ = app.read(compute)
        post_result(self, self.Loaded(table))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.show(message.table)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        self.query_one("#spend-status", Static).update(
            Text("Could not read the cache (see the notification); r reloads.", style="bold red"))

    # -- rendering ---------------------------------------------------------------
    def show(self, data: SpendTable) -> None:
        self.data = data
        self._render_controls()
        chart = self.query_one("#spend-chart", StackedChart)
        cur = max(data.totals, key=lambda c: abs(data.totals[c])) if data.totals else "USD"
        chart.show(data.periods, data.chart, f"{data.metric.capitalize()} cost per {data.grain}, top 5 + other ({cur})", cur)
        self._fill_table()

    def _render_controls(self) -> None:
        since, until = self.current_range()
        t = Text()
        t.append("By ", style="dim")
        t.append(q.dim_title(self.by), style="bold")
        t.append("  │  ", style="dim")
        t.append(PRESET_TITLES[self.preset], style="bold")
        t.append(f" {since} → {until - timedelta(days=1)}", style="dim")
        t.append("  │  per ", style="dim")
        t.append(self.grain, style="bold")
        t.append("  │  ", style="dim")
        t.append(self.metric, style="bold")
        t.append(" cost", style="dim")
        self.query_one("#controls", Static).update(t)
        crumbs = Text()
        crumbs.append("All", style="bold" if not self.crumbs else "dim")
        for c in self.crumbs:
            crumbs.append(" › ", style="dim")
            crumbs.append(f"{q.dim_title(c.dim)}: ", style="dim")
            crumbs.append(clean(c.label or c.value or "(not set)", 40), style="bold")
        if self.crumbs:
            crumbs.append("   esc back", style="dim italic")
        if self.needle:
            crumbs.append("   filter: ", style="dim")
            crumbs.append(clean(self.needle, 30), style="bold yellow")
        self.query_one("#crumbs", Static).update(crumbs)

    def _fill_table(self) -> None:
        data = self.data
        if data is None:
            return
        table = self.query_one("#spend-table", DataTable)
        rows = [r for r in data.rows if r.matches(self.needle)] if self.needle else list(data.rows)
        self.shown = rows
        table.clear(columns=True)
        width = self.size.width or 120
        wide = width >= 110
        trend_w = 14 if wide else 10
        # Cost 13, share 15, change 9, trend, plus 2 cells of padding per column and the scrollbar.
        fixed = 13 + 15 + 9 + trend_w + (12 if wide else 10) + 2
        free = max(16, width - fixed)
        name_w = int(free * 0.62) if wide else free
        table.add_column(q.dim_title(self.by), key="name", width=name_w)
        if wide:
            table.add_column("Detail", key="id", width=free - name_w)
        table.add_column(Text("Cost", justify="right"), key="cost", width=13)
        table.add_column("Share", key="share", width=15)
        table.add_column(Text("vs prev", justify="right"), key="change", width=9)
        table.add_column("Trend", key="trend", width=trend_w)
        keys: set[str] = set()
        for i, r in enumerate(rows[:MAX_ROWS]):
            name = r.label or r.value or "(not set)"
            ident = r.value if r.label and r.label != r.value else (r.extra or "")
            cells = [safe(name, 60, "" if r.value is not None else "italic dim")]
            if wide:
                cells.append(safe(ident, 40, "dim"))
            cells += [
                money_text(r.cost, r.currency),
                Text(f"{share_bar(r.share, 8)}{r.share * 100:6.1f}%"),
                pct_text(r.change_pct),
                # per day, so partial weeks/months at the edges do not look like drops
                Text(sparkline([v / d for v, d in zip(r.series, data.period_days, strict=False)], trend_w),
                     style="cyan"),
            ]
            # keyed by the group itself: a reload puts the cursor back on the same group
            key = f"{r.value}\x1f{r.currency}\x1f{r.extra or ''}" if r.value is not None else f"\x1e{i}"
            table.add_row(*cells, key=key if key not in keys else f"{key}\x1e{i}")
            keys.add(key)
        status = Text()
        totals: dict[str, int] = {}
        for r in rows:
            totals[r.currency] = totals.get(r.currency, 0) + r.cost
        status.append(f"{len(rows):,} group{'' if len(rows) == 1 else 's'}", style="bold")
        if self.needle:
            status.append(f" of {len(data.rows):,}", style="dim")
        status.append("  ·  total ", style="dim")
        status.append(", ".join(fmt(v, c) for c, v in totals.items()) or fmt(0), style="bold")
        if len(rows) > MAX_ROWS:
            status.append(f"  ·  showing the top {MAX_ROWS} (filter with / or export with e for all)", style="yellow")
        if drill_target(self.by) is None:
            status.append("  ·  lowest level", style="dim")
        self.query_one("#spend-status", Static).update(status)

    # -- actions -----------------------------------------------------------------
    def action_pick_group(self) -> None:
        keys = self.cd_app.read(q.tag_keys)
        options = [(d, q.dim_title(d)) for d in GROUP_DIMS] + [(f"tag:{k}", f"Tag {clean(k, 40)}") for k in keys]

        def done(choice: str | None) -> None:
            if choice:
                self.by = choice
                self.load()

        self.app.push_screen(PickerScreen("Group by", options, self.by), done)

    def action_pick_range(self) -> None:
        options = [(p, PRESET_TITLES[p]) for p in PRESETS]

        def done(choice: str | None) -> None:
            if choice == "custom":
                self._ask_custom()
            elif choice:
                self.preset = choice
                self.load()

        self.app.push_screen(PickerScreen("Time range", options, self.preset), done)

    def _ask_custom(self) -> None:
        since, until = self.current_range()

        def validate(text: str) -> str | None:
            try:
                parse_range(text)
            except ValueError as exc:
                return str(exc)
            return None

        def done(text: str | None) -> None:
            if text:
                self.custom = parse_range(text)
                self.preset = "custom"
                self.load()

        self.app.push_screen(
            PromptScreen(
                "Custom range: FIRST..LAST (days, inclusive)",
                f"{since}..{until - timedelta(days=1)}",
                "2024-09-01..2024-09-30",
                validate,
            ),
            done,
        )

    def action_toggle_chart(self) -> None:
        chart = self.query_one("#spend-chart", StackedChart)
        chart.display = not chart.display

    def action_cycle_grain(self) -> None:
        self.grain = GRAINS[(GRAINS.index(self.grain) + 1) % len(GRAINS)]
        self.load()

    def action_cycle_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.load()

    def selected_row(self) -> SpendRow | None:
        table = self.query_one("#spend-table", DataTable)
        if table.row_count == 0:
            return None
        idx = table.source_index() if isinstance(table, Table) else table.cursor_row
        return self.shown[idx] if 0 <= idx < len(self.shown) else None

    def action_drill(self) -> None:
        row = self.selected_row()
        target = drill_target(self.by)
        if row is None:
            return
        if target is None:
            self.notify(f"{q.dim_title(self.by)} is the lowest level", timeout=3)
            return
        self.crumbs.append(Crumb(self.by, row.value, row.label, self.by))
        self.by = target
        self._clear_needle()
        self.load()

    @on(DataTable.RowSelected, "#spend-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

    def action_back(self) -> None:
        if self.needle or self.query_one("#filter", Input).display:
            self._clear_needle()
            self._fill_table()
            self._render_controls()
            return
        if not self.crumbs:
            return
        crumb = self.crumbs.pop()
        self.by = crumb.parent_by
        self.load()

    def open_group(self, dim: str, value: str | None, label: str | None, preset: str | None = None) -> None:
        """Open Spend drilled into one group (used by the Overview)."""
        target = drill_target(dim) or dim
        self.crumbs = [Crumb(dim, value, label, dim)]
        self.by = target
        if preset:
            self.preset = preset
        self._clear_needle()
        if self.is_mounted:
            self.load()

    # -- filter ------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.needle
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self._fill_table()
        self._render_controls()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#filter", Input).display = False  # enter closes the box; the filter line shows it
        self.query_one("#spend-table", DataTable).focus()

    def _clear_needle(self) -> None:
        self.needle = ""
        box = self.query_one("#filter", Input) if self.is_mounted else None
        if box is not None:
            box.value = ""
            box.display = False
            self.query_one("#spend-table", DataTable).focus()

    # -- export ------------------------------------------------------------------
    def _scope_slug(self) -> str:
        """The drill-down as a file name part ('' at the top)."""
        scope = "-".join(f"{c.dim}-{c.value}" for c in self.crumbs)
        return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in scope)[:60]

    def action_export(self) -> None:
        if self.data is None:
            return
        since, until = self.current_range()
        last = until - timedelta(days=1)
        scope = self._scope_slug()
        default = (f"costdeck-spend-{self.metric}-by-{self.by.replace(':', '-')}"
                   f"{'-' + scope if scope else ''}-{since}_to_{last}.csv")

        data = self.data
        ask_export(self, "Export table to (.csv or .json)", default,
                   lambda path: export_rows(path, self.by, self.shown, data))

    def action_export_rows(self) -> None:
        """E: the daily cost rows of this view (its range and crumbs) to .csv or .jsonl, in a worker
        with a progress bar (esc cancels: no file is left)."""
        since, until = self.current_range()
        filters = self.filters()
        scope = self._scope_slug()
        default = f"costdeck-rows{'-' + scope if scope else ''}-{since}_to_{until - timedelta(days=1)}.csv"

        def start(path: Path) -> None:
            self.app.push_screen(
                ProgressScreen(f"Exporting the daily cost rows to {clean(path.name, 50)}",
                               rows_export_job(self.cd_app.db_path, path, since, until, filters),
                               what="The rows export"),
                lambda outcome: self._rows_exported(path, outcome))

        ask_path(self, "Export the daily cost rows of this view to (.csv or .jsonl)", default,
                 tuple(cost_rows.SUFFIXES), start)

    def _rows_exported(self, path: Path, outcome: JobOutcome | None) -> None:
        if outcome is None or outcome.status == "failed":  # a failure is already notified
            return
        if outcome.status == "cancelled":
            self.notify("export cancelled: no file written", timeout=4)
            return
        self.notify(f"exported {outcome.result:,} rows to {clean(path.resolve(), 120)}", timeout=6)

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        cmds: list[tuple[str, Any, str]] = []
        for d in GROUP_DIMS:
            cmds.append((f"Spend: group by {q.dim_title(d)}", lambda d=d: self._set_by(d), f"Group spend by {d}"))
        for key in self.cd_app.read(q.tag_keys):
            cmds.append((f"Spend: group by tag {clean(key, 40)}", lambda k=key: self._set_by(f"tag:{k}"),
                         f"Group spend by the value of tag {clean(key, 40)}"))
        for p in PRESETS:
            if p != "custom":
                cmds.append((f"Spend: range {PRESET_TITLES[p]}", lambda p=p: self._set_preset(p), ""))
        cmds.append(("Spend: custom range…", self._ask_custom, "Pick first and last day"))
        cmds.append(("Spend: export table (e)", self.action_export, "CSV or JSON"))
        return cmds

    def _set_by(self, d: str) -> None:
        self.by = d
        self.load()

    def _set_preset(self, p: str) -> None:
        self.preset = p
        self.load()


def rows_export_job(db: Path, path: Path, since: date, until: date,
                    filters: dict[str, str | None]) -> Callable[..., int]:
    """The job of E for ProgressScreen: the rows to `path` (the format by its extension) over a
    read-only connection of its own (the view's reads are not held up), in small batches so that
    the bar moves and a cancel stops soon."""

    def job(report: Callable[[int, int], None], cancelled: Callable[[], bool]) -> int:
        fmt = cost_rows.SUFFIXES[path.suffix.lower()]
        try:
            with Store(db, readonly=True) as store:
                return cost_rows.export_cost_rows(store.conn, path, fmt, since, until, filters,
                                                  progress=report, cancelled=cancelled, batch=10_000)
        except cost_rows.ExportError as exc:
            raise CostdeckError(f"{clean(exc, 200)}") from None
        except OSError as exc:
            raise CostdeckError(f"cannot write {clean(path, 120)} ({exc.strerror or exc})") from None

    return job


def parse_range(text: str) -> tuple[date, date]:
    """'FIRST..LAST' (inclusive days) -> [since, until)."""
    parts = [p.strip() for p in text.replace("→", "..").split("..")]
    if len(parts) != 2:
        raise ValueError("expected FIRST..LAST, e.g. 2024-09-01..2024-09-30")
    try:
        a, b = date.fromisoformat(parts[0]), date.fromisoformat(parts[1])
    except ValueError:
        raise ValueError("dates must be YYYY-MM-DD") from None
    if b < a:
        raise ValueError("the last day is before the first")
    return a, b + timedelta(days=1)


def export_rows(path: Path, by: str, rows: list[SpendRow], data: SpendTable) -> int:
    records = [
        {
            by: r.value,
            "name": r.label,
            "cost": decimal_str(r.cost),
            "currency": r.currency,
            "share_pct": round(r.share * 100, 4),
            "previous_cost": decimal_str(r.previous),
            "change_pct": None if r.change_pct is None else round(r.change_pct, 4),
        }
        for r in rows
    ]
    if path.suffix.lower() == ".json":
        payload = {
            "group_by": by,
            "since": data.since.isoformat(),
            "until": data.until.isoformat(),
            "metric": data.metric,
            "filters": data.filters,
            "rows": records,
        }
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as fh:
            write_csv(fh, list(records[0]) if records else [by, "name", "cost", "currency"], records)
    return len(records)
