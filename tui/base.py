"""Base class of the top-level views, and how workers hand back results and failures.

Workers (`@work(thread=True, ..., exit_on_error=False)`) read or write the cache off the UI thread:

* a worker ends by posting a Message with its result (`post_result`), handled with `@on` on the UI
  thread; it never touches a widget itself;
* a worker that raises is reported by ONE handler, the app's `@on(Worker.StateChanged)`: a
  notification "<the worker's description> failed: <one line>", then the node's
  `worker_failed(worker, error)` clears its loading state (and the traceback is logged with
  --debug). Screens relay their workers' state changes to the app (`WorkerStateRelay`): Textual
  posts them to the node that started the worker and they do not bubble.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import events
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.worker import NoActiveWorker, Worker, get_current_worker

from cache import CacheError
from providers.errors import CostdeckError

if TYPE_CHECKING:
    from .app import CostdeckApp


def error_line(exc: BaseException) -> str:
    """An exception as one line: our own errors (cache, input, source, a refused plan) by their
    message alone, anything else with its type."""
    msg = " ".join(str(exc).split())
    own = isinstance(exc, CacheError | CostdeckError) or type(exc).__name__ == "PlanRefused"
    if own and msg:
        return msg
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def post_result(node: MessagePump, message: Message) -> None:
    """From a thread worker: hand its result to the UI thread as a message to `node`. A worker
    cancelled meanwhile (an exclusive one replaced by a newer call) hands nothing back."""
    try:
        worker: Worker[Any] | None = get_current_worker()
    except NoActiveWorker:
        worker = None
    if worker is None or not worker.is_cancelled:
        node.post_message(message)


def relay_worker_state(node: MessagePump, event: Worker.StateChanged) -> None:
    """Pass a worker's state change on to the app's one handler (a screen's `on_worker_state_changed`)."""
    node.app.post_message(Worker.StateChanged(event.worker, event.state))


class WorkerStateRelay:
    """Mixin for screens that run workers: pass their state changes on to the app's one handler."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        assert isinstance(self, MessagePump)
        relay_worker_state(self, event)

    def worker_failed(self, worker: Worker[Any], error: BaseException) -> None:
        """A worker of this screen raised (already notified): clear its loading state."""
        return None


class ViewScreen(WorkerStateRelay, Screen[None]):
    """A top-level view: a title, help notes and palette commands."""

    VIEW_TITLE = ""
    HELP = ""
    _seen_version = 0

    def on_screen_resume(self) -> None:
        """Coming back to a view after the cache changed (sync, reload): refresh it."""
        version = self.cd_app.data_version
        for bar in self.query("TopBar"):
            bar.refresh_bar()  # type: ignore[attr-defined]
        if version != self._seen_version:
            self._seen_version = version
            reload = getattr(self, "reload", None)
            if callable(reload) and self.is_mounted:
                reload()

    def reload(self) -> None:  # overridden by views
        return None

    def unavailable_reason(self, action: str) -> str | None:
        """Why `action` (hidden by `check_action` in this mode: read-only, the demo, nothing running)
        cannot run now; None: say nothing. Views override it."""
        return None

    def on_key(self, event: events.Key) -> None:
        """A key whose action this view hides in the current mode says why instead of doing nothing.
        (The Key event reaches the screen before the bindings are run; a hidden binding does not run.)"""
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if self.check_action(binding.action, ()) is False:
                why = self.unavailable_reason(binding.action)
                if why:
                    self.notify(why, title=f"{binding.description or binding.key} is not available",
                                severity="warning", timeout=5)
                    event.stop()
                return

    def palette_commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        return []

    @property
    def cd_app(self) -> CostdeckApp:
        return self.app  # type: ignore[return-value]
