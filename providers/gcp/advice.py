"""Recommender API advice, stored as provider-native recommendations (origin "gcp-recommender").

    GET /v1/projects/{p}/locations/{loc}/recommenders/{recommender}/recommendations
        ?filter=stateInfo.state=ACTIVE&pageSize=100 (+ pageToken)

Recommenders and their locations (per project; the zones and regions come from the source's
inventory, images are global):

* google.compute.instance.IdleResourceRecommender (zones)   -> rule gcp_idle_instance
* google.compute.instance.MachineTypeRecommender (zones)    -> rule gcp_rightsizing
* google.compute.disk.IdleResourceRecommender (zones)       -> rule gcp_idle_disk
* google.compute.address.IdleResourceRecommender (regions)  -> rule gcp_idle_address
* google.compute.image.IdleResourceRecommender (global)     -> rule gcp_idle_image

The resource is the first operation's `resource` (else targetResources[0]), the full resource
name the inventory uses. Saving: primaryImpact.costProjection.cost (negative = savings; units +
nanos, exact) over its `duration`, scaled to a 730-hour month; saving_basis "Google Recommender
estimate". Like the AWS native advice: upsert by (rule, provider, resource) keeping status and
first_seen; open advice of the projects answered that the API no longer returns is deleted; the
recommendation engine hides advice whose resource one of costdeck's rules also found
(detail.duplicate_of). A recommender that is not enabled or denied (403) for a project fails the
step with one line after the others are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from cache import timeutil
from providers.advice import AdviceRow, write_native_advice
from providers.base import StepError, SyncContext, one_line
from providers.http import HttpStepError

from .client import Gcp
from .inventory import PROVIDER, last, project_failures

ORIGIN = "gcp-recommender"
RECOMMENDERS: tuple[tuple[str, str, str, str], ...] = (
    # (recommender, location kind, rule, resource type)
    ("google.compute.instance.IdleResourceRecommender", "zone", "gcp_idle_instance", "instance"),
    ("google.compute.instance.MachineTypeRecommender", "zone", "gcp_rightsizing", "instance"),
    ("google.compute.disk.IdleResourceRecommender", "zone", "gcp_idle_disk", "volume"),
    ("google.compute.address.IdleResourceRecommender", "region", "gcp_idle_address", "ip_address"),
    ("google.compute.image.IdleResourceRecommender", "global", "gcp_idle_image", "image"),
)
HOURS_PER_MONTH = 730
NANOS = 1_000_000_000


@dataclass(slots=True)
class Advice:
    rule: str
    resource_id: str
    resource_type: str
    project: str
    region: str | None
    saving_nanos: int
    currency: str
    detail: dict[str, Any] = field(default_factory=dict)


def _seconds(duration: Any) -> int:
    try:
        return int(float(str(duration).rstrip("s")))
    except (TypeError, ValueError):
        return 0


def monthly_saving(impact: dict[str, Any]) -> tuple[int, str]:
    """(monthly saving in nanos, currency) from primaryImpact.costProjection (negative cost = saving)."""
    proj = impact.get("costProjection") or {}
    cost = proj.get("cost") or {}
    try:
        total = int(Decimal(str(cost.get("units") or "0"))) * NANOS + int(cost.get("nanos") or 0)
    except (InvalidOperation, ValueError, TypeError):
        total = 0
    secs = _seconds(proj.get("duration")) or 30 * 86400
    return max(0, -total * HOURS_PER_MONTH * 3600 // secs), str(cost.get("currencyCode") or "USD")


def parse(r: dict[str, Any], rule: str, rtype: str, project: str, location: str) -> Advice | None:
    if ((r.get("stateInfo") or {}).get("state") or "ACTIVE") != "ACTIVE":
        return None
    ops = [op for g in (r.get("content") or {}).get("operationGroups") or [] for op in g.get("operations") or []]
    target = next((op.get("resource") for op in ops if op.get("resource")), None) \
        or next(iter(r.get("targetResources") or []), None)
    if not target:
        return None
    saving, currency = monthly_saving(r.get("primaryImpact") or {})
    detail: dict[str, Any] = {
        "summary": " ".join(str(r.get("description") or "").split())[:300],
        "recommender_subtype": r.get("recommenderSubtype"), "priority": r.get("priority"),
        "recommendation": r.get("name"), "etag": r.get("etag"), "location": location,
    }
    if rule == "gcp_rightsizing":
        new = next((op.get("value") for op in ops if op.get("action") == "replace" and op.get("path") == "/machineType"),
                   None)
        old = next((op.get("value") for op in ops if op.get("action") == "test" and op.get("path") == "/machineType"),
                   None)
        detail.update(instance_type=last(str(old)) if old else None, target_type=last(str(new)) if new else None,
                      action="resize_instance")
    else:
        detail["action"] = {"instance": "stop_instance", "volume": "delete_volume", "ip_address": "release_ip",
                            "image": "deregister_image"}[rtype]
    region = location.rsplit("-", 1)[0] if location.count("-") == 2 else (None if location == "global" else location)
    return Advice(rule, str(target), rtype, project, region, saving, currency, detail)


def locations(ctx: SyncContext, project: str) -> dict[str, list[str]]:
    zones, regions = set(), set()
    for zone, region in ctx.store.conn.execute(
        "SELECT json_extract(properties, '$.zone'), region_id FROM resources WHERE source_id=? "
        "AND provider_name=? AND sub_account_id=?", (ctx.source_id, PROVIDER, project)):
        if zone:
            zones.add(zone)
        if region:
            regions.add(region)
    return {"zone": sorted(zones), "region": sorted(regions), "global": ["global"]}


def fetch_project(ctx: SyncContext, gcp: Gcp, project: str) -> list[Advice]:
    out: list[Advice] = []
    locs = locations(ctx, project)
    for recommender, kind, rule, rtype in RECOMMENDERS:
        for loc in locs[kind]:
            path = f"/v1/projects/{project}/locations/{loc}/recommenders/{recommender}/recommendations"
            for r in gcp.recommender.pages("GET", path, items="recommendations", next_key="nextPageToken",
                                           token_param="pageToken", params={"pageSize": 100,
                                                                            "filter": "stateInfo.state=ACTIVE"},
                                           op=f"recommendations.list {recommender.split('.')[2]}"):
                a = parse(r, rule, rtype, project, loc)
                if a is not None:
                    out.append(a)
    return out


def write_advice(ctx: SyncContext, advice: Sequence[Advice], projects: Sequence[str]) -> int:
    conn = ctx.store.conn
    now = timeutil.iso(ctx.now)
    with ctx.store.transaction():
        rows = []
        for a in advice:
            known = conn.execute("SELECT resource_name, region_id FROM resources WHERE provider_name=? AND resource_id=?",
                                 (PROVIDER, a.resource_id)).fetchone()
            rows.append(AdviceRow(
                rule=a.rule, resource_id=a.resource_id, resource_name=(known[0] if known else None) or last(a.resource_id),
                resource_type=a.resource_type, sub_account_id=a.project,
                region_id=(known[1] if known else None) or a.region, detail=a.detail, saving_nanos=a.saving_nanos,
                currency=a.currency))
        write_native_advice(conn, origin=ORIGIN, provider=PROVIDER, basis="Google Recommender estimate", now=now,
                            rows=rows, scope=projects)
    return len(advice)


def sync_advice(ctx: SyncContext, gcp: Gcp) -> int:
    from .inventory import source_projects

    advice, done, failed = ctx.fetch_each(source_projects(ctx, gcp), lambda p: fetch_project(ctx, gcp, p),
                                          label="Recommender", catch=(HttpStepError,), text=one_line)
    n = write_advice(ctx, advice, done) if done else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(project_failures("advice", failed))
    return n


__all__ = ["ORIGIN", "RECOMMENDERS", "Advice", "monthly_saving", "parse", "sync_advice"]
