"""`costdeck report recommendations`: table, CSV or JSON (money as exact decimals), or a cleanup script."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cache import Store, timeutil
from cache.money import fmt

from .common import load_checked_config, refresh_if_stale
from .format import safe, wide_table, write_exact_json, write_records
from .parser import UsageError


def report_recommendations(store: Store, args: argparse.Namespace) -> int:
    """Recommendations for scripts: table, CSV or JSON (money as exact decimals), or a cleanup script."""
    from analysis.recommendations import NATIVE_RULES, RULES, load

    if args.rule and args.rule not in RULES and args.rule not in NATIVE_RULES:
        raise UsageError(f"unknown rule {args.rule!r} (known: {', '.join([*RULES, *NATIVE_RULES])})")
    if args.script is not None and not args.script.strip():
        raise UsageError("--script needs a kind, e.g. --script aws (see `costdeck sources --kinds`)")
    if args.dry_run and not args.script:
        raise UsageError("--dry-run goes with --script KIND (e.g. --script aws)")
    refresh_if_stale(store, load_checked_config(args))
    statuses = None if args.status == "all" else (args.status,)
    recs = load(store.conn, statuses=statuses, rule=args.rule, include_duplicates=False)
    if args.script:
        if args.read_only or load_checked_config(args).read_only:
            raise UsageError("read-only mode (--read-only or read_only = true): no cleanup plan or script")
        return _recommendations_script(store, args, [r for r in recs if r.status == "open"])
    records = [_record(r) for r in recs]
    if args.format == "json":
        write_exact_json(records, ("monthly_saving",))
        return 0
    if args.format == "table":
        _print_table(args, records, recs)
        return 0
    for rec in records:
        rec["detail"] = json.dumps(rec["detail"], sort_keys=True, ensure_ascii=False)
    write_records(records, args.format, money_fields=("monthly_saving",))
    return 0


def _record(r: Any) -> dict[str, Any]:
    """A recommendation as a record: every field, money in nano-units."""
    return {
        "id": r.id, "rule": r.rule, "category": r.category, "resource_id": r.resource_id,
        "resource_name": r.resource_name, "resource_type": r.resource_type, "provider_name": r.provider_name,
        "sub_account_id": r.sub_account_id, "region_id": r.region_id, "monthly_saving": r.monthly_saving,
        "currency": r.currency, "saving_basis": r.saving_basis, "status": r.status,
        "status_reason": r.status_reason,
        "snoozed_until": timeutil.iso(r.snoozed_until) if r.snoozed_until else None,
        "first_seen": timeutil.iso(r.first_seen) if r.first_seen else None, "origin": r.origin,
        "summary": r.detail.get("summary"), "detail": r.detail,
    }


def _print_table(args: argparse.Namespace, records: list[dict[str, Any]], recs: list[Any]) -> None:
    title = f"Recommendations ({args.status}{', rule ' + args.rule if args.rule else ''}): " \
            f"{len(records)}, saving {fmt(sum(r.monthly_saving for r in recs))}/month"
    rows = [{"rule": r["rule"], "resource": safe(r["resource_name"] or r["resource_id"])[:60],
             "provider": r["provider_name"], "account": safe(r["sub_account_id"] or ""),
             "region": r["region_id"] or "", "saving/month": fmt(r["monthly_saving"], r["currency"]),
             "status": r["status"], "evidence": safe(r["summary"] or "")} for r in records]
    if rows:
        wide_table(title, rows, right=("saving/month",))
    else:
        print(f"no {args.status if args.status != 'all' else ''} recommendations".replace("  ", " "))


def _recommendations_script(store: Store, args: argparse.Namespace, recs: list[Any]) -> int:
    import dataclasses

    from analysis.cleanup import NothingToExport, PlanRefused, build_plan, export_script, script_lines

    config = load_checked_config(args)
    # A script only prints commands: it is the read-only way to hand a plan to change control.
    try:
        plan = build_plan(store.conn, recs, dataclasses.replace(config, read_only=False), read_only=False,
                          demo=store.is_demo(), for_script=True)
        if args.dry_run:
            lines = script_lines(plan, args.script)
            sys.stdout.write("".join(line + "\n" for line in lines))
        else:
            sys.stdout.write(export_script(plan, args.script))
    except NothingToExport as exc:
        print(f"costdeck: {exc}", file=sys.stderr)
        return 0
    except PlanRefused as exc:
        raise UsageError(str(exc)) from None
    return 0
