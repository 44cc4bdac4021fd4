"""Commitments: reservations, a committed use discount and a Compute Savings Plan, and how they are used.

Three steps, in this order in snapshot.generate:
- `plan`: the commitments of estate.RESERVATIONS plus the payer's Compute Savings Plan (`Gen.commits`).
- `allocate`: day by day, reservations take the matching on-demand instance-hours first, then the
  savings plan covers what is left of AWS EC2 on-demand up to its hourly commitment (sized from the
  last four weeks, so its utilization climbs as the fleet grows). fleets.instance_costs bills the result.
- `rows`: the `commitments` and per-day `commitment_usage` rows (AWS also gets the account-wide
  "ri-total:<payer>" / "sp-total:<payer>" rows the AWS adapter writes), plus the cost rows of unused
  commitment (FOCUS status "Unused") and of the recurring fees ("Purchase" rows, effective 0).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from typing import Any

from cache import timeutil

from .catalog import ACCOUNTS, AWS, AZURE, HOURS_PER_MONTH, N_DAYS, Account, price
from .core import Allocation, Commitment, Gen, to_nanos
from .estate import RESERVATIONS, Reservation

# -- plan ---------------------------------------------------------------------------------------


def plan(g: Gen) -> None:
    snap_day = datetime.combine(g.as_of, time(0), tzinfo=UTC)
    for r in RESERVATIONS:
        g.commits.append(_reservation(g, r, snap_day))
    g.commits.append(_savings_plan(g, snap_day))


def _reservation(g: Gen, r: Reservation, snap_day: datetime) -> Commitment:
    acct = ACCOUNTS[r.account]
    label = {12: "1yr", 36: "3yr"}[r.term_months]
    cid = _reservation_id(g, r, acct, label)
    end = snap_day + timedelta(days=r.ends_in_days, hours=g.rng.randint(1, 20) if r.provider == AWS else 0)
    od = price(r.provider, r.itype, r.region)
    eff = round(od * (1 - r.discount), 4)
    recurring = round(eff * (1 - r.upfront_share), 4)
    start = end - timedelta(days=round(r.term_months * 30.4375))
    upfront = round((eff - recurring) * r.instances * r.term_months * HOURS_PER_MONTH, 2)
    return Commitment(
        r.provider, cid, r.ctype, f"{r.itype} x{r.instances} {r.region} ({label} {r.payment})", acct, r.region, r.itype,
        r.instances, od, eff, recurring, r.fee_cadence, r.fee_service, r.payment, r.term_months, start, end,
        upfront=upfront, scope=r.scope, props=r.props,
    )


def _reservation_id(g: Gen, r: Reservation, acct: Account, label: str) -> str:
    if r.provider == AWS:
        return f"arn:aws:ec2:{r.region}:{acct.sub_id}:reserved-instances/{g.guid()}"
    if r.provider == AZURE:
        return f"/providers/Microsoft.Capacity/reservationOrders/{g.guid()}/reservations/{g.guid()}"
    family = r.itype.split("-")[0]
    return f"projects/{acct.sub_id}/regions/{r.region}/commitments/{family}-commit-{label}-{g.rng.randint(10, 99)}"


def _savings_plan(g: Gen, snap_day: datetime) -> Commitment:
    """The Compute Savings Plan (payer owned, shared); `allocate` sizes its hourly commitment."""
    payer = ACCOUNTS["payer"]
    sp_end = snap_day + timedelta(days=75, hours=g.rng.randint(1, 20))
    return Commitment(
        AWS, f"arn:aws:savingsplans::{payer.sub_id}:savingsplan/{g.guid()}", "Savings Plan",
        "Compute Savings Plan (1yr No Upfront)", payer, None, None, 0, 0.0, 0.72, 0.0, "daily",
        "Savings Plans for AWS Compute usage", "No Upfront", 12, sp_end - timedelta(days=365), sp_end,
        scope="Shared", props={"savings_plan_type": "ComputeSavingsPlans", "discount_vs_on_demand_pct": 28},
    )


# -- allocate -------------------------------------------------------------------------------------


def allocate(g: Gen) -> Allocation:
    """Allocate commitments to instance-hours day by day. Returns {(inst#, day): [(commit, hours)]}."""
    alloc: Allocation = defaultdict(list)
    left = [list(inst.hours) for inst in g.insts]  # instance-hours not covered yet, per instance and day
    for c in g.commits:
        if c.ctype != "Savings Plan":
            _allocate_reservation(g, c, alloc, left)
    _allocate_savings_plan(g, next(c for c in g.commits if c.ctype == "Savings Plan"), alloc, left)
    return alloc


def _allocate_reservation(g: Gen, c: Commitment, alloc: Allocation, left: list[list[float]]) -> None:
    """Up to `count` x 24 instance-hours a day of the matching on-demand instances."""
    match = [n for n, inst in enumerate(g.insts) if inst.provider == c.provider and inst.itype == c.itype
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


def _allocate_savings_plan(g: Gen, sp: Commitment, alloc: Allocation, left: list[list[float]]) -> None:
    """The Savings Plan over what is left of AWS EC2 on-demand usage, sized a little under the recent baseline
    (the low days of the last four weeks), so utilization climbs from ~75 % to ~97 % as the fleet grows."""
    elig_idx = [n for n, inst in enumerate(g.insts) if inst.provider == AWS and inst.lifecycle == "on-demand"]
    recent = sorted(sum(left[n][i] * g.insts[n].od_price for n in elig_idx) for i in range(N_DAYS - 28, N_DAYS))
    sp.hourly_commitment = round(recent[2] * sp.eff_rate * 0.97 / 24.0, 2)
    sp.recurring_rate = sp.hourly_commitment
    for i in range(N_DAYS):
        cap = sp.hourly_commitment * 24.0  # in Savings Plan dollars
        used = 0.0
        elig_od = 0.0
        cov_od = 0.0
        for n in elig_idx:
            od_cost = left[n][i] * g.insts[n].od_price
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


# -- rows ---------------------------------------------------------------------------------------------


def rows(g: Gen) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(commitments rows, commitment_usage rows); adds the Unused and Purchase cost rows on the way."""
    commitments, usage = [], []
    payer = ACCOUNTS["payer"].sub_id
    # AWS also has account-wide daily totals ("ri-total:<account>", "sp-total:<account>"), as the
    # AWS adapter writes them from Cost Explorer; coverage lives only on those rows there
    totals: dict[str, list[list[float]]] = {
        f"ri-total:{payer}": [[0.0] * 5 for _ in range(N_DAYS)],
        f"sp-total:{payer}": [[0.0] * 5 for _ in range(N_DAYS)],
    }
    ec2_hours = [sum(x.hours[i] for x in g.insts if x.provider == AWS and x.lifecycle == "on-demand")
                 for i in range(N_DAYS)]
    for c in g.commits:
        spend_based = c.ctype == "Savings Plan"
        daily_committed = (c.hourly_commitment if spend_based else c.count * c.eff_rate) * 24.0
        total = None
        if c.provider == AWS:
            total = totals[f"{'sp' if spend_based else 'ri'}-total:{payer}"]
        for i in range(N_DAYS):
            usage.append(_usage_row(g, c, i, daily_committed, total, ec2_hours))
            _unused_and_fee_costs(g, c, i, daily_committed)
        commitments.append(_commitment_row(g, c))
    for tid, days in totals.items():
        for i, (committed, used, od_eq, covered, eligible) in enumerate(days):
            usage.append({
                "provider_name": AWS, "commitment_id": tid, "day": g.day_str[i],
                "committed_nanos": to_nanos(committed), "used_nanos": to_nanos(used),
                "unused_nanos": to_nanos(max(0.0, committed - used)), "on_demand_equivalent_nanos": to_nanos(od_eq),
                "utilization_pct": round(100.0 * used / committed, 2) if committed else None,
                "coverage_pct": round(100.0 * covered / eligible, 2) if eligible else None,
            })
    return commitments, usage


def _usage_row(g: Gen, c: Commitment, i: int, daily_committed: float, total: list[list[float]] | None,
               ec2_hours: list[float]) -> dict[str, Any]:
    """Day i of one commitment; an AWS one also adds into its account-wide total (which carries the coverage)."""
    spend_based = c.ctype == "Savings Plan"
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
    return {
        "provider_name": c.provider, "commitment_id": c.cid, "day": g.day_str[i],
        "committed_nanos": to_nanos(daily_committed), "used_nanos": to_nanos(used), "unused_nanos": to_nanos(unused),
        "on_demand_equivalent_nanos": to_nanos(c.covered_od[i]),
        "utilization_pct": round(100.0 * used / daily_committed, 2) if daily_committed else None,
        "coverage_pct": coverage,
    }


def _unused_and_fee_costs(g: Gen, c: Commitment, i: int, daily_committed: float) -> None:
    spend_based = c.ctype == "Savings Plan"
    unused = max(0.0, daily_committed - c.used_eff[i])
    # the unused part of the commitment, amortized: a FOCUS "Unused" row
    if unused > 0.005:
        g.cost(i, c.acct, c.fee_service, c.region, 0.0, effective=unused, list_=0.0, contracted=0.0,
               pricing="Committed", commit=c, cstatus="Unused", tags=None)
    # the recurring fee: a Purchase row (effective 0: it is spread over the usage rows)
    fee = 0.0
    if c.fee_cadence == "daily":
        fee = c.recurring_rate * (1 if spend_based else c.count) * 24.0
    elif g.days[i].day == 1:  # billed on the 1st for the whole month
        d = g.days[i]
        fee = c.recurring_rate * c.count * (timeutil.add_months(d, 1) - d).days * 24.0
    if fee > 0:
        g.cost(i, c.acct, c.fee_service, c.region, fee, effective=0.0, list_=fee, contracted=fee,
               charge="Purchase", pricing="Committed", commit=c, tags=None,
               qty=(1 if spend_based else c.count))


def _commitment_row(g: Gen, c: Commitment) -> dict[str, Any]:
    spend_based = c.ctype == "Savings Plan"
    return {
        "provider_name": c.provider, "commitment_id": c.cid, "commitment_type": c.ctype, "name": c.name,
        "billing_account_id": c.acct.billing_id, "sub_account_id": c.acct.sub_id, "region_id": c.region,
        "scope": c.scope, "instance_type": c.itype, "instance_count": c.count or None,
        "hourly_commitment_nanos": to_nanos(c.hourly_commitment if spend_based else c.count * c.recurring_rate),
        "upfront_nanos": to_nanos(c.upfront), "payment_option": c.payment, "term_months": c.term_months,
        "start_at": g.iso(c.start), "end_at": timeutil.iso(c.end), "state": "active",
        "source_id": None, "properties": {**c.props, "recurring_hourly_nanos": to_nanos(
            c.recurring_rate * (1 if spend_based else c.count)),
            **({} if spend_based else {"on_demand_hourly_nanos": to_nanos(c.od_price),
                                       "amortized_hourly_nanos": to_nanos(c.count * c.eff_rate)})},
    }
