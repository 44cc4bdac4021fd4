"""Kinds filled by a local command rather than by `costdeck sync`.

* `focus`: FOCUS 1.0-1.3 exports loaded by `costdeck import FILE...` (providers/focus.py);
* `runs`: JSON Lines run logs loaded by `costdeck import runs.jsonl` (providers/runs_jsonl.py);
* `track`: runs recorded by `costdeck track -- CMD` (providers/track.py);
* `demo`: the deterministic demo snapshot written by `costdeck demo` (providers/demo.py); its
  cleanup executor simulates every action against the demo inventory.

They are registered like every other kind, so `costdeck sources` and `sources --kinds` describe
them, and a `[sources.NAME]` table naming one is refused with the command that fills it. The
options models describe what the cache records about each source (the imported paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from msgspec import Meta

from cache import Store

from .base import Adapter, NoOptions
from .options import Model

if TYPE_CHECKING:
    from .actions import Executor
    from .config import ProtectionConfig


class FileOptions(Model):
    paths: Annotated[list[str], Meta(description="the files last imported into the source")] = []


class RunLogOptions(Model):
    path: Annotated[str, Meta(description="the run log last imported into the source")] = ""


class FocusFiles(Adapter[FileOptions]):
    kind: ClassVar[str] = "focus"
    title: ClassVar[str] = "FOCUS 1.0-1.3 cost exports (CSV, CSV.gz, Parquet; any provider)"
    Options = FileOptions
    configurable: ClassVar[bool] = False
    filled_by: ClassVar[str] = "costdeck import FILE.csv|.csv.gz|.parquet"


class RunLog(Adapter[RunLogOptions]):
    kind: ClassVar[str] = "runs"
    title: ClassVar[str] = "ML runs from a JSON Lines run log"
    Options = RunLogOptions
    configurable: ClassVar[bool] = False
    filled_by: ClassVar[str] = "costdeck import runs.jsonl"


class Track(Adapter[NoOptions]):
    kind: ClassVar[str] = "track"
    title: ClassVar[str] = "ML runs recorded by costdeck track (command, host, instance, duration)"
    configurable: ClassVar[bool] = False
    filled_by: ClassVar[str] = "costdeck track -- CMD"
    live_runs: ClassVar[bool] = True


class Demo(Adapter[NoOptions]):
    kind: ClassVar[str] = "demo"
    title: ClassVar[str] = "the deterministic demo snapshot (cleanup is simulated)"
    configurable: ClassVar[bool] = False
    filled_by: ClassVar[str] = "costdeck demo"
    cleanup_providers: ClassVar[tuple[str, ...]] = ()  # simulates whatever the real kinds can act on
    demo: ClassVar[bool] = True

    def executor(self, store: Store, protection: ProtectionConfig, **kw: Any) -> Executor:
        from .actions import DemoExecutor

        return DemoExecutor(store, protection)


__all__ = ["Demo", "FileOptions", "FocusFiles", "RunLog", "RunLogOptions", "Track"]
