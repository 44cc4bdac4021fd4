"""AWS commitments: Reserved Instances and Savings Plans, with daily utilization and coverage.

Inventory (table `commitments`, provider_name "AWS", commitment_id = the ARN, as FOCUS's
CommitmentDiscountId):

* Reserved Instances from EC2 DescribeReservedInstances in every region: type, count, start,
  end, term (months, from Duration), offering type -> payment_option, state, scope,
  upfront_nanos = FixedPrice x count, hourly_commitment_nanos = (hourly recurring charges +
  UsagePrice) x count. commitment_type "Reserved Instance".
* Savings Plans from DescribeSavingsPlans (savingsplans, global): type, hourly commitment,
  term, start/end, state, payment option, upfront. commitment_type "Savings Plan".

Daily usage (table `commitment_usage`, money in nano-units, percentages as floats), from Cost
Explorer (billed, $0.01 a request, counted by the session). Calls are skipped entirely when the
account had no RIs (or no SPs) in the window:

* per RI and day: GetReservationUtilization grouped by SUBSCRIPTION_ID (no Granularity: the API
  refuses it with GroupBy and answers DAILY by default). committed = TotalAmortizedFee,
  unused = RICostForUnusedHours, used = committed - unused, on-demand equivalent =
  OnDemandCostOfRIHoursUsed, utilization = UtilizationPercentage.
* all RIs per day: commitment_id "ri-total:<account>", from each day's Total, plus
  coverage_pct from GetReservationCoverage (DAILY, CoverageHoursPercentage).
* all SPs per day: "sp-total:<account>" from GetSavingsPlansUtilization (DAILY) and
  GetSavingsPlansCoverage (DAILY, CoveragePercentage).
* per SP and day: GetSavingsPlansUtilizationDetails, one request per day (the API has no
  daily granularity); option `sp_details` (default true) turns it off.

Window: whole days [today - commitment_days (default 30), today); after a first sync only the
days since the last stored day minus `late_days` (default 3) are re-fetched.

Write: ONE transaction replaces this source's commitments and the usage rows in the window. If
the Cost Explorer part fails (e.g. AccessDenied), the inventory is still written, the previous
usage rows stay, and the step raises StepError.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cache import timeutil
from cache.money import to_nanos
from providers.base import StepError, SyncContext

from .inventory import FETCH_ERRORS, PROVIDER, error_text, iso, region_failures, tag_dict
from .session import AwsSession

RI_TYPE = "Reserved Instance"
SP_TYPE = "Savings Plan"
DEFAULT_DAYS = 30
LATE_DAYS = 3
_REGION_CODE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@dataclass(slots=True)
class Commitment:
    commitment_id: str
    commitment_type: str
    name: str | None = None
    region_id: str | None = None
    scope: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    hourly_commitment_nanos: int | None = None
    upfront_nanos: int | None = None
    payment_option: str | None = None
    term_months: int | None = None
    start_at: str | None = None
    end_at: str | None = None
    state: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Usage:
    commitment_id: str
    day: str
    committed_nanos: int | None = None
    used_nanos: int | None = None
    unused_nanos: int | None = None
    on_demand_equivalent_nanos: int | None = None
    utilization_pct: float | None = None
    coverage_pct: float | None = None


# -- inventory ------------------------------------------------------------------------------


def _dec(value: Any) -> Decimal:
    """A float/str amount from the API as an exact Decimal of its shortest repr."""
    if value is None or value == "":
        return Decimal(0)
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def _pct(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def ri_arn(region: str, account_id: str, ri_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account_id}:reserved-instances/{ri_id}"


def fetch_reserved_instances(ec2: Any, region: str, account_id: str) -> list[Commitment]:
    """One region's Reserved Instances (DescribeReservedInstances has no paging)."""
    out = []
    for ri in ec2.describe_reserved_instances().get("ReservedInstances", []):
        count = int(ri.get("InstanceCount") or 1)
        hourly = sum(
            (_dec(c.get("Amount")) for c in ri.get("RecurringCharges") or [] if c.get("Frequency", "Hourly") == "Hourly"),
            Decimal(0),
        ) + _dec(ri.get("UsagePrice"))
        duration = int(ri.get("Duration") or 0)
        out.append(Commitment(
            commitment_id=ri_arn(region, account_id, ri["ReservedInstancesId"]),
            commitment_type=RI_TYPE,
            name=ri["ReservedInstancesId"],
            region_id=region,
            scope=ri.get("Scope") or None,
            instance_type=ri.get("InstanceType"),
            instance_count=count,
            hourly_commitment_nanos=to_nanos(hourly * count),
            upfront_nanos=to_nanos(_dec(ri.get("FixedPrice")) * count),
            payment_option=ri.get("OfferingType"),
            term_months=round(duration / (30 * 86400)) if duration else None,
            start_at=iso(ri.get("Start")),
            end_at=iso(ri.get("End")),
            state=ri.get("State"),
            properties={
                "reserved_instances_id": ri["ReservedInstancesId"],
                "availability_zone": ri.get("AvailabilityZone"),
                "offering_class": ri.get("OfferingClass"),
                "product_description": ri.get("ProductDescription"),
                "tenancy": ri.get("InstanceTenancy"),
                "fixed_price": str(_dec(ri.get("FixedPrice"))),
                "usage_price": str(_dec(ri.get("UsagePrice"))),
                "currency": ri.get("CurrencyCode") or "USD",
                "duration_s": duration,
                "tags": tag_dict(ri.get("Tags")),
            },
        ))
    return out


