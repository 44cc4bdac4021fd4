"""Anomalies and budgets (6): the anomalies found in the daily spend, the selected one's series with
its expected band and markers, and the budgets with their progress and forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker

from analysis import anomalies as an
from analysis import budgets as bu
from cache import queries as q
from cache.money import fmt

from ..base import ViewScreen, post_result
from ..widgets import Chart, Table, TopBar, clean, day_ticks, safe

STATUS_STYLE = {"open": "bold", "acknowledged": "dim", "dismissed": "dim italic"}
BUDGET_STYLE = {"over": "bold red", "at_risk": "dark_orange", "ok": "green", "skipped": "dim"}
KIND_SHORT = {"spike": "spike", "level_shift": "shift", "drop": "drop"}


@dataclass(slots=True)
class Loaded:
    anomalies: list[an.Anomaly]
    budgets: list[bu.BudgetStatus]


class SeriesChart(Chart):
    """The scope's daily spend, the detector's expected band (expected ± 2 x noise) and markers on
    the anomalous days."""

    def show(self, days: list[date], values: list[float], res: an.SeriesResult | None, title: str,
             episode: tuple[date, date] | None = None) -> None:
        def draw(plt: Any) -> None:
            plt.title(title)
            if not days or res is None:
                return
            xs = list(range(len(days)))
            labels = [d.isoformat() for d in days]
            base = [i for i in xs if res.expected[i] or res.sd[i]]
            plt.plot([i for i in base], [max(0.0, res.expected[i] - 2 * res.sd[i]) for i in base], color="gray",
                     marker="dot")
            plt.plot([i for i in base], [res.expected[i] + 2 * res.sd[i] for i in base], color="gray", marker="dot")
            plt.plot(xs, values, color="cyan", marker="braille")
            marked = [i for i in xs if res.flags[i] or (episode and episode[0] <= days[i] <= episode[1])]
            if marked:
                plt.scatter(marked, [values[i] for i in marked], color="red", marker="x")
            day_ticks(plt, labels, 6)

        self.draw_with(draw)


def budget_line(b: bu.BudgetStatus, width: int) -> Text:
    """One budget: name, a progress bar (spent, then forecast), the figures and the status."""
    cur = b.budget.currency
    t = Text(no_wrap=True, overflow="ellipsis")
    name_w = 16 if width < 110 else 24
    t.append_text(safe(b.budget.name, name_w))
    t.append(" " * max(1, name_w + 1 - len(clean(b.budget.name, name_w))))
    if b.status == "skipped":
        t.append(b.reason, style="dim")
        return t
    bar_w = 12 if width < 110 else 24
    spent = min(bar_w, int(round(b.used * bar_w)))
    proj = min(bar_w, int(round(b.projected * bar_w)))
    style = BUDGET_STYLE[b.status]
    t.append("█" * spent, style=style)
    t.append("▒" * max(0, proj - spent), style=style)
    t.append("░" * (bar_w - max(spent, proj)), style="dim")
    t.append(f" {b.used:4.0%}", style=style)
    compact = width < 110
    t.append(f" {fmt(b.actual, cur, compact=compact)}/{fmt(b.budget.amount, cur, compact=compact)}")
    t.append(f" → {fmt(b.forecast_end, cur, compact=compact)}", style="dim")
    t.append(f" {bu.STATUS_TITLES[b.status]}", style=style)
    if b.crossing and b.status != "ok":
        word = "on" if b.status == "at_risk" else "since"
        if compact and t.cell_len + len(word) + 8 > width - 1:  # 80 columns: the date, never cut
            t.append(f" {b.crossing:%m-%d}", style=style)
        else:
            t.append(f" {word} {b.crossing:%m-%d}", style=style)
    if not compact and b.forecast is not None:
        t.append(f"  P10–P90 {fmt(b.forecast.p10, cur, compact=True)}–{fmt(b.forecast.p90, cur, compact=True)}",
                 style="dim")
    return t


class AnomaliesScreen(ViewScreen):
    VIEW_TITLE = "Anomalies"
    HELP = """
