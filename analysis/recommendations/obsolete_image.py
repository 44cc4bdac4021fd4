"""Obsolete images: machine images (AMIs) that no instance was launched from, older than `min_days`
(default 30) days.

An image keeps billing for the snapshots behind it. Found: images whose `properties.in_use` is
false (no instance in the inventory runs from it; the AWS inventory sets it from every instance it
lists, stopped ones included) and created at least min_days ago. Images whose use is not known
(no in_use property) are skipped and say so. Saving: the observed cost of its snapshots (and of
the image itself where the provider bills it), else unknown. Action: deregister it and delete its
snapshots.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .common import RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "obsolete_image"
CATEGORY = "cost"
TITLE = "Unused images"


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=0, le=3650, description="age of the image in days (and not in use)")] = 30


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for img in ctx.resources(("image",)):
        p = img.properties
        if "in_use" not in p:
            ctx.skip(RULE_ID, img, "whether any instance uses this image is not known for this provider")
            continue
        if p.get("in_use") or p.get("instances"):
            continue
        age = ctx.days_since(img.created_at or img.first_seen) or 0.0
        if age < params.min_days:
            continue
        snaps = [str(s) for s in p.get("snapshot_ids") or [] if s]
        saving, basis, cur, ev = ctx.saving([img.resource_id, *snaps], unknown="no cost rows for its snapshots")
        detail = {
            "summary": f"no instance uses it, {int(age)} days old, {len(snaps)} snapshot(s)",
            "age_days": int(age),
            "snapshot_ids": snaps,
            "action": "deregister_image",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, img, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
