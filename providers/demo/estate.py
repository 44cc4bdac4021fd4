"""What the demo company (Acme Corp) runs: its fleets, storage, managed services, workloads and ML tasks.

Static tables only, one row per thing, read by the generator modules in this package; nothing here draws
a random number (the tables say *what* exists, the generators draw *when*, *how busy* and the ids).
Row order matters: the generators draw from the one random source in table order, so reordering
rows (or adding one) changes the whole snapshot. Accounts are the keys of `catalog.ACCOUNTS`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .catalog import ACCOUNTS, AWS, AZURE, AZURE_BILLING, GCP, GCP_BILLING, K8S


def _tags(team: str, env: str, project: str | None = None) -> dict[str, str]:
    return {"team": team, "env": env} if project is None else {"team": team, "env": env, "project": project}


# -- injected anomalies (anomalies.py) --------------------------------------------------------------


class Spike(NamedTuple):
    """A usage flow (see FLOWS) multiplied for a few consecutive weekdays."""

    account: str
    service: str
    region: str
    days_ago: tuple[int, int]  # the first day is drawn between as_of - hi and as_of - lo (then back to a weekday)
    length: int  # consecutive weekdays
    factor: tuple[float, float]  # drawn uniformly, rounded to 2 places
    note: str


SPIKES = (
    Spike("ml", "AmazonCloudWatch", "us-west-2", (30, 45), 2, (4.5, 5.5),
          "debug-level logging left on after an incident: log ingestion x5"),
    Spike("gcp-analytics", "BigQuery", "us-central1", (60, 80), 1, (5.5, 6.0),
          "an unpartitioned full-table scan scheduled hourly"),
    Spike("az-prod", "Bandwidth", "westeurope", (12, 20), 3, (4.0, 4.6),
          "a misconfigured CDN origin served video egress directly"),
)


class Shift(NamedTuple):
    """A usage flow multiplied from `days_ago` days before as_of up to as_of (still going on): a level
    shift (factor > 1) or a drop (factor 0: the spend disappeared). Fixed days, nothing drawn."""

    account: str
    service: str
    region: str
    days_ago: int
    factor: float
    kind: str  # "level_shift" or "drop"
    note: str


SHIFTS = (
    Shift("staging", "AWS Data Transfer", "us-east-1", 5, 10.0, "level_shift",
          "a load test (k6 generators in staging) started for a release and never stopped: egress x10"),
    Shift("az-prod", "Azure Monitor", "westeurope", 3, 0.0, "drop",
          "the diagnostic-settings export to Log Analytics stopped after a policy change: no logs since"),
)

# -- compute fleets (fleets.py) ----------------------------------------------------------------------


class Fleet(NamedTuple):
    """A group of identical VMs, named <prefix>-01, <prefix>-02, ... (just <prefix> when there is one)."""

    account: str
    region: str
    itype: str
    instances: int
    prefix: str
    schedule: str  # always | business (weekdays) | autoscale | stopped | stopped-billed (Azure) | deallocated
    profile: str  # utilization: idle | normal | busy | oversized
    n_spot: int  # the first n_spot instances are spot
    team: str
    env: str
    project: str  # "<name>-[beta]": only the first two instances carry the [beta] suffix
    new_share: float  # share of the group launched inside the window (the last ones)
    untagged: float  # share with no tags at all (the first ones)


AWS_FLEETS = (
    Fleet("prod",    "us-east-1",      "m5.2xlarge",   7,  "web",                "always",    "busy",
          0, "platform", "prod",    "storefront",      0.15, 0),
    Fleet("prod",    "us-east-1",      "c5.4xlarge",   5,  "checkout-api",       "always",    "normal",
          0, "checkout", "prod",    "checkout-[beta]", 0.2,  0),
    Fleet("prod",    "us-east-1",      "m6i.4xlarge",  10, "worker",             "autoscale", "normal",
          0, "platform", "prod",    "storefront",      0.35, 0),
    Fleet("prod",    "us-east-1",      "r5.4xlarge",   4,  "search-node",        "always",    "busy",
          0, "search",   "prod",    "search",          0.25, 0),
    Fleet("prod",    "us-east-1",      "m4.2xlarge",   3,  "legacy-billing",     "always",    "oversized",
          0, "platform", "prod",    "internal-tools",  0,    1.0),
    Fleet("prod",    "us-east-1",      "t3.medium",    2,  "bastion",            "always",    "idle",
          0, "platform", "prod",    "internal-tools",  0,    0),
    Fleet("prod",    "us-east-1",      "m5.8xlarge",   8,  "eks-prod-use1-node", "autoscale", "busy",
          0, "platform", "prod",    "eks-prod-use1",   0.3,  0),
    Fleet("prod",    "us-west-2",      "c6i.4xlarge",  6,  "batch",              "autoscale", "normal",
          3, "data",     "prod",    "analytics",       0.3,  0),
    Fleet("prod",    "eu-west-1",      "m5.xlarge",    6,  "web-eu",             "always",    "normal",
          0, "platform", "prod",    "storefront",      0.3,  0),
    Fleet("prod",    "eu-west-1",      "r5.2xlarge",   3,  "redis-eu",           "always",    "oversized",
          0, "checkout", "prod",    "checkout",        0,    0.34),
    Fleet("staging", "eu-central-1",   "m6i.xlarge",   8,  "staging-app",        "business",  "idle",
          0, "platform", "staging", "storefront",      0.2,  0.25),
    Fleet("staging", "us-east-1",      "c5.2xlarge",   6,  "ci-runner",          "business",  "busy",
          2, "platform", "dev",     "ci",              0.2,  0),
    Fleet("staging", "us-east-1",      "m5.xlarge",    3,  "staging-search",     "stopped",   "normal",
          0, "search",   "staging", "search",          0,    0.34),
    Fleet("staging", "us-east-1",      "r4.xlarge",    2,  "test-db",            "always",    "idle",
          0, "data",     "staging", "analytics",       0,    0.5),
    Fleet("staging", "us-east-1",      "t3.large",     4,  "sandbox",            "always",    "idle",
          0, "platform", "dev",     "internal-tools",  0,    0.5),
    Fleet("ml",      "us-west-2",      "g4dn.2xlarge", 4,  "inference",          "always",    "busy",
          0, "ml",       "prod",    "recommender",     0.25, 0),
    Fleet("ml",      "us-west-2",      "p3.2xlarge",   2,  "gpu-dev",            "business",  "busy",
          0, "ml",       "dev",     "recommender",     0,    0),
    Fleet("ml",      "us-west-2",      "r5.2xlarge",   4,  "feature-store",      "always",    "normal",
          0, "ml",       "prod",    "recommender",     0.25, 0),
    Fleet("ml",      "ap-southeast-1", "m5.4xlarge",   5,  "etl-apac",           "autoscale", "normal",
          0, "data",     "prod",    "analytics",       0.4,  0),
)
AZURE_FLEETS = (
    Fleet("az-prod", "westeurope", "Standard_D4s_v5",  5, "app",          "always",         "busy",
          0, "checkout", "prod", "checkout",       0.2,  0),
    Fleet("az-prod", "westeurope", "Standard_D4s_v5",  1, "app-burst",    "business",       "normal",
          0, "checkout", "prod", "checkout",       0,    0),
    Fleet("az-prod", "westeurope", "Standard_D8s_v3",  3, "erp",          "always",         "oversized",
          0, "platform", "prod", "internal-tools", 0,    0.34),
    Fleet("az-prod", "westeurope", "Standard_E8s_v5",  2, "sqlvm",        "always",         "normal",
          0, "data",     "prod", "analytics",      0,    0),
    Fleet("az-prod", "westeurope", "Standard_F8s_v2",  3, "render",       "autoscale",      "busy",
          1, "data",     "prod", "analytics",      0.34, 0),
    Fleet("az-prod", "westeurope", "Standard_D4s_v3",  1, "reporting-vm", "stopped-billed", "normal",
          0, "data",     "prod", "analytics",      0,    0),
    Fleet("az-prod", "westeurope", "Standard_D2s_v3",  1, "old-jumpbox",  "deallocated",    "idle",
          0, "platform", "prod", "internal-tools", 0,    1.0),
    Fleet("az-dev",  "eastus",     "Standard_B2ms",    6, "devbox",       "business",       "idle",
          0, "platform", "dev",  "internal-tools", 0.34, 0.34),
    Fleet("az-dev",  "eastus",     "Standard_NC6s_v3", 1, "gpu-train",    "business",       "busy",
          0, "ml",       "dev",  "forecasting",    0,    0),
    Fleet("az-dev",  "eastus",     "Standard_D2s_v5",  3, "build-agent",  "autoscale",      "normal",
          0, "platform", "dev",  "ci",             0.34, 0),
)
GCP_FLEETS = (
    Fleet("gcp-analytics", "us-central1",  "n2-standard-8", 3, "etl",          "always",    "busy",
          0, "data",   "prod", "analytics",   0,    0),
    Fleet("gcp-analytics", "us-central1",  "n2-standard-8", 1, "etl-burst",    "autoscale", "normal",
          0, "data",   "prod", "analytics",   0,    0),
    Fleet("gcp-analytics", "us-central1",  "n1-standard-4", 4, "airflow",      "always",    "oversized",
          0, "data",   "prod", "analytics",   0,    0.25),
    Fleet("gcp-analytics", "us-central1",  "e2-standard-4", 6, "api",          "autoscale", "normal",
          2, "search", "prod", "search",      0.34, 0),
    Fleet("gcp-analytics", "europe-west4", "n2-highmem-4",  3, "dash-eu",      "always",    "busy",
          0, "data",   "prod", "analytics",   0.34, 0),
    Fleet("gcp-ml",        "us-central1",  "a2-highgpu-1g", 1, "notebook-gpu", "business",  "busy",
          0, "ml",     "dev",  "forecasting", 0,    0),
    Fleet("gcp-ml",        "us-central1",  "e2-medium",     4, "scratch",      "always",    "idle",
          0, "ml",     "dev",  "forecasting", 0,    0.5),
    Fleet("gcp-ml",        "us-central1",  "e2-standard-2", 3, "label-tool",   "business",  "normal",
          0, "ml",     "dev",  "forecasting", 0,    0),
)

# -- loose storage (loose.py) ------------------------------------------------------------------------


class LooseDisk(NamedTuple):
    """An unattached disk (the waste the unattached-volume rule looks for)."""

    account: str
    region: str
    name: str | None  # None: an unnamed volume (and untagged)
    size_gib: int
    kind: str  # volume type, see catalog.DISK_GB_MONTH
    days_ago: int  # detached this many days before as_of (2: too recent to be waste)


LOOSE_DISKS = (
    LooseDisk("prod",          "us-east-1",    "vol-migration-tmp",     500,  "gp2",             64),
    LooseDisk("prod",          "us-east-1",    None,                    100,  "gp3",             31),
    LooseDisk("staging",       "us-east-1",    "old-jenkins-data",      1000, "st1",             95),
    LooseDisk("ml",            "us-west-2",    "dataset-cache",         2000, "gp3",             12),
    LooseDisk("staging",       "eu-central-1", None,                    200,  "gp3",             2),
    LooseDisk("prod",          "eu-west-1",    "web-eu-restore",        100,  "gp2",             40),
    LooseDisk("az-prod",       "westeurope",   "erp-olddata",           1024, "Premium_LRS",     48),
    LooseDisk("az-dev",        "eastus",       "devbox-07-os",          128,  "Premium_LRS",     20),
    LooseDisk("az-dev",        "eastus",       "gpu-scratch",           512,  "StandardSSD_LRS", 9),
    LooseDisk("gcp-analytics", "us-central1",  "airflow-old-logs",      500,  "pd-standard",     70),
    LooseDisk("gcp-ml",        "us-central1",  "notebook-gpu-data-old", 1000, "pd-ssd",          15),
)

# -- commitments (commitments.py) --------------------------------------------------------------------


class Reservation(NamedTuple):
    """A count-based commitment: reserved instances, an Azure reservation, a GCP committed use discount."""

    provider: str
    account: str  # the owner
    ctype: str  # FOCUS CommitmentDiscountType
    region: str
    itype: str
    instances: int
    discount: float  # effective rate = on-demand x (1 - discount)
    upfront_share: float  # the part of the effective rate paid upfront
    payment: str
    term_months: int  # 12 | 36
    ends_in_days: int  # after as_of (AWS ones end at a random hour of that day)
    fee_cadence: str  # monthly | daily
    fee_service: str
    scope: str
    props: dict[str, Any]


RESERVATIONS = (
    Reservation(AWS, "prod", "Reserved Instance", "us-east-1", "m5.2xlarge", 8, 0.38, 0.0, "No Upfront", 12, 21,
                "monthly", "Amazon Elastic Compute Cloud", "Region",
                {"offering_class": "standard", "platform": "Linux/UNIX", "tenancy": "default"}),
    Reservation(AWS, "prod", "Reserved Instance", "us-east-1", "c5.4xlarge", 5, 0.55, 0.5, "Partial Upfront", 36,
                560, "monthly", "Amazon Elastic Compute Cloud", "Region",
                {"offering_class": "convertible", "platform": "Linux/UNIX", "tenancy": "default"}),
    Reservation(AZURE, "az-prod", "Reservation", "westeurope", "Standard_D4s_v5", 6, 0.41, 0.0, "Monthly", 12, 203,
                "monthly", "Virtual Machines", "Single subscription",
                {"applied_scope_type": "Single", "instance_flexibility": "On"}),
    Reservation(GCP, "gcp-analytics", "Committed Use Discount", "us-central1", "n2-standard-8", 4, 0.37, 0.0,
                "Monthly", 12, 140, "daily", "Compute Engine", "Project",
                {"plan": "TWELVE_MONTH", "type": "GENERAL_PURPOSE_N2", "resources": [
                    {"type": "VCPU", "amount": 32}, {"type": "MEMORY", "amount_mb": 131072}]}),
)

# -- managed services (services.py) -----------------------------------------------------------------


class HourlyService(NamedTuple):
    """A managed resource billed per node-hour (databases, caches, a warehouse, inference endpoints); AWS only."""

    account: str
    region: str
    service: str
    rtype: str  # db_instance | cache_cluster | warehouse_cluster | endpoint
    name: str
    sku: str  # priced from catalog.AWS_DB / AWS_ML
    nodes: int
    tags: dict[str, str] | None
    props: dict[str, Any]  # allocated_gib (+ multi_az) adds a storage charge


HOURLY_SERVICES = (
    HourlyService("prod", "us-east-1", "Amazon Relational Database Service", "db_instance", "orders-db",
                  "db.r5.2xlarge", 2, _tags("checkout", "prod", "checkout"),
                  {"engine": "postgres", "multi_az": True, "allocated_gib": 2000}),
    HourlyService("prod", "us-east-1", "Amazon Relational Database Service", "db_instance", "catalog-db",
                  "db.r5.xlarge", 2, _tags("platform", "prod", "storefront"),
                  {"engine": "mysql", "multi_az": True, "allocated_gib": 500}),
    HourlyService("prod", "eu-west-1", "Amazon Relational Database Service", "db_instance", "orders-db-eu",
                  "db.r5.xlarge", 2, _tags("checkout", "prod", "checkout"),
                  {"engine": "postgres", "multi_az": True, "allocated_gib": 800}),
    HourlyService("staging", "us-east-1", "Amazon Relational Database Service", "db_instance",
                  "orders-db-staging", "db.m5.large", 1, _tags("checkout", "staging", "checkout"),
                  {"engine": "postgres", "multi_az": False, "allocated_gib": 200}),
    HourlyService("staging", "us-east-1", "Amazon Relational Database Service", "db_instance",
                  "catalog-db-staging", "db.m4.large", 1, None,
                  {"engine": "mysql", "multi_az": False, "allocated_gib": 100}),
    HourlyService("staging", "eu-central-1", "Amazon Relational Database Service", "db_instance", "qa-db",
                  "db.t3.medium", 1, _tags("platform", "dev", "internal-tools"),
                  {"engine": "postgres", "multi_az": False, "allocated_gib": 50}),
    HourlyService("ml", "us-west-2", "Amazon Relational Database Service", "db_instance", "mlflow-db",
                  "db.m5.xlarge", 1, _tags("ml", "prod", "recommender"),
                  {"engine": "postgres", "multi_az": False, "allocated_gib": 100}),
    HourlyService("prod", "us-east-1", "Amazon ElastiCache", "cache_cluster", "sessions-cache",
                  "cache.r6g.xlarge", 3, _tags("checkout", "prod", "checkout-[beta]"),
                  {"engine": "redis", "num_nodes": 3}),
    HourlyService("prod", "us-east-1", "Amazon Redshift", "warehouse_cluster", "acme-dwh", "ra3.4xlarge", 2,
                  _tags("data", "prod", "analytics"), {"node_type": "ra3.4xlarge", "number_of_nodes": 2}),
    HourlyService("ml", "us-west-2", "Amazon SageMaker", "endpoint", "recommender-endpoint", "ml.g4dn.xlarge",
                  2, _tags("ml", "prod", "recommender"), {"variant": "AllTraffic", "instance_count": 2}),
    HourlyService("ml", "us-west-2", "Amazon SageMaker", "endpoint", "churn-endpoint", "ml.m5.large", 1,
                  _tags("ml", "prod", "churn-model"), {"variant": "AllTraffic", "instance_count": 1}),
)


class UsageResource(NamedTuple):
    """A managed resource billed by usage: buckets, tables, CDNs, load balancers, NAT gateways, databases."""

    account: str
    region: str
    service: str
    rtype: str
    name: str
    usd_per_day: float  # at as_of, before catalog.USAGE_SCALE
    weekend_drop: float  # share of the usage that goes away at weekends
    tags: dict[str, str] | None


USAGE_RESOURCES = (
    UsageResource("prod", "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-datalake-raw", 210.0,
                  0.0, _tags("data", "prod", "analytics")),
    UsageResource("prod", "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-datalake-curated",
                  95.0, 0.0, _tags("data", "prod", "analytics")),
    UsageResource("prod", "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-web-assets", 18.0,
                  0.1, _tags("platform", "prod", "storefront")),
    UsageResource("prod", "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-logs-archive", 42.0,
                  0.0, None),
    UsageResource("prod", "eu-west-1", "Amazon Simple Storage Service", "bucket", "acme-backups-eu", 36.0,
                  0.0, _tags("platform", "prod", "backup")),
    UsageResource("staging", "us-east-1", "Amazon Simple Storage Service", "bucket", "acme-ci-artifacts",
                  14.0, 0.3, _tags("platform", "dev", "ci")),
    UsageResource("ml", "us-west-2", "Amazon Simple Storage Service", "bucket", "acme-ml-datasets", 88.0, 0.0,
                  _tags("ml", "prod", "recommender")),
    UsageResource("ml", "us-west-2", "Amazon Simple Storage Service", "bucket", "acme-ml-models", 21.0, 0.0,
                  _tags("ml", "prod", "recommender")),
    UsageResource("prod", "us-east-1", "Amazon DynamoDB", "table", "carts", 64.0, 0.35,
                  _tags("checkout", "prod", "checkout-[beta]")),
    UsageResource("prod", "us-east-1", "Amazon DynamoDB", "table", "sessions", 38.0, 0.35,
                  _tags("checkout", "prod", "checkout")),
    UsageResource("prod", "eu-west-1", "Amazon DynamoDB", "table", "carts-eu", 22.0, 0.35,
                  _tags("checkout", "prod", "checkout")),
    UsageResource("prod", "us-east-1", "Amazon CloudFront", "distribution", "E2Q7XK1DEMO0AB", 96.0, 0.25,
                  _tags("platform", "prod", "storefront")),
    UsageResource("prod", "us-east-1", "Amazon CloudFront", "distribution", "E1M5ZP8DEMO0CD", 31.0, 0.25,
                  None),
    UsageResource("prod", "us-east-1", "Elastic Load Balancing", "load_balancer",
                  "app/web-prod/5f3c2a1b9d8e7f60", 14.0, 0.3, _tags("platform", "prod", "storefront")),
    UsageResource("prod", "us-east-1", "Elastic Load Balancing", "load_balancer",
                  "app/checkout-api/0a9b8c7d6e5f4a3b", 9.0, 0.3, _tags("checkout", "prod", "checkout")),
    UsageResource("prod", "eu-west-1", "Elastic Load Balancing", "load_balancer",
                  "app/web-eu/7d6e5f4a3b2c1d0e", 6.0, 0.3, _tags("platform", "prod", "storefront")),
    UsageResource("staging", "us-east-1", "Elastic Load Balancing", "load_balancer",
                  "app/staging-web/1a2b3c4d5e6f7a8b", 0.6, 0.0, None),
    UsageResource("prod", "us-east-1", "Amazon Virtual Private Cloud", "nat_gateway", "nat-0c1d2e3f4a5b6c7d8",
                  38.0, 0.3, _tags("platform", "prod", "network")),
    UsageResource("prod", "us-west-2", "Amazon Virtual Private Cloud", "nat_gateway", "nat-09a8b7c6d5e4f3a2b",
                  17.0, 0.3, _tags("data", "prod", "network")),
    UsageResource("ml", "us-west-2", "Amazon Virtual Private Cloud", "nat_gateway", "nat-0f1e2d3c4b5a69788",
                  24.0, 0.2, _tags("ml", "prod", "network")),
    UsageResource("prod", "us-east-1", "Amazon Elastic Kubernetes Service", "kubernetes_cluster",
                  "eks-prod-use1", 2.4, 0.0, _tags("platform", "prod", "eks-prod-use1")),
    UsageResource("az-prod", "westeurope", "Azure SQL Database", "sql_database", "sqldb-orders", 118.0, 0.0,
                  _tags("checkout", "prod", "checkout")),
    UsageResource("az-prod", "westeurope", "Azure SQL Database", "sql_database", "sqldb-erp", 64.0, 0.0,
                  _tags("platform", "prod", "internal-tools")),
    UsageResource("az-dev", "eastus", "Azure SQL Database", "sql_database", "sqldb-dev", 21.0, 0.0, None),
    UsageResource("az-prod", "westeurope", "Azure Cosmos DB", "database_account", "cosmos-catalog", 145.0,
                  0.3, _tags("search", "prod", "search")),
    UsageResource("az-prod", "westeurope", "Storage Accounts", "storage_account", "acmeprodblobs", 74.0, 0.0,
                  _tags("platform", "prod", "storefront")),
    UsageResource("az-prod", "westeurope", "Storage Accounts", "storage_account", "acmeerpbackup", 31.0, 0.0,
                  None),
    UsageResource("az-dev", "eastus", "Storage Accounts", "storage_account", "acmemldata", 45.0, 0.0,
                  _tags("ml", "dev", "forecasting")),
    UsageResource("az-prod", "westeurope", "Azure App Service", "app_service_plan", "asp-checkout-prod", 38.0,
                  0.0, _tags("checkout", "prod", "checkout")),
    UsageResource("az-dev", "eastus", "Azure App Service", "app_service_plan", "asp-dev", 9.5, 0.0, None),
    UsageResource("gcp-analytics", "us-central1", "Cloud Storage", "bucket", "acme-analytics-lake", 92.0, 0.0,
                  _tags("data", "prod", "analytics")),
    UsageResource("gcp-analytics", "europe-west4", "Cloud Storage", "bucket", "acme-analytics-eu", 24.0, 0.0,
                  _tags("data", "prod", "analytics")),
    UsageResource("gcp-analytics", "us-central1", "Cloud Storage", "bucket", "acme-airflow-logs", 6.0, 0.0,
                  None),
    UsageResource("gcp-ml", "us-central1", "Cloud Storage", "bucket", "acme-ml-research-data", 38.0, 0.0,
                  _tags("ml", "dev", "forecasting")),
    UsageResource("gcp-analytics", "us-central1", "Cloud SQL", "db_instance", "analytics-meta", 46.0, 0.0,
                  _tags("data", "prod", "analytics")),
    UsageResource("gcp-analytics", "europe-west4", "Cloud SQL", "db_instance", "dash-eu-db", 33.0, 0.0,
                  _tags("data", "prod", "analytics")),
    UsageResource("gcp-ml", "us-central1", "Cloud SQL", "db_instance", "labels-db", 12.0, 0.0,
                  _tags("ml", "dev", "forecasting")),
)


class Flow(NamedTuple):
    """Spend that belongs to no resource: data transfer, logs, serverless, analytics queries, AI APIs."""

    account: str
    region: str | None
    service: str
    usd_per_day: float  # at as_of, before catalog.USAGE_SCALE
    weekend_drop: float
    noise: float  # standard deviation of the daily multiplier
    tags: dict[str, str] | None


FLOWS = (
    Flow("prod", "us-east-1", "AWS Data Transfer", 148.0, 0.3, 0.06, None),
    Flow("prod", "eu-west-1", "AWS Data Transfer", 52.0, 0.3, 0.06, None),
    Flow("ml", "us-west-2", "AWS Data Transfer", 34.0, 0.2, 0.08, None),
    Flow("staging", "us-east-1", "AWS Data Transfer", 9.0, 0.6, 0.08, None),
    Flow("prod", "us-east-1", "AmazonCloudWatch", 42.0, 0.1, 0.04, _tags("platform", "prod")),
    Flow("staging", "us-east-1", "AmazonCloudWatch", 11.0, 0.4, 0.05, None),
    Flow("ml", "us-west-2", "AmazonCloudWatch", 28.0, 0.15, 0.05, _tags("ml", "prod")),
    Flow("prod", "us-east-1", "AWS Lambda", 44.0, 0.45, 0.06, _tags("checkout", "prod")),
    Flow("staging", "us-east-1", "AWS Lambda", 6.0, 0.8, 0.1, None),
    Flow("ml", "us-west-2", "AWS Lambda", 12.0, 0.4, 0.08, _tags("ml", "prod")),
    Flow("prod", "us-east-1", "Amazon Athena", 26.0, 0.7, 0.12, _tags("data", "prod")),
    Flow("prod", "us-east-1", "Amazon Simple Queue Service", 8.5, 0.4, 0.06, _tags("checkout", "prod")),
    Flow("prod", "us-east-1", "AWS Key Management Service", 3.2, 0.0, 0.02, None),
    Flow("ml", "us-west-2", "AWS Key Management Service", 1.1, 0.0, 0.02, None),
    Flow("prod", "us-east-1", "AWS Secrets Manager", 2.4, 0.0, 0.01, None),
    Flow("prod", "us-east-1", "Amazon Route 53", 4.6, 0.2, 0.03, None),
    Flow("az-prod", "westeurope", "Bandwidth", 58.0, 0.3, 0.06, None),
    Flow("az-dev", "eastus", "Bandwidth", 6.0, 0.6, 0.1, None),
    Flow("az-prod", "westeurope", "Azure Monitor", 36.0, 0.1, 0.04, _tags("platform", "prod")),
    Flow("az-dev", "eastus", "Azure Monitor", 7.0, 0.5, 0.06, None),
    Flow("az-dev", "eastus", "Azure OpenAI Service", 118.0, 0.7, 0.15, _tags("ml", "dev", "forecasting")),
    Flow("az-prod", "westeurope", "Key Vault", 1.6, 0.1, 0.03, None),
    Flow("az-prod", "westeurope", "Virtual Network", 9.0, 0.1, 0.03, None),
    Flow("gcp-analytics", "us-central1", "BigQuery", 310.0, 0.6, 0.12, _tags("data", "prod", "analytics")),
    Flow("gcp-ml", "us-central1", "BigQuery", 38.0, 0.8, 0.2, _tags("ml", "dev", "forecasting")),
    Flow("gcp-ml", "us-central1", "Vertex AI", 86.0, 0.5, 0.15, _tags("ml", "dev", "forecasting")),
    Flow("gcp-analytics", "us-central1", "Cloud Logging", 24.0, 0.2, 0.05, None),
    Flow("gcp-analytics", "us-central1", "Cloud Run", 16.0, 0.45, 0.07, _tags("search", "prod", "search")),
    Flow("gcp-analytics", "us-central1", "Cloud Pub/Sub", 11.0, 0.3, 0.05,
         _tags("data", "prod", "analytics")),
    Flow("gcp-analytics", "us-central1", "Networking", 41.0, 0.3, 0.06, None),
    Flow("gcp-analytics", "europe-west4", "Networking", 12.0, 0.3, 0.06, None),
)

# -- Kubernetes allocation (kubernetes.py) -----------------------------------------------------------

# The cluster's nodes are the AWS fleet "eks-prod-use1-node" (m5.8xlarge) above and the GPU node pool
# K8S_GPU_POOL (g4dn.2xlarge, one T4 each; kubernetes.py adds them to the AWS bill and inventory): OpenCost prices them at on-demand and splits each node's price
# into its GPU part (K8S_GPU_HOUR per GPU) and CPU/RAM parts (K8S_CPU_SHARE of the rest to the vCPUs).
K8S_GPU_HOUR, K8S_CPU_SHARE, K8S_PV_GIB_MONTH, K8S_LB_HOUR = 0.45, 0.62, 0.08, 0.0225
K8S_GPU_POOL = ("g4dn.2xlarge", 2)


class Workload(NamedTuple):
    """A controller of eks-prod-use1: per-pod requests and typical usage (a share of the request)."""

    namespace: str
    kind: str  # controller kind: deployment | statefulset | daemonset | job
    name: str
    replicas: int  # 0 for a daemonset (one pod per node of its pool)
    cpu: float  # cores requested per pod
    ram: float  # GiB requested per pod
    cpu_use: float  # usage / request
    ram_use: float
    gpus: int = 0
    pv_gib: int = 0
    load_balancer: bool = False
    pool: str = "node"  # node | gpu | all
    team: str = "platform"
    hours: float | None = None  # hours a day it runs (a nightly job), else all day


K8S_WORKLOADS = (
    Workload("shop", "deployment", "storefront-web", 16, 2, 4, 0.55, 0.7, load_balancer=True, team="checkout"),
    Workload("shop", "deployment", "checkout-api", 8, 4, 8, 0.07, 0.3, team="checkout"),  # over-requested
    Workload("shop", "deployment", "cart", 6, 1, 2, 0.6, 0.65, team="checkout"),
    Workload("shop", "deployment", "catalog-search", 6, 4, 16, 0.5, 0.75, team="search"),
    Workload("shop", "statefulset", "redis", 1, 2, 16, 0.4, 0.8, pv_gib=100, team="checkout"),
    Workload("shop", "statefulset", "postgres", 1, 4, 32, 0.5, 0.85, pv_gib=500, team="checkout"),
    Workload("ml", "deployment", "recommender", 2, 4, 16, 0.6, 0.7, gpus=1, pool="gpu", team="ml"),
    Workload("ml", "deployment", "feature-api", 3, 2, 8, 0.45, 0.6, team="ml"),
    Workload("ml", "job", "nightly-train", 1, 8, 32, 0.85, 0.7, team="ml", hours=4.0),
    Workload("ml-sandbox", "deployment", "notebook-old", 1, 4, 16, 0.002, 0.02, team="ml"),  # abandoned
    Workload("platform", "daemonset", "fluent-bit", 0, 0.25, 0.5, 0.5, 0.6, pool="all"),
    Workload("platform", "deployment", "ingress-nginx", 3, 1, 2, 0.5, 0.5, load_balancer=True),
    Workload("platform", "statefulset", "prometheus", 1, 4, 32, 0.5, 0.7, pv_gib=500),
    Workload("kube-system", "daemonset", "aws-node", 0, 0.1, 0.25, 0.4, 0.5, pool="all"),
    Workload("kube-system", "deployment", "coredns", 2, 0.1, 0.17, 0.3, 0.4),
)
# a persistent volume whose claim was deleted 40 days before as_of (Released, still billed by EBS)
K8S_RELEASED_PV = ("pvc-3f1c9e2a-search-old", 200, 40)

# -- ML training (ml.py) -----------------------------------------------------------------------------


class MlTask(NamedTuple):
    """A training task and how its runs execute; its params and metrics are drawn in ml.py."""

    task: str
    runs: int
    kind: str  # where it runs: sagemaker (training jobs) | ec2 (the gpu-dev instances) | azureml (a cluster)
    itype: str
    instances: int  # instances per run
    hours: tuple[float, float]  # duration range of a completed run
    steps: int  # metric steps logged by a completed run
    last_running: bool  # the newest run is still running at the snapshot


ML_TASKS = (
    MlTask("image-classifier", 12, "sagemaker", "ml.p3.2xlarge",    2, (4.0, 14.0), 30, True),
    MlTask("churn-model",      10, "sagemaker", "ml.m5.xlarge",     1, (0.4, 1.5),  20, False),
    MlTask("recsys-ranker",    8,  "ec2",       "p3.2xlarge",       2, (3.0, 7.5),  20, False),
    MlTask("demand-forecast",  7,  "azureml",   "Standard_NC6s_v3", 2, (2.0, 6.0),  15, True),
)

# -- sources (admin.py) ------------------------------------------------------------------------------

SOURCE_OPTIONS: dict[str, dict[str, Any]] = {
    AWS: {"provider": AWS, "payer_account": ACCOUNTS["payer"].sub_id,
          "regions": ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]},
    AZURE: {"provider": AZURE, "billing_account": AZURE_BILLING[0]},
    GCP: {"provider": GCP, "billing_account": GCP_BILLING[0]},
    K8S: {"provider": K8S, "cluster": "eks-prod-use1", "allocation": True, "node_source": "demo-aws",
          "note": "OpenCost allocation of the cluster's node costs (k8s_allocations): a lens on the AWS bill, "
                  "which holds the nodes (the eks-prod-use1-node and -gpu fleets)"},
}
