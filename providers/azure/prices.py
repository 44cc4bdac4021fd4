"""On-demand prices and sizes of the VM sizes this source runs, for the rightsizing rule and the
commitments' on-demand equivalent.

* Which: the regions of this source's `instance` resources (the inventory step runs first).
* Sizes: Compute Resource SKUs, `GET /subscriptions/{id}/providers/Microsoft.Compute/skus
  ?$filter=location eq '{region}'` (Resource Manager, paged), resourceType virtualMachines:
  vCPUs and MemoryGB from `capabilities`, the family (e.g. standardDSv5Family).
* Prices: the Azure Retail Prices API (`GET {prices_endpoint}/api/retail/prices?$filter=
  serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and priceType eq
  'Consumption'`, public, no token, `NextPageLink` pages), Linux pay-as-you-go only (Windows,
  Spot and Low Priority meters left out), `retailPrice` per "1 Hour" as an exact decimal.
* Row (`prices`): provider "Microsoft", region_id, sku = armSkuName (Standard_D4s_v5),
  pricing_model "on-demand", unit "Hrs", price_nanos, currency, vcpu, memory_gib, family, source
  "azure-retail-prices", fetched_at. Regions priced less than 7 days ago are not fetched again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from cache import timeutil
from cache.money import to_nanos
from providers.base import SyncContext
from providers.http import HttpStepError, RestClient

from . import session as az_session
from .session import AzureSession

PROVIDER = "Microsoft"
SOURCE = "azure-retail-prices"
PRICES = "https://prices.azure.com"
SKUS_API = "2021-07-01"
MAX_AGE_DAYS = 7


def vm_sizes(az: AzureSession, sub: str, region: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for s in az.list(f"/subscriptions/{sub}/providers/Microsoft.Compute/skus", SKUS_API, "Resource SKUs",
                     **{"$filter": f"location eq '{region}'"}):
        if str(s.get("resourceType")).lower() != "virtualmachines" or not s.get("name"):
            continue
        caps = {str(c.get("name")): c.get("value") for c in s.get("capabilities") or []}
        out[str(s["name"])] = {"vcpu": _num(caps.get("vCPUs")), "memory_gib": _num(caps.get("MemoryGB")),
                               "family": s.get("family")}
    return out


def _num(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def retail_prices(client: RestClient, region: str) -> dict[str, tuple[int, str]]:
    """armSkuName -> (price nanos per hour, currency), Linux pay-as-you-go."""
    flt = f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and priceType eq 'Consumption'"
    out: dict[str, tuple[int, str]] = {}
    url: str = "/api/retail/prices"
    params: dict[str, Any] | None = {"$filter": flt}
    seen: set[str] = set()
    while True:
        resp = client.request("GET", url, params=params, op="Retail prices")
        data = json.loads(resp.text, parse_float=Decimal)
        for it in data.get("Items") or []:
            name = str(it.get("skuName") or "")
            if ("Windows" in str(it.get("productName") or "") or "Spot" in name or "Low Priority" in name
                    or it.get("unitOfMeasure") != "1 Hour" or not it.get("armSkuName")):
                continue
            out[str(it["armSkuName"])] = (to_nanos(Decimal(str(it.get("retailPrice")))),
                                          str(it.get("currencyCode") or "USD"))
        nxt = data.get("NextPageLink")
        if not nxt:
            return out
        if nxt in seen:
            raise HttpStepError("Azure Retail Prices: the server repeated a page link; stopped")
        seen.add(nxt)
        url, params = str(nxt), None


def sync_prices(ctx: SyncContext, az: AzureSession) -> int:
    conn = ctx.store.conn
    pairs = conn.execute(
        "SELECT DISTINCT sub_account_id, region_id FROM resources WHERE source_id=? AND provider_name=? "
        "AND resource_type='instance' AND region_id IS NOT NULL ORDER BY 2, 1", (ctx.source_id, PROVIDER)).fetchall()
    fresh_since = timeutil.iso(ctx.now - timedelta(days=MAX_AGE_DAYS))
    fresh = {r[0] for r in conn.execute("SELECT DISTINCT region_id FROM prices WHERE provider_name=? AND source=? "
                                        "AND fetched_at >= ?", (PROVIDER, SOURCE, fresh_since))}
    regions: dict[str, str] = {}
    for sub, region in pairs:
        if region not in fresh:
            regions.setdefault(region, sub)
    if not regions:
        return 0
    rows: list[dict[str, Any]] = []
    now = timeutil.iso(ctx.now)
    client = RestClient(az.options.prices_endpoint or PRICES, label="Azure Retail Prices", token=None,
                        counter=az.counter, max_attempts=az.options.max_attempts,
                        sleep=lambda s: az_session.SLEEP(s))
    try:
        for region, sub in regions.items():
            ctx.progress(f"prices {region}")
            sizes = vm_sizes(az, sub, region)
            for sku, (nanos, cur) in retail_prices(client, region).items():
                size = sizes.get(sku, {})
                rows.append({"provider_name": PROVIDER, "region_id": region, "sku": sku, "pricing_model": "on-demand",
                             "unit": "Hrs", "price_nanos": nanos, "currency": cur, "vcpu": size.get("vcpu"),
                             "memory_gib": size.get("memory_gib"), "family": size.get("family"),
                             "generation": None, "source": SOURCE, "fetched_at": now})
    finally:
        client.close()
    with ctx.store.transaction():
        return ctx.store.upsert("prices", rows, pk=("provider_name", "region_id", "sku", "pricing_model"))
