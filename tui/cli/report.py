"""`costdeck report ...`: one handler per report; `spend` and `ml-runs` live here, the others beside it
(`rows`, the daily cost rows export, in rows.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from cache import Store, timeutil
from cache import queries as q
from cache.csvout import write_csv
from providers.errors import InputError

from .anomalies import report_anomalies, report_budgets, report_forecast
from .commitments import report_commitments
from .common import demo_db_path, load_checked_config, resolve_db
from .format import write_records
from .parser import UsageError
from .recommendations import report_recommendations
from .rows import report_rows
from .rules import report_rules


def cmd_report(args: argparse.Namespace) -> int:
    path = resolve_db(args)
    if args.report == "rules":  # from the config and the models alone
        return report_rules(args)
    if not path.exists():
        demo = demo_db_path(args)
        if demo.exists() and demo != path:  # what the dashboard opens when the cache is empty
            raise InputError(f"{path}: no cache here; the dashboard shows the demo snapshot beside it: "
                             f"add --db {demo} to report on the demo")
        raise InputError(f"{path}: no cache here (run costdeck import, sync or demo first)")
    reports: dict[str, Callable[[Store, argparse.Namespace], int]] = {
        "spend": report_spend, "rows": report_rows, "ml-runs": report_ml_runs,
        "commitments": report_commitments, "recommendations": report_recommendations,
        "anomalies": report_anomalies, "budgets": report_budgets, "forecast": report_forecast,
    }
    if args.report in reports:
        with Store(path) as store:
            return reports[args.report](store, args)
    raise UsageError(f"unknown report {args.report!r}")


# -- spend ------------------------------------------------------------------------
def report_spend(store: Store, args: argparse.Namespace) -> int:
    from cache import k8s

    if k8s.is_k8s_dim(args.by):
        return _report_k8s_spend(store, args)
    try:
        q.check_dim(args.by)
    except q.QueryError as exc:
        raise UsageError(str(exc)) from None
    rng = q.data_range(store.conn)
    if rng is None and not (args.since and args.until):
        # No cost data: an empty result, not an error (scripts get [] or a bare header).
        _print_no_cost_data(args)
        return 0
    since, until = _spend_window(args, rng)
    groups = q.spend_by(store.conn, args.by, since, until, args.metric)
    records = [
        {args.by: g.value, **({"name": g.label} if g.label else {}), "cost": g.cost, "currency": g.currency}
        for g in groups
    ]
    write_records(records, args.format, money_fields=("cost",), title=f"Spend by {args.by}, {since} to {until} "
                  f"(exclusive), {args.metric} cost", total=True)
    return 0


def _report_k8s_spend(store: Store, args: argparse.Namespace) -> int:
    """Kubernetes allocation (a lens on the cloud bill, never added to it) grouped by cluster,
    namespace, controller, pod, node or label:KEY; idle capacity is the "__idle__" group."""
    from cache import k8s

    rng = k8s.alloc_range(store.conn)
    if rng is None and not (args.since and args.until):
        _print_no_cost_data(args)
        return 0
    since, until = _spend_window(args, rng)
    groups = k8s.alloc_spend_by(store.conn, args.by, since, until)
    records = [{args.by: g.value, "cluster": g.extra, "cost": g.cost, "currency": g.currency} for g in groups]
    write_records(records, args.format, money_fields=("cost",), title=f"Kubernetes allocation by {args.by}, "
                  f"{since} to {until} (exclusive): a lens on the cloud bill, not added to it", total=True)
    return 0


def _print_no_cost_data(args: argparse.Namespace) -> None:
    if args.format == "json":
        print("[]")
    elif args.format == "csv":
        print(f"{args.by},cost,currency")
    else:
        print("no cost data in this cache: run costdeck import, sync or demo first")
    # Say what the dashboard would show instead: an empty cache with no configured source opens
    # the demo beside it, so "no cost data" here must not read as "the dashboard is wrong".
    demo = demo_db_path(args)
    if demo.exists() and demo != resolve_db(args) and not load_checked_config(args).sources:
        print(f"costdeck: this cache ({resolve_db(args)}) is empty; the dashboard shows the demo snapshot "
              f"beside it: add --db {demo} to report on the demo", file=sys.stderr)


def _spend_window(args: argparse.Namespace, rng: tuple[date, date] | None) -> tuple[date, date]:
    """--since/--until, defaulting to the days with data; an empty window names what was given."""
    since = args.since or (rng[0] if rng else timeutil.today())
    until = args.until or ((rng[1] + timedelta(days=1)) if rng else timeutil.today())
    if until <= since:
        if not args.until and rng:
            raise UsageError(f"--since {since} is after the last day with data ({rng[1]})")
        if not args.since and rng:
            raise UsageError(f"--until {until} is before the first day with data ({rng[0]})")
        raise UsageError(f"--until {until} must be after --since {since}")
    return since, until


# -- ml-runs ----------------------------------------------------------------------
def report_ml_runs(store: Store, args: argparse.Namespace) -> int:
    from analysis import mlruns

    runs = mlruns.load_runs(store.conn, task=args.task)
    if args.task and not runs:
        known = ", ".join(mlruns.tasks(store.conn)) or "none in the cache"
        raise UsageError(f"no runs for task {args.task!r} (tasks: {known})")
    records = mlruns.run_records(runs)
    if not records:  # say so, in each format's own way
        if args.format == "table":
            print("no ML runs in this cache")
        elif args.format == "csv":
            write_csv(sys.stdout, list(mlruns.RECORD_FIELDS), [])
        else:
            sys.stdout.write("[]\n")
        return 0
    if args.format == "table":  # readable on a terminal: short times, one metric column
        records = [_ml_run_row(r) for r in records]
    write_records(records, args.format, money_fields=("cost",),
                  title="ML runs" + (f" of {args.task}" if args.task else "") + " (cost basis: billed = apportioned "
                  "from the billed cost; price x duration = on-demand price x instances x duration)")
    return 0


def _ml_run_row(r: dict[str, Any]) -> dict[str, Any]:
    """A run record shortened for the table."""
    return {
        "task": r["task"], "name": r["name"] or r["run_id"], "status": r["status"],
        "start": r["start"][:16].replace("T", " "), "duration": timeutil.duration_text(r["duration_s"]),
        "executors": r["executors"], "cost": r["cost"], "currency": r["currency"],
        "basis": r["cost_basis"] + (f": {r['cost_reason']}" if r["cost_reason"] else ""),
        "metric": f"{r['primary_metric']}={r['primary_value']:.4g}" if r["primary_value"] is not None else "",
    }
