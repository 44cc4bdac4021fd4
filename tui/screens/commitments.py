"""Commitments (4): RI / Savings Plan / reservation / CUD utilization, coverage, unused cost, savings,
expiry, the daily utilization and coverage chart, and what to buy next."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, Static

from analysis.commitments import (
    PERIODS,
    RECORD_MONEY,
    CommitmentFigures,
    CommitmentReport,
    build_report,
    commitment_record,
    data_anchor,
    period_range,
)
from analysis.mlcommit import MlCommitments, ml_commitments
from analysis.mlruns import load_runs
from analysis.purchase import PERCENTILE, PurchaseOption, purchase_options
from cache import timeutil
from cache.csvout import write_csv
from cache.money import decimal_str, fmt

from .. import palette
from ..base import ViewScreen, post_result
from ..dialogs import ask_export
from ..widgets import Card, Chart, LegendChart, Table, TopBar, clean, day_ticks, money_text, safe, y_axis

UTIL_GOOD = 95.0  # utilization at or above: green
UTIL_WARN = 80.0  # at or above: yellow; below: red
_SHORT_TYPES = {
    "Reserved Instance": "RI",
    "Savings Plan": "Savings Plan",
    "Committed Use Discount": "CUD",
    "Reservation": "Reservation",
}


def util_text(pct: float | None) -> Text:
    if pct is None:
        return Text("—", style="dim", justify="right")
    style = "green" if pct >= UTIL_GOOD else "yellow" if pct >= UTIL_WARN else "bold red"
    return Text(f"{pct:.1f}%", style=style, justify="right")


EXPIRY_STYLE = {30: "bold red", 60: "dark_orange", 90: "yellow"}


def end_text(c: CommitmentFigures) -> Text:
    """The end date, always YYYY-MM-DD."""
    if c.end_at is None:
        return Text("—", style="dim")
    return Text(c.end_at.strftime("%Y-%m-%d"), style="dim strike" if (c.days_to_expiry or 0) < 0 else "")


def left_text(c: CommitmentFigures) -> Text:
    """Days to expiry (from the snapshot's time); red within 30 days, orange within 60, yellow within 90."""
    d = c.days_to_expiry
    if c.end_at is None or d is None:
        return Text("—", style="dim", justify="right")
    if d < 0:
        return Text("ended", style="dim", justify="right")
    return Text(f"{d}d", style=EXPIRY_STYLE.get(c.expiry_flag or 0, ""), justify="right")


def expiry_text(c: CommitmentFigures) -> Text:
    """End date with days to expiry (the detail pane)."""
    if c.end_at is None:
        return Text("—", style="dim")
    d = c.days_to_expiry
    end = c.end_at.strftime("%Y-%m-%d")
    if d is not None and d < 0:
        return Text(f"{end} expired", style="dim strike")
    return Text(f"{end} {d}d", style=EXPIRY_STYLE.get(c.expiry_flag or 0, ""))


def commit_text(c: CommitmentFigures) -> Text:
    if c.instance_type:
        return safe(f"{c.instance_count or 1} x {c.instance_type}", 30)
    if c.hourly_commitment is not None:
        return Text(f"{fmt(c.hourly_commitment, c.currency)}/h")
    return Text("—", style="dim")


def term_text(c: CommitmentFigures) -> str:
    if not c.term_months:
        return "—"
    return f"{c.term_months // 12}yr" if c.term_months % 12 == 0 else f"{c.term_months}mo"


class UtilizationChart(LegendChart):
    """Daily utilization and coverage (%) as lines; days without a figure are gaps. The legend is
    above the plot (tui/widgets.LegendChart), never over the lines."""

    COLORS = {"utilization %": palette.UTILIZATION, "coverage %": palette.COVERAGE}

    def show(self, labels: list[str], series: dict[str, list[float | None]], title: str = "") -> None:
        drawn_names = [n for n, values in series.items() if any(v is not None for v in values)]
        self.set_head(title, [(n, self.COLORS.get(n, palette.CYCLE[0])) for n in drawn_names])

        def draw(plt: Any) -> None:
            for name in drawn_names:
                pts = [(i, v) for i, v in enumerate(series[name]) if v is not None]
                plt.plot([p[0] for p in pts], [p[1] for p in pts],
                         color=self.COLORS.get(name, palette.CYCLE[0]), marker="braille")
            if labels and drawn_names:
                plt.xlim(0, max(1, len(labels) - 1))  # the whole period, whatever days have a figure
                day_ticks(plt, labels, width=self.query_one(Chart).size.width)
                # ticks a whole number of rows apart (overlapping labels draw in an arbitrary order)
                ticks, limit = y_axis(100.0, self.query_one(Chart).size.height or 10)
                plt.ylim(0, limit)
                plt.yticks(ticks, [f"{t:g}%" for t in ticks])

        self.draw_with(draw)


class CommitmentDetailScreen(ModalScreen[None]):
    """One commitment: its terms, both bases' figures and its daily series."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    CommitmentDetailScreen { align: center middle; }
    CommitmentDetailScreen > Vertical { width: 95%; height: 95%; border: thick $primary; background: $surface;
        padding: 0 1; }
    CommitmentDetailScreen #cd-info { height: auto; max-height: 10; }
    CommitmentDetailScreen #cd-chart { height: 1fr; min-height: 6; }
    CommitmentDetailScreen #cd-days { height: 1fr; min-height: 4; }
    """

    def __init__(self, c: CommitmentFigures, report: CommitmentReport) -> None:
        super().__init__()
        self.c = c
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._info(), id="cd-info")
            yield UtilizationChart(id="cd-chart")
            yield Table(id="cd-days", cursor_type="row", zebra_stripes=True)

    def _info(self) -> Text:
        c = self.c
        t = Text()
        t.append_text(safe(c.name or c.commitment_id, 100, "bold"))
        t.append("   esc closes\n", style="dim")
        t.append_text(safe(c.commitment_id, 140, "dim"))
        t.append("\n")

        def field(label: str, value: Text | str) -> None:
            t.append(f"{label} ", style="dim")
            t.append_text(value if isinstance(value, Text) else safe(value, 40))
            t.append("   ")

        field("Provider", c.provider_name)
        field("Type", c.commitment_type or "—")
        field("Scope", c.scope or "—")
        field("Region", c.region_id or "—")
        t.append("\n")
        field("Commitment", commit_text(c))
        field("Term", term_text(c))
        field("Payment", c.payment_option or "—")
        field("Upfront", fmt(c.upfront, c.currency) if c.upfront is not None else "—")
        t.append("\n")
        field("Start", c.start_at.strftime("%Y-%m-%d") if c.start_at else "—")
        field("End", expiry_text(c))
        field("State", c.state or "—")
        if not c.in_inventory:
            t.append("known only from FOCUS cost rows", style="italic yellow")
        t.append("\n")
        since, until = self.report.since, self.report.until
        t.append(f"{since} → {until - timedelta(days=1)}", style="dim")
        for f in (c.figures, c.other):
            if f is None:
                continue
            cur = c.currency
            t.append(f"\n{f.basis:>5}: ", style="bold" if f is c.figures else "dim")
            t.append_text(util_text(f.utilization_pct))
            t.append(f" used {fmt(f.used, cur)} of {fmt(f.committed, cur)}, unused {fmt(f.unused, cur)}, "
                     f"on-demand equivalent {fmt(f.on_demand_equivalent, cur)}, saved {fmt(f.savings, cur)} "
                     f"(net {fmt(f.net_savings, cur)})" + ("" if f is c.figures else "  (other basis)"),
                     style="" if f is c.figures else "dim")
        if c.figures is None:
            t.append(": no usage data in this period", style="italic dim")
        return t

    def on_mount(self) -> None:
        c = self.c
        labels = [d.day.isoformat() for d in c.daily]
        series: dict[str, list[float | None]] = {"utilization %": [d.utilization_pct for d in c.daily]}
        if any(d.coverage_pct is not None for d in c.daily):
            series["coverage %"] = [d.coverage_pct for d in c.daily]
        self.query_one("#cd-chart", UtilizationChart).show(
            labels, series, f"Daily utilization{' and coverage' if len(series) > 1 else ''} ({c.basis})")
        table = self.query_one("#cd-days", DataTable)
        table.add_column("Day", width=10)
        # money columns as wide as their amounts (auto width): the 80-column modal then shows them all,
        # never a cut "$64.5"
        for title in ("Committed", "Used", "Unused", "On-demand"):
            table.add_column(Text(title, justify="right"))
        table.add_column(Text("Util", justify="right"), width=6)
        table.add_column(Text("Cover", justify="right"), width=6)
        cur = c.currency
        for d in reversed(c.daily):
            has = d.committed or d.used or d.unused
            table.add_row(
                d.day.isoformat(),
                *(money_text(v, cur) if has else Text("—", style="dim", justify="right")
                  for v in (d.committed, d.used, d.unused, d.on_demand_equivalent)),
                util_text(d.utilization_pct),
                Text("—" if d.coverage_pct is None else f"{d.coverage_pct:.1f}%", justify="right"),
            )


