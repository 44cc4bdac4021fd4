"""Activity (7): sources and their last sync, live sync progress, sync history, the audit log."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Label, ProgressBar, Static

from analysis.activity import ActionRow, RunRow, SourceRow, audit_log, sources_overview, sync_runs
from cache import timeutil
from providers import registry

from ..base import ViewScreen, post_result
from ..dialogs import TextScreen
from ..widgets import Table, TopBar, clean, safe

STATUS_STYLE = {"ok": "green", "partial": "yellow", "failed": "bold red", "running": "cyan", "queued": "dim"}


def status_text(status: str | None) -> Text:
    if not status:
        return Text("never", style="dim")
    return Text(status, style=STATUS_STYLE.get(status, ""))


def _age(dt: Any) -> str:
    return timeutil.humanize_age(timeutil.now() - dt) if dt else ""


def _dur(ms: int | None) -> str:
    if ms is None:
        return ""
    return f"{ms / 1000:.1f}s" if ms < 600_000 else f"{ms / 60000:.0f}m"


def _index(event: DataTable.RowSelected) -> int:
    value = event.row_key.value if event.row_key is not None else None
    return int(value) if value and value.isdigit() else -1


def _fields(rows: list[tuple[str, str | Text]]) -> Text:
    """Label: value lines, every value in full (long ones wrap on the screen, never cut)."""
    out = Text()
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        out.append(f"{label + ':':<{width}}", style="bold")
        out.append_text(value if isinstance(value, Text) else Text(value))
        out.append("\n")
    return out


def audit_entry(a: ActionRow) -> Text:
    """One audit log entry, in full."""
    return _fields([
        ("When", a.at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Mode", "dry run (nothing changed)" if a.dry_run else "executed"),
        ("Result", Text(clean(a.result, 200), style="red" if a.error else "green")),
        ("Error", Text(clean(a.error, 4000), style="red") if a.error else "none"),
        ("Action", clean(a.action, 200)),
        ("Resource", clean(a.resource_id or "—", 400)),
        ("Provider", clean(a.provider_name or "—", 100)),
        ("Account", clean(a.sub_account_id or "—", 200)),
        ("Region", clean(a.region_id or "—", 100)),
        ("By", clean(a.actor, 200)),
    ])


def run_entry(r: RunRow) -> Text:
    """One sync run, in full: its window, figures, error and every step's error."""
    rows: list[tuple[str, str | Text]] = [
        ("Started", r.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Finished", r.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC") if r.finished_at else "—"),
        ("Status", status_text(r.status)),
        ("Took", _dur(r.duration_ms) or "—"),
        ("Window", clean(r.window, 200) or "—"),
        ("Rows", f"{r.rows:,}"),
        ("API calls", f"{r.api_calls:,}" + (f" ({r.billed_api_calls} billed, ${r.billed_api_calls / 100:.2f})"
                                           if r.billed_api_calls else "")),
    ]
    if r.scanned:
        rows.append(("Scanned", clean(r.scanned, 200)))
    rows.append(("Error", Text(clean(r.error, 4000), style="red") if r.error else "none"))
    for step, err in r.step_errors.items():
        rows.append((f"Step {clean(step, 40)}", Text(clean(err, 4000), style="red")))
    return _fields(rows)


