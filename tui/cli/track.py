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
    opts = TrackOptions(task=args.task, name=args.name, instance_type=args.instance_type, count=args.count,
                        provider=args.provider, region=args.region)
    result = run_tracked(resolve_db(args), cmd, opts)
    if result.error:
        print(f"costdeck: error: {safe(result.error)}", file=sys.stderr)
    return result.exit_status
