"""The `costdeck` command line: one entry point, subcommands, exit codes 0/1/2.

Errors are one line (`costdeck: error: ...`); `--debug` shows the traceback.
Textual is imported only when the dashboard opens, so scripted commands start fast.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cache import CacheError, Store, timeutil
from cache import queries as q
from cache.money import decimal_str, fmt
from providers.errors import CostdeckError, InputError
from providers.paths import default_db_path


class UsageError(CostdeckError):
    exit_code = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        raise UsageError(message)


def _day(text: str) -> date:
    try:
        return timeutil.parse_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (expected YYYY-MM-DD): {text!r}") from None


def _common_options(*, suppress: bool) -> _Parser:
    """The global options, accepted before or after the subcommand.

    Subcommands get them with SUPPRESS defaults, so `costdeck --db X report ...` keeps X instead of
    the subcommand's default overwriting it.
    """
    common = _Parser(add_help=False)
    kw: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    common.add_argument("--db", type=Path, help="cache file (default: COSTDECK_DB or the platform data dir)", **kw)
    common.add_argument("--config", type=Path, help="config file (default: COSTDECK_CONFIG or the platform config dir)",
                        **kw)
    common.add_argument("--read-only", action="store_true",
                        help="never change a cloud resource: no cleanup key, plan or script", **kw)
    common.add_argument("--debug", action="store_true", help="show tracebacks", **kw)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(suppress=True)  # parents of every subcommand

    p = _Parser(
        prog="costdeck",
        description="Cloud and ML spend in the terminal, from a local SQLite snapshot.",
        parents=[_common_options(suppress=False)],
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("open", parents=[common], help="open the dashboard (the default)")

    d = sub.add_parser("demo", parents=[common], help="(re)generate the deterministic demo snapshot")
    d.add_argument("--as-of", type=_day, help="last day of the demo data (default: today, UTC)")
    d.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    i = sub.add_parser("import", parents=[common],
                       help="load FOCUS files (CSV, CSV.gz, Parquet) or ML run logs (.jsonl)")
    i.add_argument("files", nargs="+", type=Path)
    i.add_argument("--source", help="source name to file the rows under (default: the file name)")
    i.add_argument("--force", action="store_true", help="import even if the same content was imported before")

    r = sub.add_parser("report", parents=[common], help="print a view's data as table, CSV or JSON")
    rsub = r.add_subparsers(dest="report", parser_class=_Parser, required=True)
    rs = rsub.add_parser("spend", parents=[common], help="spend grouped by one dimension")
    rs.add_argument("--by", required=True, help="provider_name, billing_account_id, sub_account_id, service_name, "
                    "service_category, region_id, resource_type, resource_id or tag:KEY")
    rs.add_argument("--since", type=_day, help="first day, inclusive (default: first day with data)")
    rs.add_argument("--until", type=_day, help="last day, exclusive (default: the day after the last day with data)")
    rs.add_argument("--metric", choices=["billed", "effective", "list"], default="billed")
    rs.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rm = rsub.add_parser("ml-runs", parents=[common], help="ML runs with their cost (basis, or why unknown)")
    rm.add_argument("--task", help="only this task (experiment)")
    rm.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rc = rsub.add_parser("commitments", parents=[common], help="RI/SP/CUD utilization, unused cost, savings, expiry")
    rc.add_argument("--since", type=_day, help="first day, inclusive (default: 30 days before --until)")
    rc.add_argument("--until", type=_day, help="last day, exclusive (default: the day after the last day with data)")
    rc.add_argument("--purchase", action="store_true", help="purchase recommendations instead (last 30 days)")
    rc.add_argument("--format", choices=["table", "csv", "json"], default="table")

    rr = rsub.add_parser("recommendations", parents=[common], help="recommendations (waste, rightsizing, security)")
    rr.add_argument("--rule", help="only this rule id (see `costdeck report rules`)")
    rr.add_argument("--status", default="open", choices=["open", "dismissed", "snoozed", "applied", "all"],
                    help="status to list (default: open)")
    rr.add_argument("--format", choices=["table", "csv", "json"], default="table")
    rr.add_argument("--script", choices=["aws"], help="print a shell script (AWS CLI) that cleans up the open "
                    "recommendations instead (dry run unless run with --execute)")
    rr.add_argument("--dry-run", action="store_true", help="with --script: print only the commands, one per line")
    rl = rsub.add_parser("rules", parents=[common], help="the recommendation rules and their thresholds")
    rl.add_argument("--format", choices=["table", "csv", "json"], default="table")

    sub.add_parser("sources", parents=[common], help="list sources and their last sync")

    tr = sub.add_parser("track", parents=[common], help="run a command and record it as an ML run",
                        usage="costdeck track [--task NAME] [--name NAME] [--instance-type T] [--count N] "
                        "[--provider P] [--region R] -- CMD ARGS...")
    tr.add_argument("--task", help="task (experiment) name (default: the command's name)")
    tr.add_argument("--name", help="run name (default: the command line)")
    tr.add_argument("--instance-type", help="instance type (default: from the cloud instance metadata)")
    tr.add_argument("--count", type=int, default=1, help="number of instances (default 1)")
    tr.add_argument("--provider", help="AWS, Microsoft or Google Cloud (default: AWS with instance metadata)")
    tr.add_argument("--region", help="region of the instance")
    tr.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to run")

    sy = sub.add_parser("sync", parents=[common], help="pull data from the configured sources")
    sy.add_argument("sources", nargs="*", metavar="SOURCE", help="source names (default: all configured)")
    sy.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")
    return p


def resolve_db(args: argparse.Namespace) -> Path:
    return Path(args.db).expanduser() if args.db else default_db_path()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return run(args)
    except KeyboardInterrupt:
        print("costdeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `costdeck report ... | head`: the reader has gone; stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (CostdeckError, CacheError) as exc:
        if debug:
            raise
        print(f"costdeck: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except Exception as exc:  # noqa: BLE001 - last-resort one-liner
        if debug:
            raise
        print(f"costdeck: error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    cmd = args.command or "open"
    if cmd == "open":
        return cmd_open(args)
    if cmd == "demo":
        return cmd_demo(args)
    if cmd == "import":
        return cmd_import(args)
    if cmd == "report":
        return cmd_report(args)
    if cmd == "sources":
        return cmd_sources(args)
    if cmd == "sync":
        return cmd_sync(args)
    if cmd == "track":
        return cmd_track(args)
    raise UsageError(f"unknown command {cmd!r}")


# -- demo / open ---------------------------------------------------------------
def demo_db_path(args: argparse.Namespace, *, explicit_ok: bool = False) -> Path:
    """Where the demo lives: `demo.db` beside the cache, so the real cache never holds demo data.

    `costdeck demo --db PATH` (explicit_ok) writes the demo exactly there instead.
    """
    if explicit_ok and args.db:
        return Path(args.db).expanduser()
    return resolve_db(args).with_name("demo.db")


def cmd_demo(args: argparse.Namespace) -> int:
    from providers import demo

    config = load_checked_config(args)  # a bad config (rule thresholds included) exits 2 before writing
    path = demo_db_path(args, explicit_ok=True)
    as_of = args.as_of or timeutil.today()
    with Store(path) as store:
        summary = demo.generate(store, as_of=as_of, seed=args.seed)
        recs = recompute_recommendations(store, config)
    print(f"demo snapshot written to {path}: {summary}")
    print(recs.summary())
    if path != resolve_db(args):
        print(f"open it with: costdeck --db {path}")
    return 0


def prepare_open(args: argparse.Namespace) -> tuple[Path, Any]:
    """The cache to open and the config: an empty cache with no configured source opens the demo
    (`demo.db` beside the cache, regenerated when it is not from today)."""

    config = load_checked_config(args)  # a bad config exits 2 before the screen opens
    path = resolve_db(args)
    with Store(path) as store:
        use_demo = store.is_empty() and not config.sources
    if use_demo:
        path = demo_db_path(args)
        with Store(path) as store:
            stale = store.get_meta("demo_as_of") != timeutil.today().isoformat()
            if not store.is_empty() and not store.is_demo():
                raise InputError(f"{path}: holds real data, not the demo")
            if store.is_empty() or stale:
                from providers import demo

                demo.generate(store, as_of=timeutil.today())
                recompute_recommendations(store, config)
    return path, config


def cmd_open(args: argparse.Namespace) -> int:
    path, config = prepare_open(args)
    from tui.app import CostdeckApp

    app = CostdeckApp(db_path=path, read_only=args.read_only, config=config)
    app.run()
    return app.return_code or 0


# -- import --------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    config = load_checked_config(args)
    path = resolve_db(args)
    created = not path.exists()
    try:
        return _import(args, config, path)
    except BaseException:
        if created:  # a failed import into a new cache leaves no file behind
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise


def _import(args: argparse.Namespace, config: Any, path: Path) -> int:
    from providers import focus, runs_jsonl

    # ML run logs (.jsonl/.ndjson, or JSON objects with a run_id) are parsed first: a bad line exits 2
    # before anything is written; the FOCUS files keep their own path below.
    logs = [f for f in args.files if runs_jsonl.is_run_log(f)]
    parsed = runs_jsonl.parse_files(logs)
    args.files = [f for f in args.files if f not in logs]
    if not args.files:
        with Store(path) as store:
            for res in runs_jsonl.import_parsed(store, parsed, source_name=args.source):
                print(res.summary())
        return 0
    with Store(path) as store:
        progress = _Progress() if sys.stderr.isatty() else None
        results = focus.import_files(
            store, args.files, source_name=args.source, force=args.force, progress=progress
        )
        if progress:
            progress.done()
        if parsed:
            results += runs_jsonl.import_parsed(store, parsed, source_name=args.source)  # type: ignore[arg-type]
        recs = recompute_recommendations(store, config)
    for res in results:
        print(res.summary())
    print(recs.summary())
    return 0


class _Progress:
    """A one-line progress bar on stderr for long imports."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if total:
            frac = min(1.0, done / total)
            bar = "█" * int(frac * 30) + "░" * (30 - int(frac * 30))
            line = f"\r{label[:40]:40} {bar} {frac * 100:5.1f}%"
        else:
            line = f"\r{label[:40]:40} {done:,} rows"
        if line != self.last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.last = line

    def done(self) -> None:
        if self.last:
            sys.stderr.write("\n")