class ActivityScreen(ViewScreen):
    VIEW_TITLE = "Activity"
    HELP = """
Sources: every configured source (config file) and every source the cache holds (imported files,
the demo), with the last sync, its age and status, the cost rows it holds, the API requests of its
last sync (billed ones in brackets: AWS Cost Explorer charges $0.01 each) and its last error.
r syncs the selected source and R all configured sources, in the background: the rest of the app
stays usable and shows the previous data until the sync has written; a notification says when it
ends. A failed source keeps its previous data. The lower tables show the selected source's sync
history and the audit log of cleanup actions (dry runs included); enter on a sync run or an audit
entry shows it in full (the whole error).
"""
    BINDINGS = [
        Binding("r", "sync_selected", "Sync source", id="activity.sync"),
        Binding("R", "sync_all", "Sync all", id="activity.sync_all"),
        Binding("x", "cancel_sync", "Cancel sync", id="activity.cancel"),
        # shown in the footer: enter on a sync run or an audit entry (the table's own enter selects it)
        Binding("enter", "open_entry", "Full entry", id="activity.entry"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[SourceRow] = []
        self.selected: str | None = None
        self.runs: list[RunRow] = []
        self.actions: list[ActionRow] = []

    def compose(self) -> ComposeResult:
        yield TopBar("Activity")
        yield Label("Sources", classes="section")
        yield Table(id="sources", cursor_type="row", zebra_stripes=True,
                    drop_order=("kind", "calls", "rows", "last"))
        with Horizontal(id="sync-box"):
            yield Static("", id="sync-lines")
            yield ProgressBar(id="sync-bar", total=1, show_eta=False)
        with Horizontal(id="history"):
            with Vertical():
                yield Label("Sync runs", id="runs-title", classes="section")
                yield Table(id="runs", cursor_type="row", zebra_stripes=True,
                            drop_order=("rows", "calls", "dur"))
            with Vertical():
                yield Label("Audit log", classes="section")
                yield Table(id="audit", cursor_type="row", zebra_stripes=True,
                            drop_order=("where", "resource", "action", "mode"))
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#sources", DataTable)
        for key, title in (("name", "Source"), ("kind", "Kind"), ("last", "Last sync"), ("age", "Age"),
                           ("status", "Status"), ("rows", "Cost rows"), ("calls", "API calls"),
                           ("error", "Last error")):
            t.add_column(title, key=key)
        runs = self.query_one("#runs", DataTable)
        for key, title in (("started", "Started"), ("status", "Status"), ("dur", "Took"), ("rows", "Rows"),
                           ("calls", "Calls"), ("error", "Error")):
            runs.add_column(title, key=key)
        audit = self.query_one("#audit", DataTable)
        for key, title in (("at", "When"), ("mode", "Mode"), ("result", "Result"), ("action", "Action"),
                           ("resource", "Resource"), ("where", "Where")):
            audit.add_column(title, key=key)
        t.focus()
        self.render_progress()
        self.set_interval(0.5, self.render_progress)
        self.reload()

    def reload(self) -> None:
        self.load()

    class Loaded(Message, bubble=False):
        def __init__(self, srcs: list[SourceRow], runs: list[RunRow], actions: list[ActionRow],
                     name: str | None) -> None:
            super().__init__()
            self.srcs, self.runs, self.actions, self.name = srcs, runs, actions, name

    class RunsLoaded(Message, bubble=False):
        def __init__(self, runs: list[RunRow], name: str) -> None:
            super().__init__()
            self.runs, self.name = runs, name

    @work(thread=True, exclusive=True, group="activity", exit_on_error=False,
          description="Loading the sources and the audit log")
    def load(self) -> None:
        app = self.cd_app
        configured = [(s.name, s.kind) for s in app.config.sources.values()]
        selected = self.selected

        def compute(conn: Any) -> tuple[list[SourceRow], list[RunRow], list[ActionRow], str | None]:
            srcs = sources_overview(conn, configured)
            name = selected if any(s.name == selected for s in srcs) else (srcs[0].name if srcs else None)
            runs = sync_runs(conn, name) if name else []
            return srcs, runs, audit_log(conn), name

        srcs, runs, actions, name = app.read(compute)
        post_result(self, self.Loaded(srcs, runs, actions, name))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.show(message.srcs, message.runs, message.actions, message.name)

    def show(self, srcs: list[SourceRow], runs: list[RunRow], actions: list[ActionRow], name: str | None) -> None:
        self.sources = srcs
        self.selected = name
        t = self.query_one("#sources", DataTable)
        cursor = t.cursor_row
        t.clear()
        narrow = (self.size.width or 120) < 100
        for s in srcs:
            # "38 ($0.38 billed)"; narrow, "38 ($0.38)" (the help says what the brackets are): at 80 columns
            # "billed" pushed the amount off the screen
            billed = "" if narrow else " billed"
            calls = f"{s.api_calls:,}" + (f" (${s.billed_api_calls / 100:.2f}{billed})" if s.billed_api_calls else "")
            t.add_row(
                safe(s.name, 30, "bold" if s.configured else ""),
                Text(s.kind, style="dim"),
                Text(s.last_sync.strftime("%Y-%m-%d %H:%M") if s.last_sync else "never", style="dim"),
                Text(_age(s.last_sync)),
                status_text(s.status),
                Text(f"{s.cost_rows:,}", justify="right"),
                Text(calls, justify="right"),
                safe(s.error or "", 70, "red"),
                key=s.name,
            )
        if srcs:
            idx = next((i for i, s in enumerate(srcs) if s.name == name), min(cursor, len(srcs) - 1))
            t.move_cursor(row=max(0, idx))
        self._show_runs(runs, name)
        audit = self.query_one("#audit", DataTable)
        audit.clear()
        self.actions = actions
        for i, a in enumerate(actions):
            where = " / ".join(clean(x, 20) for x in (a.provider_name, a.sub_account_id, a.region_id) if x)
            res = Text(a.result, style="green" if a.result in ("ok", "done", "success") else "red" if a.error else "")
            if a.error:
                res.append(f": {clean(a.error, 50)}", style="red")
            audit.add_row(
                Text(a.at.strftime("%m-%d %H:%M"), style="dim"),
                Text("dry run", style="yellow") if a.dry_run else Text("executed", style="bold"),
                res,
                safe(a.action, 24),
                safe(a.resource_id or "", 40),
                Text(where, style="dim"),
                key=str(i),
            )
        if not actions:
            audit.add_row(Text("no cleanup actions yet", style="dim"), "", "", "", "", "")

    def _show_runs(self, runs: list[RunRow], name: str | None) -> None:
        self.query_one("#runs-title", Label).update(
            Text(f"Sync runs of {clean(name, 40)}" if name else "Sync runs")
        )
        table = self.query_one("#runs", DataTable)
        table.clear()
        self.runs = runs
        for i, r in enumerate(runs):
            err = r.error or "; ".join(f"{k}: {v}" for k, v in r.step_errors.items())
            calls = f"{r.api_calls}" + (f" (${r.billed_api_calls / 100:.2f})" if r.billed_api_calls else "")
            if r.scanned:  # BigQuery: the bytes the sync's queries scanned, next to the requests
                calls += f" · {r.scanned.split(' (', 1)[0]}"
            table.add_row(
                Text(r.started_at.strftime("%m-%d %H:%M"), style="dim"),
                status_text(r.status),
                Text(_dur(r.duration_ms), justify="right"),
                Text(f"{r.rows:,}", justify="right"),
                Text(calls, justify="right"),
                safe(err, 80, "red"),
                key=str(i),
            )

    # -- enter: the full entry ------------------------------------------------------------------
    def action_open_entry(self) -> None:
        focused = self.focused
        if isinstance(focused, Table) and focused.id in ("audit", "runs") and focused.row_count:
            focused.action_select_cursor()
        else:
            self.notify("enter on a sync run or an audit log entry (tab moves there) shows it in full", timeout=4)

    @on(DataTable.RowSelected, "#audit")
    def _audit_selected(self, event: DataTable.RowSelected) -> None:
        i = _index(event)
        if 0 <= i < len(self.actions):
            self.app.push_screen(TextScreen("Audit log entry", audit_entry(self.actions[i])))

    @on(DataTable.RowSelected, "#runs")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        i = _index(event)
        if 0 <= i < len(self.runs):
            self.app.push_screen(TextScreen(f"Sync run of {clean(self.selected, 40)}", run_entry(self.runs[i])))

    @on(DataTable.RowHighlighted, "#sources")
    def _source_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key is not None else None
        if name and name != self.selected:
            self.selected = name
            self.load_runs(name)

    @work(thread=True, exclusive=True, group="activity-runs", exit_on_error=False,
          description="Loading the sync runs")
    def load_runs(self, name: str) -> None:
        runs = self.cd_app.read(lambda conn: sync_runs(conn, name))
        post_result(self, self.RunsLoaded(runs, name))

    @on(RunsLoaded)
    def _runs_loaded(self, message: RunsLoaded) -> None:
        self._show_runs(message.runs, message.name)

    # -- sync ----------------------------------------------------------------------
    def render_progress(self) -> None:
        app = self.cd_app
        box = self.query_one("#sync-box")
        progress = app.sync_progress
        if not progress:
            box.display = False
            return
        box.display = True
        lines = Text()
        done = total = 0
        for p in progress.values():
            lines.append(f"{clean(p.source, 24):<24} ", style="bold")
            lines.append_text(status_text(p.status))
            if p.step and not p.finished:
                lines.append(f"  {p.step}", style="cyan")
            if p.detail and not p.finished:
                lines.append(f" {clean(p.detail, 40)}", style="dim")
            lines.append(f"  {p.rows:,} rows · {p.api_calls} calls", style="dim")
            if p.billed_api_calls:
                lines.append(f" ({p.billed_api_calls} billed)", style="yellow")
            if p.error and p.finished:
                lines.append(f"  {clean(p.error, 60)}", style="red")
            lines.append("\n")
            total += max(p.steps_total, 1)
            done += max(p.steps_total, 1) if p.finished else p.steps_done
        self.query_one("#sync-lines", Static).update(lines)
        bar = self.query_one("#sync-bar", ProgressBar)
        bar.update(total=max(total, 1), progress=done)

    def action_sync_selected(self) -> None:
        t = self.query_one("#sources", DataTable)
        if not self.sources:
            self.notify("No sources: add one to the config file, or import a FOCUS file", severity="warning")
            return
        idx = t.source_index() if isinstance(t, Table) else t.cursor_row
        src = self.sources[min(max(idx, 0), len(self.sources) - 1)]
        if not src.configured:
            hint = registry.not_synced(src.kind) or "not in the config file, so there is nothing to sync it from"
            self.notify(f"{src.name}: {hint}", severity="warning")
            return
        self.cd_app.start_sync([src.name])

    def action_sync_all(self) -> None:
        self.cd_app.start_sync(None)

    def action_cancel_sync(self) -> None:
        self.cd_app.cancel_sync()

    def unavailable_reason(self, action: str) -> str | None:
        app = self.cd_app
        if action == "cancel_sync":
            return "No sync is running: nothing to cancel"
        if app.syncing:
            return "A sync is already running (x cancels it)"
        if action == "sync_all":
            if app.cache_info is not None and app.cache_info.demo:
                return ("This is the demo: it has no sources to sync (`costdeck demo` regenerates it; add sources "
                        "to the config file to sync real data)")
            return "No sources in the config file: nothing to sync"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_sync":
            return self.cd_app.syncing
        if action in ("sync_selected", "sync_all"):
            return not self.cd_app.syncing and (action == "sync_selected" or bool(self.cd_app.config.sources))
        return True
