"""Stopped instances: instances stopped for at least `min_days` (default 7) days that still bill.

A stopped AWS EC2 instance (and a deallocated Azure VM) bills no compute but keeps billing its
attached volumes; an Azure VM stopped from inside the guest OS ("stopped", not "deallocated")
still bills its compute too. Found: instances in state stopped / deallocated. Since: the stop time
the provider reports (EC2 state reason, Azure state change), else first seen. Saving: the observed
cost of the instance (Azure stopped-not-deallocated) and of its attached disks, else their price
(compute price x 730 h for a VM still billed), else unknown. Spot instances are skipped. Action:
deallocate (Azure, still billed for compute), otherwise snapshot the volumes and terminate, or
delete the disks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from msgspec import Meta

from cache import timeutil

from .common import SPOT_REASON, Res, RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "stopped_instance"
CATEGORY = "cost"
TITLE = "Stopped instances still billed"


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=0, le=3650, description="days the instance has been stopped")] = 7
_REASON_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) GMT\)")


def stopped_since(res: Res) -> tuple[datetime, str]:
    p = res.properties
    m = _REASON_TIME.search(str(p.get("state_reason") or ""))
    if m:
        return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(tzinfo=UTC), "state reason"
    changed = p.get("state_changed_at")
    if isinstance(changed, str):
        try:
            return timeutil.parse_instant(changed), "state change time"
        except ValueError:
            pass
    return res.first_seen, "first seen by costdeck"


def still_billed_compute(res: Res) -> bool:
    """Azure: a VM stopped from the guest OS keeps its compute allocation (and bill)."""
    power = str(res.properties.get("power_state") or "").lower()
    return res.provider_name == "Microsoft" and (res.state or "").lower() == "stopped" and "deallocated" not in power


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for inst in ctx.resources(("instance",)):
        state = (inst.state or "").lower()
        if state not in ("stopped", "deallocated", "terminated") or (state == "terminated"
                                                                     and inst.provider_name == "AWS"):
            continue
        if inst.spot:
            ctx.skip(RULE_ID, inst, SPOT_REASON)
            continue
        since, basis = stopped_since(inst)
        days = ctx.days_since(since) or 0.0
        if days < params.min_days:
            continue
        disks = ctx.attached_disks(inst)
        compute = still_billed_compute(inst)
        ids = [d.resource_id for d in disks] + ([inst.resource_id] if compute else [])
        price = ctx.price(inst.provider_name, inst.region_id, inst.instance_type) if compute else None
        saving, sbasis, cur, ev = ctx.saving(
            ids, price=price if ctx.observed(ids) is None else None,
            unknown="no cost rows for the instance's disks" + (" or compute" if compute else ""))
        size = sum(int(d.properties.get("size_gib") or 0) for d in disks)
        what = "compute and disks still billed" if compute else "attached disks still billed"
        detail = {
            "summary": f"{state} for {int(days)} days, {what}" + (f" ({len(disks)} disk(s), {size} GiB)" if disks else ""),
            "days_stopped": int(days),
            "stopped_since": since.isoformat(),
            "stopped_basis": basis,
            "compute_billed": compute,
            "disks": [d.resource_id for d in disks],
            "disk_gib": size,
            "instance_type": inst.instance_type,
            "action": "deallocate_instance" if compute else "terminate_instance",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, inst, detail=detail, monthly_saving=saving, saving_basis=sbasis,
                           currency=cur))
    return out