# -- report --------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    path = resolve_db(args)
    if not path.exists():
        raise InputError(f"{path}: no cache here (run costdeck import, sync or demo first)")
    with Store(path) as store:
        if args.report == "spend":
            return report_spend(store, args)
        if args.report == "ml-runs":
            return report_ml_runs(store, args)
        if args.report == "commitments":
            return report_commitments(store, args)
        if args.report == "recommendations":
            return report_recommendations(store, args)
        if args.report == "rules":
            return report_rules(args)
    raise UsageError(f"unknown report {args.report!r}")


def report_spend(store: Store, args: argparse.Namespace) -> int:
    try:
        q.check_dim(args.by)
    except q.QueryError as exc:
        raise UsageError(str(exc)) from None
    rng = q.data_range(store.conn)
    if rng is None and not (args.since and args.until):
        # No cost data: an empty result, not an error (scripts get [] or a bare header).
        if args.format == "json":
            print("[]")
        elif args.format == "csv":
            print(f"{args.by},cost,currency")
        else:
            print("no cost data in this cache: run costdeck import, sync or demo first")
        return 0
    since = args.since or (rng[0] if rng else timeutil.today())
    until = args.until or ((rng[1] + timedelta(days=1)) if rng else timeutil.today())
    if until <= since:
        if not args.until and rng:
            raise UsageError(f"--since {since} is after the last day with data ({rng[1]})")
        if not args.since and rng:
            raise UsageError(f"--until {until} is before the first day with data ({rng[0]})")
        raise UsageError(f"--until {until} must be after --since {since}")
    groups = q.spend_by(store.conn, args.by, since, until, args.metric)
    records = [
        {args.by: g.value, **({"name": g.label} if g.label else {}), "cost": g.cost, "currency": g.currency}
        for g in groups
    ]
    write_records(records, args.format, money_fields=("cost",), title=f"Spend by {args.by}, {since} to {until} "
                  f"(exclusive), {args.metric} cost")
    return 0


