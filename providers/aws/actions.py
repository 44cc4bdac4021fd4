"""The AWS cleanup executor: re-read each resource with EC2 Describe* calls, then act.

Built on the source's `AwsSession` (credentials from the standard chain, the source's
`endpoint_url`, bounded retries, every HTTP request counted per operation), one EC2 client per
region. For each step (see providers/actions.py for the protocol):

=================  ====================================================  ==============================
action             re-check (always, right before acting)                act (never in a dry run)
=================  ====================================================  ==============================
delete_volume      DescribeVolumes: state available, no attachment       [CreateSnapshot + wait until
                                                                         completed] DeleteVolume
release_address    DescribeAddresses: no association                     ReleaseAddress
delete_snapshot    DescribeSnapshots + DescribeImages(self): no AMI      DeleteSnapshot
                   uses it
deregister_image   DescribeImages + DescribeInstances: no instance       DeregisterImage, then
                   launched from it                                      DescribeSnapshots (tags) and
                                                                         DeleteSnapshot of its EBS
                                                                         snapshots (protected kept)
stop_instance      DescribeInstances: running, not spot                  StopInstances
delete_endpoint    SageMaker DescribeEndpoint + ListTags: InService      DeleteEndpoint (its endpoint
                                                                         configuration and model are
                                                                         kept)
stop_notebook      SageMaker DescribeNotebookInstance + ListTags:        StopNotebookInstance
                   InService
delete_studio_app  SageMaker DescribeApp + ListTags: InService           DeleteApp (the user's files
                                                                         are kept)
=================  ====================================================  ==============================

Every re-check also reads the tags (a resource tagged protected since the plan is skipped) and
compares the account of the credentials (STS GetCallerIdentity, once) with the resource's
account, like aws-nuke's account check. EC2's own DryRun flag is not used: a dry run here makes
no mutating request at all (it only re-reads), so it needs no extra permissions and cannot act.

Credential problems (expired, missing, rejected) raise FatalSourceError: the batch stops.
Anything else (access denied on one call, throttling after the retries) fails that step only.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, WaiterError

from providers.actions import Executor, LiveState, PlanStep, StepFailed, protection_reason
from providers.base import FatalSourceError, RequestCounter, one_line
from providers.config import ProtectionConfig

from . import errors
from .adapter import AwsOptions
from .inventory import pages, tag_dict
from .ml_serving import app_ref
from .script import arn_name
from .session import AwsSession

SAGEMAKER_ACTIONS = ("delete_endpoint", "stop_notebook", "delete_studio_app")
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


def _not_found(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    code = str((exc.response.get("Error") or {}).get("Code") or "")
    return code.endswith(".NotFound") or code in ("InvalidAMIID.Unavailable", "InvalidAMIID.Malformed")


def _sm_not_found(exc: ClientError) -> bool:
    err = exc.response.get("Error") or {}
    code, msg = str(err.get("Code") or ""), str(err.get("Message") or "")
    return code in ("ValidationException", "ResourceNotFound") and ("not found" in msg.lower()
                                                                   or "could not find" in msg.lower()
                                                                   or "does not exist" in msg.lower())


class AwsExecutor(Executor):
    label = "aws"

    def __init__(
        self,
        options: AwsOptions,
        protection: ProtectionConfig | None = None,
        *,
        counter: RequestCounter | None = None,
        session: AwsSession | None = None,
        snapshot_wait_delay: float = 5,
        snapshot_wait_attempts: int = 120,
    ) -> None:
        super().__init__(protection)
        self.options = options
        self.aws = session or AwsSession(options, counter)
        self.snapshot_wait_delay = snapshot_wait_delay
        self.snapshot_wait_attempts = snapshot_wait_attempts
        self._live: dict[str, LiveState] = {}

    @property
    def counter(self) -> RequestCounter:
        return self.aws.counter

    def translate(self, exc: BaseException) -> BaseException:
        return errors.translate(exc, self.aws.profile)

    def _ec2(self, step: PlanStep) -> Any:
        return self.aws.client("ec2", step.region_id or None)

    # -- re-check ----------------------------------------------------------------------------
    def live(self, step: PlanStep) -> LiveState:
        account = self.aws.account_id if step.sub_account_id else None
        if step.action in SAGEMAKER_ACTIONS:
            try:
                live = self._sagemaker_live(step)
            except ClientError as exc:
                if not _sm_not_found(exc):
                    raise
                live = LiveState(exists=False)
            live.account_id = account
            return live
        ec2 = self._ec2(step)
        read = {
            "delete_volume": self._volume,
            "release_address": self._address,
            "delete_snapshot": self._snapshot,
            "deregister_image": self._image,
            "stop_instance": self._instance,
        }.get(step.action)
        if read is None:
            raise StepFailed(f"unknown action {step.action!r}")
        try:
            live = read(ec2, step.resource_id)
        except ClientError as exc:
            if not _not_found(exc):
                raise
            live = LiveState(exists=False)
        live.account_id = account
        self._live[step.resource_id] = live
        return live

    def _volume(self, ec2: Any, rid: str) -> LiveState:
        vols = ec2.describe_volumes(VolumeIds=[rid]).get("Volumes") or []
        if not vols:
            return LiveState(exists=False)
        v = vols[0]
        att = [a for a in v.get("Attachments") or [] if a.get("State") != "detached"]
        return LiveState(exists=True, state=v.get("State"), attached_to=att[0].get("InstanceId") if att else None,
                         tags=tag_dict(v.get("Tags")))

    def _address(self, ec2: Any, rid: str) -> LiveState:
        kw = {"AllocationIds": [rid]} if rid.startswith("eipalloc-") else {"PublicIps": [rid]}
        addrs = ec2.describe_addresses(**kw).get("Addresses") or []
        if not addrs:
            return LiveState(exists=False)
        a = addrs[0]
        target = a.get("InstanceId") or a.get("NetworkInterfaceId") or a.get("AssociationId") or None
        return LiveState(exists=True, state="associated" if target else "unassociated", attached_to=target,
                         tags=tag_dict(a.get("Tags")))

    def _snapshot(self, ec2: Any, rid: str) -> LiveState:
        snaps = ec2.describe_snapshots(SnapshotIds=[rid]).get("Snapshots") or []
        if not snaps:
            return LiveState(exists=False)
        s = snaps[0]
        users = sorted(
            img["ImageId"]
            for img in pages(ec2, "describe_images", "Images", Owners=["self"])
            if any((b.get("Ebs") or {}).get("SnapshotId") == rid for b in img.get("BlockDeviceMappings") or [])
        )
        return LiveState(exists=True, state=s.get("State"), tags=tag_dict(s.get("Tags")), used_by=users)

    def _image(self, ec2: Any, rid: str) -> LiveState:
        imgs = ec2.describe_images(ImageIds=[rid]).get("Images") or []
        if not imgs:
            return LiveState(exists=False)
        img = imgs[0]
        snaps = [(b.get("Ebs") or {}).get("SnapshotId") for b in img.get("BlockDeviceMappings") or []]
        users = sorted(
            i["InstanceId"]
            for r in pages(ec2, "describe_instances", "Reservations", Filters=[
                {"Name": "image-id", "Values": [rid]},
                {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES},
            ])
            for i in r.get("Instances") or []
        )
        return LiveState(exists=True, state=img.get("State"), tags=tag_dict(img.get("Tags")), used_by=users,
                         snapshot_ids=[s for s in snaps if s])

    def _instance(self, ec2: Any, rid: str) -> LiveState:
        res = ec2.describe_instances(InstanceIds=[rid]).get("Reservations") or []
        insts = [i for r in res for i in r.get("Instances") or []]
        if not insts or (insts[0].get("State") or {}).get("Name") == "terminated":
            return LiveState(exists=False)
        i = insts[0]
        return LiveState(exists=True, state=(i.get("State") or {}).get("Name"), tags=tag_dict(i.get("Tags")),
                         spot=i.get("InstanceLifecycle") == "spot" or bool(i.get("SpotInstanceRequestId")))

    def _sagemaker_live(self, step: PlanStep) -> LiveState:
        sm = self.aws.client("sagemaker", step.region_id or None)
        name = arn_name(step.resource_id) or step.resource_name or step.resource_id
        if step.action == "delete_endpoint":
            ep = sm.describe_endpoint(EndpointName=name)
            state = ep.get("EndpointStatus")
        elif step.action == "delete_studio_app":
            state = sm.describe_app(**app_ref(step.params)).get("Status")
        else:
            nb = sm.describe_notebook_instance(NotebookInstanceName=name)
            state = nb.get("NotebookInstanceStatus")
        tags = tag_dict(sm.list_tags(ResourceArn=step.resource_id).get("Tags"))
        return LiveState(exists=True, state=state, tags=tags)

    # -- act -----------------------------------------------------------------------------------
    def apply(self, step: PlanStep) -> tuple[str, dict[str, Any]]:
        if step.action in SAGEMAKER_ACTIONS:
            sm = self.aws.client("sagemaker", step.region_id or None)
            name = arn_name(step.resource_id) or step.resource_name or step.resource_id
            if step.action == "delete_endpoint":
                sm.delete_endpoint(EndpointName=name)  # DeleteEndpoint keeps the config and the model
                cfg = step.params.get("endpoint_config")
                return ("deleted (endpoint configuration " + (f"{cfg} " if cfg else "") + "and model kept)",
                        {"endpoint_config": cfg})
            if step.action == "delete_studio_app":
                sm.delete_app(**app_ref(step.params))
                return "deleted (the user's files are kept)", {}
            sm.stop_notebook_instance(NotebookInstanceName=name)
            return "stop requested", {}
        ec2 = self._ec2(step)
        rid = step.resource_id
        if step.action == "delete_volume":
            detail: dict[str, Any] = {}
            msg = "deleted"
            if step.snapshot_first:
                snap = ec2.create_snapshot(
                    VolumeId=rid,
                    Description=f"costdeck: snapshot of {rid} before deleting it",
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                        {"Key": "costdeck:created-by", "Value": "cleanup"},
                        {"Key": "costdeck:source-volume", "Value": rid},
                    ]}],
                )
                sid = snap["SnapshotId"]
                detail["snapshot_id"] = sid
                try:
                    ec2.get_waiter("snapshot_completed").wait(
                        SnapshotIds=[sid],
                        WaiterConfig={"Delay": self.snapshot_wait_delay, "MaxAttempts": self.snapshot_wait_attempts},
                    )
                except WaiterError as exc:
                    raise StepFailed(f"snapshot {sid} did not complete ({one_line(exc)}): the volume was NOT deleted",
                                     detail) from exc
                msg = f"snapshot {sid} taken, volume deleted"
            ec2.delete_volume(VolumeId=rid)
            return msg, detail
        if step.action == "release_address":
            if rid.startswith("eipalloc-"):
                ec2.release_address(AllocationId=rid)
            else:
                ec2.release_address(PublicIp=rid)
            return "released", {}
        if step.action == "delete_snapshot":
            ec2.delete_snapshot(SnapshotId=rid)
            return "deleted", {}
        if step.action == "deregister_image":
            live = self._live.get(rid)
            snaps = list(live.snapshot_ids if live is not None else step.snapshot_ids)
            ec2.deregister_image(ImageId=rid)
            return self._delete_image_snapshots(ec2, rid, snaps)
        if step.action == "stop_instance":
            resp = ec2.stop_instances(InstanceIds=[rid])
            now = ((resp.get("StoppingInstances") or [{}])[0].get("CurrentState") or {}).get("Name")
            return (f"stop requested (now {now})" if now else "stop requested"), {"state_after": now}
        raise StepFailed(f"unknown action {step.action!r}")

    def _delete_image_snapshots(self, ec2: Any, image_id: str, snaps: list[str]) -> tuple[str, dict[str, Any]]:
        deleted: list[str] = []
        kept: list[str] = []
        failed: dict[str, str] = {}
        tags: dict[str, dict[str, str]] = {}
        if snaps:
            try:
                for s in ec2.describe_snapshots(SnapshotIds=snaps).get("Snapshots") or []:
                    tags[s["SnapshotId"]] = tag_dict(s.get("Tags"))
            except ClientError as exc:
                if not _not_found(exc):
                    raise
        for sid in snaps:
            if protection_reason(tags.get(sid), sid, self.protection):
                kept.append(sid)
                continue
            try:
                ec2.delete_snapshot(SnapshotId=sid)
                deleted.append(sid)
            except ClientError as exc:
                err = self.translate(exc)
                if isinstance(err, FatalSourceError):
                    raise err from exc
                failed[sid] = one_line(err)
        detail = {"deleted_snapshots": deleted, "kept_snapshots": kept, "failed_snapshots": failed}
        if failed:
            parts = "; ".join(f"{k}: {v}" for k, v in failed.items())
            raise StepFailed(f"image {image_id} deregistered, but {len(failed)} snapshot delete(s) failed: {parts}",
                             detail)
        msg = f"deregistered, {len(deleted)} snapshot(s) deleted"
        if kept:
            msg += f", {len(kept)} protected snapshot(s) kept"
        return msg, detail


__all__ = ["AwsExecutor"]
