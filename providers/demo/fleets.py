"""Compute fleets: the VMs of estate.*_FLEETS, their hours per day, and their daily cost rows.

`build` creates every `Instance` (ids, zone, launch day, schedule, state: stopped / deallocated /
Azure "stopped but billed") and the hours it is billed and running each day; `instance_costs`
turns those hours into cost rows once commitments.allocate has said which hours a reservation
or the savings plan covers (FOCUS: covered hours are billed 0, effective = the amortized rate; spot is
"Dynamic" pricing, the rest is on-demand). The VMs' inventory rows come later (inventory.py).
"""

from __future__ import annotations

from .catalog import ACCOUNTS, AWS, AZURE, EA_DISCOUNT, GCP, N_DAYS, SPOT_FACTOR, Account, price
from .core import Allocation, Gen, Instance
from .estate import AWS_FLEETS, AZURE_FLEETS, GCP_FLEETS, Fleet


def build(g: Gen) -> None:
    for provider, fleets in ((AWS, AWS_FLEETS), (AZURE, AZURE_FLEETS), (GCP, GCP_FLEETS)):
        for fleet in fleets:
            _add_fleet(g, provider, fleet)
    _add_runaway(g)


def _add_fleet(g: Gen, provider: str, f: Fleet) -> None:
    acct = ACCOUNTS[f.account]
    n_new = int(round(f.instances * f.new_share))
    n_untagged = int(round(f.instances * f.untagged))
    for k in range(f.instances):
        launch_idx = -g.rng.randint(20, 700)
        if k >= f.instances - n_new:
            launch_idx = g.rng.randint(8, N_DAYS - 10)
        tags: dict[str, str] | None = {"team": f.team, "env": f.env, "project": f.project}
        if k < n_untagged:
            tags = None
        elif f.project.endswith("[beta]") and k >= 2:
            tags = {"team": f.team, "env": f.env, "project": f.project.replace("-[beta]", "")}
        name = f"{f.prefix}-{k + 1:02d}" if f.instances > 1 else f.prefix
        if f.prefix == "web" and k == 0:
            name = "web-[blue]"
        lifecycle = "spot" if k < f.n_spot else "on-demand"
        add_instance(g, provider, acct, f.region, f.itype, name, f.schedule, f.profile, lifecycle, launch_idx, tags)


def _add_runaway(g: Gen) -> None:
    """The runaway resource: a p3.8xlarge someone started nine days ago and forgot (an injected anomaly)."""
    acct = ACCOUNTS["ml"]
    inst = add_instance(g, AWS, acct, "us-west-2", "p3.8xlarge", "tmp-llm-finetune", "always", "idle",
                        "on-demand", N_DAYS - 10, {"team": "ml", "env": "dev", "project": "recommender"},
                        launch_hour=14)
    g.anomalies.append({
        "kind": "new_resource", "provider_name": AWS, "sub_account_id": acct.sub_id,
        "service_name": "Amazon Elastic Compute Cloud", "region_id": "us-west-2", "resource_id": inst.rid,
        "resource_name": inst.name, "start_day": g.day_str[inst.launch_idx],
        "daily_cost": f"{inst.od_price * 24:.2f}", "note": "a forgotten GPU instance, idle since launch",
    })


def add_instance(g: Gen, provider: str, acct: Account, region: str, itype: str, name: str, sched: str,
                 profile: str, lifecycle: str, launch_idx: int, tags: dict[str, str] | None,
                 launch_hour: int | None = None) -> Instance:
    zone_suffix = g.rng.choice("abc")
    schedule, state, stop_idx, billed_when_stopped = _stop_plan(g, sched)
    rid, zone, service = _placement(g, provider, acct, region, name, zone_suffix)
    lh = g.rng.randint(0, 23) if launch_hour is None else launch_hour
    inst = Instance(provider, acct, region, zone, rid, name, itype, service, lifecycle, schedule, profile,
                    launch_idx, lh, stop_idx, billed_when_stopped, state, tags, {})
    inst.od_price = price(provider, itype, region)
    _fill_hours(g, inst)
    g.insts.append(inst)
    return inst