def check_rules(config: Any) -> None:
    """Validate the [rules.*] thresholds (one line, exit 2) before anything runs."""
    from analysis.recommendations import rule_params

    rule_params(config.rules, str(config.path or "config"))


def load_checked_config(args: argparse.Namespace) -> Any:
    """The config file, fully validated (sources, budgets, protection and rule thresholds): every
    command that reads it refuses a bad one the same way, one line and exit 2."""
    from providers.config import load_config

    config = load_config(args.config)
    check_rules(config)
    return config


def recompute_recommendations(store: Store, config: Any) -> Any:
    """Re-run the recommendation rules over the cache (after demo, import and sync)."""
    from analysis.recommendations.engine import recompute

    return recompute(store, config)


def report_rules(args: argparse.Namespace) -> int:
    from analysis.recommendations import RULES, rule_doc, rule_params

    config = load_checked_config(args)
    params = rule_params(config.rules, str(config.path or "config"))
    records = []
    for rid, mod in RULES.items():
        shown = {k: v for k, v in params[rid].items()}
        records.append({"rule": rid, "category": mod.CATEGORY, "title": mod.TITLE,
                        "thresholds": ", ".join(f"{k} = {v}" for k, v in shown.items()) or "-",
                        "defaults": ", ".join(f"{k} = {p.default}" for k, p in mod.PARAMS.items()) or "-",
                        "what": rule_doc(rid)})
    if args.format == "json":
        for r, (rid, _mod) in zip(records, RULES.items(), strict=True):
            r["thresholds"] = params[rid]
    if args.format == "table":
        for r in records:
            r["what"] = str(r["what"]).split(". ", 1)[0]
        _wide_table("Recommendation rules (thresholds: the config's rules.RULE_ID tables)", records)
        return 0
    write_records(records, args.format)
    return 0


