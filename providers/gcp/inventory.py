"""Compute Engine inventory: instances, persistent disks, addresses, snapshots and images.

Per project (the source's `projects`, or with "all" every project in the source's costs):

    GET /compute/v1/projects/{p}/aggregated/instances   (items: {"zones/Z": {"instances": [...]}})
    GET /compute/v1/projects/{p}/aggregated/disks
    GET /compute/v1/projects/{p}/aggregated/addresses   (regions/R)
    GET /compute/v1/projects/{p}/global/snapshots
    GET /compute/v1/projects/{p}/global/images

each followed through `nextPageToken` (maxResults 500); scopes answering a `warning`
(NO_RESULTS_ON_PAGE) are empty.

Rows (table `resources`, provider_name "Google Cloud", sub_account_id = the project id,
resource_id = the full resource name by name, e.g.
//compute.googleapis.com/projects/P/zones/Z/disks/NAME, as the billing export's detailed rows
are mapped by costs.py):

* instance: state = status lowercased (running, terminated = stopped, suspended, ...);
  instance_type = the machine type; lifecycle "spot" for SPOT or preemptible; properties zone,
  status, provisioning_model, preemptible, disks (the attached disks' ids), image, state_changed_at
  (lastStopTimestamp / lastSuspendedTimestamp), cpu_platform, external_ips;
* volume (persistent disk): state "available" (READY, no users), "in-use" (READY, attached), else
  the status lowercased (see ready_state); attached_to = the first user; properties users (empty =
  unattached),
  type (pd-balanced...), size_gib, detached_at (lastDetachTimestamp), source_image;
* ip_address: state associated (IN_USE) / unassociated (RESERVED); properties status,
  address, address_type, users;
* snapshot and image: state "completed" / "available" when READY (the words the cleanup plan
  checks), else the status lowercased; the raw status stays in properties.status; snapshot properties volume_id (the source disk's id), volume_exists, images (images made from
  it), size_gib, storage_bytes;
* image: properties in_use (an existing disk was created from it), instances, disk_size_gb, family,
  snapshot_ids [] (an image's storage is the image's own line in the bill).

A project whose fetch fails keeps its previous rows; the step then fails naming it (403 on
Compute: "partial", the other steps still run).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext, one_line
from providers.http import HttpStepError, RestClient

from .client import Gcp

PROVIDER = "Google Cloud"
RESOURCE_TYPES = ("instance", "volume", "ip_address", "snapshot", "image")
CRN = "//compute.googleapis.com/projects/"


@dataclass(slots=True)
class Resource:
    resource_id: str
    resource_type: str
    project: str
    region_id: str | None
    resource_name: str | None = None
    state: str | None = None
    attached_to: str | None = None
    size: str | None = None
    instance_type: str | None = None
    lifecycle: str | None = None
    created_at: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)


def full_name(self_link: str | None) -> str | None:
    """https://www.googleapis.com/compute/v1/projects/P/zones/Z/disks/D -> //compute.googleapis.com/projects/P/..."""
    if not self_link:
        return None
    i = self_link.find("/projects/")
    return CRN + self_link[i + len("/projects/"):] if i >= 0 else None


def last(url: str | None) -> str | None:
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


def region_of_zone(zone: str | None) -> str | None:
    return zone.rsplit("-", 1)[0] if zone else None


def iso(value: Any) -> str | None:
    if not value:
        return None
    try:
        return timeutil.iso(timeutil.parse_instant(str(value)))
    except ValueError:
        return None


def aggregated(api: RestClient, project: str, kind: str) -> Iterator[dict[str, Any]]:
    """Every item of an aggregatedList, every page."""
    params: dict[str, Any] = {"maxResults": 500}
    seen: set[str] = set()
    while True:
        data = api.get(f"/compute/v1/projects/{project}/aggregated/{kind}", params=params, op=f"{kind}.aggregatedList")
        for scope in (data.get("items") or {}).values():
            if isinstance(scope, dict):
                yield from scope.get(kind) or []
        tok = data.get("nextPageToken")
        if not tok:
            return
        if tok in seen:
            raise HttpStepError(f"Compute Engine {kind}.aggregatedList: the server repeated a pageToken; stopped")
        seen.add(tok)
        params = {"maxResults": 500, "pageToken": tok}


def listed(api: RestClient, project: str, kind: str) -> list[dict[str, Any]]:
    return list(api.pages("GET", f"/compute/v1/projects/{project}/global/{kind}", items="items",
                          next_key="nextPageToken", token_param="pageToken", params={"maxResults": 500},
                          op=f"{kind}.list"))


def fetch_project(api: RestClient, project: str) -> list[Resource]:
    instances = list(aggregated(api, project, "instances"))
    disks = list(aggregated(api, project, "disks"))
    addresses = list(aggregated(api, project, "addresses"))
    snapshots = listed(api, project, "snapshots")
    images = listed(api, project, "images")
    return build_project(project, instances, disks, addresses, snapshots, images)