Anomalies: days whose spend left the expected band of its scope (total, provider, sub account,
service, account x service), against a baseline that follows the weekday rhythm and is not dragged
by past spikes. A spike lasts 1-3 days, a level shift 4 or more, a drop is spend that fell or
disappeared. Impact = actual - expected over the anomaly's days; only moves of at least
[anomalies] min_impact a day count. The chart shows the selected scope's daily spend (cyan), the
expected band (gray) and the anomalous days (red x); the line under the table names the
contributors (what moved most). enter opens Spend on that scope and those days.
a acknowledges, d dismisses (asks why; the reason shows in the line under the table and in
`report anomalies`), o reopens; kept across recomputes, and allowed in read-only mode (it changes
only the cache, never a cloud resource). s shows open / all.
Budgets: spent / amount, then (→) the forecast at the end of the period; the bar is spent (█) and
forecast (▒); at risk = the forecast reaches the budget or 90 % is spent.
"""
    BINDINGS = [
        Binding("enter", "open_spend", "Open in Spend", id="anomalies.open",
                tooltip="The selected anomaly's scope and days"),
        Binding("a", "set_status('acknowledged')", "Ack", id="anomalies.ack", tooltip="Seen, being handled"),
        Binding("d", "dismiss_anomaly", "Dismiss", id="anomalies.dismiss", tooltip="Not a problem (asks why)"),
        Binding("o", "set_status('open')", "Reopen", id="anomalies.reopen", tooltip="Back to the open ones"),
        Binding("s", "toggle_all", "Open/all", id="anomalies.all", tooltip="Switch between open and all anomalies"),
    ]

    class DataLoaded(Message, bubble=False):
        def __init__(self, data: Loaded) -> None:
            super().__init__()
            self.data = data

    class SeriesLoaded(Message, bubble=False):
        def __init__(self, anomaly_id: int, days: list[date], values: list[float], res: an.SeriesResult) -> None:
            super().__init__()
            self.anomaly_id = anomaly_id
            self.days = days
            self.values = values
            self.res = res

    class StatusWritten(Message, bubble=False):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self) -> None:
        super().__init__()
        self.show_all = False
        self.data: Loaded | None = None
        self.rows: list[an.Anomaly] = []

    def compose(self) -> ComposeResult:
        yield TopBar("Anomalies")
        yield Table(id="anomaly-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="anomaly-detail")
        yield SeriesChart(id="anomaly-chart")
        yield Static("", id="budgets")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#anomaly-table", Table).focus()
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="anomalies", exit_on_error=False, description="Loading the anomalies")
    def load(self) -> None:
        config = self.cd_app.config
        statuses = None if self.show_all else ["open"]
        data = self.cd_app.read(lambda conn: Loaded(an.load(conn, statuses), bu.evaluate_all(conn, config)))
        post_result(self, self.DataLoaded(data))

    @on(DataLoaded)
    def _loaded(self, message: DataLoaded) -> None:
        self.data = message.data
        self._fill()
        self._show_budgets()

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        if worker.group == "anomalies":
            self.query_one("#anomaly-detail", Static).update(
                Text("Could not read the cache (see the notification); r reloads.", style="bold red"))

    def on_resize(self) -> None:
        if self.data is not None:
            self._fill()
            self._show_budgets()

    # -- table ---------------------------------------------------------------------------------
    def _fill(self) -> None:
        assert self.data is not None
        t = self.query_one("#anomaly-table", Table)
        keep = t.cursor_row
        t.clear(columns=True)
        width = t.size.width or self.size.width or 80
        wide = width >= 110
        t.add_column("Days", key="days", width=11 if not wide else 23)
        t.add_column("Kind", key="kind", width=5 if not wide else 11)
        t.add_column(Text("Impact", justify="right"), key="impact", width=10 if not wide else 13)
        t.add_column("Status" if wide else "St", key="status", width=12 if wide else 3)
        fixed = (11 if not wide else 23) + (5 if not wide else 11) + (10 if not wide else 13) + (12 if wide else 3)
        t.add_column("Scope", key="scope", width=max(12, width - fixed - 12))
        self.rows = list(self.data.anomalies)
        for a in self.rows:
            if wide:
                days = a.start.isoformat() if a.start == a.end else f"{a.start} → {a.end:%m-%d}"
            else:
                days = f"{a.start:%m-%d}" if a.start == a.end else f"{a.start:%m-%d}→{a.end:%m-%d}"
            kind = an.KIND_TITLES[a.kind] if wide else KIND_SHORT[a.kind]
            style = "red" if a.impact > 0 else "dark_orange"
            impact = fmt(a.impact, a.currency, compact=not wide)
            status = a.status if wide else {"open": "●", "acknowledged": "✓", "dismissed": "✗"}[a.status]
            t.add_row(Text(days), Text(kind, style=style),
                      Text(("+" if a.impact > 0 else "") + impact, style=style, justify="right"),
                      Text(status, style=STATUS_STYLE[a.status]), safe(a.dim_value, 120), key=str(a.id))
        if not self.rows:
            what = "anomalies" if self.show_all else "open anomalies"
            self.query_one("#anomaly-detail", Static).update(Text(f" No {what} (s shows all).", style="dim"))
            self.query_one("#anomaly-chart", SeriesChart).show([], [], None, "")
            return
        t.move_cursor(row=min(max(0, keep), len(self.rows) - 1))
        self._select(t.source_index())

    def _current(self) -> an.Anomaly | None:
        t = self.query_one("#anomaly-table", Table)
        idx = t.source_index()  # the row as added, whatever the table's S sort
        if not self.rows or not 0 <= idx < len(self.rows):
            return None
        return self.rows[idx]

    @on(DataTable.RowHighlighted, "#anomaly-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(self.query_one("#anomaly-table", Table).source_index())

    @on(DataTable.RowSelected, "#anomaly-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_spend()

    def _select(self, idx: int) -> None:
        if not 0 <= idx < len(self.rows):
            return
        a = self.rows[idx]
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {a.scope_title}: ", style="bold")
        line.append(f"{fmt(a.actual, a.currency)} vs {fmt(a.expected, a.currency)} expected, {a.days}d", style="")
        if a.status != "open":
            line.append(f" · {a.status}", style=STATUS_STYLE[a.status])
            if a.status_reason:
                line.append(": ", style=STATUS_STYLE[a.status])
                line.append_text(safe(a.status_reason, 60))
        if a.contributors:
            line.append(" · moved: ", style="dim")
            for i, c in enumerate(a.contributors[:3]):
                line.append(", " if i else "")
                line.append_text(safe(c.get("label") or c["value"], 28))
                d = int(c["delta_nanos"])
                line.append(f" {'+' if d > 0 else ''}{fmt(d, a.currency, compact=True)}", style="dim")
        self.query_one("#anomaly-detail", Static).update(line)
        self.load_series(a)

    @work(thread=True, exclusive=True, group="anomaly-series", exit_on_error=False,
          description="Loading the anomaly's series")
    def load_series(self, a: an.Anomaly) -> None:
        p = an.params_of(self.cd_app.config)
        days, values, res = self.cd_app.read(lambda conn: an.series_for(conn, a, p))
        post_result(self, self.SeriesLoaded(a.id, days, values, res))

    @on(SeriesLoaded)
    def _series(self, message: SeriesLoaded) -> None:
        a = self._current()
        if a is None or a.id != message.anomaly_id:
            return
        title = f"{clean(a.dim_value, 60)} · daily {a.currency}, expected band"
        self.query_one("#anomaly-chart", SeriesChart).show(message.days, message.values, message.res, title,
                                                           (a.start, a.end))

    # -- budgets -------------------------------------------------------------------------------
    def _show_budgets(self) -> None:
        assert self.data is not None
        box = self.query_one("#budgets", Static)
        width = self.size.width or 80
        if not self.data.budgets:
            box.update(Text(" Budgets: none ([budgets.NAME] in the config: amount, currency, filter)", style="dim"))
            return
        shown = self.data.budgets[:4 if width < 110 or self.size.height < 40 else 10]
        lines = Text(no_wrap=True, overflow="ellipsis")
        for i, b in enumerate(shown):
            if i:
                lines.append("\n")
            lines.append(" ")
            lines.append_text(budget_line(b, width))
        box.update(lines)

    # -- keys ----------------------------------------------------------------------------------
    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.notify("Showing all anomalies" if self.show_all else "Showing open anomalies", timeout=3)
        self.load()

    def action_open_spend(self) -> None:
        a = self._current()
        if a is None:
            return
        from .spend import Crumb, SpendScreen

        self.app.switch_mode("spend")
        spend = self.app.screen
        if not isinstance(spend, SpendScreen):
            return
        # the names the Spend view shows for its own breadcrumbs (an account's name, not its id)
        labels = self.cd_app.read(lambda conn: {dim: q.dim_label(conn, dim, v) for dim, v in a.scope.items()})
        order = ("provider_name", "sub_account_id", "service_name")  # the Spend view's drill order
        dims = sorted(a.scope, key=lambda d: order.index(d) if d in order else len(order))
        spend.crumbs = [Crumb(dim, a.scope[dim], labels.get(dim), dim) for dim in dims]
        spend.by = "resource_id"
        spend.preset = "custom"
        spend.custom = (a.start, a.end + timedelta(days=1))
        spend.grain = "day"
        if spend.is_mounted:
            spend.load()

    # Statuses are local bookkeeping (the cache only, never a cloud resource): allowed in read-only
    # mode, as dismissing or snoozing a recommendation is (README: read-only).
    def action_set_status(self, status: str) -> None:
        a = self._current()
        if a is None:
            return
        if a.status == status:
            self.notify(f"Already {status}", timeout=3)
            return
        self.write_status(a.id, status)

    def action_dismiss_anomaly(self) -> None:
        a = self._current()
        if a is None:
            return
        if a.status == "dismissed":
            self.notify("Already dismissed", timeout=3)
            return
        from ..dialogs import PromptScreen

        def done(reason: str | None) -> None:
            if reason:
                self.write_status(a.id, "dismissed", reason)

        title = f"Dismiss the {an.KIND_TITLES[a.kind]} in {clean(a.dim_value, 50)}: why?"
        self.app.push_screen(PromptScreen(title, "", "e.g. planned load test",
                                          lambda t: None if t else "give a reason (it is kept with the status)"), done)

    @work(thread=True, exclusive=True, group="anomaly-status", exit_on_error=False,
          description="Changing the anomaly's status")
    def write_status(self, anomaly_id: int, status: str, reason: str | None = None) -> None:
        n = self.cd_app.write(lambda conn: an.set_status(conn, [anomaly_id], status, reason=reason))
        what = {"open": "reopened"}.get(status, status)
        post_result(self, self.StatusWritten(f"{n} anomaly {what}"))

    @on(StatusWritten)
    def _written(self, message: StatusWritten) -> None:
        self.notify(message.text, timeout=3)
        # the Overview's count of open anomalies changed: it reloads when shown again
        self.cd_app.data_version += 1
        self._seen_version = self.cd_app.data_version
        self.load()


__all__ = ["AnomaliesScreen", "budget_line"]
