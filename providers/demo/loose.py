"""Loose resources, the waste the cleanup rules look for: unattached disks, idle addresses, snapshots, images.

Each with its daily cost rows and its `resources` row: the unattached disks of estate.LOOSE_DISKS
(detached_at says since when), a volume already deleted through costdeck (costs only: the audit log
refers to it), AWS Elastic IPs / Azure public IPs / GCP addresses (some idle), AWS snapshots (some
orphaned, five backing the AMIs), the AMIs from inventory.build, and GCP images.
"""

from __future__ import annotations

from typing import Any

from .catalog import ACCOUNTS, AWS, AZURE, GCP, HOURS_PER_MONTH, N_DAYS
from .core import Gen, Instance
from .estate import LOOSE_DISKS
from .inventory import add_disk


def build(g: Gen, ami_users: dict[str, list[str]]) -> None:
    """`ami_users`: the AMIs inventory.build made, with the instances using each."""
    _unattached_disks(g)
    _deleted_volume(g)
    _elastic_ips(g)
    _azure_public_ips(g)
    _gcp_addresses(g)
    snap_ids = _snapshots(g, list(ami_users))
    _amis(g, ami_users, snap_ids)
    _gcp_images(g)


def _unattached_disks(g: Gen) -> None:
    """Detached days to months ago (one only two days ago: not waste yet)."""
    rng = g.rng
    for key, region, name, size, kind, days_ago in LOOSE_DISKS:
        acct = ACCOUNTS[key]
        zone = {AWS: f"{region}a", AZURE: "1", GCP: f"{region}-b"}[acct.provider]
        created_idx = N_DAYS - days_ago - rng.randint(30, 300)
        detached = g.at(N_DAYS - 1 - days_ago, rng.uniform(8, 18))
        tags = None if name is None else {"team": "data" if "data" in (name or "") else "platform",
                                          "env": "prod" if "prod" in key else "dev", "project": "internal-tools"}
        add_disk(g, acct, region, zone, name or f"unnamed-{size}g", size, kind, None, g.at(created_idx, 9),
                 tags, created_idx, detached=detached)


def _deleted_volume(g: Gen) -> None:
    """A volume deleted 20 days ago through costdeck itself (see the audit log): costs stop, no inventory."""
    acct = ACCOUNTS["staging"]
    g.deleted_volume = add_disk(g, acct, "us-east-1", "us-east-1a", "ci-cache-old", 300, "gp2", None,
                                g.at(-200, 9), None, -200, last_idx=N_DAYS - 20, record=False)


def _elastic_ips(g: Gen) -> None:
    """AWS Elastic IPs: most associated, three idle (billed $0.005/h each)."""
    rng = g.rng
    holders = [x for x in g.insts if x.provider == AWS and x.state == "running" and x.name.startswith(
        ("web-0", "web-eu-01", "bastion", "ci-runner-01", "inference-01"))]
    for k in range(9):
        owner = holders[k - 3] if 3 <= k < 3 + len(holders) else None
        acct = owner.acct if owner else ACCOUNTS[("prod", "staging", "ml")[k % 3]]
        alloc_id = g.hexid("eipalloc-0", 16)
        ip = f"203.0.113.{10 + k * 7}"
        region = owner.region if owner else "us-east-1"
        created = g.at(-rng.randint(30, 500), 12)
        tags = {"team": "platform", "env": "prod", "project": "storefront"} if owner else None
        if owner is None:
            for i in range(N_DAYS):
                g.cost(i, acct, "Amazon Elastic Compute Cloud", region, 0.005 * 24, rid=alloc_id, rname=ip,
                       rtype="elastic_ip", tags=tags, qty=24.0)
        g.resource(acct, alloc_id, "elastic_ip", region, name=ip, created=created,
                   state="associated" if owner else "unassociated", tags=tags,
                   attached_to=owner.rid if owner else None,
                   props={"public_ip": ip, "association_id": g.hexid("eipassoc-0", 16) if owner else None,
                          "instance_id": owner.rid if owner else None, "network_interface_id": None,
                          "private_ip": None, "domain": "vpc"})


def _azure_public_ips(g: Gen) -> None:
    """Azure public IPs: the Standard SKU bills associated or not."""
    az_vms = [x for x in g.insts if x.provider == AZURE and x.state == "running"]
    for k in range(5):
        acct = ACCOUNTS["az-prod" if k < 3 else "az-dev"]
        owner = az_vms[k] if k not in (1, 4) else None
        name = f"pip-{owner.name}" if owner else f"pip-unused-{k}"
        region = "westeurope" if k < 3 else "eastus"
        rid = (f"/subscriptions/{acct.sub_id}/resourceGroups/rg-network/providers/Microsoft.Network/"
               f"publicIPAddresses/{name}")
        for i in range(N_DAYS):
            g.cost(i, acct, "Virtual Network", region, 0.005 * 24, rid=rid, rname=name, rtype="ip_address",
                   tags=owner.tags if owner else None, qty=24.0)
        g.resource(acct, rid, "ip_address", region, name=name, created=g.at(-g.rng.randint(60, 400), 10),
                   state="associated" if owner else "unassociated", attached_to=owner.rid if owner else None,
                   tags=owner.tags if owner else None,
                   props={"sku": "Standard", "allocation_method": "Static", "ip_address": f"198.51.100.{20 + k}",
                          "ip_configuration": f"{owner.rid}/nic-0" if owner else None})


