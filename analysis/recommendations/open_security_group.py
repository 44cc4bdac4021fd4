"""Open security groups: security groups that let the whole internet (0.0.0.0/0 or ::/0) reach
SSH or RDP (`ports`, default [22, 3389]).

A security finding, not a cost one: no saving. Found: `security_group` resources with an ingress
rule from a world CIDR whose protocol and port range cover one of the ports (all-traffic rules
included). Evidence: the ports open and the instances using the group. Action: restrict the rule
to known addresses (costdeck never edits security groups itself).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from .common import RuleContext, Thresholds, new_rec
from .model import Recommendation

RULE_ID = "open_security_group"
CATEGORY = "security"
TITLE = "Open security groups"


class Params(Thresholds):
    ports: Annotated[list[Annotated[int, Meta(ge=1, le=65535)]],
                     Meta(extra={"expected": "a list of port numbers"},
                          description="ports that must not be open to the world")] = msgspec.field(
        default_factory=lambda: [22, 3389])
WORLD = ("0.0.0.0/0", "::/0")


def covers(rule: dict[str, Any], port: int) -> bool:
    proto = str(rule.get("protocol", "-1")).lower()
    if proto in ("-1", "all", "*"):
        return True
    if proto not in ("tcp", "6"):
        return False
    lo, hi = rule.get("from_port"), rule.get("to_port")
    if lo is None or hi is None or lo == -1:
        return True
    return int(lo) <= port <= int(hi)


def find(ctx: RuleContext, params: Params) -> list[Recommendation]:
    out = []
    for sg in ctx.resources(("security_group",)):
        p = sg.properties
        rules = p.get("rules")
        if isinstance(rules, list):
            world = [r for r in rules if isinstance(r, dict)
                     and (r.get("world") or any(c in WORLD for c in (r.get("cidrs") or []) + (r.get("ipv6_cidrs") or [])))]
            ports = sorted({port for r in world for port in params.ports if covers(r, port)})
        else:
            ports = sorted(int(x) for x in p.get("open_ports") or [] if int(x) in params.ports)
        if not ports:
            continue
        users = p.get("instances") or []
        detail = {
            "summary": f"ports {', '.join(map(str, ports))} open to the internet, used by {len(users)} instance(s)",
            "open_ports": ports,
            "instances": users,
            "vpc_id": p.get("vpc_id"),
            "action": "restrict_ingress",
        }
        out.append(new_rec("open_security_group", CATEGORY, sg, detail=detail, monthly_saving=0,
                           saving_basis="security finding: no saving"))
    return out