def build_project(project: str, instances: list[dict[str, Any]], disks: list[dict[str, Any]],
                  addresses: list[dict[str, Any]], snapshots: list[dict[str, Any]],
                  images: list[dict[str, Any]]) -> list[Resource]:
    disk_ids = {full_name(d.get("selfLink")) for d in disks}
    by_image: dict[str, list[str]] = {}
    for d in disks:
        img = full_name(d.get("sourceImage"))
        if img:
            by_image.setdefault(img, []).extend(x for u in d.get("users") or [] if (x := full_name(u)))
            by_image.setdefault(img, [])
    images_by_snapshot: dict[str, list[str]] = {}
    for im in images:
        snap = full_name(im.get("sourceSnapshot"))
        if snap:
            images_by_snapshot.setdefault(snap, []).append(full_name(im.get("selfLink")) or im["name"])
    out = [_instance(project, i) for i in instances]
    out += [_disk(project, d) for d in disks]
    out += [_address(project, a) for a in addresses]
    out += [_snapshot(project, s, disk_ids, images_by_snapshot) for s in snapshots]
    out += [_image(project, img, by_image) for img in images]
    return out


def _rid(project: str, obj: dict[str, Any], path: str) -> str:
    return full_name(obj.get("selfLink")) or f"{CRN}{project}/{path}/{obj['name']}"


def ready_state(kind: str, status: Any, in_use: bool = False) -> str | None:
    """The state in the words the rules and the cleanup plan share (AWS's): a READY disk is
    "available" (no users) or "in-use", a READY snapshot "completed", a READY image "available";
    any other status (CREATING, DELETING, FAILED, UPLOADING...) is kept lowercased."""
    s = str(status or "")
    if s != "READY":
        return s.lower() or None
    if kind == "disk":
        return "in-use" if in_use else "available"
    return "completed" if kind == "snapshot" else "available"


def _instance(project: str, i: dict[str, Any]) -> Resource:
    zone = last(i.get("zone"))
    sched = i.get("scheduling") or {}
    model = sched.get("provisioningModel") or ("SPOT" if sched.get("preemptible") else "STANDARD")
    spot = model == "SPOT" or bool(sched.get("preemptible"))
    status = str(i.get("status") or "")
    disks = [x for d in i.get("disks") or [] if (x := full_name(d.get("source")))]
    changed = i.get("lastSuspendedTimestamp") if status == "SUSPENDED" else i.get("lastStopTimestamp")
    ips = [ac.get("natIP") for ni in i.get("networkInterfaces") or [] for ac in ni.get("accessConfigs") or []
           if ac.get("natIP")]
    props: dict[str, Any] = {
        "zone": zone, "status": status, "machine_type": last(i.get("machineType")),
        "provisioning_model": "SPOT" if spot else model, "preemptible": bool(sched.get("preemptible")),
        "disks": disks, "boot_disk": next((full_name(d.get("source")) for d in i.get("disks") or [] if d.get("boot")), None),
        "cpu_platform": i.get("cpuPlatform"), "external_ips": ips, "id": i.get("id"),
    }
    if status != "RUNNING" and changed:
        props["state_changed_at"] = iso(changed)
    return Resource(
        resource_id=_rid(project, i, f"zones/{zone}/instances"), resource_type="instance", project=project,
        region_id=region_of_zone(zone), resource_name=i.get("name"), state=status.lower() or None,
        instance_type=last(i.get("machineType")), lifecycle="spot" if spot else "on-demand",
        created_at=iso(i.get("creationTimestamp")), tags=dict(i.get("labels") or {}), properties=props)


def _disk(project: str, d: dict[str, Any]) -> Resource:
    zone = last(d.get("zone"))
    region = region_of_zone(zone) if zone else last(d.get("region"))
    users = [x for u in d.get("users") or [] if (x := full_name(u))]
    size = _int(d.get("sizeGb"))
    props: dict[str, Any] = {"users": users, "type": last(d.get("type")), "size_gib": size, "zone": zone,
                             "status": d.get("status"), "source_image": full_name(d.get("sourceImage")),
                             "source_snapshot": full_name(d.get("sourceSnapshot")), "id": d.get("id")}
    if not users and d.get("lastDetachTimestamp"):
        props["detached_at"] = iso(d.get("lastDetachTimestamp"))
    where = f"zones/{zone}/disks" if zone else f"regions/{region}/disks"
    return Resource(
        resource_id=_rid(project, d, where), resource_type="volume", project=project, region_id=region,
        resource_name=d.get("name"), state=ready_state("disk", d.get("status"), bool(users)),
        attached_to=users[0] if users else None, size=f"{size} GiB" if size is not None else None,
        created_at=iso(d.get("creationTimestamp")), tags=dict(d.get("labels") or {}), properties=props)


