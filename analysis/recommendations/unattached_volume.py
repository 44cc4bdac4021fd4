"""Unattached volumes: block storage attached to nothing for at least `min_days` (default 7) days.

A volume still bills its full provisioned size while attached to nothing. Found: AWS EBS volumes
in state "available", Azure managed disks "Unattached", Google persistent disks with no users
(every provider: `attached_to` empty). Age: since `properties.detached_at` where the provider
reports it (the demo does; EC2 does not), else since costdeck first saw the volume (first_seen),
which for AWS is the first sync that listed it (a volume that was attached then and detached later
looks older than it is; raise min_days if that matters) or its creation time when it was created
after that. Saving: the volume's observed cost (cost rows), else unknown. Action: delete it
(optionally snapshot it first).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from cache import timeutil

from .common import RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "unattached_volume"
CATEGORY = "cost"
TITLE = "Unattached volumes"


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=0, le=3650, description="days the volume has been unattached")] = 7
ATTACHED_STATES = {"in-use", "attached", "attaching", "creating", "deleting", "reserved", "activesas"}


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    min_days = params.min_days
    for v in ctx.resources(("volume",)):
        p = v.properties
        if v.attached_to or (v.state or "").lower() in ATTACHED_STATES or p.get("users") or p.get("managed_by"):
            continue
        if p.get("attachments"):
            continue
        detached = p.get("detached_at")
        since, basis = None, ""
        if isinstance(detached, str):
            try:
                since, basis = timeutil.parse_instant(detached), "detached_at"
            except ValueError:
                since = None
        if since is None:
            since, basis = v.first_seen, "first seen unattached by costdeck"
            if v.created_at is not None and v.created_at > since:
                since, basis = v.created_at, "created (never attached)"
        days = ctx.days_since(since) or 0.0
        if days < min_days:
            continue
        saving, sbasis, cur, ev = ctx.saving([v.resource_id], unknown="no cost rows for this volume")
        if not saving and isinstance(p.get("monthly_cost_nanos"), int):  # priced by its inventory (OpenCost)
            saving, sbasis = p["monthly_cost_nanos"], "the inventory's price, a month"
        size = p.get("size_gib")
        kind = p.get("volume_type") or p.get("sku") or p.get("type")
        detail = {
            "summary": f"unattached for {int(days)} days" + (f", {size} GiB" if size else "")
                       + (f" {kind}" if kind else ""),
            "days_unattached": int(days),
            "unattached_since": since.isoformat(),
            "age_basis": basis,
            "size_gib": size,
            "volume_type": kind,
            "action": "delete_volume",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, v, detail=detail, monthly_saving=saving, saving_basis=sbasis,
                           currency=cur))
    return out
