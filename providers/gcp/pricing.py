"""On-demand prices of Compute Engine machine types, for the rules (rightsizing, idle savings) and for
ML runs not attributed by the export (price x duration).

Google prices a predefined machine type per vCPU hour plus per GiB of memory hour, by machine
series and region. Two reads:

* the machine types of each zone the source's instances run in:
  `GET /compute/v1/projects/{p}/zones/{z}/machineTypes` (nextPageToken): name, guestCpus, memoryMb;
* the Compute Engine SKUs of the Cloud Billing Catalog:
  `GET /v1/services/6F81-5844-456A/skus?currencyCode=USD` (cloudbilling.googleapis.com,
  nextPageToken): the OnDemand "<SERIES> Instance Core running in ..." and "<SERIES> Instance Ram
  running in ..." SKUs (N1's are "N1 Predefined Instance Core/Ram"), their serviceRegions and the
  first tier's unitPrice (units + nanos, exact).

price(type, region) = guestCpus x core price + memoryMb / 1024 x ram price (nanos, exact); rows in
`prices` (provider "Google Cloud", sku = the machine type, vcpu, memory_gib, family = the series
"n2-standard", source "Cloud Billing Catalog"). Types whose series has no SKU (shared-core, custom)
are left out. ONE transaction replaces this source's regions' Google prices.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext, one_line
from providers.http import HttpStepError

from .client import Gcp
from .inventory import PROVIDER, project_failures, region_of_zone

COMPUTE_SERVICE = "6F81-5844-456A"
SOURCE = "Cloud Billing Catalog"
NANOS = 1_000_000_000


def _price(sku: dict[str, Any]) -> int | None:
    for info in sku.get("pricingInfo") or []:
        rates = (info.get("pricingExpression") or {}).get("tieredRates") or []
        if rates:
            up = rates[-1].get("unitPrice") or {}  # the on-demand rate (tier 0 is often a free tier)
            return int(Decimal(str(up.get("units") or "0"))) * NANOS + int(up.get("nanos") or 0)
    return None


def catalog(gcp: Gcp) -> dict[tuple[str, str, str], int]:
    """{(series prefix "N2", "core"|"ram", region): price nanos per hour (per vCPU / per GiB)}."""
    out: dict[tuple[str, str, str], int] = {}
    api = gcp.api("cloudbilling.googleapis.com")
    for sku in api.pages("GET", f"/v1/services/{COMPUTE_SERVICE}/skus", items="skus", next_key="nextPageToken",
                         token_param="pageToken", params={"currencyCode": "USD", "pageSize": 5000}, op="skus.list"):
        cat = sku.get("category") or {}
        if cat.get("usageType") != "OnDemand" or cat.get("resourceFamily") != "Compute":
            continue
        desc = str(sku.get("description") or "")
        words = desc.split()
        if len(words) < 4 or "running" not in words:
            continue
        kind = "core" if " Instance Core " in f" {desc} " else "ram" if " Instance Ram " in f" {desc} " else None
        if kind is None or "Custom" in words or "Sole" in words:
            continue
        price = _price(sku)
        if price is None:
            continue
        for region in sku.get("serviceRegions") or []:
            out[(words[0].upper(), kind, region)] = price
    return out


def machine_types(gcp: Gcp, project: str, zone: str) -> list[dict[str, Any]]:
    return list(gcp.compute.pages("GET", f"/compute/v1/projects/{project}/zones/{zone}/machineTypes", items="items",
                                  next_key="nextPageToken", token_param="pageToken", params={"maxResults": 500},
                                  op="machineTypes.list"))


def sync_prices(ctx: SyncContext, gcp: Gcp) -> int:
    zones: dict[str, set[str]] = defaultdict(set)
    for project, zone in ctx.store.conn.execute(
        "SELECT DISTINCT sub_account_id, json_extract(properties, '$.zone') FROM resources WHERE source_id=? "
        "AND provider_name=? AND resource_type='instance'", (ctx.source_id, PROVIDER)):
        if project and zone:
            zones[str(project)].add(str(zone))
    if not zones:
        return 0
    types: dict[tuple[str, str], dict[str, Any]] = {}  # (region, name) -> machine type
    failed: dict[str, str] = {}
    for project, zs in sorted(zones.items()):
        for zone in sorted(zs):
            ctx.progress(detail=f"machine types {zone}")
            try:
                for mt in machine_types(gcp, project, zone):
                    types.setdefault((str(region_of_zone(zone)), str(mt.get("name"))), mt)
            except HttpStepError as exc:
                failed[f"{project}/{zone}"] = one_line(exc)
    ctx.progress(detail="Cloud Billing Catalog (Compute Engine SKUs)")
    rates = catalog(gcp)
    rows = []
    for (region, name), mt in sorted(types.items()):
        series = name.split("-", 1)[0].upper()
        core, ram = rates.get((series, "core", region)), rates.get((series, "ram", region))
        cpus, mem_mb = mt.get("guestCpus"), mt.get("memoryMb")
        if core is None or ram is None or not cpus or not mem_mb or mt.get("isSharedCpu"):
            continue
        nanos = int(cpus) * core + int(Decimal(int(mem_mb)) / 1024 * ram)
        rows.append({"provider_name": PROVIDER, "region_id": region, "sku": name, "pricing_model": "on-demand",
                     "unit": "Hrs", "price_nanos": nanos, "currency": "USD", "vcpu": float(cpus),
                     "memory_gib": round(int(mem_mb) / 1024, 3), "family": name.rsplit("-", 1)[0],
                     "generation": "current", "source": SOURCE, "fetched_at": timeutil.iso(ctx.now)})
    with ctx.store.transaction():
        n = ctx.store.upsert("prices", rows, pk=("provider_name", "region_id", "sku", "pricing_model")) if rows else 0
    if failed:
        ctx.add_rows(n)
        raise StepError(project_failures("machine types", failed))
    return n


__all__ = ["catalog", "sync_prices"]