def report_recommendations(store: Store, args: argparse.Namespace) -> int:
    """Recommendations for scripts: table, CSV or JSON (money as exact decimals), or a cleanup script."""
    from analysis.recommendations import NATIVE_RULES, RULES, load

    if args.rule and args.rule not in RULES and args.rule not in NATIVE_RULES:
        raise UsageError(f"unknown rule {args.rule!r} (known: {', '.join([*RULES, *NATIVE_RULES])})")
    if args.dry_run and not args.script:
        raise UsageError("--dry-run goes with --script aws")
    statuses = None if args.status == "all" else (args.status,)
    recs = load(store.conn, statuses=statuses, rule=args.rule, include_duplicates=False)
    if args.script:
        if args.read_only or load_checked_config(args).read_only:
            raise UsageError("read-only mode (--read-only or read_only = true): no cleanup plan or script")
        return _recommendations_script(store, args, [r for r in recs if r.status == "open"])
    records = [
        {"id": r.id, "rule": r.rule, "category": r.category, "resource_id": r.resource_id,
         "resource_name": r.resource_name, "resource_type": r.resource_type, "provider_name": r.provider_name,
         "sub_account_id": r.sub_account_id, "region_id": r.region_id, "monthly_saving": r.monthly_saving,
         "currency": r.currency, "saving_basis": r.saving_basis, "status": r.status,
         "status_reason": r.status_reason,
         "snoozed_until": timeutil.iso(r.snoozed_until) if r.snoozed_until else None,
         "first_seen": timeutil.iso(r.first_seen) if r.first_seen else None, "origin": r.origin,
         "summary": r.detail.get("summary"), "detail": r.detail}
        for r in recs
    ]
    if args.format == "json":
        _write_exact_json(records, ("monthly_saving",))
        return 0
    if args.format == "table":
        title = f"Recommendations ({args.status}{', rule ' + args.rule if args.rule else ''}): " \
                f"{len(records)}, saving {fmt(sum(r.monthly_saving for r in recs))}/month"
        rows = [{"rule": r["rule"], "resource": _safe(r["resource_name"] or r["resource_id"])[:60],
                 "provider": r["provider_name"], "account": _safe(r["sub_account_id"] or ""),
                 "region": r["region_id"] or "", "saving/month": fmt(r["monthly_saving"], r["currency"]),
                 "status": r["status"], "evidence": _safe(r["summary"] or "")} for r in records]
        if rows:
            _wide_table(title, rows, right=("saving/month",))
        else:
            print(f"no {args.status if args.status != 'all' else ''} recommendations".replace("  ", " "))
        return 0
    for rec in records:
        rec["detail"] = json.dumps(rec["detail"], sort_keys=True, ensure_ascii=False)
    write_records(records, args.format, money_fields=("monthly_saving",))
    return 0


