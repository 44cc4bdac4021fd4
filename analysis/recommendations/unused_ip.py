"""Unused IP addresses: public addresses allocated but not associated with anything, for at least
`min_days` (default 1) days.

AWS Elastic IPs (and, since 2024, every public IPv4 address) bill by the hour whether associated
or not; an idle one is pure waste. Found: `elastic_ip` / `ip_address` resources with state
"unassociated" (or nothing in attached_to). Age: since creation or first seen, whichever is later.
Saving: the address's observed cost, else unknown. Action: release it.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .common import RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "unused_ip"
CATEGORY = "cost"
TITLE = "Unused IP addresses"


class Params(Thresholds):
    min_days: Annotated[int, Meta(ge=0, le=3650, description="days the address has been unassociated (as far as "
                                  "costdeck saw)")] = 1


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for ip in ctx.resources(("elastic_ip", "ip_address")):
        p = ip.properties
        state = (ip.state or "").lower()
        if ip.attached_to or state in ("associated", "in_use") or p.get("association_id") or p.get("instance_id") \
                or p.get("network_interface_id") or p.get("ip_configuration"):
            continue
        since = max(t for t in (ip.created_at, ip.first_seen) if t is not None)
        days = ctx.days_since(since) or 0.0
        if days < params.min_days:
            continue
        saving, basis, cur, ev = ctx.saving([ip.resource_id], unknown="no cost rows for this address")
        addr = p.get("public_ip") or p.get("ip_address") or p.get("address")
        detail = {
            "summary": f"{addr or 'address'} not associated, seen unassociated for {int(days)} days",
            "days_unassociated": int(days),
            "address": addr,
            "action": "release_ip",
            **ev,
        }
        out.append(new_rec(RULE_ID, CATEGORY, ip, detail=detail, monthly_saving=saving, saving_basis=basis,
                           currency=cur))
    return out
