"""What the command handlers share: where the cache and the demo are, the validated config, and the
recommendation and anomaly recompute after demo, import and sync."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cache import Store
from providers.paths import default_db_path


def resolve_db(args: argparse.Namespace) -> Path:
    return Path(args.db).expanduser() if args.db else default_db_path()


def demo_db_path(args: argparse.Namespace, *, explicit_ok: bool = False) -> Path:
    """Where the demo lives: `demo.db` beside the cache, so the real cache never holds demo data.

    `costdeck demo --db PATH` (explicit_ok) writes the demo exactly there instead.
    """
    if explicit_ok and args.db:
        return Path(args.db).expanduser()
    return resolve_db(args).with_name("demo.db")


def check_rules(config: Any) -> None:
    """Validate the [rules.*] tables, the rules' thresholds and [rules.cleanup] (one line, exit 2),
    before anything runs."""
    if not config.rules:
        return  # nothing to check (and the rules' modules stay unimported: scripted commands start fast)
    from analysis.cleanup import PlanRefused, settings
    from analysis.recommendations import rule_params
    from providers.errors import InputError

    rule_params(config.rules, str(config.path or "config"))
    try:
        settings(config)
    except PlanRefused as exc:
        raise InputError(str(exc)) from None


def load_checked_config(args: argparse.Namespace) -> Any:
    """The config file, fully validated (sources, budgets, protection and rule thresholds): every
    command that reads it refuses a bad one the same way, one line and exit 2."""
    from providers.config import load_config

    config = load_config(args.config)
    check_rules(config)
    return config


def refresh_if_stale(store: Store, config: Any) -> None:
    """Recompute the recommendations when data landed after they were computed (a sync or import
    killed after its commit), saying so on stderr, before the app or a report shows them."""
    from analysis import anomalies
    from analysis.recommendations.engine import is_stale

    if store.readonly:
        return
    if is_stale(store.conn):
        print("costdeck: the data changed since the recommendations were computed (an interrupted sync or "
              "import?): recomputing them", file=sys.stderr, flush=True)
        recompute_recommendations(store, config)
    elif anomalies.never_computed(store.conn):  # a cache from before the anomaly detection
        anomalies.recompute(store, config)


def recompute_recommendations(store: Store, config: Any) -> Any:
    """Re-run the recommendation rules, then the anomaly detection, over the cache (after demo,
    import and sync). The result's summary() has a line for each."""
    from analysis import anomalies
    from analysis.recommendations.engine import recompute

    return Recomputed(recompute(store, config), anomalies.recompute(store, config))


class Recomputed:
    def __init__(self, recs: Any, anomalies: Any) -> None:
        self.recs = recs
        self.anomalies = anomalies

    def summary(self) -> str:
        return f"{self.recs.summary()}\n{self.anomalies.summary()}"
