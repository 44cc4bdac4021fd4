"""The cleanup confirm screen: the exact plan, the confirmation, the run, the results.

    app.push_screen(CleanupScreen(plan), callback)   # or open_cleanup(app, plan, callback)

Shows every step (action, resource id and name, account, region, monthly saving, whether and
how it can be undone) and, separately, what is not in the plan and why; the total saving; DEMO
and dry-run notes. Nothing runs until the user confirms:

* Dry run is ON when the screen opens: enter / y re-checks every resource and logs what would
  happen, changing nothing. `t` turns dry run off; then enter / y acts, and a batch over the
  threshold or with an irreversible step first asks for the typed phrase (anything else
  refuses). n / esc cancel (nothing runs); `x` exports the plan as a shell script.
* The plan runs in a thread worker; each resource's result (ok, skipped with the reason, failed
  with the error) appears in the table as it lands (a message per step). Closing the screen
  dismisses it with every result (None when nothing ran). A failure of the run itself (the cache
  locked too long, ...) is notified by the app's one handler of worker failures.
* In read-only mode the screen refuses to open.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import Worker

from analysis.cleanup import READ_ONLY_MESSAGE, Plan, StepResult, execute_plan, executor_for, export_script
from cache import Store, timeutil
from cache.money import fmt
from providers.base import one_line

from ..base import error_line, post_result, relay_worker_state
from ..dialogs import PromptScreen
from ..widgets import Table, clean, money_text, safe

SHORT = {"delete_volume": "delete volume", "release_address": "release IP", "delete_snapshot": "delete snapshot",
         "deregister_image": "deregister AMI", "stop_instance": "stop instance",
         "delete_endpoint": "delete endpoint", "stop_notebook": "stop notebook",
         "delete_studio_app": "delete Studio app"}

RESULT_STYLE = {"ok": "bold green", "dry-run": "cyan", "skipped": "yellow", "failed": "bold red",
                "not-run": "dim"}


def open_cleanup(app: App[Any], plan: Plan, callback: Callable[[list[StepResult] | None], Any] | None = None) -> bool:
    """Push the confirm screen unless the app is read-only (then notify why). True when opened."""
    if getattr(app, "read_only", False):
        app.notify(READ_ONLY_MESSAGE, severity="error", timeout=8)
        return False
    app.push_screen(CleanupScreen(plan), callback)
    return True


class CleanupScreen(ModalScreen[list[StepResult] | None]):
    VIEW_TITLE = "Clean up"
    HELP = """
