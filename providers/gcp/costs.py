"""Google Cloud costs at daily grain from the BigQuery billing export.

One query per sync, aggregated INSIDE BigQuery (only daily aggregates come back):

* grain: UTC day of usage_start_time x billing account x project x service x SKU x region x
  resource (detailed export: resource.global_name and name) x cost_type x currency x the
  configured label keys (`label_keys`, one column each) x the Vertex AI run label (`ml_label`:
  such rows get the resource id of the run's executor, see vertex.py);
* billed = SUM(cost); effective = SUM(cost) + SUM(credits.amount) (credits are negative:
  sustained use, committed use, promotions, free tier...); list = SUM(cost_at_list), or cost
  where the export has no list price for the row; contracted = billed. Each FLOAT64 is cast to
  NUMERIC (9 decimals) per row before summing, so the sums are exact, and NUMERIC comes back as
  a string that becomes integer nanos here (no float anywhere);
* the window prunes partitions: `_PARTITIONTIME >= window start - 1 day` (rows are exported on
  or after their usage day; the day of margin covers partitions cut on Pacific time) plus
  usage_start_time bounds; late rows are fetched again because every later sync starts
  `refetch_days` before the last synced day (the sync engine's window);
* a first sync (a backfill) asks BigQuery for a dry run first and shows the estimate (and
  refuses to run past `max_bytes_billed`);
* bytes processed and billed by each job are added up in the sync run's detail ("bigquery",
  "scanned") and shown next to the request count by `costdeck sync` and `costdeck sources`.

Mapping: provider_name "Google Cloud", sub_account = project (id, name), service_name =
service.description ("Compute Engine"), region_id = location.region (else location.location),
resource_id = the Compute full resource name by NAME
(//compute.googleapis.com/projects/P/zones/Z/instances/NAME, as the inventory writes it: an
instance's global_name carries its numeric id, which is replaced by resource.name), cost_type
regular/tax/adjustment/rounding_error -> charge category Usage/Tax/Adjustment/Adjustment.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from cache import CostRow
from cache.money import to_nanos
from providers.base import StepError, SyncContext

from . import bigquery
from .client import Gcp, human_bytes

PROVIDER = "Google Cloud"
SERVICE_CATEGORIES = {
    "Compute Engine": "Compute", "Kubernetes Engine": "Compute", "Cloud Run": "Compute",
    "Cloud Functions": "Compute", "App Engine": "Compute", "Cloud Storage": "Storage",
    "Filestore": "Storage", "Cloud SQL": "Databases", "Cloud Spanner": "Databases", "Firestore": "Databases",
    "Cloud Bigtable": "Databases", "Memorystore for Redis": "Databases", "BigQuery": "Analytics",
    "Dataflow": "Analytics", "Dataproc": "Analytics", "Pub/Sub": "Integration", "Cloud Pub/Sub": "Integration",
    "Vertex AI": "AI and Machine Learning", "Cloud AI Platform": "AI and Machine Learning",
    "Networking": "Networking", "Cloud CDN": "Networking", "Cloud DNS": "Networking",
    "Cloud Load Balancing": "Networking", "Cloud Logging": "Management and Governance",
    "Cloud Monitoring": "Management and Governance", "Secret Manager": "Security",
    "Cloud Key Management Service (KMS)": "Security", "Artifact Registry": "Developer Tools",
    "Cloud Build": "Developer Tools", "Support": "Management and Governance",
}
CHARGE = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment"}
_TYPES = {"instances": "instance", "disks": "volume", "addresses": "ip_address", "images": "image",
          "snapshots": "snapshot", "buckets": "bucket", "instanceGroupManagers": "instance_group"}
_NUMERIC_ID = re.compile(r"^(//compute\.googleapis\.com/projects/[^/]+/zones/[^/]+/instances/)\d+$")


def service_category(service: str | None) -> str | None:
    if not service:
        return None
    return SERVICE_CATEGORIES.get(service, "Other")


def table_ref(table: str) -> str:
    """`project.dataset.table` quoted for BigQuery (the config validated its characters)."""
    return f"`{table}`"


def costs_sql(table: str, window: tuple[date, date], label_keys: list[str], *, detailed: bool,
              ml_label: str = "costdeck-run") -> str:
    """The daily aggregation query of one window (identifiers validated by the config; dates are ours)."""
    lo, hi = window[0].isoformat(), window[1].isoformat()
    part_lo = (window[0] - timedelta(days=1)).isoformat()
    labels = [
        f"    (SELECT MAX(l.value) FROM UNNEST(labels) AS l WHERE l.key = '{k}') AS label_{i},"
        for i, k in enumerate(label_keys)
    ]
    res_cols = ("    resource.global_name AS resource_global_name,\n    resource.name AS resource_name,\n"
                if detailed else "    CAST(NULL AS STRING) AS resource_global_name,\n"
                                 "    CAST(NULL AS STRING) AS resource_name,\n")
    label_names = "".join(f", label_{i}" for i in range(len(label_keys)))
    return f"""WITH lines AS (
  SELECT
    CAST(DATE(usage_start_time) AS STRING) AS day,
    billing_account_id,
    project.id AS project_id,
    project.name AS project_name,
    service.description AS service,
    sku.description AS sku,
    COALESCE(location.region, location.location) AS region,
{res_cols}    cost_type,
    currency,
{chr(10).join(labels)}
    IF(service.description = 'Vertex AI', (SELECT MAX(l.value) FROM UNNEST(labels) AS l WHERE l.key = '{ml_label}'),
       NULL) AS ml_run,
    usage_start_time AS usage_start,
    CAST(cost AS NUMERIC) AS cost,
    IFNULL((SELECT SUM(CAST(c.amount AS NUMERIC)) FROM UNNEST(credits) AS c), 0) AS credits,
    CAST(IFNULL(cost_at_list, cost) AS NUMERIC) AS list_cost
  FROM {table_ref(table)}
  WHERE _PARTITIONTIME >= TIMESTAMP('{part_lo}')
    AND usage_start_time >= TIMESTAMP('{lo}')
    AND usage_start_time < TIMESTAMP('{hi}')
)
SELECT
  day, billing_account_id, project_id, ANY_VALUE(project_name) AS project_name, service, sku, region,
  resource_global_name, ANY_VALUE(resource_name) AS resource_name, cost_type, currency{label_names}, ml_run,
  CAST(SUM(cost) AS STRING) AS billed,
  CAST(SUM(credits) AS STRING) AS credits,
  CAST(SUM(list_cost) AS STRING) AS list_cost,
  IF(ml_run IS NULL, NULL, COUNT(DISTINCT usage_start)) AS ml_hours
