"""Azure costs at daily grain from the Cost Management query API.

`POST {scope}/providers/Microsoft.CostManagement/query?api-version=2023-11-01`, scope
`/subscriptions/{id}`, `timeframe = Custom`, `granularity = Daily`, one aggregation
`PreTaxCost` (Sum, in the billing currency; the answer's `Currency` column names it).
`ActualCost` is what is billed (billed_cost); `AmortizedCost` spreads reservation and savings plan
purchases over the usage they cover (effective_cost).

Why several queries per type, and why they reconcile to the cent. The API allows at most two
grouping clauses per query, but a cost row needs subscription, resource group, service, meter
category, region, resource id, resource type, pricing model and tags. Most of these are functions
of the resource id: the subscription is the query's scope; the resource group and the resource
type are parts of the id (the cache has no resource group column: it stays in resource_id); the tags and the name come from the Resource Manager resources list
(GET /subscriptions/{id}/resources, one cheap ARM request, not a Cost Management one); the service
(the meter category: in Cost Management the ServiceName dimension carries the meter category
names, "Virtual Machines", "Storage", "Bandwidth") is not, since a VM bills compute and bandwidth.
So per type and per month:

1. grouping [ResourceId, ServiceName]: the fact rows (day, resource, service) and their amounts;
   every amount written comes from this query, so totals by day, subscription, resource and service
   equal Azure's exactly;
2. grouping [ResourceId, PricingModel] and 3. [ResourceId, ResourceLocation]: for each (day,
   resource) the split of its cost by pricing model and by location. Almost always a (day,
   resource) has one of each, and the fact rows take it as is; when it has several (a VM half a
   day under a reservation; charges with no resource id), the (day, resource)'s fact rows are
   split across the marginal's values in proportion (`split_table`: cells rounded down in
   nano-units, the leftovers matched row to value), so each service row keeps its amount and each
   pricing model / location gets exactly its amount: the totals by service, by pricing model and
   by region all equal Azure's to the nano-unit. Only the pairing inside such a (day, resource)
   (which service went with which location) is an estimate, and no total depends on it. (With
   negative amounts in the group, or answers that changed between the queries, each row is split
   in proportion on its own: the service totals stay exact, the others within a few nano-units.)

Six queries per subscription and month (plus `nextLink` pages: a next page is the same body
POSTed to the link), one month per query because large daily answers page; an incremental sync of
the last days is six queries. Queries run one after the other and are spread (Cost Management's
limits are per tenant and per client): an answer saying the query-processing units are used up
(`x-ms-ratelimit-microsoft.costmanagement-qpu-remaining` 0) makes the next query wait the time it
names (`pace`), and a `429` with `Retry-After` / `x-ms-ratelimit-microsoft.costmanagement-*` is
waited by the REST client and counted.

Currency: each row keeps the currency Azure reports; amounts in different currencies are never
added (the currency is part of each row's key).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cache import CostRow
from cache.money import to_nanos
from providers.base import SyncContext
from providers.http import HttpStepError, retry_after

from .session import COST_API, RESOURCES_API, AzureSession

PROVIDER = "Microsoft"
TYPES = ("ActualCost", "AmortizedCost")
SPLITS = ("PricingModel", "ResourceLocation")

# Cost Management service names / meter categories -> FOCUS ServiceCategory
SERVICE_CATEGORIES: dict[str, str] = {
    "Virtual Machines": "Compute", "Virtual Machines Licenses": "Compute", "Azure App Service": "Web",
    "Functions": "Compute", "Container Instances": "Compute", "Azure Kubernetes Service": "Compute",
    "Container Registry": "Compute", "Cloud Services": "Compute", "Batch": "Compute",
    "Storage": "Storage", "Storage Accounts": "Storage", "Backup": "Storage", "Azure NetApp Files": "Storage",
    "SQL Database": "Databases", "Azure SQL Database": "Databases", "Azure Cosmos DB": "Databases",
    "Azure Database for PostgreSQL": "Databases", "Azure Database for MySQL": "Databases",
    "Redis Cache": "Databases", "Azure Cache for Redis": "Databases",
    "Bandwidth": "Networking", "Virtual Network": "Networking", "Load Balancer": "Networking",
    "VPN Gateway": "Networking", "Application Gateway": "Networking", "Azure DNS": "Networking",
    "Azure Front Door Service": "Networking", "Content Delivery Network": "Networking",
    "Azure Firewall": "Networking", "ExpressRoute": "Networking", "Network Watcher": "Networking",
    "Azure Monitor": "Management and Governance", "Log Analytics": "Management and Governance",
    "Insight and Analytics": "Management and Governance", "Advanced Threat Protection": "Security",
    "Key Vault": "Security", "Microsoft Defender for Cloud": "Security", "Azure Active Directory": "Identity",
    "Microsoft Entra ID": "Identity", "Azure OpenAI Service": "AI and Machine Learning",
    "Azure Machine Learning": "AI and Machine Learning", "Cognitive Services": "AI and Machine Learning",
    "Azure AI services": "AI and Machine Learning", "Azure Databricks": "Analytics",
    "Azure Synapse Analytics": "Analytics", "Azure Data Factory v2": "Analytics", "Event Hubs": "Analytics",
    "Service Bus": "Integration", "Logic Apps": "Integration", "Event Grid": "Integration",
    "API Management": "Integration",
}

# ARM resource types -> the resource_type names the views and rules use (as the demo writes them)
RESOURCE_TYPES: dict[str, str] = {
    "microsoft.compute/virtualmachines": "instance",
    "microsoft.compute/disks": "volume",
    "microsoft.network/publicipaddresses": "ip_address",
    "microsoft.compute/snapshots": "snapshot",
    "microsoft.compute/images": "image",
    "microsoft.sql/servers/databases": "sql_database",
    "microsoft.documentdb/databaseaccounts": "database_account",
    "microsoft.storage/storageaccounts": "storage_account",
    "microsoft.web/serverfarms": "app_service_plan",
}

PRICING = {"OnDemand": "Standard", "Reservation": "Committed", "SavingsPlan": "Committed", "Spot": "Dynamic"}
COMMITMENT_TYPES = {"Reservation": "Reservation", "SavingsPlan": "Savings Plan"}


def service_category(service: str | None) -> str:
    return SERVICE_CATEGORIES.get(service or "", "Other")


def arm_type(rid: str) -> str:
    """The ARM type of a resource id: /subscriptions/s/resourceGroups/g/providers/Ns/a/x/b/y -> ns/a/b."""
    parts = rid.strip("/").split("/")
    low = [p.lower() for p in parts]
    if "providers" not in low:
        return ""
    i = len(low) - 1 - low[::-1].index("providers")
    rest = parts[i + 1:]
    if not rest:
        return ""
    kinds = [rest[0]] + rest[1::2]
    return "/".join(kinds).lower()


def resource_group(rid: str) -> str | None:
    parts = rid.strip("/").split("/")
    for i, p in enumerate(parts[:-1]):
        if p.lower() == "resourcegroups":
            return parts[i + 1]
    return None


def resource_type(rid: str) -> str | None:
    t = arm_type(rid)
    return RESOURCE_TYPES.get(t, t) if t else None


# -- the query --------------------------------------------------------------------------------------


def month_chunks(window: tuple[date, date]) -> list[tuple[date, date]]:
    """[start, end) split at month boundaries."""
    out = []
    lo, hi = window
    while lo < hi:
        nxt = (lo.replace(day=1) + timedelta(days=32)).replace(day=1)
        out.append((lo, min(nxt, hi)))
        lo = nxt
    return out


def query_body(cost_type: str, chunk: tuple[date, date], group: str) -> dict[str, Any]:
    return {
        "type": cost_type,
        "timeframe": "Custom",
        "timePeriod": {"from": f"{chunk[0].isoformat()}T00:00:00+00:00",
                       "to": f"{(chunk[1] - timedelta(days=1)).isoformat()}T23:59:59+00:00"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "PreTaxCost", "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": "ResourceId"}, {"type": "Dimension", "name": group}],
        },
    }


def query_rows(az: AzureSession, sub: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each answer row as {column name: value} (amounts as Decimal), nextLink pages followed."""
    url = f"/subscriptions/{sub}/providers/Microsoft.CostManagement/query"
    params: dict[str, Any] | None = {"api-version": COST_API}
    seen: set[str] = set()
    while True:
        resp = az.arm.request("POST", url, json=body, params=params, op="CostManagement query")
        pace(az, resp.headers)
        if resp.status_code == 204 or not resp.content:
            return
        try:
            data = json.loads(resp.text, parse_float=Decimal)
        except ValueError:
            raise HttpStepError("Azure Cost Management query: the answer is not JSON") from None
        props = data.get("properties") if isinstance(data, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("columns"), list):
            raise HttpStepError("Azure Cost Management query: no properties.columns in the answer")
        names = [str(c.get("name")) for c in props["columns"] if isinstance(c, dict)]
        if (body.get("dataset") or {}).get("granularity") == "Daily" and "UsageDate" not in names:
            raise HttpStepError(f"Azure Cost Management query: the answer has no UsageDate column "
                                f"(columns: {', '.join(names)[:120]})")
        for row in props.get("rows") or []:
            yield dict(zip(names, row, strict=False))
        nxt = props.get("nextLink")
        if not nxt:
            return
        if nxt in seen:
            raise HttpStepError("Azure Cost Management query: the server repeated a page link; stopped")
        seen.add(nxt)
        url, params = nxt, None