def fetch_savings_plans(sp: Any) -> list[Commitment]:
    """Every Savings Plan of the account (nextToken paging)."""
    out = []
    token: str | None = None
    while True:
        resp = sp.describe_savings_plans(**({"nextToken": token} if token else {}))
        for p in resp.get("savingsPlans") or []:
            term_s = int(p.get("termDurationInSeconds") or 0)
            out.append(Commitment(
                commitment_id=p["savingsPlanArn"],
                commitment_type=SP_TYPE,
                name=p.get("savingsPlanId"),
                region_id=p.get("region") or None,
                scope=p.get("ec2InstanceFamily") or p.get("savingsPlanType"),
                hourly_commitment_nanos=to_nanos(p.get("commitment") or "0"),
                upfront_nanos=to_nanos(p.get("upfrontPaymentAmount") or "0"),
                payment_option=p.get("paymentOption"),
                term_months=round(term_s / (30 * 86400)) if term_s else None,
                start_at=iso(p.get("start")),
                end_at=iso(p.get("end")),
                state=p.get("state"),
                properties={
                    "savings_plan_id": p.get("savingsPlanId"),
                    "savings_plan_type": p.get("savingsPlanType"),
                    "instance_family": p.get("ec2InstanceFamily"),
                    "product_types": p.get("productTypes") or [],
                    "recurring_payment": p.get("recurringPaymentAmount"),
                    "currency": p.get("currency") or "USD",
                    "offering_id": p.get("offeringId"),
                    "tags": dict(p.get("tags") or {}),
                },
            ))
        token = resp.get("nextToken")
        if not token:
            return out


# -- usage (Cost Explorer) ---------------------------------------------------------------------


def _period(start: date, end: date) -> dict[str, str]:
    return {"Start": start.isoformat(), "End": end.isoformat()}


def _ri_usage(cid: str, day: str, agg: dict[str, Any]) -> Usage:
    committed = to_nanos(agg.get("TotalAmortizedFee") or "0")
    unused = to_nanos(agg.get("RICostForUnusedHours") or "0")
    return Usage(
        commitment_id=cid,
        day=day,
        committed_nanos=committed,
        used_nanos=committed - unused,
        unused_nanos=unused,
        on_demand_equivalent_nanos=to_nanos(agg.get("OnDemandCostOfRIHoursUsed") or "0"),
        utilization_pct=_pct(agg.get("UtilizationPercentage")),
    )


