"""`costdeck track -- CMD ARGS`: run a command and record it as an ML run."""

from __future__ import annotations

import argparse
import sys

from .common import resolve_db
from .format import safe
from .parser import UsageError


def cmd_track(args: argparse.Namespace) -> int:
    """Run a command, record it as an ML run; return the command's exit status."""
    from providers.track import TrackOptions, run_tracked

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("track needs a command: costdeck track [OPTIONS] -- CMD ARGS...")
    if args.sample_interval is not None and (args.sample_interval < 0 or args.sample_interval != args.sample_interval):
        raise UsageError(f"track: --sample-interval must be 0 (off) or a positive number of seconds, "
                         f"got {args.sample_interval}")
    opts = TrackOptions(task=args.task, name=args.name, instance_type=args.instance_type, count=args.count,
                        provider=args.provider, region=args.region, sample_interval_s=args.sample_interval)
    result = run_tracked(resolve_db(args), cmd, opts)
    if result.error:
        print(f"costdeck: error: {safe(result.error)}", file=sys.stderr)
    return result.exit_status
