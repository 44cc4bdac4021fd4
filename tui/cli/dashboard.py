"""`costdeck open` (the default) and `costdeck demo`: the dashboard and the demo snapshot it falls back to.

Textual is imported only here, when the dashboard opens.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cache import Store, timeutil
from providers.errors import InputError

from .common import demo_db_path, load_checked_config, recompute_recommendations, refresh_if_stale, resolve_db


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
        if not use_demo:
            refresh_if_stale(store, config)
    if use_demo:
        path = demo_db_path(args)
        _refresh_demo(path, config)
    return path, config


def _refresh_demo(path: Path, config: Any) -> None:
    """(Re)generate the demo at `path` when it is empty or not from today; never over real data."""
    with Store(path) as store:
        stale = store.get_meta("demo_as_of") != timeutil.today().isoformat()
        if not store.is_empty() and not store.is_demo():
            raise InputError(f"{path}: holds real data, not the demo")
        if store.is_empty() or stale:
            from providers import demo

            from .progress import Steps

            steps = Steps("costdeck: building today's demo snapshot")
            try:
                steps("cost, inventory and ML runs")
                demo.generate(store, as_of=timeutil.today())
                steps("recommendations")
                recompute_recommendations(store, config)
            except BaseException:
                steps.done("failed")
                raise
            steps.done("opening the dashboard")


def cmd_open(args: argparse.Namespace) -> int:
    path, config = prepare_open(args)
    from tui.app import CostdeckApp

    app = CostdeckApp(db_path=path, read_only=args.read_only, config=config, debug=bool(args.debug))
    app.run()
    return app.return_code or 0
