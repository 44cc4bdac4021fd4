"""Azure reservations and their daily utilization, into the Commitments tables (the AWS math).

Inventory (table `commitments`, provider_name "Microsoft", commitment_type "Reservation",
commitment_id = the reservation's id `/providers/Microsoft.Capacity/reservationOrders/{order}/
reservations/{id}`, as FOCUS's CommitmentDiscountId): `GET /providers/Microsoft.Capacity/reservations`
(Reservation - List All, paged): sku -> instance_type, quantity -> instance_count, term P1Y/P3Y ->
12/36 months, billingPlan (Upfront | Monthly) -> payment_option, benefitStartTime / expiryDateTime,
appliedScopeType -> scope (a Single scope names the subscription), displayProvisioningState -> state.
Only reservations that apply to this source's subscriptions (Shared, or a scope naming one) are kept.

Daily usage (table `commitment_usage`, money in nano-units), per reservation and day in
[today - commitment_days, today):

* hours: Consumption reservation summaries, `GET /providers/Microsoft.Capacity/reservationorders/
  {order}/providers/Microsoft.Consumption/reservationSummaries?grain=daily&$filter=properties/usageDate
  ge ... and ... le ...` (one request per reservation order): reservedHours, usedHours,
  avgUtilizationPercentage -> utilization_pct;
* money, as AWS's TotalAmortizedFee / RICostForUnusedHours: a Cost Management query per subscription
  (`type = AmortizedCost`, daily, filter PricingModel In [Reservation], grouping [ReservationId,
  ChargeType]): ChargeType "UnusedReservation" -> unused_nanos, the rest (the amortized cost of the
  covered usage) -> used_nanos, committed_nanos = used + unused;
* on_demand_equivalent_nanos = usedHours x the size's on-demand hourly price in its region (the
  prices step's, else asked of the Retail Prices API here), like AWS's OnDemandCostOfRIHoursUsed;
  unknown (NULL) when the size has no retail price.

Savings plans (commitment_type "Savings Plan", commitment_id `/providers/Microsoft.BillingBenefits/
savingsPlanOrders/{order}/savingsPlans/{id}`): `GET /providers/Microsoft.BillingBenefits/savingsPlans`
(list all): `commitment` {grain Hourly, amount, currencyCode} -> hourly_commitment_nanos, term,
billingPlan, scope. Per day, as AWS's GetSavingsPlansUtilization: committed = the hourly commitment x
24, used = committed x `avgUtilizationPercentage` of the Cost Management benefit utilization
summaries (`{plan id}/providers/Microsoft.CostManagement/benefitUtilizationSummaries?grainParameter=
Daily`, one request per plan), unused = committed - used; on-demand equivalent = the hours of the usage
the plans covered (AmortizedCost query, filter PricingModel In [SavingsPlan], grouping [ResourceId],
aggregations UsageQuantity and PreTaxCost) x each VM's size price in its region (inventory + prices),
shared between several plans in proportion to what each used that day.

Write: ONE transaction replaces this source's Azure commitments and their usage rows in the window.

Incremental: the two lists (reservations, savings plans) are read on every sync; the utilization
requests only when the commitments changed (a digest of ids, states, sizes, quantities, commitments,
dates and scopes) or `commitment_refresh_days` (default 7; 0 = every sync) have passed since the
last successful fetch: a steady daily sync makes 2 requests here.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cache import timeutil
from cache.money import to_nanos
from providers.base import SyncContext

from .costs import _amount, _day, query_rows
from .session import CAPACITY_API, CONSUMPTION_API, COST_API, AzureSession

PROVIDER = "Microsoft"
CTYPE = "Reservation"
SP_TYPE = "Savings Plan"
BENEFITS_API = "2022-11-01"
BILLING_PLANS = {"P1M": "Monthly", "Upfront": "Upfront"}
TERMS = {"P1Y": 12, "P3Y": 36, "P5Y": 60}
STATES = {"succeeded": "active", "expired": "expired", "cancelled": "retired", "canceled": "retired"}


def _iso(v: Any) -> str | None:
    if not v:
        return None
    try:
        return timeutil.iso(timeutil.parse_instant(str(v)))
    except ValueError:
        return None


def _applies(res: dict[str, Any], subs: list[str]) -> str | None:
    """'' for a shared reservation, the subscription of a single-scope one of ours, None when not ours."""
    p = res.get("properties") or {}
    if str(p.get("appliedScopeType") or "Shared").lower() == "shared":
        return ""
    for scope in p.get("appliedScopes") or []:
        parts = str(scope).strip("/").split("/")
        if len(parts) > 1 and parts[1].lower() in subs:
            return parts[1].lower()
    return None


def _order(rid: str) -> str:
    parts = rid.strip("/").split("/")
    low = [x.lower() for x in parts]
    return parts[low.index("reservationorders") + 1] if "reservationorders" in low else ""


def amortized_by_reservation(az: AzureSession, sub: str, lo: date, hi: date) -> dict[tuple[str, str], list[int]]:
    """(reservation guid lowercase, day) -> [used nanos, unused nanos]."""
    body = {
        "type": "AmortizedCost", "timeframe": "Custom",
        "timePeriod": {"from": f"{lo.isoformat()}T00:00:00+00:00",
                       "to": f"{(hi - timedelta(days=1)).isoformat()}T23:59:59+00:00"},
        "dataset": {"granularity": "Daily",
                    "aggregation": {"totalCost": {"name": "PreTaxCost", "function": "Sum"}},
                    "grouping": [{"type": "Dimension", "name": "ReservationId"},
                                 {"type": "Dimension", "name": "ChargeType"}],
                    "filter": {"dimensions": {"name": "PricingModel", "operator": "In", "values": ["Reservation"]}}},
    }
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in query_rows(az, sub, body):
        rid = str(r.get("ReservationId") or "").lower().rsplit("/", 1)[-1]
        if not rid:
            continue
        unused = str(r.get("ChargeType") or "").lower() == "unusedreservation"
        out[(rid, _day(r["UsageDate"]).isoformat())][1 if unused else 0] += to_nanos(_amount(r))
    return out


def summaries(az: AzureSession, order: str, lo: date, hi: date) -> list[dict[str, Any]]:
    flt = (f"properties/usageDate ge {lo.isoformat()} and properties/usageDate le "
           f"{(hi - timedelta(days=1)).isoformat()}")
    return az.list(f"/providers/Microsoft.Capacity/reservationorders/{order}/providers/Microsoft.Consumption/"
                   "reservationSummaries", CONSUMPTION_API, "Reservation summaries", grain="daily", **{"$filter": flt})


def _sp_applies(sp: dict[str, Any], subs: list[str]) -> str | None:
    p = sp.get("properties") or {}
    if str(p.get("appliedScopeType") or "Shared").lower() == "shared":
        return ""
    sub = str((p.get("appliedScopeProperties") or {}).get("subscriptionId") or "").strip("/").split("/")[-1].lower()
    return sub if sub in subs else None


def sp_utilization(az: AzureSession, plan_id: str, lo: date, hi: date) -> dict[str, float]:
    """day -> average utilization % of one savings plan (benefit utilization summaries, daily)."""
    flt = (f"properties/usageDate ge '{lo.isoformat()}' and properties/usageDate le "
           f"'{(hi - timedelta(days=1)).isoformat()}'")
    out: dict[str, float] = {}
    for it in az.list(f"{plan_id}/providers/Microsoft.CostManagement/benefitUtilizationSummaries", COST_API,
                      "Benefit utilization summaries", grainParameter="Daily", **{"$filter": flt}):
        p = it.get("properties") or {}
        day = str(p.get("usageDate") or "")[:10]
        if day and p.get("avgUtilizationPercentage") is not None:
            out[day] = float(p["avgUtilizationPercentage"])
    return out


def sp_on_demand(az: AzureSession, ctx: SyncContext, lo: date, hi: date, prices: dict[tuple[str, str], int],
                 ) -> dict[str, int]:
    """day -> on-demand value (nanos) of the VM hours savings plans covered, over the subscriptions."""
    sizes = {r[0].lower(): (r[1], r[2]) for r in ctx.store.conn.execute(
        "SELECT resource_id, region_id, instance_type FROM resources WHERE provider_name=? AND "
        "resource_type='instance'", (PROVIDER,))}
    body = {
        "type": "AmortizedCost", "timeframe": "Custom",
        "timePeriod": {"from": f"{lo.isoformat()}T00:00:00+00:00",
                       "to": f"{(hi - timedelta(days=1)).isoformat()}T23:59:59+00:00"},
        "dataset": {"granularity": "Daily",
                    "aggregation": {"hours": {"name": "UsageQuantity", "function": "Sum"},
                                    "totalCost": {"name": "PreTaxCost", "function": "Sum"}},
                    "grouping": [{"type": "Dimension", "name": "ResourceId"}],
                    "filter": {"dimensions": {"name": "PricingModel", "operator": "In", "values": ["SavingsPlan"]}}},
    }
    out: dict[str, int] = defaultdict(int)
    for sub in az.options.subscriptions:
        for r in query_rows(az, sub, body):
            region, size = sizes.get(str(r.get("ResourceId") or "").lower(), (None, None))
            price = prices.get((str(region), str(size)))
            if price is None:
                continue
            hours = r.get("UsageQuantity")
            out[_day(r["UsageDate"]).isoformat()] += int(Decimal(str(hours or 0)) * price)
    return out


def list_savings_plans(az: AzureSession) -> list[tuple[dict[str, Any], str]]:
    """(plan, scope subscription or '') of the savings plans that apply to this source's subscriptions."""
    subs = list(az.options.subscriptions)
    return [(sp, scope) for sp in az.list("/providers/Microsoft.BillingBenefits/savingsPlans", BENEFITS_API,
                                          "Savings plans list")
            if sp.get("id") and (scope := _sp_applies(sp, subs)) is not None]


