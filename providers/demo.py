"""The deterministic demo snapshot: 120 days of plausible multi-cloud and ML spend.

`generate(store, as_of, seed)` wipes the cache (every row of every table but
`meta.schema_version`) and writes, in ONE transaction and through the store's normal
write path (`replace_costs`, `replace_where`), a coherent picture of a mid-sized
company on AWS, Azure ("Microsoft"), Google Cloud and one Kubernetes cluster whose
costs are an OpenCost-style *allocation* of node spend (so they double-count part of
AWS EC2, as real allocations do; the source options and billing account name say so).

Same `as_of` + `seed` -> byte-identical tables: everything random comes from one
`random.Random(seed)` drawn in a fixed order, and every instant is derived from `as_of`
(never the wall clock), except `meta.snapshot_time`, which is `as_of` 06:00 UTC capped
at `timeutil.now()` (instants after it are capped the same way).

What is in it, so views and rules have data from day one:
- costs at daily grain, FOCUS semantics: `list >= billed`; commitment-covered usage has
  billed 0, effective = amortized rate (status "Used", pricing "Committed"); unused
  commitment is a row with status "Unused"; recurring commitment fees are "Purchase"
  rows (effective 0); spot is pricing "Dynamic"; Azure rows carry a 5 % EA discount
  (contracted = billed < list); support and tax are non-resource rows.
- growth ~ +8 %/month (a growing fleet plus usage growth), a weekday/weekend rhythm and
  injected anomalies, listed in `meta.demo_anomalies` (JSON) and `DemoSummary.anomalies`.
- inventory (`resources`) whose ids match the cost rows, with the waste the rules look
  for; daily utilization `metrics` for the last 30 days; on-demand `prices`;
  `commitments` and per-day `commitment_usage`; ML runs with executors, metrics and
  params; budgets, exclusions, past audit `actions`, sources and sync runs.
- derived tables (recommendations, anomalies) stay empty: analysis computes them.

Conventions (so the demo exercises the same paths as real data):
- AWS rows mirror what providers/aws/ writes (inventory.py, metrics.py, ml.py,
  commitments.py): EC2 states and property names, resource_type instance | volume |
  snapshot | image | elastic_ip | security_group, metrics "cpu" / "network_in" /
  "network_out" (daily, ts = the day's 00:00 UTC), SageMaker runs keyed by job ARN, ML run
  statuses running | completed | failed | stopped (for every task), RI/SP `hourly_commitment_nanos` = recurring charge x count, and the
  "ri-total:<account>" / "sp-total:<account>" daily rows in commitment_usage.
- other providers use the same vocabulary where it exists (instance, volume, image) plus
  ip_address, db_instance, bucket, load_balancer, nat_gateway, distribution, table,
  cache_cluster, warehouse_cluster, kubernetes_cluster, endpoint, ml_compute,
  storage_account, sql_database, database_account, app_service_plan, workload; instance
  states running | stopped | deallocated (an Azure VM "stopped" from the guest OS still
  bills compute); a disk is unattached when attached_to is NULL, and
  properties.detached_at says since when (all providers, demo only: EC2 does not report it).
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cache import CostRow, Store, timeutil
from cache.money import NANOS, fmt

from .errors import InputError

DEMO_KIND = "demo"
N_DAYS = 120
GROWTH_PER_MONTH = 0.08
METRIC_DAYS = 30
HOURS_PER_MONTH = 730.0

AWS, AZURE, GCP, K8S = "AWS", "Microsoft", "Google Cloud", "Kubernetes"
PROVIDERS = (AWS, AZURE, GCP, K8S)
SOURCE_NAMES = {AWS: "demo-aws", AZURE: "demo-azure", GCP: "demo-gcp", K8S: "demo-kubernetes"}

# Tables the demo wipes, children before parents (foreign keys are on).
_WIPE_FIRST = ("ml_executors", "ml_run_metrics", "ml_run_params", "ml_runs", "tag_index", "costs",
               "cost_summary", "sync_runs", "imports")

# -- accounts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Acct:
    provider: str
    billing_id: str
    billing_name: str
    sub_id: str
    sub_name: str


_AWS_PAYER = ("529384716203", "Acme Corp (payer)")
_AZ_BILLING = ("84721963", "Acme Corp EA 84721963")
_GCP_BILLING = ("01A7C3-5E92B4-D8F061", "Acme Corp GCP billing")
_K8S_CLUSTER = ("eks-prod-use1", "eks-prod-use1 (Kubernetes cost allocation)")

ACCOUNTS: dict[str, _Acct] = {
    "payer": _Acct(AWS, *_AWS_PAYER, *_AWS_PAYER),
    "prod": _Acct(AWS, *_AWS_PAYER, "381492750164", "acme-prod"),
    "staging": _Acct(AWS, *_AWS_PAYER, "604817293552", "acme-staging"),
    "ml": _Acct(AWS, *_AWS_PAYER, "775031649218", "acme-data-ml"),
    "az-prod": _Acct(AZURE, *_AZ_BILLING, "3f9c2a71-5b8e-4d06-9a1c-7e24b5d08f13", "acme-azure-prod"),
    "az-dev": _Acct(AZURE, *_AZ_BILLING, "b6e0d4c2-19a7-4f3e-8c55-02d9e6a1f7b4", "acme-azure-dev"),
    "gcp-analytics": _Acct(GCP, *_GCP_BILLING, "acme-analytics-prod", "Acme Analytics (prod)"),
    "gcp-ml": _Acct(GCP, *_GCP_BILLING, "acme-ml-research", "Acme ML Research"),
    "k8s-checkout": _Acct(K8S, *_K8S_CLUSTER, "eks-prod-use1/checkout", "checkout"),
    "k8s-search": _Acct(K8S, *_K8S_CLUSTER, "eks-prod-use1/search", "search"),
    "k8s-ml-serving": _Acct(K8S, *_K8S_CLUSTER, "eks-prod-use1/ml-serving", "ml-serving"),
    "k8s-platform": _Acct(K8S, *_K8S_CLUSTER, "eks-prod-use1/platform", "platform"),
}

REGIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "Europe (Ireland)",
    "eu-central-1": "Europe (Frankfurt)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "eastus": "East US",
    "westeurope": "West Europe",
    "us-central1": "Iowa",
    "europe-west4": "Netherlands",
}
_REGION_PRICE = {"us-east-1": 1.0, "us-west-2": 1.0, "eu-west-1": 1.11, "eu-central-1": 1.15,
                 "ap-southeast-1": 1.25, "eastus": 1.0, "westeurope": 1.12, "us-central1": 1.0,
                 "europe-west4": 1.1}

# FOCUS ServiceCategory of every service the demo bills.
SERVICES: dict[str, str] = {
    # AWS
    "Amazon Elastic Compute Cloud": "Compute",
    "Amazon Simple Storage Service": "Storage",
    "Amazon Relational Database Service": "Databases",
    "Amazon DynamoDB": "Databases",
    "Amazon ElastiCache": "Databases",
    "Amazon Redshift": "Analytics",
    "Amazon Athena": "Analytics",
    "AWS Lambda": "Compute",
    "Amazon Elastic Kubernetes Service": "Compute",
    "Amazon CloudFront": "Networking",
    "Elastic Load Balancing": "Networking",
    "Amazon Virtual Private Cloud": "Networking",
    "AWS Data Transfer": "Networking",
    "Amazon Route 53": "Networking",
    "AmazonCloudWatch": "Management and Governance",
    "AWS Key Management Service": "Security",
    "AWS Secrets Manager": "Security",
    "Amazon Simple Queue Service": "Integration",
    "Amazon SageMaker": "AI and Machine Learning",
    "Savings Plans for AWS Compute usage": "Compute",
    "AWS Support (Business)": "Other",
    "Tax": "Other",
    # Microsoft
    "Virtual Machines": "Compute",
    "Storage": "Storage",
    "Storage Accounts": "Storage",
    "Azure SQL Database": "Databases",
    "Azure Cosmos DB": "Databases",
    "Azure App Service": "Web",
    "Azure Monitor": "Management and Governance",
    "Bandwidth": "Networking",
    "Virtual Network": "Networking",
    "Key Vault": "Security",
    "Azure OpenAI Service": "AI and Machine Learning",
    "Azure Machine Learning": "AI and Machine Learning",
    # Google Cloud
    "Compute Engine": "Compute",
    "Cloud Storage": "Storage",
    "BigQuery": "Analytics",
    "Cloud SQL": "Databases",
    "Vertex AI": "AI and Machine Learning",
    "Cloud Logging": "Management and Governance",
    "Cloud Run": "Compute",
    "Cloud Pub/Sub": "Integration",
    "Networking": "Networking",
    # Kubernetes allocation
    "Kubernetes CPU": "Compute",
    "Kubernetes Memory": "Compute",
    "Kubernetes GPU": "Compute",
    "Kubernetes Persistent Volume": "Storage",
    "Kubernetes Load Balancer": "Networking",
    "Kubernetes Network": "Networking",
}

# -- price catalogs: sku -> (USD per hour in the cheapest region, vCPU, memory GiB, family, generation)
_Price = tuple[float, float, float, str, str]
_AWS_EC2: dict[str, _Price] = {
    "t2.medium": (0.0464, 2, 4, "t2", "previous"), "t2.large": (0.0928, 2, 8, "t2", "previous"),
    "t3.medium": (0.0416, 2, 4, "t3", "current"), "t3.large": (0.0832, 2, 8, "t3", "current"),
    "t3.xlarge": (0.1664, 4, 16, "t3", "current"),
    "m4.large": (0.10, 2, 8, "m4", "previous"), "m4.xlarge": (0.20, 4, 16, "m4", "previous"),
    "m4.2xlarge": (0.40, 8, 32, "m4", "previous"), "m4.4xlarge": (0.80, 16, 64, "m4", "previous"),
    "m5.large": (0.096, 2, 8, "m5", "current"), "m5.xlarge": (0.192, 4, 16, "m5", "current"),
    "m5.2xlarge": (0.384, 8, 32, "m5", "current"), "m5.4xlarge": (0.768, 16, 64, "m5", "current"),
    "m5.8xlarge": (1.536, 32, 128, "m5", "current"),
    "m6i.large": (0.096, 2, 8, "m6i", "current"), "m6i.xlarge": (0.192, 4, 16, "m6i", "current"),
    "m6i.2xlarge": (0.384, 8, 32, "m6i", "current"), "m6i.4xlarge": (0.768, 16, 64, "m6i", "current"),
    "c4.xlarge": (0.199, 4, 7.5, "c4", "previous"), "c4.2xlarge": (0.398, 8, 15, "c4", "previous"),
    "c4.4xlarge": (0.796, 16, 30, "c4", "previous"),
    "c5.large": (0.085, 2, 4, "c5", "current"), "c5.xlarge": (0.17, 4, 8, "c5", "current"),
    "c5.2xlarge": (0.34, 8, 16, "c5", "current"), "c5.4xlarge": (0.68, 16, 32, "c5", "current"),
    "c6i.large": (0.085, 2, 4, "c6i", "current"), "c6i.xlarge": (0.17, 4, 8, "c6i", "current"),
    "c6i.2xlarge": (0.34, 8, 16, "c6i", "current"), "c6i.4xlarge": (0.68, 16, 32, "c6i", "current"),
    "r4.large": (0.133, 2, 15.25, "r4", "previous"), "r4.xlarge": (0.266, 4, 30.5, "r4", "previous"),
    "r4.2xlarge": (0.532, 8, 61, "r4", "previous"),
    "r5.large": (0.126, 2, 16, "r5", "current"), "r5.xlarge": (0.252, 4, 32, "r5", "current"),
    "r5.2xlarge": (0.504, 8, 64, "r5", "current"), "r5.4xlarge": (1.008, 16, 128, "r5", "current"),
    "r6i.large": (0.126, 2, 16, "r6i", "current"), "r6i.xlarge": (0.252, 4, 32, "r6i", "current"),
    "r6i.2xlarge": (0.504, 8, 64, "r6i", "current"), "r6i.4xlarge": (1.008, 16, 128, "r6i", "current"),
    "g4dn.xlarge": (0.526, 4, 16, "g4dn", "current"), "g4dn.2xlarge": (0.752, 8, 32, "g4dn", "current"),
    "g4dn.4xlarge": (1.204, 16, 64, "g4dn", "current"),
    "p3.2xlarge": (3.06, 8, 61, "p3", "current"), "p3.8xlarge": (12.24, 32, 244, "p3", "current"),
}
_AWS_ML: dict[str, _Price] = {
    "ml.m5.large": (0.115, 2, 8, "ml.m5", "current"), "ml.m5.xlarge": (0.23, 4, 16, "ml.m5", "current"),
    "ml.m5.2xlarge": (0.461, 8, 32, "ml.m5", "current"),
    "ml.g4dn.xlarge": (0.736, 4, 16, "ml.g4dn", "current"),
    "ml.p3.2xlarge": (3.825, 8, 61, "ml.p3", "current"), "ml.p3.8xlarge": (14.688, 32, 244, "ml.p3", "current"),
}
_AWS_DB: dict[str, _Price] = {
    "db.t3.medium": (0.068, 2, 4, "db.t3", "current"),
    "db.m4.large": (0.175, 2, 8, "db.m4", "previous"), "db.m5.large": (0.171, 2, 8, "db.m5", "current"),
    "db.m5.xlarge": (0.342, 4, 16, "db.m5", "current"),
    "db.r5.large": (0.25, 2, 16, "db.r5", "current"), "db.r5.xlarge": (0.50, 4, 32, "db.r5", "current"),
    "db.r5.2xlarge": (1.00, 8, 64, "db.r5", "current"),
    "cache.r6g.large": (0.206, 2, 13.07, "cache.r6g", "current"),
    "cache.r6g.xlarge": (0.411, 4, 26.32, "cache.r6g", "current"),
    "ra3.4xlarge": (3.26, 12, 96, "ra3", "current"),
}
_AZURE_VM: dict[str, _Price] = {
    "Standard_B2ms": (0.0832, 2, 8, "Bs", "current"), "Standard_B4ms": (0.166, 4, 16, "Bs", "current"),
    "Standard_D2s_v3": (0.096, 2, 8, "Dsv3", "previous"), "Standard_D4s_v3": (0.192, 4, 16, "Dsv3", "previous"),
    "Standard_D8s_v3": (0.384, 8, 32, "Dsv3", "previous"),
    "Standard_D2s_v5": (0.096, 2, 8, "Dsv5", "current"), "Standard_D4s_v5": (0.192, 4, 16, "Dsv5", "current"),
    "Standard_D8s_v5": (0.384, 8, 32, "Dsv5", "current"),
    "Standard_E4s_v3": (0.252, 4, 32, "Esv3", "previous"), "Standard_E8s_v3": (0.504, 8, 64, "Esv3", "previous"),
    "Standard_E4s_v5": (0.252, 4, 32, "Esv5", "current"), "Standard_E8s_v5": (0.504, 8, 64, "Esv5", "current"),
    "Standard_F4s_v2": (0.169, 4, 8, "Fsv2", "current"), "Standard_F8s_v2": (0.338, 8, 16, "Fsv2", "current"),
    "Standard_NC4as_T4_v3": (0.526, 4, 28, "NCasT4_v3", "current"),
    "Standard_NC6s_v3": (3.06, 6, 112, "NCv3", "current"),
}
_GCP_VM: dict[str, _Price] = {
    "e2-medium": (0.0335, 2, 4, "e2", "current"), "e2-standard-2": (0.067, 2, 8, "e2", "current"),
    "e2-standard-4": (0.134, 4, 16, "e2", "current"), "e2-standard-8": (0.268, 8, 32, "e2", "current"),
    "n1-standard-2": (0.095, 2, 7.5, "n1", "previous"), "n1-standard-4": (0.19, 4, 15, "n1", "previous"),
    "n1-standard-8": (0.38, 8, 30, "n1", "previous"),
    "n2-standard-2": (0.0971, 2, 8, "n2", "current"), "n2-standard-4": (0.1942, 4, 16, "n2", "current"),
    "n2-standard-8": (0.3885, 8, 32, "n2", "current"), "n2-standard-16": (0.7769, 16, 64, "n2", "current"),
    "n2-highmem-2": (0.131, 2, 16, "n2", "current"), "n2-highmem-4": (0.262, 4, 32, "n2", "current"),
    "a2-highgpu-1g": (3.673, 12, 85, "a2", "current"),
}
_CATALOG = {AWS: {**_AWS_EC2, **_AWS_ML, **_AWS_DB}, AZURE: _AZURE_VM, GCP: _GCP_VM}
_SPOT_FACTOR = 0.32
_EA_DISCOUNT = 0.95  # Azure EA: billed = 95 % of list
_USAGE_SCALE = 1.7  # calibrates usage-priced services to a ~$150-250k/month company


def _price(provider: str, sku: str, region: str) -> float:
    """USD per hour, rounded to 4 places like a public price list."""
    return round(_CATALOG[provider][sku][0] * _REGION_PRICE[region], 4)


def _sg_rule(protocol: str, lo: int | None, hi: int | None, cidrs: list[str],
             cidrs6: list[str] | None = None) -> dict[str, Any]:
    """A security-group ingress rule shaped like providers/aws/inventory.py writes it."""
    return {"protocol": protocol, "from_port": lo, "to_port": hi, "cidrs": cidrs, "ipv6_cidrs": cidrs6 or [],
            "groups": [], "prefix_lists": [], "world": any(c in ("0.0.0.0/0", "::/0") for c in cidrs + (cidrs6 or []))}


def _m(usd: float) -> int:
    """Dollars (float arithmetic of the generator) -> integer nano-units, stored exactly from here on."""
    return int(round(usd * NANOS))


# -- the summary ----------------------------------------------------------------------


@dataclass(slots=True)
class DemoSummary:
    as_of: date
    seed: int
    days: int
    providers: int
    accounts: int
    services: int
    regions: int
    cost_rows: int
    resources: int
    runs: int
    total_billed: int  # nano-units, USD
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"demo as of {self.as_of} (seed {self.seed}): {self.days} days, {self.providers} providers, "
            f"{self.accounts} accounts, {self.services} services, {self.regions} regions, "
            f"{self.cost_rows:,} cost rows, {self.resources} resources, {self.runs} ML runs, "
            f"{fmt(self.total_billed, 'USD')} billed"
        )


# -- the generator ----------------------------------------------------------------------


@dataclass(slots=True)
class _Inst:
    provider: str
    acct: _Acct
    region: str
    zone: str
    rid: str
    name: str
    itype: str
    service: str
    lifecycle: str  # on-demand | spot
    schedule: str  # always | business | autoscale
    profile: str  # idle | normal | busy | oversized
    launch_idx: int  # day index of launch (negative: before the window)
    launch_hour: int
    stop_idx: int | None  # day it stopped running (None: running)
    billed_when_stopped: bool  # Azure "stopped" (not deallocated) keeps billing compute
    state: str
    tags: dict[str, str] | None
    props: dict[str, Any]
    od_price: float = 0.0
    hours: list[float] = field(default_factory=list)
    run_hours: list[float] = field(default_factory=list)


@dataclass(slots=True)
class _Commit:
    provider: str
    cid: str
    ctype: str
    name: str
    acct: _Acct  # owner
    region: str | None
    itype: str | None
    count: int
    od_price: float  # per instance hour (count-based) ; 0 for spend-based
    eff_rate: float  # effective $ per instance hour (count-based) or SP discount factor
    recurring_rate: float  # billed $ per instance hour (count-based) or per hour (SP)
    fee_cadence: str  # monthly | daily
    fee_service: str
    payment: str
    term_months: int
    start: datetime
    end: datetime
    hourly_commitment: float = 0.0  # SP: $ per hour committed
    upfront: float = 0.0
    scope: str = "Region"
    props: dict[str, Any] = field(default_factory=dict)
    # per day: covered instance-hours (count-based) or covered on-demand $ (SP), eligible totals
    covered: list[float] = field(default_factory=list)
    used_eff: list[float] = field(default_factory=list)
    eligible: list[float] = field(default_factory=list)
    covered_od: list[float] = field(default_factory=list)


class _Gen:
    def __init__(self, as_of: date, seed: int, snap: datetime) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.as_of = as_of
        self.start = as_of - timedelta(days=N_DAYS - 1)
        self.days = [self.start + timedelta(days=i) for i in range(N_DAYS)]
        self.day_str = [d.isoformat() for d in self.days]
        self.weekend = [d.weekday() >= 5 for d in self.days]
        self.growth = [(1 + GROWTH_PER_MONTH) ** ((i - (N_DAYS - 1)) / 30.4375) for i in range(N_DAYS)]
        self.snap = snap
        self.costs: dict[str, list[CostRow]] = {p: [] for p in PROVIDERS}
        self.resources: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.insts: list[_Inst] = []
        self.commits: list[_Commit] = []
        self.anomalies: list[dict[str, Any]] = []
        self.spikes: dict[tuple[str, str, str], dict[int, float]] = {}
        self.ml_runs: list[dict[str, Any]] = []
        self.ml_executors: list[dict[str, Any]] = []
        self.ml_metrics: list[dict[str, Any]] = []
        self.ml_params: list[dict[str, Any]] = []
        self._used_ids: set[str] = set()
        self.deleted_volume = ""
        self._labeled: set[tuple[str, str]] = set()

    # -- small helpers ---------------------------------------------------------------
    def at(self, day_idx: int, hour: float = 0.0) -> datetime:
        """The instant `hour` hours into day `day_idx` (may be before the window)."""
        base = datetime.combine(self.start, time(0), tzinfo=UTC)
        return base + timedelta(days=day_idx, hours=hour)

    def clamp(self, t: datetime) -> datetime:
        return min(t, self.snap)

    def iso(self, t: datetime) -> str:
        return timeutil.iso(self.clamp(t))

    def hexid(self, prefix: str, n: int = 17) -> str:
        while True:
            v = f"{prefix}{self.rng.getrandbits(4 * n):0{n}x}"
            if v not in self._used_ids:
                self._used_ids.add(v)
                return v

    def guid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def noise(self, sd: float = 0.04) -> float:
        return max(0.5, self.rng.gauss(1.0, sd))

    def cost(
        self,
        i: int,
        acct: _Acct,
        service: str,
        region: str | None,
        billed: float,
        *,
        effective: float | None = None,
        list_: float | None = None,
        contracted: float | None = None,
        rid: str | None = None,
        rname: str | None = None,
        rtype: str | None = None,
        tags: dict[str, str] | None = None,
        charge: str = "Usage",
        pricing: str | None = "Standard",
        commit: _Commit | None = None,
        cstatus: str | None = None,
        qty: float | None = None,
    ) -> None:
        b = _m(billed)
        e = b if effective is None else _m(effective)
        if list_ is None:
            lst = _m(billed / _EA_DISCOUNT) if acct.provider == AZURE and charge == "Usage" else b
        else:
            lst = _m(list_)
        c = b if contracted is None else _m(contracted)
        if b == 0 and e == 0 and lst == 0:
            return
        # Display names go with the first row of each value only: the store keeps a dimension's label once
        # set, and an unlabelled repeat is a cache hit instead of an upsert (half the write time).
        labeled = self._labeled
        ba_name = sa_name = region_name = None
        if ("ba", acct.billing_id) not in labeled:
            labeled.add(("ba", acct.billing_id))
            ba_name = acct.billing_name
        if ("sa", acct.sub_id) not in labeled:
            labeled.add(("sa", acct.sub_id))
            sa_name = acct.sub_name
        if region and ("r", region) not in labeled:
            labeled.add(("r", region))
            region_name = REGIONS.get(region)
        self.costs[acct.provider].append(
            CostRow(
                day=self.days[i],
                provider_name=acct.provider,
                billing_account_id=acct.billing_id,
                billing_account_name=ba_name,
                sub_account_id=acct.sub_id,
                sub_account_name=sa_name,
                service_name=service,
                service_category=SERVICES[service],
                region_id=region,
                region_name=region_name,
                resource_id=rid,
                resource_name=rname,
                resource_type=rtype,
                charge_category=charge,
                pricing_category=pricing,
                commitment_discount_id=commit.cid if commit else None,
                commitment_discount_name=commit.name if commit else None,
                commitment_discount_type=commit.ctype if commit else None,
                commitment_discount_status=cstatus,
                tags=tags,
                billed_cost=b,
                effective_cost=e,
                list_cost=lst,
                contracted_cost=c,
                pricing_quantity=None if qty is None else round(qty, 6),
                consumed_quantity=None if qty is None else round(qty, 6),
            )
        )

    def resource(self, acct: _Acct, rid: str, rtype: str, region: str | None, *, name: str | None,
                 state: str | None, created: datetime, tags: dict[str, str] | None = None,
                 attached_to: str | None = None, size: str | None = None, itype: str | None = None,
                 lifecycle: str | None = None, props: dict[str, Any] | None = None) -> None:
        first_seen = max(created, self.at(0, 5.5))
        self.resources.append({
            "source_id": None,  # filled per provider when writing
            "provider_name": acct.provider,
            "resource_id": rid,
            "resource_name": name,
            "resource_type": rtype,
            "billing_account_id": acct.billing_id,
            "sub_account_id": acct.sub_id,
            "region_id": region,
            "state": state,
            "attached_to": attached_to,
            "size": size,
            "instance_type": itype,
            "lifecycle": lifecycle,
            "created_at": self.iso(created),
            "first_seen": self.iso(first_seen),
            "last_seen": timeutil.iso(self.snap),
            "tags": tags or {},
            "properties": props or {},
        })

    def usage(self, i: int, weekend_sens: float, sd: float = 0.04, grow: bool = True) -> float:
        """Multiplier for a usage-driven service on day i: growth x weekly rhythm x noise."""
        w = (1.0 - weekend_sens) if self.weekend[i] else 1.0
        return (self.growth[i] if grow else 1.0) * w * self.noise(sd)

    # -- anomalies ----------------------------------------------------------------------
    def plan_anomalies(self) -> None:
        rng = self.rng

        def weekday_run(lo: int, hi: int, length: int) -> list[int]:
            """Consecutive weekday day indexes, starting between as_of-hi and as_of-lo."""
            start = N_DAYS - 1 - rng.randint(lo, hi)
            while any(self.weekend[j] for j in range(start, start + length)):
                start -= 1
            return list(range(start, start + length))

        specs = [
            ("ml", "AmazonCloudWatch", "us-west-2", weekday_run(30, 45, 2), round(rng.uniform(4.5, 5.5), 2),
             "debug-level logging left on after an incident: log ingestion x5"),
            ("gcp-analytics", "BigQuery", "us-central1", weekday_run(60, 80, 1), round(rng.uniform(5.5, 6.0), 2),
             "an unpartitioned full-table scan scheduled hourly"),
            ("az-prod", "Bandwidth", "westeurope", weekday_run(12, 20, 3), round(rng.uniform(4.0, 4.6), 2),
             "a misconfigured CDN origin served video egress directly"),
        ]
        for key, service, region, idxs, factor, why in specs:
            acct = ACCOUNTS[key]
            self.spikes[(acct.sub_id, service, region)] = {j: factor for j in idxs}
            self.anomalies.append({
                "kind": "spike", "provider_name": acct.provider, "sub_account_id": acct.sub_id,
                "service_name": service, "region_id": region, "days": [self.day_str[j] for j in idxs],
                "factor": factor, "note": why,
            })

    # -- compute fleets ----------------------------------------------------------------------
    def fleets(self) -> None:
        rng = self.rng
        T = {"plat": "platform", "chk": "checkout", "srch": "search", "data": "data", "ml": "ml"}
        # (account, region, type, count, name, schedule, profile, spot count, team, env, project,
        #  share launched inside the window, untagged share)
        aws_groups = [
            ("prod", "us-east-1", "m5.2xlarge", 7, "web", "always", "busy", 0, T["plat"], "prod", "storefront", 0.15, 0),
            ("prod", "us-east-1", "c5.4xlarge", 5, "checkout-api", "always", "normal", 0, T["chk"], "prod",
             "checkout-[beta]", 0.2, 0),
            ("prod", "us-east-1", "m6i.4xlarge", 10, "worker", "autoscale", "normal", 0, T["plat"], "prod", "storefront",
             0.35, 0),
            ("prod", "us-east-1", "r5.4xlarge", 4, "search-node", "always", "busy", 0, T["srch"], "prod", "search", 0.25, 0),
            ("prod", "us-east-1", "m4.2xlarge", 3, "legacy-billing", "always", "oversized", 0, T["plat"], "prod",
             "internal-tools", 0, 1.0),
            ("prod", "us-east-1", "t3.medium", 2, "bastion", "always", "idle", 0, T["plat"], "prod", "internal-tools", 0, 0),
            ("prod", "us-east-1", "m5.8xlarge", 8, "eks-prod-use1-node", "autoscale", "busy", 0, T["plat"], "prod",
             "eks-prod-use1", 0.3, 0),
            ("prod", "us-west-2", "c6i.4xlarge", 6, "batch", "autoscale", "normal", 3, T["data"], "prod", "analytics",
             0.3, 0),
            ("prod", "eu-west-1", "m5.xlarge", 6, "web-eu", "always", "normal", 0, T["plat"], "prod", "storefront", 0.3, 0),
            ("prod", "eu-west-1", "r5.2xlarge", 3, "redis-eu", "always", "oversized", 0, T["chk"], "prod", "checkout", 0,
             0.34),
            ("staging", "eu-central-1", "m6i.xlarge", 8, "staging-app", "business", "idle", 0, T["plat"], "staging",
             "storefront", 0.2, 0.25),
            ("staging", "us-east-1", "c5.2xlarge", 6, "ci-runner", "business", "busy", 2, T["plat"], "dev", "ci", 0.2, 0),
            ("staging", "us-east-1", "m5.xlarge", 3, "staging-search", "stopped", "normal", 0, T["srch"], "staging",
             "search", 0, 0.34),
            ("staging", "us-east-1", "r4.xlarge", 2, "test-db", "always", "idle", 0, T["data"], "staging", "analytics", 0,
             0.5),
            ("staging", "us-east-1", "t3.large", 4, "sandbox", "always", "idle", 0, T["plat"], "dev", "internal-tools", 0,
             0.5),
            ("ml", "us-west-2", "g4dn.2xlarge", 4, "inference", "always", "busy", 0, T["ml"], "prod", "recommender", 0.25, 0),
            ("ml", "us-west-2", "p3.2xlarge", 2, "gpu-dev", "business", "busy", 0, T["ml"], "dev", "recommender", 0, 0),
            ("ml", "us-west-2", "r5.2xlarge", 4, "feature-store", "always", "normal", 0, T["ml"], "prod", "recommender",
             0.25, 0),
            ("ml", "ap-southeast-1", "m5.4xlarge", 5, "etl-apac", "autoscale", "normal", 0, T["data"], "prod",
             "analytics", 0.4, 0),
        ]
        azure_groups = [
            ("az-prod", "westeurope", "Standard_D4s_v5", 5, "app", "always", "busy", 0, T["chk"], "prod", "checkout",
             0.2, 0),
            ("az-prod", "westeurope", "Standard_D4s_v5", 1, "app-burst", "business", "normal", 0, T["chk"], "prod",
             "checkout", 0, 0),
            ("az-prod", "westeurope", "Standard_D8s_v3", 3, "erp", "always", "oversized", 0, T["plat"], "prod",
             "internal-tools", 0, 0.34),
            ("az-prod", "westeurope", "Standard_E8s_v5", 2, "sqlvm", "always", "normal", 0, T["data"], "prod",
             "analytics", 0, 0),
            ("az-prod", "westeurope", "Standard_F8s_v2", 3, "render", "autoscale", "busy", 1, T["data"], "prod",
             "analytics", 0.34, 0),
            ("az-prod", "westeurope", "Standard_D4s_v3", 1, "reporting-vm", "stopped-billed", "normal", 0, T["data"],
             "prod", "analytics", 0, 0),
            ("az-prod", "westeurope", "Standard_D2s_v3", 1, "old-jumpbox", "deallocated", "idle", 0, T["plat"], "prod",
             "internal-tools", 0, 1.0),
            ("az-dev", "eastus", "Standard_B2ms", 6, "devbox", "business", "idle", 0, T["plat"], "dev", "internal-tools",
             0.34, 0.34),
            ("az-dev", "eastus", "Standard_NC6s_v3", 1, "gpu-train", "business", "busy", 0, T["ml"], "dev", "forecasting",
             0, 0),
            ("az-dev", "eastus", "Standard_D2s_v5", 3, "build-agent", "autoscale", "normal", 0, T["plat"], "dev", "ci",
             0.34, 0),
        ]
        gcp_groups = [
            ("gcp-analytics", "us-central1", "n2-standard-8", 3, "etl", "always", "busy", 0, T["data"], "prod",
             "analytics", 0, 0),
            ("gcp-analytics", "us-central1", "n2-standard-8", 1, "etl-burst", "autoscale", "normal", 0, T["data"],
             "prod", "analytics", 0, 0),
            ("gcp-analytics", "us-central1", "n1-standard-4", 4, "airflow", "always", "oversized", 0, T["data"], "prod",
             "analytics", 0, 0.25),
            ("gcp-analytics", "us-central1", "e2-standard-4", 6, "api", "autoscale", "normal", 2, T["srch"], "prod",
             "search", 0.34, 0),
            ("gcp-analytics", "europe-west4", "n2-highmem-4", 3, "dash-eu", "always", "busy", 0, T["data"], "prod",
             "analytics", 0.34, 0),
            ("gcp-ml", "us-central1", "a2-highgpu-1g", 1, "notebook-gpu", "business", "busy", 0, T["ml"], "dev",
             "forecasting", 0, 0),
            ("gcp-ml", "us-central1", "e2-medium", 4, "scratch", "always", "idle", 0, T["ml"], "dev", "forecasting", 0, 0.5),
            ("gcp-ml", "us-central1", "e2-standard-2", 3, "label-tool", "business", "normal", 0, T["ml"], "dev",
             "forecasting", 0, 0),
        ]
        for provider, groups in ((AWS, aws_groups), (AZURE, azure_groups), (GCP, gcp_groups)):
            for (key, region, itype, count, prefix, sched, profile, n_spot, team, env, project, new_share,
                 untagged) in groups:
                acct = ACCOUNTS[key]
                n_new = int(round(count * new_share))
                n_untagged = int(round(count * untagged))
                for k in range(count):
                    launch_idx = -rng.randint(20, 700)
                    if k >= count - n_new:
                        launch_idx = rng.randint(8, N_DAYS - 10)
                    tags: dict[str, str] | None = {"team": team, "env": env, "project": project}
                    if k < n_untagged:
                        tags = None
                    elif project.endswith("[beta]") and k >= 2:
                        tags = {"team": team, "env": env, "project": project.replace("-[beta]", "")}
                    name = f"{prefix}-{k + 1:02d}" if count > 1 else prefix
                    if prefix == "web" and k == 0:
                        name = "web-[blue]"
                    lifecycle = "spot" if k < n_spot else "on-demand"
                    self.add_instance(provider, acct, region, itype, name, sched, profile, lifecycle, launch_idx,
                                      tags)
        # The runaway resource: a p3.8xlarge someone started nine days ago and forgot.
        acct = ACCOUNTS["ml"]
        inst = self.add_instance(AWS, acct, "us-west-2", "p3.8xlarge", "tmp-llm-finetune", "always", "idle",
                                 "on-demand", N_DAYS - 10, {"team": "ml", "env": "dev", "project": "recommender"},
                                 launch_hour=14)
        self.anomalies.append({
            "kind": "new_resource", "provider_name": AWS, "sub_account_id": acct.sub_id,
            "service_name": "Amazon Elastic Compute Cloud", "region_id": "us-west-2", "resource_id": inst.rid,
            "resource_name": inst.name, "start_day": self.day_str[inst.launch_idx],
            "daily_cost": f"{inst.od_price * 24:.2f}", "note": "a forgotten GPU instance, idle since launch",
        })

    def add_instance(self, provider: str, acct: _Acct, region: str, itype: str, name: str, sched: str,
                     profile: str, lifecycle: str, launch_idx: int, tags: dict[str, str] | None,
                     launch_hour: int | None = None) -> _Inst:
        rng = self.rng
        zone_suffix = rng.choice("abc")
        stop_idx: int | None = None
        billed_when_stopped = False
        state = "running"
        schedule = sched
        if sched == "stopped":  # stopped weeks ago, volumes still attached and billed
            stop_idx, state, schedule = N_DAYS - rng.randint(25, 80), "stopped", "always"
        elif sched == "stopped-billed":  # Azure: shut down from the guest OS, not deallocated
            stop_idx, state, schedule, billed_when_stopped = N_DAYS - 20, "stopped", "always", True
        elif sched == "deallocated":
            stop_idx, state, schedule = N_DAYS - rng.randint(45, 60), "deallocated", "always"
        if provider == AWS:
            rid, zone = self.hexid("i-0", 16), f"{region}{zone_suffix}"
            service = "Amazon Elastic Compute Cloud"
        elif provider == AZURE:
            rg = f"rg-{name.rsplit('-', 1)[0]}"
            rid = (f"/subscriptions/{acct.sub_id}/resourceGroups/{rg}/providers/Microsoft.Compute/"
                   f"virtualMachines/{name}")
            zone = str(rng.randint(1, 3))
            service = "Virtual Machines"
        else:
            zone = f"{region}-{zone_suffix}"
            rid = f"//compute.googleapis.com/projects/{acct.sub_id}/zones/{zone}/instances/{name}"
            service = "Compute Engine"
        lh = rng.randint(0, 23) if launch_hour is None else launch_hour
        inst = _Inst(provider, acct, region, zone, rid, name, itype, service, lifecycle, schedule, profile,
                     launch_idx, lh, stop_idx, billed_when_stopped, state, tags, {})
        inst.od_price = _price(provider, itype, region)
        # hours billed / hours actually running, per day
        for i in range(N_DAYS):
            h = self._sched_hours(schedule, i)
            if i < launch_idx:
                h = 0.0
            elif i == launch_idx:
                h = min(h, 24.0 - lh) if schedule == "always" or schedule == "autoscale" else h
            run = h
            if stop_idx is not None and i >= stop_idx:
                run = 0.0 if i > stop_idx else min(h, 11.0)
                if not billed_when_stopped:
                    h = run
            inst.hours.append(h)
            inst.run_hours.append(run)
        self.insts.append(inst)
        return inst

    def _sched_hours(self, schedule: str, i: int) -> float:
        if schedule == "always":
            return 24.0
        if schedule == "business":
            return 0.0 if self.weekend[i] else round(self.rng.uniform(10.5, 13.0), 2)
        # autoscale: full weekdays, part of the fleet scaled in at weekends
        return round(self.rng.uniform(6.0, 14.0), 2) if self.weekend[i] else 24.0

    # -- commitments ----------------------------------------------------------------------
    def plan_commitments(self) -> None:
        rng = self.rng
        snap_day = datetime.combine(self.as_of, time(0), tzinfo=UTC)
        prod, payer = ACCOUNTS["prod"], ACCOUNTS["payer"]

        def count_based(provider: str, acct: _Acct, cid: str, ctype: str, region: str, itype: str, count: int,
                        discount: float, upfront_share: float, payment: str, term: int, end: datetime,
                        cadence: str, fee_service: str, scope: str, props: dict[str, Any]) -> None:
            od = _price(provider, itype, region)
            eff = round(od * (1 - discount), 4)
            recurring = round(eff * (1 - upfront_share), 4)
            start = end - timedelta(days=round(term * 30.4375))
            upfront = round((eff - recurring) * count * term * HOURS_PER_MONTH, 2)
            label = {12: "1yr", 36: "3yr"}[term]
            self.commits.append(_Commit(
                provider, cid, ctype, f"{itype} x{count} {region} ({label} {payment})", acct, region, itype, count,
                od, eff, recurring, cadence, fee_service, payment, term, start, end, upfront=upfront, scope=scope,
                props=props,
            ))

        count_based(AWS, prod, f"arn:aws:ec2:us-east-1:{prod.sub_id}:reserved-instances/{self.guid()}",
                    "Reserved Instance", "us-east-1", "m5.2xlarge", 8, 0.38, 0.0, "No Upfront", 12,
                    snap_day + timedelta(days=21, hours=rng.randint(1, 20)), "monthly", "Amazon Elastic Compute Cloud",
                    "Region", {"offering_class": "standard", "platform": "Linux/UNIX", "tenancy": "default"})
        count_based(AWS, prod, f"arn:aws:ec2:us-east-1:{prod.sub_id}:reserved-instances/{self.guid()}",
                    "Reserved Instance", "us-east-1", "c5.4xlarge", 5, 0.55, 0.5, "Partial Upfront", 36,
                    snap_day + timedelta(days=560, hours=rng.randint(1, 20)), "monthly",
                    "Amazon Elastic Compute Cloud", "Region",
                    {"offering_class": "convertible", "platform": "Linux/UNIX", "tenancy": "default"})
        az = ACCOUNTS["az-prod"]
        count_based(AZURE, az, f"/providers/Microsoft.Capacity/reservationOrders/{self.guid()}/reservations/"
                    f"{self.guid()}", "Reservation", "westeurope", "Standard_D4s_v5", 6, 0.41, 0.0, "Monthly", 12,
                    snap_day + timedelta(days=203), "monthly", "Virtual Machines", "Single subscription",
                    {"applied_scope_type": "Single", "instance_flexibility": "On"})
        g = ACCOUNTS["gcp-analytics"]
        count_based(GCP, g, f"projects/{g.sub_id}/regions/us-central1/commitments/n2-commit-1yr-{rng.randint(10, 99)}",
                    "Committed Use Discount", "us-central1", "n2-standard-8", 4, 0.37, 0.0, "Monthly", 12,
                    snap_day + timedelta(days=140), "daily", "Compute Engine", "Project",
                    {"plan": "TWELVE_MONTH", "type": "GENERAL_PURPOSE_N2", "resources": [
                        {"type": "VCPU", "amount": 32}, {"type": "MEMORY", "amount_mb": 131072}]})
        # The Compute Savings Plan (payer owned, shared): its hourly commitment is sized from recent usage.
        sp_end = snap_day + timedelta(days=75, hours=rng.randint(1, 20))
        self.commits.append(_Commit(
            AWS, f"arn:aws:savingsplans::{payer.sub_id}:savingsplan/{self.guid()}", "Savings Plan",
            "Compute Savings Plan (1yr No Upfront)", payer, None, None, 0, 0.0, 0.72, 0.0, "daily",
            "Savings Plans for AWS Compute usage", "No Upfront", 12, sp_end - timedelta(days=365), sp_end,
            scope="Shared", props={"savings_plan_type": "ComputeSavingsPlans", "discount_vs_on_demand_pct": 28},
        ))

    def apply_commitments(self) -> dict[tuple[int, int], list[tuple[_Commit, float]]]:
        """Allocate commitments to instance-hours day by day. Returns {(inst#, day): [(commit, hours)]}."""
        alloc: dict[tuple[int, int], list[tuple[_Commit, float]]] = defaultdict(list)
        left = [list(inst.hours) for inst in self.insts]
        for c in self.commits:
            if c.ctype == "Savings Plan":
                continue
            match = [n for n, inst in enumerate(self.insts) if inst.provider == c.provider and inst.itype == c.itype
                     and inst.region == c.region and inst.lifecycle == "on-demand"]
            for i in range(N_DAYS):
                cap = c.count * 24.0
                elig = sum(left[n][i] for n in match)
                cov = 0.0
                for n in match:
                    take = min(left[n][i], cap - cov)
                    if take > 0:
                        alloc[(n, i)].append((c, take))
                        left[n][i] -= take
                        cov += take
                c.covered.append(cov)
                c.used_eff.append(cov * c.eff_rate)
                c.eligible.append(elig)
                c.covered_od.append(cov * c.od_price)
        # Savings Plan over what is left of AWS EC2 on-demand usage, sized a little under the recent baseline
        # (the low days of the last four weeks), so utilization climbs from ~75 % to ~97 % as the fleet grows.
        sp = next(c for c in self.commits if c.ctype == "Savings Plan")
        elig_idx = [n for n, inst in enumerate(self.insts) if inst.provider == AWS and inst.lifecycle == "on-demand"]
        recent = sorted(sum(left[n][i] * self.insts[n].od_price for n in elig_idx) for i in range(N_DAYS - 28, N_DAYS))
        sp.hourly_commitment = round(recent[2] * sp.eff_rate * 0.97 / 24.0, 2)
        sp.recurring_rate = sp.hourly_commitment
        for i in range(N_DAYS):
            cap = sp.hourly_commitment * 24.0  # in Savings Plan dollars
            used = 0.0
            elig_od = 0.0
            cov_od = 0.0
            for n in elig_idx:
                od_cost = left[n][i] * self.insts[n].od_price
                elig_od += od_cost
                if od_cost <= 0 or used >= cap - 1e-9:
                    continue
                frac = min(1.0, (cap - used) / (od_cost * sp.eff_rate))
                hrs = left[n][i] * frac
                alloc[(n, i)].append((sp, hrs))
                left[n][i] -= hrs
                used += od_cost * frac * sp.eff_rate
                cov_od += od_cost * frac
            sp.covered.append(cov_od)
            sp.used_eff.append(used)
            sp.eligible.append(elig_od)
            sp.covered_od.append(cov_od)
        return alloc

    def commitment_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        commitments, usage = [], []
        payer = ACCOUNTS["payer"].sub_id
        # AWS also has account-wide daily totals ("ri-total:<account>", "sp-total:<account>"), as the
        # AWS adapter writes them from Cost Explorer; coverage lives only on those rows there
        totals: dict[str, list[list[float]]] = {
            f"ri-total:{payer}": [[0.0] * 5 for _ in range(N_DAYS)],
            f"sp-total:{payer}": [[0.0] * 5 for _ in range(N_DAYS)],
        }
        ec2_hours = [sum(x.hours[i] for x in self.insts if x.provider == AWS and x.lifecycle == "on-demand")
                     for i in range(N_DAYS)]
        for c in self.commits:
            spend_based = c.ctype == "Savings Plan"
            daily_committed = (c.hourly_commitment if spend_based else c.count * c.eff_rate) * 24.0
            total = None
            if c.provider == AWS:
                total = totals[f"{'sp' if spend_based else 'ri'}-total:{payer}"]
            for i in range(N_DAYS):
                used = c.used_eff[i]
                unused = max(0.0, daily_committed - used)
                coverage = round(100.0 * (c.covered[i] / c.eligible[i]), 2) if c.eligible[i] else None
                if total is not None:
                    t = total[i]
                    t[0] += daily_committed
                    t[1] += used
                    t[2] += c.covered_od[i]
                    if spend_based:
                        t[3], t[4] = c.covered[i], c.eligible[i]
                    else:
                        t[3] += c.covered[i]
                        t[4] = ec2_hours[i]
                    coverage = None
                usage.append({
                    "provider_name": c.provider, "commitment_id": c.cid, "day": self.day_str[i],
                    "committed_nanos": _m(daily_committed), "used_nanos": _m(used), "unused_nanos": _m(unused),
                    "on_demand_equivalent_nanos": _m(c.covered_od[i]),
                    "utilization_pct": round(100.0 * used / daily_committed, 2) if daily_committed else None,
                    "coverage_pct": coverage,
                })
                # the unused part of the commitment, amortized: a FOCUS "Unused" row
                if unused > 0.005:
                    self.cost(i, c.acct, c.fee_service, c.region, 0.0, effective=unused, list_=0.0, contracted=0.0,
                              pricing="Committed", commit=c, cstatus="Unused", tags=None)
                # the recurring fee: a Purchase row (effective 0: it is spread over the usage rows)
                fee = 0.0
                if c.fee_cadence == "daily":
                    fee = c.recurring_rate * (1 if spend_based else c.count) * 24.0
                elif self.days[i].day == 1:  # billed on the 1st for the whole month
                    d = self.days[i]
                    fee = c.recurring_rate * c.count * (timeutil.add_months(d, 1) - d).days * 24.0
                if fee > 0:
                    self.cost(i, c.acct, c.fee_service, c.region, fee, effective=0.0, list_=fee, contracted=fee,
                              charge="Purchase", pricing="Committed", commit=c, tags=None,
                              qty=(1 if spend_based else c.count))
            commitments.append({
                "provider_name": c.provider, "commitment_id": c.cid, "commitment_type": c.ctype, "name": c.name,
                "billing_account_id": c.acct.billing_id, "sub_account_id": c.acct.sub_id, "region_id": c.region,
                "scope": c.scope, "instance_type": c.itype, "instance_count": c.count or None,
                "hourly_commitment_nanos": _m(c.hourly_commitment if spend_based else c.count * c.recurring_rate),
                "upfront_nanos": _m(c.upfront), "payment_option": c.payment, "term_months": c.term_months,
                "start_at": self.iso(c.start), "end_at": timeutil.iso(c.end), "state": "active",
                "source_id": None, "properties": {**c.props, "recurring_hourly_nanos": _m(
                    c.recurring_rate * (1 if spend_based else c.count)),
                    **({} if spend_based else {"on_demand_hourly_nanos": _m(c.od_price),
                                               "amortized_hourly_nanos": _m(c.count * c.eff_rate)})},
            })
        for tid, days in totals.items():
            for i, (committed, used, od_eq, covered, eligible) in enumerate(days):
                usage.append({
                    "provider_name": AWS, "commitment_id": tid, "day": self.day_str[i],
                    "committed_nanos": _m(committed), "used_nanos": _m(used),
                    "unused_nanos": _m(max(0.0, committed - used)), "on_demand_equivalent_nanos": _m(od_eq),
                    "utilization_pct": round(100.0 * used / committed, 2) if committed else None,
                    "coverage_pct": round(100.0 * covered / eligible, 2) if eligible else None,
                })
        return commitments, usage

    # -- instance costs, inventory, disks and metrics ----------------------------------------------
    def instance_costs(self, alloc: dict[tuple[int, int], list[tuple[_Commit, float]]]) -> None:
        for n, inst in enumerate(self.insts):
            rtype = "instance"
            for i in range(N_DAYS):
                h = inst.hours[i]
                if h <= 0:
                    continue
                od = inst.od_price
                list_factor = 1 / _EA_DISCOUNT if inst.provider == AZURE else 1.0
                rest = h
                for c, ch in alloc.get((n, i), ()):
                    rest -= ch
                    eff = ch * (c.eff_rate if c.ctype != "Savings Plan" else od * c.eff_rate)
                    self.cost(i, inst.acct, inst.service, inst.region, 0.0, effective=eff,
                              list_=ch * od * list_factor, contracted=ch * od, rid=inst.rid, rname=inst.name, rtype=rtype, tags=inst.tags,
                              pricing="Committed", commit=c, cstatus="Used", qty=ch)
                if rest > 1e-6:
                    if inst.lifecycle == "spot":
                        price = round(od * _SPOT_FACTOR, 4)
                        self.cost(i, inst.acct, inst.service, inst.region, rest * price,
                                  list_=rest * od * list_factor,
                                  contracted=rest * price, rid=inst.rid, rname=inst.name, rtype=rtype,
                                  tags=inst.tags, pricing="Dynamic", qty=rest)
                    else:
                        self.cost(i, inst.acct, inst.service, inst.region, rest * od, rid=inst.rid,
                                  rname=inst.name, rtype=rtype, tags=inst.tags, qty=rest)

    def inventory(self) -> None:
        """Instances with their disks, addresses, snapshots and images; plus daily metrics.

        AWS rows follow providers/aws/inventory.py (EC2 states, its property names)."""
        rng = self.rng
        aws_sgs: dict[str, list[str]] = {}
        self.sg_rows: dict[str, dict[str, Any]] = {}
        for key in ("prod", "staging", "ml"):
            acct = ACCOUNTS[key]
            sgs = []
            vpc = self.hexid("vpc-0", 16)
            for sg_name in ("web-sg", "internal-sg", "ssh-anywhere"):
                if sg_name == "ssh-anywhere" and key != "staging":
                    continue
                sid = self.hexid("sg-0", 16)
                sgs.append(sid)
                rules = [_sg_rule("tcp", 443, 443, ["0.0.0.0/0"])]
                if sg_name == "internal-sg":
                    rules = [_sg_rule("-1", None, None, ["10.0.0.0/8"])]
                if sg_name == "ssh-anywhere":
                    rules = [_sg_rule("tcp", 22, 22, ["0.0.0.0/0"], ["::/0"])]
                open_ports = [22] if sg_name == "ssh-anywhere" else []
                self.resource(acct, sid, "security_group", "us-east-1", name=sg_name, state=None,
                              created=self.at(-rng.randint(200, 900), 10), tags={"team": "platform", "env": "prod"},
                              props={"description": f"{sg_name} ({acct.sub_name})", "vpc_id": vpc, "rules": rules,
                                     "open_to_world": bool(open_ports), "open_ports": open_ports, "instances": []})
                self.sg_rows[sid] = self.resources[-1]
            aws_sgs[key] = sgs
        amis = [self.hexid("ami-0", 16) for _ in range(5)]
        self.ami_users: dict[str, list[str]] = {a: [] for a in amis}
        for inst in self.insts:
            created = self.at(inst.launch_idx, inst.launch_hour)
            vols = self.disks_for(inst, created)
            props: dict[str, Any]
            if inst.provider == AWS:
                key = next(k for k, a in ACCOUNTS.items() if a is inst.acct)
                sgs = aws_sgs[key][:1] + ([aws_sgs[key][-1]] if inst.name.startswith("sandbox") else [])
                for sg in sgs:
                    self.sg_rows[sg]["properties"]["instances"].append(inst.rid)
                ami = amis[rng.randrange(len(amis) - 1)]  # the newest image is not in use
                self.ami_users[ami].append(inst.rid)
                reason = None
                if inst.state == "stopped":
                    reason = f"User initiated ({self.at(inst.stop_idx or 0, 11):%Y-%m-%d %H:%M:%S} GMT)"
                props = {"image_id": ami, "platform": "Linux/UNIX", "availability_zone": inst.zone,
                         "tenancy": "default", "vpc_id": None, "subnet_id": self.hexid("subnet-0", 16),
                         "private_ip": f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
                         "public_ip": None, "architecture": "x86_64",
                         "volumes": [{"device": "/dev/xvda" if n == 0 else f"/dev/sd{'fgh'[n - 1]}", "volume_id": v}
                                     for n, v in enumerate(vols)],
                         "security_groups": sgs,
                         "spot_instance_request_id": self.hexid("sir-", 8) if inst.lifecycle == "spot" else None,
                         "state_reason": reason}
            elif inst.provider == AZURE:
                power = {"running": "PowerState/running", "stopped": "PowerState/stopped",
                         "deallocated": "PowerState/deallocated"}[inst.state]
                props = {"vm_size": inst.itype, "resource_group": inst.rid.split("/")[4], "zone": inst.zone,
                         "power_state": power, "os_type": "Linux", "os_disk": vols[0], "data_disks": vols[1:],
                         "priority": "Spot" if inst.lifecycle == "spot" else "Regular"}
                if inst.state != "running":
                    props["state_changed_at"] = self.iso(self.at(inst.stop_idx or 0, 11))
                    if inst.state == "stopped":
                        props["note"] = "stopped from the guest OS: compute is still allocated and billed"
            else:
                props = {"machine_type": inst.itype, "zone": inst.zone, "status": "RUNNING", "disks": vols,
                         "provisioning_model": "SPOT" if inst.lifecycle == "spot" else "STANDARD",
                         "cpu_platform": "Intel Cascade Lake"}
            self.resource(inst.acct, inst.rid, "instance", inst.region, name=inst.name, state=inst.state,
                          created=created, tags=inst.tags, itype=inst.itype, lifecycle=inst.lifecycle, props=props)
            self.instance_metrics(inst)
        self.loose_storage(amis)

    def disk_spec(self, provider: str, size: int, kind: str) -> tuple[str, float]:
        """(volume type, USD per GiB-month)."""
        if provider == AWS:
            return kind, {"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "st1": 0.045}[kind]
        if provider == AZURE:
            return kind, {"Premium_LRS": 0.135, "StandardSSD_LRS": 0.075, "Standard_LRS": 0.045}[kind]
        return kind, {"pd-balanced": 0.10, "pd-ssd": 0.17, "pd-standard": 0.04}[kind]

    def add_disk(self, acct: _Acct, region: str, zone: str, name: str, size: int, kind: str,
                 attached_to: str | None, created: datetime, tags: dict[str, str] | None,
                 first_idx: int, last_idx: int = N_DAYS, detached: datetime | None = None,
                 extra: dict[str, Any] | None = None, record: bool = True) -> str:
        provider = acct.provider
        vtype, gb_month = self.disk_spec(provider, size, kind)
        if provider == AWS:
            rid, service = self.hexid("vol-0", 16), "Amazon Elastic Compute Cloud"
            props: dict[str, Any] = {
                "size_gib": size, "volume_type": vtype, "iops": {"gp3": 3000, "io1": 6000}.get(kind),
                "throughput": 125 if kind == "gp3" else None, "encrypted": True, "availability_zone": zone,
                "snapshot_id": None,
                "attachments": [{"instance_id": attached_to, "device": "/dev/xvda" if name.endswith("-os")
                                 else "/dev/sdf", "state": "attached", "delete_on_termination": name.endswith("-os")}]
                if attached_to else [],
            }
            state = "in-use" if attached_to else "available"
        elif provider == AZURE:
            rg = f"rg-{name.split('-')[0]}"
            rid = f"/subscriptions/{acct.sub_id}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}"
            service = "Storage"
            props = {"sku": vtype, "size_gib": size, "disk_state": "Attached" if attached_to else "Unattached",
                     "managed_by": attached_to}
            state = props["disk_state"]
        else:
            rid = f"//compute.googleapis.com/projects/{acct.sub_id}/zones/{zone}/disks/{name}"
            service = "Compute Engine"
            props = {"type": vtype, "size_gib": size, "zone": zone, "users": [attached_to] if attached_to else []}
            state = "READY"
        if detached is not None:
            props["detached_at"] = self.iso(detached)
        props.update(extra or {})
        daily = size * gb_month * 24.0 / HOURS_PER_MONTH
        for i in range(max(0, first_idx), min(N_DAYS, last_idx)):
            self.cost(i, acct, service, region, daily, rid=rid, rname=name, rtype="volume", tags=tags,
                      qty=round(size * 24.0 / HOURS_PER_MONTH, 6))
        if record:
            self.resource(acct, rid, "volume", region, name=name, state=state,
                          created=created, tags=tags, attached_to=attached_to, size=f"{size} GiB", props=props)
        return rid

    def disks_for(self, inst: _Inst, created: datetime) -> list[str]:
        rng = self.rng
        p = inst.provider
        root_kind = {AWS: "gp3", AZURE: "Premium_LRS", GCP: "pd-balanced"}[p]
        root = {AWS: rng.choice((50, 100, 100, 200)), AZURE: 128, GCP: rng.choice((50, 100))}[p]
        vols = [self.add_disk(inst.acct, inst.region, inst.zone, f"{inst.name}-os", root, root_kind, inst.rid, created,
                              inst.tags, inst.launch_idx)]
        big = inst.name.startswith(("search-node", "redis-eu", "sqlvm", "feature-store", "etl-0", "legacy-billing",
                                    "staging-search"))
        if big:
            kind = {AWS: rng.choice(("gp3", "io1", "gp2")), AZURE: "Premium_LRS", GCP: "pd-ssd"}[p]
            vols.append(self.add_disk(inst.acct, inst.region, inst.zone, f"{inst.name}-data",
                                      rng.choice((500, 1000, 2000)), kind, inst.rid, created, inst.tags,
                                      inst.launch_idx))
        return vols

    def loose_storage(self, amis: list[str]) -> None:
        """Unattached disks, idle addresses, snapshots (some orphaned) and images."""
        rng = self.rng
        # unattached disks: detached days to months ago (one only two days ago: not waste yet)
        loose = [
            ("prod", "us-east-1", "vol-migration-tmp", 500, "gp2", 64), ("prod", "us-east-1", None, 100, "gp3", 31),
            ("staging", "us-east-1", "old-jenkins-data", 1000, "st1", 95), ("ml", "us-west-2", "dataset-cache", 2000,
                                                                             "gp3", 12),
            ("staging", "eu-central-1", None, 200, "gp3", 2), ("prod", "eu-west-1", "web-eu-restore", 100, "gp2", 40),
            ("az-prod", "westeurope", "erp-olddata", 1024, "Premium_LRS", 48),
            ("az-dev", "eastus", "devbox-07-os", 128, "Premium_LRS", 20),
            ("az-dev", "eastus", "gpu-scratch", 512, "StandardSSD_LRS", 9),
            ("gcp-analytics", "us-central1", "airflow-old-logs", 500, "pd-standard", 70),
            ("gcp-ml", "us-central1", "notebook-gpu-data-old", 1000, "pd-ssd", 15),
        ]
        for key, region, name, size, kind, days_ago in loose:
            acct = ACCOUNTS[key]
            zone = {AWS: f"{region}a", AZURE: "1", GCP: f"{region}-b"}[acct.provider]
            created_idx = N_DAYS - days_ago - rng.randint(30, 300)
            detached = self.at(N_DAYS - 1 - days_ago, rng.uniform(8, 18))
            tags = None if name is None else {"team": "data" if "data" in (name or "") else "platform",
                                              "env": "prod" if "prod" in key else "dev", "project": "internal-tools"}
            self.add_disk(acct, region, zone, name or f"unnamed-{size}g", size, kind, None, self.at(created_idx, 9),
                          tags, created_idx, detached=detached)
        # a volume deleted 20 days ago through costdeck itself (see the audit log): costs stop, no inventory
        acct = ACCOUNTS["staging"]
        self.deleted_volume = self.add_disk(acct, "us-east-1", "us-east-1a", "ci-cache-old", 300, "gp2", None,
                                            self.at(-200, 9), None, -200, last_idx=N_DAYS - 20, record=False)
        # AWS Elastic IPs: most associated, three idle (billed $0.005/h each)
        holders = [x for x in self.insts if x.provider == AWS and x.state == "running" and x.name.startswith(
            ("web-0", "web-eu-01", "bastion", "ci-runner-01", "inference-01"))]
        for k in range(9):
            owner = holders[k - 3] if 3 <= k < 3 + len(holders) else None
            acct = owner.acct if owner else ACCOUNTS[("prod", "staging", "ml")[k % 3]]
            alloc_id = self.hexid("eipalloc-0", 16)
            ip = f"203.0.113.{10 + k * 7}"
            region = owner.region if owner else "us-east-1"
            created = self.at(-rng.randint(30, 500), 12)
            tags = {"team": "platform", "env": "prod", "project": "storefront"} if owner else None
            if owner is None:
                for i in range(N_DAYS):
                    self.cost(i, acct, "Amazon Elastic Compute Cloud", region, 0.005 * 24, rid=alloc_id, rname=ip,
                              rtype="elastic_ip", tags=tags, qty=24.0)
            self.resource(acct, alloc_id, "elastic_ip", region, name=ip, created=created,
                          state="associated" if owner else "unassociated", tags=tags,
                          attached_to=owner.rid if owner else None,
                          props={"public_ip": ip, "association_id": self.hexid("eipassoc-0", 16) if owner else None,
                                 "instance_id": owner.rid if owner else None, "network_interface_id": None,
                                 "private_ip": None, "domain": "vpc"})
        # Azure public IPs (Standard SKU bills associated or not) and GCP static addresses
        az_vms = [x for x in self.insts if x.provider == AZURE and x.state == "running"]
        for k in range(5):
            acct = ACCOUNTS["az-prod" if k < 3 else "az-dev"]
            owner = az_vms[k] if k not in (1, 4) else None
            name = f"pip-{owner.name}" if owner else f"pip-unused-{k}"
            region = "westeurope" if k < 3 else "eastus"
            rid = (f"/subscriptions/{acct.sub_id}/resourceGroups/rg-network/providers/Microsoft.Network/"
                   f"publicIPAddresses/{name}")
            for i in range(N_DAYS):
                self.cost(i, acct, "Virtual Network", region, 0.005 * 24, rid=rid, rname=name, rtype="ip_address",
                          tags=owner.tags if owner else None, qty=24.0)
            self.resource(acct, rid, "ip_address", region, name=name, created=self.at(-rng.randint(60, 400), 10),
                          state="associated" if owner else "unassociated", attached_to=owner.rid if owner else None,
                          tags=owner.tags if owner else None,
                          props={"sku": "Standard", "allocation_method": "Static", "ip_address": f"198.51.100.{20 + k}",
                                 "ip_configuration": f"{owner.rid}/nic-0" if owner else None})
        gcp_vms = [x for x in self.insts if x.provider == GCP]
        for k in range(3):
            acct = ACCOUNTS["gcp-analytics"]
            owner = gcp_vms[k * 3] if k != 2 else None
            name = f"ip-{owner.name}" if owner else "ip-old-lb"
            rid = f"//compute.googleapis.com/projects/{acct.sub_id}/regions/us-central1/addresses/{name}"
            rate = 0.005 if owner else 0.01
            for i in range(N_DAYS):
                self.cost(i, acct, "Compute Engine", "us-central1", rate * 24, rid=rid, rname=name, rtype="ip_address",
                          tags=owner.tags if owner else None, qty=24.0)
            self.resource(acct, rid, "ip_address", "us-central1", name=name, created=self.at(-rng.randint(60, 400), 10),
                          state="associated" if owner else "unassociated", attached_to=owner.rid if owner else None,
                          tags=owner.tags if owner else None,
                          props={"address": f"192.0.2.{40 + k}", "address_type": "EXTERNAL",
                                 "status": "IN_USE" if owner else "RESERVED"})
        # AWS snapshots: nightly-ish backups of live volumes, plus orphans whose source volume is gone
        live_vols = [r for r in self.resources if r["resource_type"] == "volume" and r["provider_name"] == AWS
                     and r["attached_to"]]
        snap_ids = []
        for k in range(22):
            # the first five back the AMIs (AWS shows vol-ffffffff for those); every third other one is an
            # orphan whose source volume was deleted long ago
            backs_ami = k < len(amis)
            orphan = not backs_ami and k % 3 == 0
            acct = ACCOUNTS[("prod", "staging", "ml")[k % 3]]
            if backs_ami:
                acct, vol_id, size, region = ACCOUNTS["prod"], "vol-ffffffff", 30, "us-east-1"
            elif orphan:
                vol_id, size, region = self.hexid("vol-0", 16), rng.choice((100, 200, 500, 1000)), "us-east-1"
            else:
                vol = live_vols[(k * 7) % len(live_vols)]
                vol_id, size, region = vol["resource_id"], int(vol["size"].split()[0]), vol["region_id"]
                acct = next(a for a in ACCOUNTS.values() if a.sub_id == vol["sub_account_id"])
            age = rng.randint(40, 700) if orphan or backs_ami else rng.randint(3, 90)
            sid = self.hexid("snap-0", 16)
            snap_ids.append(sid)
            stored = size * rng.uniform(0.3, 0.8)
            daily = stored * 0.05 * 24 / HOURS_PER_MONTH
            created_idx = N_DAYS - 1 - age
            tags = None if orphan else {"team": "platform", "env": "prod", "project": "backup"}
            for i in range(max(0, created_idx), N_DAYS):
                self.cost(i, acct, "Amazon Elastic Compute Cloud", region, daily, rid=sid, rname=None,
                          rtype="snapshot", tags=tags, qty=round(stored * 24 / HOURS_PER_MONTH, 6))
            self.resource(acct, sid, "snapshot", region, name=None, state="completed",
                          created=self.at(created_idx, rng.uniform(1, 4)), tags=tags, size=f"{size} GiB",
                          props={"size_gib": size, "volume_id": vol_id, "volume_exists": not (orphan or backs_ami),
                                 "images": [amis[k]] if backs_ami else [],
                                 "description": f"Created by CreateImage(i-0...) for {amis[k]}" if backs_ami
                                 else f"nightly backup of {vol_id}", "storage_tier": "standard", "encrypted": True})
        for k, ami in enumerate(amis):
            acct = ACCOUNTS["prod"]
            users = sorted(self.ami_users.get(ami, []))
            self.resource(acct, ami, "image", "us-east-1", name=f"acme-base-{2025 + k // 3}-{k + 1:02d}",
                          state="available", created=self.at(-rng.randint(30, 600), 15),
                          tags={"team": "platform", "env": "prod"},
                          props={"snapshot_ids": [snap_ids[k]], "in_use": bool(users), "instances": users,
                                 "public": False, "platform": "Linux/UNIX", "description": "Acme base image"})
        for k in range(3):
            acct = ACCOUNTS["gcp-analytics"]
            name = f"etl-image-v{k + 3}"
            rid = f"//compute.googleapis.com/projects/{acct.sub_id}/global/images/{name}"
            size = 50
            for i in range(N_DAYS):
                self.cost(i, acct, "Compute Engine", None, size * 0.05 * 24 / HOURS_PER_MONTH, rid=rid, rname=name,
                          rtype="image", tags={"team": "data", "env": "prod", "project": "analytics"})
            self.resource(acct, rid, "image", None, name=name, state="available",
                          created=self.at(-rng.randint(60, 500), 10), tags={"team": "data", "env": "prod",
                                                                             "project": "analytics"},
                          size=f"{size} GiB", props={"disk_size_gb": size, "family": "etl-image", "status": "READY"})

    def instance_metrics(self, inst: _Inst) -> None:
        rng = self.rng
        for i in range(N_DAYS - METRIC_DAYS, N_DAYS):
            run = inst.run_hours[i]
            if run <= 0:
                continue
            part_time = run < 23.5
            if inst.profile == "idle":
                avg = rng.uniform(1.0, 3.0)
                p99 = avg * rng.uniform(2.0, 3.5)
                mx = p99 * rng.uniform(1.1, 1.6)
            elif inst.profile == "busy":
                avg = rng.uniform(40.0, 80.0) * (0.85 if self.weekend[i] else 1.0)
                p99 = min(100.0, avg * rng.uniform(1.2, 1.45))
                mx = min(100.0, p99 * rng.uniform(1.02, 1.15))
            elif inst.profile == "oversized":
                avg = rng.uniform(4.0, 9.0)
                p99 = rng.uniform(max(avg * 1.5, 10.0), 19.0)
                mx = rng.uniform(p99, 32.0)
            else:
                avg = rng.uniform(15.0, 40.0) * (0.8 if self.weekend[i] else 1.0)
                p99 = min(100.0, avg * rng.uniform(1.5, 2.2))
                mx = min(100.0, p99 * rng.uniform(1.05, 1.3))
            if part_time and inst.profile != "idle":
                avg *= 0.9
            net = {"idle": 3e3, "oversized": 2e5, "normal": 1.5e6, "busy": 6e6}[inst.profile] * rng.uniform(0.6, 1.4)
            ts = timeutil.iso(self.at(i))
            for metric, a, m, p in (
                ("cpu", avg, mx, p99),
                ("network_in", net, net * rng.uniform(3, 8), None),
                ("network_out", net * 0.6, net * 0.6 * rng.uniform(3, 8), None),
            ):
                self.metrics.append({"provider_name": inst.provider, "resource_id": inst.rid, "metric": metric,
                                     "ts": ts, "period_s": 86400, "average": round(a, 3), "maximum": round(m, 3),
                                     "p99": None if p is None else round(p, 3)})

    # -- other services ----------------------------------------------------------------------
    def managed_services(self) -> None:
        """Resource-level managed services: buckets, databases, load balancers, ..."""
        rng = self.rng
        P, S, M = ACCOUNTS["prod"], ACCOUNTS["staging"], ACCOUNTS["ml"]
        az_p, az_d, g_a, g_m = ACCOUNTS["az-prod"], ACCOUNTS["az-dev"], ACCOUNTS["gcp-analytics"], ACCOUNTS["gcp-ml"]

        def tags(team: str, env: str, project: str) -> dict[str, str]:
            return {"team": team, "env": env, "project": project}

        # hourly-priced: (acct, region, service, rtype, id, name, sku, nodes, tags, props)
        hourly = [
            (P, "us-east-1", "Amazon Relational Database Service", "db_instance", "orders-db", "db.r5.2xlarge", 2,
             tags("checkout", "prod", "checkout"), {"engine": "postgres", "multi_az": True, "allocated_gib": 2000}),
            (P, "us-east-1", "Amazon Relational Database Service", "db_instance", "catalog-db", "db.r5.xlarge", 2,
             tags("platform", "prod", "storefront"), {"engine": "mysql", "multi_az": True, "allocated_gib": 500}),
            (P, "eu-west-1", "Amazon Relational Database Service", "db_instance", "orders-db-eu", "db.r5.xlarge", 2,
             tags("checkout", "prod", "checkout"), {"engine": "postgres", "multi_az": True, "allocated_gib": 800}),
            (S, "us-east-1", "Amazon Relational Database Service", "db_instance", "orders-db-staging", "db.m5.large", 1,
             tags("checkout", "staging", "checkout"), {"engine": "postgres", "multi_az": False, "allocated_gib": 200}),
            (S, "us-east-1", "Amazon Relational Database Service", "db_instance", "catalog-db-staging", "db.m4.large",
             1, None, {"engine": "mysql", "multi_az": False, "allocated_gib": 100}),
            (S, "eu-central-1", "Amazon Relational Database Service", "db_instance", "qa-db", "db.t3.medium", 1,
             tags("platform", "dev", "internal-tools"), {"engine": "postgres", "multi_az": False, "allocated_gib": 50}),
            (M, "us-west-2", "Amazon Relational Database Service", "db_instance", "mlflow-db", "db.m5.xlarge", 1,
             tags("ml", "prod", "recommender"), {"engine": "postgres", "multi_az": False, "allocated_gib": 100}),
            (P, "us-east-1", "Amazon ElastiCache", "cache_cluster", "sessions-cache", "cache.r6g.xlarge", 3,
             tags("checkout", "prod", "checkout-[beta]"), {"engine": "redis", "num_nodes": 3}),
            (P, "us-east-1", "Amazon Redshift", "warehouse_cluster", "acme-dwh", "ra3.4xlarge", 2,
             tags("data", "prod", "analytics"), {"node_type": "ra3.4xlarge", "number_of_nodes": 2}),
            (M, "us-west-2", "Amazon SageMaker", "endpoint", "recommender-endpoint", "ml.g4dn.xlarge", 2,
             tags("ml", "prod", "recommender"), {"variant": "AllTraffic", "instance_count": 2}),
            (M, "us-west-2", "Amazon SageMaker", "endpoint", "churn-endpoint", "ml.m5.large", 1,
             tags("ml", "prod", "churn-model"), {"variant": "AllTraffic", "instance_count": 1}),
        ]
        for acct, region, service, rtype, name, sku, nodes, tg, props in hourly:
            arn_kind = {"db_instance": ("rds", "db"), "cache_cluster": ("elasticache", "cluster"),
                        "warehouse_cluster": ("redshift", "cluster"), "endpoint": ("sagemaker", "endpoint")}[rtype]
            rid = f"arn:aws:{arn_kind[0]}:{region}:{acct.sub_id}:{arn_kind[1]}:{name}"
            if rtype == "endpoint":
                rid = f"arn:aws:sagemaker:{region}:{acct.sub_id}:endpoint/{name}"
            price = _price(AWS, sku, region)
            storage = props.get("allocated_gib", 0) * (0.23 if props.get("multi_az") else 0.115) * 24 / HOURS_PER_MONTH
            for i in range(N_DAYS):
                self.cost(i, acct, service, region, price * nodes * 24 + storage, rid=rid, rname=name, rtype=rtype,
                          tags=tg, qty=nodes * 24.0)
            self.resource(acct, rid, rtype, region, name=name, state="available", created=self.at(-rng.randint(90, 900),
                                                                                                   11),
                          tags=tg, itype=sku, props={**props, "instance_class": sku})
        # usage-priced resources: (acct, region, service, rtype, name, USD/day at as_of, weekend sensitivity, tags)
        usage = [
            (P, "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-datalake-raw", 210.0, 0.0,
             tags("data", "prod", "analytics")),
            (P, "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-datalake-curated", 95.0, 0.0,
             tags("data", "prod", "analytics")),
            (P, "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-web-assets", 18.0, 0.1,
             tags("platform", "prod", "storefront")),
            (P, "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-logs-archive", 42.0, 0.0, None),
            (P, "eu-west-1", "Amazon Simple Storage Service", "bucket", "acme-backups-eu", 36.0, 0.0,
             tags("platform", "prod", "backup")),
            (S, "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-ci-artifacts", 14.0, 0.3,
             tags("platform", "dev", "ci")),
            (M, "us-west-2", "Amazon Simple Storage Service", "bucket", "acme-ml-datasets", 88.0, 0.0,
             tags("ml", "prod", "recommender")),
            (M, "us-west-2", "Amazon Simple Storage Service", "bucket", "acme-ml-models", 21.0, 0.0,
             tags("ml", "prod", "recommender")),
            (P, "us-east-1", "Amazon DynamoDB", "table", "carts", 64.0, 0.35, tags("checkout", "prod", "checkout-[beta]")),
            (P, "us-east-1", "Amazon DynamoDB", "table", "sessions", 38.0, 0.35, tags("checkout", "prod", "checkout")),
            (P, "eu-west-1", "Amazon DynamoDB", "table", "carts-eu", 22.0, 0.35, tags("checkout", "prod", "checkout")),
            (P, "us-east-1", "Amazon CloudFront", "distribution", "E2Q7XK1DEMO0AB", 96.0, 0.25,
             tags("platform", "prod", "storefront")),
            (P, "us-east-1", "Amazon CloudFront", "distribution", "E1M5ZP8DEMO0CD", 31.0, 0.25, None),
            (P, "us-east-1", "Elastic Load Balancing", "load_balancer", "app/web-prod/5f3c2a1b9d8e7f60", 14.0, 0.3,
             tags("platform", "prod", "storefront")),
            (P, "us-east-1", "Elastic Load Balancing", "load_balancer", "app/checkout-api/0a9b8c7d6e5f4a3b", 9.0, 0.3,
             tags("checkout", "prod", "checkout")),
            (P, "eu-west-1", "Elastic Load Balancing", "load_balancer", "app/web-eu/7d6e5f4a3b2c1d0e", 6.0, 0.3,
             tags("platform", "prod", "storefront")),
            (S, "us-east-1", "Elastic Load Balancing", "load_balancer", "app/staging-web/1a2b3c4d5e6f7a8b", 0.6, 0.0,
             None),
            (P, "us-east-1", "Amazon Virtual Private Cloud", "nat_gateway", "nat-0c1d2e3f4a5b6c7d8", 38.0, 0.3,
             tags("platform", "prod", "network")),
            (P, "us-west-2", "Amazon Virtual Private Cloud", "nat_gateway", "nat-09a8b7c6d5e4f3a2b", 17.0, 0.3,
             tags("data", "prod", "network")),
            (M, "us-west-2", "Amazon Virtual Private Cloud", "nat_gateway", "nat-0f1e2d3c4b5a69788", 24.0, 0.2,
             tags("ml", "prod", "network")),
            (P, "us-east-1", "Amazon Elastic Kubernetes Service", "kubernetes_cluster", "eks-prod-use1", 2.4, 0.0,
             tags("platform", "prod", "eks-prod-use1")),
            (az_p, "westeurope", "Azure SQL Database", "sql_database", "sqldb-orders", 118.0, 0.0,
             tags("checkout", "prod", "checkout")),
            (az_p, "westeurope", "Azure SQL Database", "sql_database", "sqldb-erp", 64.0, 0.0,
             tags("platform", "prod", "internal-tools")),
            (az_d, "eastus", "Azure SQL Database", "sql_database", "sqldb-dev", 21.0, 0.0, None),
            (az_p, "westeurope", "Azure Cosmos DB", "database_account", "cosmos-catalog", 145.0, 0.3,
             tags("search", "prod", "search")),
            (az_p, "westeurope", "Storage Accounts", "storage_account", "acmeprodblobs", 74.0, 0.0,
             tags("platform", "prod", "storefront")),
            (az_p, "westeurope", "Storage Accounts", "storage_account", "acmeerpbackup", 31.0, 0.0, None),
            (az_d, "eastus", "Storage Accounts", "storage_account", "acmemldata", 45.0, 0.0,
             tags("ml", "dev", "forecasting")),
            (az_p, "westeurope", "Azure App Service", "app_service_plan", "asp-checkout-prod", 38.0, 0.0,
             tags("checkout", "prod", "checkout")),
            (az_d, "eastus", "Azure App Service", "app_service_plan", "asp-dev", 9.5, 0.0, None),
            (g_a, "us-central1", "Cloud Storage", "bucket", "acme-analytics-lake", 92.0, 0.0,
             tags("data", "prod", "analytics")),
            (g_a, "europe-west4", "Cloud Storage", "bucket", "acme-analytics-eu", 24.0, 0.0,
             tags("data", "prod", "analytics")),
            (g_a, "us-central1", "Cloud Storage", "bucket", "acme-airflow-logs", 6.0, 0.0, None),
            (g_m, "us-central1", "Cloud Storage", "bucket", "acme-ml-research-data", 38.0, 0.0,
             tags("ml", "dev", "forecasting")),
            (g_a, "us-central1", "Cloud SQL", "db_instance", "analytics-meta", 46.0, 0.0,
             tags("data", "prod", "analytics")),
            (g_a, "europe-west4", "Cloud SQL", "db_instance", "dash-eu-db", 33.0, 0.0, tags("data", "prod", "analytics")),
            (g_m, "us-central1", "Cloud SQL", "db_instance", "labels-db", 12.0, 0.0, tags("ml", "dev", "forecasting")),
        ]
        for acct, region, service, rtype, name, base, wk, tg in usage:
            rid = self._managed_id(acct, region, service, rtype, name)
            created_idx = -rng.randint(60, 900) if rng.random() < 0.85 else rng.randint(5, 60)
            storage_like = rtype in ("bucket", "storage_account")
            base *= _USAGE_SCALE
            for i in range(max(0, created_idx), N_DAYS):
                if storage_like:  # stored data grows a bit faster than the rest and barely fluctuates
                    amount = base * self.growth[i] ** 1.2 * self.noise(0.01)
                else:
                    amount = base * self.usage(i, wk, 0.05)
                self.cost(i, acct, service, region, amount, rid=rid, rname=name, rtype=rtype, tags=tg)
            self.resource(acct, rid, rtype, region, name=name, state="available",
                          created=self.at(created_idx, rng.uniform(8, 18)), tags=tg,
                          props=self._managed_props(rtype, name))

    def _managed_id(self, acct: _Acct, region: str, service: str, rtype: str, name: str) -> str:
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

    def _managed_props(self, rtype: str, name: str) -> dict[str, Any]:
        rng = self.rng
        if rtype == "bucket":
            return {"storage_class": "STANDARD", "versioning": rng.random() < 0.5,
                    "lifecycle_rules": rng.randint(0, 3)}
        if rtype == "load_balancer":
            return {"type": "application", "scheme": "internet-facing" if "staging" not in name else "internal",
                    "target_groups": 0 if "staging" in name else rng.randint(1, 4)}
        if rtype == "nat_gateway":
            return {"connectivity_type": "public"}
        return {}

    def flat_services(self) -> None:
        """Non-resource spend: data transfer, logs, serverless, support, tax..."""
        P, S, M, payer = ACCOUNTS["prod"], ACCOUNTS["staging"], ACCOUNTS["ml"], ACCOUNTS["payer"]
        az_p, az_d, g_a, g_m = ACCOUNTS["az-prod"], ACCOUNTS["az-dev"], ACCOUNTS["gcp-analytics"], ACCOUNTS["gcp-ml"]
        # (acct, region, service, USD/day at as_of, weekend sensitivity, noise, tags)
        flows: list[tuple[_Acct, str | None, str, float, float, float, dict[str, str] | None]] = [
            (P, "us-east-1", "AWS Data Transfer", 148.0, 0.3, 0.06, None),
            (P, "eu-west-1", "AWS Data Transfer", 52.0, 0.3, 0.06, None),
            (M, "us-west-2", "AWS Data Transfer", 34.0, 0.2, 0.08, None),
            (S, "us-east-1", "AWS Data Transfer", 9.0, 0.6, 0.08, None),
            (P, "us-east-1", "AmazonCloudWatch", 42.0, 0.1, 0.04, {"team": "platform", "env": "prod"}),
            (S, "us-east-1", "AmazonCloudWatch", 11.0, 0.4, 0.05, None),
            (M, "us-west-2", "AmazonCloudWatch", 28.0, 0.15, 0.05, {"team": "ml", "env": "prod"}),
            (P, "us-east-1", "AWS Lambda", 44.0, 0.45, 0.06, {"team": "checkout", "env": "prod"}),
            (S, "us-east-1", "AWS Lambda", 6.0, 0.8, 0.1, None),
            (M, "us-west-2", "AWS Lambda", 12.0, 0.4, 0.08, {"team": "ml", "env": "prod"}),
            (P, "us-east-1", "Amazon Athena", 26.0, 0.7, 0.12, {"team": "data", "env": "prod"}),
            (P, "us-east-1", "Amazon Simple Queue Service", 8.5, 0.4, 0.06, {"team": "checkout", "env": "prod"}),
            (P, "us-east-1", "AWS Key Management Service", 3.2, 0.0, 0.02, None),
            (M, "us-west-2", "AWS Key Management Service", 1.1, 0.0, 0.02, None),
            (P, "us-east-1", "AWS Secrets Manager", 2.4, 0.0, 0.01, None),
            (P, "us-east-1", "Amazon Route 53", 4.6, 0.2, 0.03, None),
            (az_p, "westeurope", "Bandwidth", 58.0, 0.3, 0.06, None),
            (az_d, "eastus", "Bandwidth", 6.0, 0.6, 0.1, None),
            (az_p, "westeurope", "Azure Monitor", 36.0, 0.1, 0.04, {"team": "platform", "env": "prod"}),
            (az_d, "eastus", "Azure Monitor", 7.0, 0.5, 0.06, None),
            (az_d, "eastus", "Azure OpenAI Service", 118.0, 0.7, 0.15, {"team": "ml", "env": "dev",
                                                                     "project": "forecasting"}),
            (az_p, "westeurope", "Key Vault", 1.6, 0.1, 0.03, None),
            (az_p, "westeurope", "Virtual Network", 9.0, 0.1, 0.03, None),
            (g_a, "us-central1", "BigQuery", 310.0, 0.6, 0.12, {"team": "data", "env": "prod", "project": "analytics"}),
            (g_m, "us-central1", "BigQuery", 38.0, 0.8, 0.2, {"team": "ml", "env": "dev", "project": "forecasting"}),
            (g_m, "us-central1", "Vertex AI", 86.0, 0.5, 0.15, {"team": "ml", "env": "dev", "project": "forecasting"}),
            (g_a, "us-central1", "Cloud Logging", 24.0, 0.2, 0.05, None),
            (g_a, "us-central1", "Cloud Run", 16.0, 0.45, 0.07, {"team": "search", "env": "prod", "project": "search"}),
            (g_a, "us-central1", "Cloud Pub/Sub", 11.0, 0.3, 0.05, {"team": "data", "env": "prod",
                                                                  "project": "analytics"}),
            (g_a, "us-central1", "Networking", 41.0, 0.3, 0.06, None),
            (g_a, "europe-west4", "Networking", 12.0, 0.3, 0.06, None),
        ]
        aws_usage_by_day = [0.0] * N_DAYS
        for r in self.costs[AWS]:
            if r.charge_category == "Usage":
                aws_usage_by_day[(r.day - self.start).days] += r.billed_cost / NANOS
        for acct, region, service, base, wk, sd, tg in flows:
            base *= _USAGE_SCALE
            spikes = self.spikes.get((acct.sub_id, service, region or ""), {})
            for i in range(N_DAYS):
                amount = base * self.usage(i, wk, sd) * spikes.get(i, 1.0)
                self.cost(i, acct, service, region, amount, tags=tg)
                if acct.provider == AWS:
                    aws_usage_by_day[i] += amount
        # AWS Business support: a share of the day's usage; US sales tax on it, both billed to the payer
        for i in range(N_DAYS):
            support = aws_usage_by_day[i] * 0.07
            self.cost(i, payer, "AWS Support (Business)", None, support)
            self.cost(i, payer, "Tax", None, (aws_usage_by_day[i] + support) * 0.0625, charge="Tax", pricing=None)

    def kubernetes(self) -> None:
        """OpenCost-style allocation of eks-prod-use1: namespaces as sub accounts, workloads as resources."""
        rng = self.rng
        cpu_h, ram_h, gpu_h, pv_m = 0.031611, 0.004237, 0.95, 0.04
        # (namespace, kind, name, cpu cores, RAM GiB, GPUs, PV GiB, load balancer, autoscaled, team, project)
        workloads = [
            ("checkout", "deployment", "checkout-api", 28, 56, 0, 0, True, True, "checkout", "checkout"),
            ("checkout", "deployment", "cart", 12, 24, 0, 0, False, True, "checkout", "checkout-[beta]"),
            ("checkout", "statefulset", "redis", 4, 32, 0, 100, False, False, "checkout", "checkout"),
            ("search", "deployment", "search-api", 20, 40, 0, 0, True, True, "search", "search"),
            ("search", "statefulset", "opensearch", 24, 96, 0, 1500, False, False, "search", "search"),
            ("ml-serving", "deployment", "recommender", 8, 32, 2, 0, True, False, "ml", "recommender"),
            ("ml-serving", "deployment", "feature-api", 6, 12, 0, 0, False, True, "ml", "recommender"),
            ("platform", "daemonset", "fluent-bit", 4, 8, 0, 0, False, False, "platform", "observability"),
            ("platform", "deployment", "ingress-nginx", 6, 12, 0, 0, True, True, "platform", "eks-prod-use1"),
            ("platform", "statefulset", "prometheus", 8, 64, 0, 500, False, False, "platform", "observability"),
        ]
        for ns, kind, name, cpu, ram, gpu, pv, lb, auto, team, project in workloads:
            acct = ACCOUNTS[f"k8s-{ns}"]
            rid = f"eks-prod-use1/{ns}/{kind}/{name}"
            tg = {"team": team, "env": "prod", "project": project, "namespace": ns}
            for i in range(N_DAYS):
                f = self.usage(i, 0.35 if auto else 0.0, 0.05 if auto else 0.015)
                self.cost(i, acct, "Kubernetes CPU", "us-east-1", cpu * f * 24 * cpu_h, rid=rid, rname=name,
                          rtype="workload", tags=tg, qty=round(cpu * f * 24, 3))
                self.cost(i, acct, "Kubernetes Memory", "us-east-1", ram * f * 24 * ram_h, rid=rid, rname=name,
                          rtype="workload", tags=tg, qty=round(ram * f * 24, 3))
                if gpu:
                    self.cost(i, acct, "Kubernetes GPU", "us-east-1", gpu * 24 * gpu_h, rid=rid, rname=name,
                              rtype="workload", tags=tg, qty=gpu * 24.0)
                if pv:
                    self.cost(i, acct, "Kubernetes Persistent Volume", "us-east-1", pv * pv_m * 24 / HOURS_PER_MONTH
                              * self.growth[i] ** 0.5, rid=rid, rname=name, rtype="workload", tags=tg)
                if lb:
                    self.cost(i, acct, "Kubernetes Load Balancer", "us-east-1", 0.025 * 24, rid=rid, rname=name,
                              rtype="workload", tags=tg, qty=24.0)
            self.resource(acct, rid, "workload", "us-east-1", name=name, state="running",
                          created=self.at(-rng.randint(30, 400), 10), tags=tg,
                          props={"cluster": "eks-prod-use1", "namespace": ns, "controller_kind": kind,
                                 "cpu_request_cores": cpu, "ram_request_gib": ram, "gpus": gpu, "pv_gib": pv,
                                 "allocation": "opencost"})
        for ns in ("checkout", "search", "ml-serving", "platform"):
            acct = ACCOUNTS[f"k8s-{ns}"]
            for i in range(N_DAYS):
                self.cost(i, acct, "Kubernetes Network", "us-east-1", 3.5 * self.usage(i, 0.3, 0.08),
                          tags={"namespace": ns, "env": "prod"})

    # -- ML runs -------------------------------------------------------------------------------
    def ml(self) -> None:
        rng = self.rng
        M, az_d = ACCOUNTS["ml"], ACCOUNTS["az-dev"]
        gpu_dev = [x for x in self.insts if x.name.startswith("gpu-dev")]
        azure_cluster = (f"/subscriptions/{az_d.sub_id}/resourceGroups/rg-ml/providers/"
                         "Microsoft.MachineLearningServices/workspaces/mlw-acme-dev/computes/gpu-cluster")
        cluster_hours: dict[int, float] = defaultdict(float)
        # (task, runs, executor kind, instance type, count, hours range, metric keys, primary, params)
        tasks = [
            ("image-classifier", 12, "sagemaker", "ml.p3.2xlarge", 2, (4.0, 14.0), 30),
            ("churn-model", 10, "sagemaker", "ml.m5.xlarge", 1, (0.4, 1.5), 20),
            ("recsys-ranker", 8, "ec2", "p3.2xlarge", 2, (3.0, 7.5), 20),
            ("demand-forecast", 7, "azureml", "Standard_NC6s_v3", 2, (2.0, 6.0), 15),
        ]
        exp_id = 0
        for task, n_runs, kind, itype, count, (hmin, hmax), steps in tasks:
            exp_id += 1
            # weekdays in the last ~60 days, oldest first; the newest run of two tasks is still running
            run_days: list[int] = []
            for _ in range(n_runs):
                d = rng.randint(N_DAYS - 60, N_DAYS - 2)
                while self.weekend[d]:
                    d -= 1
                run_days.append(d)
            run_days.sort()
            running_last = task in ("image-classifier", "demand-forecast")
            failed = set(rng.sample(range(n_runs - 1), 2 if n_runs >= 10 else 1))
            for k, d in enumerate(run_days):
                is_running = running_last and k == n_runs - 1
                # statuses as providers/aws/ml.py normalises them: running | completed | failed | stopped
                status = "failed" if k in failed else "completed"
                if task == "recsys-ranker" and k == n_runs - 3:
                    status = "stopped"
                start_h = rng.uniform(9.0, 11.5)
                dur = rng.uniform(hmin, hmax)
                if status != "completed":
                    dur *= rng.uniform(0.15, 0.6)
                start = self.at(d, start_h)
                if is_running:
                    status = "running"
                    # started a few hours before as_of 06:00 (not the wall clock: the content stays
                    # deterministic); billed so far up to then
                    cutoff = self.at(N_DAYS - 1, 6.0)
                    start = cutoff - timedelta(hours=rng.uniform(1.5, 3.5))
                    d = (start.date() - self.start).days
                    start_h = (start - self.at(d)).total_seconds() / 3600
                    dur = (cutoff - start).total_seconds() / 3600
                end = start + timedelta(hours=dur)
                run_id = f"{rng.getrandbits(128):032x}"  # an MLflow-style run id
                name = f"{task}-{self.days[d]:%m%d}-{k + 1:02d}"
                region = {"sagemaker": "us-west-2", "ec2": "us-west-2", "azureml": "eastus"}[kind]
                if kind == "sagemaker":  # SageMaker runs are keyed by the training job ARN
                    name = f"{task}-{start:%Y-%m-%d-%H-%M-%S}-{rng.randint(100, 999)}"
                    run_id = f"arn:aws:sagemaker:{region}:{M.sub_id}:training-job/{name}"
                params, metrics_def = self._ml_params(task, rng)
                n_steps = steps if status == "completed" else max(2, int(steps * dur / hmax)) if not is_running \
                    else max(2, steps // 2)
                final = self._ml_metrics(run_id, metrics_def, n_steps, start, dur, rng)
                primary_key = metrics_def[0][0]
                primary = final[primary_key]
                billable = int(dur * 3600)  # wall-clock seconds per instance, as SageMaker reports it
                props: dict[str, Any] = {"experiment_id": str(exp_id), "platform": kind,
                                         "user": rng.choice(("alice", "bob", "chen", "dana")),
                                         "git_commit": f"{rng.getrandbits(40):010x}"}
                if kind == "sagemaker":
                    price = _price(AWS, itype, region)
                    tg = {"team": "ml", "env": "dev", "project": task}
                    for day_idx, hrs in self._split_days(d, start_h, dur):
                        self.cost(day_idx, M, "Amazon SageMaker", region, hrs * count * price, rid=run_id,
                                  rname=name, rtype="training_job", tags=tg, qty=round(hrs * count, 4))
                    raw = {"completed": "Completed", "failed": "Failed", "running": "InProgress",
                           "stopped": "Stopped"}[status]
                    props.update({"sagemaker_status": raw, "training_seconds": billable, "billable_estimated": False,
                                  "managed_spot": False, "tags": tg,
                                  "failure_reason": "AlgorithmError: CUDA out of memory" if status == "failed"
                                  else None})
                    self.ml_executors.append({"run_id": run_id, "provider_name": AWS, "resource_id": run_id,
                                              "instance_type": itype, "instance_count": count, "region_id": region,
                                              "start_at": self.iso(start), "end_at": None if is_running else
                                              self.iso(end), "billable_seconds": billable})
                    host = region
                elif kind == "ec2":
                    for inst in gpu_dev[:count]:
                        self.ml_executors.append({"run_id": run_id, "provider_name": AWS, "resource_id": inst.rid,
                                                  "instance_type": itype, "instance_count": 1, "region_id": region,
                                                  "start_at": self.iso(start), "end_at": self.iso(end),
                                                  "billable_seconds": int(dur * 3600)})
                    host = gpu_dev[0].name
                else:
                    for day_idx, hrs in self._split_days(d, start_h, dur):
                        cluster_hours[day_idx] += hrs * count
                    self.ml_executors.append({"run_id": run_id, "provider_name": AZURE, "resource_id": azure_cluster,
                                              "instance_type": itype, "instance_count": count, "region_id": region,
                                              "start_at": self.iso(start), "end_at": None if is_running else
                                              self.iso(end), "billable_seconds": billable})
                    host = "gpu-cluster"
                self.ml_runs.append({
                    "source_id": None, "run_id": run_id, "task": task, "name": name, "status": status,
                    "start_at": self.iso(start), "end_at": None if is_running else self.iso(end), "host": host,
                    "primary_metric": primary_key, "primary_value": round(primary, 5),
                    "exit_code": {"completed": 0, "failed": 1, "stopped": 137, "running": None}[status],
                    "properties": props,
                })
                for pk, pv in params.items():
                    self.ml_params.append({"run_id": run_id, "key": pk, "value": str(pv)})
        price = _price(AZURE, "Standard_NC6s_v3", "eastus")
        tg = {"team": "ml", "env": "dev", "project": "demand-forecast"}
        for day_idx in sorted(cluster_hours):
            hrs = cluster_hours[day_idx]
            self.cost(day_idx, az_d, "Azure Machine Learning", "eastus", hrs * price, rid=azure_cluster,
                      rname="gpu-cluster", rtype="ml_compute", tags=tg, qty=round(hrs, 4))
        self.resource(az_d, azure_cluster, "ml_compute", "eastus", name="gpu-cluster", state="available",
                      created=self.at(-150, 10), tags=tg, itype="Standard_NC6s_v3",
                      props={"vm_size": "Standard_NC6s_v3", "min_nodes": 0, "max_nodes": 4,
                             "idle_seconds_before_scaledown": 1800, "workspace": "mlw-acme-dev"})

    def _split_days(self, d: int, start_h: float, dur: float) -> list[tuple[int, float]]:
        out = []
        h, left = start_h, dur
        while left > 1e-9 and d < N_DAYS:
            take = min(left, 24.0 - h)
            out.append((d, take))
            left -= take
            d, h = d + 1, 0.0
        return out

    def _ml_params(self, task: str, rng: random.Random) -> tuple[dict[str, Any], list[tuple[str, float, float]]]:
        """(params, [(metric key, start value, end value)]); the first metric is the primary one."""
        if task == "image-classifier":
            lr = rng.choice((1e-4, 3e-4, 1e-3))
            return ({"model": rng.choice(("resnet50", "efficientnet_b3", "vit_b16")), "learning_rate": lr,
                     "batch_size": rng.choice((64, 128, 256)), "epochs": 30, "optimizer": "adamw",
                     "augment": rng.choice(("light", "heavy"))},
                    [("val_accuracy", 0.42, rng.uniform(0.86, 0.94)), ("loss", 2.1, rng.uniform(0.18, 0.35)),
                     ("val_loss", 2.2, rng.uniform(0.25, 0.45))])
        if task == "churn-model":
            return ({"max_depth": rng.choice((4, 6, 8)), "eta": rng.choice((0.05, 0.1, 0.3)),
                     "num_round": rng.choice((200, 400)), "subsample": 0.8, "objective": "binary:logistic"},
                    [("val_auc", 0.62, rng.uniform(0.84, 0.9)), ("train_logloss", 0.69, rng.uniform(0.2, 0.3))])
        if task == "recsys-ranker":
            return ({"embedding_dim": rng.choice((64, 128)), "learning_rate": rng.choice((0.001, 0.003)),
                     "negatives": rng.choice((4, 8, 16)), "epochs": 20, "loss": "bpr"},
                    [("ndcg_at_10", 0.11, rng.uniform(0.31, 0.38)), ("loss", 0.69, rng.uniform(0.12, 0.2))])
        return ({"model": rng.choice(("tft", "nbeats", "deepar")), "horizon_days": 28,
                 "lookback_days": rng.choice((90, 180, 365)), "learning_rate": rng.choice((0.001, 0.0005)),
                 "epochs": 15},
                [("neg_mape", -0.41, -rng.uniform(0.07, 0.12)), ("rmse", 180.0, rng.uniform(38.0, 55.0))])

    def _ml_metrics(self, run_id: str, defs: list[tuple[str, float, float]], n_steps: int, start: datetime,
                    dur: float, rng: random.Random) -> dict[str, float]:
        final: dict[str, float] = {}
        for key, v0, v1 in defs:
            value = v0
            for step in range(n_steps):
                frac = 1.0 - math.exp(-4.0 * (step + 1) / max(1, n_steps))
                value = v0 + (v1 - v0) * frac / (1.0 - math.exp(-4.0)) + rng.gauss(0, abs(v1 - v0) * 0.015)
                ts = start + timedelta(hours=dur * (step + 1) / n_steps)
                self.ml_metrics.append({"run_id": run_id, "key": key, "step": step, "ts": self.iso(ts),
                                        "value": round(value, 6)})
            final[key] = value
        return final

    # -- the rest of the input tables ---------------------------------------------------------------
    def prices(self) -> list[dict[str, Any]]:
        used: dict[str, set[str]] = defaultdict(set)
        spot: set[tuple[str, str, str]] = set()
        for inst in self.insts:
            used[inst.provider].add(inst.region)
            if inst.lifecycle == "spot":
                spot.add((inst.provider, inst.region, inst.itype))
        used[AWS].update({"us-west-2", "us-east-1", "eu-west-1", "eu-central-1"})
        used[AZURE].add("eastus")
        fetched = self.iso(self.at(N_DAYS - 1, 4.0))
        rows = []
        for provider in (AWS, AZURE, GCP):
            for region in sorted(used[provider]):
                for sku, (_p, vcpu, mem, family, gen) in _CATALOG[provider].items():
                    price = _price(provider, sku, region)
                    base = {"provider_name": provider, "region_id": region, "sku": sku, "unit": "Hrs",
                            "currency": "USD", "vcpu": vcpu, "memory_gib": mem, "family": family,
                            "generation": gen, "source": "demo", "fetched_at": fetched}
                    rows.append({**base, "pricing_model": "on-demand", "price_nanos": _m(price)})
                    if (provider, region, sku) in spot:
                        rows.append({**base, "pricing_model": "spot", "price_nanos": _m(round(price * _SPOT_FACTOR, 4))})
        return rows

    def sources_and_runs(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        opts = {
            AWS: {"provider": AWS, "payer_account": ACCOUNTS["payer"].sub_id,
                  "regions": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]},
            AZURE: {"provider": AZURE, "billing_account": _AZ_BILLING[0]},
            GCP: {"provider": GCP, "billing_account": _GCP_BILLING[0]},
            K8S: {"provider": K8S, "cluster": "eks-prod-use1", "allocation": True,
                  "note": "an allocation of the cluster's node costs (OpenCost); the nodes are also billed under AWS"},
        }
        sources, runs = [], []
        run_id = 0
        for sid, provider in enumerate(PROVIDERS, start=1):
            sources.append({"id": sid, "name": SOURCE_NAMES[provider], "kind": DEMO_KIND,
                            "options": {**opts[provider], "demo": True},
                            "created_at": self.iso(self.at(0, 5.0))})
            for i in range(N_DAYS - 30, N_DAYS):
                run_id += 1
                started = self.at(i, 5.0 + sid * 0.1 + rng.uniform(0, 0.05))
                failed = provider == AZURE and i == N_DAYS - 5
                calls = {AWS: 38, AZURE: 12, GCP: 4, K8S: 6}[provider] + rng.randint(0, 6)
                dur_ms = rng.randint(2_500, 40_000)
                window_lo = self.days[max(0, i - 3)]
                runs.append({
                    "id": run_id, "source_id": sid, "started_at": self.iso(started),
                    "finished_at": self.iso(started + timedelta(milliseconds=dur_ms)),
                    "status": "failed" if failed else "ok", "window_start": window_lo.isoformat(),
                    "window_end": self.days[i].isoformat(),
                    "rows": 0 if failed else rng.randint(800, 4000) if provider == AWS else rng.randint(100, 900),
                    "api_calls": calls, "billed_api_calls": calls if provider == AWS else 0, "duration_ms": dur_ms,
                    "error": ("Azure Cost Management query: 429 Too Many Requests after 5 retries "
                              "(x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after: 60)") if failed else None,
                    "detail": {"demo": True},
                })
        return sources, runs

    def admin_tables(self, mtd: dict[str, int]) -> tuple[list[dict[str, Any]], ...]:
        rng = self.rng
        bastion = next(x for x in self.insts if x.name.startswith("bastion"))
        erp_disk = next(r for r in self.resources if r["resource_name"] == "erp-olddata")
        exclusions = [
            {"id": 1, "provider_name": AWS, "resource_id": bastion.rid, "rule": "idle_instance",
             "reason": "bastion host: idle by design, kept for on-call access",
             "created_at": self.iso(self.at(N_DAYS - 40, 14.2))},
            {"id": 2, "provider_name": AZURE, "resource_id": erp_disk["resource_id"], "rule": None,
             "reason": "legal hold until the ERP audit closes [ticket FIN-2291]",
             "created_at": self.iso(self.at(N_DAYS - 25, 9.7))},
        ]
        prod_id = ACCOUNTS["prod"].sub_id
        over = max(1000, int(mtd["prod"] / NANOS * 0.85) // 1000 * 1000)
        budgets = [
            {"name": "Company total", "amount_nanos": 250_000 * NANOS, "currency": "USD", "period": "month",
             "filter": {}},
            {"name": "AWS prod account", "amount_nanos": over * NANOS, "currency": "USD", "period": "month",
             "filter": {"sub_account_id": prod_id}},
            {"name": "ML team", "amount_nanos": 40_000 * NANOS, "currency": "USD", "period": "month",
             "filter": {"tag:team": "ml"}},
            {"name": "Google Cloud", "amount_nanos": 45_000 * NANOS, "currency": "USD", "period": "month",
             "filter": {"provider_name": GCP}},
        ]
        loose_vol = next(r for r in self.resources if r["resource_name"] == "old-jenkins-data")
        stopped = next(x for x in self.insts if x.name.startswith("staging-search"))
        idle_eip = next(r for r in self.resources if r["resource_type"] == "elastic_ip"
                        and r["state"] == "unassociated" and r["provider_name"] == AWS)
        actor = "alice@acme.example"
        st = ACCOUNTS["staging"].sub_id
        actions = [
            {"id": 1, "at": self.iso(self.at(N_DAYS - 21, 10.5)), "actor": actor, "action": "delete_volume",
             "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1", "resource_id": self.deleted_volume,
             "dry_run": 1, "result": "dry-run", "error": None,
             "detail": {"plan": "delete unattached gp2 volume (300 GiB)", "monthly_saving_nanos": 30 * NANOS,
                        "reversible": False}},
            {"id": 2, "at": self.iso(self.at(N_DAYS - 20, 9.25)), "actor": actor, "action": "delete_volume",
             "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1", "resource_id": self.deleted_volume,
             "dry_run": 0, "result": "ok", "error": None,
             "detail": {"snapshot_first": True, "monthly_saving_nanos": 30 * NANOS, "reversible": False}},
            {"id": 3, "at": self.iso(self.at(N_DAYS - 6, 15.75)), "actor": "bob@acme.example",
             "action": "delete_volume", "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1",
             "resource_id": loose_vol["resource_id"], "dry_run": 1, "result": "dry-run", "error": None,
             "detail": {"plan": "delete unattached st1 volume (1000 GiB)", "monthly_saving_nanos": 45 * NANOS,
                        "reversible": False}},
            {"id": 4, "at": self.iso(self.at(N_DAYS - 6, 15.8)), "actor": "bob@acme.example",
             "action": "stop_instance", "provider_name": AWS, "sub_account_id": st, "region_id": "us-east-1",
             "resource_id": stopped.rid, "dry_run": 0, "result": "skipped",
             "error": "re-check: instance is already stopped", "detail": {"state_at_check": "stopped"}},
            {"id": 5, "at": self.iso(self.at(N_DAYS - 3, 11.1)), "actor": actor, "action": "release_address",
             "provider_name": AWS, "sub_account_id": idle_eip["sub_account_id"], "region_id": idle_eip["region_id"],
             "resource_id": idle_eip["resource_id"], "dry_run": 0, "result": "failed",
             "error": "UnauthorizedOperation: You are not authorized to perform: ec2:ReleaseAddress",
             "detail": {"request_id": self.guid(), "attempt": rng.randint(1, 2)}},
        ]
        return exclusions, budgets, actions


# -- writing --------------------------------------------------------------------------------


def _wipe(store: Store) -> None:
    """Delete every row of every table except meta.schema_version (inside the caller's transaction)."""
    conn = store.conn
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    order = [t for t in _WIPE_FIRST if t in tables] + [t for t in tables if t not in _WIPE_FIRST]
    for t in order:
        if t == "meta":
            conn.execute("DELETE FROM meta WHERE key <> 'schema_version'")
        else:
            conn.execute(f'DELETE FROM "{t}"')
    # the store caches dimension and tag-set ids; they are gone now
    store.clear_caches()


def _refuse_real_data(store: Store) -> None:
    conn = store.conn
    real = conn.execute("SELECT name, kind FROM sources WHERE kind <> ? ORDER BY name", (DEMO_KIND,)).fetchall()
    if real:
        names = ", ".join(f"{r[0]} ({r[1]})" for r in real[:5])
        raise InputError(
            f"{store.path}: the cache holds real data (sources: {names}); refusing to overwrite it with the demo "
            "(use another --db)"
        )
    orphan = conn.execute(
        "SELECT count(*) FROM costs WHERE source_id NOT IN (SELECT id FROM sources)"
    ).fetchone()[0]
    if orphan:
        raise InputError(f"{store.path}: the cache holds cost rows of no known source; refusing to overwrite it")


def generate(store: Store, as_of: date, seed: int = 7) -> DemoSummary:
    """(Re)generate the demo snapshot ending on `as_of` (inclusive) into `store`, atomically."""
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    _refuse_real_data(store)  # fail fast; checked again inside the write transaction
    snap = min(datetime.combine(as_of, time(6), tzinfo=UTC), timeutil.now())
    g = _Gen(as_of, seed, snap)
    g.plan_anomalies()
    g.fleets()
    g.plan_commitments()
    alloc = g.apply_commitments()
    g.instance_costs(alloc)
    g.inventory()
    g.managed_services()
    g.ml()
    g.kubernetes()
    g.flat_services()
    commitments, usage = g.commitment_rows()
    prices = g.prices()
    sources, runs = g.sources_and_runs()
    month0 = as_of.replace(day=1)
    mtd_prod = sum(r.billed_cost for r in g.costs[AWS]
                   if r.day >= month0 and r.sub_account_id == ACCOUNTS["prod"].sub_id)
    exclusions, budgets, actions = g.admin_tables({"prod": mtd_prod})

    src_id = {p: s["id"] for p, s in zip(PROVIDERS, sources, strict=True)}
    for r in g.resources:
        r["source_id"] = src_id[r["provider_name"]]
    for c in commitments:
        c["source_id"] = src_id[c["provider_name"]]
    ml_src = {e["run_id"]: src_id[e["provider_name"]] for e in g.ml_executors}
    for run in g.ml_runs:
        run["source_id"] = ml_src[run["run_id"]]

    with store.transaction():
        _refuse_real_data(store)
        _wipe(store)
        store.replace_where("sources", "1=1", (), sources)
        store.replace_where("sync_runs", "1=1", (), runs)
        n_costs = 0
        for p in PROVIDERS:
            n_costs += store.replace_costs(src_id[p], g.costs[p], in_transaction=True)
        store.replace_where("resources", "1=1", (), g.resources)
        store.replace_where("metrics", "1=1", (), g.metrics)
        store.replace_where("prices", "1=1", (), prices)
        store.replace_where("commitments", "1=1", (), commitments)
        store.replace_where("commitment_usage", "1=1", (), usage)
        store.replace_where("ml_runs", "1=1", (), g.ml_runs)
        store.replace_where("ml_executors", "1=1", (), g.ml_executors)
        store.replace_where("ml_run_metrics", "1=1", (), g.ml_metrics)
        store.replace_where("ml_run_params", "1=1", (), g.ml_params)
        store.replace_where("budgets", "1=1", (), budgets)
        store.replace_where("exclusions", "1=1", (), exclusions)
        store.replace_where("actions", "1=1", (), actions)
        store.set_meta("demo", "1")
        store.set_meta("demo_as_of", as_of.isoformat())
        store.set_meta("demo_seed", str(seed))
        store.set_meta("demo_anomalies", json.dumps(g.anomalies, sort_keys=True))
        store.touch_snapshot(snap)
        counts = store.table_counts()

    all_rows = [r for p in PROVIDERS for r in g.costs[p]]
    return DemoSummary(
        as_of=as_of,
        seed=seed,
        days=N_DAYS,
        providers=len({r.provider_name for r in all_rows}),
        accounts=len({r.sub_account_id for r in all_rows}),
        services=len({r.service_name for r in all_rows}),
        regions=len({r.region_id for r in all_rows if r.region_id}),
        cost_rows=n_costs,
        resources=len(g.resources),
        runs=len(g.ml_runs),
        total_billed=sum(r.billed_cost for r in all_rows),
        anomalies=g.anomalies,
        table_rows=counts,
    )


__all__ = ["DEMO_KIND", "DemoSummary", "generate"]
