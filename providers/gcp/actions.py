"""The Google Cloud cleanup executor: re-read each resource from Compute Engine, then act, then wait.

The same safety model as AWS (providers/actions.py): a dry run makes no mutating request (it only
re-reads); before acting the resource is read again and skipped when it no longer matches the
plan (attached again, state changed, newly labelled protected, gone); credential problems (401)
stop the batch (FatalSourceError); anything else fails that step only.

=================  ===============================================  ==========================================
action             re-check (GET, right before acting)              act (never in a dry run), then wait
=================  ===============================================  ==========================================
delete_volume      disks.get: READY ("available"), no users         [disks.createSnapshot, wait] disks.delete
release_address    addresses.get: RESERVED, no users                addresses.delete
delete_snapshot    snapshots.get + images.list: no image made from  snapshots.delete
                   it
deregister_image   images.get + disks.aggregatedList: no disk made  images.delete
                   from it
stop_instance      instances.get: RUNNING, not SPOT/preemptible     instances.stop
=================  ===============================================  ==========================================

Every mutation returns a zone, region or global Operation; the step is done only when the
operation is DONE (`operations.wait`, polled until DONE, at most `op_polls` times) and carries no
error: an operation that ends in error, or does not finish, fails the step with one line (for a
disk snapshotted first: the disk is NOT deleted unless the snapshot operation succeeded).

Resource ids are full resource names (//compute.googleapis.com/projects/P/zones/Z/disks/N); they
are parsed with a strict pattern (Compute names: lowercase letters, digits, hyphens) before any
URL is built from them, so a hostile id can never reach another path.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from providers.actions import Executor, LiveState, PlanStep, StepFailed
from providers.base import RequestCounter
from providers.config import ProtectionConfig
from providers.http import HttpStepError

from . import client as _client
from .adapter import GcpOptions
from .client import Gcp
from .inventory import aggregated, full_name, ready_state

_NAME = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
_PROJECT = r"[a-z][-a-z0-9]{4,28}[a-z0-9]"
_LOC = r"[a-z]+(?:-[a-z]+)+\d{1,2}(?:-[a-z])?"
ID = re.compile(rf"^//compute\.googleapis\.com/projects/(?P<project>{_PROJECT})/"
                rf"(?:(?P<scope>zones|regions)/(?P<where>{_LOC})|global)/"
                rf"(?P<kind>disks|instances|addresses|snapshots|images)/(?P<name>{_NAME})$")
KIND_OF = {"delete_volume": "disks", "release_address": "addresses", "delete_snapshot": "snapshots",
           "deregister_image": "images", "stop_instance": "instances"}


def parse_id(resource_id: str, action: str) -> dict[str, str]:
    m = ID.match(resource_id or "")
    if not m or m.group("kind") != KIND_OF.get(action):
        raise StepFailed(f"not a Compute Engine {KIND_OF.get(action, 'resource')[:-1]} id: {resource_id[:120]!r}")
    return {k: v for k, v in m.groupdict().items() if v}


def path_of(p: dict[str, str]) -> str:
    where = f"{p['scope']}/{p['where']}" if p.get("scope") else "global"
    return f"/compute/v1/projects/{p['project']}/{where}/{p['kind']}/{p['name']}"


def snapshot_name(disk: str, now: datetime) -> str:
    """A valid snapshot name (<= 63 chars) for a disk's pre-delete snapshot."""
    return f"{disk[:40].rstrip('-')}-costdeck-{now:%Y%m%d%H%M%S}"


