"""The provider side of cleanup actions: the step record, the executor protocol, the demo executor.

analysis/cleanup.py turns recommendations into a plan of `PlanStep`s; an `Executor` carries
one step out against one provider. The contract every executor follows:

* `live(step)` re-reads the resource's state RIGHT NOW (the cloud's API, or the demo inventory)
  as a `LiveState`. It never mutates anything.
* `run(step, dry_run=...)` calls `live`, compares it with the step's preconditions and the
  protection rules (`mismatch`), and skips the step with the reason when they no longer hold
  (re-attached, state changed, newly tagged protected, gone, another account). With
  `dry_run=True` it stops there: no mutating call at all, the result says what it would do.
  Otherwise it calls `apply(step)`, which acts and returns a message and details.
* Errors are results, not exceptions: a failed step is `status="failed"` with a one-line
  error, and the batch goes on. The one exception is `FatalSourceError` (expired, missing or
  rejected credentials): it propagates so the batch stops, since no other step can succeed.

Actions (AWS names; the CLI verbs are in analysis/cleanup.py's script export):
delete_volume (optionally snapshot it first), release_address, delete_snapshot,
deregister_image (and delete its EBS snapshots), stop_instance, deallocate_instance (an Azure VM
stopped but still allocated).

Protection: a resource tagged `costdeck:protect` (any value), any tag listed in the config's
`[protection] tags` ("key" or "key=value"), or whose id is in `[protection] resource_ids` is
never acted on, at plan time and again right before acting.

The demo executor simulates every action against the demo inventory in the cache (rows are
deleted, instances marked stopped) and every message says "simulated (demo)".
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cache import Store, timeutil

from .base import FatalSourceError, one_line
from .config import ProtectionConfig
from .errors import SourceError

PROTECT_TAG = "costdeck:protect"

# action -> (what it does, in the imperative; past tense)
ACTIONS: dict[str, tuple[str, str]] = {
    "delete_volume": ("delete volume", "deleted"),
    "release_address": ("release Elastic IP", "released"),
    "delete_snapshot": ("delete snapshot", "deleted"),
    "deregister_image": ("deregister image", "deregistered"),
    "stop_instance": ("stop instance", "stop requested"),
    "deallocate_instance": ("deallocate VM", "deallocated"),
    "set_requests": ("set Kubernetes requests", "requests set"),
    "scale_to_zero": ("scale Kubernetes workload to zero", "scaled to zero"),
    "scale_namespace_to_zero": ("scale Kubernetes namespace to zero", "scaled to zero"),
    "delete_pv": ("delete released persistent volume", "deleted"),
    "delete_endpoint": ("delete SageMaker endpoint (config and model kept)", "deleted"),
    "stop_notebook": ("stop SageMaker notebook instance", "stop requested"),
    "delete_studio_app": ("delete SageMaker Studio app (user files kept)", "deleted"),
}

SIMULATED = "simulated (demo)"


class NoExecutor(Exception):
    """No executor can act on a step (source not configured, provider not supported): the reason."""


# -- the step and its result ---------------------------------------------------------------------


@dataclass(slots=True)
class PlanStep:
    """One action on one resource, with everything needed to re-check it and to show it.

    `preconditions` are what must still hold right before acting, keys:
    state (str or list of accepted states), attached (False: no attachment/association),
    in_use (False: no image uses the snapshot / no instance uses the image), spot (False).
    """

    action: str
    provider_name: str
    resource_id: str
    resource_type: str | None = None
    resource_name: str | None = None
    sub_account_id: str | None = None
    region_id: str | None = None
    monthly_saving: int = 0  # nanos
    currency: str = "USD"
    reversible: bool = False
    undo: str = "cannot be undone"
    recommendation_id: int | None = None
    rule: str | None = None
    preconditions: dict[str, Any] = field(default_factory=dict)
    snapshot_first: bool = False  # delete_volume: snapshot it first (the step becomes reversible)
    snapshot_ids: list[str] = field(default_factory=list)  # deregister_image: its EBS snapshots
    source_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # what the action needs from the advice (new requests)

    @property
    def verb(self) -> str:
        return ACTIONS.get(self.action, (self.action.replace("_", " "), "done"))[0]

    def describe(self) -> str:
        """e.g. 'delete volume vol-0abc (snapshot first)' — ids only, safe for any output."""
        text = f"{self.verb} {self.resource_id}"
        if self.action == "delete_volume" and self.snapshot_first:
            text = f"snapshot, then {text}"
        if self.action == "deregister_image" and self.snapshot_ids:
            text += f" and delete {len(self.snapshot_ids)} snapshot(s)"
        return text


@dataclass(slots=True)
class StepResult:
    """What happened to one step. status: ok | skipped | failed | dry-run | not-run."""

    step: PlanStep
    status: str
    message: str
    error: str | None = None
    dry_run: bool = True
    simulated: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(slots=True)
class LiveState:
    """A resource as it is right now (re-read just before acting)."""

    exists: bool
    state: str | None = None
    attached_to: str | None = None  # volume attachment / address association target
    tags: dict[str, str] = field(default_factory=dict)
    spot: bool = False
    used_by: list[str] = field(default_factory=list)  # snapshot: images using it; image: instances
    snapshot_ids: list[str] = field(default_factory=list)  # image: its EBS snapshots
    account_id: str | None = None  # the account the executor's credentials belong to


# -- guards ---------------------------------------------------------------------------------------


def protection_reason(tags: Mapping[str, Any] | None, resource_id: str, protection: ProtectionConfig | None) -> str | None:
    """Why a resource is protected (never acted on), or None."""
    tags = tags or {}
    if PROTECT_TAG in tags:
        return f"protected: tagged {PROTECT_TAG}"
    prot = protection or ProtectionConfig()
    for spec in prot.tags:
        key, eq, value = spec.partition("=")
        if key in tags and (not eq or str(tags[key]) == value):
            return f"protected: tagged {spec} ([protection] tags)"
    if resource_id in prot.resource_ids:
        return "protected: listed in [protection] resource_ids"
    return None


def mismatch(step: PlanStep, live: LiveState, protection: ProtectionConfig | None, *,
             since_plan: bool = True) -> str | None:
    """Why the step must be skipped (the resource no longer matches the plan), or None.

    since_plan=False words the reasons for plan time (checked against the last sync).
    """
    what = (step.resource_type or "resource").replace("_", " ")
    later = " since the plan was made" if since_plan else " (as of the last sync)"
    if not live.exists:
        return f"gone: the {what} no longer exists" if since_plan else f"gone: the {what} is not in the inventory"
    if live.account_id and step.sub_account_id and live.account_id != step.sub_account_id:
        return (f"wrong account: the credentials are for account {live.account_id}, "
                f"the resource is in {step.sub_account_id}")
    reason = protection_reason(live.tags, step.resource_id, protection)
    if reason:
        return reason + (" (newly, since the plan was made)" if since_plan else "")
    pre = step.preconditions
    if pre.get("spot") is False and live.spot:
        return "spot instance: not stopped (its capacity might not come back)"
    if pre.get("attached") is False and live.attached_to:
        if step.action == "delete_volume":
            verb = "re-attached to" if since_plan else "attached to"
        else:
            verb = "associated with"
        return f"{verb} {live.attached_to}{later}"
    if pre.get("in_use") is False and live.used_by:
        users = ", ".join(live.used_by[:3]) + (" …" if len(live.used_by) > 3 else "")
        return f"in use by {users}{later}"
    if "state" in pre:
        states = pre["state"] if isinstance(pre["state"], list) else [pre["state"]]
        if live.state not in states:
            verb = "state changed to" if since_plan else "state is"
            return f"{verb} {live.state or 'unknown'}{later} (expected {' or '.join(states)})"
    return None


# -- the executor protocol ---------------------------------------------------------------------------


class Executor(ABC):
    """Carries out plan steps for one provider account (or the demo)."""

    simulated = False
    label = ""

    def __init__(self, protection: ProtectionConfig | None = None) -> None:
        self.protection = protection or ProtectionConfig()

    @abstractmethod
    def live(self, step: PlanStep) -> LiveState:
        """Re-read the resource now. Raises FatalSourceError on credential problems."""

    @abstractmethod
    def apply(self, step: PlanStep) -> tuple[str, dict[str, Any]]:
        """Act (only after a passing re-check): (message, detail)."""

    def translate(self, exc: BaseException) -> BaseException:
        """Provider exception -> FatalSourceError (stops the batch) or a one-line error."""
        return exc

    def run(self, step: PlanStep, *, dry_run: bool) -> StepResult:
        suffix = f" — {SIMULATED}" if self.simulated else ""
        try:
            live = self.live(step)
            reason = mismatch(step, live, self.protection)
        except Exception as exc:  # noqa: BLE001 - one step's failure is a result
            err = self.translate(exc)
            if isinstance(err, FatalSourceError):
                raise err from exc
            return StepResult(step, "failed", f"re-check failed{suffix}", error=one_line(err), dry_run=dry_run,
                              simulated=self.simulated)
        if reason:
            return StepResult(step, "skipped", reason + suffix, dry_run=dry_run, simulated=self.simulated,
                              detail={"state_at_check": live.state, "attached_to": live.attached_to})
        if dry_run:
            return StepResult(step, "dry-run", f"would {step.describe()}{suffix}", dry_run=True,
                              simulated=self.simulated, detail={"state_at_check": live.state})
        try:
            message, detail = self.apply(step)
        except Exception as exc:  # noqa: BLE001
            err = self.translate(exc)
            if isinstance(err, FatalSourceError):
                raise err from exc
            return StepResult(step, "failed", f"{step.verb} failed{suffix}", error=one_line(err), dry_run=False,
                              simulated=self.simulated, detail=getattr(exc, "detail", {}) or {})
        return StepResult(step, "ok", message + suffix, dry_run=False, simulated=self.simulated, detail=detail)


Resolver = Callable[[PlanStep], Executor]


class ScriptExporter(ABC):
    """How plan steps of one kind become shell commands, for a script a change board can review.

    analysis/cleanup.py writes the script around these: header, dry-run switch, `run` helper,
    one `if in_account ID; then ... fi` block per account. An exporter provides the commands of
    each step (argv lists, shell-quoted by the script) and the body of `in_account`.
    """

    #: what the script runs, for its header ("the AWS CLI")
    tool: str = ""
    #: the provider_name of the steps it exports (steps of other providers are left out)
    provider_name: str = ""
    #: how to switch to the right account, shown when the credentials are for another one
    account_hint: str = "switch credentials"

    @abstractmethod
    def commands(self, step: PlanStep) -> list[list[str]]:
        """The commands of one step, in order."""

    @abstractmethod
    def account_check(self) -> str:
        """bash lines setting `have` to the account the credentials belong to (run only when executing)."""


class StepFailed(SourceError):
    """A step failed part-way (e.g. the image was deregistered, one snapshot delete failed)."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


