"""The demo's reference data: the calendar, providers, accounts, regions, services and price lists.

Pure data plus one lookup (`price`); nothing here draws a random number. What the demo company
*runs* (fleets, databases, workloads, ML tasks, ...) is in `estate.py`; the generators that turn
both into rows are the other modules of this package.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_KIND = "demo"  # sources.kind of every demo source (and what `generate` refuses to overwrite otherwise)
N_DAYS = 120  # days of history, ending on `as_of`
GROWTH_PER_MONTH = 0.08
METRIC_DAYS = 30  # utilization metrics cover the last 30 days
HOURS_PER_MONTH = 730.0

AWS, AZURE, GCP, K8S = "AWS", "Microsoft", "Google Cloud", "Kubernetes"
PROVIDERS = (AWS, AZURE, GCP, K8S)
SOURCE_NAMES = {AWS: "demo-aws", AZURE: "demo-azure", GCP: "demo-gcp", K8S: "demo-kubernetes"}

# -- accounts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    """A billing account and one sub account of it (AWS account, Azure subscription, GCP project, namespace)."""

    provider: str
    billing_id: str
    billing_name: str
    sub_id: str
    sub_name: str


AWS_PAYER = ("529384716203", "Acme Corp (payer)")
AZURE_BILLING = ("84721963", "Acme Corp EA 84721963")
GCP_BILLING = ("01A7C3-5E92B4-D8F061", "Acme Corp GCP billing")
K8S_CLUSTER = ("eks-prod-use1", "eks-prod-use1 (Kubernetes cost allocation, a lens on the AWS bill)")

# Keyed by the short names the estate tables use ("prod", "az-dev", ...).
ACCOUNTS: dict[str, Account] = {
    "payer": Account(AWS, *AWS_PAYER, *AWS_PAYER),
    "prod": Account(AWS, *AWS_PAYER, "381492750164", "acme-prod"),
    "staging": Account(AWS, *AWS_PAYER, "604817293552", "acme-staging"),
    "ml": Account(AWS, *AWS_PAYER, "775031649218", "acme-data-ml"),
    "az-prod": Account(AZURE, *AZURE_BILLING, "3f9c2a71-5b8e-4d06-9a1c-7e24b5d08f13", "acme-azure-prod"),
    "az-dev": Account(AZURE, *AZURE_BILLING, "b6e0d4c2-19a7-4f3e-8c55-02d9e6a1f7b4", "acme-azure-dev"),
    "gcp-analytics": Account(GCP, *GCP_BILLING, "acme-analytics-prod", "Acme Analytics (prod)"),
    "gcp-ml": Account(GCP, *GCP_BILLING, "acme-ml-research", "Acme ML Research"),
    "k8s": Account(K8S, *K8S_CLUSTER, *K8S_CLUSTER),
}

# -- regions and services --------------------------------------------------------------

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
# on-demand price multiplier of a region over the cheapest one
REGION_PRICE = {"us-east-1": 1.0, "us-west-2": 1.0, "eu-west-1": 1.11, "eu-central-1": 1.15,
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
Price = tuple[float, float, float, str, str]
AWS_EC2: dict[str, Price] = {
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
    "g5.xlarge": (1.006, 4, 16, "g5", "current"), "g5.2xlarge": (1.212, 8, 32, "g5", "current"),
    "g5.12xlarge": (5.672, 48, 192, "g5", "current"),
}
AWS_ML: dict[str, Price] = {
    "ml.m5.large": (0.115, 2, 8, "ml.m5", "current"), "ml.m5.xlarge": (0.23, 4, 16, "ml.m5", "current"),
    "ml.m5.2xlarge": (0.461, 8, 32, "ml.m5", "current"),
    "ml.g4dn.xlarge": (0.736, 4, 16, "ml.g4dn", "current"),
    "ml.g5.xlarge": (1.408, 4, 16, "ml.g5", "current"), "ml.g5.2xlarge": (1.515, 8, 32, "ml.g5", "current"),
    "ml.g5.12xlarge": (7.09, 48, 192, "ml.g5", "current"),
    "ml.t3.medium": (0.05, 2, 4, "ml.t3", "current"), "ml.t3.xlarge": (0.2, 4, 16, "ml.t3", "current"),
    "ml.p3.2xlarge": (3.825, 8, 61, "ml.p3", "current"), "ml.p3.8xlarge": (14.688, 32, 244, "ml.p3", "current"),
}
AWS_DB: dict[str, Price] = {
    "db.t3.medium": (0.068, 2, 4, "db.t3", "current"),
    "db.m4.large": (0.175, 2, 8, "db.m4", "previous"), "db.m5.large": (0.171, 2, 8, "db.m5", "current"),
    "db.m5.xlarge": (0.342, 4, 16, "db.m5", "current"),
    "db.r5.large": (0.25, 2, 16, "db.r5", "current"), "db.r5.xlarge": (0.50, 4, 32, "db.r5", "current"),
    "db.r5.2xlarge": (1.00, 8, 64, "db.r5", "current"),
    "cache.r6g.large": (0.206, 2, 13.07, "cache.r6g", "current"),
    "cache.r6g.xlarge": (0.411, 4, 26.32, "cache.r6g", "current"),
    "ra3.4xlarge": (3.26, 12, 96, "ra3", "current"),
}
AZURE_VM: dict[str, Price] = {
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
GCP_VM: dict[str, Price] = {
    "e2-medium": (0.0335, 2, 4, "e2", "current"), "e2-standard-2": (0.067, 2, 8, "e2", "current"),
    "e2-standard-4": (0.134, 4, 16, "e2", "current"), "e2-standard-8": (0.268, 8, 32, "e2", "current"),
    "n1-standard-2": (0.095, 2, 7.5, "n1", "previous"), "n1-standard-4": (0.19, 4, 15, "n1", "previous"),
    "n1-standard-8": (0.38, 8, 30, "n1", "previous"),
    "n2-standard-2": (0.0971, 2, 8, "n2", "current"), "n2-standard-4": (0.1942, 4, 16, "n2", "current"),
    "n2-standard-8": (0.3885, 8, 32, "n2", "current"), "n2-standard-16": (0.7769, 16, 64, "n2", "current"),
    "n2-highmem-2": (0.131, 2, 16, "n2", "current"), "n2-highmem-4": (0.262, 4, 32, "n2", "current"),
    "a2-highgpu-1g": (3.673, 12, 85, "a2", "current"),
}
CATALOG = {AWS: {**AWS_EC2, **AWS_ML, **AWS_DB}, AZURE: AZURE_VM, GCP: GCP_VM}
SPOT_FACTOR = 0.32
EA_DISCOUNT = 0.95  # Azure EA: billed = 95 % of list
USAGE_SCALE = 1.7  # calibrates usage-priced services to a ~$150-250k/month company
# disk prices: USD per GiB-month, by provider and volume type
DISK_GB_MONTH: dict[str, dict[str, float]] = {
    AWS: {"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "st1": 0.045},
    AZURE: {"Premium_LRS": 0.135, "StandardSSD_LRS": 0.075, "Standard_LRS": 0.045},
    GCP: {"pd-balanced": 0.10, "pd-ssd": 0.17, "pd-standard": 0.04},
}


def price(provider: str, sku: str, region: str) -> float:
    """USD per hour, rounded to 4 places like a public price list."""
    return round(CATALOG[provider][sku][0] * REGION_PRICE[region], 4)