The plan lists every step: the action, the resource (id and name), its account and region, the
monthly saving and whether it can be undone (and how). "Not in the plan" lists what was left out
and why: protected (tag costdeck:protect or the config's [protection]), excluded, not done
automatically, not supported yet (AWS only), changed since the last sync, over the batch limit.
Dry run is on when the screen opens: enter re-checks each resource and logs what would happen.
t turns dry run off; enter then acts, after the typed phrase when the batch is large or has a step
that cannot be undone. Right before each step the resource is re-read and skipped if it no longer
matches (attached again, state changed, tagged protected, gone). Every attempt is in the audit log
(Activity, 7). x writes the plan as a shell script (AWS CLI, dry run by default). Settings:
[rules.cleanup] batch_limit (25), confirm_threshold (5), snapshot_volumes (false).
"""
    BINDINGS = [
        Binding("enter,y", "confirm", "Confirm", id="cleanup.confirm"),
        Binding("n,escape", "cancel", "Cancel", id="cleanup.cancel"),
        Binding("t", "toggle_dry_run", "Dry run on/off", id="cleanup.dry_run"),
        Binding("x", "export", "Export script", id="cleanup.export"),
        Binding("q", "quit_guard", "Quit", show=False, id="cleanup.quit"),
        Binding("question_mark", "help", "Help", show=False, id="cleanup.help"),
    ]
    DEFAULT_CSS = """
    CleanupScreen { align: center middle; }
    CleanupScreen > Vertical { width: 100%; max-width: 150; height: 100%; max-height: 60; border: thick $warning;
        background: $surface; padding: 0 1; }
    CleanupScreen #cleanup-scroll { scrollbar-size-vertical: 1; }
    CleanupScreen #undo-legend { height: auto; }
    CleanupScreen #cleanup-title { height: auto; text-style: bold; }
    CleanupScreen #cleanup-notes { height: auto; }
    CleanupScreen #cleanup-scroll { height: 1fr; }
    CleanupScreen DataTable { height: auto; }
    CleanupScreen .section { margin-top: 1; }
    CleanupScreen #confirm-input { display: none; }
    CleanupScreen #confirm-input.-shown { display: block; }
    CleanupScreen #cleanup-error { height: auto; color: $error; }
    CleanupScreen #cleanup-keys { height: auto; background: $boost; }
    """

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.dry_run = True
        self.state = "ready"  # ready | typing | running | done
        self.results: list[StepResult] = []
        self.executed = False  # a non-dry run happened: the plan cannot run again
        self.wide = True

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="cleanup-title")
            yield Static(id="cleanup-notes")
            with VerticalScroll(id="cleanup-scroll"):
                yield Table(id="plan-steps", cursor_type="none", zebra_stripes=True)
                yield Static("", id="undo-legend")
                yield Label("Results", id="results-title", classes="section")
                yield Table(id="plan-results", cursor_type="none", zebra_stripes=True)
                yield Label("", id="excluded-title", classes="section")
                yield Table(id="plan-excluded", cursor_type="none", zebra_stripes=True)
            yield Static("", id="cleanup-error")
            yield Input(id="confirm-input")
            yield Static(id="cleanup-keys")

    def on_mount(self) -> None:
        if getattr(self.app, "read_only", False):
            self.app.notify(READ_ONLY_MESSAGE, severity="error", timeout=8)
            self.dismiss(None)
            return
        # room inside the box: border 2, padding 2, scrollbar 1
        inner = min(self.app.size.width, 150) - 5
        self.wide = inner >= 110
        self._fill_steps(inner)
        self._fill_excluded(inner)
        results = self.query_one("#plan-results", DataTable)
        results.can_focus = False
        results.add_column("#", key="n")
        results.add_column("Resource", key="id")
        results.add_column("Result", key="result", width=max(20, inner - 34))
        self.query_one("#results-title", Label).display = results.display = False
        self.query_one("#cleanup-scroll").focus()
        self._refresh()

    def _fill_steps(self, inner: int) -> None:
        plan = self.plan
        table = self.query_one("#plan-steps", DataTable)
        table.can_focus = False
        wide = self.wide
        if wide:
            cols = [("n", "#"), ("action", "Action"), ("id", "Resource"), ("name", "Name"), ("account", "Account"),
                    ("region", "Region"), ("saving", "Saving/mo"), ("undo", "Undo")]
        else:  # 80 columns: two lines a row, saving and undo together
            cols = [("action", "Action"), ("id", "Resource"), ("where", "Where"), ("saving", "Saving/mo")]
        for key, title in cols:
            table.add_column(title, key=key)
        for i, s in enumerate(plan.steps):
            action = Text(SHORT.get(s.action, s.verb))
            extra = ""
            if s.action == "deregister_image" and s.snapshot_ids:
                extra = f"+{len(s.snapshot_ids)} snapshot{'s' if len(s.snapshot_ids) != 1 else ''}"
            elif s.snapshot_first:
                extra = "snapshot first"
            undo = Text("yes", style="green") if s.reversible else Text("no", style="bold red")
            saving = money_text(s.monthly_saving, s.currency)
            n = Text(str(i + 1), style="dim")
            if wide:
                if extra:
                    action.append("\n" + extra, style="dim")
                cells = [n, action, safe(s.resource_id, 30), safe(s.resource_name or "", 16),
                         safe(s.sub_account_id or "—", 14, "dim"), safe(s.region_id or "—", 14, "dim"), saving, undo]
                table.add_row(*cells, key=str(i), height=2 if extra else 1)
            else:
                res = safe(s.resource_id, 30)
                res.append("\n")
                res.append_text(safe(s.resource_name or "", 30, "dim"))
                if extra:
                    action.append("\n" + extra, style="dim")
                where = safe(s.sub_account_id or "—", 14, "dim")
                where.append("\n")
                where.append_text(safe(s.region_id or "—", 14, "dim"))
                saving.append("\nundo: ", style="dim")
                saving.append_text(undo)
                table.add_row(action, res, where, saving, key=str(i), height=2)
        if not plan.steps:
            table.add_row(*([""] * (len(cols) - 1)), Text("nothing to do", style="dim"))
        undo_lines = Text()
        for how in dict.fromkeys(f"{s.verb}: {s.undo}" for s in plan.steps if s.reversible):
            if undo_lines:
                undo_lines.append("\n")
            undo_lines.append("undo ", style="green")
            undo_lines.append(clean(how, 200), style="dim")
        legend = self.query_one("#undo-legend", Static)
        legend.update(undo_lines)
        legend.display = bool(undo_lines)

    def _fill_excluded(self, inner: int) -> None:
        plan = self.plan
        table = self.query_one("#plan-excluded", DataTable)
        table.can_focus = False
        id_w = 30 if self.wide else 24
        rule_w = 19
        why_w = max(20, inner - id_w - rule_w - 6)
        table.add_column("Resource", key="id")
        table.add_column("Rule", key="rule")
        table.add_column("Why not", key="why", width=why_w)
        for e in plan.excluded:
            res = safe(e.resource_id, id_w)
            if e.resource_name:
                res.append("\n")
                res.append_text(safe(e.resource_name, id_w, "dim"))
            why = Text(clean(e.reason, 4000), style="yellow")  # in full: the row is as tall as the reason
            lines = max(1 + bool(e.resource_name), len(why.wrap(self.app.console, why_w)))
            table.add_row(res, safe(e.rule, rule_w, "dim"), why, height=lines)
        title = self.query_one("#excluded-title", Label)
        title.update(Text(f"Not in the plan ({len(plan.excluded)})"))
        title.display = table.display = bool(plan.excluded)

    def _refresh(self) -> None:
        plan = self.plan
        n = len(plan.steps)
        t = Text()
        t.append("Clean up: ", style="bold")
        t.append(f"{n} step{'s' if n != 1 else ''}")
        t.append(" · saves ")
        t.append(fmt(plan.total_saving, plan.currency) + "/month", style="bold green")
        if plan.irreversible:
            t.append(f" · {plan.irreversible} cannot be undone", style="bold red")
        self.query_one("#cleanup-title", Static).update(t)

        notes = Text()
        if plan.demo:
            notes.append(" DEMO ", style="bold black on yellow")
            notes.append(" actions are simulated against the demo inventory; no cloud is contacted.\n")
        if self.dry_run:
            notes.append(" DRY RUN ", style="bold black on cyan")
            notes.append(" confirming re-checks each resource and logs what would happen; nothing changes. "
                         "t turns dry run off.")
        else:
            notes.append(" DRY RUN OFF ", style="bold white on dark_red")
            target = "the demo inventory (simulated)" if plan.demo else "your cloud account"
            notes.append(f" confirming ACTS on {target}; each resource is re-checked first.")
        self.query_one("#cleanup-notes", Static).update(notes)

        keys = Text()
        if self.state == "running":
            keys.append("running… results appear as each resource is done", style="bold")
        elif self.state == "typing":
            keys.append("type ", style="")
            keys.append(plan.confirmation_phrase, style="bold reverse")
            keys.append(" exactly and press enter to act · esc goes back (nothing runs)")
        elif self.state == "done" and (self.executed or not plan.steps):
            keys.append("done · enter / esc close · x export script")
        else:
            if self.state == "done":
                keys.append("done · ", style="cyan")
            if plan.steps:
                keys.append("enter / y ", style="bold")
                keys.append("dry run" if self.dry_run else "confirm")
                keys.append(" · ")
            keys.append("n / esc ", style="bold")
            keys.append("cancel" if self.state != "done" else "close")
            keys.append(" · ")
            keys.append("t ", style="bold")
            keys.append("dry run " + ("off" if self.dry_run else "on"))
            keys.append(" · ")
            keys.append("x ", style="bold")
            keys.append("export script")
            if not self.dry_run and plan.needs_typed_confirmation:
                keys.append("   (asks for the typed phrase)", style="dim")
        self.query_one("#cleanup-keys", Static).update(keys)
        self.refresh_bindings()

    # -- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if getattr(self.app, "read_only", False) and action in ("confirm", "toggle_dry_run"):
            return False
        if action in ("quit_guard", "help"):
            return True
        if self.state == "running" and action in ("confirm", "cancel", "toggle_dry_run", "export"):
            return False
        if action == "toggle_dry_run":
            return not self.executed and self.state != "typing"
        return True

    def action_confirm(self) -> None:
        if self.state == "done" and (self.executed or not self.plan.steps):
            self.dismiss(self.results or None)
            return
        if self.state not in ("ready", "done") or not self.plan.steps:
            return
        if self.dry_run:
            self._start(dry_run=True)
        elif self.plan.needs_typed_confirmation:
            self.state = "typing"
            field = self.query_one("#confirm-input", Input)
            field.placeholder = f"type: {self.plan.confirmation_phrase}"
            field.value = ""
            field.add_class("-shown")
            field.focus()
            self._error("")
            self._refresh()
        else:
            self._start(dry_run=False)

    @on(Input.Submitted, "#confirm-input")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        if self.state != "typing":
            return
        if self.plan.confirmed_by(event.value):
            event.input.remove_class("-shown")
            self._error("")
            self._start(dry_run=False)
        else:
            event.input.value = ""
            self._error(f"that is not the phrase: nothing was run (type {self.plan.confirmation_phrase!r}, "
                        "or esc to go back)")

    def action_cancel(self) -> None:
        if self.state == "running":
            return
        if self.state == "typing":
            self.state = "ready"
            self.query_one("#confirm-input", Input).remove_class("-shown")
            self.query_one("#cleanup-scroll").focus()
            self._error("")
            self._refresh()
            return
        self.dismiss(self.results or None)

    def action_toggle_dry_run(self) -> None:
        if self.executed or self.state in ("running", "typing"):
            return
        self.dry_run = not self.dry_run
        if self.state == "done":
            self.state = "ready"
        self._refresh()

    def action_help(self) -> None:
        helper = getattr(self.app, "action_help", None)
        if callable(helper):
            helper()  # the app's help lists this screen's keys and HELP

    async def action_quit_guard(self) -> None:
        """q: never quit in the middle of a batch (the steps already sent would go unrecorded)."""
        if self.state == "running":
            self.app.notify("A cleanup is running: wait for it to finish", severity="warning")
            return
        await self.app.action_quit()

    def _error(self, message: str) -> None:
        self.query_one("#cleanup-error", Static).update(Text(message))

    # -- running ----------------------------------------------------------------------------------
    def _start(self, *, dry_run: bool) -> None:
        self.state = "running"
        results = self.query_one("#plan-results", DataTable)
        results.clear()
        for i, s in enumerate(self.plan.steps):
            results.add_row(Text(str(i + 1), style="dim"), safe(s.resource_id, 30), Text("…", style="dim"),
                            key=str(i), height=1 if self.wide else 2)
        title = self.query_one("#results-title", Label)
        title.update(Text("Dry run results" if dry_run else "Results", style="bold"))
        title.display = results.display = True
        scroll = self.query_one("#cleanup-scroll")
        scroll.focus()
        self.call_after_refresh(scroll.scroll_to_widget, title, top=True)
        self._refresh()
        self._run(dry_run)

    class StepDone(Message, bubble=False):
        def __init__(self, index: int | None, result: StepResult) -> None:
            super().__init__()
            self.index, self.result = index, result

    class Finished(Message, bubble=False):
        def __init__(self, results: list[StepResult], dry_run: bool) -> None:
            super().__init__()
            self.results, self.dry_run = results, dry_run

    @work(thread=True, exclusive=True, group="cleanup", exit_on_error=False, description="Cleanup")
    def _run(self, dry_run: bool) -> None:
        app = self.app
        db_path = getattr(app, "db_path", None)
        config = getattr(app, "config", None)
        if db_path is None or config is None:
            raise RuntimeError("the app has no cache to act on")
        index = {id(s): i for i, s in enumerate(self.plan.steps)}

        def step_done(r: StepResult) -> None:
            self.post_message(self.StepDone(index.get(id(r.step)), r))

        with Store(db_path) as store:
            results = execute_plan(self.plan, executor_for(store, config), store, dry_run=dry_run,
                                   on_result=step_done)
        post_result(self, self.Finished(results, dry_run))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        relay_worker_state(self, event)  # to the app's one handler of worker failures

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        """The run failed (the app notified it): say so on the screen and end the running state."""
        if worker.group == "cleanup":
            self._run_failed(error_line(error))

    @on(StepDone)
    def _step_done(self, message: StepDone) -> None:
        self._show_result(message.index, message.result)

    @on(Finished)
    def _on_finished(self, message: Finished) -> None:
        self._finished(message.results, message.dry_run)

    def _show_result(self, index: int | None, r: StepResult) -> None:
        if index is None:
            return
        text = Text(r.status, style=RESULT_STYLE.get(r.status, ""))
        detail = r.error if r.status == "failed" and r.error else r.message
        detail = detail.replace(f" {r.step.resource_id}", "", 1)  # the row names the resource
        text.append(": ")
        text.append(clean(detail, 160), style="red" if r.status == "failed" else "")
        self.query_one("#plan-results", DataTable).update_cell(str(index), "result", text)

    def _finished(self, results: list[StepResult], dry_run: bool) -> None:
        self.results.extend(results)
        if not dry_run:
            self.executed = True
        self.state = "done"
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing"
        failed = counts.get("failed", 0)
        self.app.notify(("Dry run: " if dry_run else "Cleanup: ") + summary + " (see the audit log in Activity, 7)",
                        severity="error" if failed else "information", timeout=8)
        reload = getattr(self.app, "action_reload", None)
        if callable(reload):
            reload(quiet=True)
        self._refresh()

    def _run_failed(self, message: str) -> None:
        self.state = "done" if self.results else "ready"
        self._error(f"cleanup failed: {clean(message, 200)}")
        self._refresh()

    # -- export -----------------------------------------------------------------------------------
    def action_export(self) -> None:
        if self.state in ("running", "typing"):
            return
        if not self.plan.steps:
            self.app.notify("Nothing to export: the plan has no steps", severity="warning", timeout=5)
            return
        default = Path.cwd() / f"costdeck-cleanup-{timeutil.now():%Y%m%d-%H%M}.sh"

        def validate(value: str) -> str | None:
            if not value:
                return "enter a file path"
            p = Path(value).expanduser()
            if p.exists():
                return f"{clean(p, 60)} exists: choose another name (nothing is overwritten)"
            if not p.parent.is_dir():
                return f"no such directory: {clean(p.parent, 60)}"
            return None

        def done(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser()
            try:
                text = export_script(self.plan)  # NothingToExport: one line below, no file
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
            except Exception as exc:  # noqa: BLE001 - one line, nothing lost
                self.app.notify(f"Export failed: {clean(one_line(exc), 160)}", severity="error", timeout=8)
                return
            self.app.notify(f"Wrote {clean(path, 80)}: a dry run by default (bash FILE prints the commands; "
                            "--execute runs them)", timeout=8)

        self.app.push_screen(PromptScreen("Export the plan as a shell script (AWS CLI) to:", value=str(default),
                                          validate=validate), done)


__all__ = ["CleanupScreen", "open_cleanup"]