QPU_REMAINING = "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"


def pace(az: AzureSession, headers: Any) -> None:
    """Spread the queries: when an answer says the query-processing units are used up
    (`x-ms-ratelimit-microsoft.costmanagement-qpu-remaining` 0, e.g. "QueryUsage=0") and how long
    until they come back (`...-qpu-retry-after` / Retry-After), wait that long (capped, recorded
    like a throttling wait) before the next query instead of running into 429s."""
    raw = headers.get(QPU_REMAINING)
    if raw is None:
        return
    m = re.search(r"(-?\d+(?:\.\d+)?)\s*$", str(raw))
    if m is None or float(m.group(1)) > 0:
        return
    wait = retry_after(headers)
    if wait:
        az.arm.wait(wait)


def _day(v: Any) -> date:
    s = str(v)
    if len(s) == 8 and s.isdigit():
        return date(int(s[:4]), int(s[4:6]), int(s[6:]))
    return date.fromisoformat(s[:10])


def _amount(r: dict[str, Any]) -> Decimal:
    for k in ("PreTaxCost", "Cost", "totalCost", "CostUSD"):
        if k in r and r[k] is not None:
            v = r[k]
            return v if isinstance(v, Decimal) else Decimal(str(v))
    return Decimal(0)


# -- splitting the fact rows by a marginal -----------------------------------------------------------

