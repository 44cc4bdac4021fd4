"""Recommendations (3): waste, sizing and security findings; dismiss, snooze, mark and clean up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static
from textual_plotext import PlotextPlot

from analysis.clock import reference_time
from analysis.recommendations import NATIVE_RULES, RULES, Recommendation, load, rule_title
from analysis.recommendations.engine import last_run, set_status
from cache import timeutil
from cache.money import fmt

from ..base import ViewScreen
from ..dialogs import PickerScreen, PromptScreen
from ..widgets import TopBar, clean, money_text, safe

FILTER_DIMS: list[tuple[str, str]] = [
    ("provider_name", "Provider"),
    ("sub_account_id", "Account"),
    ("region_id", "Region"),
    ("rule", "Rule"),
    ("category", "Category (cost | security)"),
    ("status", "Status"),
]
SORTS: list[tuple[str, str]] = [
    ("saving", "Monthly saving"),
    ("rule", "Rule"),
    ("resource", "Resource"),
    ("account", "Account"),
    ("region", "Region"),
    ("first_seen", "First seen"),
    ("status", "Status"),
]
STATUS_STYLE = {"open": "", "dismissed": "dim", "snoozed": "cyan", "applied": "green"}
MARK = "✓"


# -- evidence: a finding's detail for humans ---------------------------------------------------------------

EVIDENCE_SKIP = {"summary", "protected", "protected_by", "duplicate_of", "tags", "action"}
_WORDS = {"cpu": "CPU", "vcpu": "vCPU", "gib": "GiB", "ip": "IP", "ips": "IPs", "id": "ID", "ids": "IDs", "vpc": "VPC",
          "avg": "avg", "p99": "p99", "ebs": "EBS", "az": "AZ"}


def humanize_key(key: str) -> str:
    """'cpu_avg_pct' -> 'CPU avg', 'baseline_hourly_nanos' -> 'baseline hourly', 'snapshot_ids' -> 'snapshot IDs'."""
    parts = [p for p in str(key).split("_") if p]
    while parts and parts[-1] in ("nanos", "pct"):
        parts.pop()
    words = [_WORDS.get(p.lower(), p.lower()) for p in parts] or [str(key)]
    return " ".join(words)


def _num(v: float | int) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"


def _nanos_value(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    return None


def evidence_value(key: str, v: Any, currency: str = "USD") -> str:
    """One evidence value as a person reads it (money from nano-units, % for percentages)."""
    k = str(key).lower()
    per = "/h" if "hourly" in k else "/mo" if "monthly" in k else ""
    nanos = _nanos_value(v)
    if k.endswith("_nanos") or (k.startswith("price") and nanos is not None):
        if isinstance(v, list):
            vals = [x for x in (_nanos_value(y) for y in v) if x is not None]
            if not vals:
                return f"{len(v)} values"
            return (f"{len(vals)} values, {fmt(min(vals), currency)} to {fmt(max(vals), currency)}"
                    + (f" (mean {fmt(sum(vals) // len(vals), currency)})" if len(vals) > 2 else ""))
        if nanos is not None:
            if k.startswith("price") and not per:
                per = "/h"  # instance prices are hourly
            return fmt(nanos, currency, places=4 if per == "/h" else 2) + per
    if k.endswith("_pct") and isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{v:.1f}%" if v % 1 else f"{v:.0f}%"
    if isinstance(v, dict):
        return ", ".join(f"{humanize_key(a).lower()} {evidence_value(a, b, currency)}" for a, b in v.items()
                         if b not in (None, "", [], {}))
    if isinstance(v, list):
        items = [clean(x if not isinstance(x, (int, float)) else _num(x), 40) for x in v]
        if k == "window" and len(items) == 2:
            return f"{items[0]} → {items[1]}"
        if len(items) > 3:
            return ", ".join(items[:2]) + f" and {len(items) - 2} more"
        return ", ".join(items)
    if isinstance(v, (int, float)):
        return _num(v)
    return clean(v, 60)


def term_line(term: str, d: dict[str, Any], currency: str = "USD") -> str:
    """A commitment term as '1yr: 36% off, $0.9634/h, saves $395.59/mo, break-even 64%'."""
    parts = []
    if isinstance(d.get("discount_pct"), (int, float)):
        parts.append(f"{d['discount_pct']:.0f}% off")
    if _nanos_value(d.get("hourly_commitment_nanos")) is not None:
        parts.append(fmt(int(d["hourly_commitment_nanos"]), currency, places=4) + "/h")
    if _nanos_value(d.get("monthly_saving_nanos")) is not None:
        parts.append(f"saves {fmt(int(d['monthly_saving_nanos']), currency)}/mo")
    if isinstance(d.get("break_even_utilization_pct"), (int, float)):
        parts.append(f"break-even {d['break_even_utilization_pct']:.0f}%")
    if d.get("rate_basis") and d.get("rate_basis") != "prices table":
        parts.append(clean(d["rate_basis"], 30))
    return f"{clean(term, 12)}: " + ", ".join(parts)


def evidence(detail: dict[str, Any], currency: str = "USD") -> tuple[list[str], list[str]]:
    """(short 'key value' items, lines of their own for nested tables such as a purchase's terms)."""
    items: list[str] = []
    lines: list[str] = []
    for k, v in detail.items():
        if k in EVIDENCE_SKIP or v in (None, "", [], {}):
            continue
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            for sub, d in v.items():
                if k == "terms":
                    lines.append(term_line(str(sub), d, currency))
                else:
                    lines.append(f"{clean(sub, 20)}: {evidence_value(k, d, currency)}")
            continue
        items.append(f"{humanize_key(clean(k, 30))} {evidence_value(k, v, currency)}")
    return items, lines


def _sort_key(key: str) -> Callable[[Recommendation], Any]:
    return {
        "saving": lambda r: r.monthly_saving,
        "rule": lambda r: (r.rule, -r.monthly_saving),
        "resource": lambda r: (r.resource_name or r.resource_id).lower(),
        "account": lambda r: (r.sub_account_id or "", -r.monthly_saving),
        "region": lambda r: (r.region_id or "", -r.monthly_saving),
        "first_seen": lambda r: r.first_seen or datetime.min.replace(tzinfo=UTC),
        "status": lambda r: (r.status, -r.monthly_saving),
    }[key]


def parse_snooze(text: str, now: datetime) -> datetime:
    """'7' / '7d' -> now + 7 days; 'YYYY-MM-DD' -> that day 00:00 UTC (must be in the future)."""
    t = text.strip().lower().removesuffix("days").removesuffix("d").strip()
    if t.isdigit():
        n = int(t)
        if not 1 <= n <= 3650:
            raise ValueError("snooze for 1 to 3650 days")
        return now + timedelta(days=n)
    try:
        day = timeutil.parse_day(text)
    except ValueError:
        raise ValueError("a number of days (e.g. 14) or a date YYYY-MM-DD") from None
    until = datetime.combine(day, time(0), tzinfo=UTC)
    if until <= now:
        raise ValueError(f"{day} is not in the future")
    return until


def _rule_label(rec: Recommendation) -> str:
    if rec.rule in NATIVE_RULES:
        return f"{NATIVE_RULES[rec.rule][0]} (AWS)"
    return rec.rule


class RecommendationsScreen(ViewScreen):
    VIEW_TITLE = "Recommendations"
    BASE_HELP = """
Recommendations are recomputed after every sync, import and `costdeck demo`; they keep their status
(dismissed with a reason, snoozed until a date, applied) across recomputation. The summary counts
what is shown, by rule; the table is sorted by monthly saving (S sorts by another column, again
reverses; a click on a header sorts too). Monthly saving: the resource's observed billed cost over
the last 30 days scaled to 730 h, else its price x 730 h, else "unknown" (the detail pane says
which). Native advice (AWS Cost Explorer rightsizing) is hidden when one of costdeck's rules found
the same resource. Protected resources (costdeck:protect tag, config protection) are listed but
cleanup refuses them.
f filters by provider, account, region, rule, category or status; / searches names and ids; esc
clears. a shows every status (default: open only). space marks rows; d dismisses (asks a reason),
s snoozes (days or a date), o / u reopen, c plans a cleanup of the marked rows (or the highlighted
one) and shows it for confirmation: nothing runs before you confirm. Thresholds: the config's
[rules.RULE_ID] tables (`costdeck report rules`).
"""
    BINDINGS = [
        Binding("f", "pick_filter", "Filter", id="recs.filter"),
        Binding("slash", "search", "Search", show=False, id="recs.search"),
        Binding("S", "pick_sort", "Sort", id="recs.sort"),
        Binding("a", "toggle_all", "All statuses", show=False, id="recs.all"),
        Binding("space", "mark", "Mark", id="recs.mark"),
        Binding("d", "dismiss_rec", "Dismiss", id="recs.dismiss"),
        Binding("s", "snooze", "Snooze", id="recs.snooze"),
        Binding("o,u", "reopen", "Reopen", show=False, id="recs.reopen"),
        Binding("c", "cleanup", "Clean up", id="recs.cleanup"),
        Binding("escape", "clear_filters", "Clear filters", show=False, id="recs.clear"),
    ]
    DEFAULT_CSS = """
    #rec-controls { height: 1; padding: 0 1; background: $boost; }
    #rec-search { height: 3; margin: 0 1; }
    #rec-top { height: 12; }
    #rec-summary { width: 40; height: 1fr; }
    #rec-detail { width: 1fr; height: 1fr; padding: 0 1; }
    #rec-chart { width: 34; height: 1fr; }
    #rec-table { height: 1fr; min-height: 5; }
    #rec-status { height: 1; padding: 0 1; background: $boost; }
    RecommendationsScreen.-narrow #rec-chart { display: none; }
    RecommendationsScreen.-nochart #rec-chart { display: none; }
    RecommendationsScreen.-narrow #rec-summary { width: 32; }
    RecommendationsScreen.-narrow #rec-top { height: 8; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.recs: list[Recommendation] = []
        self.shown: list[Recommendation] = []
        self.filters: dict[str, str] = {}
        self.needle = ""
        self.sort = "saving"
        self.reverse = True
        self.show_all = False
        self.marked: set[int] = set()
        self.run_info: dict[str, Any] | None = None
        self._chart_for: int | None = None

    # -- help ---------------------------------------------------------------------
    @property
    def HELP(self) -> str:  # type: ignore[override]  # noqa: N802 - read by the app's help
        lines = [self.BASE_HELP.strip(), "", "Rules:"]
        for rid, mod in RULES.items():
            doc = " ".join((mod.__doc__ or "").split()).split(". ", 1)[0]
            lines.append(f"  {rid}: {doc}")
        skipped = (self.run_info or {}).get("skipped") or []
        if skipped:
            lines += ["", f"Skipped at the last recompute ({len(skipped)}):"]
            for s in skipped[:40]:
                name = clean(s.get("resource_name") or s.get("resource_id"), 40)
                lines.append(f"  {s.get('rule')}: {name}: {clean(s.get('reason'), 110)}")
            if len(skipped) > 40:
                lines.append(f"  … and {len(skipped) - 40} more (costdeck report recommendations lists the findings)")
        errors = (self.run_info or {}).get("errors") or {}
        for rid, err in errors.items():
            lines.append(f"  rule {rid} failed: {clean(err, 120)}")
        return "\n".join(lines)

    # -- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TopBar("Recommendations")
        yield Static("", id="rec-controls")
        yield Input(placeholder="search names and ids (esc clears)", id="rec-search")
        with Horizontal(id="rec-top"):
            yield DataTable(id="rec-summary", cursor_type="none", zebra_stripes=False, show_cursor=False)
            yield Static("", id="rec-detail")
            yield PlotextPlot(id="rec-chart")
        yield DataTable(id="rec-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="rec-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rec-search", Input).display = False
        self.query_one("#rec-table", DataTable).focus()
        self._narrow()
        self.reload()

    def on_resize(self) -> None:
        self._narrow()
        if self.recs:
            self._fill()

    def _narrow(self) -> None:
        self.set_class(self.size.width < 100, "-narrow")

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="recs", exit_on_error=False)
    def load(self) -> None:
        def read(conn: Any) -> tuple[list[Recommendation], dict[str, Any] | None]:
            return load(conn, statuses=None, include_duplicates=False), last_run(conn)

        recs, info = self.cd_app.read(read)
        self.app.call_from_thread(self.show, recs, info)

    def show(self, recs: list[Recommendation], info: dict[str, Any] | None) -> None:
        self.recs = recs
        self.run_info = info
        ids = {r.id for r in recs}
        self.marked &= ids  # type: ignore[operator]
        self._fill()

    # -- filtering -----------------------------------------------------------------------
    def _matches(self, r: Recommendation, skip: str | None = None) -> bool:
        if not self.show_all and r.status != "open" and skip != "status":
            return False
        for dim, value in self.filters.items():
            if dim == skip:
                continue
            if str(getattr(r, dim) or "") != value:
                return False
        if self.needle:
            n = self.needle.lower()
            hay = " ".join(str(x or "") for x in (r.resource_name, r.resource_id, r.rule, r.sub_account_id,
                                                    r.region_id, r.detail.get("summary"))).lower()
            if n not in hay:
                return False
        return True

    def _fill(self) -> None:
        table = self.query_one("#rec-table", DataTable)
        current = self.highlighted()
        rows = [r for r in self.recs if self._matches(r)]
        rows.sort(key=_sort_key(self.sort), reverse=self.reverse)
        self.shown = rows
        width = self.size.width or 120
        wide = width >= 110
        table.clear(columns=True)
        fixed = 2 + 20 + 12 + 16 + (16 + 13 if wide else 0) + 2 * (7 if wide else 5) + 2
        name_w = max(14, width - fixed)
        table.add_column(" ", key="mark", width=2)
        table.add_column("Rule", key="rule", width=20)
        table.add_column("Resource", key="resource", width=name_w)
        if wide:
            table.add_column("Account", key="account", width=16)
            table.add_column("Region", key="region", width=13)
        table.add_column(Text("Saving/mo", justify="right"), key="saving", width=12)
        table.add_column("Status", key="status", width=16)
        for r in rows:
            marked = r.id in self.marked
            style = "bold yellow" if marked else ""
            status = Text(r.status, style=STATUS_STYLE.get(r.status, ""))
            if r.detail.get("protected"):
                status.append(" protected", style="yellow")
            cells: list[Any] = [
                Text(MARK if marked else "", style="bold yellow"),
                safe(_rule_label(r), 20, style or ("magenta" if r.category == "security" else "")),
                safe(r.resource_name or r.resource_id, name_w, style),
            ]
            if wide:
                cells += [safe(r.sub_account_id or "", 16, "dim"), safe(r.region_id or "", 13, "dim")]
            saving = money_text(r.monthly_saving, r.currency) if r.monthly_saving or r.category == "cost" \
                else Text("—", justify="right", style="dim")
            if r.category == "cost" and not r.monthly_saving and (r.saving_basis or "").startswith("unknown"):
                saving = Text("unknown", justify="right", style="dim italic")
            cells += [saving, status]
            table.add_row(*cells, key=str(r.id))
        if current is not None:
            idx = next((i for i, r in enumerate(rows) if r.id == current.id), None)
            if idx is not None:
                table.move_cursor(row=idx)
        self._render_summary()
        self._render_controls()
        self._render_status()
        self._render_detail()

    def _render_summary(self) -> None:
        t = self.query_one("#rec-summary", DataTable)
        t.clear(columns=True)
        narrow = self.has_class("-narrow")
        t.add_column("Rule", key="rule", width=12 if narrow else 19)
        t.add_column(Text("#", justify="right"), key="n", width=3)
        t.add_column(Text("Saving/mo" if not narrow else "/month", justify="right"), key="saving",
                     width=8 if narrow else 11)
        by: dict[str, tuple[int, int]] = {}
        cur = "USD"
        for r in self.recs:
            if not self._matches(r, skip="rule"):
                continue
            n, s = by.get(r.rule, (0, 0))
            by[r.rule] = (n + 1, s + r.monthly_saving)
            cur = r.currency
        total_n = total_s = 0
        for rule in sorted(by, key=lambda k: -by[k][1]):
            n, s = by[rule]
            total_n += n
            total_s += s
            active = self.filters.get("rule") == rule
            t.add_row(safe(rule, 19 if not narrow else 12, "bold yellow" if active else ""),
                      Text(str(n), justify="right"), self._money(s, cur, narrow))
        t.add_row(Text("total", style="bold"), Text(str(total_n), justify="right", style="bold"),
                  self._money(total_s, cur, narrow, "bold"))

    @staticmethod
    def _money(nanos: int, cur: str, narrow: bool, style: str = "") -> Text:
        return Text(fmt(nanos, cur, places=0 if narrow else 2), style=style, justify="right")

    def _render_controls(self) -> None:
        t = Text()
        t.append("Status ", style="dim")
        t.append("all" if self.show_all else "open", style="bold")
        t.append("  │  sort ", style="dim")
        t.append(dict(SORTS)[self.sort] + (" ↓" if self.reverse else " ↑"), style="bold")
        for dim, value in self.filters.items():
            t.append("  │  ", style="dim")
            t.append(f"{dict(FILTER_DIMS)[dim].split(' ')[0]}: ", style="dim")
            t.append(clean(value, 36), style="bold yellow")
        if self.needle:
            t.append("  │  search: ", style="dim")
            t.append(clean(self.needle, 30), style="bold yellow")
        if self.filters or self.needle:
            t.append("   esc clears", style="dim italic")
        self.query_one("#rec-controls", Static).update(t)

    def _render_status(self) -> None:
        rows = self.shown
        t = Text()
        t.append(f"{len(rows)} shown", style="bold")
        total = sum(r.monthly_saving for r in rows if r.status == "open")
        cur = rows[0].currency if rows else "USD"
        t.append(" · open saving ", style="dim")
        t.append(f"{fmt(total, cur)}/month", style="bold")
        if self.marked:
            marked = [r for r in self.recs if r.id in self.marked]
            t.append(" · ", style="dim")
            t.append(f"{len(marked)} marked ({fmt(sum(r.monthly_saving for r in marked), cur)}/mo)", style="bold yellow")
        hidden = sum(1 for r in self.recs if r.status != "open")
        if hidden and not self.show_all:
            t.append(f" · {hidden} dismissed/snoozed/applied (a shows them)", style="dim")
        skipped = len((self.run_info or {}).get("skipped") or [])
        if skipped:
            t.append(f" · {skipped} skipped (? says why)", style="dim")
        if self.run_info and self.run_info.get("errors"):
            t.append(f" · {len(self.run_info['errors'])} rule error(s) (?)", style="red")
        if not self.recs:
            t = Text("No recommendations: they are computed after `costdeck sync`, `costdeck import` and "
                     "`costdeck demo`.", style="dim")
        self.query_one("#rec-status", Static).update(t)

    # -- detail pane ------------------------------------------------------------------------
    def highlighted(self) -> Recommendation | None:
        try:
            table = self.query_one("#rec-table", DataTable)
        except Exception:  # noqa: BLE001 - before compose
            return None
        if table.row_count == 0 or not self.shown:
            return None
        idx = table.cursor_row
        return self.shown[idx] if 0 <= idx < len(self.shown) else None

    @on(DataTable.RowHighlighted, "#rec-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()

    def _empty_message(self) -> str:
        if self.filters or self.needle:
            return "Nothing to show with these filters."
        if self.recs:
            return (f"Nothing open: the {len(self.recs)} finding(s) are dismissed, snoozed or applied "
                    "(a shows them).")
        return "No recommendations: the rules found nothing to clean up in this cache."

    def _render_detail(self) -> None:
        r = self.highlighted()
        box = self.query_one("#rec-detail", Static)
        if r is None:
            box.update(Text(self._empty_message(), style="dim"))
            self._show_chart(None, [])
            return
        t = Text()
        t.append(rule_title(r.rule), style="bold magenta" if r.category == "security" else "bold")
        t.append(" · ", style="dim")
        t.append_text(safe(r.resource_name or r.resource_id, 60, "bold"))
        t.append("\n")
        if r.resource_name:
            t.append_text(safe(r.resource_id, 90, "dim"))
            t.append("\n")
        where = " / ".join(clean(x, 40) for x in (r.provider_name, r.sub_account_id, r.region_id) if x)
        t.append(f"{clean(r.resource_type or '', 20)} · {where}\n", style="dim")
        if r.detail.get("summary"):
            t.append_text(safe(r.detail["summary"], 160))
            t.append("\n")
        t.append("Saving ", style="dim")
        if r.category == "security":
            t.append("none (security finding)", style="magenta")
        else:
            t.append(f"{fmt(r.monthly_saving, r.currency)}/month", style="bold green")
        if r.saving_basis:
            t.append(f" · {clean(r.saving_basis, 110)}", style="dim")
        t.append("\n")
        ev, ev_lines = evidence(r.detail, r.currency)
        for line in ev_lines:  # a purchase's terms first: the figures to act on
            t.append(line + "\n")
        if ev:
            t.append("Evidence ", style="dim")
            t.append(" · ".join(ev[:14]))
            t.append("\n")
        t.append(f"First seen {r.first_seen:%Y-%m-%d}" if r.first_seen else "", style="dim")
        t.append(" · status ", style="dim")
        t.append(r.status, style="bold " + STATUS_STYLE.get(r.status, ""))
        if r.status_reason:
            t.append(": ")
            t.append_text(safe(r.status_reason, 60))
        if r.snoozed_until:
            t.append(f" until {r.snoozed_until:%Y-%m-%d}")
        if r.origin != "costdeck":
            t.append(f" · from {clean(r.origin, 30)}", style="cyan")
        if r.detail.get("protected"):
            t.append("\nProtected", style="bold yellow")
            t.append(f" ({clean(r.detail.get('protected_by'), 50)}): cleanup will refuse it", style="yellow")
        box.update(t)
        if r.resource_type == "instance" and r.id != self._chart_for:
            self._chart_for = r.id
            self.load_chart(r)
        elif r.resource_type != "instance":
            self._chart_for = None
            self._show_chart(r, [])

    @work(thread=True, exclusive=True, group="rec-chart", exit_on_error=False)
    def load_chart(self, r: Recommendation) -> None:
        def read(conn: Any) -> list[tuple[str, float | None, float | None, float | None]]:
            since = timeutil.iso(reference_time(conn) - timedelta(days=31))  # the snapshot's last 31 days
            return [tuple(x) for x in conn.execute(  # type: ignore[misc]
                "SELECT ts, average, p99, maximum FROM metrics WHERE provider_name=? AND resource_id=? "
                "AND metric='cpu' AND ts >= ? ORDER BY ts", (r.provider_name, r.resource_id, since))]

        points = self.cd_app.read(read)
        self.app.call_from_thread(self._show_chart, r, points)

    def _show_chart(self, r: Recommendation | None, points: list[Any]) -> None:
        chart = self.query_one("#rec-chart", PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        self.set_class(not points, "-nochart")  # no series: the evidence text takes the room
        if r is not None and points:
            xs = list(range(len(points)))
            plt.plot(xs, [p[1] or 0 for p in points], label="avg", color="cyan")
            peaks = [p[2] if p[2] is not None else p[3] for p in points]
            if any(v is not None for v in peaks):
                plt.plot(xs, [v or 0 for v in peaks], label="p99", color="orange")
            top = max([v or 0 for v in peaks] + [p[1] or 0 for p in points] + [0])
            plt.ylim(0, min(100, max(10, top * 1.25)))
            ticks = sorted({0, len(points) // 2, len(points) - 1})
            plt.xticks(ticks, [points[i][0][5:10] for i in ticks])
            plt.title(f"CPU % daily, last {len(points)} days")
        else:
            plt.title("no utilization data" if r is None or r.resource_type == "instance"
                      else f"no utilization for a {clean(r.resource_type, 20)}")
        chart.refresh()

    # -- sort and filters -------------------------------------------------------------------------
    def action_pick_sort(self) -> None:
        def done(choice: str | None) -> None:
            if not choice:
                return
            if choice == self.sort:
                self.reverse = not self.reverse
            else:
                self.sort = choice
                self.reverse = choice in ("saving", "first_seen")
            self._fill()

        self.app.push_screen(PickerScreen("Sort by (the current one again reverses)", SORTS, self.sort), done)

    @on(DataTable.HeaderSelected, "#rec-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = {"rule": "rule", "resource": "resource", "account": "account", "region": "region",
               "saving": "saving", "status": "status"}.get(str(event.column_key.value))
        if key:
            self.reverse = (not self.reverse) if key == self.sort else key == "saving"
            self.sort = key
            self._fill()

    def action_pick_filter(self) -> None:
        def dim_done(dim: str | None) -> None:
            if not dim:
                return
            counts: dict[str, int] = {}
            for r in self.recs:
                if self._matches(r, skip=dim):
                    v = str(getattr(r, dim) or "")
                    counts[v] = counts.get(v, 0) + 1
            options = [("\x00all", "(all)")] + [
                (v, f"{clean(v or '(not set)', 44)}  ({n})") for v, n in sorted(counts.items(), key=lambda kv: -kv[1])
            ]

            def value_done(value: str | None) -> None:
                if value is None:
                    return
                if value == "\x00all":
                    self.filters.pop(dim, None)
                else:
                    self.filters[dim] = value
                    if dim == "status" and value != "open":
                        self.show_all = True
                self._fill()

            self.app.push_screen(PickerScreen(f"Filter: {dict(FILTER_DIMS)[dim]}", options, self.filters.get(dim)),
                                 value_done)

        self.app.push_screen(PickerScreen("Filter by", FILTER_DIMS), dim_done)

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        if not self.show_all:
            self.filters.pop("status", None)
        self._fill()

    def action_search(self) -> None:
        box = self.query_one("#rec-search", Input)
        box.display = True
        box.value = self.needle
        box.focus()

    @on(Input.Changed, "#rec-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self._fill()

    @on(Input.Submitted, "#rec-search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.needle:
            self.query_one("#rec-search", Input).display = False
        self.query_one("#rec-table", DataTable).focus()

    def action_clear_filters(self) -> None:
        box = self.query_one("#rec-search", Input)
        if self.needle or box.display:
            self.needle = ""
            box.value = ""
            box.display = False
            self.query_one("#rec-table", DataTable).focus()
        elif self.filters:
            self.filters.clear()
        elif self.marked:
            self.marked.clear()
        self._fill()

    # -- marking and status ------------------------------------------------------------------------
    def action_mark(self) -> None:
        r = self.highlighted()
        if r is None or r.id is None:
            return
        if r.id in self.marked:
            self.marked.discard(r.id)
        else:
            self.marked.add(r.id)
        table = self.query_one("#rec-table", DataTable)
        row = table.cursor_row
        self._fill()
        if row + 1 < table.row_count:
            table.move_cursor(row=row + 1)

    def targets(self) -> list[Recommendation]:
        """The marked recommendations (all of them, shown or not), else the highlighted one."""
        if self.marked:
            return [r for r in self.recs if r.id in self.marked]
        r = self.highlighted()
        return [r] if r is not None else []

    def _describe(self, recs: list[Recommendation]) -> str:
        if len(recs) == 1:
            return clean(recs[0].resource_name or recs[0].resource_id, 40)
        return f"{len(recs)} recommendations"

    def action_dismiss_rec(self) -> None:
        recs = self.targets()
        if not recs:
            return

        def done(reason: str | None) -> None:
            if reason:
                self.write_status([r.id for r in recs if r.id is not None], "dismissed", reason=reason)

        self.app.push_screen(PromptScreen(f"Dismiss {self._describe(recs)}: why?", "", "e.g. needed for DR tests",
                                          lambda t: None if t else "give a reason (it is kept with the status)"), done)

    def action_snooze(self) -> None:
        recs = self.targets()
        if not recs:
            return
        now = timeutil.now()

        def validate(text: str) -> str | None:
            try:
                parse_snooze(text, now)
            except ValueError as exc:
                return str(exc)
            return None

        def done(text: str | None) -> None:
            if text:
                self.write_status([r.id for r in recs if r.id is not None], "snoozed",
                                  until=parse_snooze(text, timeutil.now()))

        self.app.push_screen(PromptScreen(f"Snooze {self._describe(recs)}: days, or until YYYY-MM-DD", "14",
                                          "14 or 2026-12-31", validate), done)

    def action_reopen(self) -> None:
        recs = [r for r in self.targets() if r.status != "open"]
        if not recs:
            self.notify("Already open", timeout=2)
            return
        self.write_status([r.id for r in recs if r.id is not None], "open")

    @work(thread=True, exclusive=True, group="recs-write", exit_on_error=False)
    def write_status(self, ids: list[int], status: str, *, reason: str | None = None,
                     until: datetime | None = None) -> None:
        n = self.cd_app.read(lambda conn: set_status(conn, ids, status, reason=reason, until=until))
        what = {"dismissed": "dismissed", "snoozed": f"snoozed until {until:%Y-%m-%d}" if until else "snoozed",
                "open": "reopened"}.get(status, status)
        self.app.call_from_thread(self._written, ids, f"{n} recommendation{'s' if n != 1 else ''} {what}")

    def _written(self, ids: list[int], message: str) -> None:
        self.marked -= set(ids)
        self.notify(message, timeout=3)
        self.load()

    # -- cleanup --------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cleanup":
            return not self.cd_app.read_only
        return True

    def action_cleanup(self) -> None:
        if self.cd_app.read_only:
            self.notify("read-only mode: cleanup is disabled", severity="warning")
            return
        recs = self.targets()
        if not recs:
            self.notify("Nothing to clean up: mark rows with space", severity="warning")
            return
        try:
            from analysis import cleanup  # noqa: F401
            from tui.screens.cleanup import CleanupScreen  # noqa: F401
        except ImportError:
            self.notify("cleanup not available yet", severity="warning")
            return
        self.build_plan(recs)

    @work(thread=True, exclusive=True, group="recs-plan", exit_on_error=False)
    def build_plan(self, recs: list[Recommendation]) -> None:
        from analysis.cleanup import PlanRefused, build_plan

        app = self.cd_app
        demo = app.cache_info.demo
        try:
            plan = app.read(lambda conn: build_plan(conn, recs, app.config, read_only=app.read_only, demo=demo))
        except PlanRefused as exc:
            self.app.call_from_thread(self.notify, clean(str(exc), 200), severity="error")
            return
        self.app.call_from_thread(self._push_plan, plan)

    def _push_plan(self, plan: Any) -> None:
        from tui.screens.cleanup import CleanupScreen

        def done(results: Any) -> None:
            if results:
                self.marked.clear()
            self.cd_app.data_version += 1
            self._seen_version = self.cd_app.data_version
            self.load()

        self.app.push_screen(CleanupScreen(plan), done)

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        cmds: list[tuple[str, Any, str]] = [
            ("Recommendations: filter… (f)", self.action_pick_filter, "provider, account, region, rule, category"),
            ("Recommendations: sort… (S)", self.action_pick_sort, "saving, rule, resource, account, region"),
            ("Recommendations: show all statuses (a)", self.action_toggle_all, "dismissed, snoozed, applied too"),
        ]
        for rid in RULES:
            cmds.append((f"Recommendations: only {rid}", lambda rid=rid: self._only_rule(rid), rule_title(rid)))
        return cmds

    def _only_rule(self, rid: str) -> None:
        self.filters["rule"] = rid
        self._fill()