def _write_exact_json(records: list[dict[str, Any]], money_fields: tuple[str, ...]) -> None:
    """JSON with money as exact decimal numbers (nano-units -> 12.345000001, never a float)."""
    import secrets

    tag = f"@@dec{secrets.token_hex(8)}@@"
    data = [{k: (f"{tag}{decimal_str(v)}{tag}" if k in money_fields and v is not None else v) for k, v in r.items()}
            for r in records]
    text = json.dumps(data, indent=2, ensure_ascii=False)
    for field_text in set(text.split(f'"{tag}')[1:]):
        number = field_text.split(f'{tag}"', 1)[0]
        text = text.replace(f'"{tag}{number}{tag}"', number)
    sys.stdout.write(text + "\n")


def _recommendations_script(store: Store, args: argparse.Namespace, recs: list[Any]) -> int:
    import dataclasses


    try:
        from analysis.cleanup import PlanRefused, build_plan, export_script, script_lines
    except ImportError:
        raise UsageError("--script needs the cleanup module, which is not in this build yet") from None
    config = load_checked_config(args)
    # A script only prints commands: it is the read-only way to hand a plan to change control.
    try:
        plan = build_plan(store.conn, recs, dataclasses.replace(config, read_only=False), read_only=False,
                          demo=store.is_demo())
        if args.dry_run:
            lines = script_lines(plan)
            sys.stdout.write("".join(line + "\n" for line in lines))
        else:
            sys.stdout.write(export_script(plan, args.script))
    except PlanRefused as exc:
        raise UsageError(str(exc)) from None
    return 0


