"""Overview (1): month to date vs last month, forecast, daily spend by provider, top movers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Label, Static
from textual.worker import Worker

from analysis.commitments import Expiring, expiring
from analysis.overview import Change, Overview, build_overview
from analysis.recommendations.engine import OpenSummary, open_summary
from cache.money import fmt

from ..base import ViewScreen, post_result
from ..widgets import Card, StackedChart, Table, TopBar, money_text, pct_text, safe


class OverviewScreen(ViewScreen):
    VIEW_TITLE = "Overview"
    HELP = """
Month to date: spend from the 1st to the last day with data, against the same days of last month.
Forecast: month to date plus a run rate (last 14 days, weekday rhythm removed) times each remaining
day's weekday factor (from the last 8 weeks). "As of" is the last day with data, so an old snapshot
still shows its own month. Amounts are billed cost in the cache's main currency.
enter on a service or sub account opens it in the Spend view.
"""
    BINDINGS = [
        Binding("t", "toggle_days", "30/90 days", id="overview.days"),
        Binding("enter", "open_row", "Open in Spend", show=False, id="overview.open"),
    ]

    class Loaded(Message, bubble=False):
        def __init__(self, data: Overview) -> None:
            super().__init__()
            self.data = data

    class ExpiringLoaded(Message, bubble=False):
        def __init__(self, soon: list[Expiring]) -> None:
            super().__init__()
            self.soon = soon

    class RecsLoaded(Message, bubble=False):
        def __init__(self, summary: OpenSummary) -> None:
            super().__init__()
            self.summary = summary

    FIGURE_CARDS = ("#card-mtd", "#card-last", "#card-forecast")

    def __init__(self) -> None:
        super().__init__()
        self.chart_days = 30
        self.data: Overview | None = None
        self.alerts: tuple[int, Any] | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Overview")
        with Horizontal(id="cards"):
            yield Card("Month to date", id="card-mtd")
            yield Card("Last month", id="card-last")
            yield Card("Forecast, month end", "Forecast", id="card-forecast")
            yield Card("Recommendations", "Recs", id="card-recs")
            yield Card("Anomalies, budgets", "Alerts", id="card-alerts")
        yield Static("", id="expiring")
        yield Static("", id="alerts-line")
        yield Static("", id="no-data")
        yield StackedChart(id="daily-chart")
        with Horizontal(id="movers"):
            with Vertical():
                yield Label("Top services, month to date", classes="section")
                yield Table(id="top-services", cursor_type="row", zebra_stripes=True)
            with Vertical():
                yield Label("Top sub accounts, month to date", classes="section")
                yield Table(id="top-accounts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.load()
        self.load_recs()
        self.load_expiring()
        self.load_alerts()

    # Open anomalies and the worst budget (the Anomalies view, 6, has the detail).
    class AlertsLoaded(Message, bubble=False):
        def __init__(self, n: int, worst: Any) -> None:
            super().__init__()
            self.n = n
            self.worst = worst

    @work(thread=True, exclusive=True, group="overview-alerts", exit_on_error=False,
          description="Loading the anomalies and budgets")
    def load_alerts(self) -> None:
        from analysis import anomalies, budgets

        config = self.cd_app.config
        n, worst = self.cd_app.read(lambda conn: (anomalies.open_count(conn)[0],
                                                  budgets.worst(budgets.evaluate_all(conn, config))))
        post_result(self, self.AlertsLoaded(n, worst))

    @on(AlertsLoaded)
    def _alerts_loaded(self, message: AlertsLoaded) -> None:
        self.alerts = (message.n, message.worst)
        self.show_alerts()

    def show_alerts(self) -> None:
        """A card on a wide screen; one line under the cards below 140 columns (a fifth card would
        squeeze the amounts of the other four)."""
        if self.alerts is None:
            return
        n, w = self.alerts
        wide = self.size.width >= 140
        # the alerts line costs the top lists a row on a short screen (80x24 shows no scroll bar)
        self.set_class(not wide and self.size.height < 30, "-short")
        card = self.query_one("#card-alerts", Card)
        line = self.query_one("#alerts-line", Static)
        card.display, line.display = wide, not wide
        count = f"{n} open anomal{'y' if n == 1 else 'ies'}" if n else "no open anomaly"
        count_style = "bold red" if n else "bold"
        status = budget_style = ""
        if w is not None:
            status = f"{ {'over': 'over', 'at_risk': 'at risk'}.get(w.status, 'ok')} {w.used:.0%}"
            budget_style = {"over": "red", "at_risk": "dark_orange"}.get(w.status, "green")
        if wide:
            sub = Text(no_wrap=True, overflow="ellipsis")
            if w is None:
                sub.append("no budget", style="dim")
            else:
                sub.append_text(safe(w.budget.name, 40))
                sub.append("\n")
                sub.append(status, style=budget_style)
            card.set(Text(count, style=count_style), sub)
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" Alerts", style="bold")
        t.append(" · ", style="dim")
        t.append(count, style=count_style)
        if w is not None:
            t.append(" · worst budget: ", style="dim")
            t.append_text(safe(w.budget.name, 24))
            t.append(f" {status}", style=budget_style)
        t.append(" · key 6", style="dim")
        line.update(t)

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False, description="Loading the overview")
    def load(self) -> None:
        days = self.chart_days
        data = self.cd_app.read(lambda conn: build_overview(conn, chart_days=days))
        post_result(self, self.Loaded(data))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.show(message.data)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        """A load failed (already notified): the cards say so instead of waiting forever."""
        failed = Text("—", style="bold red")
        if worker.group == "overview":
            for cid in self.FIGURE_CARDS:
                card = self.query_one(cid, Card)
                card.border_subtitle = ""
                card.set(failed, Text("could not read the cache", style="red"))
            no_data = self.query_one("#no-data", Static)
            no_data.update(Text("Could not read the cache (see the notification); r reloads.", style="bold red"))
            no_data.display = True
        elif worker.group == "overview-recs":
            self.query_one("#card-recs", Card).set(failed, Text("could not read the cache", style="red"))
        elif worker.group == "overview-alerts":
            self.query_one("#card-alerts", Card).set(failed, Text("could not read the cache", style="red"))

    def show(self, ov: Overview) -> None:
        self.data = ov
        no_data = self.query_one("#no-data", Static)
        if not ov.has_data:
            no_data.update(
                Text("No cost data in this cache yet: run `costdeck import FILE` or `costdeck sync`.", style="bold")
            )
            no_data.display = True
            for cid in self.FIGURE_CARDS:
                self.query_one(cid, Card).set(Text("—", style="bold"), Text("no cost data", style="dim"))
            return
        no_data.display = False
        cur = ov.currency
        assert ov.as_of is not None and ov.prev_range is not None and ov.last_month is not None
        mtd_sub = Text()
        last_day = (ov.prev_range[1] - timedelta(days=1)).day
        days = f"{ov.prev_range[0]:%b} 1" + (f"–{last_day}" if last_day > 1 else "")
        narrow = self.size.width < 110
        # a period before the first day with data has no data: say so, never "$0.00" or "+new"
        start = ov.data_start
        if start is not None and start >= ov.prev_range[1]:
            mtd_sub.append(f"no data for {days}", style="dim italic")
        else:
            mtd_sub.append_text(pct_text(ov.mtd_pct))
            mtd_sub.append(f"  vs {fmt(ov.prev_same, cur, compact=narrow)} ({days})", style="dim")
        card = self.query_one("#card-mtd", Card)
        card.border_subtitle = f"as of {ov.as_of:%Y-%m-%d}"
        card.set(Text(fmt(ov.mtd, cur), style="bold"), mtd_sub, Text(fmt(ov.mtd, cur, compact=True), style="bold"))
        no_last_month = start is not None and start >= ov.as_of.replace(day=1)
        if no_last_month:
            self.query_one("#card-last", Card).set(
                Text("no data", style="bold dim"), Text(f"for {ov.last_month:%B %Y}", style="dim")
            )
        else:
            self.query_one("#card-last", Card).set(
                Text(fmt(ov.last_month_total, cur), style="bold"), Text(f"{ov.last_month:%B %Y}", style="dim"),
                Text(fmt(ov.last_month_total, cur, compact=True), style="bold"),
            )
        fc = ov.forecast
        if fc is not None:
            vs_last = pct_text(
                (fc.month_end - ov.last_month_total) / ov.last_month_total * 100 if ov.last_month_total else None
            )
            sub = Text()
            if no_last_month:  # nothing to compare with: the run rate alone, not "new"
                sub.append(f"run rate {fmt(fc.run_rate, cur, compact=narrow)}/day", style="dim")
            elif narrow:
                sub.append_text(vs_last)
                sub.append(f" · {fmt(fc.run_rate, cur, compact=True)}/day", style="dim")
            else:
                sub.append_text(vs_last)
                sub.append(f"  vs last month · run rate {fmt(fc.run_rate, cur)}/day", style="dim")
            self.query_one("#card-forecast", Card).set(
                Text(fmt(fc.month_end, cur), style="bold"), sub, Text(fmt(fc.month_end, cur, compact=True), style="bold")
            )
        else:
            self.query_one("#card-forecast", Card).set(Text("—", style="bold"), Text("no forecast", style="dim"))
        chart = self.query_one("#daily-chart", StackedChart)
        extra = f" (other currencies not shown: {', '.join(ov.other_currencies)})" if ov.other_currencies else ""
        chart.show(
            [d.isoformat() for d in ov.chart_days],
            ov.chart_series,
            f"Daily billed spend by provider, last {self.chart_days} days ({cur}){extra} · t toggles 30/90",
            cur,
        )
        self._fill("#top-services", ov.top_services, cur)
        self._fill("#top-accounts", ov.top_accounts, cur)

    def _fill(self, tid: str, changes: list[Change], cur: str) -> None:
        t = self.query_one(tid, DataTable)
        first = "Service" if tid == "#top-services" else "Sub account"
        t.clear(columns=True)
        width = t.size.width or max(40, self.size.width // 2)
        t.add_column(first, key="name", width=max(10, width - 13 - 9 - 6 - 2))
        t.add_column(Text("MTD", justify="right"), key="cost", width=13)
        t.add_column(Text("vs prev", justify="right"), key="change", width=9)
        for i, ch in enumerate(changes):
            name = ch.label or ch.value or "(not set)"
            t.add_row(safe(name, 60), money_text(ch.now, cur), pct_text(ch.pct), key=str(i))

    # Commitments ending within 90 days (the Commitments view, 4, has the detail).
    @work(thread=True, exclusive=True, group="overview-expiring", exit_on_error=False,
          description="Loading the expiring commitments")
    def load_expiring(self) -> None:
        soon = self.cd_app.read(lambda conn: expiring(conn, 90))
        post_result(self, self.ExpiringLoaded(soon))

    @on(ExpiringLoaded)
    def _expiring_loaded(self, message: ExpiringLoaded) -> None:
        self.show_expiring(message.soon)

    def show_expiring(self, soon: list[Expiring]) -> None:
        box = self.query_one("#expiring", Static)
        box.display = bool(soon)
        if not soon:
            return
        box.styles.height = 1
        # the next one first: at 80 columns the line used to end at "next in 21d:" with its name cut off
        narrow = self.size.width < 110
        first = soon[0]
        t = Text(" Expiring" if narrow else " Commitments expiring", style="bold", no_wrap=True, overflow="ellipsis")
        t.append(f" · next in {first.days_to_expiry}d: ", style="dim")
        t.append_text(safe(first.name or first.commitment_id, 26 if narrow else 50))
        parts = [(f"{n} ≤{limit}d" if narrow else f"{n} within {limit} days", style) for limit, style in
                 ((30, "bold red"), (60, "dark_orange"), (90, "yellow"))
                 if (n := sum(1 for e in soon if e.flag == limit))]
        t.append(" · ", style="dim")
        for i, (label, style) in enumerate(parts):
            t.append(", " if i else "")
            t.append(label, style=style)
        t.append(" · key 4" if narrow else " · details: key 4", style="dim")
        box.update(t)

    # Open recommendations and the monthly saving they add up to (the Recommendations view, 3).
    @work(thread=True, exclusive=True, group="overview-recs", exit_on_error=False,
          description="Loading the open recommendations")
    def load_recs(self) -> None:
        summary = self.cd_app.read(open_summary)
        post_result(self, self.RecsLoaded(summary))

    @on(RecsLoaded)
    def _recs_loaded(self, message: RecsLoaded) -> None:
        self.show_recs(message.summary)

    def show_recs(self, s: OpenSummary) -> None:
        value = Text()
        sub = Text()
        if not s.count:
            value.append("none open", style="bold")
            sub.append("nothing to clean up", style="dim")
        else:
            value.append(" + ".join(f"{fmt(v, c)}/mo" for c, v in sorted(s.saving.items())) or "$0.00/mo", style="bold")
            narrow = Text(" + ".join(f"{fmt(v, c, compact=True)}/mo" for c, v in sorted(s.saving.items())), style="bold")
            sub.append(f"{s.count} open", style="")
            if s.security:
                sub.append(f" · {s.security} security", style="magenta")
        self.query_one("#card-recs", Card).set(value, sub, narrow if s.count else None)

    def on_resize(self) -> None:
        self.show_alerts()
        if self.data is not None and self.data.has_data:
            self._fill("#top-services", self.data.top_services, self.data.currency)
            self._fill("#top-accounts", self.data.top_accounts, self.data.currency)

    def action_toggle_days(self) -> None:
        self.chart_days = 90 if self.chart_days == 30 else 30
        self.load()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(event.data_table)

    def action_open_row(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            self._open(focused)

    def _open(self, table: DataTable[Any]) -> None:
        if self.data is None or table.row_count == 0:
            return
        rows = self.data.top_services if table.id == "top-services" else self.data.top_accounts
        idx = table.source_index() if isinstance(table, Table) else table.cursor_row
        if not 0 <= idx < len(rows):
            return
        dim = "service_name" if table.id == "top-services" else "sub_account_id"
        ch = rows[idx]
        self.app.switch_mode("spend")
        spend = self.app.screen
        open_group = getattr(spend, "open_group", None)
        if callable(open_group):
            open_group(dim, ch.value, ch.label, preset="mtd")