def fetch_ri_usage(ce: Any, start: date, end: date, account_id: str, region_of: dict[str, str]) -> list[Usage]:
    """Per-RI and all-RI daily utilization, plus all-RI daily coverage."""
    total_id = f"ri-total:{account_id}"
    out: dict[tuple[str, str], Usage] = {}
    token: str | None = None
    while True:
        kw: dict[str, Any] = {"TimePeriod": _period(start, end),
                              "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]}
        if token:
            kw["NextPageToken"] = token
        resp = ce.get_reservation_utilization(**kw)
        for ubt in resp.get("UtilizationsByTime") or []:
            day = (ubt.get("TimePeriod") or {}).get("Start", "")
            for g in ubt.get("Groups") or []:
                attrs = g.get("Attributes") or {}
                lease = attrs.get("leaseId") or g.get("Value") or ""
                region = region_of.get(lease) or attrs.get("region") or ""
                if not _REGION_CODE.match(region):
                    region = ""
                cid = ri_arn(region, attrs.get("accountId") or account_id, lease) if region else lease
                out[(cid, day)] = _ri_usage(cid, day, g.get("Utilization") or {})
            if ubt.get("Total"):
                out[(total_id, day)] = _ri_usage(total_id, day, ubt["Total"])
        token = resp.get("NextPageToken")
        if not token:
            break
    token = None
    while True:
        kw = {"TimePeriod": _period(start, end), "Granularity": "DAILY", "Metrics": ["Hour", "Cost"]}
        if token:
            kw["NextPageToken"] = token
        resp = ce.get_reservation_coverage(**kw)
        for cbt in resp.get("CoveragesByTime") or []:
            day = (cbt.get("TimePeriod") or {}).get("Start", "")
            hours = ((cbt.get("Total") or {}).get("CoverageHours") or {})
            u = out.setdefault((total_id, day), Usage(total_id, day))
            u.coverage_pct = _pct(hours.get("CoverageHoursPercentage"))
        token = resp.get("NextPageToken")
        if not token:
            break
    return list(out.values())


def _sp_usage(cid: str, day: str, item: dict[str, Any]) -> Usage:
    util = item.get("Utilization") or {}
    return Usage(
        commitment_id=cid,
        day=day,
        committed_nanos=to_nanos(util.get("TotalCommitment") or "0"),
        used_nanos=to_nanos(util.get("UsedCommitment") or "0"),
        unused_nanos=to_nanos(util.get("UnusedCommitment") or "0"),
        on_demand_equivalent_nanos=to_nanos((item.get("Savings") or {}).get("OnDemandCostEquivalent") or "0"),
        utilization_pct=_pct(util.get("UtilizationPercentage")),
    )


def fetch_sp_usage(ce: Any, start: date, end: date, account_id: str, *, details: bool = True) -> list[Usage]:
    """All-SP daily utilization and coverage, and per-SP daily utilization (one call a day)."""
    total_id = f"sp-total:{account_id}"
    out: dict[tuple[str, str], Usage] = {}
    resp = ce.get_savings_plans_utilization(TimePeriod=_period(start, end), Granularity="DAILY")
    for item in resp.get("SavingsPlansUtilizationsByTime") or []:
        day = (item.get("TimePeriod") or {}).get("Start", "")
        out[(total_id, day)] = _sp_usage(total_id, day, item)
    token: str | None = None
    while True:
        kw: dict[str, Any] = {"TimePeriod": _period(start, end), "Granularity": "DAILY",
                              "Metrics": ["SpendCoveredBySavingsPlans"]}
        if token:
            kw["NextToken"] = token
        resp = ce.get_savings_plans_coverage(**kw)
        for cov in resp.get("SavingsPlansCoverages") or []:
            day = (cov.get("TimePeriod") or {}).get("Start", "")
            u = out.setdefault((total_id, day), Usage(total_id, day))
            u.coverage_pct = _pct((cov.get("Coverage") or {}).get("CoveragePercentage"))
        token = resp.get("NextToken")
        if not token:
            break
    if details:
        d = start
        while d < end:
            day = d.isoformat()
            token = None
            while True:
                kw = {"TimePeriod": _period(d, d + timedelta(days=1))}
                if token:
                    kw["NextToken"] = token
                resp = ce.get_savings_plans_utilization_details(**kw)
                for item in resp.get("SavingsPlansUtilizationDetails") or []:
                    arn = item.get("SavingsPlanArn")
                    if arn:
                        out[(arn, day)] = _sp_usage(arn, day, item)
                token = resp.get("NextToken")
                if not token:
                    break
            d += timedelta(days=1)
    return list(out.values())


# -- window and write ---------------------------------------------------------------------------


def usage_window(ctx: SyncContext, ids: Sequence[str], days: int = DEFAULT_DAYS, late: int = LATE_DAYS
                 ) -> tuple[date, date]:
    end = ctx.today
    start = end - timedelta(days=days)
    last = _last_usage_day(ctx, ids)
    if last is not None:
        start = max(start, min(end - timedelta(days=1), last - timedelta(days=late - 1)))
    return start, end


def _last_usage_day(ctx: SyncContext, ids: Sequence[str]) -> date | None:
    if not ids:
        return None
    q = ",".join("?" for _ in ids)
    row = ctx.store.conn.execute(
        f"SELECT max(day) FROM commitment_usage WHERE provider_name=? AND commitment_id IN ({q})",
        (PROVIDER, *ids),
    ).fetchone()
    return timeutil.parse_day(row[0]) if row and row[0] else None


def _active_in(c: Commitment, start: date) -> bool:
    return not c.end_at or c.end_at[:10] >= start.isoformat()


def write_commitments(
    ctx: SyncContext,
    commitments: Sequence[Commitment],
    usage: Sequence[Usage] | None,
    usage_ids: Sequence[str],
    window: tuple[date, date],
    account_id: str | None = None,
) -> int:
    """Replace this source's commitments, and (when `usage` is given) its usage in the window."""
    store = ctx.store
    n = 0
    with store.transaction():
        store.conn.execute(
            "DELETE FROM commitments WHERE source_id=? AND provider_name=? AND commitment_type IN (?, ?)",
            (ctx.source_id, PROVIDER, RI_TYPE, SP_TYPE),
        )
        n += store.upsert("commitments", [
            {"provider_name": PROVIDER, "commitment_id": c.commitment_id, "commitment_type": c.commitment_type,
             "name": c.name, "billing_account_id": None, "sub_account_id": account_id,
             "region_id": c.region_id, "scope": c.scope, "instance_type": c.instance_type,
             "instance_count": c.instance_count, "hourly_commitment_nanos": c.hourly_commitment_nanos,
             "upfront_nanos": c.upfront_nanos, "payment_option": c.payment_option,
             "term_months": c.term_months, "start_at": c.start_at, "end_at": c.end_at, "state": c.state,
             "source_id": ctx.source_id, "properties": c.properties}
            for c in commitments
        ], pk=("provider_name", "commitment_id"))
        if usage is not None:
            lo, hi = window[0].isoformat(), window[1].isoformat()
            ids = sorted(set(usage_ids) | {u.commitment_id for u in usage})
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                q = ",".join("?" for _ in chunk)
                store.conn.execute(
                    f"DELETE FROM commitment_usage WHERE provider_name=? AND day>=? AND day<? "
                    f"AND commitment_id IN ({q})",
                    (PROVIDER, lo, hi, *chunk),
                )
            store.conn.executemany(
                "INSERT OR REPLACE INTO commitment_usage(provider_name, commitment_id, day, committed_nanos, "
                "used_nanos, unused_nanos, on_demand_equivalent_nanos, utilization_pct, coverage_pct) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                [(PROVIDER, u.commitment_id, u.day, u.committed_nanos, u.used_nanos, u.unused_nanos,
                  u.on_demand_equivalent_nanos, u.utilization_pct, u.coverage_pct)
                 for u in usage if lo <= u.day < hi],
            )
            n += len([u for u in usage if lo <= u.day < hi])
    return n


