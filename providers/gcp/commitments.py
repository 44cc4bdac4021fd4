"""Committed use discounts: inventory from Compute Engine, daily utilization from the billing export.

Inventory: `GET /compute/v1/projects/{p}/aggregated/commitments` (nextPageToken) -> table
`commitments` (provider_name "Google Cloud", commitment_type "Committed Use Discount",
commitment_id = the full resource name //compute.googleapis.com/projects/P/regions/R/commitments/N):
plan TWELVE_MONTH / THIRTY_SIX_MONTH -> term_months 12 / 36, status -> state, start/end
timestamps, type (GENERAL_PURPOSE_N2 ...) -> instance_type, resources (VCPU, MEMORY amounts) in
properties, payment_option "No Upfront" (CUDs are billed monthly), hourly_commitment_nanos = the
commitment's average daily fee in the window / 24.

Utilization (table `commitment_usage`, per commitment and UTC day, the same columns and math as
the AWS reservations): one BigQuery query over the export for [today - commitment_days, today)
(partitions pruned like the costs query) returns per day, project and region:

* fee = SUM(cost) of the commitment fee SKUs ("Commitment v1: ..." descriptions), and
* covered = -SUM(credits.amount) of credits of type COMMITTED_USAGE_DISCOUNT (the on-demand
  value of the usage the commitments covered).

Per commitment (a region's figures are shared between its active commitments by their resource
amounts): committed = fee; on_demand_equivalent = covered; used = min(committed, covered x
(1 - discount)), the discount being Google's published resource-based CUD rate for the term (1
year 37 %, 3 years 55 %, as in analysis/purchase.py): a fully used commitment covers exactly
fee / (1 - discount) of on-demand usage; unused = committed - used; utilization = used /
committed. ONE transaction writes the inventory and the window's usage; a failed export query
keeps the previous usage rows (the inventory is still written) and fails the step.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cache import timeutil
from providers.base import StepError, SyncContext, one_line
from providers.http import HttpStepError

from . import bigquery
from .client import Gcp
from .costs import nanos, table_ref
from .inventory import PROVIDER, aggregated, full_name, last, project_failures, source_projects

CUD_TYPE = "Committed Use Discount"
DISCOUNT = {12: Decimal("0.37"), 36: Decimal("0.55")}
TERMS = {"TWELVE_MONTH": 12, "THIRTY_SIX_MONTH": 36}


def usage_sql(table: str, window: tuple[date, date]) -> str:
    lo, hi = window[0].isoformat(), window[1].isoformat()
    part_lo = (window[0] - timedelta(days=1)).isoformat()
    return f"""WITH lines AS (
  SELECT
    CAST(DATE(usage_start_time) AS STRING) AS day,
    project.id AS project_id,
    location.region AS region,
    IF(STARTS_WITH(sku.description, 'Commitment v1'), CAST(cost AS NUMERIC), 0) AS fee,
    IFNULL((SELECT SUM(CAST(c.amount AS NUMERIC)) FROM UNNEST(credits) AS c
            WHERE c.type = 'COMMITTED_USAGE_DISCOUNT'), 0) AS cud_credits
  FROM {table_ref(table)}
  WHERE _PARTITIONTIME >= TIMESTAMP('{part_lo}')
    AND usage_start_time >= TIMESTAMP('{lo}')
    AND usage_start_time < TIMESTAMP('{hi}')
    AND service.description = 'Compute Engine'
)
SELECT day, project_id, region, CAST(SUM(fee) AS STRING) AS fee, CAST(SUM(cud_credits) AS STRING) AS cud_credits
FROM lines
GROUP BY day, project_id, region
HAVING SUM(fee) != 0 OR SUM(cud_credits) != 0"""


def build(project: str, c: dict[str, Any]) -> dict[str, Any]:
    term = TERMS.get(str(c.get("plan") or ""))
    region = last(c.get("region"))
    resources = [{"type": r.get("type"), "amount": r.get("amount"), "accelerator": r.get("acceleratorType")}
                 for r in c.get("resources") or []]
    return {
        "provider_name": PROVIDER, "commitment_id": full_name(c.get("selfLink"))
        or f"//compute.googleapis.com/projects/{project}/regions/{region}/commitments/{c.get('name')}",
        "commitment_type": CUD_TYPE, "name": c.get("name"), "billing_account_id": None, "sub_account_id": project,
        "region_id": region, "scope": "project", "instance_type": c.get("type"), "instance_count": None,
        "hourly_commitment_nanos": None, "upfront_nanos": 0, "payment_option": "No Upfront", "term_months": term,
        "start_at": _iso(c.get("startTimestamp")), "end_at": _iso(c.get("endTimestamp")),
        "state": str(c.get("status") or "").lower() or None,
        "properties": {"plan": c.get("plan"), "category": c.get("category"), "resources": resources,
                       "status_message": c.get("statusMessage"), "auto_renew": c.get("autoRenew")},
    }


def _iso(v: Any) -> str | None:
    if not v:
        return None
    try:
        return timeutil.iso(timeutil.parse_instant(str(v)))
    except ValueError:
        return None


def _weight(c: dict[str, Any]) -> Decimal:
    total = Decimal(0)
    for r in c["properties"]["resources"]:
        try:
            amt = Decimal(str(r.get("amount") or 0))
        except ArithmeticError:
            continue
        total += amt / 1024 if r.get("type") == "MEMORY" else amt  # MB -> GB-ish, vCPU as is
    return total or Decimal(1)


def usage_rows(commitments: list[dict[str, Any]], raw: list[dict[str, str | None]]) -> list[tuple[Any, ...]]:
    by_place: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in commitments:
        by_place[(c["sub_account_id"], c["region_id"])].append(c)
    out = []
    for r in raw:
        day, project, region = r.get("day"), r.get("project_id"), r.get("region")
        if not day or not project or not region:
            continue
        active = [c for c in by_place.get((project, region), [])
                  if (not c["start_at"] or c["start_at"][:10] <= day) and (not c["end_at"] or day < c["end_at"][:10])]
        if not active:
            continue
        fee, covered = nanos(r.get("fee"), "fee"), -nanos(r.get("cud_credits"), "cud_credits")
        weights = [_weight(c) for c in active]
        total_w = sum(weights)
        for c, w in zip(active, weights, strict=True):
            committed = int(Decimal(fee) * w / total_w)
            on_demand = int(Decimal(covered) * w / total_w)
            disc = DISCOUNT.get(c["term_months"] or 12, DISCOUNT[12])
            used = max(0, min(committed, int(Decimal(on_demand) * (1 - disc))))
            util = round(used * 100.0 / committed, 4) if committed > 0 else None
            out.append((PROVIDER, c["commitment_id"], day, committed, used, committed - used, on_demand, util, None))
    return out


def sync_commitments(ctx: SyncContext, gcp: Gcp) -> int:
    commitments: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    projects = source_projects(ctx, gcp)
    for project in projects:
        ctx.progress(detail=f"commitments {project}")
        try:
            commitments.extend(build(project, c) for c in aggregated(gcp.compute, project, "commitments"))
        except HttpStepError as exc:
            failed[project] = one_line(exc)
    if failed:  # a partial list would drop the missing projects' commitments: keep the previous data
        raise StepError(project_failures("commitments", failed))
    end = ctx.today
    window = (end - timedelta(days=gcp.options.commitment_days), end)
    raw: list[dict[str, str | None]] | None = None
    err: str | None = None
    if commitments:
        ctx.progress(detail="committed use credits (BigQuery)")
        try:
            raw = list(bigquery.query(ctx, gcp, usage_sql(gcp.options.billing_export_table, window), "CUD usage"))
        except (HttpStepError, StepError) as exc:
            err = one_line(exc)
    usage = usage_rows(commitments, raw) if raw is not None else None
    fees: dict[str, list[int]] = defaultdict(list)
    for u in usage or []:
        fees[u[1]].append(u[3])
    for c in commitments:
        if fees.get(c["commitment_id"]):
            c["hourly_commitment_nanos"] = sum(fees[c["commitment_id"]]) // len(fees[c["commitment_id"]]) // 24
    store = ctx.store
    lo, hi = window[0].isoformat(), window[1].isoformat()
    with store.transaction():
        old = [r[0] for r in store.conn.execute(
            "SELECT commitment_id FROM commitments WHERE source_id=? AND provider_name=? AND commitment_type=?",
            (ctx.source_id, PROVIDER, CUD_TYPE))]
        store.conn.execute("DELETE FROM commitments WHERE source_id=? AND provider_name=? AND commitment_type=?",
                           (ctx.source_id, PROVIDER, CUD_TYPE))
        n = store.upsert("commitments", [{**c, "source_id": ctx.source_id} for c in commitments],
                         pk=("provider_name", "commitment_id"))
        if usage is not None:
            ids = sorted(set(old) | {c["commitment_id"] for c in commitments})
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                q = ",".join("?" for _ in chunk)
                store.conn.execute(f"DELETE FROM commitment_usage WHERE provider_name=? AND day>=? AND day<? "
                                   f"AND commitment_id IN ({q})", (PROVIDER, lo, hi, *chunk))
            store.conn.executemany(
                "INSERT OR REPLACE INTO commitment_usage(provider_name, commitment_id, day, committed_nanos, "
                "used_nanos, unused_nanos, on_demand_equivalent_nanos, utilization_pct, coverage_pct) "
                "VALUES (?,?,?,?,?,?,?,?,?)", usage)
            n += len(usage)
    if err:
        ctx.add_rows(n)
        raise StepError(f"CUD usage (billing export) failed, previous usage kept: {err}")
    return n


__all__ = ["CUD_TYPE", "build", "sync_commitments", "usage_rows", "usage_sql"]
