"""VM inventory: security groups, images, the instances' resource rows, their disks and daily metrics.

`build` writes, for every `Instance` of fleets.py: its OS (and for some a data) disk with the disk's
daily cost rows, its `resources` row with the provider's properties (AWS rows follow
providers/aws/inventory.py: EC2 states and its property names), and `METRIC_DAYS` of daily cpu /
network metrics shaped by the fleet's utilization profile. `add_disk` is shared with loose.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cache import timeutil

from .catalog import ACCOUNTS, AWS, AZURE, DISK_GB_MONTH, GCP, HOURS_PER_MONTH, METRIC_DAYS, N_DAYS, Account
from .core import Gen, Instance


def build(g: Gen) -> dict[str, list[str]]:
    """Instances with their disks and metrics. Returns the AWS images (AMI id -> instances using it)."""
    sgs = _security_groups(g)
    amis = [g.hexid("ami-0", 16) for _ in range(5)]
    ami_users: dict[str, list[str]] = {a: [] for a in amis}
    for inst in g.insts:
        created = g.at(inst.launch_idx, inst.launch_hour)
        vols = disks_for(g, inst, created)
        props: dict[str, Any]
        if inst.provider == AWS:
            props = _aws_props(g, inst, vols, sgs, ami_users)
        elif inst.provider == AZURE:
            props = _azure_props(g, inst, vols)
        else:
            props = {"machine_type": inst.itype, "zone": inst.zone, "status": "RUNNING", "disks": vols,
                     "provisioning_model": "SPOT" if inst.lifecycle == "spot" else "STANDARD",
                     "cpu_platform": "Intel Cascade Lake"}
        g.resource(inst.acct, inst.rid, "instance", inst.region, name=inst.name, state=inst.state,
                   created=created, tags=inst.tags, itype=inst.itype, lifecycle=inst.lifecycle, props=props)
        instance_metrics(g, inst)
    return ami_users


def sg_rule(protocol: str, lo: int | None, hi: int | None, cidrs: list[str],
            cidrs6: list[str] | None = None) -> dict[str, Any]:
    """A security-group ingress rule shaped like providers/aws/inventory.py writes it."""
    return {"protocol": protocol, "from_port": lo, "to_port": hi, "cidrs": cidrs, "ipv6_cidrs": cidrs6 or [],
            "groups": [], "prefix_lists": [], "world": any(c in ("0.0.0.0/0", "::/0") for c in cidrs + (cidrs6 or []))}


def _security_groups(g: Gen) -> dict[str, list[dict[str, Any]]]:
    """The AWS accounts' security groups (staging also has one open to the world on port 22).

    Returns their resource rows per account key; instances add themselves to properties.instances."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key in ("prod", "staging", "ml"):
        acct = ACCOUNTS[key]
        rows = []
        vpc = g.hexid("vpc-0", 16)
        for sg_name in ("web-sg", "internal-sg", "ssh-anywhere"):
            if sg_name == "ssh-anywhere" and key != "staging":
                continue
            sid = g.hexid("sg-0", 16)
            rules = [sg_rule("tcp", 443, 443, ["0.0.0.0/0"])]
            if sg_name == "internal-sg":
                rules = [sg_rule("-1", None, None, ["10.0.0.0/8"])]
            if sg_name == "ssh-anywhere":
                rules = [sg_rule("tcp", 22, 22, ["0.0.0.0/0"], ["::/0"])]
            open_ports = [22] if sg_name == "ssh-anywhere" else []
            g.resource(acct, sid, "security_group", "us-east-1", name=sg_name, state=None,
                       created=g.at(-g.rng.randint(200, 900), 10), tags={"team": "platform", "env": "prod"},
                       props={"description": f"{sg_name} ({acct.sub_name})", "vpc_id": vpc, "rules": rules,
                              "open_to_world": bool(open_ports), "open_ports": open_ports, "instances": []})
            rows.append(g.resources[-1])
        out[key] = rows
    return out