def report_commitments(store: Store, args: argparse.Namespace) -> int:
    """Commitments with utilization, unused cost, savings and expiry (or, --purchase, what to buy)."""
    from analysis import commitments as cm
    from analysis import purchase
    from analysis.clock import reference_day

    if args.purchase:
        recs = []
        for o in purchase.purchase_options(store.conn):
            one, three = o.terms[1], o.terms[3]
            recs.append({
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
            })
        pmoney = ("baseline_hourly", "mean_hourly", "commitment_1yr_hourly", "saving_1yr_monthly",
                  "commitment_3yr_hourly", "saving_3yr_monthly")
        ptitle = (f"Commitment purchase recommendations (p{purchase.PERCENTILE} of daily on-demand usage, "
                  f"last {purchase.WINDOW_DAYS} days; savings per month; rates 'assumed default' are not from "
                  "the prices table)")
        if args.format != "table":
            write_records(recs, args.format, money_fields=pmoney, title=ptitle)
            return 0
        if not recs:
            print("no purchase recommendation: no steady on-demand instance usage in the last 30 days")
            return 0
        _wide_table(ptitle, [
            {k: (fmt(v, r["currency"], places=4 if k.endswith("hourly") else 2) if k in pmoney
                 else _safe("" if v is None else str(v))) for k, v in r.items()}
            for r in recs
        ], right=(*pmoney, "instances", "discount_1yr_pct", "discount_3yr_pct", "break_even_1yr_pct",
                  "break_even_3yr_pct"))
        return 0
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
    short = ("name", "type", "provider_name", "units", "end", "days_to_expiry", "utilization_pct", "unused_cost",
             "savings", "net_savings", "basis")
    rows = []
    for c, r in zip(rep.commitments, records, strict=True):
        row = {k: r[k] for k in short}
        row["name"] = _safe(str(r["name"] or r["commitment_id"]))[:60]
        row["end"] = (r["end"] or "")[:10]
        # from the exact figure, rounded once (the record's 2-place value rounded again could differ)
        row["utilization_pct"] = "" if c.utilization_pct is None else f"{c.utilization_pct:.1f}%"
        rows.append({k: (fmt(v, r["currency"]) if k in money and v is not None else "" if v is None else v)
                     for k, v in row.items()})
    if not rows:
        print(f"no commitments with data or active between {since} and {until} (exclusive)")
        return 0
    _wide_table(title, rows, right=("days_to_expiry", "utilization_pct", *money))
    return 0


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
            csv.writer(sys.stdout, lineterminator="\n").writerow(mlruns.RECORD_FIELDS)
        else:
            sys.stdout.write("[]\n")
        return 0
    if args.format == "table":  # readable on a terminal: short times, one metric column
        records = [
            {"task": r["task"], "name": r["name"] or r["run_id"], "status": r["status"],
             "start": r["start"][:16].replace("T", " "), "duration": _duration(r["duration_s"]),
             "executors": r["executors"], "cost": r["cost"], "currency": r["currency"],
             "basis": r["cost_basis"] + (f": {r['cost_reason']}" if r["cost_reason"] else ""),
             "metric": f"{r['primary_metric']}={r['primary_value']:.4g}" if r["primary_value"] is not None else ""}
            for r in records
        ]
    write_records(records, args.format, money_fields=("cost",),
                  title="ML runs" + (f" of {args.task}" if args.task else "") + " (cost basis: billed = apportioned "
                  "from the billed cost; price x duration = on-demand price x instances x duration)")
    return 0


def write_records(
    records: list[dict[str, Any]],
    fmt_name: str,
    *,
    money_fields: tuple[str, ...] = (),
    title: str = "",
    out: io.TextIOBase | None = None,
) -> None:
    """Print records as a table, CSV or JSON. Money fields are nano-units in, exact decimals out."""
    stream = out or sys.stdout
    if fmt_name == "json":
        data = [
            {k: (float(decimal_str(v)) if k in money_fields and v is not None else v) for k, v in r.items()}
            for r in records
        ]
        stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    cols: list[str] = []
    for r in records:
        for k in r:
            if k not in cols:
                cols.append(k)
    if fmt_name == "csv":
        w = csv.writer(stream, lineterminator="\n")
        w.writerow(cols)
        for r in records:
            w.writerow([decimal_str(r[c]) if c in money_fields and r.get(c) is not None else r.get(c, "") for c in cols])
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, title_justify="left")
    for c in cols:
        table.add_column(c, justify="right" if c in money_fields else "left", overflow="fold")
    for r in records:
        cells = []
        for c in cols:
            v = r.get(c)
            if c in money_fields and v is not None:
                cells.append(Text(fmt(v, r.get("currency"))))
            else:
                # Text: names render literally, never as markup
                cells.append(Text("(not set)", style="dim") if v is None else Text(str(v)))
        table.add_row(*cells)
    # Piped (not a terminal): do not fold long ids at 80 columns; the table is as wide as its content.
    tty = hasattr(stream, "isatty") and stream.isatty()
    Console(file=stream, soft_wrap=False, width=None if tty else 10_000).print(table)


