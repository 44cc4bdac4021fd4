"""Obsolete snapshots: snapshots whose source volume is gone and that no image uses, older than
`min_days` (default 30) days.

A snapshot of a deleted volume that backs no image (AMI) is usually a leftover backup. Found: AWS
EBS snapshots (owned by the account) with `properties.volume_exists` false and no
`properties.images`. Snapshots that back an image are left to the obsolete_image rule. Age: from
the snapshot's start time. Saving: the snapshot's observed cost, else unknown. Action: delete it.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .common import RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "obsolete_snapshot"
CATEGORY = "cost"
TITLE = "Obsolete snapshots"


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=0, le=3650, description="age of the snapshot in days")] = 30


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for s in ctx.resources(("snapshot",)):
        p = s.properties
        if "volume_exists" not in p or p.get("volume_exists") or p.get("images"):
            continue
        age = ctx.days_since(s.created_at or s.first_seen) or 0.0
        if age < params.min_days:
            continue
        saving, basis, cur, ev = ctx.saving([s.resource_id], unknown="no cost rows for this snapshot")
        detail = {
            "summary": f"source volume {p.get('volume_id') or '?'} is gone, no image uses it, {int(age)} days old",
            "age_days": int(age),
            "source_volume": p.get("volume_id"),
            "size_gib": p.get("size_gib"),
            "action": "delete_snapshot",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, s, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
