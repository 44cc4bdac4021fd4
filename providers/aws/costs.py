"""AWS costs at daily grain: Cost Explorer (default) or Athena over a CUR 2.0 / FOCUS export.

Cost Explorer (`cost_source = "cost-explorer"`), per sync, for the whole window at once:

1. GetCostAndUsage DAILY, GroupBy LINKED_ACCOUNT + SERVICE, every record type except
   Credit and Refund: one row per (day, linked account, service).
2. GetCostAndUsage DAILY, GroupBy LINKED_ACCOUNT + RECORD_TYPE, only Credit and Refund: those
   become their own rows (charge_category Credit / Adjustment), so credits are visible instead
   of silently netted into services, and the total still equals Cost Explorer's.

Both are paginated with NextPageToken; a response holds every group of many days, so a
13-month backfill of one account is 2 requests plus extra pages for very many groups.
Metrics: UnblendedCost -> billed_cost, AmortizedCost -> effective_cost, PublicOnDemandCost ->
list_cost (a CUR 2.0 "cost analytics" metric; if Cost Explorer refuses it, we ask again without
it and list_cost = billed_cost). contracted_cost = billed_cost. Cost Explorer has no region or
resource at this grain (two group-bys max), so region_id/resource_id stay empty; the Athena path
has both. Linked account names come from DimensionValueAttributes. Each request costs $0.01.

Athena (`cost_source = "athena"`): one SQL query aggregates the export to daily grain inside
Athena (only aggregates come back): StartQueryExecution, poll GetQueryExecution, page
GetQueryResults. `athena_schema = "cur2"` (CUR 2.0 columns) or `"focus"` (FOCUS 1.x columns).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import ClientError

from cache import CostRow
from cache.money import to_nanos
from providers.base import StepError, SyncContext

from .adapter import AwsOptions
from .session import AwsSession

PROVIDER = "AWS"

# Cost Explorer SERVICE names and CUR product codes / product names -> FOCUS ServiceCategory.
SERVICE_CATEGORIES: dict[str, str] = {
    # Compute
    "Amazon Elastic Compute Cloud - Compute": "Compute", "EC2 - Other": "Compute", "AmazonEC2": "Compute",
    "Amazon Elastic Compute Cloud": "Compute", "AWS Lambda": "Compute", "AWSLambda": "Compute",
    "Amazon Elastic Container Service": "Compute", "AmazonECS": "Compute",
    "Amazon Elastic Container Service for Kubernetes": "Compute", "Amazon Elastic Kubernetes Service": "Compute",
    "AmazonEKS": "Compute", "Amazon EC2 Container Registry (ECR)": "Compute", "AmazonECR": "Compute",
    "Amazon Lightsail": "Compute", "AmazonLightsail": "Compute", "AWS Fargate": "Compute",
    "AWS Batch": "Compute", "Amazon Elastic Container Registry Public": "Compute",
    "AWS Elastic Beanstalk": "Compute",
    "Savings Plans for AWS Compute usage": "Compute", "ComputeSavingsPlans": "Compute",
    # Storage
    "Amazon Simple Storage Service": "Storage", "AmazonS3": "Storage", "Amazon Elastic File System": "Storage",
    "AmazonEFS": "Storage", "Amazon Elastic Block Store": "Storage", "Amazon S3 Glacier": "Storage",
    "AmazonGlacier": "Storage", "AWS Backup": "Storage", "AWSBackup": "Storage", "Amazon FSx": "Storage",
    "AmazonFSx": "Storage", "AWS Storage Gateway": "Storage",
    # Databases
    "Amazon Relational Database Service": "Databases", "AmazonRDS": "Databases", "Amazon DynamoDB": "Databases",
    "AmazonDynamoDB": "Databases", "Amazon ElastiCache": "Databases", "AmazonElastiCache": "Databases",
    "Amazon DocumentDB (with MongoDB compatibility)": "Databases", "AmazonDocDB": "Databases",
    "Amazon Neptune": "Databases", "AmazonNeptune": "Databases", "Amazon MemoryDB": "Databases",
    "Amazon Keyspaces (for Apache Cassandra)": "Databases", "Amazon Timestream": "Databases",
    "Amazon Redshift": "Databases", "AmazonRedshift": "Databases",
    # Networking
    "Amazon Virtual Private Cloud": "Networking", "AmazonVPC": "Networking", "Amazon CloudFront": "Networking",
    "AmazonCloudFront": "Networking", "Amazon Route 53": "Networking", "AmazonRoute53": "Networking",
    "Elastic Load Balancing": "Networking", "AWSELB": "Networking", "AWS Direct Connect": "Networking",
    "AWSDirectConnect": "Networking", "AWS Global Accelerator": "Networking", "Amazon API Gateway": "Networking",
    "AmazonApiGateway": "Networking", "AWS Data Transfer": "Networking", "AWSDataTransfer": "Networking",
    "AWS Transit Gateway": "Networking", "AWS Cloud Map": "Networking", "AWS Network Firewall": "Networking",
    # Analytics
    "Amazon Athena": "Analytics", "AmazonAthena": "Analytics", "AWS Glue": "Analytics", "AWSGlue": "Analytics",
    "Amazon Kinesis": "Analytics", "AmazonKinesis": "Analytics", "Amazon Kinesis Firehose": "Analytics",
    "Amazon EMR": "Analytics", "Amazon Elastic MapReduce": "Analytics", "ElasticMapReduce": "Analytics",
    "Amazon OpenSearch Service": "Analytics", "AmazonES": "Analytics", "Amazon QuickSight": "Analytics",
    "AmazonQuickSight": "Analytics", "Amazon Managed Streaming for Apache Kafka": "Analytics",
    "AWS Lake Formation": "Analytics", "Amazon Elasticsearch Service": "Analytics",
    # AI and Machine Learning
    "Amazon SageMaker": "AI and Machine Learning", "AmazonSageMaker": "AI and Machine Learning",
    "Amazon Bedrock": "AI and Machine Learning", "AmazonBedrock": "AI and Machine Learning",
    "Amazon Rekognition": "AI and Machine Learning", "Amazon Comprehend": "AI and Machine Learning",
    "Amazon Textract": "AI and Machine Learning", "Amazon Transcribe": "AI and Machine Learning",
    "Amazon Translate": "AI and Machine Learning", "Amazon Polly": "AI and Machine Learning",
    "Amazon Lex": "AI and Machine Learning", "Amazon Kendra": "AI and Machine Learning",
    "Amazon Q": "AI and Machine Learning",
    # Management and Governance
    "AmazonCloudWatch": "Management and Governance", "Amazon CloudWatch": "Management and Governance",
    "AWS CloudTrail": "Management and Governance", "AWSCloudTrail": "Management and Governance",
    "AWS Config": "Management and Governance", "AWSConfig": "Management and Governance",
    "AWS Systems Manager": "Management and Governance", "AWSSystemsManager": "Management and Governance",
    "AWS CloudFormation": "Management and Governance", "AWS Cost Explorer": "Management and Governance",
    "AWSCostExplorer": "Management and Governance", "AWS Support (Business)": "Management and Governance",
    "AWS Support (Developer)": "Management and Governance", "AWS Support (Enterprise)": "Management and Governance",
    "AWS Organizations": "Management and Governance", "AWS Control Tower": "Management and Governance",
    # Security and identity
    "AWS Key Management Service": "Security", "awskms": "Security", "AWS Secrets Manager": "Security",
    "AWSSecretsManager": "Security", "AWS WAF": "Security", "awswaf": "Security", "Amazon GuardDuty": "Security",
    "AmazonGuardDuty": "Security", "AWS Security Hub": "Security", "AWSSecurityHub": "Security",
    "Amazon Inspector": "Security", "AWS Shield": "Security", "Amazon Macie": "Security",
    "AWS Certificate Manager": "Security", "AWS Identity and Access Management": "Identity",
    "Amazon Cognito": "Identity", "AmazonCognito": "Identity", "AWS IAM Identity Center": "Identity",
    "AWS Directory Service": "Identity",
    # Integration
    "Amazon Simple Queue Service": "Integration", "AWSQueueService": "Integration",
    "Amazon Simple Notification Service": "Integration", "AmazonSNS": "Integration",
    "AWS Step Functions": "Integration", "AmazonStates": "Integration", "Amazon EventBridge": "Integration",
    "AWSEvents": "Integration", "Amazon MQ": "Integration", "Amazon Simple Email Service": "Business Applications",
    "AmazonSES": "Business Applications", "Amazon WorkSpaces": "Business Applications",
    "Amazon Connect": "Business Applications",
    # Developer tools
    "AWS CodeBuild": "Developer Tools", "CodeBuild": "Developer Tools", "AWS CodePipeline": "Developer Tools",
    "AWS CodeCommit": "Developer Tools", "AWS CodeArtifact": "Developer Tools", "AWS X-Ray": "Developer Tools",
    "AWS Amplify": "Web", "Amazon AppStream": "Business Applications",
    "AWS Elemental MediaConvert": "Media", "Amazon Kinesis Video Streams": "Media",
    "AWS Database Migration Service": "Migration", "AWS DataSync": "Migration", "AWS Transfer Family": "Migration",
    "AWS IoT": "Internet of Things", "AWS IoT Core": "Internet of Things",
}
_PREFIX_CATEGORIES = (
    ("Amazon SageMaker", "AI and Machine Learning"), ("Amazon Bedrock", "AI and Machine Learning"),
    ("Amazon Kinesis", "Analytics"), ("AWS IoT", "Internet of Things"), ("Amazon Elastic Compute", "Compute"),
    ("AWS Support", "Management and Governance"), ("AWS Elemental", "Media"), ("Savings Plans for", "Compute"),
    ("Amazon CloudWatch", "Management and Governance"), ("Amazon Route", "Networking"),
)
TAX_SERVICES = frozenset({"Tax"})


def service_category(service: str | None) -> str:
    if not service:
        return "Other"
    cat = SERVICE_CATEGORIES.get(service)
    if cat:
        return cat
    for prefix, c in _PREFIX_CATEGORIES:
        if service.startswith(prefix):
            return c
    return "Other"


def charge_category_for_service(service: str | None) -> str:
    if service in TAX_SERVICES:
        return "Tax"
    if service and service.startswith("Savings Plans for"):
        return "Purchase"  # the Savings Plans recurring/upfront fee line
    return "Usage"


# CUR line_item_line_item_type / CE RECORD_TYPE -> FOCUS ChargeCategory.
CHARGE_CATEGORIES = {
    "Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage", "Tax": "Tax", "Credit": "Credit", "Refund": "Adjustment",
    "Fee": "Purchase", "RIFee": "Purchase", "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase", "Recurring reservation fee": "Purchase",
    "BundledDiscount": "Credit", "EdpDiscount": "Credit", "PrivateRateDiscount": "Credit",
    "DistributorDiscount": "Credit", "Support fee": "Purchase",
}

CE_METRICS = ("UnblendedCost", "AmortizedCost", "PublicOnDemandCost")
CREDIT_TYPES = ["Credit", "Refund"]


# -- Cost Explorer -----------------------------------------------------------------------------


def ce_requests(window: tuple[date, date], metrics: tuple[str, ...] = CE_METRICS) -> list[dict[str, Any]]:
    """The two GetCostAndUsage requests (first page) of one sync window."""
    period = {"Start": window[0].isoformat(), "End": window[1].isoformat()}
    record_type = {"Dimensions": {"Key": "RECORD_TYPE", "Values": CREDIT_TYPES}}
    return [
        {
            "TimePeriod": period,
            "Granularity": "DAILY",
            "Metrics": list(metrics),
            "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
            "Filter": {"Not": record_type},
        },
        {
            "TimePeriod": period,
            "Granularity": "DAILY",
            "Metrics": list(metrics),
            "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "RECORD_TYPE"}],
            "Filter": record_type,
        },
    ]


def _pages(ce: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    token: str | None = None
    seen: set[str] = set()
    while True:
        req = dict(request)
        if token:
            req["NextPageToken"] = token
        resp = ce.get_cost_and_usage(**req)
        yield resp
        token = resp.get("NextPageToken") or None
        if not token:
            return
        if token in seen:  # a misbehaving endpoint must not loop forever
            raise StepError("Cost Explorer returned the same NextPageToken twice")
        seen.add(token)


def _amount(metrics: dict[str, Any], name: str) -> tuple[int, str | None]:
    m = metrics.get(name)
    if not m:
        return 0, None
    try:
        return to_nanos(Decimal(str(m.get("Amount") or "0"))), m.get("Unit")
    except (InvalidOperation, ValueError) as exc:
        raise StepError(f"Cost Explorer returned a non-numeric {name}: {m.get('Amount')!r}") from exc


def fetch_cost_explorer(
    ctx: SyncContext, aws: AwsSession, window: tuple[date, date]
) -> list[CostRow]:
    """Every daily cost row of the window from Cost Explorer (nothing is written here)."""
    ce = aws.client("ce")
    payer = aws.account_id
    metrics = CE_METRICS
    try:
        return _fetch_ce(ctx, ce, payer, window, metrics)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        if err.get("Code") == "ValidationException" and "PublicOnDemandCost" in str(err.get("Message", "")):
            ctx.detail["list_cost"] = "billed (PublicOnDemandCost refused)"
            return _fetch_ce(ctx, ce, payer, window, ("UnblendedCost", "AmortizedCost"))
        raise


def _fetch_ce(
    ctx: SyncContext, ce: Any, payer: str, window: tuple[date, date], metrics: tuple[str, ...]
) -> list[CostRow]:
    rows: list[CostRow] = []
    names: dict[str, str] = {}
    raw: list[tuple[str, dict[str, Any], bool]] = []  # (day, group, is_credit)
    for i, request in enumerate(ce_requests(window, metrics)):
        credit = i == 1
        for page_no, resp in enumerate(_pages(ce, request), start=1):
            ctx.progress(f"Cost Explorer {'credits' if credit else 'services'}, page {page_no}")
            for dva in resp.get("DimensionValueAttributes") or []:
                desc = (dva.get("Attributes") or {}).get("description")
                if dva.get("Value") and desc:
                    names[dva["Value"]] = desc
            for period in resp.get("ResultsByTime") or []:
                day = period["TimePeriod"]["Start"][:10]
                for g in period.get("Groups") or []:
                    raw.append((day, g, credit))
    for day_s, g, credit in raw:
        d = date.fromisoformat(day_s)
        if not window[0] <= d < window[1]:
            continue
        keys = list(g.get("Keys") or [])
        account = keys[0] if keys else None
        second = keys[1] if len(keys) > 1 else None
        m = g.get("Metrics") or {}
        billed, unit = _amount(m, "UnblendedCost")
        effective, unit2 = _amount(m, "AmortizedCost")
        if "PublicOnDemandCost" in m:
            listed, _ = _amount(m, "PublicOnDemandCost")
        else:
            listed = billed
        if billed == 0 and effective == 0 and listed == 0:
            continue
        if credit:
            service = None
            charge = CHARGE_CATEGORIES.get(second or "", "Credit")
        else:
            service = second if second and second != "NoService" else None
            charge = charge_category_for_service(service)
        rows.append(
            CostRow(
                day=d,
                provider_name=PROVIDER,
                billing_account_id=payer,
                billing_account_name=names.get(payer),
                sub_account_id=account,
                sub_account_name=names.get(account or ""),
                service_name=service,
                service_category=service_category(service) if service else None,
                charge_category=charge,
                pricing_category=None,
                billing_currency=unit or unit2 or "USD",
                billed_cost=billed,
                effective_cost=effective,
                list_cost=listed,
                contracted_cost=billed,
            )
        )
    return rows


# -- Athena -------------------------------------------------------------------------------------

# Amortized cost from CUR 2.0 columns (the AWS Well-Architected / CUDOS formula).
_CUR2_EFFECTIVE = """CASE line_item_line_item_type
      WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
      WHEN 'SavingsPlanRecurringFee' THEN savings_plan_total_commitment_to_date - savings_plan_used_commitment
      WHEN 'SavingsPlanNegation' THEN 0
      WHEN 'SavingsPlanUpfrontFee' THEN 0
      WHEN 'DiscountedUsage' THEN reservation_effective_cost
      WHEN 'RIFee' THEN reservation_unused_amortized_upfront_fee_for_billing_period + reservation_unused_recurring_fee
      ELSE line_item_unblended_cost END"""


def athena_sql(schema: str, database: str, table: str, window: tuple[date, date]) -> str:
    """The aggregation query (identifiers are validated by the config; dates are ours)."""
    lo, hi = window[0].isoformat(), window[1].isoformat()
    dec = "DECIMAL(38, 10)"
    if schema == "focus":
        return f"""SELECT
  date_format(ChargePeriodStart, '%Y-%m-%d') AS day,
  BillingAccountId AS billing_account_id,
  BillingAccountName AS billing_account_name,
  SubAccountId AS sub_account_id,
  SubAccountName AS sub_account_name,
  ServiceName AS service_name,
  ServiceCategory AS service_category,
  RegionId AS region_id,
  ResourceId AS resource_id,
  ResourceType AS resource_type,
  ChargeCategory AS charge_category,
  PricingCategory AS pricing_category,
  BillingCurrency AS currency,
  json_format(CAST(Tags AS JSON)) AS tags,
  CAST(SUM(CAST(BilledCost AS {dec})) AS VARCHAR) AS billed,
  CAST(SUM(CAST(EffectiveCost AS {dec})) AS VARCHAR) AS effective,
  CAST(SUM(CAST(ListCost AS {dec})) AS VARCHAR) AS list,
  CAST(SUM(CAST(ContractedCost AS {dec})) AS VARCHAR) AS contracted
