"""Everything billed that is not a VM, a disk or an address: managed services, usage flows, support and tax.

- `managed`: resource-level managed services with inventory rows: hourly-priced ones
  (estate.HOURLY_SERVICES: databases, caches, a warehouse, endpoints) and usage-priced ones
  (estate.USAGE_RESOURCES: buckets, tables, CDNs, load balancers, NAT gateways, ...).
- `flows`: spend with no resource (estate.FLOWS: data transfer, logs, serverless, queries, AI APIs)
  with the injected spikes of anomalies.py; then AWS Business support (7 % of the day's AWS usage)
  and US sales tax, both billed to the payer. It runs last of the cost generators: support is a
  share of every AWS usage row generated before it.
"""

from __future__ import annotations

from typing import Any

from cache.money import NANOS

from .catalog import ACCOUNTS, AWS, AZURE, HOURS_PER_MONTH, N_DAYS, USAGE_SCALE, Account, price
from .core import Gen
from .estate import FLOWS, HOURLY_SERVICES, USAGE_RESOURCES, HourlyService, UsageResource


def managed(g: Gen) -> None:
    for svc in HOURLY_SERVICES:
        _hourly(g, svc)
    for res in USAGE_RESOURCES:
        _usage_priced(g, res)


def _hourly(g: Gen, svc: HourlyService) -> None:
    """Nodes x hours at the catalog price, plus allocated storage; one resource row."""
    acct, region, name, rtype, props = ACCOUNTS[svc.account], svc.region, svc.name, svc.rtype, svc.props
    arn_kind = {"db_instance": ("rds", "db"), "cache_cluster": ("elasticache", "cluster"),
                "warehouse_cluster": ("redshift", "cluster"), "endpoint": ("sagemaker", "endpoint")}[rtype]
    rid = f"arn:aws:{arn_kind[0]}:{region}:{acct.sub_id}:{arn_kind[1]}:{name}"
    if rtype == "endpoint":
        rid = f"arn:aws:sagemaker:{region}:{acct.sub_id}:endpoint/{name}"
    hourly = price(AWS, svc.sku, region)
    storage = props.get("allocated_gib", 0) * (0.23 if props.get("multi_az") else 0.115) * 24 / HOURS_PER_MONTH
    for i in range(N_DAYS):
        g.cost(i, acct, svc.service, region, hourly * svc.nodes * 24 + storage, rid=rid, rname=name, rtype=rtype,
               tags=svc.tags, qty=svc.nodes * 24.0)
    g.resource(acct, rid, rtype, region, name=name, state="available", created=g.at(-g.rng.randint(90, 900), 11),
               tags=svc.tags, itype=svc.sku, props={**props, "instance_class": svc.sku})


def _usage_priced(g: Gen, res: UsageResource) -> None:
    """Daily usage that grows (stored data a bit faster and steadier); most created before the window."""
    rng = g.rng
    acct = ACCOUNTS[res.account]
    rid = _managed_id(acct, res.region, res.rtype, res.name)
    created_idx = -rng.randint(60, 900) if rng.random() < 0.85 else rng.randint(5, 60)
    storage_like = res.rtype in ("bucket", "storage_account")
    base = res.usd_per_day * USAGE_SCALE
    for i in range(max(0, created_idx), N_DAYS):
        if storage_like:  # stored data grows a bit faster than the rest and barely fluctuates
            amount = base * g.growth[i] ** 1.2 * g.noise(0.01)
        else:
            amount = base * g.usage(i, res.weekend_drop, 0.05)
        g.cost(i, acct, res.service, res.region, amount, rid=rid, rname=res.name, rtype=res.rtype, tags=res.tags)
    g.resource(acct, rid, res.rtype, res.region, name=res.name, state="available",
               created=g.at(created_idx, rng.uniform(8, 18)), tags=res.tags,
               props=_managed_props(g, res.rtype, res.name))


def _managed_id(acct: Account, region: str, rtype: str, name: str) -> str:
    if acct.provider == AWS:
        if rtype == "bucket":
            return name
        if rtype == "table":
            return f"arn:aws:dynamodb:{region}:{acct.sub_id}:table/{name}"
        if rtype == "distribution":
            return f"arn:aws:cloudfront::{acct.sub_id}:distribution/{name}"
        if rtype == "load_balancer":
            return f"arn:aws:elasticloadbalancing:{region}:{acct.sub_id}:loadbalancer/{name}"
        if rtype == "kubernetes_cluster":
            return f"arn:aws:eks:{region}:{acct.sub_id}:cluster/{name}"
        return name  # nat gateway ids
    if acct.provider == AZURE:
        kind = {"sql_database": "Microsoft.Sql/servers/sql-acme/databases", "database_account":
                "Microsoft.DocumentDB/databaseAccounts", "storage_account": "Microsoft.Storage/storageAccounts",
                "app_service_plan": "Microsoft.Web/serverFarms"}[rtype]
        return f"/subscriptions/{acct.sub_id}/resourceGroups/rg-{name.split('-')[0]}/providers/{kind}/{name}"
    if rtype == "bucket":
        return f"//storage.googleapis.com/projects/_/buckets/{name}"
    return f"//cloudsql.googleapis.com/projects/{acct.sub_id}/instances/{name}"


def _managed_props(g: Gen, rtype: str, name: str) -> dict[str, Any]:
    rng = g.rng
    if rtype == "bucket":
        return {"storage_class": "STANDARD", "versioning": rng.random() < 0.5,
                "lifecycle_rules": rng.randint(0, 3)}
    if rtype == "load_balancer":
        return {"type": "application", "scheme": "internet-facing" if "staging" not in name else "internal",
                "target_groups": 0 if "staging" in name else rng.randint(1, 4)}
    if rtype == "nat_gateway":
        return {"connectivity_type": "public"}
    return {}


def flows(g: Gen) -> None:
    """Non-resource spend: data transfer, logs, serverless, support, tax..."""
    aws_usage_by_day = [0.0] * N_DAYS
    for r in g.costs[AWS]:
        if r.charge_category == "Usage":
            aws_usage_by_day[(r.day - g.start).days] += r.billed_cost / NANOS
    for flow in FLOWS:
        acct, region, service = ACCOUNTS[flow.account], flow.region, flow.service
        base = flow.usd_per_day * USAGE_SCALE
        spikes = g.spikes.get((acct.sub_id, service, region or ""), {})
        for i in range(N_DAYS):
            amount = base * g.usage(i, flow.weekend_drop, flow.noise) * spikes.get(i, 1.0)
            g.cost(i, acct, service, region, amount, tags=flow.tags)
            if acct.provider == AWS:
                aws_usage_by_day[i] += amount
    # AWS Business support: a share of the day's usage; US sales tax on it, both billed to the payer
    payer = ACCOUNTS["payer"]
    for i in range(N_DAYS):
        support = aws_usage_by_day[i] * 0.07
        g.cost(i, payer, "AWS Support (Business)", None, support)
        g.cost(i, payer, "Tax", None, (aws_usage_by_day[i] + support) * 0.0625, charge="Tax", pricing=None)