def sync_commitments(ctx: SyncContext, aws: AwsSession) -> int:
    """Step: RI and SP inventory, then their daily utilization and coverage."""
    account_id = aws.account_id
    commitments: list[Commitment] = []
    failed: dict[str, str] = {}
    for region in aws.regions():
        ctx.progress(detail=f"reserved instances {region}")
        try:
            commitments.extend(fetch_reserved_instances(aws.client("ec2", region), region, account_id))
        except FETCH_ERRORS as exc:
            failed[region] = error_text(exc, aws.profile)
    if failed:
        # A partial RI list would drop the missing regions' RIs: keep the previous data.
        raise StepError(region_failures("reserved instances", failed))
    ctx.progress(detail="savings plans")
    commitments.extend(fetch_savings_plans(aws.client("savingsplans", "us-east-1")))

    ris = [c for c in commitments if c.commitment_type == RI_TYPE]
    sps = [c for c in commitments if c.commitment_type == SP_TYPE]
    ri_total, sp_total = f"ri-total:{account_id}", f"sp-total:{account_id}"
    ids = [c.commitment_id for c in commitments] + [ri_total, sp_total]
    window = usage_window(ctx, ids, aws.options.commitment_days, aws.options.late_days)
    usage: list[Usage] | None = []
    ce_error: str | None = None
    # Fetch what changed: the (billed) utilization and coverage are fetched again only when the
    # commitments changed or `commitment_refresh_days` have passed; the window then covers the
    # days since the last stored one (usage_window), so skipping loses nothing.
    digest = hashlib.sha256(json.dumps(sorted(
        (c.commitment_id, c.state, c.instance_count, c.end_at, c.hourly_commitment_nanos) for c in commitments
    ), default=str).encode()).hexdigest()[:16]
    last, last_digest = ctx.last_fetch("commitment_usage")
    every = aws.options.commitment_refresh_days
    active = any(_active_in(c, window[0]) for c in commitments)
    if active and every and last is not None and last_digest == digest and (ctx.today - last.date()).days < every:
        nxt = last.date() + timedelta(days=every)
        ctx.detail["commitment_usage"] = f"unchanged commitments; utilization fetched {last.date()}, next {nxt}"
        ctx.progress(detail=f"commitment utilization is current (next fetch {nxt})")
        return write_commitments(ctx, commitments, None, ids, window, account_id)
    try:
        ce = aws.client("ce")
        if any(_active_in(c, window[0]) for c in ris):
            ctx.progress(detail="reservation utilization and coverage")
            region_of = {c.name or "": c.region_id or "" for c in ris}
            usage.extend(fetch_ri_usage(ce, window[0], window[1], account_id, region_of))  # type: ignore[union-attr]
        if any(_active_in(c, window[0]) for c in sps):
            ctx.progress(detail="savings plans utilization and coverage")
            usage.extend(fetch_sp_usage(  # type: ignore[union-attr]
                ce, window[0], window[1], account_id, details=aws.options.sp_details))
    except FETCH_ERRORS as exc:
        usage, ce_error = None, error_text(exc, aws.profile)
    n = write_commitments(ctx, commitments, usage, ids, window, account_id)
    if not ce_error:
        ctx.mark_fetched("commitment_usage", digest)
    if ce_error:
        ctx.add_rows(n)
        raise StepError(f"commitment usage (Cost Explorer) failed, previous usage kept: {ce_error}")
    return n


__all__ = [
    "Commitment",
    "Usage",
    "fetch_reserved_instances",
    "fetch_ri_usage",
    "fetch_savings_plans",
    "fetch_sp_usage",
    "sync_commitments",
    "write_commitments",
]
