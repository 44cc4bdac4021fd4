"""`costdeck report rules`: the recommendation rules, their thresholds in force (the config's) and
defaults, generated from each rule's thresholds model (and `[rules.cleanup]`'s)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import load_checked_config
from .format import wide_table, write_records


def report_rules(args: argparse.Namespace) -> int:
    from analysis.cleanup import CleanupSettings, settings
    from analysis.recommendations import RULES, rule_doc, rule_params
    from providers.options import describe

    config = load_checked_config(args)
    params: dict[str, Any] = {rid: p.as_dict() for rid, p in rule_params(config.rules, str(config.path or
                                                                                             "config")).items()}
    models: dict[str, Any] = {rid: mod.Params for rid, mod in RULES.items()}
    what = {rid: rule_doc(rid) for rid in RULES}
    titles = {rid: (mod.CATEGORY, mod.TITLE) for rid, mod in RULES.items()}
    params["cleanup"], models["cleanup"] = settings(config), CleanupSettings
    what["cleanup"] = ("Cleanup plans (not a rule): the batch limit, when the typed confirmation is asked, and "
                       "whether volumes are snapshotted before deletion.")
    titles["cleanup"] = ("cleanup", "Cleanup settings")
    records = []
    for rid, model in models.items():
        docs = describe(model)
        records.append({"rule": rid, "category": titles[rid][0], "title": titles[rid][1],
                        "thresholds": ", ".join(f"{k} = {_toml(v)}" for k, v in params[rid].items()) or "-",
                        "defaults": ", ".join(f"{d.name} = {_toml(d.default)}" for d in docs) or "-",
                        "what": what[rid],
                        "options": [{"name": d.name, "type": d.type, "default": d.default,
                                     "description": d.description} for d in docs]})
    if args.format == "json":
        for r in records:
            r["thresholds"] = params[r["rule"]]
        write_records(records, "json")
        return 0
    if args.format == "csv":
        write_records([{k: v for k, v in r.items() if k != "options"} for r in records], "csv")
        return 0
    rows = [{"rule": r["rule"], "category": r["category"], "title": r["title"], "thresholds": r["thresholds"],
             "defaults": r["defaults"], "what": str(r["what"]).split(". ", 1)[0]} for r in records]
    wide_table("Recommendation rules (thresholds: the config's rules.RULE_ID tables; types and meanings: "
               "--format json)", rows)
    return 0


def _toml(v: Any) -> str:
    """A value as it is written in the config file (true, not Python's True)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and v in ("True", "False"):
        return v.lower()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str) and v and not v[0].isdigit() and v not in ("-",) and not v.startswith(("[", '"')):
        return json.dumps(v)
    return str(v)
