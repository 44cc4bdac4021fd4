"""Azure inventory: VMs (with their power state), managed disks, public IPs, snapshots, images.

Per subscription, six paged Resource Manager lists (nextLink followed):
`Microsoft.Compute/virtualMachines` (the models: size, OS disk, data disks, tags, priority) and the
same list with `statusOnly=true` (each VM's instance view: `PowerState/running | stopped |
deallocated ...`; "stopped" is shut down from the guest OS and still billed for compute),
`Microsoft.Compute/disks` (`diskState` Unattached | Attached | Reserved, size, SKU, timeCreated,
managedBy, lastOwnershipUpdateTime), `Microsoft.Network/publicIPAddresses` (with or without an
`ipConfiguration`), `Microsoft.Compute/snapshots` (source disk, created) and
`Microsoft.Compute/images`.

Written as the resource types the rules and views use (as the demo writes them): instance,
volume, ip_address, snapshot, image. A subscription whose lists fail keeps its previous rows.
"""

from __future__ import annotations

from typing import Any

from providers.base import StepError, SyncContext
from providers.http import HttpStepError

from .session import COMPUTE_API, DISKS_API, NETWORK_API, AzureSession

PROVIDER = "Microsoft"
RESOURCE_TYPES = ("instance", "volume", "ip_address", "snapshot", "image")


def _power(view: dict[str, Any] | None) -> str | None:
    for st in (view or {}).get("statuses") or []:
        code = str(st.get("code") or "")
        if code.startswith("PowerState/"):
            return code
    return None


def _tags(obj: dict[str, Any]) -> dict[str, Any]:
    t = obj.get("tags")
    return dict(t) if isinstance(t, dict) else {}


def _rec(sub: str, obj: dict[str, Any], rtype: str, **kw: Any) -> dict[str, Any]:
    return {"resource_id": str(obj["id"]), "resource_name": obj.get("name"), "resource_type": rtype,
            "sub_account_id": sub, "region_id": obj.get("location"), "tags": _tags(obj), **kw}