# -- the demo executor -------------------------------------------------------------------------------


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}


class DemoExecutor(Executor):
    """Simulates the actions against the demo inventory in the cache (no cloud is contacted).

    The re-check reads the resource's row; acting deletes it (volumes, addresses, snapshots,
    images and the image's snapshots) or marks an instance "stopped" (an Azure VM "deallocated"). A volume snapshotted
    first gets a simulated snapshot row. Every message says "simulated (demo)".
    """

    simulated = True
    label = "demo"

    def __init__(self, store: Store, protection: ProtectionConfig | None = None) -> None:
        super().__init__(protection)
        self.store = store

    def _row(self, provider: str, rid: str) -> dict[str, Any] | None:
        r = self.store.conn.execute(
            "SELECT * FROM resources WHERE provider_name=? AND resource_id=?", (provider, rid)
        ).fetchone()
        return dict(r) if r is not None else None

    def live(self, step: PlanStep) -> LiveState:
        return live_from_row(self._row(step.provider_name, step.resource_id), step.action)

    def apply(self, step: PlanStep) -> tuple[str, dict[str, Any]]:
        store = self.store
        detail: dict[str, Any] = {}
        past = ACTIONS.get(step.action, ("", "done"))[1]
        with store.transaction():
            key = (step.provider_name, step.resource_id)
            if step.action in ("stop_instance", "deallocate_instance", "stop_notebook"):
                after = {"stop_instance": "stopped", "stop_notebook": "Stopped"}.get(step.action, "deallocated")
                store.conn.execute("UPDATE resources SET state=? WHERE provider_name=? AND resource_id=?",
                                   (after, *key))
            elif step.action == "deregister_image":
                row = self._row(*key) or {}
                snaps = list((_loads(row.get("properties")) or {}).get("snapshot_ids") or step.snapshot_ids)
                deleted, kept = [], []
                for sid in snaps:
                    srow = self._row(step.provider_name, sid)
                    if srow is None:
                        continue
                    why = protection_reason(_loads(srow.get("tags")), sid, self.protection)
                    if why:
                        kept.append(sid)
                        continue
                    store.conn.execute("DELETE FROM resources WHERE provider_name=? AND resource_id=?",
                                       (step.provider_name, sid))
                    deleted.append(sid)
                store.conn.execute("DELETE FROM resources WHERE provider_name=? AND resource_id=?", key)
                detail = {"deleted_snapshots": deleted, "kept_snapshots": kept}
                past += f", {len(deleted)} snapshot(s) deleted" + (f", {len(kept)} protected kept" if kept else "")
            else:
                if step.action == "delete_volume" and step.snapshot_first:
                    row = self._row(*key) or {}
                    sid = "snap-demo-" + hashlib.sha256(step.resource_id.encode()).hexdigest()[:12]
                    now = timeutil.iso(timeutil.now())
                    props = _loads(row.get("properties")) or {}
                    store.upsert("resources", [{
                        **row, "resource_id": sid, "resource_type": "snapshot", "resource_name": row.get("resource_name"),
                        "state": "completed", "attached_to": None, "created_at": now, "first_seen": now, "last_seen": now,
                        "tags": {**(_loads(row.get("tags")) or {}), "costdeck:created-by": "cleanup"},
                        "properties": {"size_gib": props.get("size_gib"), "volume_id": step.resource_id,
                                       "volume_exists": False, "images": [], "simulated": True,
                                       "description": f"costdeck: snapshot of {step.resource_id} before deletion"},
                    }], pk=("provider_name", "resource_id"))
                    detail["snapshot_id"] = sid
                    past = f"snapshot {sid} taken, volume deleted"
                store.conn.execute("DELETE FROM resources WHERE provider_name=? AND resource_id=?", key)
        return past, detail


