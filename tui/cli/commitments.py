"""`costdeck report commitments [--purchase]`: commitment utilization, unused cost, savings and expiry,
or what to buy."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from cache import Store
from cache.money import fmt

from .format import safe, wide_table, write_records
from .parser import UsageError

_PURCHASE_MONEY = ("baseline_hourly", "mean_hourly", "commitment_1yr_hourly", "saving_1yr_monthly",
                   "commitment_3yr_hourly", "saving_3yr_monthly")
_SHORT = ("name", "type", "provider_name", "units", "end", "days_to_expiry", "utilization_pct", "unused_cost",
          "savings", "net_savings", "basis")


def report_commitments(store: Store, args: argparse.Namespace) -> int:
    """Commitments with utilization, unused cost, savings and expiry (or, --purchase, what to buy)."""
    if args.purchase:
        return _report_purchase(store, args)
    from analysis import commitments as cm
    from analysis.clock import reference_day

    anchor = cm.data_anchor(store.conn) or reference_day(store.conn)
    until = args.until or anchor + timedelta(days=1)
    since = args.since or until - timedelta(days=30)
    if until <= since:
        raise UsageError(f"--until {until} must be after --since {since}")
    rep = cm.build_report(store.conn, since, until)
    records = [cm.commitment_record(c) for c in rep.commitments]
    cov = "n/a" if rep.coverage_pct is None else f"{rep.coverage_pct:.1f}%"
    util = "n/a" if rep.utilization_pct is None else f"{rep.utilization_pct:.1f}%"
    title = (f"Commitments, {since} to {until} (exclusive): utilization {util}, coverage {cov}, "
             f"unused {fmt(rep.unused, rep.currency)}, net savings {fmt(rep.net_savings, rep.currency)}")
    money = cm.RECORD_MONEY
    if args.format != "table":
        write_records(records, args.format, money_fields=money, title=title)
        return 0
    rows = [_commitment_row(c, r, money) for c, r in zip(rep.commitments, records, strict=True)]
    if not rows:
        print(f"no commitments with data or active between {since} and {until} (exclusive)")
        return 0
    wide_table(title, rows, right=("days_to_expiry", "utilization_pct", *money))
    return 0


def _commitment_row(c: Any, r: dict[str, Any], money: tuple[str, ...]) -> dict[str, Any]:
    """A commitment's record shortened and formatted for the table."""
    row = {k: r[k] for k in _SHORT}
    row["name"] = safe(str(r["name"] or r["commitment_id"]))[:60]
    row["end"] = (r["end"] or "")[:10]
    # from the exact figure, rounded once (the record's 2-place value rounded again could differ)
    row["utilization_pct"] = "" if c.utilization_pct is None else f"{c.utilization_pct:.1f}%"
    return {k: (fmt(v, r["currency"]) if k in money and v is not None else "" if v is None else v)
            for k, v in row.items()}


# -- --purchase -------------------------------------------------------------------
def _report_purchase(store: Store, args: argparse.Namespace) -> int:
    from analysis import purchase

    recs = [_purchase_record(o) for o in purchase.purchase_options(store.conn)]
    ptitle = (f"Commitment purchase recommendations (p{purchase.PERCENTILE} of daily on-demand usage, "
              f"last {purchase.WINDOW_DAYS} days; savings per month; rates 'assumed default' are not from "
              "the prices table)")
    if args.format != "table":
        write_records(recs, args.format, money_fields=_PURCHASE_MONEY, title=ptitle)
        return 0
    if not recs:
        print("no purchase recommendation: no steady on-demand instance usage in the last 30 days")
        return 0
    wide_table(ptitle, [
        {k: (fmt(v, r["currency"], places=4 if k.endswith("hourly") else 2) if k in _PURCHASE_MONEY
             else safe("" if v is None else str(v))) for k, v in r.items()}
        for r in recs
    ], right=(*_PURCHASE_MONEY, "instances", "discount_1yr_pct", "discount_3yr_pct", "break_even_1yr_pct",
              "break_even_3yr_pct"))
    return 0


def _purchase_record(o: Any) -> dict[str, Any]:
    one, three = o.terms[1], o.terms[3]
    return {
        "provider_name": o.provider_name, "region_id": o.region_id, "family": o.family,
        "baseline_hourly": o.baseline_hourly, "mean_hourly": o.mean_hourly,
        "instance_type": o.instance_type,
        "instances": None if o.instance_equivalents is None else round(o.instance_equivalents, 2),
        "commitment_1yr_hourly": one.hourly_commitment, "saving_1yr_monthly": one.monthly_saving,
        "discount_1yr_pct": round(one.discount * 100, 2),
        "commitment_3yr_hourly": three.hourly_commitment, "saving_3yr_monthly": three.monthly_saving,
        "discount_3yr_pct": round(three.discount * 100, 2),
        "break_even_1yr_pct": round(one.break_even_utilization_pct, 2),
        "break_even_3yr_pct": round(three.break_even_utilization_pct, 2),
        "rate_basis": one.rate_basis, "currency": o.currency,
    }