FROM "{database}"."{table}"
WHERE ChargePeriodStart >= TIMESTAMP '{lo} 00:00:00' AND ChargePeriodStart < TIMESTAMP '{hi} 00:00:00'
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14"""
    return f"""SELECT
  date_format(line_item_usage_start_date, '%Y-%m-%d') AS day,
  bill_payer_account_id AS billing_account_id,
  line_item_usage_account_id AS sub_account_id,
  line_item_usage_account_name AS sub_account_name,
  coalesce(element_at(product, 'product_name'), line_item_product_code) AS service_name,
  line_item_product_code AS product_code,
  element_at(product, 'region') AS region_id,
  line_item_resource_id AS resource_id,
  line_item_line_item_type AS line_item_type,
  line_item_currency_code AS currency,
  json_format(CAST(resource_tags AS JSON)) AS tags,
  CAST(SUM(CAST(line_item_unblended_cost AS {dec})) AS VARCHAR) AS billed,
  CAST(SUM(CAST({_CUR2_EFFECTIVE} AS {dec})) AS VARCHAR) AS effective,
  CAST(SUM(CAST(pricing_public_on_demand_cost AS {dec})) AS VARCHAR) AS list,
  CAST(SUM(CAST(line_item_net_unblended_cost AS {dec})) AS VARCHAR) AS contracted