class GcpExecutor(Executor):
    label = "gcp"

    def __init__(self, options: GcpOptions, protection: ProtectionConfig | None = None, *, source: str = "gcp",
                 counter: RequestCounter | None = None, op_polls: int = 120) -> None:
        super().__init__(protection)
        self.options = options
        self.gcp = Gcp(options, source, counter)
        self.op_polls = op_polls

    @property
    def counter(self) -> RequestCounter:
        return self.gcp.counter

    # -- re-check ------------------------------------------------------------------------------
    def _get(self, path: str, op: str) -> dict[str, Any] | None:
        try:
            data = self.gcp.compute.get(path, op=op)
        except HttpStepError as exc:
            if exc.status == 404:
                return None
            raise
        return data if isinstance(data, dict) else None

    def live(self, step: PlanStep) -> LiveState:
        p = parse_id(step.resource_id, step.action)
        obj = self._get(path_of(p), f"{p['kind']}.get")
        if obj is None:
            return LiveState(exists=False)
        labels = {str(k): str(v) for k, v in (obj.get("labels") or {}).items()}
        live = LiveState(exists=True, tags=labels, account_id=p["project"])
        status = str(obj.get("status") or "")
        users = [x for u in obj.get("users") or [] if (x := full_name(u))]
        if p["kind"] == "disks":
            live.state, live.attached_to = ready_state("disk", status, bool(users)), users[0] if users else None
        elif p["kind"] == "addresses":
            live.state = "associated" if status == "IN_USE" or users else "unassociated"
            live.attached_to = users[0] if users else None
        elif p["kind"] == "instances":
            sched = obj.get("scheduling") or {}
            live.state = status.lower()
            live.spot = sched.get("provisioningModel") == "SPOT" or bool(sched.get("preemptible"))
        elif p["kind"] == "snapshots":
            live.state = ready_state("snapshot", status)
            me = full_name(obj.get("selfLink")) or step.resource_id
            live.used_by = sorted(
                full_name(i.get("selfLink")) or i.get("name", "")
                for i in self.gcp.compute.pages("GET", f"/compute/v1/projects/{p['project']}/global/images",
                                                items="items", next_key="nextPageToken", token_param="pageToken",
                                                op="images.list")
                if full_name(i.get("sourceSnapshot")) == me)
        elif p["kind"] == "images":
            live.state = ready_state("image", status)
            me = full_name(obj.get("selfLink")) or step.resource_id
            live.used_by = sorted(full_name(d.get("selfLink")) or d.get("name", "")
                                  for d in aggregated(self.gcp.compute, p["project"], "disks")
                                  if full_name(d.get("sourceImage")) == me)
        return live

    # -- act -----------------------------------------------------------------------------------
    def wait(self, op: dict[str, Any], what: str) -> dict[str, Any]:
        """Poll the operation (zone, region or global) until DONE; its error fails the step."""
        for n in range(self.op_polls + 1):
            if op.get("status") == "DONE":
                err = (op.get("error") or {}).get("errors") or []
                if err:
                    e = err[0] if isinstance(err[0], dict) else {}
                    raise StepFailed(f"{what}: operation {op.get('name')} failed: "
                                     f"{e.get('code', '')} {' '.join(str(e.get('message', '')).split())[:200]}")
                return op
            if n == self.op_polls:
                break
            link = str(op.get("selfLink") or "")
            i = link.find("/projects/")
            if i < 0 or not op.get("name"):
                raise StepFailed(f"{what}: the operation has no selfLink to wait on")
            _client._sleep(min(5.0, 0.5 * (n + 1)) if n else 0.0)
            op = self.gcp.compute.post(f"/compute/v1{link[i:]}/wait", None, op="operations.wait")
        raise StepFailed(f"{what}: operation {op.get('name')} still {op.get('status')} after {self.op_polls} "
                         "polls; check it in the console before retrying")

    def apply(self, step: PlanStep) -> tuple[str, dict[str, Any]]:
        p = parse_id(step.resource_id, step.action)
        path = path_of(p)
        api = self.gcp.compute
        detail: dict[str, Any] = {}
        if step.action == "delete_volume":
            msg = "deleted"
            if step.snapshot_first:
                snap = snapshot_name(p["name"], datetime.now(UTC))
                op = api.post(f"{path}/createSnapshot", {
                    "name": snap, "description": f"costdeck: snapshot of {p['name']} before deleting it",
                    "labels": {"costdeck-created-by": "cleanup"}}, op="disks.createSnapshot")
                detail["snapshot"] = f"//compute.googleapis.com/projects/{p['project']}/global/snapshots/{snap}"
                try:
                    self.wait(op, f"snapshot {snap}")
                except StepFailed as exc:
                    raise StepFailed(f"{exc}: the disk was NOT deleted", detail) from exc
                msg = f"snapshot {snap} taken, disk deleted"
            self.wait(api.json("DELETE", path, op="disks.delete"), "disk delete")
            return msg, detail
        if step.action == "release_address":
            self.wait(api.json("DELETE", path, op="addresses.delete"), "address release")
            return "released", detail
        if step.action == "delete_snapshot":
            self.wait(api.json("DELETE", path, op="snapshots.delete"), "snapshot delete")
            return "deleted", detail
        if step.action == "deregister_image":
            self.wait(api.json("DELETE", path, op="images.delete"), "image delete")
            return "deleted", detail
        if step.action == "stop_instance":
            self.wait(api.post(f"{path}/stop", None, op="instances.stop"), "instance stop")
            return "stopped", {"state_after": "terminated"}
        raise StepFailed(f"unknown action {step.action!r}")


__all__ = ["GcpExecutor", "parse_id", "path_of"]