def savings_plans(ctx: SyncContext, az: AzureSession, plans: list[tuple[dict[str, Any], str]], lo: date, hi: date,
                  prices: dict[tuple[str, str], int],
                  vm_regions: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not plans:
        return [], []
    util = {str(sp["id"]): sp_utilization(az, str(sp["id"]), lo, hi) for sp, _ in plans}
    prices = {**prices, **retail_for(az, sorted(vm_regions - {r for r, _ in prices}))}
    od_by_day = sp_on_demand(az, ctx, lo, hi, prices)
    commitments, usage = [], []
    used_by: dict[str, dict[str, int]] = defaultdict(dict)  # day -> plan -> used nanos
    for sp, _scope in plans:
        p = sp.get("properties") or {}
        c = p.get("commitment") or {}
        hourly = to_nanos(Decimal(str(c.get("amount") or 0))) if str(c.get("grain") or "Hourly") == "Hourly" else 0
        for day, pct in util[str(sp["id"])].items():
            used_by[day][str(sp["id"])] = int(Decimal(hourly * 24) * Decimal(str(pct)) / 100)
    for sp, scope in plans:
        pid = str(sp["id"])
        p = sp.get("properties") or {}
        c = p.get("commitment") or {}
        hourly = to_nanos(Decimal(str(c.get("amount") or 0))) if str(c.get("grain") or "Hourly") == "Hourly" else 0
        for day, pct in sorted(util[pid].items()):
            committed = hourly * 24
            used = used_by[day][pid]
            total_used = sum(used_by[day].values())
            od = od_by_day.get(day)
            share = None if od is None else (od * used // total_used if total_used else 0)
            usage.append({"provider_name": PROVIDER, "commitment_id": pid, "day": day, "committed_nanos": committed,
                          "used_nanos": used, "unused_nanos": committed - used, "on_demand_equivalent_nanos": share,
                          "utilization_pct": pct, "coverage_pct": None})
        state = STATES.get(str(p.get("displayProvisioningState") or p.get("provisioningState") or "").lower())
        commitments.append({
            "provider_name": PROVIDER, "commitment_id": pid, "commitment_type": SP_TYPE,
            "name": p.get("displayName") or sp.get("name"), "billing_account_id": None,
            "sub_account_id": scope or None, "region_id": None,
            "scope": p.get("userFriendlyAppliedScopeType") or p.get("appliedScopeType"), "instance_type": None,
            "instance_count": None, "hourly_commitment_nanos": hourly, "upfront_nanos": None,
            "payment_option": BILLING_PLANS.get(str(p.get("billingPlan")), p.get("billingPlan")),
            "term_months": TERMS.get(str(p.get("term"))),
            "start_at": _iso(p.get("benefitStartTime") or p.get("effectiveDateTime")),
            "end_at": _iso(p.get("expiryDateTime")), "state": state, "source_id": ctx.source_id,
            "properties": {"savings_plan_order_id": pid.split("/")[-3] if pid.count("/") >= 4 else None,
                           "sku": (sp.get("sku") or {}).get("name"), "currency": c.get("currencyCode"),
                           "billing_scope_id": p.get("billingScopeId")},
        })
    return commitments, usage


def retail_for(az: AzureSession, regions: list[str]) -> dict[tuple[str, str], int]:
    """(region, size) -> on-demand nanos per hour from the Retail Prices API, for the regions of
    reservations whose size the prices step did not price (that step prices the VMs' regions only)."""
    if not regions:
        return {}
    from providers.http import RestClient

    from . import session as az_session
    from .prices import PRICES, retail_prices

    out: dict[tuple[str, str], int] = {}
    client = RestClient(az.options.prices_endpoint or PRICES, label="Azure Retail Prices", token=None,
                        counter=az.counter, max_attempts=az.options.max_attempts, sleep=lambda s: az_session.SLEEP(s))
    try:
        for region in regions:
            for sku, (nanos, _cur) in retail_prices(client, region).items():
                out[(region, sku)] = nanos
    finally:
        client.close()
    return out


def sync_commitments(ctx: SyncContext, az: AzureSession) -> int:
    subs = list(az.options.subscriptions)
    hi = ctx.today
    lo = hi - timedelta(days=az.options.commitment_days)
    ctx.progress("reservations")
    found = []
    for res in az.list("/providers/Microsoft.Capacity/reservations", CAPACITY_API, "Reservations list"):
        scope_sub = _applies(res, subs)
        if scope_sub is not None and res.get("id"):
            found.append((res, scope_sub))
    plans = list_savings_plans(az)
    # Fetch what changed: the utilization (reservation summaries, Cost Management queries, benefit
    # utilization summaries) is fetched again only when the commitments changed or
    # `commitment_refresh_days` have passed; otherwise the stored commitments and usage stay.
    digest = _digest(found, plans)
    last, last_digest = ctx.last_fetch("commitment_usage")
    every = az.options.commitment_refresh_days
    if every and last is not None and last_digest == digest and (ctx.today - last.date()).days < every:
        nxt = last.date() + timedelta(days=every)
        ctx.detail["commitment_usage"] = f"unchanged commitments; utilization fetched {last.date()}, next {nxt}"
        ctx.progress(detail=f"commitment utilization is current (next fetch {nxt})")
        return 0
    hours: dict[tuple[str, str], dict[str, Any]] = {}
    for order in sorted({_order(str(r["id"])) for r, _ in found}):
        for s in summaries(az, order, lo, hi):
            p = s.get("properties") or {}
            hours[(str(p.get("reservationId") or "").lower(), str(p.get("usageDate") or "")[:10])] = p
    money: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    if found:
        for sub in subs:
            for k, (used, unused) in amortized_by_reservation(az, sub, lo, hi).items():
                money[k][0] += used
                money[k][1] += unused
    prices = {(r[0], r[1]): r[2] for r in ctx.store.conn.execute(
        "SELECT region_id, sku, price_nanos FROM prices WHERE provider_name=? AND pricing_model='on-demand'",
        (PROVIDER,))}
    missing = {str(r.get("location")) for r, _ in found
               if r.get("location") and (r.get("location"), (r.get("sku") or {}).get("name")) not in prices}
    prices.update(retail_for(az, sorted(missing)))
    commitments, usage = [], []
    for res, scope_sub in found:
        rid = str(res["id"])
        guid = rid.rsplit("/", 1)[-1].lower()
        p = res.get("properties") or {}
        sku = (res.get("sku") or {}).get("name")
        region = res.get("location")
        price = prices.get((region, sku))
        committed_total, hours_total = 0, 0
        days = sorted({d for (g, d) in list(money) + list(hours) if g == guid})
        for day in days:
            used, unused = money.get((guid, day), [0, 0])
            h = hours.get((guid, day)) or {}
            used_h = Decimal(str(h.get("usedHours") or 0))
            od = int(used_h * price) if price is not None and h else None
            util = h.get("avgUtilizationPercentage")
            if util is None and h.get("reservedHours"):
                util = float(used_h) * 100 / float(h["reservedHours"])
            usage.append({"provider_name": PROVIDER, "commitment_id": rid, "day": day, "committed_nanos": used + unused,
                          "used_nanos": used, "unused_nanos": unused, "on_demand_equivalent_nanos": od,
                          "utilization_pct": None if util is None else float(util), "coverage_pct": None})
            committed_total += used + unused
            hours_total += 24
        state = STATES.get(str(p.get("displayProvisioningState") or p.get("provisioningState") or "").lower(),
                           str(p.get("displayProvisioningState") or "").lower() or None)
        commitments.append({
            "provider_name": PROVIDER, "commitment_id": rid, "commitment_type": CTYPE,
            "name": p.get("displayName") or res.get("name"), "billing_account_id": None,
            "sub_account_id": scope_sub or None, "region_id": region,
            "scope": p.get("userFriendlyAppliedScopeType") or p.get("appliedScopeType"), "instance_type": sku,
            "instance_count": p.get("quantity"),
            "hourly_commitment_nanos": committed_total // hours_total if hours_total else None,
            "upfront_nanos": None, "payment_option": p.get("billingPlan"), "term_months": TERMS.get(str(p.get("term"))),
            "start_at": _iso(p.get("benefitStartTime") or p.get("effectiveDateTime")),
            "end_at": _iso(p.get("expiryDateTime") or p.get("expiryDate")), "state": state, "source_id": ctx.source_id,
            "properties": ({
                "reservation_order_id": _order(rid), "reserved_resource_type": p.get("reservedResourceType"),
                "instance_flexibility": p.get("instanceFlexibility"), "applied_scopes": p.get("appliedScopes"),
                "on_demand_hourly_nanos": price, "hourly_commitment_basis": "amortized cost over the window"}),
        })
    vm_regions = {r[0] for r in ctx.store.conn.execute(
        "SELECT DISTINCT region_id FROM resources WHERE source_id=? AND provider_name=? AND resource_type='instance' "
        "AND region_id IS NOT NULL", (ctx.source_id, PROVIDER))}
    sp_rows, sp_usage = savings_plans(ctx, az, plans, lo, hi, prices, vm_regions)
    commitments += sp_rows
    usage += sp_usage
    conn = ctx.store.conn
    with ctx.store.transaction():
        old = [r[0] for r in conn.execute("SELECT commitment_id FROM commitments WHERE source_id=? AND provider_name=?",
                                          (ctx.source_id, PROVIDER))]
        for cid in {*old, *(c["commitment_id"] for c in commitments)}:
            conn.execute("DELETE FROM commitment_usage WHERE provider_name=? AND commitment_id=? AND day >= ? AND day < ?",
                         (PROVIDER, cid, lo.isoformat(), hi.isoformat()))
        conn.execute("DELETE FROM commitments WHERE source_id=? AND provider_name=?", (ctx.source_id, PROVIDER))
        ctx.store.upsert("commitments", commitments, pk=("provider_name", "commitment_id"))
        ctx.store.upsert("commitment_usage", usage, pk=("provider_name", "commitment_id", "day"))
    ctx.mark_fetched("commitment_usage", digest)
    return len(commitments) + len(usage)


def _digest(found: list[tuple[dict[str, Any], str]], plans: list[tuple[dict[str, Any], str]]) -> str:
    """What a change of the commitments changes: ids, states, sizes, quantities, commitments, dates, scopes."""
    def key(obj: dict[str, Any], scope: str) -> list[Any]:
        p = obj.get("properties") or {}
        return [str(obj.get("id") or "").lower(), scope, (obj.get("sku") or {}).get("name"), p.get("quantity"),
                p.get("commitment"), p.get("displayProvisioningState") or p.get("provisioningState"),
                p.get("benefitStartTime"), p.get("expiryDateTime") or p.get("expiryDate"), p.get("appliedScopes")]

    rows = sorted(json.dumps(key(o, sc), sort_keys=True, default=str) for o, sc in [*found, *plans])
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