def fetch_subscription(az: AzureSession, sub: str) -> list[dict[str, Any]]:
    base = f"/subscriptions/{sub}/providers"
    vms = az.list(f"{base}/Microsoft.Compute/virtualMachines", COMPUTE_API, "VirtualMachines list")
    views = {str(v.get("id", "")).lower(): (v.get("properties") or {}).get("instanceView")
             for v in az.list(f"{base}/Microsoft.Compute/virtualMachines", COMPUTE_API,
                              "VirtualMachines list statusOnly", statusOnly="true")}
    disks = az.list(f"{base}/Microsoft.Compute/disks", DISKS_API, "Disks list")
    ips = az.list(f"{base}/Microsoft.Network/publicIPAddresses", NETWORK_API, "PublicIPAddresses list")
    snaps = az.list(f"{base}/Microsoft.Compute/snapshots", DISKS_API, "Snapshots list")
    images = az.list(f"{base}/Microsoft.Compute/images", COMPUTE_API, "Images list")

    out: list[dict[str, Any]] = []
    for vm in vms:
        p = vm.get("properties") or {}
        power = _power(views.get(str(vm.get("id", "")).lower()) or p.get("instanceView"))
        state = power.split("/", 1)[1] if power else None
        sp = p.get("storageProfile") or {}
        os_disk = ((sp.get("osDisk") or {}).get("managedDisk") or {}).get("id")
        data = [str((d.get("managedDisk") or {}).get("id")) for d in sp.get("dataDisks") or []
                if (d.get("managedDisk") or {}).get("id")]
        size = (p.get("hardwareProfile") or {}).get("vmSize")
        out.append(_rec(sub, vm, "instance", state=state, instance_type=size, size=size,
                        lifecycle="spot" if str(p.get("priority") or "").lower() == "spot" else None,
                        created_at=p.get("timeCreated"),
                        properties={"power_state": power, "os_disk": os_disk, "data_disks": data,
                                    "os_type": (sp.get("osDisk") or {}).get("osType"), "vm_id": p.get("vmId"),
                                    "priority": p.get("priority"),
                                    "nics": [n.get("id") for n in (p.get("networkProfile") or {}).get(
                                        "networkInterfaces") or []]}))
    disk_ids = {str(d.get("id", "")).lower() for d in disks}
    for d in disks:
        p = d.get("properties") or {}
        state = p.get("diskState")
        props: dict[str, Any] = {"sku": (d.get("sku") or {}).get("name"), "size_gib": p.get("diskSizeGB"),
                                 "disk_state": state}
        if d.get("managedBy"):
            props["managed_by"] = d["managedBy"]
        if state == "Unattached" and p.get("lastOwnershipUpdateTime"):
            props["detached_at"] = p["lastOwnershipUpdateTime"]
        out.append(_rec(sub, d, "volume", state=state, attached_to=d.get("managedBy"),
                        size=f"{p.get('diskSizeGB')} GiB" if p.get("diskSizeGB") is not None else None,
                        created_at=p.get("timeCreated"), properties=props))
    for ip in ips:
        p = ip.get("properties") or {}
        conf = (p.get("ipConfiguration") or {}).get("id")
        out.append(_rec(sub, ip, "ip_address", state="associated" if conf else "unassociated", attached_to=conf,
                        properties={"sku": (ip.get("sku") or {}).get("name"),
                                    "allocation_method": p.get("publicIPAllocationMethod"),
                                    "ip_address": p.get("ipAddress"), "ip_configuration": conf}))
    used_by: dict[str, list[str]] = {}
    for img in images:
        sp = (img.get("properties") or {}).get("storageProfile") or {}
        for disk in [sp.get("osDisk") or {}, *(sp.get("dataDisks") or [])]:
            sid = (disk.get("snapshot") or {}).get("id")
            if sid:
                used_by.setdefault(str(sid).lower(), []).append(str(img["id"]))
    for s in snaps:
        p = s.get("properties") or {}
        src = (p.get("creationData") or {}).get("sourceResourceId")
        out.append(_rec(sub, s, "snapshot", state=p.get("provisioningState"), created_at=p.get("timeCreated"),
                        size=f"{p.get('diskSizeGB')} GiB" if p.get("diskSizeGB") is not None else None,
                        properties={"volume_id": src, "size_gib": p.get("diskSizeGB"),
                                    "volume_exists": bool(src) and str(src).lower() in disk_ids,
                                    "images": used_by.get(str(s["id"]).lower(), [])}))
    launched: dict[str, list[str]] = {}
    for vm in vms:
        ref = (((vm.get("properties") or {}).get("storageProfile") or {}).get("imageReference") or {}).get("id")
        if ref:
            launched.setdefault(str(ref).lower(), []).append(str(vm["id"]))
    for img in images:
        p = img.get("properties") or {}
        sp = p.get("storageProfile") or {}
        snap_ids = [str((d.get("snapshot") or {}).get("id")) for d in [sp.get("osDisk") or {},
                                                                       *(sp.get("dataDisks") or [])]
                    if (d.get("snapshot") or {}).get("id")]
        out.append(_rec(sub, img, "image", state=p.get("provisioningState"),
                        properties={"snapshot_ids": snap_ids, "in_use": bool(launched.get(str(img["id"]).lower())),
                                    "instances": launched.get(str(img["id"]).lower(), []),
                                    "source_vm": (p.get("sourceVirtualMachine") or {}).get("id")}))
    return out


def write_inventory(ctx: SyncContext, found: list[dict[str, Any]], subs: list[str]) -> int:
    """Replace this source's inventory of the subscriptions listed (`subs`) with `found`, in ONE
    transaction (a resource seen before keeps its first_seen)."""
    return ctx.replace_resources(PROVIDER, found, "sub_account_id", subs, RESOURCE_TYPES)


def sync_inventory(ctx: SyncContext, az: AzureSession) -> int:
    found, done, failed = ctx.fetch_each(az.options.subscriptions, lambda sub: fetch_subscription(az, sub),
                                         label="inventory", catch=(HttpStepError,))
    n = write_inventory(ctx, found, done) if done else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(f"inventory failed in {len(failed)} subscription(s) (previous data kept there): "
                        + "; ".join(f"{s}: {m}" for s, m in sorted(failed.items())))
    return n