def live_from_row(row: Mapping[str, Any] | None, action: str) -> LiveState:
    """A `resources` row (the demo inventory, or the last sync at plan time) as a LiveState."""
    if row is None:
        return LiveState(exists=False)
    props = _loads(row.get("properties"))
    props = props if isinstance(props, dict) else {}
    tags = _loads(row.get("tags"))
    tags = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
    used: list[str] = []
    if action == "delete_snapshot":
        used = [str(x) for x in props.get("images") or []]
    elif action == "deregister_image":
        used = [str(x) for x in props.get("instances") or []]
    attached = row.get("attached_to")
    if action == "release_address":
        attached = attached or props.get("association_id") or props.get("instance_id")
    return LiveState(
        exists=True,
        state=row.get("state"),
        attached_to=attached or None,
        tags=tags,
        spot=(row.get("lifecycle") == "spot") or bool(props.get("spot_instance_request_id")),
        used_by=used,
        snapshot_ids=[str(x) for x in props.get("snapshot_ids") or []],
    )


def audit_detail(step: PlanStep, result: StepResult) -> dict[str, Any]:
    """The audit log's detail JSON for one attempt."""
    return {
        "monthly_saving_nanos": step.monthly_saving,
        "currency": step.currency,
        "recommendation_id": step.recommendation_id,
        "rule": step.rule,
        "resource_name": step.resource_name,
        "resource_type": step.resource_type,
        "reversible": step.reversible,
        "undo": step.undo,
        "plan": step.describe(),
        "message": result.message,
        "simulated": result.simulated,
        **({"snapshot_first": True} if step.snapshot_first else {}),
        **({"snapshot_ids": step.snapshot_ids} if step.snapshot_ids else {}),
        **result.detail,
    }


__all__ = [
    "ACTIONS",
    "PROTECT_TAG",
    "SIMULATED",
    "DemoExecutor",
    "Executor",
    "LiveState",
    "NoExecutor",
    "PlanStep",
    "Resolver",
    "ScriptExporter",
    "StepFailed",
    "StepResult",
    "audit_detail",
    "live_from_row",
    "mismatch",
    "protection_reason",
]
