"""On-demand prices of the instance types this source runs, from the AWS Price List API.

* Which: the distinct (region, instance type) pairs of this source's `instance` resources (the
  inventory step runs first), and of its SageMaker executors' ml.* types (service
  AmazonSageMaker, component Training).
* Cache: a price fetched less than `price_max_age_days` (default 7) ago is not fetched again.
* How: `pricing` client on its us-east-1 endpoint, GetProducts (paginated) with TERM_MATCH
  filters. EC2: instanceType, regionCode, operatingSystem=Linux, tenancy=Shared,
  preInstalledSw=NA, capacitystatus=Used, licenseModel="No License required". Each PriceList
  item is a JSON string; the price is terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD
  (unit "Hrs"), parsed as an exact Decimal into nano-units.
* Row (`prices`): provider "AWS", region_id, sku = the instance type, pricing_model
  "on-demand", unit, price_nanos, vcpu, memory_gib, family = instanceFamily ("General
  purpose"), generation "current"/"previous" (currentGeneration Yes/No), source
  "aws-pricing-api", fetched_at = ctx.now. A type the API does not price is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cache import timeutil
from cache.money import to_nanos
from providers.base import SyncContext

from .inventory import PROVIDER, pages
from .session import AwsSession

SOURCE = "aws-pricing-api"
MAX_AGE_DAYS = 7
EC2_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


@dataclass(slots=True)
class Price:
    region_id: str
    sku: str
    price_nanos: int
    unit: str = "Hrs"
    currency: str = "USD"
    vcpu: float | None = None
    memory_gib: float | None = None
    family: str | None = None
    generation: str | None = None


def _filters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in values.items()]


def _number(text: Any) -> float | None:
    m = re.search(r"[\d.,]+", str(text or ""))
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def parse_price_item(item: str | dict[str, Any], region: str, sku: str) -> Price | None:
    """One PriceList entry (a JSON string) -> Price, or None without a positive USD hourly price."""
    doc = json.loads(item) if isinstance(item, str) else item
    attrs = (doc.get("product") or {}).get("attributes") or {}
    best: tuple[Decimal, str] | None = None
    for term in ((doc.get("terms") or {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            try:
                amount = Decimal(str(usd))
            except (InvalidOperation, TypeError):
                continue
            if amount > 0 and (best is None or amount < best[0]):
                best = (amount, dim.get("unit") or "Hrs")
    if best is None:
        return None
    gen = attrs.get("currentGeneration")
    return Price(
        region_id=region,
        sku=sku,
        price_nanos=to_nanos(best[0]),
        unit=best[1],
        vcpu=_number(attrs.get("vcpu")),
        memory_gib=_number(attrs.get("memory")),
        family=attrs.get("instanceFamily") or attrs.get("instance") or None,
        generation={"Yes": "current", "No": "previous"}.get(gen or "", gen),
    )


def fetch_price(pricing: Any, region: str, instance_type: str) -> Price | None:
    """The Linux shared-tenancy on-demand price of one type in one region (EC2 or SageMaker)."""
    kw: dict[str, Any]
    if instance_type.startswith("ml."):
        kw = {"ServiceCode": "AmazonSageMaker",
              "Filters": _filters({"instanceName": instance_type, "regionCode": region, "component": "Training"})}
    else:
        kw = {"ServiceCode": "AmazonEC2",
              "Filters": _filters({"instanceType": instance_type, "regionCode": region, **EC2_FILTERS})}
    found = [p for item in pages(pricing, "get_products", "PriceList", **kw)
             if (p := parse_price_item(item, region, instance_type)) is not None]
    # Several products can match (e.g. reserved capacity variants): the cheapest on-demand rate.
    return min(found, key=lambda p: p.price_nanos) if found else None


def wanted(ctx: SyncContext, max_age_days: int = MAX_AGE_DAYS) -> list[tuple[str, str]]:
    """(region, type) pairs of this source that have no price younger than the max age."""
    fresh_after = timeutil.iso(ctx.now - timedelta(days=max_age_days))
    rows = ctx.store.conn.execute(
        """SELECT DISTINCT region_id, instance_type FROM resources
           WHERE source_id=? AND provider_name=? AND resource_type='instance' AND instance_type IS NOT NULL
           UNION
           SELECT DISTINCT e.region_id, e.instance_type FROM ml_executors e JOIN ml_runs r ON r.run_id=e.run_id
           WHERE r.source_id=? AND e.provider_name=? AND e.instance_type LIKE 'ml.%'""",
        (ctx.source_id, PROVIDER, ctx.source_id, PROVIDER),
    ).fetchall()
    out = []
    for region, itype in sorted((r[0] or "", r[1]) for r in rows):
        if not region or not itype:
            continue
        fresh = ctx.store.conn.execute(
            "SELECT 1 FROM prices WHERE provider_name=? AND region_id=? AND sku=? AND pricing_model='on-demand' "
            "AND fetched_at>=?",
            (PROVIDER, region, itype, fresh_after),
        ).fetchone()
        if not fresh:
            out.append((region, itype))
    return out


def write_prices(ctx: SyncContext, prices: Sequence[Price]) -> int:
    fetched = timeutil.iso(ctx.now)
    with ctx.store.transaction():
        return ctx.store.upsert("prices", [
            {"provider_name": PROVIDER, "region_id": p.region_id, "sku": p.sku, "pricing_model": "on-demand",
             "unit": p.unit, "price_nanos": p.price_nanos, "currency": p.currency, "vcpu": p.vcpu,
             "memory_gib": p.memory_gib, "family": p.family, "generation": p.generation, "source": SOURCE,
             "fetched_at": fetched}
            for p in prices
        ], pk=("provider_name", "region_id", "sku", "pricing_model"))


def sync_prices(ctx: SyncContext, aws: AwsSession) -> int:
    """Step: prices of the types seen that are missing or older than the max age."""
    todo = wanted(ctx, aws.options.price_max_age_days)
    if not todo:
        return 0
    pricing = aws.client("pricing", "us-east-1")
    found: list[Price] = []
    for i, (region, itype) in enumerate(todo, 1):
        ctx.progress(detail=f"prices {i}/{len(todo)}")
        p = fetch_price(pricing, region, itype)
        if p is not None:
            found.append(p)
    return write_prices(ctx, found)


__all__ = ["Price", "fetch_price", "parse_price_item", "sync_prices", "wanted", "write_prices"]
