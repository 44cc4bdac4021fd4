"""AWS inventory: instances, EBS volumes, snapshots, AMIs, Elastic IPs and security groups.

Fetch and write are separate:

* `fetch_region(ec2, region, account_id)` is pure API -> typed `Resource` records (every
  describe call goes through a paginator, except DescribeAddresses, which has no paging).
* `write_inventory(...)` replaces this source's inventory for the regions fetched, in ONE
  transaction.

Row conventions (table `resources`, provider_name "AWS", resource_id = the EC2 id):

* resource_type: instance | volume | snapshot | image | elastic_ip | security_group.
* state: the EC2 state (instances: pending/running/stopping/stopped/shutting-down; volumes:
  available/in-use/...; snapshots: completed/pending/error; images: available/...; Elastic IPs:
  associated/unassociated). Terminated instances are left out (they cost nothing).
* attached_to: a volume's instance, an Elastic IP's instance (or network interface).
* size: "<n> GiB" for volumes and snapshots (properties.size_gib holds the number).
* tags: a JSON object of the AWS tags, keys and values stored verbatim.
* properties: the type's details (instance volumes/image/platform; snapshot source volume,
  whether that volume still exists and the AMIs using it; AMI snapshots and the instances
  launched from it; security-group ingress rules and `open_to_world`).
* first_seen is kept from the existing row (any source), last_seen = ctx.now.
* Resources of this source that a sync no longer finds in a region it fetched are DELETED
  (not marked): the cache mirrors the account; history lives in costs and the audit log.
  Regions whose fetch failed keep their previous rows; the step then raises StepError naming
  them after writing the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cache import timeutil
from providers.base import FatalSourceError, StepError, SyncContext, one_line

from .errors import translate
from .session import AwsSession

PROVIDER = "AWS"
RESOURCE_TYPES = ("instance", "volume", "snapshot", "image", "elastic_ip", "security_group")
# Ports that must never be open to the whole internet.
SENSITIVE_PORTS = (22, 3389)
WORLD_CIDRS = ("0.0.0.0/0", "::/0")


@dataclass(slots=True)
class Resource:
    resource_id: str
    resource_type: str
    region_id: str
    resource_name: str | None = None
    state: str | None = None
    attached_to: str | None = None
    size: str | None = None
    instance_type: str | None = None
    lifecycle: str | None = None
    created_at: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


# -- helpers shared by the AWS step modules ------------------------------------------------


def pages(client: Any, operation: str, key: str, *, page_size: int | None = None, **kwargs: Any) -> Iterator[Any]:
    """Every item under `key` of every page of a paginated operation."""
    pconf = {"PageSize": page_size} if page_size else {}
    for page in client.get_paginator(operation).paginate(PaginationConfig=pconf, **kwargs):
        yield from page.get(key) or []


def tag_dict(tags: Sequence[dict[str, Any]] | None) -> dict[str, str]:
    """AWS [{"Key","Value"}] -> {key: value}, verbatim."""
    return {str(t.get("Key", "")): str(t.get("Value", "")) for t in tags or []}


def iso(value: Any) -> str | None:
    """A botocore datetime (aware) or an ISO string -> ISO UTC text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return timeutil.iso(value)
    return timeutil.iso(timeutil.parse_instant(str(value)))


def error_text(exc: BaseException, profile: str | None = None) -> str:
    """A botocore error as one line (see errors.translate); credential errors are raised as
    FatalSourceError instead, since no other region or step can succeed either."""
    err = translate(exc, profile)
    if isinstance(err, FatalSourceError):
        raise err from exc
    if isinstance(err, ClientError):
        e = err.response.get("Error", {})
        code = e.get("Code") or "Error"
        msg = " ".join(str(e.get("Message") or "").split())
        return f"{code}: {msg}" if msg else str(code)
    return one_line(err)


FETCH_ERRORS = (ClientError, BotoCoreError)


# -- fetch --------------------------------------------------------------------------------