def _aws_props(g: Gen, inst: Instance, vols: list[str], sgs: dict[str, list[dict[str, Any]]],
               ami_users: dict[str, list[str]]) -> dict[str, Any]:
    rng = g.rng
    key = next(k for k, a in ACCOUNTS.items() if a is inst.acct)
    groups = sgs[key][:1] + ([sgs[key][-1]] if inst.name.startswith("sandbox") else [])
    for sg in groups:
        sg["properties"]["instances"].append(inst.rid)
    amis = list(ami_users)
    ami = amis[rng.randrange(len(amis) - 1)]  # the newest image is not in use
    ami_users[ami].append(inst.rid)
    reason = None
    if inst.state == "stopped":
        reason = f"User initiated ({g.at(inst.stop_idx or 0, 11):%Y-%m-%d %H:%M:%S} GMT)"
    return {"image_id": ami, "platform": "Linux/UNIX", "availability_zone": inst.zone,
            "tenancy": "default", "vpc_id": None, "subnet_id": g.hexid("subnet-0", 16),
            "private_ip": f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
            "public_ip": None, "architecture": "x86_64",
            "volumes": [{"device": "/dev/xvda" if n == 0 else f"/dev/sd{'fgh'[n - 1]}", "volume_id": v}
                        for n, v in enumerate(vols)],
            "security_groups": [sg["resource_id"] for sg in groups],
            "spot_instance_request_id": g.hexid("sir-", 8) if inst.lifecycle == "spot" else None,
            "state_reason": reason}


def _azure_props(g: Gen, inst: Instance, vols: list[str]) -> dict[str, Any]:
    power = {"running": "PowerState/running", "stopped": "PowerState/stopped",
             "deallocated": "PowerState/deallocated"}[inst.state]
    props: dict[str, Any] = {
        "vm_size": inst.itype, "resource_group": inst.rid.split("/")[4], "zone": inst.zone, "power_state": power,
        "os_type": "Linux", "os_disk": vols[0], "data_disks": vols[1:],
        "priority": "Spot" if inst.lifecycle == "spot" else "Regular"}
    if inst.state != "running":
        props["state_changed_at"] = g.iso(g.at(inst.stop_idx or 0, 11))
        if inst.state == "stopped":
            props["note"] = "stopped from the guest OS: compute is still allocated and billed"
    return props


# -- disks ----------------------------------------------------------------------------------------------


def disks_for(g: Gen, inst: Instance, created: datetime) -> list[str]:
    """An instance's OS disk, plus a data disk for the storage-heavy ones. Returns the disk ids."""
    rng = g.rng
    p = inst.provider
    root_kind = {AWS: "gp3", AZURE: "Premium_LRS", GCP: "pd-balanced"}[p]
    root = {AWS: rng.choice((50, 100, 100, 200)), AZURE: 128, GCP: rng.choice((50, 100))}[p]
    vols = [add_disk(g, inst.acct, inst.region, inst.zone, f"{inst.name}-os", root, root_kind, inst.rid, created,
                     inst.tags, inst.launch_idx)]
    big = inst.name.startswith(("search-node", "redis-eu", "sqlvm", "feature-store", "etl-0", "legacy-billing",
                                "staging-search"))
    if big:
        kind = {AWS: rng.choice(("gp3", "io1", "gp2")), AZURE: "Premium_LRS", GCP: "pd-ssd"}[p]
        vols.append(add_disk(g, inst.acct, inst.region, inst.zone, f"{inst.name}-data",
                             rng.choice((500, 1000, 2000)), kind, inst.rid, created, inst.tags,
                             inst.launch_idx))
    return vols


def add_disk(g: Gen, acct: Account, region: str, zone: str, name: str, size: int, kind: str,
             attached_to: str | None, created: datetime, tags: dict[str, str] | None,
             first_idx: int, last_idx: int = N_DAYS, detached: datetime | None = None,
             extra: dict[str, Any] | None = None, record: bool = True) -> str:
    """A disk's daily cost rows from `first_idx` to before `last_idx`, and (if `record`) its resource row.

    Returns its id. `detached` (unattached disks) goes to properties.detached_at."""
    provider = acct.provider
    gb_month = DISK_GB_MONTH[provider][kind]
    rid, service, state, props = _disk_identity(g, acct, zone, name, size, kind, attached_to)
    if detached is not None:
        props["detached_at"] = g.iso(detached)
    props.update(extra or {})
    daily = size * gb_month * 24.0 / HOURS_PER_MONTH
    for i in range(max(0, first_idx), min(N_DAYS, last_idx)):
        g.cost(i, acct, service, region, daily, rid=rid, rname=name, rtype="volume", tags=tags,
               qty=round(size * 24.0 / HOURS_PER_MONTH, 6))
    if record:
        g.resource(acct, rid, "volume", region, name=name, state=state,
                   created=created, tags=tags, attached_to=attached_to, size=f"{size} GiB", props=props)
    return rid