def _stop_plan(g: Gen, sched: str) -> tuple[str, str, int | None, bool]:
    """(schedule, state, day it stopped or None, billed when stopped) for a fleet's schedule."""
    if sched == "stopped":  # stopped weeks ago, volumes still attached and billed
        return "always", "stopped", N_DAYS - g.rng.randint(25, 80), False
    if sched == "stopped-billed":  # Azure: shut down from the guest OS, not deallocated
        return "always", "stopped", N_DAYS - 20, True
    if sched == "deallocated":
        return "always", "deallocated", N_DAYS - g.rng.randint(45, 60), False
    return sched, "running", None, False


def _placement(g: Gen, provider: str, acct: Account, region: str, name: str,
               zone_suffix: str) -> tuple[str, str, str]:
    """(resource id, zone, service) of a VM, in each provider's id format."""
    if provider == AWS:
        return g.hexid("i-0", 16), f"{region}{zone_suffix}", "Amazon Elastic Compute Cloud"
    if provider == AZURE:
        rg = f"rg-{name.rsplit('-', 1)[0]}"
        rid = (f"/subscriptions/{acct.sub_id}/resourceGroups/{rg}/providers/Microsoft.Compute/"
               f"virtualMachines/{name}")
        return rid, str(g.rng.randint(1, 3)), "Virtual Machines"
    zone = f"{region}-{zone_suffix}"
    return f"//compute.googleapis.com/projects/{acct.sub_id}/zones/{zone}/instances/{name}", zone, "Compute Engine"


def _fill_hours(g: Gen, inst: Instance) -> None:
    """Hours billed and hours actually running, per day."""
    for i in range(N_DAYS):
        h = _sched_hours(g, inst.schedule, i)
        if i < inst.launch_idx:
            h = 0.0
        elif i == inst.launch_idx:
            h = min(h, 24.0 - inst.launch_hour) if inst.schedule == "always" or inst.schedule == "autoscale" else h
        run = h
        if inst.stop_idx is not None and i >= inst.stop_idx:
            run = 0.0 if i > inst.stop_idx else min(h, 11.0)
            if not inst.billed_when_stopped:
                h = run
        inst.hours.append(h)
        inst.run_hours.append(run)


def _sched_hours(g: Gen, schedule: str, i: int) -> float:
    if schedule == "always":
        return 24.0
    if schedule == "business":
        return 0.0 if g.weekend[i] else round(g.rng.uniform(10.5, 13.0), 2)
    # autoscale: full weekdays, part of the fleet scaled in at weekends
    return round(g.rng.uniform(6.0, 14.0), 2) if g.weekend[i] else 24.0


def instance_costs(g: Gen, alloc: Allocation) -> None:
    """Daily cost rows of every VM: commitment-covered hours, then spot or on-demand for the rest."""
    for n, inst in enumerate(g.insts):
        rtype = "instance"
        for i in range(N_DAYS):
            h = inst.hours[i]
            if h <= 0:
                continue
            od = inst.od_price
            list_factor = 1 / EA_DISCOUNT if inst.provider == AZURE else 1.0
            rest = h
            for c, ch in alloc.get((n, i), ()):
                rest -= ch
                eff = ch * (c.eff_rate if c.ctype != "Savings Plan" else od * c.eff_rate)
                g.cost(i, inst.acct, inst.service, inst.region, 0.0, effective=eff,
                       list_=ch * od * list_factor, contracted=ch * od, rid=inst.rid, rname=inst.name, rtype=rtype,
                       tags=inst.tags, pricing="Committed", commit=c, cstatus="Used", qty=ch)
            if rest > 1e-6:
                if inst.lifecycle == "spot":
                    spot = round(od * SPOT_FACTOR, 4)
                    g.cost(i, inst.acct, inst.service, inst.region, rest * spot,
                           list_=rest * od * list_factor,
                           contracted=rest * spot, rid=inst.rid, rname=inst.name, rtype=rtype,
                           tags=inst.tags, pricing="Dynamic", qty=rest)
                else:
                    g.cost(i, inst.acct, inst.service, inst.region, rest * od, rid=inst.rid,
                           rname=inst.name, rtype=rtype, tags=inst.tags, qty=rest)