def fetch_region(ec2: Any, region: str, account_id: str | None = None, *, page_size: int | None = None) -> list[Resource]:
    """All inventory of one region as Resource records (pure API, no writes)."""
    instances = [i for r in pages(ec2, "describe_instances", "Reservations", page_size=page_size)
                 for i in r.get("Instances", [])]
    instances = [i for i in instances if (i.get("State") or {}).get("Name") != "terminated"]
    volumes = list(pages(ec2, "describe_volumes", "Volumes", page_size=page_size))
    snapshots = list(pages(ec2, "describe_snapshots", "Snapshots", page_size=page_size, OwnerIds=["self"]))
    images = list(pages(ec2, "describe_images", "Images", page_size=page_size, Owners=["self"]))
    addresses = ec2.describe_addresses().get("Addresses", [])
    groups = list(pages(ec2, "describe_security_groups", "SecurityGroups", page_size=page_size))
    return build_region(region, instances, volumes, snapshots, images, addresses, groups)


def build_region(
    region: str,
    instances: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    snapshots: list[dict[str, Any]],
    images: list[dict[str, Any]],
    addresses: list[dict[str, Any]],
    groups: list[dict[str, Any]],
) -> list[Resource]:
    """Raw describe results of one region -> Resource records (cross-references resolved)."""
    volume_ids = {v["VolumeId"] for v in volumes}
    by_image, by_group = _instance_users(instances)
    images_by_snapshot = _images_by_snapshot(images)
    out = [_instance(region, i) for i in instances]
    out += [_volume(region, v) for v in volumes]
    out += [_snapshot(region, s, volume_ids, images_by_snapshot) for s in snapshots]
    out += [_image(region, img, by_image) for img in images]
    out += [r for a in addresses if (r := _address(region, a)) is not None]
    out += [_security_group(region, g, by_group) for g in groups]
    return out