def _address(project: str, a: dict[str, Any]) -> Resource:
    region = last(a.get("region"))
    users = [x for u in a.get("users") or [] if (x := full_name(u))]
    status = str(a.get("status") or "")
    used = status == "IN_USE" or bool(users)
    return Resource(
        resource_id=_rid(project, a, f"regions/{region}/addresses" if region else "global/addresses"),
        resource_type="ip_address", project=project, region_id=region, resource_name=a.get("name"),
        state="associated" if used else "unassociated", attached_to=users[0] if users else None,
        created_at=iso(a.get("creationTimestamp")), tags=dict(a.get("labels") or {}),
        properties={"status": status, "address": a.get("address"), "address_type": a.get("addressType"),
                    "users": users})


def _snapshot(project: str, s: dict[str, Any], disk_ids: set[str | None],
              images_by_snapshot: dict[str, list[str]]) -> Resource:
    rid = _rid(project, s, "global/snapshots")
    src = full_name(s.get("sourceDisk"))
    size = _int(s.get("diskSizeGb"))
    return Resource(
        resource_id=rid, resource_type="snapshot", project=project, region_id=None, resource_name=s.get("name"),
        state=ready_state("snapshot", s.get("status")), size=f"{size} GiB" if size is not None else None,
        created_at=iso(s.get("creationTimestamp")), tags=dict(s.get("labels") or {}),
        properties={"volume_id": src, "volume_exists": bool(src) and src in disk_ids,
                    "images": sorted(images_by_snapshot.get(rid, [])), "size_gib": size,
                    "storage_bytes": _int(s.get("storageBytes")), "storage_locations": s.get("storageLocations"),
                    "status": s.get("status")})


def _image(project: str, img: dict[str, Any], by_image: dict[str, list[str]]) -> Resource:
    rid = _rid(project, img, "global/images")
    size = _int(img.get("diskSizeGb"))
    users = sorted(set(by_image.get(rid, [])))
    return Resource(
        resource_id=rid, resource_type="image", project=project, region_id=None, resource_name=img.get("name"),
        state=ready_state("image", img.get("status")), size=f"{size} GiB" if size is not None else None,
        created_at=iso(img.get("creationTimestamp")), tags=dict(img.get("labels") or {}),
        properties={"in_use": rid in by_image, "instances": users, "disk_size_gb": size, "family": img.get("family"),
                    "status": img.get("status"), "snapshot_ids": [],
                    "archive_size_bytes": _int(img.get("archiveSizeBytes"))})


def _int(v: Any) -> int | None:
    try:
        return int(v) if v is not None and v != "" else None
    except (TypeError, ValueError):
        return None


# -- projects and writing ---------------------------------------------------------------------


def source_projects(ctx: SyncContext, gcp: Gcp) -> list[str]:
    """The configured projects, or ("all") the projects in this source's costs."""
    if gcp.options.projects != "all":
        return list(gcp.options.projects)
    rows = ctx.store.conn.execute(
        "SELECT DISTINCT d.value FROM costs c JOIN dims d ON d.id = c.sub_account WHERE c.source_id=? "
        "AND d.value IS NOT NULL ORDER BY 1", (ctx.source_id,)).fetchall()
    if not rows:
        raise StepError('projects = "all" takes the projects from the export: sync costs first (no project known)')
    return [r[0] for r in rows]


def write_inventory(ctx: SyncContext, resources: Sequence[Resource], projects: Sequence[str]) -> int:
    """Replace this source's inventory of `projects` with `resources`, in ONE transaction."""
    return ctx.replace_resources(PROVIDER, [{
        "resource_id": r.resource_id, "resource_name": r.resource_name, "resource_type": r.resource_type,
        "sub_account_id": r.project, "region_id": r.region_id, "state": r.state, "attached_to": r.attached_to,
        "size": r.size, "instance_type": r.instance_type, "lifecycle": r.lifecycle, "created_at": r.created_at,
        "tags": r.tags, "properties": r.properties,
    } for r in resources], "sub_account_id", projects, RESOURCE_TYPES)


def project_failures(what: str, failed: dict[str, str]) -> str:
    parts = [f"{p}: {m}" for p, m in sorted(failed.items())]
    return f"{what} failed in {len(failed)} project(s) (previous data kept there): " + "; ".join(parts)


def sync_inventory(ctx: SyncContext, gcp: Gcp) -> int:
    found, done, failed = ctx.fetch_each(source_projects(ctx, gcp), lambda p: fetch_project(gcp.compute, p),
                                         label="inventory", catch=(HttpStepError,), text=one_line)
    n = write_inventory(ctx, found, done) if done else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(project_failures("inventory", failed))
    return n


__all__ = ["PROVIDER", "Resource", "build_project", "fetch_project", "full_name", "source_projects", "sync_inventory",
           "write_inventory"]