Key = tuple[date, str, str, str]  # day, resource id (lowercase), currency, service


def split(amount: int, parts: dict[str, int]) -> list[tuple[str, int]]:
    """`amount` (nanos) split in proportion to `parts` (nanos); the remainder on the largest part."""
    if len(parts) == 1:
        return [(next(iter(parts)), amount)]
    total = sum(parts.values())
    if total == 0:
        return [(max(parts, key=lambda k: (abs(parts[k]), k)), amount)]
    out = [(k, amount * v // total) for k, v in parts.items()]
    rest = amount - sum(a for _, a in out)
    big = max(range(len(out)), key=lambda i: (abs(parts[out[i][0]]), out[i][0]))
    out[big] = (out[big][0], out[big][1] + rest)
    return out


def split_table(rows: dict[Any, int], parts: dict[str, int]) -> dict[tuple[Any, str], int]:
    """Split each of `rows` (nanos) across `parts` so that every row keeps its amount AND every part
    gets exactly its amount (when the two add up to the same total and nothing is negative):
    proportional cells rounded down, then the leftover nano-units matched row to part."""
    if len(parts) == 1:
        p = next(iter(parts))
        return {(k, p): a for k, a in rows.items()}
    total = sum(parts.values())
    if (total <= 0 or total != sum(rows.values()) or min(parts.values()) < 0 or min(rows.values()) < 0):
        return {(k, p): a for k, a in rows.items() for p, a in split(a, parts)}
    cells = {(k, p): a * v // total for k, a in rows.items() for p, v in parts.items()}
    row_left = {k: a - sum(cells[(k, p)] for p in parts) for k, a in rows.items()}
    part_left = {p: v - sum(cells[(k, p)] for k in rows) for p, v in parts.items()}
    for k in rows:
        for p in parts:
            t = min(row_left[k], part_left[p])
            if t > 0:
                cells[(k, p)] += t
                row_left[k] -= t
                part_left[p] -= t
    return cells


def fetch_type(az: AzureSession, sub: str, chunk: tuple[date, date], cost_type: str,
               ) -> dict[tuple[date, str, str, str, str, str], int]:
    """(day, rid, currency, service, pricing model, location) -> nanos for one type and month."""
    facts: dict[Key, int] = defaultdict(int)
    rid_case: dict[str, str] = {}
    for r in query_rows(az, sub, query_body(cost_type, chunk, "ServiceName")):
        rid = str(r.get("ResourceId") or "")
        rid_case.setdefault(rid.lower(), rid)
        facts[(_day(r["UsageDate"]), rid.lower(), str(r.get("Currency") or ""), str(r.get("ServiceName") or ""))] \
            += to_nanos(_amount(r))
    marg: dict[str, dict[tuple[date, str, str], dict[str, int]]] = {}
    for dim in SPLITS:
        m: dict[tuple[date, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in query_rows(az, sub, query_body(cost_type, chunk, dim)):
            k = (_day(r["UsageDate"]), str(r.get("ResourceId") or "").lower(), str(r.get("Currency") or ""))
            m[k][str(r.get(dim) or "")] += to_nanos(_amount(r))
        marg[dim] = m
    groups: dict[tuple[date, str, str], dict[str, int]] = defaultdict(dict)
    for (day, rid, cur, svc), amt in facts.items():
        groups[(day, rid, cur)][svc] = amt
    out: dict[tuple[date, str, str, str, str, str], int] = defaultdict(int)
    for (day, rid, cur), by_svc in groups.items():
        pm = dict(marg["PricingModel"].get((day, rid, cur)) or {"": 0})
        loc = dict(marg["ResourceLocation"].get((day, rid, cur)) or {"": 0})
        by_pm = split_table(by_svc, pm)
        for ((svc, p), lo), b in split_table(by_pm, loc).items():
            out[(day, rid_case.get(rid, rid), cur, svc, p, lo)] += b
    return out


# -- the step ------------------------------------------------------------------------------------------


def resources_index(az: AzureSession, sub: str) -> dict[str, dict[str, Any]]:
    """lowercase resource id -> the ARM resource (id, name, type, location, tags)."""
    out = {}
    for res in az.list(f"/subscriptions/{sub}/resources", RESOURCES_API, "Resources list"):
        rid = str(res.get("id") or "")
        if rid:
            out[rid.lower()] = res
    return out


def subscription_name(az: AzureSession, sub: str) -> str | None:
    try:
        data = az.arm.get(f"/subscriptions/{sub}", params={"api-version": RESOURCES_API}, op="Subscriptions get")
    except HttpStepError:
        return None
    name = data.get("displayName") if isinstance(data, dict) else None
    return str(name) if name else None


def cost_rows(az: AzureSession, sub: str, window: tuple[date, date], progress: Any = None) -> list[CostRow]:
    index = resources_index(az, sub)
    sub_name = subscription_name(az, sub)
    merged: dict[tuple[date, str, str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for chunk in month_chunks(window):
        for i, cost_type in enumerate(TYPES):
            if progress:
                progress(f"{sub} {chunk[0]:%Y-%m} {cost_type}")
            for k, v in fetch_type(az, sub, chunk, cost_type).items():
                merged[k][i] += v
    rows = []
    for (day, rid, cur, svc, pm, loc), (billed, effective) in sorted(merged.items()):
        res = index.get(rid.lower()) if rid else None
        rid_out = str(res["id"]) if res else (rid or None)
        name = (str(res.get("name")) if res else rid.rsplit("/", 1)[-1]) if rid else None
        tags = res.get("tags") if res and isinstance(res.get("tags"), dict) else None
        purchase = not rid and pm in COMMITMENT_TYPES
        rows.append(CostRow(
            day=day, provider_name=PROVIDER, billing_account_id=None,
            sub_account_id=sub, sub_account_name=sub_name,
            service_name=svc or None, service_category=service_category(svc),
            region_id=(loc.lower().replace(" ", "") if loc else None) or None, region_name=loc or None,
            resource_id=rid_out, resource_name=name, resource_type=resource_type(rid_out) if rid_out else None,
            charge_category="Purchase" if purchase else "Usage",
            pricing_category=PRICING.get(pm) if pm else None,
            commitment_discount_type=COMMITMENT_TYPES.get(pm) if not purchase else None,
            billing_currency=cur or "USD", tags=tags,
            billed_cost=billed, effective_cost=effective, list_cost=billed, contracted_cost=billed,
        ))
    return rows


def sync_costs(ctx: SyncContext, az: AzureSession) -> int:
    if az.options.cost_source == "export":
        from .export import sync_export

        return sync_export(ctx, az)
    rows: list[CostRow] = []
    for sub in az.options.subscriptions:
        rows.extend(cost_rows(az, sub, ctx.cost_window, ctx.progress))
    ctx.detail["cost_queries"] = ctx.counter.by_operation.get("CostManagement query", 0)
    return ctx.write_costs(rows)
