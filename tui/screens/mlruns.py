"""ML runs (5): runs with their cost, task summaries, a leaderboard, metric vs cost, run detail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from analysis import mlprofile
from analysis.mlcommit import MlCommitments, ml_commitments
from analysis.mlprofile import Outcome, Stat, TaskBudget, outcome, task_budgets, weekly_spend
from analysis.mlruns import (
    BASIS_MARK,
    UNKNOWN,
    LeaderRow,
    RunCost,
    RunDetail,
    TaskSummary,
    direction_overrides,
    leaderboard,
    load_runs,
    run_detail,
    summarize,
)
from cache.money import NANOS, fmt
from cache.text import distinct_labels
from cache.timeutil import duration_text

from ..base import ViewScreen, WorkerStateRelay, post_result
from ..dialogs import PickerScreen
from ..widgets import Chart, Table, TopBar, clean, safe

SORTS = ("start", "cost", "metric", "duration")
SORT_TITLES = {"start": "newest first", "cost": "cost, highest first", "metric": "metric, best first",
               "duration": "duration, longest first"}
STATUS_STYLE = {"completed": "green", "running": "cyan", "scheduled": "cyan", "failed": "bold red",
                "stopped": "yellow"}
BASIS_STYLE = {"B": "green", "P": "cyan", "M": "yellow", "?": "yellow"}
MAX_ROWS = 1000


def cost_text(run_cost: int | None, currency: str, basis: str, width: int = 12) -> Text:
    """'$1,234.56 B': the amount right-aligned in `width`, then the basis marker."""
    pad = max(0, width - 2)
    if run_cost is None or basis == UNKNOWN:
        return Text(f"{'unknown':>{pad}} ?", style="italic yellow")
    mark = BASIS_MARK.get(basis, "?")
    t = Text(f"{fmt(run_cost, currency):>{pad}}")
    t.append(f" {mark}", style=BASIS_STYLE.get(mark, ""))
    return t


def metric_value(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"


def status_text(status: str) -> Text:
    return Text(clean(status, 12), style=STATUS_STYLE.get(status, ""))



def _cost_line(r: RunCost, gap: str, sep: str) -> Text:
    """The run detail's cost line: the cost and its basis (or why it is unknown), then the primary
    metric; `gap` before the basis, `sep` before the metric (the wide header spaces them more)."""
    t = Text("cost ", style="dim")
    if r.cost is None:
        t.append("unknown", style="bold yellow")
        t.append(f": {clean(r.reason, 150)}", style="yellow")
    else:
        t.append(fmt(r.cost, r.currency), style="bold")
        t.append(f"{gap}({r.basis}{', so far' if r.running else ''})", style="dim")
    if r.primary_metric:
        t.append(sep, style="dim")
        t.append(f"{clean(r.primary_metric, 30)} = {metric_value(r.primary_value)}", style="bold")
    return t

class ScatterPlot(Chart):
    """Metric (y) against cost (x) for one task's runs: the Pareto frontier as a yellow line, the
    best run a green x, the cheapest good run (within 1% of the best) a magenta diamond."""

    def show(self, xs: list[float], ys: list[float], best_x: list[float], best_y: list[float], title: str,
             frontier: list[tuple[float, float]] | None = None, cheap: tuple[float, float] | None = None) -> None:
        def draw(plt: Any) -> None:
            plt.title(title)
            if xs or best_x:
                if frontier and len(frontier) > 1:
                    plt.plot([p[0] for p in frontier], [p[1] for p in frontier], color="yellow", marker="dot")
                plt.scatter(xs, ys, color="blue", marker="dot")
                if best_x:
                    plt.scatter(best_x, best_y, color="green", marker="x")
                if cheap is not None:
                    plt.scatter([cheap[0]], [cheap[1]], color="magenta", marker="◆")
                plt.xlabel("cost ($)")

        self.draw_with(draw)


class HistoryPlot(Chart):
    """A metric's history over training steps."""

    def show(self, steps: list[int], values: list[float], title: str) -> None:
        def draw(plt: Any) -> None:
            plt.title(title)
            if steps:
                plt.plot(steps, values, color="cyan", marker="braille")
                plt.xlabel("step")

        self.draw_with(draw)


PROFILE_COLORS = {"cpu": "blue", "memory": "magenta", "gpu": "green", "gpu_memory": "yellow"}
PROFILE_STYLE = {"cpu": "blue", "memory": "magenta", "gpu": "green", "gpu_memory": "yellow"}
PROFILE_SHORT = {"cpu": "CPU", "memory": "Mem", "gpu": "GPU", "gpu_memory": "GMem"}


class ProfilePlot(Chart):
    """A run's utilization profile: percent (0-100) of each series over the run's minutes."""

    def show(self, series: dict[str, list[tuple[float, float]]], title: str) -> None:
        def draw(plt: Any) -> None:
            plt.title(title)
            if series:
                for metric, pts in series.items():
                    plt.plot([p[0] for p in pts], [p[1] for p in pts], color=PROFILE_COLORS.get(metric, "white"),
                             marker="braille")
                plt.ylim(0, 100)
                plt.xlabel("minutes")

        self.draw_with(draw)


