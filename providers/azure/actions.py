"""The Azure cleanup executor: re-read each resource from Resource Manager, then act, following the
long-running operation to its end.

Built on the source's AzureSession (DefaultAzureCredential or the loopback emulator token, the
source's `endpoint`, bounded retries, every request counted). For each step (protocol:
providers/actions.py):

===================  ===============================================  ========================================
action               re-check (always, right before acting)           act (never in a dry run)
===================  ===============================================  ========================================
deallocate_instance  GET the VM (tags, priority) and its instanceView  POST {vm}/deallocate
                     (power state still "stopped")
delete_volume        GET the disk: diskState Unattached, no managedBy  [PUT a snapshot of it (createOption
                                                                      Copy), to completion] DELETE the disk
release_address      GET the public IP: no ipConfiguration             DELETE the public IP
delete_snapshot      GET the snapshot + the subscription's images:     DELETE the snapshot
                     no image uses it
===================  ===============================================  ========================================

Every mutation answers 201/202 with `Azure-AsyncOperation` and/or `Location`: the executor polls
them (Azure-AsyncOperation first: `status` InProgress -> Succeeded | Failed | Canceled; Location:
202 while running, 200/204 when done), waiting Retry-After between polls (default 5 s, recorded
through the session's SLEEP so tests do not sleep), at most `max_polls` times; the step is done
only when the operation has succeeded. A failed or cancelled operation fails the step with its
error; a timeout says the operation may still be running.

Account check: a resource outside the source's subscriptions is refused ("wrong account").
Credential problems (401) raise FatalSourceError: the batch stops; 403 and other errors fail the
step only. A dry run only re-reads (no mutating request at all).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from providers.actions import Executor, LiveState, PlanStep, StepFailed
from providers.base import RequestCounter
from providers.config import ProtectionConfig
from providers.http import HttpStepError, retry_after

from . import session as az_session
from .adapter import AzureOptions
from .session import COMPUTE_API, DISKS_API, NETWORK_API, AzureSession

API = {"virtualmachines": COMPUTE_API, "disks": DISKS_API, "snapshots": DISKS_API, "images": COMPUTE_API,
       "publicipaddresses": NETWORK_API}
DEFAULT_POLL_S = 5.0


def api_for(rid: str) -> str:
    parts = rid.strip("/").split("/")
    kind = parts[-2].lower() if len(parts) >= 2 else ""
    return API.get(kind, COMPUTE_API)


def subscription_of(rid: str) -> str | None:
    parts = rid.strip("/").split("/")
    return parts[1].lower() if len(parts) > 1 and parts[0].lower() == "subscriptions" else None


class AzureExecutor(Executor):
    label = "azure"

    def __init__(self, options: AzureOptions, protection: ProtectionConfig | None = None, *, source: str = "azure",
                 counter: RequestCounter | None = None, session: AzureSession | None = None,
                 max_polls: int = 360) -> None:
        super().__init__(protection)
        self.options = options
        self.az = session or AzureSession(options, source, counter)
        self.max_polls = max_polls
        self.polls = 0

    @property
    def counter(self) -> RequestCounter:
        return self.az.counter

    # -- reads -------------------------------------------------------------------------------------
    def _get(self, rid: str, suffix: str = "") -> dict[str, Any] | None:
        try:
            data = self.az.arm.get(rid + suffix, params={"api-version": api_for(rid)},
                                   op=f"GET {rid.strip('/').split('/')[-2]}{suffix}")
        except HttpStepError as exc:
            if exc.status == 404:
                return None
            raise
        return data if isinstance(data, dict) else None

    def live(self, step: PlanStep) -> LiveState:
        rid = step.resource_id
        sub = subscription_of(rid)
        account = sub if sub in self.options.subscriptions else ", ".join(self.options.subscriptions)
        obj = self._get(rid)
        if obj is None:
            return LiveState(exists=False, account_id=account)
        props = obj.get("properties") or {}
        tags = {str(k): str(v) for k, v in (obj.get("tags") or {}).items()}
        live = LiveState(exists=True, tags=tags, account_id=account)
        if step.action == "deallocate_instance":
            view = self._get(rid, "/instanceView") or {}
            power = next((str(s.get("code")) for s in view.get("statuses") or []
                          if str(s.get("code") or "").startswith("PowerState/")), "")
            live.state = power.split("/", 1)[1] if power else None
            live.spot = str(props.get("priority") or "").lower() == "spot"
        elif step.action == "delete_volume":
            live.state = props.get("diskState")
            live.attached_to = obj.get("managedBy") or None
        elif step.action == "release_address":
            conf = (props.get("ipConfiguration") or {}).get("id")
            live.state = "associated" if conf else "unassociated"
            live.attached_to = conf
        elif step.action == "delete_snapshot":
            live.state = props.get("provisioningState")
            live.used_by = self._images_using(rid)
        else:
            raise StepFailed(f"unknown action {step.action!r}")
        return live

    def _images_using(self, snap: str) -> list[str]:
        sub = subscription_of(snap)
        out = []
        for img in self.az.list(f"/subscriptions/{sub}/providers/Microsoft.Compute/images", COMPUTE_API,
                                "Images list"):
            sp = (img.get("properties") or {}).get("storageProfile") or {}
            for d in [sp.get("osDisk") or {}, *(sp.get("dataDisks") or [])]:
                if str((d.get("snapshot") or {}).get("id") or "").lower() == snap.lower():
                    out.append(str(img.get("id")))
        return sorted(out)

    # -- acts --------------------------------------------------------------------------------------
    def apply(self, step: PlanStep) -> tuple[str, dict[str, Any]]:
        rid = step.resource_id
        api = {"api-version": api_for(rid)}
        if step.action == "deallocate_instance":
            resp = self.az.arm.request("POST", rid + "/deallocate", params=api, op="POST deallocate")
            self._wait(resp, "deallocate")
            return "deallocated", {"state_after": "deallocated"}
        if step.action == "delete_volume":
            detail: dict[str, Any] = {}
            msg = "deleted"
            if step.snapshot_first:
                sid, disk = self._snapshot(rid)
                detail["snapshot_id"] = sid
                try:
                    self._wait(disk, "snapshot")
                except (StepFailed, HttpStepError) as exc:
                    raise StepFailed(f"snapshot {sid} did not complete ({exc}): the disk was NOT deleted",
                                     detail) from exc
                msg = f"snapshot {sid} taken, disk deleted"
            self._wait(self.az.arm.request("DELETE", rid, params=api, op="DELETE disks"), "delete disk")
            return msg, detail
        if step.action in ("release_address", "delete_snapshot"):
            kind = rid.strip("/").split("/")[-2]
            self._wait(self.az.arm.request("DELETE", rid, params=api, op=f"DELETE {kind}"), f"delete {kind}")
            return "deleted", {}
        raise StepFailed(f"unknown action {step.action!r}")

    def _snapshot(self, disk_id: str) -> tuple[str, Any]:
        disk = self._get(disk_id) or {}
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        name = f"{disk_id.rsplit('/', 1)[-1]}-costdeck-{stamp}"[:80]
        rg = disk_id.split("/providers/", 1)[0]
        sid = f"{rg}/providers/Microsoft.Compute/snapshots/{name}"
        body = {"location": disk.get("location"),
                "tags": {"costdeck:created-by": "cleanup", "costdeck:source-volume": disk_id},
                "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk_id}}}
        resp = self.az.arm.request("PUT", sid, json=body, params={"api-version": DISKS_API}, op="PUT snapshots")
        return sid, resp

    def _wait(self, resp: Any, what: str) -> None:
        """Follow a long-running operation (Azure-AsyncOperation, else Location) to its end."""
        if resp.status_code not in (201, 202):
            return
        async_url = resp.headers.get("Azure-AsyncOperation")
        location = resp.headers.get("Location")
        if not async_url and not location:
            return
        wait = retry_after(resp.headers)
        for _ in range(self.max_polls):
            az_session.SLEEP(DEFAULT_POLL_S if wait is None else min(wait, 60.0))
            self.polls += 1
            if async_url:
                r = self.az.arm.request("GET", async_url, op=f"poll {what}")
                data = r.json() if r.content else {}
                status = str(data.get("status") or "")
                if status == "Succeeded":
                    return
                if status in ("Failed", "Canceled"):
                    err = data.get("error") or {}
                    raise StepFailed(f"{what}: the operation {status.lower()}"
                                     + (f": {err.get('code')} {err.get('message')}" if err else ""))
            else:
                r = self.az.arm.request("GET", location, op=f"poll {what}", ok=(200, 202, 204))
                if r.status_code in (200, 204):
                    return
            wait = retry_after(r.headers)
        raise StepFailed(f"{what}: still running after {self.max_polls} polls (it may finish later; "
                         "sync again to see)")


__all__ = ["AzureExecutor"]