def _duration(seconds: float) -> str:
    s = int(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


# -- track ---------------------------------------------------------------------
def cmd_track(args: argparse.Namespace) -> int:
    """Run a command, record it as an ML run; return the command's exit status."""
    from providers.track import TrackOptions, run_tracked

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("track needs a command: costdeck track [OPTIONS] -- CMD ARGS...")
    opts = TrackOptions(task=args.task, name=args.name, instance_type=args.instance_type, count=args.count,
                        provider=args.provider, region=args.region)
    result = run_tracked(resolve_db(args), cmd, opts)
    if result.error:
        print(f"costdeck: error: {_safe(result.error)}", file=sys.stderr)
    return result.exit_status


# -- sources -------------------------------------------------------------------
def cmd_sources(args: argparse.Namespace) -> int:
    """Configured sources (even before their first sync) and any others in the cache."""

    config = load_checked_config(args)
    path = resolve_db(args)
    infos = {}
    runs: dict[int, Any] = {}
    if path.exists():
        with Store(path, readonly=True) as store:
            infos = {s.name: s for s in store.list_sources()}
            for row in store.conn.execute(
                "SELECT source_id, billed_api_calls FROM sync_runs WHERE id IN "
                "(SELECT max(id) FROM sync_runs GROUP BY source_id)"
            ):
                runs[row[0]] = row[1]
    now = timeutil.now()
    names = list(config.sources) + sorted(n for n in infos if n not in config.sources)
    records = []
    for name in names:
        s = infos.get(name)
        conf = config.sources.get(name)
        records.append(
            {
                "source": name if conf else f"{name} (not in config)",
                "kind": conf.kind if conf else (s.kind if s else ""),
                "last_sync": timeutil.iso(s.last_sync) if s and s.last_sync else "never",
                "age": timeutil.humanize_age(now - s.last_sync) if s and s.last_sync else "",
                "status": (s.status or "") if s else "",
                "rows": s.cost_rows if s else 0,
                "api_calls": f"{s.api_calls} ({runs.get(s.id, 0)} billed)" if s else "",
                "error": _safe(s.error or "") if s else "",
            }
        )
    if not records:
        where = f" (config: {config.path}, not found)" if not config.exists else ""
        print(f"no sources{where}")
        return 0
    _wide_table("Sources (rows: cost rows in the cache; API calls and error: the last sync)", records,
                right=("rows", "api_calls"))
    return 0


def _wide_table(title: str, records: list[dict[str, Any]], right: tuple[str, ...] = ()) -> None:
    """A rich table; not on a terminal, it is wide enough not to fold (logs, pipes, tests)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for col in records[0] if records else []:
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    for r in records:
        style = {"ok": "green", "partial": "yellow", "failed": "red"}.get(str(r.get("status")), "")
        table.add_row(*(Text(str(v), style=style if k == "status" else "") for k, v in r.items()))
    console = Console() if sys.stdout.isatty() else Console(width=240, soft_wrap=False)
    console.print(table)


# -- sync -------------------------------------------------------------------------
def cmd_sync(args: argparse.Namespace) -> int:
    """Sync sources concurrently with a live display (TTY) or plain lines; exit 1 if any failed."""
    from providers.sync import run_sync

    config = load_checked_config(args)
    if not config.sources:
        where = config.path if config.exists else f"{config.path} (not found)"
        raise UsageError(f"no sources configured in {where}: add a [sources.NAME] table")
    selected = config.select(args.sources or None)  # unknown names: exit 2 before anything runs
    path = resolve_db(args)
    live = sys.stdout.isatty() and not args.plain
    view = _LiveSync([s.name for s in selected]) if live else _PlainSync()
    check_rules(config)
    results = _run_sync_interruptibly(run_sync, path, config, [s.name for s in selected], view)
    _sync_summary(results)
    with Store(path) as store:
        print(recompute_recommendations(store, config).summary())
    return 1 if any(r.status == "failed" for r in results) else 0


def _run_sync_interruptibly(run_sync: Any, path: Path, config: Any, names: list[str], view: Any) -> list[Any]:
    """run_sync in a thread; Ctrl-C cancels it (sources stop at their next request, data intact)."""
    import threading

    cancel = threading.Event()
    done = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["results"] = run_sync(path, config, names, progress=view.update, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="costdeck-sync-main", daemon=True)
    with view:
        worker.start()
        try:
            while not done.wait(0.2):
                pass
        except KeyboardInterrupt:
            cancel.set()
            print("costdeck: cancelling (each source keeps its previous data)...", file=sys.stderr, flush=True)
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                done.wait(0.2)  # a second Ctrl-C stops waiting
            raise
    if "error" in box:
        raise box["error"]
    return list(box["results"])


class _PlainSync:
    """One line per step change and per finished source (logs, pipes, CI)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, str]] = {}

    def __enter__(self) -> _PlainSync:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, p: Any) -> None:
        key = (p.status, p.step)
        with self._lock:
            if self._last.get(p.source) == key:
                return
            self._last[p.source] = key
            if p.status == "queued":
                line = f"{p.source}: queued"
            elif p.finished:
                line = (f"{p.source}: {p.status} - {p.rows:,} rows, {p.api_calls} API calls "
                        f"({p.billed_api_calls} billed), {p.elapsed_s:.1f}s" + (f" - {p.error}" if p.error else ""))
            else:
                line = f"{p.source}: [{p.steps_done}/{p.steps_total}] {p.step or 'starting'}"
            print(_safe(line), flush=True)


