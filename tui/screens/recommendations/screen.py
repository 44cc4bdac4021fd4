"""Recommendations (3): waste, sizing and security findings; dismiss, snooze, mark and clean up.

The screen owns the state (findings, filters, search, sort, marks) and the actions; it composes the
findings table and rule summary (table.py), the detail pane and CPU chart (detail.py). The evidence
text comes from analysis.recommendations.evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker

from analysis.clock import reference_time
from analysis.recommendations import RULES, Recommendation, load, rule_title
from analysis.recommendations.engine import last_run, set_status
from cache import timeutil
from cache.money import fmt

from ...base import ViewScreen, post_result
from ...dialogs import PickerScreen, PromptScreen, TextScreen
from ...widgets import TopBar, clean
from .detail import CpuChart, RecommendationDetail
from .table import RecommendationsTable, RuleSummary

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
        Binding("w", "skipped", "Skipped resources", show=False, id="recs.skipped"),
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

    class Loaded(Message, bubble=False):
        def __init__(self, recs: list[Recommendation], info: dict[str, Any] | None) -> None:
            super().__init__()
            self.recs, self.info = recs, info

    class ChartLoaded(Message, bubble=False):
        def __init__(self, rec: Recommendation, points: list[Any]) -> None:
            super().__init__()
            self.rec, self.points = rec, points

    class StatusWritten(Message, bubble=False):
        def __init__(self, ids: list[int], message: str) -> None:
            super().__init__()
            self.ids, self.message = ids, message

    class PlanBuilt(Message, bubble=False):
        def __init__(self, plan: Any) -> None:
            super().__init__()
            self.plan = plan

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
    def action_skipped(self) -> None:
        """w: the resources the rules skipped at the last recompute, and why (a screen of its own)."""
        skipped = (self.run_info or {}).get("skipped") or []
        if not skipped:
            self.notify("No resource was skipped at the last recompute", timeout=3)
            return
        body = Text()
        for s in skipped:
            name = clean(s.get("resource_name") or s.get("resource_id"), 60)
            body.append(f"{s.get('rule')}", style="bold")
            body.append(f"  {name}\n", style="cyan")
            body.append(f"  {clean(s.get('reason'), 400)}\n")
        self.app.push_screen(TextScreen(f"Skipped at the last recompute: {len(skipped)} resources", body))

    @property
    def HELP(self) -> str:  # type: ignore[override]  # noqa: N802 - read by the app's help
        lines = [self.BASE_HELP.strip(), "", "Rules:"]
        for rid, mod in RULES.items():
            doc = " ".join((mod.__doc__ or "").split()).split(". ", 1)[0]
            lines.append(f"  {rid}: {doc}")
        skipped = (self.run_info or {}).get("skipped") or []
        if skipped:
            lines += ["", f"{len(skipped)} resources were skipped at the last recompute: w lists them and why."]
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
            yield RuleSummary(id="rec-summary")
            yield RecommendationDetail("", id="rec-detail")
            yield CpuChart(id="rec-chart")
        yield RecommendationsTable(id="rec-table")
        yield Static("", id="rec-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rec-search", Input).display = False
        self.query_one("#rec-table", RecommendationsTable).focus()
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

    @work(thread=True, exclusive=True, group="recs", exit_on_error=False, description="Loading the recommendations")
    def load(self) -> None:
        def read(conn: Any) -> tuple[list[Recommendation], dict[str, Any] | None]:
            return load(conn, statuses=None, include_duplicates=False), last_run(conn)

        recs, info = self.cd_app.read(read)
        post_result(self, self.Loaded(recs, info))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.show(message.recs, message.info)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        """A failure is already notified. A status write that failed changed nothing: re-read the
        cache so every row shows the status stored (the marks stay, to try again)."""
        if worker.group == "recs-write":
            self.load()
        elif worker.group == "recs":
            self.query_one("#rec-status", Static).update(
                Text("Could not read the cache (see the notification); r reloads.", style="bold red"))

    def show(self, recs: list[Recommendation], info: dict[str, Any] | None) -> None:
        self.recs = recs
        self.run_info = info
        ids = {r.id for r in recs}
        self.marked &= ids
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
        current = self.highlighted()
        rows = [r for r in self.recs if self._matches(r)]
        rows.sort(key=_sort_key(self.sort), reverse=self.reverse)
        self.shown = rows
        self.query_one("#rec-table", RecommendationsTable).show_rows(rows, self.marked, self.size.width or 120,
                                                                     keep=current)
        self._render_summary()
        self._render_controls()
        self._render_status()
        self._render_detail()

    def _render_summary(self) -> None:
        self.query_one("#rec-summary", RuleSummary).show_counts(
            (r for r in self.recs if self._matches(r, skip="rule")), narrow=self.has_class("-narrow"),
            active_rule=self.filters.get("rule"))

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
            t.append(f" · {skipped} skipped (w lists them)", style="dim")
        if self.run_info and self.run_info.get("errors"):
            t.append(f" · {len(self.run_info['errors'])} rule error(s) (?)", style="red")
        if not self.recs:
            t = Text("No recommendations: they are computed after `costdeck sync`, `costdeck import` and "
                     "`costdeck demo`.", style="dim")
        self.query_one("#rec-status", Static).update(t)

    # -- detail pane ------------------------------------------------------------------------
    def highlighted(self) -> Recommendation | None:
        try:
            table = self.query_one("#rec-table", RecommendationsTable)
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
        box = self.query_one("#rec-detail", RecommendationDetail)
        if r is None:
            box.show_message(self._empty_message())
            self._show_chart(None, [])
            return
        box.show_recommendation(r)
        if r.resource_type == "instance" and r.id != self._chart_for:
            self._chart_for = r.id
            self.load_chart(r)
        elif r.resource_type != "instance":
            self._chart_for = None
            self._show_chart(r, [])

    @work(thread=True, exclusive=True, group="rec-chart", exit_on_error=False, description="Loading the CPU chart")
    def load_chart(self, r: Recommendation) -> None:
        def read(conn: Any) -> list[tuple[str, float | None, float | None, float | None]]:
            since = timeutil.iso(reference_time(conn) - timedelta(days=31))  # the snapshot's last 31 days
            return [tuple(x) for x in conn.execute(
                "SELECT ts, average, p99, maximum FROM metrics WHERE provider_name=? AND resource_id=? "
                "AND metric='cpu' AND ts >= ? ORDER BY ts", (r.provider_name, r.resource_id, since))]

        points = self.cd_app.read(read)
        post_result(self, self.ChartLoaded(r, points))

    @on(ChartLoaded)
    def _chart_loaded(self, message: ChartLoaded) -> None:
        self._show_chart(message.rec, message.points)

    def _show_chart(self, r: Recommendation | None, points: list[Any]) -> None:
        self.set_class(not points, "-nochart")  # no series: the evidence text takes the room
        self.query_one("#rec-chart", CpuChart).show_cpu(r, points)

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
        self.query_one("#rec-search", Input).display = False  # enter closes the box; the filter line shows it
        self.query_one("#rec-table", RecommendationsTable).focus()

    def action_clear_filters(self) -> None:
        box = self.query_one("#rec-search", Input)
        if self.needle or box.display:
            self.needle = ""
            box.value = ""
            box.display = False
            self.query_one("#rec-table", RecommendationsTable).focus()
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
        table = self.query_one("#rec-table", RecommendationsTable)
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
        targets = self.targets()
        applied = [r for r in targets if r.status == "applied"]
        recs = [r for r in targets if r.status not in ("open", "applied")]
        if applied:
            n = len(applied)
            self.notify(f"{n} applied recommendation{'s' if n != 1 else ''} cannot be reopened: the cleanup was "
                        "done (see the Activity view, 7)", title="Stays applied", severity="warning", timeout=5)
        if not recs:
            if not applied:
                self.notify("Already open", timeout=2)
            return
        self.write_status([r.id for r in recs if r.id is not None], "open")

    def write_status(self, ids: list[int], status: str, *, reason: str | None = None,
                     until: datetime | None = None) -> Worker[None]:
        """Change the status of these recommendations in the cache, in a thread worker: the write
        waits for the cache's write lock (shown in the header); when it gives up, the one handler of
        worker failures says so and `worker_failed` re-reads the cache."""
        verb = {"dismissed": "Dismissing", "snoozed": "Snoozing", "open": "Reopening"}.get(status, f"Marking {status}")
        n = len(ids)
        return self.run_worker(partial(self._write_status, ids, status, reason, until), name="write_status",
                               group="recs-write", description=f"{verb} {n} recommendation{'s' if n != 1 else ''}",
                               thread=True, exit_on_error=False)

    def _write_status(self, ids: list[int], status: str, reason: str | None, until: datetime | None) -> None:
        n = self.cd_app.write(lambda conn: set_status(conn, ids, status, reason=reason, until=until))
        what = {"dismissed": "dismissed", "snoozed": f"snoozed until {until:%Y-%m-%d}" if until else "snoozed",
                "open": "reopened"}.get(status, status)
        post_result(self, self.StatusWritten(ids, f"{n} recommendation{'s' if n != 1 else ''} {what}"))

    @on(StatusWritten)
    def _written(self, message: StatusWritten) -> None:
        self.marked -= set(message.ids)
        self.notify(message.message, timeout=3)
        self.load()

    # -- cleanup --------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cleanup":
            return not self.cd_app.read_only
        return True

    def unavailable_reason(self, action: str) -> str | None:
        if action == "cleanup" and self.cd_app.read_only:
            return ("read-only mode: cleanup is disabled (--read-only or read_only in the config); marked rows "
                    "can still be dismissed (d) or snoozed (s)")
        return None

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

    @work(thread=True, exclusive=True, group="recs-plan", exit_on_error=False, description="Planning the cleanup")
    def build_plan(self, recs: list[Recommendation]) -> None:
        """A refused plan (PlanRefused: read-only, bad settings) is a worker failure: its one line is
        notified by the app's handler."""
        from analysis.cleanup import build_plan

        app = self.cd_app
        demo = app.cache_info.demo
        plan = app.read(lambda conn: build_plan(conn, recs, app.config, read_only=app.read_only, demo=demo))
        post_result(self, self.PlanBuilt(plan))

    @on(PlanBuilt)
    def _push_plan(self, message: PlanBuilt) -> None:
        from tui.screens.cleanup import CleanupScreen

        plan = message.plan

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