class MLRunsScreen(ViewScreen):
    DEFAULT_CSS = """
    MLRunsScreen #ml-controls { height: 1; padding: 0 1; background: $boost; text-wrap: nowrap;
        text-overflow: ellipsis; }
    MLRunsScreen #ml-filter { height: 3; margin: 0 1; }
    MLRunsScreen #ml-tasks { height: auto; max-height: 7; }
    MLRunsScreen #ml-summary { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MLRunsScreen #ml-outcome { height: 1; padding: 0 1; }
    MLRunsScreen #ml-outcome.-two { height: 2; }
    MLRunsScreen #ml-runs { height: 1fr; min-height: 5; }
    MLRunsScreen #ml-bottom { height: 14; }
    MLRunsScreen #ml-board-box { width: 1fr; }
    MLRunsScreen #ml-board { height: 1fr; }
    MLRunsScreen #ml-scatter { width: 1fr; }
    MLRunsScreen #ml-empty { height: auto; padding: 1 2; }
    MLRunsScreen.-empty #ml-tasks { display: none; }
    MLRunsScreen.-empty #ml-summary { display: none; }
    MLRunsScreen.-empty #ml-outcome { display: none; }
    MLRunsScreen.-empty #ml-runs { display: none; }
    MLRunsScreen.-empty #ml-bottom { display: none; }
    MLRunsScreen.-short #ml-tasks { display: none; }
    MLRunsScreen.-short #ml-bottom { height: 9; }
    MLRunsScreen.-narrow #ml-board-box { width: 3fr; }
    MLRunsScreen.-narrow #ml-scatter { width: 2fr; }
    """
    VIEW_TITLE = "ML runs"
    HELP = """
Every ML run in the cache (SageMaker training jobs, MLflow, JSON Lines run logs, costdeck track)
with its cost. The marker after a cost is its basis: B billed (the executor's billed cost from the
cost table, each day's cost apportioned to the run's hours on that day), P price x duration (the
on-demand hourly price of the instance type x instances x duration), M mixed (some of each: billed
days plus days not billed yet), "unknown ?" when a price or instance type is missing (the detail
says why; never counted as zero). Running runs are costed up to the snapshot's time (an old snapshot is
judged as of its own time; runs costdeck track is recording: up to now).
The summary line and the leaderboard are for the picked task (t), else the selected run's task:
runs, total cost, the best value of the task's metric (lower is better for loss/error/rmse, else
higher), the cost of the best run, the cost per day over the days the task ran. The chart plots the
metric against the cost: runs up and to the left bought their result cheaply (down and left when
lower is better). enter opens a run: executors with their cost and basis, parameters, metric history.
s cycles the sort (newest, cost, metric, duration), / filters by task, run, status, host or
instance type (esc clears). Narrow terminals leave out the Start and Executors columns (enter shows them).
"""
    BINDINGS = [
        Binding("enter", "open_run", "Run detail", id="mlruns.open"),
        Binding("t", "pick_task", "Task", id="mlruns.task"),
        Binding("s", "cycle_sort", "Sort", id="mlruns.sort"),
        Binding("slash", "filter", "Filter", id="mlruns.filter"),
        Binding("escape", "clear", "Clear filter", id="mlruns.clear", show=False),
        Binding("c", "toggle_chart", "Chart", id="mlruns.chart"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunCost] = []
        self.summaries: list[TaskSummary] = []
        self.params: dict[str, dict[str, str]] = {}
        self.task_filter: str | None = None
        self.sort = "start"
        self.needle = ""
        self.shown: list[RunCost] = []
        self.loaded = False
        self._board_task: str | None = None
        self.commit: MlCommitments | None = None
        self.budgets: dict[str, list[TaskBudget]] = {}

    def compose(self) -> ComposeResult:
        yield TopBar("ML runs")
        yield Static("", id="ml-controls")
        yield Input(placeholder="filter runs by task, name, status, host or instance type (esc clears)",
                    id="ml-filter")
        yield Table(id="ml-tasks", cursor_type="none", zebra_stripes=True, show_cursor=False)
        yield Static("", id="ml-summary")
        yield Static("", id="ml-outcome")
        yield Table(id="ml-runs", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="ml-bottom"):
            with Vertical(id="ml-board-box"):
                yield Label("Leaderboard", id="ml-board-title", classes="section")
                yield Table(id="ml-board", cursor_type="none", zebra_stripes=True, show_cursor=False)
            yield ScatterPlot(id="ml-scatter")
        yield Static("", id="ml-empty")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ml-filter", Input).display = False
        self.query_one("#ml-empty", Static).display = False
        tasks = self.query_one("#ml-tasks", DataTable)
        for key, title in (("task", "Task"), ("runs", "Runs"), ("total", "Total cost"), ("best", "Best metric"),
                           ("best_cost", "Best run cost"), ("per_day", "Cost/day")):
            tasks.add_column(Text(title, justify="right") if key not in ("task", "best") else title, key=key)
        self.query_one("#ml-runs", DataTable).focus()
        self._layout()
        self.reload()

    def on_resize(self) -> None:
        self._layout()
        if self.loaded:
            self._fill_runs()

    def _layout(self) -> None:
        h = self.size.height or 40
        self.set_class(h < 32, "-short")
        self.set_class((self.size.width or 120) < 100, "-narrow")

    def reload(self) -> None:
        self.load()

    class Loaded(Message, bubble=False):
        def __init__(self, runs: list[RunCost], params: dict[str, dict[str, str]], commit: MlCommitments | None = None,
                     budgets: dict[str, list[TaskBudget]] | None = None) -> None:
            super().__init__()
            self.runs, self.params, self.commit, self.budgets = runs, params, commit, budgets or {}

    @work(thread=True, exclusive=True, group="mlruns", exit_on_error=False, description="Loading the ML runs")
    def load(self) -> None:
        config_budgets = list(getattr(getattr(self.cd_app, "config", None), "budgets", {}).values())

        def compute(conn: Any) -> tuple[list[RunCost], dict[str, dict[str, str]], MlCommitments,
                                        dict[str, list[TaskBudget]]]:
            runs = load_runs(conn)
            names = {b.name for b in config_budgets}
            rows = [dict(zip(("name", "amount_nanos", "currency", "period", "filter"), r, strict=True))
                    for r in conn.execute("SELECT name, amount_nanos, currency, period, filter FROM budgets")
                    if r[0] not in names]
            return runs, direction_overrides(conn), ml_commitments(conn, runs), task_budgets([*config_budgets, *rows])

        runs, params, commit, budgets = self.cd_app.read(compute)
        post_result(self, self.Loaded(runs, params, commit, budgets))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.commit, self.budgets = message.commit, message.budgets
        self.show(message.runs, message.params)

    # -- rendering --------------------------------------------------------------------------
    def show(self, runs: list[RunCost], params: dict[str, dict[str, str]]) -> None:
        self.runs = runs
        self.params = params
        self.summaries = summarize(runs, params)
        self.loaded = True
        if self.task_filter is not None and not any(s.task == self.task_filter for s in self.summaries):
            self.task_filter = None
        empty = self.query_one("#ml-empty", Static)
        empty.display = not runs
        self.set_class(not runs, "-empty")  # no empty tables and chart: the message takes their place
        if not runs:
            msg = Text("No ML runs in this cache.\n", style="bold")
            msg.append("Runs get in by a SageMaker sync (an AWS source), an MLflow source (kind = \"mlflow\"), "
                       "costdeck import runs.jsonl (a JSON Lines run log) or costdeck track -- CMD.", style="")
            empty.update(msg)
        self._fill_tasks()
        self._fill_runs()

    def _fill_tasks(self) -> None:
        t = self.query_one("#ml-tasks", DataTable)
        t.clear()
        for s in self.summaries:
            style = "bold" if s.task == self.task_filter else ""
            best = f"{clean(s.metric or '', 24)} {metric_value(s.best_value)}" if s.best_value is not None else ""
            unknown = f" +{s.unknown_runs} unknown" if s.unknown_runs else ""
            t.add_row(
                safe(s.task, 32, style),
                Text(f"{s.runs}", justify="right"),
                Text(fmt(s.total_cost, s.currency) + unknown, justify="right"),
                Text(best + (" ↓" if s.direction == "min" else " ↑" if best else "")),
                cost_text(s.best_cost, s.currency, s.best_basis or UNKNOWN) if s.best_run_id else Text(""),
                Text(fmt(s.cost_per_day, s.currency) if s.cost_per_day is not None else "—", justify="right"),
            )
        # widths from the content, set here: the table's auto widths are computed on a later refresh,
        # and a frame drawn before it showed the columns at their labels' width
        for column in t.ordered_columns:
            cells = [column.label, *t.get_column(column.key)]
            column.auto_width = False
            column.width = max(Text.from_markup(c).cell_len if isinstance(c, str) else c.cell_len for c in cells)

    def _sorted(self, runs: list[RunCost]) -> list[RunCost]:
        if self.sort == "cost":
            return sorted(runs, key=lambda r: (r.cost is None, -(r.cost or 0)))
        if self.sort == "duration":
            return sorted(runs, key=lambda r: -r.duration_s)
        if self.sort == "metric":
            dirs = {s.task: (s.direction, s.metric) for s in self.summaries}

            def key(r: RunCost) -> tuple[Any, ...]:
                d, m = dirs.get(r.task, ("max", None))
                has = r.primary_value is not None and r.primary_metric == m
                v = float(r.primary_value or 0.0)
                return (r.task, not has, v if d == "min" else -v)

            return sorted(runs, key=key)
        return runs  # loaded newest first

    def _fill_runs(self) -> None:
        table = self.query_one("#ml-runs", DataTable)
        runs = [r for r in self.runs if self.task_filter is None or r.task == self.task_filter]
        if self.needle:
            runs = [r for r in runs if r.matches(self.needle)]
        runs = self._sorted(runs)
        self.shown = runs[:MAX_ROWS]
        cursor_key = None
        if table.row_count and 0 <= table.cursor_row < table.row_count:
            cursor_key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        table.clear(columns=True)
        # Column widths fit the terminal: 2 cells of padding per column plus the scrollbar.
        width = self.size.width or 120
        wide = width >= 110
        show_task = self.task_filter is None
        show_start = width >= 100
        widths = {"task": 15 if wide else 12, "status": 9, "start": 11, "duration": 8,
                  "executors": 19 if wide else 16, "cost": 13, "metric": 12 if wide else 9}
        cols = ["status", "duration", "executors", "cost", "metric"] if width >= 96 else [
            "status", "duration", "cost", "metric"]  # narrow: the executors are in the run's detail (enter)
        if show_task:
            cols.insert(0, "task")
        if show_start:
            cols.insert(cols.index("duration"), "start")
        fixed = sum(widths[c] for c in cols) + 2 * (len(cols) + 1) + 2
        run_w = max(10, width - fixed)
        titles = {"task": "Task", "status": "Status", "start": "Start", "duration": "Duration",
                  "executors": "Executors", "cost": "Cost", "metric": "Metric"}
        summary = next((x for x in self.summaries if x.task == self.task_filter), None)
        if summary is not None and summary.metric:
            titles["metric"] = clean(summary.metric, widths["metric"])
        for c in cols:
            if c == "status":
                table.add_column("Run", key="run", width=run_w)
            title: Any = Text(titles[c], justify="right") if c in ("duration", "cost") else titles[c]
            table.add_column(title, key=c, width=widths[c])
        # runs named task-2026-10-13-09-05-40-502 must not all read "2026-10-13-…": keep both ends
        names = distinct_labels(
            [r.short_name if show_task or self.task_filter else r.name or r.run_id for r in self.shown], run_w)
        for r, name in zip(self.shown, names, strict=True):
            cells: dict[str, Any] = {
                "task": safe(r.task, 40),
                "status": status_text(r.status),
                "start": Text(r.start.strftime("%m-%d %H:%M"), style="dim"),
                "duration": Text(duration_text(r.duration_s) + ("…" if r.running else ""), justify="right"),
                "executors": safe(r.executors_label or "—", 60, "" if r.executors else "dim"),
                "cost": cost_text(r.cost, r.currency, r.basis, widths["cost"]),
                "metric": safe(metric_value(r.primary_value), 20),
            }
            row = []
            for c in cols:
                if c == "status":
                    row.append(Text(name, no_wrap=True, overflow="ellipsis"))
                row.append(cells[c])
            table.add_row(*row, key=r.run_id)
        if cursor_key is not None:
            idx = next((i for i, r in enumerate(self.shown) if r.run_id == cursor_key), 0)
            table.move_cursor(row=idx)
        self._render_controls(len(runs))
        self._update_task_panels()

    def _render_controls(self, n: int) -> None:
        t = Text()
        t.append("Task ", style="dim")
        t.append(clean(self.task_filter, 40) if self.task_filter else "all", style="bold")
        t.append("  │  sort ", style="dim")
        t.append(SORT_TITLES[self.sort], style="bold")
        if self.needle:
            t.append("  │  filter ", style="dim")
            t.append(clean(self.needle, 30), style="bold yellow")
        total = len([r for r in self.runs if self.task_filter is None or r.task == self.task_filter])
        t.append(f"  │  {n:,} runs" + (f" of {total:,}" if n != total else ""), style="dim")
        t.append("   B billed · P price×duration · M mixed · ? unknown", style="dim italic")
        self.query_one("#ml-controls", Static).update(t)

    def current_task(self) -> str | None:
        if self.task_filter is not None:
            return self.task_filter
        run = self.selected_run()
        if run is not None:
            return run.task
        return self.summaries[0].task if self.summaries else None

    def _update_task_panels(self) -> None:
        task = self.current_task()
        summary = next((s for s in self.summaries if s.task == task), None)
        line = Text()
        if summary is not None:
            line.append(clean(summary.task, 40), style="bold")
            line.append(f"  {summary.runs} runs")
            if summary.running:
                line.append(f" ({summary.running} running)", style="cyan")
            line.append("  ·  total ", style="dim")
            line.append(fmt(summary.total_cost, summary.currency), style="bold")
            if summary.unknown_runs:
                line.append(f" + {summary.unknown_runs} unknown", style="yellow")
            if summary.best_value is not None:
                line.append("  ·  best ", style="dim")
                line.append(f"{clean(summary.metric, 30)} {metric_value(summary.best_value)}", style="bold")
                line.append(" (lower is better)" if summary.direction == "min" else "", style="dim")
                line.append("  ·  best run ", style="dim")
                line.append_text(cost_text(summary.best_cost, summary.currency, summary.best_basis or UNKNOWN, 0))
            line.append("  ·  ", style="dim")
            line.append(fmt(summary.cost_per_day, summary.currency) if summary.cost_per_day is not None else "—",
                        style="bold")
            line.append(f"/day over {summary.days} days", style="dim")
        self.query_one("#ml-summary", Static).update(line)
        self._board_task = task
        self._fill_board(task, summary)

    def _outcome_line(self, task: str, summary: TaskSummary, o: Outcome) -> Text:
        """Cost per outcome, weekly spend against the task's budget, and its commitment coverage: one
        line where it fits, else two (the outcome; the week, budget and coverage), nothing cut."""
        cur = summary.currency
        line = Text()
        if o.cost_to_best is not None:
            line.append("to best ", style="dim")
            line.append(fmt(o.cost_to_best, cur), style="bold")
        cheap = next((r for r in self.runs if r.run_id == o.cheapest_good_run_id), None)
        if cheap is not None and cheap.cost is not None:
            line.append("  ◆ cheapest good ", style="magenta")
            line.append(f"{clean(cheap.short_name, 16)} {fmt(cheap.cost, cur)} ({metric_value(cheap.primary_value)})",
                        style="bold")
        line2 = Text()
        weeks = weekly_spend([r for r in self.runs if r.task == task])
        if weeks:
            wk, amount = list(weeks.items())[-1]
            line2.append(f"week {wk:%m-%d} ", style="dim")
            line2.append(fmt(amount, cur), style="bold")
            for b in self.budgets.get(task, [])[:1]:
                over = amount > b.weekly_nanos
                line2.append(f" of {fmt(b.weekly_nanos, b.currency)}/wk ({clean(b.name, 16)})",
                             style="bold red" if over else "dim")
        cov = self.commit.tasks.get(task) if self.commit else None
        if cov is not None and cov.hours > 0:
            line2.append("  RI/SP " if line2 else "RI/SP ", style="dim")
            line2.append(f"{cov.covered_pct or 0:.0f}%", style="bold")
            line2.append(f" of {cov.hours:,.0f} h", style="dim")
        width = max(20, (self.size.width or 80) - 2)
        two = bool(line and line2) and len(line) + 2 + len(line2) > width
        self.query_one("#ml-outcome", Static).set_class(two, "-two")
        if not two:
            line.append("  " if line and line2 else "")
            line.append_text(line2)
            line.truncate(width, overflow="ellipsis")
            return line
        line.truncate(width, overflow="ellipsis")
        line2.truncate(width, overflow="ellipsis")
        return Text("\n").join([line, line2])

    def _fill_board(self, task: str | None, summary: TaskSummary | None) -> None:
        board = self.query_one("#ml-board", DataTable)
        board.clear(columns=True)
        title = self.query_one("#ml-board-title", Label)
        scatter = self.query_one("#ml-scatter", ScatterPlot)
        if task is None or summary is None:
            title.update("Leaderboard")
            self.query_one("#ml-outcome", Static).update("")
            scatter.show([], [], [], [], "")
            return
        runs = [r for r in self.runs if r.task == task]
        rows: list[LeaderRow] = leaderboard(runs, summary.metric, summary.direction)
        o = outcome(runs, summary.metric, summary.direction)
        self.query_one("#ml-outcome", Static).update(self._outcome_line(task, summary, o))
        arrow = "↓" if summary.direction == "min" else "↑"
        title.update(Text(f"Leaderboard: {clean(task, 30)} by {clean(summary.metric or 'metric', 24)} {arrow}"))
        width = self.size.width or 120
        box_w = width * 3 // 5 if width < 100 else width // 2
        run_w = max(8, box_w - (3 + 9 + 10) - 2 * 5 - 2)
        board.add_column("#", key="rank", width=3)
        board.add_column("Run", key="run", width=run_w)
        board.add_column(Text("Value", justify="right"), key="value", width=9)
        board.add_column(Text("Cost", justify="right"), key="cost", width=10)  # wider amounts widen it
        # one task: its name prefix says nothing; what is left keeps both ends so the runs differ
        labels = distinct_labels([lr.run.short_name for lr in rows[:50]], run_w)
        for lr, label in zip(rows[:50], labels, strict=True):
            board.add_row(
                Text(str(lr.rank) if lr.rank else "–", style="bold" if lr.rank == 1 else "dim"),
                Text(label, no_wrap=True, overflow="ellipsis"),
                Text(metric_value(lr.value), justify="right"),
                cost_text(lr.run.cost, lr.run.currency, lr.run.basis, 10),
            )
        xs: list[float] = []
        ys: list[float] = []
        bx: list[float] = []
        by: list[float] = []
        for lr in rows:
            if lr.rank is None or lr.run.cost is None or lr.value is None:
                continue
            (bx if lr.rank == 1 else xs).append(lr.run.cost / NANOS)
            (by if lr.rank == 1 else ys).append(lr.value)
        by_id = {r.run_id: r for r in runs}
        front: list[tuple[float, float]] = []
        for rid in o.frontier:
            fr = by_id[rid]
            if fr.cost is not None and fr.primary_value is not None:
                front.append((fr.cost / NANOS, float(fr.primary_value)))
        cheap_run = by_id.get(o.cheapest_good_run_id or "")
        cheap = None
        if cheap_run is not None and cheap_run.cost is not None and cheap_run.primary_value is not None:
            cheap = (cheap_run.cost / NANOS, cheap_run.primary_value)
        if xs or bx:
            chart_title = f"{clean(summary.metric or '', 24)} vs cost (x best, ◆ cheapest good, line frontier)"
        else:
            chart_title = "no run with both a known cost and the metric"
        scatter.show(xs, ys, bx, by, chart_title, front, cheap)

    # -- selection ---------------------------------------------------------------------------
    def selected_run(self) -> RunCost | None:
        table = self.query_one("#ml-runs", DataTable)
        if table.row_count == 0:
            return None
        idx = table.source_index() if isinstance(table, Table) else table.cursor_row  # whatever the S sort
        return self.shown[idx] if 0 <= idx < len(self.shown) else None

    @on(DataTable.RowHighlighted, "#ml-runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.task_filter is None:
            run = self.selected_run()
            if run is not None and run.task != self._board_task:
                self._update_task_panels()

    @on(DataTable.RowSelected, "#ml-runs")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.app.push_screen(RunDetailScreen(run.run_id))

    # -- actions -------------------------------------------------------------------------------
    def action_pick_task(self) -> None:
        options = [("\x00all", f"All tasks ({len(self.runs)} runs)")]
        options += [(s.task, f"{clean(s.task, 40)}  ({s.runs} runs, {fmt(s.total_cost, s.currency)})")
                    for s in self.summaries]

        def done(choice: str | None) -> None:
            if choice is None:
                return
            self.task_filter = None if choice == "\x00all" else choice
            self._fill_tasks()
            self._fill_runs()

        self.app.push_screen(PickerScreen("Task", options, self.task_filter or "\x00all"), done)

    def set_task(self, task: str | None) -> None:
        self.task_filter = task
        if self.loaded:
            self._fill_tasks()
            self._fill_runs()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._fill_runs()

    def action_toggle_chart(self) -> None:
        bottom = self.query_one("#ml-bottom")
        bottom.display = not bottom.display

    def action_filter(self) -> None:
        box = self.query_one("#ml-filter", Input)
        box.display = True
        box.value = self.needle
        box.focus()

    def action_clear(self) -> None:
        box = self.query_one("#ml-filter", Input)
        if self.needle or box.display:
            self.needle = ""
            box.value = ""
            box.display = False
            self.query_one("#ml-runs", DataTable).focus()
            self._fill_runs()

    @on(Input.Changed, "#ml-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self._fill_runs()

    @on(Input.Submitted, "#ml-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#ml-filter", Input).display = False  # enter closes the box; the filter line shows it
        self.query_one("#ml-runs", DataTable).focus()

    def palette_commands(self) -> list[tuple[str, Any, str]]:
        cmds: list[tuple[str, Any, str]] = [("ML runs: all tasks", lambda: self.set_task(None), "Show every task")]
        for s in self.summaries:
            cmds.append((f"ML runs: task {clean(s.task, 40)}", lambda t=s.task: self.set_task(t),
                         f"{s.runs} runs, {fmt(s.total_cost, s.currency)}"))
        for key in SORTS:
            cmds.append((f"ML runs: sort by {SORT_TITLES[key]}", lambda k=key: self._set_sort(k), ""))
        return cmds

    def _set_sort(self, key: str) -> None:
        self.sort = key
        self._fill_runs()


class RunDetailScreen(WorkerStateRelay, Screen[None]):
    """One run: what it cost per executor and why, its parameters and its metric history."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="mlrun.back"),
        Binding("m", "next_metric", "Metric", id="mlrun.metric"),
        Binding("h", "next_host", "Host", id="mlrun.host"),
    ]
    VIEW_TITLE = "ML run"
    DEFAULT_CSS = """
    RunDetailScreen #run-head { height: auto; padding: 0 1; }
    RunDetailScreen #run-execs { height: auto; max-height: 8; }
    RunDetailScreen #run-bottom { height: 1fr; min-height: 8; }
    RunDetailScreen #run-params-box { width: 40; }
    RunDetailScreen #run-params { height: 1fr; }
    RunDetailScreen #run-profile-box { width: 1fr; }
    RunDetailScreen #run-history-box { width: 1fr; }
    RunDetailScreen .chart-title { height: 2; padding: 0 1; }
    RunDetailScreen .chart-title.-hosts { height: 3; }
    RunDetailScreen #run-profile, RunDetailScreen #run-history { height: 1fr; }
    RunDetailScreen.-narrow #run-params-box { display: none; }
    """
    HELP = """
The run's executors with what each cost and on which basis: billed (the resource's billed cost,
each day apportioned to the run's hours), price x duration (on-demand price x instances x hours),
mixed, or unknown with the reason. Below: the run's utilization profile (CPU, memory, GPU and GPU
memory in percent over the run's minutes, from costdeck track, SageMaker CloudWatch or MLflow
system metrics; the line above the chart gives each series' p95 and the cost per utilized
GPU-hour: cost / (GPUs x hours x mean GPU utilization)) beside the metric history. A run on
several hosts shows the hosts averaged; h cycles through each host's own series and p95 (the
line above the chart names the host shown) and back. m cycles the metric shown in the history
chart (the line above it names the metric shown). Narrow terminals
leave out the parameters table and the provider and resource columns (the header lists the
parameters). esc goes back.
"""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.detail: RunDetail | None = None
        self.metric_keys: list[str] = []
        self.metric_idx = 0
        self.profile: dict[str, list[tuple[datetime, float]]] = {}
        self.profile_stats: dict[str, Stat] = {}
        self.hosts: dict[str, tuple[dict[str, list[tuple[datetime, float]]], dict[str, Stat]]] = {}
        self.host_idx = 0  # 0: the hosts averaged, i: the i-th host

    def compose(self) -> ComposeResult:
        yield TopBar("ML run")
        yield Static("", id="run-head")
        yield Label("Executors", classes="section")
        yield Table(id="run-execs", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="run-bottom"):
            with Vertical(id="run-params-box"):
                yield Label("Parameters", classes="section")
                yield Table(id="run-params", cursor_type="row", zebra_stripes=True)
            with Vertical(id="run-profile-box"):
                yield Static("", id="run-profile-title", classes="chart-title")
                yield ProfilePlot(id="run-profile")
            with Vertical(id="run-history-box"):
                yield Static("", id="run-history-title", classes="chart-title")
                yield HistoryPlot(id="run-history")
        yield Footer()

    @property
    def narrow(self) -> bool:
        return (self.size.width or 120) < 110

    def _exec_columns(self) -> None:
        execs = self.query_one("#run-execs", DataTable)
        execs.clear(columns=True)
        cols = (("exec", "Executor"), ("where", "Provider / region"), ("resource", "Resource"),
                ("hours", "Hours"), ("price", "Price/h"), ("cost", "Cost"), ("basis", "Basis / why"))
        if self.narrow:  # 80 columns: what the run cost and why; where it ran is in the header
            width = self.size.width or 80
            widths = {"exec": 18, "hours": 7, "price": 9, "cost": 11}
            widths["basis"] = max(12, width - sum(widths.values()) - 2 * 6 - 2)
            for key, title in cols:
                if key in widths:
                    execs.add_column(Text(title, justify="right") if key in ("hours", "price", "cost") else title,
                                     key=key, width=widths[key])
            return
        for key, title in cols:
            execs.add_column(Text(title, justify="right") if key in ("hours", "price", "cost") else title, key=key)

    def on_resize(self) -> None:
        was = self.has_class("-narrow")
        self.set_class(self.narrow, "-narrow")
        if was != self.narrow and self.detail is not None:
            self.show(self.detail, self.profile, self.profile_stats)

    def on_mount(self) -> None:
        self.set_class(self.narrow, "-narrow")
        self._exec_columns()
        params = self.query_one("#run-params", DataTable)
        params.add_column("Parameter", key="k", width=20)
        params.add_column("Value", key="v", width=24)
        self.load()

    class Loaded(Message, bubble=False):
        def __init__(self, detail: RunDetail | None, profile: dict[str, list[tuple[datetime, float]]],
                     stats: dict[str, Stat],
                     hosts: dict[str, tuple[dict[str, list[tuple[datetime, float]]], dict[str, Stat]]]) -> None:
            super().__init__()
            self.detail, self.profile, self.stats, self.hosts = detail, profile, stats, hosts

    @work(thread=True, exclusive=True, group="mlrun", exit_on_error=False, description="Loading the run")
    def load(self) -> None:
        def compute(conn: Any) -> tuple[Any, ...]:
            per_host = mlprofile.host_stats(conn, self.run_id)
            hosts = {h: (mlprofile.series(conn, self.run_id, h), st) for h, st in per_host.items()} \
                if len(per_host) > 1 else {}
            return (run_detail(conn, self.run_id), mlprofile.series(conn, self.run_id),
                    mlprofile.stats(conn, [self.run_id]).get(self.run_id, {}), hosts)

        detail, profile, stats, hosts = self.app.read(compute)  # type: ignore[attr-defined]
        post_result(self, self.Loaded(detail, profile, stats, hosts))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.hosts = message.hosts
        self.host_idx = min(self.host_idx, len(self.hosts))
        self.show(message.detail, message.profile, message.stats)

    def show(self, detail: RunDetail | None, profile: dict[str, list[tuple[datetime, float]]] | None = None,
             stats: dict[str, Stat] | None = None) -> None:
        self.detail = detail
        self.profile = profile or {}
        self.profile_stats = stats or {}
        head = self.query_one("#run-head", Static)
        if detail is None:
            head.update(Text("This run is no longer in the cache.", style="yellow"))
            return
        r = detail.run
        head.update(self._narrow_head(detail) if self.narrow else self._wide_head(detail))
        self._exec_columns()
        execs = self.query_one("#run-execs", DataTable)
        for e in r.executors:
            where = " / ".join(clean(x, 20) for x in (e.provider_name, e.region_id) if x) or "—"
            why = Text(e.basis, style=BASIS_STYLE.get(BASIS_MARK.get(e.basis, "?"), ""))
            if e.reason:
                why.append(f": {clean(e.reason, 90)}", style="yellow")
            elif e.note:
                why.append(f" ({clean(e.note, 60)})", style="dim")
            if e.billed_days and e.priced_hours:
                why.append(f" ({e.billed_days} billed days + {e.priced_hours:.1f} h priced)", style="dim")
            cells = [
                safe(e.label, 30),
                Text(where, style="dim"),
                safe(e.resource_id or "—", 48, "" if e.resource_id else "dim"),
                Text(f"{e.seconds / 3600:.2f}", justify="right"),
                Text(fmt(e.hourly_price, e.currency, places=4) if e.hourly_price is not None else "—", justify="right"),
                Text(fmt(e.cost, e.currency) if e.cost is not None else "unknown", justify="right",
                     style="" if e.cost is not None else "yellow"),
                why,
            ]
            execs.add_row(*(cells[:1] + cells[3:] if self.narrow else cells))
        if not r.executors:
            blanks = [""] * (3 if self.narrow else 5)
            execs.add_row(Text("no executor recorded", style="dim"), *blanks,
                          Text(clean(r.reason, 90), style="yellow"))
        params = self.query_one("#run-params", DataTable)
        params.clear()
        for k, v in detail.params:
            params.add_row(safe(k, 40), safe(v or "", 80))
        if not detail.params:
            params.add_row(Text("none recorded", style="dim"), "")
        keys = list(detail.metrics)
        if r.primary_metric in keys:
            keys.remove(r.primary_metric)
            keys.insert(0, r.primary_metric)
        if keys != self.metric_keys:
            self.metric_keys = keys
            self.metric_idx = 0
        self._plot()
        self._plot_profile()

    def _wide_head(self, detail: RunDetail) -> Text:
        r = detail.run
        t = Text()
        t.append(clean(r.name or r.run_id, 70), style="bold")
        t.append("  ")
        t.append_text(status_text(r.status))
        if r.exit_code is not None:
            t.append(f" (exit {r.exit_code})", style="dim")
        t.append("\ntask ", style="dim")
        t.append(clean(r.task, 40))
        t.append("  ·  id ", style="dim")
        t.append(clean(r.run_id, max(40, (self.size.width or 120) - len(clean(r.task, 40)) - 16)))  # ARNs: whole
        t.append("\n")
        t.append(r.start.strftime("%Y-%m-%d %H:%M UTC"))
        t.append(" → ", style="dim")
        t.append(r.end.strftime("%Y-%m-%d %H:%M UTC") if r.end else "running", style="" if r.end else "cyan")
        t.append(f"  ({duration_text(r.duration_s)})", style="dim")
        if r.host:
            t.append("  ·  host ", style="dim")
            t.append(clean(r.host, 40))
        if r.source:
            t.append("  ·  source ", style="dim")
            t.append(clean(r.source, 30))
        t.append("\n")
        t.append_text(_cost_line(r, "  ", "  ·  "))
        return t

    def _narrow_head(self, detail: RunDetail) -> Text:
        """Four lines of at most the screen's width (80 columns: the charts keep their room)."""
        r = detail.run
        width = max(20, (self.size.width or 80) - 2)
        lines: list[Text] = []
        t = Text(clean(r.name or r.run_id, 70), style="bold")
        t.append("  ")
        t.append_text(status_text(r.status))
        if r.exit_code is not None:
            t.append(f" (exit {r.exit_code})", style="dim")
        lines.append(t)
        t = Text("task ", style="dim")
        t.append(clean(r.task, 30))
        t.append("  ")
        t.append(r.start.strftime("%m-%d %H:%M"))
        t.append(" → ", style="dim")
        t.append(r.end.strftime("%m-%d %H:%M UTC") if r.end else "running", style="" if r.end else "cyan")
        t.append(f" ({duration_text(r.duration_s)})", style="dim")
        wheres = sorted({"/".join(clean(x, 20) for x in (e.provider_name, e.region_id) if x) for e in r.executors}
                        - {""})
        if wheres:
            t.append("  on ", style="dim")
            t.append(", ".join(wheres))
        lines.append(t)
        lines.append(_cost_line(r, " ", "  "))
        if detail.params:
            t = Text("params ", style="dim")
            t.append(clean("  ".join(f"{k}={v}" for k, v in detail.params), 300))
            lines.append(t)
        out = Text()
        for i, line in enumerate(lines):
            line.truncate(width, overflow="ellipsis")
            if i:
                out.append("\n")
            out.append_text(line)
        return out

    def _plot_profile(self) -> None:
        plot = self.query_one("#run-profile", ProfilePlot)
        title = self.query_one("#run-profile-title", Static)
        r = self.detail.run if self.detail else None
        title.set_class(bool(self.hosts), "-hosts")
        self.query_one("#run-history-title", Static).set_class(bool(self.hosts), "-hosts")  # the charts align
        if r is None or not self.profile:
            title.update(Text("Profile: none recorded", style="dim"))
            plot.show({}, "no utilization profile")
            return
        profile, stats = self.profile, self.profile_stats
        line = Text()
        if self.hosts:  # a multi-host run: the hosts averaged, or one host's own series (h cycles)
            names = list(self.hosts)
            line.append("Profile ", style="bold")
            if self.host_idx:
                host = names[self.host_idx - 1]
                profile, stats = self.hosts[host]
                line.append(clean(host, 24), style="bold cyan")
                line.append(f" {self.host_idx} of {len(names)}, h: next", style="dim")
            else:
                line.append(f"{len(names)} hosts averaged", style="bold cyan")
                line.append(", h: per host", style="dim")
            line.append("\n")
        line.append("p95 %:", style="bold")
        for metric in profile:
            st = stats.get(metric)
            line.append(" " + PROFILE_SHORT[metric], style=PROFILE_STYLE[metric])
            line.append(f" {st.p95:.0f}" if st else "", style="bold")
        line.append("\n")
        per = mlprofile.cost_per_utilized_gpu_hour(r, self.profile_stats)  # the run's: every host
        if per is not None:
            line.append(f"{fmt(per[0], r.currency)}", style="bold")
            line.append(f" per utilized GPU-h ({per[1]:.1f} h)", style="dim")
        elif "gpu" not in profile:
            line.append("no GPU series", style="dim")
        title.update(line)
        t0 = r.start
        series = {m: [((ts - t0).total_seconds() / 60.0, v) for ts, v in pts] for m, pts in profile.items()}
        plot.show(series, "")

    def action_next_host(self) -> None:
        if self.hosts:
            self.host_idx = (self.host_idx + 1) % (len(self.hosts) + 1)
            self._plot_profile()
        else:
            self.notify("This run has one host: its profile is shown", timeout=3)

    def _plot(self) -> None:
        plot = self.query_one("#run-history", HistoryPlot)
        title = self.query_one("#run-history-title", Static)
        if not self.detail or not self.metric_keys:
            title.update(Text("Metric: none recorded", style="dim"))
            plot.show([], [], "no metric history recorded")
            return
        key = self.metric_keys[self.metric_idx % len(self.metric_keys)]
        pts = self.detail.metrics[key]
        line = Text("Metric ", style="bold")
        line.append(clean(key, 60), style="bold cyan")
        line.append(" by step", style="dim")
        line.append(f"\n{self.metric_idx + 1} of {len(self.metric_keys)}" + (", m: next" if len(self.metric_keys) > 1
                                                                             else ""), style="dim")
        title.update(line)
        plot.show([p[0] for p in pts], [p[2] for p in pts], "")

    def action_next_metric(self) -> None:
        if self.metric_keys:
            self.metric_idx = (self.metric_idx + 1) % len(self.metric_keys)
            self._plot()


__all__ = ["MLRunsScreen", "RunDetailScreen", "cost_text"]
