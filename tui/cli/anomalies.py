"""`costdeck report anomalies | budgets | forecast` and `costdeck check` (new findings since the last
check, exit 3 when there are some; the `[notify] webhook` told once per finding)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cache import Store, timeutil
from cache import queries as q
from cache.money import decimal_str

from .common import load_checked_config, refresh_if_stale
from .format import safe, write_records

EXIT_NEW = 3


def report_anomalies(store: Store, args: argparse.Namespace) -> int:
    from analysis import anomalies as an

    statuses = None if args.status == "all" else [args.status]
    records: list[dict[str, Any]] = []
    for a in an.load(store.conn, statuses):
        rec: dict[str, Any] = {
            "id": a.id, "start": a.start.isoformat(), "end": a.end.isoformat(), "kind": a.kind,
            "scope": a.scope_title, "value": a.dim_value, "expected": a.expected, "actual": a.actual,
            "impact": a.impact, "currency": a.currency, "score": a.score, "status": a.status,
            "reason": a.status_reason or "",
        }
        tops = [c.get("label") or c["value"] for c in a.contributors]
        if args.format == "json":
            rec["filters"] = a.scope
            # a contributor's move in currency units, like expected/actual/impact (the cache keeps nanos)
            rec["contributors"] = [{**{k: v for k, v in c.items() if k != "delta_nanos"},
                                    "delta": float(decimal_str(int(c.get("delta_nanos") or 0)))}
                                   for c in a.contributors]
            rec["first_seen"] = timeutil.iso(a.first_seen)
            rec["reason"] = a.status_reason
        else:
            rec["contributors"] = "; ".join(str(t) for t in tops)
        records.append(rec)
    if not records and args.format == "table":
        print(f"no {'' if args.status == 'all' else args.status + ' '}anomalies in this cache")
        return 0
    write_records(records, args.format, money_fields=("expected", "actual", "impact"),
                  title="Anomalies (expected and actual summed over the anomaly's days; impact = actual - expected)")
    return 0


def _budget_record(b: Any) -> dict[str, Any]:
    fc = b.forecast
    return {
        "budget": b.budget.name, "status": b.status, "period": b.budget.period,
        "period_start": b.period_start.isoformat() if b.period_start else None,
        "period_end": b.period_end.isoformat() if b.period_end else None,
        "amount": b.budget.amount, "actual": b.actual if b.status != "skipped" else None,
        "forecast": b.forecast_end if fc else None, "p10": fc.p10 if fc else None, "p90": fc.p90 if fc else None,
        "used": round(b.used, 4) if b.status != "skipped" else None,
        "crossing": b.crossing.isoformat() if b.crossing else None, "currency": b.budget.currency,
        "note": b.reason or "; ".join(f"{cur} spend not counted" for cur in sorted(b.other_currencies)),
    }


def report_budgets(store: Store, args: argparse.Namespace) -> int:
    from analysis import budgets as bu

    config = load_checked_config(args)
    statuses = bu.evaluate_all(store.conn, config)
    if not statuses and args.format == "table":
        print("no budgets: add [budgets.NAME] tables to the config (amount, currency, filter)")
        return 0
    write_records([_budget_record(b) for b in statuses], args.format,
                  money_fields=("amount", "actual", "forecast", "p10", "p90"),
                  title="Budgets (actual to date, forecast at the end of the period with its P10-P90 range, the day "
                  "spend crosses the budget)")
    return 0


def report_forecast(store: Store, args: argparse.Namespace) -> int:
    from datetime import timedelta

    from analysis import forecast as fo

    rng = q.data_range(store.conn)
    records: list[dict[str, Any]] = []
    if rng is not None:
        as_of = rng[1]
        since = max(rng[0], as_of - timedelta(days=120))
        for cur in sorted(q.total(store.conn, since, as_of + timedelta(days=1))):
            pts = q.spend_series(store.conn, None, since, as_of + timedelta(days=1),
                                 filters={"billing_currency": cur}).get(None, {})
            daily = {timeutil.parse_day(d): v for d, v in pts.items()}
            d = since
            while d <= as_of:
                daily.setdefault(d, 0)
                d += timedelta(days=1)
            for label, f in (("this month", fo.month_end_forecast(daily, as_of)),
                             ("next month", fo.next_month_forecast(daily, as_of))):
                records.append({"period": label, "start": f.month_start.isoformat(),
                                "end": (f.end or f.month_start).isoformat(), "as_of": as_of.isoformat(),
                                "actual": f.actual_mtd, "forecast": f.month_end, "p10": f.p10, "p90": f.p90,
                                "run_rate": f.run_rate, "currency": cur})
    if not records and args.format == "table":
        print("no cost data in this cache: run costdeck import, sync or demo first")
        return 0
    write_records(records, args.format, money_fields=("actual", "forecast", "p10", "p90", "run_rate"),
                  title="Forecast (actual to date + run rate x weekday rhythm; P10-P90 range; run rate per day)")
    return 0


STATUS_VERBS = {"ack": "acknowledged", "dismiss": "dismissed", "reopen": "open"}


def cmd_anomalies(args: argparse.Namespace) -> int:
    """`costdeck anomalies ack|dismiss|reopen ID... [--reason TEXT]`: change anomaly statuses from a
    script. Local bookkeeping (the cache only), so it works in read-only mode like dismissing a
    recommendation in the app; it waits for the cache lock like every writer."""
    from analysis import anomalies as an
    from providers.errors import InputError

    from .common import resolve_db
    from .parser import UsageError

    status = STATUS_VERBS[args.verb]
    reason = (args.reason or "").strip() or None
    if status == "dismissed" and not reason:
        raise UsageError("dismiss needs --reason TEXT (it is kept with the status, as in the app)")
    if status == "open" and reason:
        raise UsageError("reopen takes no --reason (an open anomaly has none)")
    load_checked_config(args)
    path = resolve_db(args)
    if not path.exists():
        raise InputError(f"{path}: no cache here (run costdeck import, sync or demo first)")
    with Store(path) as store:
        known = {a.id: a for a in an.load(store.conn)}
        missing = [i for i in args.ids if i not in known]
        if missing:
            raise InputError(f"no anomaly with id {', '.join(str(i) for i in missing)} in {path} "
                             "(costdeck report anomalies --status all lists them)")
        change = [i for i in dict.fromkeys(args.ids)
                  if known[i].status != status or (reason and known[i].status_reason != reason)]
        with store.transaction():
            an.set_status(store.conn, change, status, reason=reason)
    what = {"open": "reopened"}.get(status, status)
    for i in dict.fromkeys(args.ids):
        a = known[i]
        head = f"anomaly {i} ({a.kind.replace('_', ' ')} {a.start}..{a.end}, {safe(a.dim_value)})"
        print(f"{head}: {what}{': ' + safe(reason) if reason else ''}" if i in change else f"{head}: already {what}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Print what is new since the last check; exit 3 when something is, 0 when nothing is."""
    from analysis import findings as fi
    from providers.errors import InputError

    from .common import resolve_db

    config = load_checked_config(args)
    path = resolve_db(args)
    if not path.exists():
        raise InputError(f"{path}: no cache here (run costdeck import, sync or demo first)")
    with Store(path) as store:
        refresh_if_stale(store, config)
        found = fi.collect(store.conn, config)
        with store.transaction():
            new = fi.record_new(store.conn, found)
        pending = fi.unnotified(store.conn)
        if args.format == "json":
            print(json.dumps({"new": [f.as_dict() for f in new], "current": len(found)}, indent=2,
                             ensure_ascii=False))
        elif new:
            print(f"{len(new)} new since the last check ({len(found)} current):")
            for f in new:
                # budget and recommendation lines name their kind already ("budget X over: ...")
                named = f.summary.startswith(f"{f.kind} ")
                print(f"  {safe(f.summary)}" if named else f"  {f.kind}: {safe(f.summary)}")
        else:
            print(f"nothing new since the last check ({len(found)} current)")
        notify_failed = False
        webhook = config.notify.webhook
        if webhook and pending and not args.no_notify:
            from providers import notify

            try:
                notify.post(webhook, fi.slack_message(pending, str(path.name)))
            except notify.NotifyError as exc:
                notify_failed = True
                print(f"costdeck: the webhook was not told ({exc}); it will be at the next check", file=sys.stderr)
            else:
                with store.transaction():
                    fi.mark_notified(store.conn, pending)
    if new:
        return EXIT_NEW
    return 1 if notify_failed else 0


__all__ = ["EXIT_NEW", "cmd_check", "report_anomalies", "report_budgets", "report_forecast"]