def _gcp_addresses(g: Gen) -> None:
    """GCP static addresses (an unused one bills double)."""
    gcp_vms: list[Instance] = [x for x in g.insts if x.provider == GCP]
    for k in range(3):
        acct = ACCOUNTS["gcp-analytics"]
        owner = gcp_vms[k * 3] if k != 2 else None
        name = f"ip-{owner.name}" if owner else "ip-old-lb"
        rid = f"//compute.googleapis.com/projects/{acct.sub_id}/regions/us-central1/addresses/{name}"
        rate = 0.005 if owner else 0.01
        for i in range(N_DAYS):
            g.cost(i, acct, "Compute Engine", "us-central1", rate * 24, rid=rid, rname=name, rtype="ip_address",
                   tags=owner.tags if owner else None, qty=24.0)
        g.resource(acct, rid, "ip_address", "us-central1", name=name, created=g.at(-g.rng.randint(60, 400), 10),
                   state="associated" if owner else "unassociated", attached_to=owner.rid if owner else None,
                   tags=owner.tags if owner else None,
                   props={"address": f"192.0.2.{40 + k}", "address_type": "EXTERNAL",
                          "status": "IN_USE" if owner else "RESERVED"})


def _snapshots(g: Gen, amis: list[str]) -> list[str]:
    """AWS snapshots: nightly-ish backups of live volumes, plus orphans whose source volume is gone.

    The first len(amis) back the AMIs (AWS shows vol-ffffffff for those); every third other one is an
    orphan whose source volume was deleted long ago. Returns the snapshot ids."""
    rng = g.rng
    live_vols = [r for r in g.resources if r["resource_type"] == "volume" and r["provider_name"] == AWS
                 and r["attached_to"]]
    snap_ids = []
    for k in range(22):
        backs_ami = k < len(amis)
        orphan = not backs_ami and k % 3 == 0
        acct = ACCOUNTS[("prod", "staging", "ml")[k % 3]]
        if backs_ami:
            acct, vol_id, size, region = ACCOUNTS["prod"], "vol-ffffffff", 30, "us-east-1"
        elif orphan:
            vol_id, size, region = g.hexid("vol-0", 16), rng.choice((100, 200, 500, 1000)), "us-east-1"
        else:
            vol = live_vols[(k * 7) % len(live_vols)]
            vol_id, size, region = vol["resource_id"], int(vol["size"].split()[0]), vol["region_id"]
            acct = next(a for a in ACCOUNTS.values() if a.sub_id == vol["sub_account_id"])
        age = rng.randint(40, 700) if orphan or backs_ami else rng.randint(3, 90)
        sid = g.hexid("snap-0", 16)
        snap_ids.append(sid)
        stored = size * rng.uniform(0.3, 0.8)
        daily = stored * 0.05 * 24 / HOURS_PER_MONTH
        created_idx = N_DAYS - 1 - age
        tags = None if orphan else {"team": "platform", "env": "prod", "project": "backup"}
        for i in range(max(0, created_idx), N_DAYS):
            g.cost(i, acct, "Amazon Elastic Compute Cloud", region, daily, rid=sid, rname=None,
                   rtype="snapshot", tags=tags, qty=round(stored * 24 / HOURS_PER_MONTH, 6))
        props: dict[str, Any] = {
            "size_gib": size, "volume_id": vol_id, "volume_exists": not (orphan or backs_ami),
            "images": [amis[k]] if backs_ami else [],
            "description": f"Created by CreateImage(i-0...) for {amis[k]}" if backs_ami
            else f"nightly backup of {vol_id}", "storage_tier": "standard", "encrypted": True}
        g.resource(acct, sid, "snapshot", region, name=None, state="completed",
                   created=g.at(created_idx, rng.uniform(1, 4)), tags=tags, size=f"{size} GiB", props=props)
    return snap_ids


def _amis(g: Gen, ami_users: dict[str, list[str]], snap_ids: list[str]) -> None:
    """The AWS images (the newest is in use by no instance); not billed themselves: their snapshots are."""
    for k, ami in enumerate(ami_users):
        acct = ACCOUNTS["prod"]
        users = sorted(ami_users.get(ami, []))
        g.resource(acct, ami, "image", "us-east-1", name=f"acme-base-{2025 + k // 3}-{k + 1:02d}",
                   state="available", created=g.at(-g.rng.randint(30, 600), 15),
                   tags={"team": "platform", "env": "prod"},
                   props={"snapshot_ids": [snap_ids[k]], "in_use": bool(users), "instances": users,
                          "public": False, "platform": "Linux/UNIX", "description": "Acme base image"})


def _gcp_images(g: Gen) -> None:
    for k in range(3):
        acct = ACCOUNTS["gcp-analytics"]
        name = f"etl-image-v{k + 3}"
        rid = f"//compute.googleapis.com/projects/{acct.sub_id}/global/images/{name}"
        size = 50
        for i in range(N_DAYS):
            g.cost(i, acct, "Compute Engine", None, size * 0.05 * 24 / HOURS_PER_MONTH, rid=rid, rname=name,
                   rtype="image", tags={"team": "data", "env": "prod", "project": "analytics"})
        g.resource(acct, rid, "image", None, name=name, state="available",
                   created=g.at(-g.rng.randint(60, 500), 10), tags={"team": "data", "env": "prod",
                                                                   "project": "analytics"},
                   size=f"{size} GiB", props={"disk_size_gb": size, "family": "etl-image", "status": "READY"})