FROM lines
GROUP BY day, billing_account_id, project_id, service, sku, region, resource_global_name, cost_type,
  currency{label_names}, ml_run"""


def nanos(v: str | None, col: str) -> int:
    """A NUMERIC (a decimal string) as exact nanos."""
    if v is None or v == "":
        return 0
    try:
        return to_nanos(Decimal(v))
    except (InvalidOperation, ValueError) as exc:
        raise StepError(f"BigQuery returned a non-numeric {col}: {v[:40]!r}") from exc


def resource_id(global_name: str | None, name: str | None) -> str | None:
    """The resource id the inventory uses for the same resource (instances by name)."""
    if not global_name:
        return None
    m = _NUMERIC_ID.match(global_name)
    if m and name:
        return m.group(1) + name
    return global_name


def resource_type(global_name: str | None) -> str | None:
    if not global_name:
        return None
    parts = global_name.rstrip("/").split("/")
    return _TYPES.get(parts[-2]) if len(parts) >= 2 else None


def to_rows(raw: list[dict[str, str | None]], window: tuple[date, date], label_keys: list[str]) -> list[CostRow]:
    rows: list[CostRow] = []
    ml: dict[tuple[object, ...], CostRow] = {}
    for r in raw:
        day_s = r.get("day")
        if not day_s:
            continue
        d = date.fromisoformat(day_s[:10])
        if not window[0] <= d < window[1]:
            continue
        billed = nanos(r.get("billed"), "billed")
        credits = nanos(r.get("credits"), "credits")
        listed = nanos(r.get("list_cost"), "list_cost")
        if billed == 0 and credits == 0 and listed == 0:
            continue
        tags = {k: v for i, k in enumerate(label_keys) if (v := r.get(f"label_{i}")) not in (None, "")}
        gname = r.get("resource_global_name") or None
        service = r.get("service") or None
        rid, rtype = resource_id(gname, r.get("resource_name")), resource_type(gname)
        if rid is None and r.get("ml_run") and r.get("project_id"):
            # a Vertex AI job labelled ml_label: the run's executor has this id (vertex.py)
            rid, rtype = f"//aiplatform.googleapis.com/projects/{r['project_id']}/customJobs/label:{r['ml_run']}", \
                "ml_job"
        row = CostRow(
            day=d,
            provider_name=PROVIDER,
            billing_account_id=r.get("billing_account_id") or None,
            sub_account_id=r.get("project_id") or None,
            sub_account_name=r.get("project_name") or None,
            service_name=service,
            service_category=service_category(service),
            region_id=r.get("region") or None,
            resource_id=rid,
            resource_name=r.get("resource_name") or (r.get("ml_run") if rtype == "ml_job" else None),
            resource_type=rtype,
            charge_category=CHARGE.get((r.get("cost_type") or "regular").lower(), "Usage"),
            billing_currency=r.get("currency") or "USD",
            tags=tags or None,
            billed_cost=billed,
            effective_cost=billed + credits,
            list_cost=listed,
            contracted_cost=billed,
        )
        if rtype != "ml_job":
            rows.append(row)
            continue
        # One row per labelled Vertex AI job and day (its SKUs merged), with the hours it was billed for
        # (hourly export rows), so analysis.mlruns apportions the day's cost by hours rather than 24 h.
        hours = float(r.get("ml_hours") or 0) or None
        key = (d, row.sub_account_id, rid, row.region_id, row.billing_currency, row.charge_category,
               json.dumps(row.tags, sort_keys=True))
        prev = ml.get(key)
        if prev is None:
            row.pricing_quantity = hours
            ml[key] = row
            rows.append(row)
        else:
            prev.billed_cost += row.billed_cost
            prev.effective_cost += row.effective_cost
            prev.list_cost += row.list_cost
            prev.contracted_cost += row.contracted_cost
            prev.pricing_quantity = max(prev.pricing_quantity or 0.0, hours or 0.0) or None
    return rows


def fetch_costs(ctx: SyncContext, gcp: Gcp, window: tuple[date, date]) -> list[CostRow]:
    o = gcp.options
    sql = costs_sql(o.billing_export_table, window, list(o.label_keys), detailed=o.detailed, ml_label=o.ml_label)
    if ctx.first_sync:
        est = bigquery.dry_run(gcp, sql)
        gcp.dry_run_bytes = est
        ctx.detail["backfill_estimate"] = f"{human_bytes(est)} to scan ({window[0]}..{window[1] - timedelta(days=1)})"
        ctx.progress(f"backfill: BigQuery estimates {human_bytes(est)} to scan")
        if o.max_bytes_billed and est > o.max_bytes_billed:
            raise StepError(f"the backfill would scan {human_bytes(est)}, more than max_bytes_billed "
                            f"({human_bytes(o.max_bytes_billed)}); lower backfill_months or raise the limit")
    raw = list(bigquery.query(ctx, gcp, sql, "costs"))
    return to_rows(raw, window, list(o.label_keys))


def sync_costs(ctx: SyncContext, gcp: Gcp) -> int:
    window = ctx.cost_window
    rows = fetch_costs(ctx, gcp, window)
    ctx.progress(f"writing {len(rows):,} cost rows for {window[0]}..{window[1] - timedelta(days=1)}")
    return ctx.write_costs(rows)


__all__ = ["PROVIDER", "costs_sql", "fetch_costs", "resource_id", "sync_costs", "to_rows"]