def _disk_identity(g: Gen, acct: Account, zone: str, name: str, size: int, kind: str,
                   attached_to: str | None) -> tuple[str, str, str, dict[str, Any]]:
    """(id, service, state, properties) of a disk, in each provider's format."""
    if acct.provider == AWS:
        props: dict[str, Any] = {
            "size_gib": size, "volume_type": kind, "iops": {"gp3": 3000, "io1": 6000}.get(kind),
            "throughput": 125 if kind == "gp3" else None, "encrypted": True, "availability_zone": zone,
            "snapshot_id": None,
            "attachments": [{"instance_id": attached_to, "device": "/dev/xvda" if name.endswith("-os")
                             else "/dev/sdf", "state": "attached", "delete_on_termination": name.endswith("-os")}]
            if attached_to else [],
        }
        return g.hexid("vol-0", 16), "Amazon Elastic Compute Cloud", "in-use" if attached_to else "available", props
    if acct.provider == AZURE:
        rg = f"rg-{name.split('-')[0]}"
        rid = f"/subscriptions/{acct.sub_id}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"
        props = {"sku": kind, "size_gib": size, "disk_state": "Attached" if attached_to else "Unattached",
                 "managed_by": attached_to}
        return rid, "Storage", props["disk_state"], props
    rid = f"//compute.googleapis.com/projects/{acct.sub_id}/zones/{zone}/disks/{name}"
    props = {"type": kind, "size_gib": size, "zone": zone, "users": [attached_to] if attached_to else []}
    return rid, "Compute Engine", "READY", props


# -- metrics ----------------------------------------------------------------------------------------------


def instance_metrics(g: Gen, inst: Instance) -> None:
    """Daily cpu / network_in / network_out of the last METRIC_DAYS days the instance ran (ts = 00:00 UTC)."""
    rng = g.rng
    for i in range(N_DAYS - METRIC_DAYS, N_DAYS):
        run = inst.run_hours[i]
        if run <= 0:
            continue
        avg, mx, p99 = _cpu(g, inst.profile, i)
        if run < 23.5 and inst.profile != "idle":  # part time
            avg *= 0.9
        net = {"idle": 3e3, "oversized": 2e5, "normal": 1.5e6, "busy": 6e6}[inst.profile] * rng.uniform(0.6, 1.4)
        ts = timeutil.iso(g.at(i))
        for metric, a, m, p in (
            ("cpu", avg, mx, p99),
            ("network_in", net, net * rng.uniform(3, 8), None),
            ("network_out", net * 0.6, net * 0.6 * rng.uniform(3, 8), None),
        ):
            g.metrics.append({"provider_name": inst.provider, "resource_id": inst.rid, "metric": metric,
                              "ts": ts, "period_s": 86400, "average": round(a, 3), "maximum": round(m, 3),
                              "p99": None if p is None else round(p, 3)})


def _cpu(g: Gen, profile: str, i: int) -> tuple[float, float, float]:
    """(average, maximum, p99) CPU % of a day, by utilization profile."""
    rng = g.rng
    if profile == "idle":
        avg = rng.uniform(1.0, 3.0)
        p99 = avg * rng.uniform(2.0, 3.5)
        mx = p99 * rng.uniform(1.1, 1.6)
    elif profile == "busy":
        avg = rng.uniform(40.0, 80.0) * (0.85 if g.weekend[i] else 1.0)
        p99 = min(100.0, avg * rng.uniform(1.2, 1.45))
        mx = min(100.0, p99 * rng.uniform(1.02, 1.15))
    elif profile == "oversized":
        avg = rng.uniform(4.0, 9.0)
        p99 = rng.uniform(max(avg * 1.5, 10.0), 19.0)
        mx = rng.uniform(p99, 32.0)
    else:
        avg = rng.uniform(15.0, 40.0) * (0.8 if g.weekend[i] else 1.0)
        p99 = min(100.0, avg * rng.uniform(1.5, 2.2))
        mx = min(100.0, p99 * rng.uniform(1.05, 1.3))
    return avg, mx, p99