class CommitmentsScreen(ViewScreen):
    VIEW_TITLE = "Commitments"
    HELP = f"""
Reserved Instances, Savings Plans, reservations and committed use discounts over the period (t: 7, 30 or
90 days ending on the last day with data, never after the snapshot's time). Per commitment: utilization (used / committed:
green from {UTIL_GOOD:.0f} %, yellow from {UTIL_WARN:.0f} %, red below), unused commitment cost, and savings
vs on demand (on-demand equivalent of the usage it covered minus what that usage cost; net = minus the
unused part too). Ends: the end date; Left: days to expiry, counted from the snapshot's time (an old
snapshot is judged as of its own time): red within 30 days, orange within 60, yellow within 90.
Basis: "api" = the provider's own daily figures (AWS Cost Explorer utilization and coverage), preferred
where present; "focus" = computed from the FOCUS cost rows (CommitmentDiscountStatus Used/Unused,
EffectiveCost, ContractedCost or ListCost). Commitments seen only in FOCUS rows are listed too.
Coverage: share of the eligible on-demand usage (same services, and region and instance family where
the commitment is bound to them) that commitments covered.
Purchase recommendations: the p{PERCENTILE} of the daily on-demand instance usage per family and region
over 30 days (the steady baseline, not the mean), the hourly commitment covering it, the monthly
saving at 1-year and 3-year no-upfront rates (prices table, else assumed default rates, marked *) and
the break-even utilization (commitment rate / on-demand rate).
ML usage: per ML instance family (training executors of the last 30 days, SageMaker endpoints and
notebooks in service), the instance-hours RI/SP covered (from the billed rows; no billing evidence counts
as on demand), and the 1-year saving of a commitment sized to the ML baseline (same purchase math).
enter shows a commitment's daily series; e exports the table (CSV or JSON); c toggles the chart.
"""
    BINDINGS = [
        Binding("t", "cycle_period", "7/30/90 days", id="commitments.period"),
        Binding("enter", "open_detail", "Daily series", id="commitments.detail"),
        Binding("e", "export", "Export", id="commitments.export"),
        Binding("c", "toggle_chart", "Chart", id="commitments.chart"),
    ]
    DEFAULT_CSS = """
    CommitmentsScreen #cm-controls { height: 1; padding: 0 1; background: $boost; }
    CommitmentsScreen #cm-cards { height: 5; }
    CommitmentsScreen #cm-empty { height: auto; padding: 0 2; display: none; }
    CommitmentsScreen #cm-chart { height: 1fr; min-height: 6; }
    CommitmentsScreen #cm-table { height: auto; max-height: 12; min-height: 3; }
    CommitmentsScreen #cm-purchase { height: 1fr; min-height: 3; }
    CommitmentsScreen #cm-ml { height: 7; }  /* fixed: the chart above keeps one height */
    """

    def __init__(self) -> None:
        super().__init__()
        self.period = "30d"
        self.report: CommitmentReport | None = None
        self.options: list[PurchaseOption] = []
        self.ml: MlCommitments | None = None
        self.chart_auto = True

    def compose(self) -> ComposeResult:
        yield TopBar("Commitments")
        yield Static("", id="cm-controls")
        with Horizontal(id="cm-cards"):
            yield Card("Utilization", id="card-util")
            yield Card("Coverage", id="card-coverage")
            yield Card("Unused commitment", id="card-unused")
            yield Card("Net savings", id="card-savings")
        yield Static("", id="cm-empty")
        yield UtilizationChart(id="cm-chart")
        yield Table(id="cm-table", cursor_type="row", zebra_stripes=True,
                    drop_order=("basis", "term", "commit", "type", "ends", "left"))
        yield Label("Purchase recommendations", classes="section", id="cm-purchase-title")
        yield Table(id="cm-purchase", cursor_type="row", zebra_stripes=True)
        yield Label("ML usage", classes="section", id="cm-ml-title")
        yield Table(id="cm-ml", cursor_type="none", zebra_stripes=True, show_cursor=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cm-table", DataTable).focus()
        self.chart_auto = True
        self._auto_chart()
        self.reload()

    def _auto_chart(self) -> None:
        """Small terminals start without the chart (c shows it): the tables matter more there."""
        if self.chart_auto and self.app.size.height:
            self.query_one("#cm-chart", UtilizationChart).display = self.app.size.height >= 30

    def reload(self) -> None:
        self.load()

    class Loaded(Message, bubble=False):
        def __init__(self, report: CommitmentReport | None, options: list[PurchaseOption],
                     ml: MlCommitments | None = None) -> None:
            super().__init__()
            self.report, self.options, self.ml = report, options, ml

    @work(thread=True, exclusive=True, group="commitments", exit_on_error=False,
          description="Loading the commitments")
    def load(self) -> None:
        period = self.period

        def compute(conn: Any) -> tuple[CommitmentReport | None, list[PurchaseOption], MlCommitments | None]:
            ml = ml_commitments(conn, load_runs(conn))
            anchor = data_anchor(conn)
            if anchor is None:
                return None, [], ml
            since, until = period_range(period, anchor)
            return build_report(conn, since, until), purchase_options(conn), ml

        report, options, ml = self.cd_app.read(compute)
        post_result(self, self.Loaded(report, options, ml))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.ml = message.ml
        self.show(message.report, message.options)
        self._fill_ml()

    def _fill_ml(self) -> None:
        """ML instance families: hours covered by RI/SP, on demand, and the ML baseline's commitment."""
        table = self.query_one("#cm-ml", DataTable)
        table.clear(columns=True)
        title = self.query_one("#cm-ml-title", Label)
        fams = sorted((self.ml.families.values() if self.ml else []), key=lambda c: -c.hours)
        if not fams:
            title.update("ML usage: no ML runs, endpoints or notebooks in the last 30 days")
            table.display = False
            return
        table.display = True
        width = self.size.width or 120
        title.update("ML usage, 30 days · RI/SP-covered instance-hours · commitment sized to the ML baseline"
                     if width >= 100 else "ML usage 30d · RI/SP-covered hours · 1yr: commitment on ML baseline")
        # a tall terminal shows every family (up to 11); a small one keeps the charts' room and scrolls
        table.styles.height = min(len(fams) + 1, 12) if (self.size.height or 40) > 40 else 7
        cols = [("fam", "ML family / region", 0), ("hours", "Inst-hours", 10), ("cov", "RI/SP", 6),
                ("od", "On-demand", 11), ("base", "Base $/h", 9), ("s1", "1yr /mo", 10)]
        name_w = max(12, width - sum(c[2] for c in cols) - 2 * len(cols) - 4)
        for key, t, w in cols:
            table.add_column(Text(t, justify="right") if w else t, key=key, width=w or name_w)
        for c in fams:
            opt = c.option
            star = "" if opt is None or opt.terms[1].rate_basis == "prices table" else "*"
            prov, _, rest = c.key.partition("/")
            region, _, fam = rest.rpartition("/")
            where = Text()
            where.append_text(safe(fam, 24, "bold"))
            where.append(" ")
            # narrow: the region says the cloud; the family and region stay whole
            where.append_text(safe(f"{prov} {region}" if name_w >= 26 else region, 40, "dim"))
            table.add_row(
                where,
                Text(f"{c.hours:,.0f}", justify="right"),
                Text(f"{c.covered_pct or 0:.0f}%", justify="right"),
                Text(fmt(c.on_demand_cost, c.currency), justify="right"),
                Text(fmt(opt.baseline_hourly, opt.currency, places=3) if opt else "—", justify="right"),
                Text(fmt(opt.terms[1].monthly_saving, opt.currency) + star if opt else "none",
                     style="green" if opt else "dim", justify="right"),
            )

    # -- rendering -------------------------------------------------------------------
    def show(self, report: CommitmentReport | None, options: list[PurchaseOption]) -> None:
        self.report = report
        self.options = options
        self._render_controls()
        empty = self.query_one("#cm-empty", Static)
        if report is None or not report.has_data:
            empty.update(Text(
                "No commitments in this cache: sync an AWS source (commitments step) or import a FOCUS file "
                "whose rows carry CommitmentDiscountId.", style="bold"))
            empty.display = True
        else:
            empty.display = False
        self._render_cards()
        self._render_chart()
        self._fill_table()
        self._fill_purchase()

    def _render_controls(self) -> None:
        t = Text()
        rep = self.report
        t.append("Period ", style="dim")
        t.append(f"last {PERIODS[self.period]} days", style="bold")
        if rep is not None:
            t.append(f" {rep.since} → {rep.until - timedelta(days=1)}", style="dim")
            counts = rep.basis_counts()
            if counts:
                t.append("  │  basis ", style="dim")
                t.append(", ".join(f"{k} {v}" for k, v in sorted(counts.items())), style="bold")
            if rep.other_currencies:
                others = ", ".join(clean(c, 8) for c in rep.other_currencies)
                t.append(f"  │  totals in {clean(rep.currency, 8)} only (also: {others})", style="yellow")
        t.append("  │  t period · enter daily · e export", style="dim")
        self.query_one("#cm-controls", Static).update(t)

    def _render_cards(self) -> None:
        rep = self.report
        util = self.query_one("#card-util", Card)
        cov = self.query_one("#card-coverage", Card)
        unused = self.query_one("#card-unused", Card)
        savings = self.query_one("#card-savings", Card)
        if rep is None or not rep.has_data:
            for card in (util, cov, unused, savings):
                card.set(Text("—", style="dim"), "")
            return
        cur = rep.currency
        u = rep.utilization_pct
        util.set(util_text(u) if u is not None else Text("—", style="dim"),
                 Text(f"{fmt(rep.used, cur, compact=True)} of {fmt(rep.committed, cur, compact=True)}",
                      style="dim"))
        basis = sorted(set(rep.coverage_basis.values()))
        cov.set(Text("—" if rep.coverage_pct is None else f"{rep.coverage_pct:.1f}%", style="bold"),
                Text(f"of eligible · {'+'.join(basis) or 'no data'}", style="dim"))
        share = (rep.unused * 100 / rep.committed) if rep.committed else 0.0
        unused.set(Text(fmt(rep.unused, cur), style="bold red" if share >= 100 - UTIL_WARN else
                        "bold yellow" if share >= 100 - UTIL_GOOD else "bold"),
                   Text(f"{share:.1f}% of committed", style="dim"))
        savings.set(Text(fmt(rep.net_savings, cur), style="bold green" if rep.net_savings > 0 else "bold red"),
                    Text("vs on demand, after unused", style="dim"))

    def _render_chart(self) -> None:
        rep = self.report
        chart = self.query_one("#cm-chart", UtilizationChart)
        if rep is None or not rep.has_data:
            chart.show([], {}, "")
            return
        chart.show(
            [d.isoformat() for d in rep.days],
            {"utilization %": rep.utilization_series, "coverage %": rep.coverage_series},
            f"Daily utilization and coverage, last {PERIODS[self.period]} days (%)",
        )

    def _fill_table(self) -> None:
        table = self.query_one("#cm-table", DataTable)
        table.clear(columns=True)
        rep = self.report
        width = self.size.width or 120
        wide = width >= 110
        if wide:
            fixed = {"type": 11, "term": 4, "commit": 16, "ends": 10, "left": 6, "util": 6, "unused": 9,
                     "saved": 10, "basis": 5}
        else:
            fixed = {"type": 8, "ends": 10, "left": 6, "util": 6, "unused": 10, "saved": 11}
        name_w = max(12, width - sum(fixed.values()) - 2 * (len(fixed) + 1) - 2)
        table.add_column("Name", key="name", width=name_w)
        titles = {"type": "Type", "term": "Term", "commit": "Commitment", "ends": "Ends", "left": "Left",
                  "util": "Util", "unused": "Unused", "saved": "Saved", "basis": "Basis"}
        right = {"left", "util", "unused", "saved"}
        for key, w in fixed.items():
            table.add_column(Text(titles[key], justify="right") if key in right else titles[key], key=key, width=w)
        if rep is None:
            return
        for i, c in enumerate(rep.commitments):
            name = safe(c.name or c.commitment_id, 80, "" if c.in_inventory else "italic")
            ctype = _SHORT_TYPES.get(c.commitment_type or "", c.commitment_type or "—")
            cells: dict[str, Any] = {
                "type": safe(ctype, 20),
                "term": term_text(c),
                "commit": commit_text(c),
                "ends": end_text(c),
                "left": left_text(c),
                "util": util_text(c.utilization_pct),
                "unused": money_text(c.unused, c.currency) if c.unused is not None else Text("—", justify="right"),
                "saved": money_text(c.savings, c.currency) if c.savings is not None else Text("—", justify="right"),
                "basis": Text(c.basis, style="dim" if c.basis == "none" else ""),
            }
            table.add_row(name, *(cells[k] for k in fixed), key=str(i))

    def _fill_purchase(self) -> None:
        table = self.query_one("#cm-purchase", DataTable)
        table.clear(columns=True)
        width = self.size.width or 120
        wide = width >= 110
        cols: list[tuple[str, str, int, bool]] = [
            ("where", "Family / region", 0, False),
            ("baseline", f"p{PERCENTILE} $/h", 9, True),
            ("units", "≈ instances", 18 if wide else 0, False),
            ("c1", "1yr $/h", 9, True),
            ("s1", "1yr /mo", 10, True),
            ("s3", "3yr /mo", 10, True),
            ("be", "Break-even", 10, True),
        ]
        cols = [c for c in cols if c[0] == "where" or c[2]]
        fixed = sum(c[2] for c in cols)
        name_w = max(14, width - fixed - 2 * len(cols) - 4)
        for key, title, w, right in cols:
            table.add_column(Text(title, justify="right") if right else title, key=key, width=w or name_w)
        heading = self.query_one("#cm-purchase-title", Label)
        if not self.options:
            heading.update("Purchase recommendations: none (no steady on-demand instance usage in the last 30 days)")
            return
        assumed = any(t.rate_basis != "prices table" for o in self.options for t in o.terms.values())
        heading.update(
            f"Purchase recommendations · p{PERCENTILE} of daily on-demand usage, 30 days · saving per month"
            + (" · * assumed rate" if assumed else "")
        )
        for i, o in enumerate(self.options):
            one, three = o.terms[1], o.terms[3]
            star = lambda t: "" if t.rate_basis == "prices table" else "*"  # noqa: E731
            where = Text()
            where.append_text(safe(o.family, 20, "bold"))
            where.append(" ")
            where.append_text(safe(f"{o.provider_name} {o.region_id or ''}", 40, "dim"))
            cells: dict[str, Any] = {
                "where": where,
                "baseline": Text(fmt(o.baseline_hourly, o.currency, places=3), justify="right"),
                "units": safe(f"{o.instance_equivalents:.1f} x {o.instance_type}" if o.instance_equivalents
                              else (o.instance_type or ""), 30, "dim"),
                "c1": Text(fmt(one.hourly_commitment, o.currency, places=3), justify="right"),
                "s1": Text(fmt(one.monthly_saving, o.currency) + star(one), style="green", justify="right"),
                "s3": Text(fmt(three.monthly_saving, o.currency) + star(three), style="green", justify="right"),
                "be": Text(f"{one.break_even_utilization_pct:.0f}/{three.break_even_utilization_pct:.0f}%",
                           justify="right"),
            }
            table.add_row(*(cells[c[0]] for c in cols), key=str(i))

    def on_resize(self) -> None:
        self._auto_chart()
        if self.report is not None:
            self._fill_table()
            self._fill_purchase()
        if self.ml is not None:
            self._fill_ml()

    # -- actions ------------------------------------------------------------------------
    def action_cycle_period(self) -> None:
        keys = list(PERIODS)
        self.period = keys[(keys.index(self.period) + 1) % len(keys)]
        self.load()

    def action_toggle_chart(self) -> None:
        chart = self.query_one("#cm-chart", UtilizationChart)
        chart.display = not chart.display
        self.chart_auto = False

    def selected(self) -> CommitmentFigures | None:
        table = self.query_one("#cm-table", Table)
        if self.report is None or table.row_count == 0:
            return None
        idx = table.source_index()
        return self.report.commitments[idx] if 0 <= idx < len(self.report.commitments) else None

    def action_open_detail(self) -> None:
        c = self.selected()
        if c is not None and self.report is not None:
            self.app.push_screen(CommitmentDetailScreen(c, self.report))

    @on(DataTable.RowSelected, "#cm-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_detail()

    def action_export(self) -> None:
        rep = self.report
        if rep is None:
            return
        default = f"costdeck-commitments-{rep.since}_{rep.until}.csv"

        ask_export(self, "Export commitments to (.csv or .json)", default,
                   lambda path: export_commitments(path, rep), "commitments")

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        cmds: list[tuple[str, Any, str]] = []
        for p in PERIODS:
            cmds.append((f"Commitments: last {PERIODS[p]} days", lambda p=p: self._set_period(p), ""))
        cmds.append(("Commitments: export table (e)", self.action_export, "CSV or JSON"))
        return cmds

    def _set_period(self, p: str) -> None:
        self.period = p
        self.load()


def export_commitments(path: Path, rep: CommitmentReport) -> int:
    """The whole commitments table (exact decimal money) as CSV or JSON, by the file's extension."""
    records = []
    for c in rep.commitments:
        r = commitment_record(c)
        records.append({k: (decimal_str(v) if k in RECORD_MONEY and v is not None else v) for k, v in r.items()})
    if path.suffix.lower() == ".json":
        payload = {
            "since": rep.since.isoformat(),
            "until": rep.until.isoformat(),
            "generated_at": timeutil.iso(timeutil.now()),
            "totals": {
                "currency": rep.currency,
                "utilization_pct": None if rep.utilization_pct is None else round(rep.utilization_pct, 4),
                "coverage_pct": None if rep.coverage_pct is None else round(rep.coverage_pct, 4),
                "coverage_basis": rep.coverage_basis,
                "unused_cost": decimal_str(rep.unused),
                "savings": decimal_str(rep.savings),
                "net_savings": decimal_str(rep.net_savings),
            },
            "commitments": records,
        }
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        fields = list(records[0]) if records else ["commitment_id", "name", "type", "provider_name"]
        with path.open("w", newline="", encoding="utf-8") as fh:
            write_csv(fh, fields, records)
    return len(records)