class _LiveSync:
    """A rich Live table: per source its step, progress, rows, API calls and billed CE calls."""

    def __init__(self, names: list[str]) -> None:
        import threading

        from rich.console import Console
        from rich.live import Live

        self._lock = threading.Lock()
        self._state: dict[str, Any] = dict.fromkeys(names)
        self.console = Console()
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)

    def __enter__(self) -> _LiveSync:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._render())
        self.live.__exit__(None, None, None)

    def update(self, p: Any) -> None:
        with self._lock:
            self._state[p.source] = p
            self.live.update(self._render())

    def _render(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        t = Table(title="costdeck sync", title_justify="left", expand=False)
        for col, just in (("source", "left"), ("status", "left"), ("step", "left"), ("", "left"),
                          ("rows", "right"), ("API calls", "right"), ("billed (CE)", "right"), ("time", "right")):
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        for name, p in self._state.items():
            if p is None:
                t.add_row(Text(name), Text("queued"), Text(""), Text(""), "", "", "", "")
                continue
            style = {"ok": "green", "partial": "yellow", "failed": "red"}.get(p.status, "")
            step = p.error if p.finished and p.error else (f"{p.step}: {p.detail}" if p.detail else p.step)
            total = max(p.steps_total, 1)
            bar = ProgressBar(total=total, completed=total if p.finished else p.steps_done, width=16)
            t.add_row(Text(name), Text(p.status, style=style), Text(_safe(step or "")[:70]), bar,
                      f"{p.rows:,}", str(p.api_calls), f"{p.billed_api_calls} (${p.billed_api_calls * 0.01:.2f})",
                      f"{p.elapsed_s:.1f}s")
        return t


def _safe(text: str) -> str:
    """No terminal control characters from remote data."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _sync_summary(results: list[Any]) -> None:
    records = [
        {
            "source": r.source,
            "status": r.status,
            "days": f"{r.window[0]}..{r.window[1] - timedelta(days=1)}" if r.window else "",
            "kind": "backfill" if r.first_sync else "incremental",
            "rows": f"{r.rows:,}",
            "api_calls": r.api_calls,
            "billed": f"{r.billed_api_calls} (${r.billed_api_calls * 0.01:.2f})",
            "retries": r.retries,
            "seconds": f"{r.duration_s:.1f}",
            "error": _safe(r.error or ""),
        }
        for r in results
    ]
    _wide_table("Sync summary (billed: Cost Explorer requests, $0.01 each)", records,
                right=("rows", "api_calls", "billed", "retries", "seconds"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
