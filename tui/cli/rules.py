"""`costdeck report rules`: the recommendation rules, their thresholds (the config's) and defaults."""

from __future__ import annotations

import argparse

from .common import load_checked_config
from .format import wide_table, write_records


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
        wide_table("Recommendation rules (thresholds: the config's rules.RULE_ID tables)", records)
        return 0
    write_records(records, args.format)
    return 0