FROM "{database}"."{table}"
WHERE line_item_usage_start_date >= TIMESTAMP '{lo} 00:00:00'
  AND line_item_usage_start_date < TIMESTAMP '{hi} 00:00:00'
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"""


def run_athena_query(
    ctx: SyncContext,
    athena: Any,
    sql: str,
    options: AwsOptions,
    *,
    poll_s: float = 1.0,
    max_poll_s: float = 10.0,
    timeout_s: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, str | None]]:
    """Run one query and yield its rows as {column: value} (header row skipped)."""
    start: dict[str, Any] = {"QueryString": sql, "QueryExecutionContext": {"Database": options.athena_database}}
    if options.athena_workgroup:
        start["WorkGroup"] = options.athena_workgroup
    if options.athena_output_location:
        start["ResultConfiguration"] = {"OutputLocation": options.athena_output_location}
    qid = athena.start_query_execution(**start)["QueryExecutionId"]
    t0 = time.monotonic()
    delay = poll_s
    state: str | None = None
    try:
        while True:
            status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
            state = status.get("State")
            if state == "SUCCEEDED":
                break
            if state in ("FAILED", "CANCELLED"):
                reason = " ".join(str(status.get("StateChangeReason") or "no reason given").split())
                raise StepError(f"Athena query {state.lower()}: {reason[:200]}")
            if time.monotonic() - t0 > timeout_s:
                raise StepError(f"Athena query still {state} after {int(timeout_s)} s")
            ctx.progress(f"Athena query {state.lower()} ({int(time.monotonic() - t0)} s)")
            sleep(delay)
            delay = min(max_poll_s, delay * 1.5)
    except BaseException:
        if state not in ("SUCCEEDED", "FAILED", "CANCELLED"):
            try:
                athena.stop_query_execution(QueryExecutionId=qid)
            except Exception:  # noqa: BLE001 - best effort
                pass
        raise
    columns: list[str] | None = None
    first = True
    paginator = athena.get_paginator("get_query_results")
    for resp in paginator.paginate(QueryExecutionId=qid, PaginationConfig={"PageSize": 1000}):
        rs = resp.get("ResultSet") or {}
        if columns is None:
            columns = [c["Name"] for c in (rs.get("ResultSetMetadata") or {}).get("ColumnInfo", [])]
        rows = rs.get("Rows") or []
        for i, r in enumerate(rows):
            values = [d.get("VarCharValue") for d in r.get("Data", [])]
            if first and i == 0 and values == columns:
                continue  # Athena repeats the header as the first row of the first page
            yield dict(zip(columns, values, strict=False))
        first = False
        if resp.get("NextToken"):
            ctx.progress("Athena results")


def _nanos(v: str | None, col: str) -> int:
    if v is None or v == "":
        return 0
    try:
        return to_nanos(Decimal(v))
    except (InvalidOperation, ValueError) as exc:
        raise StepError(f"Athena returned a non-numeric {col}: {v[:40]!r}") from exc


def _tags(v: str | None) -> dict[str, Any] | None:
    if not v or v == "null":
        return None
    try:
        t = json.loads(v)
    except json.JSONDecodeError:
        return None
    if not isinstance(t, dict):
        return None
    # CUR 2.0 tag keys look like "user_team" / "aws_createdBy"; keep them as they are.
    return {k: val for k, val in t.items() if val not in (None, "")} or None


def fetch_athena(ctx: SyncContext, aws: AwsSession, window: tuple[date, date], **poll: Any) -> list[CostRow]:
    opts = aws.options
    schema = opts.athena_schema
    sql = athena_sql(schema, str(opts.athena_database), str(opts.athena_table), window)
    athena = aws.client("athena")
    rows: list[CostRow] = []
    for r in run_athena_query(ctx, athena, sql, opts, **poll):
        day_s = r.get("day")
        if not day_s:
            continue
        d = date.fromisoformat(day_s)
        if not window[0] <= d < window[1]:
            continue
        billed = _nanos(r.get("billed"), "billed")
        effective = _nanos(r.get("effective"), "effective")
        listed = _nanos(r.get("list"), "list")
        contracted = _nanos(r.get("contracted"), "contracted")
        service = r.get("service_name") or None
        category: str | None
        if schema == "focus":
            charge = r.get("charge_category") or "Usage"
            category = r.get("service_category") or service_category(service)
        else:
            charge = CHARGE_CATEGORIES.get(r.get("line_item_type") or "", "Usage")
            category = service_category(service) if service else None
            if category == "Other" and r.get("product_code"):
                category = service_category(r.get("product_code"))
        rows.append(
            CostRow(
                day=d,
                provider_name=PROVIDER,
                billing_account_id=r.get("billing_account_id") or None,
                billing_account_name=r.get("billing_account_name") or None,
                sub_account_id=r.get("sub_account_id") or None,
                sub_account_name=r.get("sub_account_name") or None,
                service_name=service,
                service_category=category,
                region_id=r.get("region_id") or None,
                resource_id=r.get("resource_id") or None,
                resource_type=r.get("resource_type") or None,
                charge_category=charge,
                pricing_category=r.get("pricing_category") or None,
                billing_currency=r.get("currency") or "USD",
                tags=_tags(r.get("tags")),
                billed_cost=billed,
                effective_cost=effective,
                list_cost=listed,
                contracted_cost=contracted,
            )
        )
    return rows


# -- the step ---------------------------------------------------------------------------------------


def sync_costs(ctx: SyncContext, aws: AwsSession) -> int:
    """Fetch the window's costs, then replace them in the cache in ONE transaction."""
    window = ctx.cost_window
    if aws.options.cost_source == "athena":
        rows = fetch_athena(ctx, aws, window)
    else:
        rows = fetch_cost_explorer(ctx, aws, window)
    ctx.progress(f"writing {len(rows):,} cost rows for {window[0]}..{window[1] - timedelta(days=1)}")
    return ctx.write_costs(rows)


__all__ = [
    "CE_METRICS",
    "SERVICE_CATEGORIES",
    "athena_sql",
    "ce_requests",
    "fetch_athena",
    "fetch_cost_explorer",
    "service_category",
    "sync_costs",
]