def _instance_users(instances: list[dict[str, Any]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Instance ids by image id, and by security group id (instance and network interface groups)."""
    by_image: dict[str, list[str]] = {}
    by_group: dict[str, list[str]] = {}
    for i in instances:
        by_image.setdefault(i.get("ImageId") or "", []).append(i["InstanceId"])
        for g in i.get("SecurityGroups") or []:
            by_group.setdefault(g.get("GroupId", ""), []).append(i["InstanceId"])
        for eni in i.get("NetworkInterfaces") or []:
            for g in eni.get("Groups") or []:
                lst = by_group.setdefault(g.get("GroupId", ""), [])
                if i["InstanceId"] not in lst:
                    lst.append(i["InstanceId"])
    return by_image, by_group


def _images_by_snapshot(images: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Image ids by the snapshot ids their block device mappings use."""
    images_by_snapshot: dict[str, list[str]] = {}
    for img in images:
        for bdm in img.get("BlockDeviceMappings") or []:
            sid = (bdm.get("Ebs") or {}).get("SnapshotId")
            if sid:
                images_by_snapshot.setdefault(sid, []).append(img["ImageId"])
    return images_by_snapshot


def _instance(region: str, i: dict[str, Any]) -> Resource:
    tags = tag_dict(i.get("Tags"))
    vols = [
        {"device": b.get("DeviceName"), "volume_id": (b.get("Ebs") or {}).get("VolumeId")}
        for b in i.get("BlockDeviceMappings") or []
        if (b.get("Ebs") or {}).get("VolumeId")
    ]
    lifecycle = i.get("InstanceLifecycle") or "on-demand"
    return Resource(
        resource_id=i["InstanceId"],
        resource_type="instance",
        region_id=region,
        resource_name=tags.get("Name"),
        state=(i.get("State") or {}).get("Name"),
        instance_type=i.get("InstanceType"),
        lifecycle=lifecycle,
        created_at=iso(i.get("LaunchTime")),
        tags=tags,
        properties={
            "image_id": i.get("ImageId"),
            "platform": i.get("Platform") or i.get("PlatformDetails") or "Linux/UNIX",
            "availability_zone": (i.get("Placement") or {}).get("AvailabilityZone"),
            "tenancy": (i.get("Placement") or {}).get("Tenancy"),
            "vpc_id": i.get("VpcId"),
            "subnet_id": i.get("SubnetId"),
            "private_ip": i.get("PrivateIpAddress"),
            "public_ip": i.get("PublicIpAddress"),
            "architecture": i.get("Architecture"),
            "volumes": vols,
            "security_groups": [g.get("GroupId") for g in i.get("SecurityGroups") or []],
            "spot_instance_request_id": i.get("SpotInstanceRequestId"),
            "state_reason": (i.get("StateReason") or {}).get("Message") or i.get("StateTransitionReason"),
        },
    )


def _volume(region: str, v: dict[str, Any]) -> Resource:
    tags = tag_dict(v.get("Tags"))
    atts = v.get("Attachments") or []
    size = v.get("Size")
    return Resource(
        resource_id=v["VolumeId"],
        resource_type="volume",
        region_id=region,
        resource_name=tags.get("Name"),
        state=v.get("State"),
        attached_to=atts[0].get("InstanceId") if atts else None,
        size=f"{size} GiB" if size is not None else None,
        created_at=iso(v.get("CreateTime")),
        tags=tags,
        properties={
            "size_gib": size,
            "volume_type": v.get("VolumeType"),
            "iops": v.get("Iops"),
            "throughput": v.get("Throughput"),
            "encrypted": v.get("Encrypted"),
            "availability_zone": v.get("AvailabilityZone"),
            "snapshot_id": v.get("SnapshotId") or None,
            "attachments": [
                {"instance_id": a.get("InstanceId"), "device": a.get("Device"), "state": a.get("State"),
                 "delete_on_termination": a.get("DeleteOnTermination")}
                for a in atts
            ],
        },
    )


def _snapshot(
    region: str, s: dict[str, Any], volume_ids: set[str], images_by_snapshot: dict[str, list[str]]
) -> Resource:
    tags = tag_dict(s.get("Tags"))
    size = s.get("VolumeSize")
    vid = s.get("VolumeId")
    return Resource(
        resource_id=s["SnapshotId"],
        resource_type="snapshot",
        region_id=region,
        resource_name=tags.get("Name"),
        state=s.get("State"),
        size=f"{size} GiB" if size is not None else None,
        created_at=iso(s.get("StartTime")),
        tags=tags,
        properties={
            "size_gib": size,
            "volume_id": vid,
            # vol-ffffffff is what AWS shows for snapshots copied or made from AMIs.
            "volume_exists": bool(vid) and vid in volume_ids,
            "images": sorted(images_by_snapshot.get(s["SnapshotId"], [])),
            "description": s.get("Description"),
            "storage_tier": s.get("StorageTier"),
            "encrypted": s.get("Encrypted"),
        },
    )


def _image(region: str, img: dict[str, Any], by_image: dict[str, list[str]]) -> Resource:
    tags = tag_dict(img.get("Tags"))
    snaps = [
        (b.get("Ebs") or {}).get("SnapshotId")
        for b in img.get("BlockDeviceMappings") or []
        if (b.get("Ebs") or {}).get("SnapshotId")
    ]
    users = sorted(by_image.get(img["ImageId"], []))
    return Resource(
        resource_id=img["ImageId"],
        resource_type="image",
        region_id=region,
        resource_name=img.get("Name") or tags.get("Name"),
        state=img.get("State"),
        created_at=iso(img.get("CreationDate")),
        tags=tags,
        properties={
            "snapshot_ids": snaps,
            "in_use": bool(users),
            "instances": users,
            "public": img.get("Public"),
            "platform": img.get("PlatformDetails") or img.get("Platform"),
            "description": img.get("Description"),
        },
    )


def _address(region: str, a: dict[str, Any]) -> Resource | None:
    """An Elastic IP; None when it has neither an allocation id nor a public IP."""
    tags = tag_dict(a.get("Tags"))
    rid = a.get("AllocationId") or a.get("PublicIp")
    if not rid:
        return None
    target = a.get("InstanceId") or a.get("NetworkInterfaceId") or None
    return Resource(
        resource_id=rid,
        resource_type="elastic_ip",
        region_id=region,
        resource_name=tags.get("Name") or a.get("PublicIp"),
        state="associated" if a.get("AssociationId") or target else "unassociated",
        attached_to=target,
        tags=tags,
        properties={
            "public_ip": a.get("PublicIp"),
            "association_id": a.get("AssociationId"),
            "instance_id": a.get("InstanceId") or None,
            "network_interface_id": a.get("NetworkInterfaceId"),
            "private_ip": a.get("PrivateIpAddress"),
            "domain": a.get("Domain"),
        },
    )


def _security_group(region: str, g: dict[str, Any], by_group: dict[str, list[str]]) -> Resource:
    tags = tag_dict(g.get("Tags"))
    rules = [_rule(p) for p in g.get("IpPermissions") or []]
    open_ports = sorted({port for r in rules if r["world"] for port in SENSITIVE_PORTS if _covers(r, port)})
    return Resource(
        resource_id=g["GroupId"],
        resource_type="security_group",
        region_id=region,
        resource_name=g.get("GroupName") or tags.get("Name"),
        tags=tags,
        properties={
            "description": g.get("Description"),
            "vpc_id": g.get("VpcId"),
            "rules": rules,
            "open_to_world": bool(open_ports),
            "open_ports": open_ports,
            "instances": sorted(by_group.get(g["GroupId"], [])),
        },
    )


def _rule(p: dict[str, Any]) -> dict[str, Any]:
    cidrs = [r.get("CidrIp") for r in p.get("IpRanges") or [] if r.get("CidrIp")]
    cidrs6 = [r.get("CidrIpv6") for r in p.get("Ipv6Ranges") or [] if r.get("CidrIpv6")]
    return {
        "protocol": str(p.get("IpProtocol", "-1")),
        "from_port": p.get("FromPort"),
        "to_port": p.get("ToPort"),
        "cidrs": cidrs,
        "ipv6_cidrs": cidrs6,
        "groups": [u.get("GroupId") for u in p.get("UserIdGroupPairs") or [] if u.get("GroupId")],
        "prefix_lists": [x.get("PrefixListId") for x in p.get("PrefixListIds") or [] if x.get("PrefixListId")],
        "world": any(c in WORLD_CIDRS for c in cidrs + cidrs6),
    }


def _covers(rule: dict[str, Any], port: int) -> bool:
    proto = rule["protocol"].lower()
    if proto in ("-1", "all"):
        return True
    if proto not in ("tcp", "6"):
        return False
    lo, hi = rule.get("from_port"), rule.get("to_port")
    if lo is None or hi is None or lo == -1:
        return True
    return int(lo) <= port <= int(hi)


# -- write --------------------------------------------------------------------------------


def write_inventory(
    ctx: SyncContext,
    resources: Sequence[Resource],
    regions: Sequence[str],
    account_id: str | None,
) -> int:
    """Replace this source's inventory in `regions` with `resources`, in ONE transaction."""
    return ctx.replace_resources(PROVIDER, [{
        "resource_id": r.resource_id, "resource_name": r.resource_name, "resource_type": r.resource_type,
        "sub_account_id": account_id, "region_id": r.region_id, "state": r.state, "attached_to": r.attached_to,
        "size": r.size, "instance_type": r.instance_type, "lifecycle": r.lifecycle, "created_at": r.created_at,
        "tags": r.tags, "properties": r.properties,
    } for r in resources], "region_id", regions, RESOURCE_TYPES)


def sync_inventory(ctx: SyncContext, aws: AwsSession) -> int:
    """Step: fetch every region's inventory, then write the regions that answered."""
    page_size = aws.options.page_size
    account_id = aws.account_id
    found: list[Resource] = []
    done: list[str] = []
    failed: dict[str, str] = {}
    for region in aws.regions():
        ctx.progress(detail=f"inventory {region}")
        try:
            found.extend(fetch_region(aws.client("ec2", region), region, account_id, page_size=page_size))
            done.append(region)
        except FETCH_ERRORS as exc:
            failed[region] = error_text(exc, aws.profile)
    n = write_inventory(ctx, found, done, account_id) if done else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(region_failures("inventory", failed))
    return n


def region_failures(what: str, failed: dict[str, str]) -> str:
    parts = [f"{r}: {m}" for r, m in sorted(failed.items())]
    return f"{what} failed in {len(failed)} region(s) (previous data kept there): " + "; ".join(parts)


__all__ = [
    "PROVIDER",
    "RESOURCE_TYPES",
    "Resource",
    "build_region",
    "error_text",
    "fetch_region",
    "iso",
    "pages",
    "sync_inventory",
    "tag_dict",
    "write_inventory",
]
