"""The argument parser: global options (before or after the subcommand) and one builder per command.

Usage errors are one line and exit 2 (UsageError), like every other usage error the handlers raise.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from cache import timeutil
from providers.errors import CostdeckError


class UsageError(CostdeckError):
    exit_code = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        raise UsageError(message)


_Subparsers: TypeAlias = "argparse._SubParsersAction[_Parser]"


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
    _add_demo(sub, common)
    _add_import(sub, common)
    _add_report(sub, common)
    _add_sources(sub, common)
    _add_track(sub, common)
    _add_sync(sub, common)
    _add_check(sub, common)
    _add_anomalies(sub, common)
    return p


def _add_demo(sub: _Subparsers, common: _Parser) -> None:
    d = sub.add_parser("demo", parents=[common], help="(re)generate the deterministic demo snapshot")
    d.add_argument("--as-of", type=_day, help="last day of the demo data (default: today, UTC)")
    d.add_argument("--seed", type=int, default=7, help="random seed (default 7)")


def _add_import(sub: _Subparsers, common: _Parser) -> None:
    i = sub.add_parser("import", parents=[common],
                       help="load FOCUS files (CSV, CSV.gz, Parquet) or ML run logs (.jsonl)")
    i.add_argument("files", nargs="+", type=Path)
    i.add_argument("--source", help="source name to file the rows under (default: the file name)")
    i.add_argument("--force", action="store_true", help="import even if the same content was imported before")


def _add_sources(sub: _Subparsers, common: _Parser) -> None:
    s = sub.add_parser("sources", parents=[common], help="list sources and their last sync (--kinds: the kinds)")
    s.add_argument("--kinds", action="store_true",
                   help="list the kinds of source instead: their steps, options, types and defaults")
    _add_format(s)


def _add_track(sub: _Subparsers, common: _Parser) -> None:
    tr = sub.add_parser("track", parents=[common], help="run a command and record it as an ML run",
                        usage="costdeck track [--task NAME] [--name NAME] [--instance-type T] [--count N] "
                        "[--provider P] [--region R] [--sample-interval S] -- CMD ARGS...")
    tr.add_argument("--task", help="task (experiment) name (default: the command's name)")
    tr.add_argument("--name", help="run name (default: the command line)")
    tr.add_argument("--instance-type", help="instance type (default: from the cloud instance metadata)")
    tr.add_argument("--count", type=int, default=1, help="number of instances (default 1)")
    tr.add_argument("--provider", help="AWS, Microsoft or Google Cloud (default: AWS with instance metadata)")
    tr.add_argument("--region", help="region of the instance")
    tr.add_argument("--sample-interval", type=float, default=None, metavar="S",
                    help="seconds between utilization samples (default 5, bounded to 0.05-300; 0: no profile)")
    tr.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS", help="the command to run")


def _add_sync(sub: _Subparsers, common: _Parser) -> None:
    sy = sub.add_parser("sync", parents=[common], help="pull data from the configured sources")
    sy.add_argument("sources", nargs="*", metavar="SOURCE", help="source names (default: all configured)")
    sy.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")


def _add_check(sub: _Subparsers, common: _Parser) -> None:
    c = sub.add_parser("check", parents=[common],
                       help="print what is new since the last check (anomalies, budgets at risk or over, "
                       "recommendations saving [notify] min_saving or more); exit 3 when something is, 0 when not")
    c.add_argument("--format", choices=["table", "json"], default="table")
    c.add_argument("--no-notify", action="store_true", help="do not post to the [notify] webhook this time")


def _add_anomalies(sub: _Subparsers, common: _Parser) -> None:
    a = sub.add_parser("anomalies", parents=[common],
                       help="acknowledge, dismiss or reopen anomalies by id (see report anomalies); "
                       "changes only the cache, so it works in read-only mode")
    a.add_argument("verb", choices=["ack", "dismiss", "reopen"],
                   help="ack: seen, being handled; dismiss: not a problem (needs --reason); reopen")
    a.add_argument("ids", nargs="+", type=int, metavar="ID", help="anomaly ids (the id column of report anomalies)")
    a.add_argument("--reason", help="why (required by dismiss; kept with the status and shown in the reports)")


# -- report and its subcommands ---------------------------------------------------
def _add_report(sub: _Subparsers, common: _Parser) -> None:
    r = sub.add_parser("report", parents=[common], help="print a view's data as table, CSV or JSON")
    rsub = r.add_subparsers(dest="report", parser_class=_Parser, required=True)
    _add_report_spend(rsub, common)
    _add_report_rows(rsub, common)
    _add_report_ml_runs(rsub, common)
    _add_report_commitments(rsub, common)
    _add_report_recommendations(rsub, common)
    _add_report_rules(rsub, common)
    ra = rsub.add_parser("anomalies", parents=[common], help="cost anomalies: spikes, level shifts, drops")
    ra.add_argument("--status", default="open", choices=["open", "acknowledged", "dismissed", "all"],
                    help="status to list (default: open)")
    _add_format(ra)
    _add_format(rsub.add_parser("budgets", parents=[common], help="budgets: actual, forecast, crossing day, status"))
    _add_format(rsub.add_parser("forecast", parents=[common],
                                help="this month's and next month's spend forecast with a P10-P90 range"))


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")


def _add_report_spend(rsub: _Subparsers, common: _Parser) -> None:
    rs = rsub.add_parser("spend", parents=[common], help="spend grouped by one dimension")
    rs.add_argument("--by", required=True, help="provider_name, billing_account_id, sub_account_id, service_name, "
                    "service_category, region_id, resource_type, resource_id or tag:KEY; Kubernetes allocation "
                    "(OpenCost sources, a lens on the cloud bill): cluster, namespace, controller, pod, node or "
                    "label:KEY")
    rs.add_argument("--since", type=_day, help="first day, inclusive (default: first day with data)")
    rs.add_argument("--until", type=_day, help="last day, exclusive (default: the day after the last day with data)")
    rs.add_argument("--metric", choices=["billed", "effective", "list"], default="billed")
    _add_format(rs)


def _add_report_rows(rsub: _Subparsers, common: _Parser) -> None:
    rw = rsub.add_parser("rows", parents=[common], help="the daily cost rows themselves (FOCUS columns, "
                         "exact money) as CSV or JSON Lines, streamed")
    rw.add_argument("--since", type=_day, help="first day, inclusive (default: first day with data)")
    rw.add_argument("--until", type=_day, help="last day, exclusive (default: the day after the last day with data)")
    rw.add_argument("--filter", action="append", metavar="DIM=VALUE",
                    help="only rows with this value (repeatable; DIM as in report spend --by, or tag:KEY; "
                    "DIM= : the value not set)")
    rw.add_argument("--format", choices=["csv", "json"], default=None,
                    help="csv, or json: JSON Lines, one object per row (default: from --output's extension, "
                    ".jsonl or .json for JSON Lines, else csv)")
    rw.add_argument("--output", "-o", type=Path, metavar="FILE",
                    help="write to FILE (complete or not at all; a progress bar on a terminal) instead of stdout")
    rw.add_argument("--force", action="store_true", help="replace FILE if it exists")


def _add_report_ml_runs(rsub: _Subparsers, common: _Parser) -> None:
    rm = rsub.add_parser("ml-runs", parents=[common], help="ML runs with their cost (basis, or why unknown)")
    rm.add_argument("--task", help="only this task (experiment)")
    _add_format(rm)


def _add_report_commitments(rsub: _Subparsers, common: _Parser) -> None:
    rc = rsub.add_parser("commitments", parents=[common], help="RI/SP/CUD utilization, unused cost, savings, expiry")
    rc.add_argument("--since", type=_day, help="first day, inclusive (default: 30 days before --until)")
    rc.add_argument("--until", type=_day, help="last day, exclusive (default: the day after the last day with data)")
    rc.add_argument("--purchase", action="store_true", help="purchase recommendations instead (last 30 days)")
    _add_format(rc)


def _add_report_recommendations(rsub: _Subparsers, common: _Parser) -> None:
    rr = rsub.add_parser("recommendations", parents=[common], help="recommendations (waste, rightsizing, security)")
    rr.add_argument("--rule", help="only this rule id (see `costdeck report rules`)")
    rr.add_argument("--status", default="open", choices=["open", "dismissed", "snoozed", "applied", "all"],
                    help="status to list (default: open)")
    _add_format(rr)
    rr.add_argument("--script", metavar="KIND", help="print a shell script that cleans up the open recommendations "
                    "of that kind's provider instead, e.g. --script aws (AWS CLI); a dry run unless run with "
                    "--execute (kinds with one: see `costdeck sources --kinds`)")
    rr.add_argument("--dry-run", action="store_true", help="with --script: print only the commands, one per line")


def _add_report_rules(rsub: _Subparsers, common: _Parser) -> None:
    rl = rsub.add_parser("rules", parents=[common], help="the recommendation rules and their thresholds")
    _add_format(rl)
